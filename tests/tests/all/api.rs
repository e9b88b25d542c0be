//! The JSON API over real HTTP on 127.0.0.1, with tokens from a test IdP whose
//! JWKS is served on loopback, on SQLite and PostgreSQL.

mod bad_input;
mod openapi;

use std::collections::BTreeMap;

use backup_codes_harness::client::{RawBody, Reply, ShimClient, codes};
use backup_codes_harness::db::{Backend, TestDb, stored};
use backup_codes_harness::idp::{Alg, TestIdp};
use backup_codes_harness::shim::{InProcess, cheap_policy, test_config};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const TENANT: &str = "acme";

struct Env {
    idp: TestIdp,
    alg: Alg,
    shim: InProcess,
    client: ShimClient,
    _db: TestDb,
}

impl Env {
    async fn new(backend: Backend, alg: Alg) -> Self {
        Self::with(backend, alg, |_| {}).await
    }

    async fn with(
        backend: Backend,
        alg: Alg,
        tweak: impl FnOnce(&mut backup_codes_shim::config::Config),
    ) -> Self {
        let idp = TestIdp::start().await.unwrap();
        let db = TestDb::new(backend).await.unwrap();
        let mut tenant = idp.tenant(alg);
        tenant.policy = cheap_policy();
        let mut config = test_config(&db.url, BTreeMap::from([(TENANT.to_owned(), tenant)]));
        tweak(&mut config);
        let shim = InProcess::start(&config).await.unwrap();
        let client = ShimClient::new(&shim.url).unwrap();
        Self {
            idp,
            alg,
            shim,
            client,
            _db: db,
        }
    }

    fn token(&self, subject: &str) -> String {
        self.idp.token(self.alg, subject)
    }

    /// Issue and activate a set; returns its codes.
    async fn enroll(&self, subject: &str) -> Vec<String> {
        self.client
            .enroll_for(&self.idp, self.alg, TENANT, subject)
            .await
            .unwrap()
    }

    /// What is stored for a subject: credential bytes and audit row count.
    async fn stored(&self, subject: &str) -> (Option<Vec<u8>>, usize) {
        let (credential, audit) = stored(self.shim.state.service.store(), TENANT, subject)
            .await
            .unwrap();
        (credential, audit.len())
    }
}

/// A well-formed code that belongs to no set of this subject.
async fn foreign_code(env: &Env) -> String {
    let r = env
        .client
        .issue(TENANT, "someone-else", &env.token("someone-else"))
        .await
        .unwrap();
    codes(&r)[0].clone()
}

