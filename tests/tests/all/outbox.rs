//! The webhook outbox in the store, on SQLite and PostgreSQL: rows land with
//! their credential change or not at all, only a queue's head is leased, a
//! lost lease changes nothing, and two stores sharing a PostgreSQL database
//! never lease one row twice.

use backup_codes_harness::db::{Backend, TestDb};
use backup_codes_shim::store::{Completion, Effects, OutboxRecord, OutboxRow, Store, now_ms};

async fn store(db: &TestDb) -> Store {
    let store = Store::connect(&db.url, 4).await.unwrap();
    store.migrate().await.unwrap();
    store
}

fn event(id: &str, endpoint: &str, kind: &str) -> OutboxRecord {
    OutboxRecord {
        event_id: id.into(),
        endpoint: endpoint.into(),
        kind: kind.into(),
        at: 1_700_000_000,
        detail: r#"{"set_id":"s1"}"#.into(),
        request_id: Some("req1".into()),
    }
}

/// Write `events` with a change of `subject`'s credential from `expected`.
async fn change(
    store: &Store,
    subject: &str,
    expected: Option<i64>,
    events: &[OutboxRecord],
) -> Option<i64> {
    let effects = Effects {
        outbox: events,
        ..Effects::default()
    };
    store
        .swap_with("t", subject, expected, b"credential", 1, &effects)
        .await
        .unwrap()
}

fn names(leased: &[OutboxRow]) -> Vec<String> {
    let mut out: Vec<String> = leased
        .iter()
        .map(|l| format!("{}/{}/{}#{}", l.endpoint, l.subject, l.kind, l.seq))
        .collect();
    out.sort();
    out
}

async fn heads_in_order(backend: Backend) {
    let db = TestDb::new(backend).await.unwrap();
    let store = store(&db).await;
    assert_eq!(
        change(
            &store,
            "alice",
            None,
            &[event("e1", "crm", "issued"), event("e1", "mail", "issued")]
        )
        .await,
        Some(1)
    );
    change(&store, "alice", Some(1), &[event("e2", "crm", "activated")]).await;
    change(&store, "bob", None, &[event("e3", "crm", "issued")]).await;
    // A change that loses its compare-and-swap writes no event.
    assert_eq!(
        change(&store, "bob", Some(7), &[event("lost", "crm", "used")]).await,
        None
    );

    // Rows are due from when they were written.
    let now = now_ms() + 1;
    let first = store
        .claim_outbox(now, now + 60_000, 10, "tok1")
        .await
        .unwrap();
    assert_eq!(
        names(&first),
        [
            "crm/alice/issued#1",
            "crm/bob/issued#1",
            "mail/alice/issued#1"
        ],
        "only each queue's head, numbered per subject"
    );
    assert!(
        first
            .iter()
            .all(|l| l.attempts == 1 && l.request_id.as_deref() == Some("req1"))
    );
    // Leased heads block their queues: nothing more now.
    assert!(
        store
            .claim_outbox(now, now + 60_000, 10, "tok2")
            .await
            .unwrap()
            .is_empty()
    );

    let delivered = Completion::Delivered { status: 204 };
    assert!(
        store
            .complete_outbox("e1", "crm", "tok1", now, &delivered)
            .await
            .unwrap()
    );
    // Completing twice, or under another token, changes nothing.
    assert!(
        !store
            .complete_outbox("e1", "crm", "tok1", now, &delivered)
            .await
            .unwrap()
    );
    assert!(
        !store
            .complete_outbox("e3", "crm", "tok2", now, &delivered)
            .await
            .unwrap()
    );
    let next = store
        .claim_outbox(now, now + 60_000, 10, "tok3")
        .await
        .unwrap();
    assert_eq!(names(&next), ["crm/alice/activated#2"]);
}

#[tokio::test]
async fn only_queue_heads_are_leased_in_order_on_sqlite() {
    heads_in_order(Backend::Sqlite).await;
}

#[tokio::test]
async fn only_queue_heads_are_leased_in_order_on_postgres() {
    heads_in_order(Backend::Postgres).await;
}

