//! Signed webhooks end to end: the shim (in-process, and as real processes)
//! posts every event of a credential change to a receiver on loopback. A
//! receiver that is down for a while gets everything once it is back, in
//! order per subject; `kill -9` loses nothing and redeliveries carry the same
//! `webhook-id`; two instances on one PostgreSQL send each event once; a
//! receiver that hangs or fails never holds a login; the outbox's bound drops
//! a gone receiver's events and keeps logins going; dead events are listed
//! and replayed from the command line.

mod processes;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use backup_codes_harness::client::{ShimClient, codes};
use backup_codes_harness::db::{Backend, TestDb};
use backup_codes_harness::idp::{Alg, TestIdp};
use backup_codes_harness::receiver::{Mode, Receiver, check_in_order, new_secret};
use backup_codes_harness::shim::{InProcess, cheap_policy, test_config};
use backup_codes_shim::config::{Config, EndpointConfig};
use backup_codes_shim::store::{OutboxFilter, OutboxRow, Store};
use reqwest::StatusCode;

const TENANT: &str = "acme";

/// Short delivery settings: retries within seconds, a window of a minute.
fn fast_webhooks(config: &mut Config) {
    let w = &mut config.webhooks;
    w.timeout_ms = 1000;
    w.lease_seconds = 3;
    w.poll_interval_ms = 100;
    w.retry_schedule_seconds = vec![1, 1, 2];
    w.retry_for_seconds = 60;
    w.sample_interval_ms = 200;
}

const FAST_WEBHOOKS_TOML: &str = "[webhooks]\ntimeout_ms = 1000\nlease_seconds = 3\n\
     poll_interval_ms = 100\nretry_schedule_seconds = [1, 1, 2]\nretry_for_seconds = 60\n\
     sample_interval_ms = 200\n";

struct Env {
    idp: TestIdp,
    shim: InProcess,
    client: ShimClient,
    receiver: Receiver,
    db: TestDb,
}