async fn lifecycle(backend: Backend, alg: Alg) {
    let env = Env::new(backend, alg).await;
    let c = &env.client;
    let subject = "alice@example.com";
    let t = || env.token(subject);

    let issued = c.issue(TENANT, subject, &t()).await.unwrap();
    assert_eq!(issued.status, StatusCode::CREATED);
    assert_eq!(issued.headers["cache-control"], "no-store");
    assert_eq!(issued.json["pending"], true);
    let first = codes(&issued);
    assert_eq!(first.len(), 10);

    let r = c.verify(TENANT, subject, &t(), &first[1]).await.unwrap();
    assert_eq!(
        r.status,
        StatusCode::CONFLICT,
        "no active set before activation"
    );

    let r = c.activate(TENANT, subject, &t(), &first[0]).await.unwrap();
    assert_eq!(
        (r.status, &r.json["result"]),
        (StatusCode::OK, &json!("accepted"))
    );

    let r = c
        .verify(TENANT, subject, &t(), &first[1].to_lowercase())
        .await
        .unwrap();
    assert_eq!(r.json["result"], "accepted", "{}", r.text);
    assert_eq!(
        (r.json["number"].as_u64(), r.json["remaining"].as_u64()),
        (Some(2), Some(9))
    );

    let r = c.verify(TENANT, subject, &t(), &first[1]).await.unwrap();
    assert_eq!(
        (r.json["result"].as_str(), r.json["reason"].as_str()),
        (Some("rejected"), Some("already_used"))
    );

    let r = c
        .verify(TENANT, subject, &t(), &foreign_code(&env).await)
        .await
        .unwrap();
    assert_eq!(r.json["reason"], "mismatch");

    let r = c.verify(TENANT, subject, &t(), "ABCD").await.unwrap();
    assert_eq!(
        (r.status, r.json["reason"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("wrong_length"))
    );

    let s = c.status(TENANT, subject, &t()).await.unwrap();
    assert_eq!(s.status, StatusCode::OK);
    assert_eq!(s.json["active"]["remaining"], 9);
    assert_eq!(s.json["active"]["used"][0]["number"], 2);
    // The mismatch counts; typing the code just used again is a double submit
    // within the engine's reuse grace and does not.
    assert_eq!(s.json["consecutive_failures"], 1);
    assert_eq!(s.json["pending"], Value::Null);

    // Regeneration: pending until activated; the old set works until then.
    let again = c.issue(TENANT, subject, &t()).await.unwrap();
    let second = codes(&again);
    assert_eq!(again.json["pending"], true);
    assert_eq!(
        c.verify(TENANT, subject, &t(), &first[2])
            .await
            .unwrap()
            .json["result"],
        "accepted"
    );
    assert_eq!(
        c.activate(TENANT, subject, &t(), &second[4])
            .await
            .unwrap()
            .json["result"],
        "accepted"
    );
    let r = c.verify(TENANT, subject, &t(), &first[3]).await.unwrap();
    assert_eq!(r.json["result"], "rejected", "old codes die with their set");
    let r = c.verify(TENANT, subject, &t(), &second[4]).await.unwrap();
    assert_eq!(
        r.json["result"], "accepted",
        "activation did not use the code"
    );

    let trail = env
        .shim
        .state
        .service
        .store()
        .audit_trail(TENANT, subject)
        .await
        .unwrap();
    let kinds: Vec<&str> = trail.iter().map(|a| a.kind.as_str()).collect();
    for kind in ["issued", "activated", "used", "failed"] {
        assert!(kinds.contains(&kind), "audit has {kind}: {kinds:?}");
    }
    for a in &trail {
        for code in first.iter().chain(&second) {
            assert!(!a.detail.contains(code.as_str()));
        }
    }

    assert_eq!(
        c.delete(TENANT, subject, &t()).await.unwrap().status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        c.status(TENANT, subject, &t()).await.unwrap().status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn lifecycle_on_sqlite_with_every_algorithm() {
    for alg in Alg::ALL {
        lifecycle(Backend::Sqlite, alg).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn lifecycle_on_postgres() {
    lifecycle(Backend::Postgres, Alg::Rs256).await;
    lifecycle(Backend::Postgres, Alg::EdDsa).await;
}

async fn auth_failures(backend: Backend, alg: Alg) {
    let env = Env::new(backend, alg).await;
    let subject = "bob";
    let codes = env.enroll(subject).await;
    let before = env.stored(subject).await;
    let path = format!("{}/verify", ShimClient::codes_path(TENANT, subject));
    let body = || Some(RawBody::json(&json!({"code": codes[1]})));

    let mut cases = env.idp.attacks(alg, subject);
    let replayed = env.token(subject);
    let first = env
        .client
        .send(
            Method::GET,
            &ShimClient::codes_path(TENANT, subject),
            Some(&replayed),
            None,
        )
        .await
        .unwrap();
    assert_eq!(first.status, StatusCode::OK);
    cases.push(("replayed jti", replayed));
    cases.push(("empty", String::new()));

    for (name, token) in &cases {
        let r = env
            .client
            .send(Method::POST, &path, Some(token), body())
            .await
            .unwrap();
        assert_eq!(
            r.status,
            StatusCode::UNAUTHORIZED,
            "{alg:?} {name}: {}",
            r.text
        );
        assert_eq!(r.text, r#"{"error":"unauthorized"}"#, "{name}");
    }
    let r = env
        .client
        .send(Method::POST, &path, None, body())
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.text.as_str()),
        (StatusCode::UNAUTHORIZED, r#"{"error":"unauthorized"}"#)
    );
    let r = env
        .client
        .send(
            Method::DELETE,
            &ShimClient::codes_path(TENANT, subject),
            Some(&cases[3].1),
            None,
        )
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    assert_eq!(
        env.stored(subject).await,
        before,
        "{alg:?}: nothing changed"
    );
    // The code the attackers sent is still unused.
    let r = env
        .client
        .verify(TENANT, subject, &env.token(subject), &codes[1])
        .await
        .unwrap();
    assert_eq!(r.json["result"], "accepted");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_auth_failure_is_401_and_changes_nothing() {
    for alg in Alg::ALL {
        auth_failures(Backend::Sqlite, alg).await;
    }
    auth_failures(Backend::Postgres, Alg::Es256).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_kid_refetches_the_jwks_at_most_once_per_interval() {
    let env = Env::new(Backend::Sqlite, Alg::Rs256).await;
    env.enroll("carol").await;
    let after_enrol = env.idp.jwks_fetches();
    assert_eq!(after_enrol, 1, "the JWKS is fetched once and cached");
    let (_, rogue) = env
        .idp
        .attacks(Alg::Rs256, "carol")
        .into_iter()
        .find(|(name, _)| *name == "kid not in jwks")
        .unwrap();
    let refused = || async {
        let r = env.client.status(TENANT, "carol", &rogue).await.unwrap();
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    };
    for _ in 0..5 {
        refused().await;
    }
    assert_eq!(
        env.idp.jwks_fetches(),
        1,
        "a storm of unknown kids right after a fetch fetches nothing"
    );
    tokio::time::sleep(
        backup_codes_shim::JWKS_REFETCH_INTERVAL + std::time::Duration::from_millis(200),
    )
    .await;
    for _ in 0..5 {
        refused().await;
    }
    assert_eq!(
        env.idp.jwks_fetches(),
        2,
        "then at most one refetch per interval (key rotation)"
    );
    let r = env
        .client
        .status(TENANT, "carol", &env.token("carol"))
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::OK, "known keys keep working");
}

async fn concurrent_single_use(backend: Backend) {
    let env = Env::with(backend, Alg::Hs256, |c| {
        c.plugin.max_concurrent = 4;
        if let Some(t) = c.tenants.get_mut(TENANT) {
            t.policy.free_failures = Some(100);
        }
    })
    .await;
    let subject = "dave";
    let codes = env.enroll(subject).await;
    let attempts = 40;
    let mut tasks = Vec::new();
    for _ in 0..attempts {
        let client = env.client.clone();
        let token = env.token(subject);
        let code = codes[1].clone();
        tasks.push(tokio::spawn(async move {
            client.verify(TENANT, subject, &token, &code).await.unwrap()
        }));
    }
    let mut results: BTreeMap<String, usize> = BTreeMap::new();
    for t in tasks {
        let r: Reply = t.await.unwrap();
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let key = format!(
            "{}/{}",
            r.json["result"].as_str().unwrap(),
            r.json["reason"].as_str().unwrap_or("-")
        );
        *results.entry(key).or_default() += 1;
    }
    assert_eq!(
        results.get("accepted/-"),
        Some(&1),
        "{backend:?}: {results:?}"
    );
    assert_eq!(results.get("rejected/already_used"), Some(&(attempts - 1)));
    let s = env
        .client
        .status(TENANT, subject, &env.token(subject))
        .await
        .unwrap();
    assert_eq!(s.json["active"]["remaining"], 9);
    // A code typed again within a minute of its use is a double submit: refused
    // as already used, never counted toward lockout (the engine's reuse grace).
    assert_eq!(
        s.json["consecutive_failures"], 0,
        "double submits of a code just used are not counted"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_verifications_of_one_code_succeed_once_on_sqlite() {
    concurrent_single_use(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_verifications_of_one_code_succeed_once_on_postgres() {
    concurrent_single_use(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limits_answer_429_with_retry_after() {
    let env = Env::with(Backend::Sqlite, Alg::Hs256, |c| {
        c.limits.per_subject_per_minute = 3;
    })
    .await;
    let codes = env.enroll("frank").await; // activation is the first attempt
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let r = env
            .client
            .verify(TENANT, "frank", &env.token("frank"), &codes[1])
            .await
            .unwrap();
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            assert!(r.headers.contains_key("retry-after"));
        }
        statuses.push(r.status.as_u16());
    }
    assert_eq!(statuses, [200, 200, 429, 429]);
}

#[tokio::test(flavor = "multi_thread")]
async fn health_readiness_and_metrics() {
    let env = Env::new(Backend::Sqlite, Alg::Hs256).await;
    let codes = env.enroll("gina").await;
    env.client
        .verify(TENANT, "gina", &env.token("gina"), &codes[2])
        .await
        .unwrap();
    env.client
        .verify(TENANT, "gina", "bad", &codes[3])
        .await
        .unwrap();
    let get = |p: &'static str| env.client.send(Method::GET, p, None, None);
    assert_eq!(get("/healthz").await.unwrap().status, StatusCode::OK);
    let ready = get("/readyz").await.unwrap();
    assert_eq!(ready.status, StatusCode::OK);
    // Which component runs, as a release's SHA256SUMS names it.
    let digest = hex::encode(backup_codes_shim::plugin::sha256(
        backup_codes_shim::plugin::EMBEDDED_COMPONENT,
    ));
    let ready: serde_json::Value = serde_json::from_str(&ready.text).unwrap();
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["component"]["sha256"], digest.as_str());
    assert_eq!(ready["component"]["source"], "embedded");
    assert_eq!(
        ready["version"],
        backup_codes_shim::plugin::COMPONENT_VERSION
    );
    let m = get("/metrics").await.unwrap().text;
    let info =
        format!("backup_codes_component_info{{sha256=\"{digest}\",source=\"embedded\",version=");
    assert!(m.contains(&info), "metrics name the component: {m}");
    for needle in [
        "backup_codes_attempts_total",
        "outcome=\"accepted\"",
        "backup_codes_http_request_duration_seconds_bucket",
        "backup_codes_auth_failures_total",
        "backup_codes_events_total",
    ] {
        assert!(m.contains(needle), "metrics has {needle}");
    }
    for code in &codes {
        assert!(!m.contains(code.as_str()));
    }
}

/// Issue 17: with `replace_on_use` the answer to a right code carries its
/// replacement once (`no-store`), the set keeps its size, the events say so,
/// and the replacement works once while the used code no longer does.
#[tokio::test(flavor = "multi_thread")]
async fn replace_on_use_returns_the_new_code_once() {
    let env = Env::with(Backend::Sqlite, Alg::Hs256, |c| {
        if let Some(t) = c.tenants.get_mut(TENANT) {
            t.policy.replace_on_use = Some(true);
        }
    })
    .await;
    let subject = "nist";
    let codes = env.enroll(subject).await;
    let r = env
        .client
        .verify(TENANT, subject, &env.token(subject), &codes[3])
        .await
        .unwrap();
    assert_eq!(r.json["result"], "accepted", "{}", r.text);
    assert_eq!(r.json["remaining"], 10);
    assert_eq!(r.headers["cache-control"], "no-store");
    let new = r.json["replacement"]["code"].as_str().unwrap().to_owned();
    assert_eq!(r.json["replacement"]["number"], 4);
    assert!(!codes.contains(&new));
    let old = env
        .client
        .verify(TENANT, subject, &env.token(subject), &codes[3])
        .await
        .unwrap();
    assert_eq!(old.json["result"], "rejected");
    assert!(old.json.get("replacement").is_none());
    let again = env
        .client
        .verify(TENANT, subject, &env.token(subject), &new)
        .await
        .unwrap();
    assert_eq!(again.json["result"], "accepted");
    assert_ne!(again.json["replacement"]["code"], new.as_str());
    let trail = env
        .shim
        .state
        .service
        .store()
        .audit_trail(TENANT, subject)
        .await
        .unwrap();
    let kinds: Vec<&str> = trail.iter().map(|a| a.kind.as_str()).collect();
    assert!(kinds.contains(&"replaced"), "{kinds:?}");
    let all = format!("{trail:?}");
    assert!(!all.contains(&new), "no code in the audit trail");
}
