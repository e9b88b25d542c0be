//! Webhooks of shims running as real processes: `kill -9` during deliveries,
//! two instances on one PostgreSQL database, and dead events replayed from
//! the command line.

use std::collections::BTreeSet;
use std::time::Duration;

use backup_codes_harness::client::{ShimClient, codes};
use backup_codes_harness::db::{Backend, TestDb};
use backup_codes_harness::idp::{Alg, TestIdp};
use backup_codes_harness::receiver::{Mode, Receiver, check_in_order, new_secret};
use backup_codes_harness::shim::{ShimProcess, process_toml};
use reqwest::StatusCode;

use super::{FAST_WEBHOOKS_TOML, TENANT, all_delivered, ids, outbox};

fn process_config(db: &TestDb, idp: &TestIdp, receiver_url: &str, secret: &str) -> String {
    let toml = process_toml(
        db,
        "log_filter = \"warn,backup_codes_shim::webhooks=info\"",
        "",
        &idp.tenant_toml(TENANT, Alg::Hs256),
        TENANT,
    );
    format!(
        "{toml}free_failures = 100\nmax_failures = 100\n\
         [tenants.{TENANT}.webhooks.endpoints.crm]\nurl = {receiver_url:?}\nsecret = {secret:?}\n\
         {FAST_WEBHOOKS_TOML}",
    )
}

/// Enrol `subjects` through `client` and sign in with two codes each;
/// returns how many logins succeeded.
async fn load(client: &ShimClient, idp: &TestIdp, subjects: &[String]) -> usize {
    let mut ok = 0;
    for s in subjects {
        let r = client.issue(TENANT, s, &idp.token(Alg::Hs256, s)).await;
        let Ok(r) = r else { continue };
        if r.status != StatusCode::CREATED {
            continue;
        }
        let codes = codes(&r);
        let Ok(a) = client
            .activate(TENANT, s, &idp.token(Alg::Hs256, s), &codes[0])
            .await
        else {
            continue;
        };
        if a.json["result"] != "accepted" {
            continue;
        }
        for code in &codes[1..3] {
            let Ok(v) = client
                .verify(TENANT, s, &idp.token(Alg::Hs256, s), code)
                .await
            else {
                continue;
            };
            if v.json["result"] == "accepted" {
                ok += 1;
            }
        }
    }
    ok
}

/// `kill -9` while deliveries are in flight, three times, then a restart:
/// every event committed with its change is delivered, redeliveries repeat
/// an id already seen, and first receipts keep each subject's order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_deliveries_loses_no_event() {
    let idp = TestIdp::start().await.unwrap();
    let db = TestDb::new(Backend::Sqlite).await.unwrap();
    let secret = new_secret();
    let receiver = Receiver::start(&[&secret]).await.unwrap();
    // Each delivery takes a while, so kills land mid-delivery.
    receiver.set(Mode::Slow(Duration::from_millis(300)));
    let toml = process_config(&db, &idp, &receiver.url(), &secret);
    let mut shim = ShimProcess::start(db.dir.path(), "a", &toml).await.unwrap();
    for round in 0..3 {
        let client = ShimClient::new(&shim.url).unwrap();
        let subjects: Vec<String> = (0..4).map(|i| format!("r{round}s{i}")).collect();
        assert_eq!(load(&client, &idp, &subjects).await, 8);
        // Kill while a delivery is in flight.
        receiver
            .wait_for(Duration::from_secs(20), |_| receiver.in_flight() >= 1)
            .await
            .unwrap();
        shim.kill9().await.unwrap();
        shim = ShimProcess::start(db.dir.path(), "a", &toml).await.unwrap();
    }
    receiver.set(Mode::Up);
    let rows = all_delivered(&db.url, Duration::from_secs(60)).await;
    let got = receiver.deliveries();
    check_in_order(&got, &ids(&rows)).unwrap();
    let outbox_ids: BTreeSet<String> = ids(&rows).into_iter().collect();
    assert!(
        got.iter().all(|d| outbox_ids.contains(&d.id)),
        "every delivery is an outbox event (a redelivery repeats its id)"
    );
    // Nothing lost on the write side: each change's audit rows of the
    // seven kinds have their outbox rows.
    let snapshot = backup_codes_harness::db::snapshot(&db.url).await.unwrap();
    let audited = snapshot
        .iter()
        .filter(|l| l.starts_with("audit"))
        .filter(|l| {
            [
                " issued ",
                " activated ",
                " used ",
                " failed ",
                " locked ",
                " low ",
                " exhausted ",
            ]
            .iter()
            .any(|k| l.contains(k))
        })
        .count();
    assert_eq!(audited, rows.len(), "one outbox row per audited event");
    // The deliveries cut off by the kills came again, with their ids.
    let cut: Vec<&str> = got
        .iter()
        .filter(|d| d.answered == 0)
        .map(|d| d.id.as_str())
        .collect();
    assert!(!cut.is_empty(), "a kill landed during a delivery");
    for id in &cut {
        assert!(
            got.iter().any(|d| d.id == *id && d.answered == 204),
            "{id} was delivered again, with the same id"
        );
    }
    let redelivered = got.len() - outbox_ids.len();
    eprintln!(
        "{} events, {} deliveries ({redelivered} redeliveries after kill -9)",
        rows.len(),
        got.len()
    );
    drop(shim);
}