impl Env {
    async fn new(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Self {
        let secret = new_secret();
        let receiver = Receiver::start(&[&secret]).await.unwrap();
        let idp = TestIdp::start().await.unwrap();
        let db = TestDb::new(backend).await.unwrap();
        let mut tenant = idp.tenant(Alg::Hs256);
        tenant.policy = cheap_policy();
        tenant.webhooks.endpoints.insert(
            "crm".into(),
            EndpointConfig {
                url: receiver.url().parse().unwrap(),
                events: None,
                secret: secret.into(),
                previous_secret: None,
            },
        );
        let mut config = test_config(&db.url, BTreeMap::from([(TENANT.to_owned(), tenant)]));
        fast_webhooks(&mut config);
        tweak(&mut config);
        let shim = InProcess::start(&config).await.unwrap();
        let client = ShimClient::new(&shim.url).unwrap();
        Self {
            idp,
            shim,
            client,
            receiver,
            db,
        }
    }

    fn token(&self, subject: &str) -> String {
        self.idp.token(Alg::Hs256, subject)
    }

    async fn enroll(&self, subject: &str) -> Vec<String> {
        self.client
            .enroll_for(&self.idp, Alg::Hs256, TENANT, subject)
            .await
            .unwrap()
    }

    async fn verify(&self, subject: &str, code: &str) -> serde_json::Value {
        let r = self
            .client
            .verify(TENANT, subject, &self.token(subject), code)
            .await
            .unwrap();
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.json
    }

    async fn rows(&self) -> Vec<OutboxRow> {
        outbox(&self.db.url).await
    }
}

/// Every outbox row of a store.
async fn outbox(url: &str) -> Vec<OutboxRow> {
    let store = Store::connect(url, 1).await.unwrap();
    let rows = store
        .list_outbox(&OutboxFilter {
            limit: 100_000,
            ..OutboxFilter::default()
        })
        .await
        .unwrap();
    store.close().await;
    rows
}

fn ids(rows: &[OutboxRow]) -> Vec<String> {
    rows.iter().map(|r| r.event_id.clone()).collect()
}

/// Wait until every outbox row is delivered.
async fn all_delivered(url: &str, within: Duration) -> Vec<OutboxRow> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let rows = outbox(url).await;
        if !rows.is_empty() && rows.iter().all(|r| r.state == "delivered") {
            return rows;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not all delivered: {:?}",
            rows.iter()
                .filter(|r| r.state != "delivered")
                .map(|r| (&r.event_id, &r.state, r.attempts, &r.last_error))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn down_then_up(backend: Backend) {
    let mut env = Env::new(backend, |_| {}).await;
    env.receiver.down();
    let mut used = BTreeMap::new();
    for s in ["alice", "bob", "carol"] {
        let first = env.enroll(s).await;
        assert_eq!(env.verify(s, &first[1]).await["result"], "accepted");
        // Regenerate: a pending set beside the active one, then activated.
        let again = env.client.issue(TENANT, s, &env.token(s)).await.unwrap();
        let fresh = codes(&again);
        let a = env
            .client
            .activate(TENANT, s, &env.token(s), &fresh[0])
            .await
            .unwrap();
        assert_eq!(a.json["result"], "accepted");
        used.insert(s, fresh);
    }
    // While the receiver is down the events wait, and are retried.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let waiting = env.rows().await;
    assert!(waiting.iter().all(|r| r.state == "pending"));
    assert!(
        waiting
            .iter()
            .any(|r| r.attempts > 0 && r.last_error.as_deref() == Some("connect")),
        "tried and refused"
    );
    assert!(env.receiver.deliveries().is_empty());

    env.receiver.up().await.unwrap();
    let rows = all_delivered(&env.db.url, Duration::from_secs(30)).await;
    let got = env.receiver.deliveries();
    check_in_order(&got, &ids(&rows)).unwrap();
    let received: Vec<&str> = got.iter().map(|d| d.id.as_str()).collect();
    let unique: BTreeSet<&str> = received.iter().copied().collect();
    assert_eq!(unique.len(), rows.len(), "every event, nothing else");
    assert_eq!(
        received.len(),
        unique.len(),
        "each once while the receiver was healthy"
    );
    // issued, activated, used (+ maybe low), issued (pending), activated: per subject.
    for s in ["alice", "bob", "carol"] {
        let kinds: Vec<&str> = got
            .iter()
            .filter(|d| d.subject() == s)
            .map(|d| d.kind())
            .collect();
        assert_eq!(
            kinds,
            ["issued", "activated", "used", "issued", "activated"],
            "{s}"
        );
    }
    // The body: tenant, subject, set and numbers, the request that caused
    // it; never a code.
    let used_event = got.iter().find(|d| d.kind() == "used").unwrap();
    let data = &used_event.body["data"];
    assert_eq!(used_event.body["type"], "backup_codes.used");
    assert_eq!(data["tenant"], TENANT);
    assert!(data["set_id"].is_string() && data["number"] == 2 && data["remaining"] == 9);
    assert_eq!(data["request_id"].as_str().map(str::len), Some(16));
    // Every body is what the OpenAPI document's `webhooks` object says.
    let doc: serde_json::Value = reqwest::get(format!("{}/v1/openapi.json", env.shim.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let schema = &doc["webhooks"]["backupCodesEvent"]["post"]["requestBody"]["content"]["application/json"]
        ["schema"];
    let mut root = serde_json::json!({"components": doc["components"].clone()});
    root["$ref"] = schema["$ref"].clone();
    let validator = jsonschema::draft202012::new(&root).unwrap();
    for d in &got {
        let errors: Vec<String> = validator
            .iter_errors(&d.body)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{errors:?} in {}", d.body);
    }
    let everything: String = got
        .iter()
        .map(|d| String::from_utf8_lossy(&d.raw).into_owned())
        .collect();
    for code in used.values().flatten() {
        assert!(
            !everything.contains(code.as_str()),
            "a code in a webhook body"
        );
    }
    let metrics = reqwest::get(format!("{}/metrics", env.shim.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for name in [
        "backup_codes_webhook_delivered_total",
        "backup_codes_webhook_retried_total",
        "backup_codes_webhook_delivery_latency_seconds_bucket",
        "backup_codes_webhook_pending",
    ] {
        assert!(metrics.contains(name), "{name} in /metrics");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_down_for_a_while_gets_every_event_in_order_on_sqlite() {
    down_then_up(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_down_for_a_while_gets_every_event_in_order_on_postgres() {
    down_then_up(Backend::Postgres).await;
}

/// Deliveries are off the request path: while the receiver holds every
/// request (and then while it answers 500), logins go on and succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_or_failing_receiver_never_holds_a_login() {
    let env = Env::new(Backend::Sqlite, |c| {
        c.webhooks.timeout_ms = 30_000;
        c.webhooks.lease_seconds = 61;
    })
    .await;
    env.receiver.set(Mode::Hold);
    let mut sets = Vec::new();
    for i in 0..6 {
        let s = format!("user{i}");
        let codes = env.enroll(&s).await;
        sets.push((s, codes));
    }
    env.receiver
        .wait_for(Duration::from_secs(10), |_| env.receiver.in_flight() >= 1)
        .await
        .ok();
    assert!(
        env.receiver.in_flight() >= 1,
        "the receiver holds deliveries"
    );
    // Concurrent logins, all while the receiver holds its requests.
    let mut logins = tokio::task::JoinSet::new();
    for (s, codes) in &sets {
        let client = ShimClient::new(&env.shim.url).unwrap();
        let (s, code, token) = (s.clone(), codes[2].clone(), env.token(s));
        logins.spawn(async move { client.verify(TENANT, &s, &token, &code).await });
    }
    while let Some(r) = logins.join_next().await {
        let r = r.unwrap().unwrap();
        assert_eq!(r.json["result"], "accepted", "{}", r.text);
    }
    assert!(
        env.receiver.in_flight() >= 1,
        "logins finished while deliveries were still held"
    );
    env.receiver.set(Mode::Status(500));
    for (s, codes) in &sets {
        assert_eq!(env.verify(s, &codes[3]).await["result"], "accepted");
    }
    let rows = env.rows().await;
    assert!(rows.iter().all(|r| r.state == "pending"));
    env.receiver.set(Mode::Up);
    let rows = all_delivered(&env.db.url, Duration::from_secs(30)).await;
    check_in_order(&env.receiver.deliveries(), &ids(&rows)).unwrap();
}

/// The outbox's bound: a gone receiver's undelivered rows reach it, its new
/// events are dropped (counted), and logins and audit rows go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_outbox_drops_a_gone_receivers_events_and_logins_go_on() {
    let mut env = Env::new(Backend::Sqlite, |c| c.webhooks.max_undelivered_rows = 4).await;
    env.receiver.down();
    let codes = env.enroll("alice").await; // issued, activated
    for code in &codes[1..3] {
        assert_eq!(env.verify("alice", code).await["result"], "accepted");
    }
    // Four rows now: the next sample marks the endpoint full.
    tokio::time::sleep(Duration::from_millis(600)).await;
    for code in &codes[3..6] {
        assert_eq!(env.verify("alice", code).await["result"], "accepted");
    }
    let rows = env.rows().await;
    assert_eq!(rows.len(), 4, "nothing past the bound");
    let metrics = reqwest::get(format!("{}/metrics", env.shim.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let dropped = metrics
        .lines()
        .find(|l| l.starts_with("backup_codes_webhook_dropped_total"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0);
    assert!(dropped >= 3.0, "dropped {dropped}");
    assert!(
        metrics.contains("backup_codes_webhook_outbox_full{"),
        "{metrics}"
    );
    // Every login was still audited.
    let audit = backup_codes_harness::db::snapshot(&env.db.url)
        .await
        .unwrap();
    let used = audit
        .iter()
        .filter(|l| l.starts_with("audit") && l.contains(" used "))
        .count();
    assert_eq!(used, 5, "{audit:#?}");
    // The receiver comes back: the rows drain and the bound lifts.
    env.receiver.up().await.unwrap();
    all_delivered(&env.db.url, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(env.verify("alice", &codes[6]).await["result"], "accepted");
    env.receiver
        .wait_for(Duration::from_secs(10), |got| got.len() >= 5)
        .await
        .unwrap();
}

// --- real processes -------------------------------------------------------
