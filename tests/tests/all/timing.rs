//! Timing side channels, measured statistically: samples of each case are taken
//! interleaved in random order in one run and their medians compared. A verify
//! costs one argon2 evaluation whichever code matched, whether one matched, and
//! whether the subject has codes at all (a decoy credential stands in).
//!
//! These compare distributions measured side by side; they never assert a wall
//! time. Each round measures every case once, back to back in a random order,
//! and the test compares the median over rounds of the per-round ratio, so load
//! that comes and goes on a shared machine touches both sides of a ratio alike.
//! The two tests never run at once (they would be each other's load). The
//! bound (30%) is below the smallest leak that matters: one argon2 evaluation
//! more or less for one case makes the ratio 2 or 0.5, a spread of 50% or more.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use backup_codes_harness::client::{ShimClient, codes};
use backup_codes_harness::db::{Backend, TestDb};
use backup_codes_harness::idp::{Alg, TestIdp, random_id};
use backup_codes_harness::shim::{InProcess, test_config};
use backup_codes_shim::config::PolicyOverrides;
use backup_codes_shim::plugin::{Plugin, PluginConfig};
use secrecy::{ExposeSecret, SecretString};

/// Held by each test for its whole run: the two must not load each other.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The largest spread allowed between two cases (see the header).
const BOUND: f64 = 0.30;

/// A random order of `0..cases` (random source: the OS).
fn shuffled(cases: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..cases).collect();
    for i in (1..order.len()).rev() {
        let r = u64::from_str_radix(&random_id()[..8], 16).unwrap() as usize;
        order.swap(i, r % (i + 1));
    }
    order
}

/// Samples taken in rounds: `rounds[r][case]` is that case's time in round r.
struct Rounds(Vec<Vec<Duration>>);

impl Rounds {
    /// Median over rounds of `time(a) / time(b)`.
    fn median_ratio(&self, a: usize, b: usize) -> f64 {
        let mut ratios: Vec<f64> = self
            .0
            .iter()
            .map(|round| round[a].as_secs_f64() / round[b].as_secs_f64())
            .collect();
        ratios.sort_by(f64::total_cmp);
        ratios[ratios.len() / 2]
    }

    /// How far apart `a` and `b` are: 0 for equal, 0.5 for one twice the other.
    fn spread(&self, a: usize, b: usize) -> f64 {
        let r = self.median_ratio(a, b);
        1.0 - r.min(1.0 / r)
    }

    /// Median time of one case, for the log.
    fn median(&self, case: usize) -> Duration {
        let mut v: Vec<Duration> = self.0.iter().map(|round| round[case]).collect();
        v.sort();
        v[v.len() / 2]
    }
}

#[test]
fn which_code_matched_does_not_show_in_verify_time() {
    let _alone = ONE_AT_A_TIME.blocking_lock();
    let plugin = Plugin::embedded(PluginConfig::default()).unwrap();
    let mut policy = plugin.default_policy().unwrap();
    policy.count = 64;
    policy.require_activation = false;
    policy.free_failures = 100;
    let issued = plugin.issue(None, &policy, None).unwrap();
    let other = plugin.issue(None, &policy, None).unwrap();
    let cases = [
        ("code #1", issued.codes[0].code.expose_secret().clone()),
        ("code #64", issued.codes[63].code.expose_secret().clone()),
        ("no match", other.codes[0].code.expose_secret().clone()),
    ];
    let mut rounds = Vec::new();
    for _ in 0..25 {
        let mut round = vec![Duration::ZERO; cases.len()];
        for case in shuffled(cases.len()) {
            let code = SecretString::from(cases[case].1.clone());
            let started = Instant::now();
            // Always against the original credential: the plugin is pure.
            plugin
                .verify(&issued.credential, None, &code, &policy, None)
                .unwrap();
            round[case] = started.elapsed();
        }
        rounds.push(round);
    }
    let rounds = Rounds(rounds);
    eprintln!(
        "verify medians: {} {:?}, {} {:?}, {} {:?}",
        cases[0].0,
        rounds.median(0),
        cases[1].0,
        rounds.median(1),
        cases[2].0,
        rounds.median(2)
    );
    for (i, j) in [(0, 1), (0, 2), (1, 2)] {
        let s = rounds.spread(i, j);
        eprintln!("{} vs {}: spread {:.1}%", cases[i].0, cases[j].0, s * 100.0);
        assert!(
            s < BOUND,
            "{} vs {}: per-round ratios differ by {:.1}% (median)",
            cases[i].0,
            cases[j].0,
            s * 100.0
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn whether_a_subject_has_codes_does_not_show_in_verify_time() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let idp = TestIdp::start().await.unwrap();
    let db = TestDb::new(Backend::Sqlite).await.unwrap();
    let mut tenant = idp.tenant(Alg::Hs256);
    // Real hashing cost (the default policy), no lockout within the sample.
    tenant.policy = PolicyOverrides {
        free_failures: Some(100),
        ..PolicyOverrides::default()
    };
    let config = test_config(&db.url, BTreeMap::from([("acme".to_owned(), tenant)]));
    let shim = InProcess::start(&config).await.unwrap();
    let client = ShimClient::new(&shim.url).unwrap();
    let enrolled = "has-codes";
    let token = idp.token(Alg::Hs256, enrolled);
    let issued = codes(&client.issue("acme", enrolled, &token).await.unwrap());
    let token = idp.token(Alg::Hs256, enrolled);
    client
        .activate("acme", enrolled, &token, &issued[0])
        .await
        .unwrap();
    let foreign = codes(
        &client
            .issue("acme", "donor", &idp.token(Alg::Hs256, "donor"))
            .await
            .unwrap(),
    );

    let subjects = [enrolled, "no-codes"];
    let mut rounds = Vec::new();
    for n in 0..30 {
        let mut round = vec![Duration::ZERO; subjects.len()];
        for case in shuffled(subjects.len()) {
            let subject = subjects[case];
            let token = idp.token(Alg::Hs256, subject);
            let code = &foreign[1 + n % 9];
            let started = Instant::now();
            let r = client.verify("acme", subject, &token, code).await.unwrap();
            round[case] = started.elapsed();
            assert!(
                r.status.as_u16() == 200 || r.status.as_u16() == 404,
                "{}",
                r.text
            );
        }
        rounds.push(round);
    }
    let rounds = Rounds(rounds);
    let s = rounds.spread(0, 1);
    eprintln!(
        "verify over HTTP: enrolled (wrong code) {:?}, not enrolled {:?}, spread {:.1}%",
        rounds.median(0),
        rounds.median(1),
        s * 100.0
    );
    assert!(
        s < BOUND,
        "enrolled vs not enrolled medians differ by {:.1}%",
        s * 100.0
    );
}