/// Two instances on one PostgreSQL database under load, both healthy: each
/// event is delivered exactly once, and both instances deliver.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_postgres_deliver_each_event_once() {
    let idp = TestIdp::start().await.unwrap();
    let db = TestDb::new(Backend::Postgres).await.unwrap();
    let secret = new_secret();
    let receiver = Receiver::start(&[&secret]).await.unwrap();
    receiver.set(Mode::Slow(Duration::from_millis(20)));
    let toml = process_config(&db, &idp, &receiver.url(), &secret);
    let a = ShimProcess::start(db.dir.path(), "a", &toml).await.unwrap();
    let b = ShimProcess::start(db.dir.path(), "b", &toml).await.unwrap();
    let (ca, cb) = (
        ShimClient::new(&a.url).unwrap(),
        ShimClient::new(&b.url).unwrap(),
    );
    let sa: Vec<String> = (0..8).map(|i| format!("a{i}")).collect();
    let sb: Vec<String> = (0..8).map(|i| format!("b{i}")).collect();
    let (na, nb) = tokio::join!(load(&ca, &idp, &sa), load(&cb, &idp, &sb));
    assert_eq!(na + nb, 16 * 2, "every login succeeded");
    let rows = all_delivered(&db.url, Duration::from_secs(60)).await;
    let got = receiver.deliveries();
    check_in_order(&got, &ids(&rows)).unwrap();
    let mut seen = BTreeSet::new();
    for d in &got {
        assert!(seen.insert(d.id.clone()), "{} delivered twice", d.id);
    }
    assert_eq!(seen.len(), rows.len());
    for shim in [&a, &b] {
        let metrics = reqwest::get(format!("{}/metrics", shim.url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let delivered: f64 = metrics
            .lines()
            .filter(|l| l.starts_with("backup_codes_webhook_delivered_total"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        assert!(delivered > 0.0, "both instances deliver");
    }
    eprintln!("{} events delivered once each by two instances", rows.len());
}

/// A receiver that says 410 Gone parks the event as dead; the CLI lists it,
/// replays it, and it is delivered with the same id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_events_are_listed_and_replayed_from_the_command_line() {
    let idp = TestIdp::start().await.unwrap();
    let db = TestDb::new(Backend::Sqlite).await.unwrap();
    let secret = new_secret();
    let receiver = Receiver::start(&[&secret]).await.unwrap();
    receiver.set(Mode::Status(410));
    let toml = process_config(&db, &idp, &receiver.url(), &secret);
    let shim = ShimProcess::start(db.dir.path(), "a", &toml).await.unwrap();
    let client = ShimClient::new(&shim.url).unwrap();
    client
        .enroll_for(&idp, Alg::Hs256, TENANT, "alice")
        .await
        .unwrap();
    // Both events (issued, activated) die at their first attempt.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while outbox(&db.url)
        .await
        .iter()
        .filter(|r| r.state == "dead")
        .count()
        < 2
    {
        assert!(tokio::time::Instant::now() < deadline, "not dead in time");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(backup_codes_harness::shim::binary().unwrap())
            .arg("--config")
            .arg(&shim.config_path)
            .args(args)
            .current_dir(db.dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let listed = cli(&["webhooks", "list", "--state", "dead"]);
    let dead: Vec<serde_json::Value> = listed
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(dead.len(), 2, "{listed}");
    assert!(
        dead.iter()
            .all(|d| d["last_status"] == 410 && d["last_error"] == "gone")
    );
    let first = dead[0]["event_id"].as_str().unwrap().to_owned();
    let inspected: serde_json::Value =
        serde_json::from_str(&cli(&["webhooks", "inspect", &first])).unwrap();
    assert_eq!(inspected["rows"][0]["event_id"], first.as_str());
    assert_eq!(inspected["body"]["type"], "backup_codes.issued");
    let stats: serde_json::Value = serde_json::from_str(&cli(&["webhooks", "stats"])).unwrap();
    assert_eq!(stats["counts"][0]["state"], "dead");
    let before = receiver.deliveries().len();
    receiver.set(Mode::Up);
    let replayed: serde_json::Value =
        serde_json::from_str(&cli(&["webhooks", "replay", "--dead", "--tenant", TENANT])).unwrap();
    assert_eq!(replayed["replayed"], 2);
    let rows = all_delivered(&db.url, Duration::from_secs(30)).await;
    let got = receiver.deliveries();
    let again: Vec<&str> = got[before..].iter().map(|d| d.id.as_str()).collect();
    assert_eq!(
        again,
        [first.as_str(), rows[1].event_id.as_str()],
        "same ids, in order"
    );
    // A fresh secret for a new endpoint.
    let secret = cli(&["webhooks", "secret"]);
    assert!(
        backup_codes_shim::webhooks::sign::WebhookSecret::parse(secret.trim()).is_ok(),
        "{secret}"
    );
    drop(shim);
}
