//! The real component, built from source, through the host crate's typed API.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use backup_codes_shim::plugin::{
    self, CallError, Clock, CodeFormatError, Event, FailureReason, Outcome, Plugin, PluginConfig,
    PluginError, Policy,
};
use secrecy::{ExposeSecret, SecretString};

/// A clock the test moves by hand.
struct TestClock(AtomicU64);

impl Clock for TestClock {
    fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

fn load() -> (Plugin, Arc<TestClock>) {
    let clock = Arc::new(TestClock(AtomicU64::new(1_800_000_000)));
    let plugin = Plugin::with_clock(
        plugin::EMBEDDED_COMPONENT,
        PluginConfig::default(),
        clock.clone(),
    )
    .unwrap();
    (plugin, clock)
}

/// The default policy with cheaper hashing so the suite stays quick.
fn policy(plugin: &Plugin) -> Policy {
    let mut p = plugin.default_policy().unwrap();
    p.hash.memory_kib = 4096;
    p.hash.iterations = 1;
    p
}

fn secret(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

#[test]
fn imports_are_exactly_random_and_wall_clock() {
    let (plugin, _) = load();
    let mut imports = plugin.imports();
    imports.sort();
    assert_eq!(
        imports,
        ["wasi:clocks/wall-clock@0.2.0", "wasi:random/random@0.2.0"],
        "the component must not import filesystem, sockets, environment or stdio"
    );
}

#[test]
fn default_policy_matches_the_contract() {
    let (plugin, _) = load();
    let p = plugin.default_policy().unwrap();
    assert_eq!((p.count, p.symbols, p.group_size), (10, 13, 5));
    assert_eq!(
        (p.hash.memory_kib, p.hash.iterations, p.hash.parallelism),
        (19_456, 2, 1)
    );
    assert!(p.require_activation);
    assert!(p.max_failures <= 100);
}

#[test]
fn issue_activate_verify_once_and_wrong_code() {
    let (plugin, clock) = load();
    let p = policy(&plugin);
    let issued = plugin.issue(None, &p, None).unwrap();
    assert_eq!(issued.codes.len(), 10);
    assert!(matches!(&issued.events[..], [Event::Issued(e)] if e.pending && e.count == 10));
    let debug = format!("{issued:?}");
    for c in &issued.codes {
        assert!(!debug.contains(c.code.expose_secret().as_str()));
    }

    let code = |i: usize| secret(issued.codes[i].code.expose_secret());
    let activated = plugin
        .activate(&issued.credential, None, &code(0), &p, None)
        .unwrap();
    assert_eq!(activated.outcome, Outcome::Accepted(1));

    clock.0.fetch_add(5, Ordering::SeqCst);
    let first = plugin
        .verify(&activated.credential, None, &code(1), &p, None)
        .unwrap();
    assert_eq!(first.outcome, Outcome::Accepted(2));
    assert_eq!(first.remaining, 9);

    // Typed again at once (a double submit): refused, nothing counted.
    let double = plugin
        .verify(&first.credential, None, &code(1), &p, None)
        .unwrap();
    assert!(matches!(
        double.outcome,
        Outcome::Rejected(r) if r.reason == FailureReason::AlreadyUsed && r.consecutive_failures == 0
    ));
    assert_eq!(double.credential, first.credential);

    // Reused after the engine's grace window: counted.
    clock.0.fetch_add(61, Ordering::SeqCst);
    let second = plugin
        .verify(&first.credential, None, &code(1), &p, None)
        .unwrap();
    assert!(matches!(
        second.outcome,
        Outcome::Rejected(r) if r.reason == FailureReason::AlreadyUsed
    ));

    let status = plugin.status(&second.credential, &p).unwrap();
    let active = status.active.unwrap();
    assert_eq!(active.remaining, 9);
    assert_eq!(active.used.len(), 1);
    assert_eq!(active.used[0].at, 1_800_000_005);
    assert_eq!(status.consecutive_failures, 1);

    // A wrong code with a valid check symbol: flip two different adjacent symbols
    // would be caught as a typo, so use a code from another set instead.
    let other = plugin.issue(None, &p, None).unwrap();
    let wrong = secret(other.codes[0].code.expose_secret());
    let r = plugin
        .verify(&second.credential, None, &wrong, &p, None)
        .unwrap();
    assert!(matches!(
        r.outcome,
        Outcome::Rejected(r) if r.reason == FailureReason::Mismatch && r.consecutive_failures == 2
    ));
}

#[test]
fn bad_input_gets_typed_errors() {
    let (plugin, _) = load();
    let mut p = policy(&plugin);
    p.require_activation = false;
    let issued = plugin.issue(None, &p, None).unwrap();
    let long = secret(&"A".repeat(10 * 1024));
    assert!(matches!(
        plugin.verify(&issued.credential, None, &long, &p, None),
        Err(CallError::Plugin(PluginError::InvalidCode(
            CodeFormatError::TooLong
        )))
    ));
    let mut corrupt = issued.credential.clone();
    corrupt.truncate(corrupt.len() - 7);
    assert!(matches!(
        plugin.verify(&corrupt, None, &secret("ABCDE"), &p, None),
        Err(CallError::Plugin(PluginError::MalformedCredential))
    ));
    assert!(matches!(
        plugin.status(b"garbage", &p),
        Err(CallError::Plugin(PluginError::MalformedCredential))
    ));
    let mut bad = p;
    bad.count = 65;
    assert!(matches!(
        plugin.issue(None, &bad, None),
        Err(CallError::Plugin(PluginError::InvalidPolicy(m))) if m.starts_with("count")
    ));
}

#[test]
fn lockout_uses_the_host_clock() {
    let (plugin, clock) = load();
    let mut p = policy(&plugin);
    p.require_activation = false;
    let issued = plugin.issue(None, &p, None).unwrap();
    let other = plugin.issue(None, &p, None).unwrap();
    let wrong = secret(other.codes[0].code.expose_secret());
    let mut cred = issued.credential;
    for _ in 0..p.free_failures {
        cred = plugin
            .verify(&cred, None, &wrong, &p, None)
            .unwrap()
            .credential;
    }
    let right = secret(issued.codes[0].code.expose_secret());
    let locked = plugin.verify(&cred, None, &right, &p, None).unwrap();
    let until = clock.now() + u64::from(p.lockout_base_seconds);
    assert_eq!(locked.outcome, Outcome::Locked(Some(until)));
    clock.0.store(until, Ordering::SeqCst);
    let ok = plugin.verify(&cred, None, &right, &p, None).unwrap();
    assert_eq!(ok.outcome, Outcome::Accepted(1));
}

#[test]
fn a_wrong_component_hash_is_refused() {
    let config = PluginConfig {
        expected_sha256: Some([0; 32]),
        ..PluginConfig::default()
    };
    assert!(matches!(
        Plugin::embedded(config),
        Err(backup_codes_shim::LoadError::HashMismatch { .. })
    ));
    let digest = plugin::sha256(plugin::EMBEDDED_COMPONENT);
    let config = PluginConfig {
        expected_sha256: Some(digest),
        ..PluginConfig::default()
    };
    assert_eq!(Plugin::embedded(config).unwrap().sha256(), digest);
}