async fn leases_and_retries(backend: Backend) {
    let db = TestDb::new(backend).await.unwrap();
    let store = store(&db).await;
    change(&store, "alice", None, &[event("e1", "crm", "issued")]).await;
    let now = now_ms() + 1;
    let a = store.claim_outbox(now, now + 1_000, 10, "a").await.unwrap();
    assert_eq!(a.len(), 1);
    // The lease runs out (the worker stalled or was killed): another takes
    // the row over with the same event id, and the first one's word is void.
    let later = now + 2_000;
    let b = store
        .claim_outbox(later, later + 1_000, 10, "b")
        .await
        .unwrap();
    assert_eq!((b[0].event_id.as_str(), b[0].attempts), ("e1", 2));
    let failed = Completion::Retry {
        next_ms: later + 3_600_000,
        status: Some(500),
        error: "status".into(),
    };
    assert!(
        !store
            .complete_outbox("e1", "crm", "a", later, &failed)
            .await
            .unwrap()
    );
    assert!(
        store
            .complete_outbox("e1", "crm", "b", later, &failed)
            .await
            .unwrap()
    );
    // It waits for its retry...
    assert!(
        store
            .claim_outbox(later, later + 1_000, 10, "c")
            .await
            .unwrap()
            .is_empty()
    );
    // ...until a delivery to the endpoint works again.
    assert_eq!(
        store.fast_forward_outbox("t", "crm", later).await.unwrap(),
        1
    );
    let c = store
        .claim_outbox(later, later + 1_000, 10, "c")
        .await
        .unwrap();
    assert_eq!(
        (c[0].event_id.as_str(), c[0].attempts, c[0].window_ms),
        ("e1", 3, a[0].window_ms)
    );
    let dead = Completion::Dead {
        status: Some(410),
        error: "gone".into(),
    };
    assert!(
        store
            .complete_outbox("e1", "crm", "c", later, &dead)
            .await
            .unwrap()
    );
    let counts = store.outbox_counts().await.unwrap();
    assert_eq!(counts.len(), 1);
    assert_eq!((counts[0].state.as_str(), counts[0].rows), ("dead", 1));
    // A dead head no longer holds its queue back.
    change(&store, "alice", Some(1), &[event("e2", "crm", "used")]).await;
    let d = store
        .claim_outbox(later, later + 1_000, 10, "d")
        .await
        .unwrap();
    assert_eq!((d[0].event_id.as_str(), d[0].seq), ("e2", 2));
    assert_eq!(
        store.purge_outbox(0, i64::MAX).await.unwrap(),
        1,
        "the dead row"
    );
}

#[tokio::test]
async fn lost_leases_change_nothing_and_retries_wait_on_sqlite() {
    leases_and_retries(Backend::Sqlite).await;
}

#[tokio::test]
async fn lost_leases_change_nothing_and_retries_wait_on_postgres() {
    leases_and_retries(Backend::Postgres).await;
}

/// Two stores (two instances) leasing from one PostgreSQL database at once,
/// while events keep arriving: every row is leased exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stores_never_lease_one_row_twice_on_postgres() {
    let db = TestDb::new(Backend::Postgres).await.unwrap();
    let writer = store(&db).await;
    let subjects = 40;
    for s in 0..subjects {
        change(
            &writer,
            &format!("s{s}"),
            None,
            &[event(&format!("e{s}"), "crm", "issued")],
        )
        .await;
    }
    let ready = std::sync::Arc::new(tokio::sync::Barrier::new(2));
    let worker = |name: &'static str| {
        let url = db.url.clone();
        let ready = std::sync::Arc::clone(&ready);
        tokio::spawn(async move {
            let store = Store::connect(&url, 2).await.unwrap();
            store.ping().await.unwrap();
            ready.wait().await;
            let mut got = Vec::new();
            for round in 0..200 {
                let now = now_ms() + 1;
                let token = format!("{name}{round}");
                let leased = store
                    .claim_outbox(now, now + 60_000, 3, &token)
                    .await
                    .unwrap();
                if leased.is_empty() && round > 20 {
                    break;
                }
                for l in leased {
                    let done = Completion::Delivered { status: 200 };
                    assert!(
                        store
                            .complete_outbox(&l.event_id, &l.endpoint, &token, now, &done)
                            .await
                            .unwrap()
                    );
                    got.push(l.event_id);
                }
                tokio::task::yield_now().await;
            }
            got
        })
    };
    let (a, b) = (worker("a"), worker("b"));
    let (a, b) = (a.await.unwrap(), b.await.unwrap());
    let mut all: Vec<String> = a.iter().chain(&b).cloned().collect();
    all.sort();
    let total = all.len();
    all.dedup();
    assert_eq!(total, all.len(), "no event leased twice");
    assert_eq!(all.len(), subjects, "every event leased");
    assert!(
        !a.is_empty() && !b.is_empty(),
        "both shared the work: {} / {}",
        a.len(),
        b.len()
    );
}
