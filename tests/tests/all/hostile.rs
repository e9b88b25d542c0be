//! Hostile or broken plugins, built from source here: each misbehaviour is
//! stopped within its budget, the shim stays up, the call fails closed, and a
//! metric and an audit event record it. Components of the wrong world or with
//! another SHA-256 are refused at start.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use backup_codes_harness::client::ShimClient;
use backup_codes_harness::db::{Backend, TestDb};
use backup_codes_harness::idp::{Alg, TestIdp};
use backup_codes_harness::shim::{InProcess, test_config};
use backup_codes_shim::plugin::{self, CallError, Plugin, PluginConfig};
use reqwest::{Method, StatusCode};

const TENANT: &str = "acme";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The hostile component, built once per test run.
fn hostile() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        let target = root().join("target").join("hostile");
        component_build::build(&root(), "hostile-plugin", "release", &target)
            .unwrap_or_else(|e| panic!("{e}"))
    })
}

fn runtime_config() -> PluginConfig {
    PluginConfig {
        memory_limit: 32 << 20,
        // Long enough that filling 8 MiB (HUGE) finishes on a loaded 2-core
        // machine, short enough that LOOP's wait stays small.
        call_timeout: Duration::from_millis(1_500),
        max_concurrent: 2,
        ..PluginConfig::default()
    }
}

fn secret(s: &str) -> secrecy::SecretString {
    secrecy::SecretString::from(s.to_owned())
}

#[test]
fn each_misbehaviour_becomes_a_typed_error_within_its_budget() {
    let plugin = Plugin::from_bytes(hostile(), runtime_config()).unwrap();
    let policy = plugin.default_policy().unwrap();
    for (code, expected) in [
        ("LOOP", "timeout"),
        ("BOMB", "memory"),
        ("HUGE", "oversized"),
        ("EVENTS", "oversized"),
        ("LONGCODE", "oversized"),
        ("LONGID", "oversized"),
        ("TRAP", "trap"),
        ("STACK", "trap"),
    ] {
        let started = Instant::now();
        let err = plugin
            .verify(b"x", None, &secret(code), &policy, None)
            .unwrap_err();
        let took = started.elapsed();
        assert_eq!(err.kind(), expected, "{code}: {err:?}");
        assert!(!matches!(err, CallError::Plugin(_)));
        eprintln!("{code}: {} after {took:?}", err.kind());
    }
    // An oversized import is refused as well.
    let set = backup_codes_shim::plugin::ForeignSet::Plaintext(vec!["abc".into()]);
    let err = plugin.import_set(set, &policy, None).unwrap_err();
    assert_eq!(err.kind(), "oversized", "{err:?}");
    // Still usable afterwards: the failures left nothing behind.
    let ok = plugin
        .verify(b"x", None, &secret("fine"), &policy, None)
        .unwrap();
    assert_eq!(ok.credential, b"x");
}

#[test]
fn wrong_world_and_wrong_hash_are_refused() {
    let empty = wat::parse_str("(component)").unwrap();
    let err = Plugin::from_bytes(&empty, PluginConfig::default()).unwrap_err();
    assert!(matches!(err, plugin::LoadError::Wasmtime(_)), "{err}");
    let config = PluginConfig {
        expected_sha256: Some(plugin::sha256(plugin::EMBEDDED_COMPONENT)),
        ..PluginConfig::default()
    };
    let err = Plugin::from_bytes(hostile(), config).unwrap_err();
    assert!(matches!(err, plugin::LoadError::HashMismatch { .. }));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_shim_fails_closed_stays_up_and_records_each_fault() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hostile.wasm");
    std::fs::write(&path, hostile()).unwrap();
    let idp = TestIdp::start().await.unwrap();
    let db = TestDb::new(Backend::Sqlite).await.unwrap();
    let mut config = test_config(
        &db.url,
        BTreeMap::from([(TENANT.to_owned(), idp.tenant(Alg::Hs256))]),
    );
    config.plugin.component_path = Some(path);
    config.plugin.component_sha256 = Some(hex::encode(plugin::sha256(hostile())));
    config.plugin.call_timeout_ms = 1_500;
    config.plugin.memory_limit_mib = 32;
    let shim = InProcess::start(&config).await.unwrap();
    let client = ShimClient::new(&shim.url).unwrap();
    let subject = "victim";
    let issued = client
        .issue(TENANT, subject, &idp.token(Alg::Hs256, subject))
        .await
        .unwrap();
    assert_eq!(issued.status, StatusCode::CREATED, "{}", issued.text);

    for code in ["LOOP", "BOMB", "HUGE", "EVENTS", "TRAP", "STACK"] {
        let r = client
            .verify(TENANT, subject, &idp.token(Alg::Hs256, subject), code)
            .await
            .unwrap();
        assert_eq!(
            r.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{code}: {}",
            r.text
        );
        assert_eq!(
            r.text, r#"{"error":"unavailable"}"#,
            "nothing internal in 5xx bodies"
        );
        let health = client
            .send(Method::GET, "/healthz", None, None)
            .await
            .unwrap();
        assert_eq!(
            health.status,
            StatusCode::OK,
            "the shim stays up after {code}"
        );
    }
    let trail = shim
        .state
        .service
        .store()
        .audit_trail(TENANT, subject)
        .await
        .unwrap();
    let faults: Vec<&str> = trail
        .iter()
        .filter(|a| a.kind == "engine_failure")
        .map(|a| a.detail.as_str())
        .collect();
    assert_eq!(faults.len(), 6, "{faults:?}");
    for kind in ["timeout", "memory", "oversized", "trap"] {
        assert!(
            faults.iter().any(|d| d.contains(kind)),
            "audit records {kind}"
        );
    }
    let metrics = client
        .send(Method::GET, "/metrics", None, None)
        .await
        .unwrap()
        .text;
    for kind in ["timeout", "memory", "oversized", "trap"] {
        assert!(
            metrics.contains(&format!(
                "backup_codes_plugin_failures_total{{kind=\"{kind}\"}}"
            )),
            "metric for {kind}"
        );
    }
    // The credential was never overwritten by a failed call.
    let record = shim
        .state
        .service
        .store()
        .get(TENANT, subject)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.credential, b"hostile");
}
