//! The step-up provider's signing keys rotate on schedule, on SQLite and
//! PostgreSQL.

use backup_codes_harness::db::{Backend, snapshot};
use backup_codes_harness::idp::now;
use backup_codes_shim::server;
use secrecy::SecretString;
use serde_json::{Value, json};

use super::{TENANT, env_on, http_get};

fn kids(jwks: &Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// Keys rotate on schedule: current and next published, the next one signs
/// after its rotation time, the replaced one stays until its tokens expired;
/// two instances on one database make the same keys; an instance whose secret
/// does not open them does not start.
async fn rotation(backend: Backend) {
    let env = env_on(backend).await;
    let day = 86_400;
    let published = http_get(format!("{}/jwks", env.issuer()))
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let ring = backup_codes_shim::test_support::stepup_keys(&env.shim.state, TENANT)
        .unwrap()
        .ring();
    assert_eq!(ring.keys.len(), 2, "current and next");
    assert_eq!(
        kids(&published),
        ring.keys.iter().map(|k| k.kid.clone()).collect::<Vec<_>>()
    );
    let (k0, k1) = (ring.keys[0].clone(), ring.keys[1].clone());
    let start = k0.activates_at;
    assert_eq!(k1.activates_at, start + 90 * day, "the default rotation");
    let now = now() as i64;
    assert_eq!(ring.signer(now).unwrap().kid, k0.kid);

    // A second instance on the same database, and both refreshing at once
    // when the next key takes over: one new key, the same for both.
    let second = server::build(&env.config).await.unwrap();
    let store = env.shim.state.service.store();
    let t1 = k1.activates_at + 1;
    let (a, b) = tokio::join!(
        backup_codes_shim::test_support::stepup_keys(&env.shim.state, TENANT)
            .unwrap()
            .refresh(store, t1),
        backup_codes_shim::test_support::stepup_keys(&second, TENANT)
            .unwrap()
            .refresh(second.service.store(), t1)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let (slots_a, slots_b): (Vec<_>, Vec<_>) = (
        a.keys.iter().map(|k| (k.slot, k.kid.clone())).collect(),
        b.keys.iter().map(|k| (k.slot, k.kid.clone())).collect(),
    );
    assert_eq!(slots_a, slots_b, "two instances, one set of keys");
    assert_eq!(
        a.keys.len(),
        3,
        "old (until its tokens expire), current, next"
    );
    assert_eq!(a.signer(t1).unwrap().kid, k1.kid, "the next key signs now");
    assert_eq!(kids(&a.jwks(t1)).len(), 3);
    let k2 = a.keys[2].clone();
    assert_eq!(k2.activates_at, k1.activates_at + 90 * day);
    // The old key is gone once its last token expired (300 s tokens, 30 s
    // leeway, one refresh interval).
    let retire = k1.activates_at + 300 + 30 + 60;
    assert!(kids(&a.jwks(retire - 1)).contains(&k0.kid));
    let later = backup_codes_shim::test_support::stepup_keys(&env.shim.state, TENANT)
        .unwrap()
        .refresh(store, retire + 1)
        .await
        .unwrap();
    assert_eq!(
        kids(&later.jwks(retire + 1)),
        vec![k1.kid.clone(), k2.kid.clone()]
    );
    let rows = snapshot(&env.db.url)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.starts_with("key "))
        .count();
    assert_eq!(rows, 2, "the retired key was deleted");

    // A token signed by the signing key verifies through the published JWKS.
    let signer = later.signer(retire + 1).unwrap();
    let token = signer.sign(&json!({"iss": "x", "exp": now + 60})).unwrap();
    assert_eq!(
        jsonwebtoken::decode_header(&token).unwrap().kid.as_deref(),
        Some(k1.kid.as_str())
    );

    // Another key secret cannot open the stored keys: it does not start.
    let mut wrong = env.config.clone();
    let t = wrong.tenants.get_mut(TENANT).unwrap();
    t.stepup.as_mut().unwrap().key_secret = Some(SecretString::from(
        "another-sealing-secret-0123456789abcdef".to_owned(),
    ));
    let e = server::build(&wrong).await.err().expect("refused");
    assert!(e.to_string().contains("does not open"), "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_rotate_on_schedule_on_sqlite() {
    rotation(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_rotate_on_schedule_on_postgres() {
    rotation(Backend::Postgres).await;
}
