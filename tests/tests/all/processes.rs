//! Real shim processes sharing one store: single use under load, lockout across
//! instances, crash safety under `kill -9`, graceful shutdown, component pinning.
//!
//! Longer variants: `BACKUP_CODES_LOAD_ATTEMPTS` (default 10,000 attempts) and
//! `BACKUP_CODES_CRASH_CYCLES` (default 3 kill/restart cycles).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use backup_codes_harness::client::{ShimClient, codes};
use backup_codes_harness::db::{Backend, TestDb};
use backup_codes_harness::idp::{Alg, TestIdp};
use backup_codes_harness::shim::{ShimProcess, process_toml};
use reqwest::StatusCode;
use tokio::sync::Semaphore;

const TENANT: &str = "acme";

fn config(db: &TestDb, idp: &TestIdp, extra_policy: &str) -> String {
    config_with(db, idp, extra_policy, "")
}

fn config_with(db: &TestDb, idp: &TestIdp, extra_policy: &str, extra_plugin: &str) -> String {
    let tenants = idp.tenant_toml(TENANT, Alg::Hs256);
    let toml = process_toml(db, "log_filter = \"warn\"", extra_plugin, &tenants, TENANT);
    format!("{toml}{extra_policy}\n")
}

fn load_attempts() -> usize {
    std::env::var("BACKUP_CODES_LOAD_ATTEMPTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

/// Codes of each subject tried under load, and how often each is tried:
/// subjects × codes × repeats = attempts; repeats stay below 100 consecutive
/// failures per subject so no set locks for good.
const CODES_PER_SUBJECT: usize = 5;
const REPEATS: usize = 10;

/// Each subject's codes, and the attempts to make: (subject, code) pairs.
type Plan = (BTreeMap<String, Vec<String>>, Vec<(String, String)>);

/// How many times each (subject, code) was accepted, and each subject's
/// rejections.
type Tally = (BTreeMap<(String, String), usize>, BTreeMap<String, usize>);

async fn single_use_under_load(backend: Backend) {
    let idp = TestIdp::start().await.unwrap();
    let db = TestDb::new(backend).await.unwrap();
    let toml = config(&db, &idp, "free_failures = 100\nmax_failures = 100");
    let a = ShimProcess::start(db.dir.path(), "a", &toml).await.unwrap();
    let b = ShimProcess::start(db.dir.path(), "b", &toml).await.unwrap();
    let clients = [
        ShimClient::new(&a.url).unwrap(),
        ShimClient::new(&b.url).unwrap(),
    ];

    let (enrolled, plan) = plan_load(&clients, &idp, load_attempts()).await;
    let subjects = enrolled.len();
    let started = Instant::now();
    let (accepted, rejected) = run_load(&clients, Arc::new(idp), &plan).await;
    let elapsed = started.elapsed();

    // Each code succeeded exactly once.
    assert_eq!(accepted.len(), subjects * CODES_PER_SUBJECT, "{backend:?}");
    assert!(
        accepted.values().all(|&n| n == 1),
        "{backend:?}: a code succeeded twice"
    );
    counters_match_the_audit_trail(&db, &enrolled, &rejected).await;
    eprintln!(
        "{backend:?}: {} attempts over 2 shim processes on {} subjects in {:.1} s ({:.0}/s)",
        plan.len(),
        subjects,
        elapsed.as_secs_f64(),
        plan.len() as f64 / elapsed.as_secs_f64()
    );
}

/// Enrol enough subjects for `total` attempts, alternating between the
/// processes, and plan the attempts in a deterministic interleaving.
async fn plan_load(clients: &[ShimClient; 2], idp: &TestIdp, total: usize) -> Plan {
    let subjects = total.div_ceil(CODES_PER_SUBJECT * REPEATS);
    let mut plan = Vec::new();
    let mut enrolled = BTreeMap::new();
    for s in 0..subjects {
        let subject = format!("user-{s}");
        let codes = clients[s % 2]
            .enroll_for(idp, Alg::Hs256, TENANT, &subject)
            .await
            .unwrap();
        for code in &codes[1..=CODES_PER_SUBJECT] {
            for _ in 0..REPEATS {
                plan.push((subject.clone(), code.clone()));
            }
        }
        enrolled.insert(subject, codes);
    }
    // Interleave deterministically so repeats of one code are spread out.
    plan.sort_by_key(|(s, c)| {
        let mut h = 0u64;
        for b in s.bytes().chain(c.bytes()) {
            h = h.wrapping_mul(31).wrapping_add(u64::from(b));
        }
        h
    });
    (enrolled, plan)
}

/// Make every planned attempt, 64 at a time over both processes; the tally.
async fn run_load(
    clients: &[ShimClient; 2],
    idp: Arc<TestIdp>,
    plan: &[(String, String)],
) -> Tally {
    let limit = Arc::new(Semaphore::new(64));
    let mut tasks = Vec::with_capacity(plan.len());
    for (i, (subject, code)) in plan.iter().cloned().enumerate() {
        let permit = Arc::clone(&limit).acquire_owned().await.unwrap();
        let client = clients[i % 2].clone();
        let idp = Arc::clone(&idp);
        tasks.push(tokio::spawn(async move {
            let token = idp.token(Alg::Hs256, &subject);
            let r = client
                .verify(TENANT, &subject, &token, &code)
                .await
                .unwrap();
            drop(permit);
            (subject, code, r)
        }));
    }
    let mut accepted: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut rejected: BTreeMap<String, usize> = BTreeMap::new();
    for t in tasks {
        let (subject, code, r) = t.await.unwrap();
        assert_eq!(r.status, StatusCode::OK, "{subject}: {}", r.text);
        match r.json["result"].as_str() {
            Some("accepted") => *accepted.entry((subject, code)).or_default() += 1,
            Some("rejected") => {
                assert_eq!(r.json["reason"], "already_used");
                *rejected.entry(subject).or_default() += 1;
            }
            other => panic!("unexpected result {other:?}: {}", r.text),
        }
    }
    (accepted, rejected)
}

/// Failure counters are exact: the store's audit trail and counters agree.
/// Rejections of a code used within the engine's reuse grace (a minute) are
/// not counted and leave no `failed` row; older reuse is counted.
async fn counters_match_the_audit_trail(
    db: &TestDb,
    enrolled: &BTreeMap<String, Vec<String>>,
    rejected: &BTreeMap<String, usize>,
) {
    let store = backup_codes_shim::store::Store::connect(&db.url, 2)
        .await
        .unwrap();
    let plugin = backup_codes_shim::Plugin::embedded(Default::default()).unwrap();
    let mut policy = plugin.default_policy().unwrap();
    policy.hash.memory_kib = 1024;
    policy.hash.iterations = 1;
    for (subject, codes) in enrolled {
        let trail = store.audit_trail(TENANT, subject).await.unwrap();
        let failed = trail.iter().filter(|a| a.kind == "failed").count();
        let used = trail.iter().filter(|a| a.kind == "used").count();
        assert!(
            failed <= rejected.get(subject).copied().unwrap_or(0),
            "{subject}: a failure row without a rejection"
        );
        assert_eq!(used, CODES_PER_SUBJECT, "{subject}");
        // Versions order one subject's changes exactly (times only to the second).
        let last_use = trail
            .iter()
            .filter(|a| a.kind == "used")
            .filter_map(|a| a.version)
            .max();
        let since_last_use = trail
            .iter()
            .filter(|a| a.kind == "failed" && a.version > last_use)
            .count();
        let record = store.get(TENANT, subject).await.unwrap().unwrap();
        let status = plugin.status(&record.credential, &policy).unwrap();
        assert_eq!(
            status.consecutive_failures as usize, since_last_use,
            "{subject}: consecutive failures"
        );
        assert_eq!(
            status.active.unwrap().remaining as usize,
            codes.len() - CODES_PER_SUBJECT
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_single_use_under_load_on_sqlite() {
    single_use_under_load(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_single_use_under_load_on_postgres() {
    single_use_under_load(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn lockout_holds_across_instances() {
    let idp = TestIdp::start().await.unwrap();
    let db = TestDb::new(Backend::Sqlite).await.unwrap();
    let toml = config(&db, &idp, "");
    let a = ShimProcess::start(db.dir.path(), "a", &toml).await.unwrap();
    let b = ShimProcess::start(db.dir.path(), "b", &toml).await.unwrap();
    let (ca, cb) = (
        ShimClient::new(&a.url).unwrap(),
        ShimClient::new(&b.url).unwrap(),
    );
    let codes = ca
        .enroll_for(&idp, Alg::Hs256, TENANT, "ivan")
        .await
        .unwrap();
    let other = ca
        .enroll_for(&idp, Alg::Hs256, TENANT, "someone")
        .await
        .unwrap();
    let t = || idp.token(Alg::Hs256, "ivan");
    for i in 0..5 {
        let client = if i % 2 == 0 { &ca } else { &cb };
        let r = client
            .verify(TENANT, "ivan", &t(), &other[1])
            .await
            .unwrap();
        assert_eq!(r.json["result"], "rejected");
    }
    // Locked now, on both instances, even for a right code.
    for client in [&ca, &cb] {
        let r = client
            .verify(TENANT, "ivan", &t(), &codes[1])
            .await
            .unwrap();
        assert_eq!(r.json["result"], "locked", "{}", r.text);
        assert!(r.json["locked_until"].as_u64().is_some());
    }
}

/// What the crash-safety workers share: the victim's client (its address
/// changes on restart, so workers read it anew each time), the survivor's,
/// the subjects with their latest known codes, the codes reported used, and
/// the signal to stop.
struct Load {
    idp: Arc<TestIdp>,
    cv: std::sync::RwLock<ShimClient>,
    cs: ShimClient,
    subjects: Vec<String>,
    known: tokio::sync::Mutex<BTreeMap<String, Vec<String>>>,
    used: tokio::sync::Mutex<BTreeSet<(String, String)>>,
    stop: std::sync::atomic::AtomicBool,
}

/// Sustained issue / verify / regenerate load on two processes; one is killed
/// with SIGKILL mid-flight and restarted, `BACKUP_CODES_CRASH_CYCLES` times (3). Afterwards every credential decodes,
/// no code reported used can be used again, and no set is half-written.
async fn crash_safety(backend: Backend) {
    let idp = Arc::new(TestIdp::start().await.unwrap());
    let db = TestDb::new(backend).await.unwrap();
    let toml = config(&db, &idp, "free_failures = 100\nmax_failures = 100");
    let mut victim = ShimProcess::start(db.dir.path(), "victim", &toml)
        .await
        .unwrap();
    let survivor = ShimProcess::start(db.dir.path(), "survivor", &toml)
        .await
        .unwrap();
    let cs = ShimClient::new(&survivor.url).unwrap();
    let subjects: Vec<String> = (0..12).map(|i| format!("crash-{i}")).collect();
    let mut known = BTreeMap::new();
    for s in &subjects {
        known.insert(
            s.clone(),
            cs.enroll_for(&idp, Alg::Hs256, TENANT, s).await.unwrap(),
        );
    }
    let load = Arc::new(Load {
        idp: Arc::clone(&idp),
        cv: std::sync::RwLock::new(ShimClient::new(&victim.url).unwrap()),
        cs: cs.clone(),
        subjects,
        known: tokio::sync::Mutex::new(known),
        used: tokio::sync::Mutex::new(BTreeSet::new()),
        stop: std::sync::atomic::AtomicBool::new(false),
    });

    let workers: Vec<_> = (0..16usize)
        .map(|w| tokio::spawn(work(w, Arc::clone(&load))))
        .collect();
    let cycles: usize = std::env::var("BACKUP_CODES_CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    for cycle in 0..cycles {
        tokio::time::sleep(Duration::from_millis(2000)).await;
        victim.kill9().await.unwrap();
        victim = ShimProcess::start(db.dir.path(), &format!("victim-{cycle}"), &toml)
            .await
            .unwrap();
        *load.cv.write().unwrap() = ShimClient::new(&victim.url).unwrap();
    }
    tokio::time::sleep(Duration::from_millis(1000)).await;
    load.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut operations = 0;
    for w in workers {
        operations += w.await.unwrap();
    }

    let used = load.used.lock().await.clone();
    nothing_lost_after_crashes(&ShimClient::new(&victim.url).unwrap(), &load, &used).await;
    eprintln!(
        "{backend:?}: {operations} operations, {} codes used, a shim killed with SIGKILL and restarted {cycles} times",
        used.len()
    );
}

/// Worker `w` of the crash-safety load until told to stop: regenerates and
/// verifies on the victim (even `w`) or the survivor; how many operations
/// it finished.
async fn work(w: usize, load: Arc<Load>) -> usize {
    let mut n = w;
    let mut done = 0usize;
    while !load.stop.load(std::sync::atomic::Ordering::Relaxed) {
        let client = if w.is_multiple_of(2) {
            load.cv.read().unwrap().clone()
        } else {
            load.cs.clone()
        };
        n = n.wrapping_mul(7).wrapping_add(3);
        let subject = &load.subjects[n % load.subjects.len()];
        let token = load.idp.token(Alg::Hs256, subject);
        let finished = match n % 10 {
            // Regenerate and activate.
            0 => regenerate(&load, &client, subject, &token).await,
            _ => verify_known(&load, &client, subject, &token, n).await,
        };
        match finished {
            Some(true) => done += 1,
            Some(false) => {}
            None => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    done
}

/// Regenerate `subject`'s set and activate it, remembering its codes once
/// activated: `None` when the shim could not be reached, `Some(false)` when
/// the issue was refused.
async fn regenerate(load: &Load, client: &ShimClient, subject: &str, token: &str) -> Option<bool> {
    let r = client.issue(TENANT, subject, token).await.ok()?;
    if r.status != StatusCode::CREATED {
        return Some(false);
    }
    let fresh = codes(&r);
    let token = load.idp.token(Alg::Hs256, subject);
    if let Ok(a) = client.activate(TENANT, subject, &token, &fresh[0]).await
        && a.json["result"] == "accepted"
    {
        load.known.lock().await.insert(subject.to_owned(), fresh);
    }
    Some(true)
}

/// Verify one of `subject`'s known codes, recording it as used once
/// accepted: `None` when the shim could not be reached.
async fn verify_known(
    load: &Load,
    client: &ShimClient,
    subject: &str,
    token: &str,
    n: usize,
) -> Option<bool> {
    let code = {
        let k = load.known.lock().await;
        let c = &k[subject];
        c[1 + n % (c.len() - 1)].clone()
    };
    let r = client.verify(TENANT, subject, token, &code).await.ok()?;
    if r.json["result"] == "accepted" {
        assert!(
            load.used.lock().await.insert((subject.to_owned(), code)),
            "a code was accepted twice"
        );
    }
    Some(true)
}

/// After the crashes, through the restarted victim `cr` and the survivor:
/// every credential decodes and no code reported used works again.
async fn nothing_lost_after_crashes(
    cr: &ShimClient,
    load: &Load,
    used: &BTreeSet<(String, String)>,
) {
    let (idp, cs) = (&load.idp, &load.cs);
    // Every credential decodes and is consistent.
    for s in &load.subjects {
        let r = cr
            .status(TENANT, s, &idp.token(Alg::Hs256, s))
            .await
            .unwrap();
        assert_eq!(r.status, StatusCode::OK, "{s}: {}", r.text);
        assert!(r.json["active"].is_object(), "{s} has an active set");
    }
    // No code reported used is usable again, on either instance.
    for (i, (subject, code)) in used.iter().enumerate() {
        let client = if i % 2 == 0 { cr } else { cs };
        let r = client
            .verify(TENANT, subject, &idp.token(Alg::Hs256, subject), code)
            .await
            .unwrap();
        assert_ne!(
            r.json["result"], "accepted",
            "{subject}: a used code worked again"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_under_load_loses_nothing_on_sqlite() {
    crash_safety(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_under_load_loses_nothing_on_postgres() {
    crash_safety(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_finishes_gracefully() {
    let idp = TestIdp::start().await.unwrap();
    let db = TestDb::new(Backend::Sqlite).await.unwrap();
    let mut shim = ShimProcess::start(db.dir.path(), "term", &config(&db, &idp, ""))
        .await
        .unwrap();
    let status = shim.terminate().await.unwrap();
    assert!(status.success(), "exit status {status}: {}", shim.log());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_component_with_another_sha256_is_refused_at_start() {
    let idp = TestIdp::start().await.unwrap();
    let db = TestDb::new(Backend::Sqlite).await.unwrap();
    let pin = format!("component_sha256 = \"{}\"", "00".repeat(32));
    let toml = config_with(&db, &idp, "", &pin);
    let err = ShimProcess::start(db.dir.path(), "pinned", &toml)
        .await
        .err();
    let message = err.map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains("does not match"), "{message}");
}
