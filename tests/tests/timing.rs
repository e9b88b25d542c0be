//! Timing side channels, measured statistically: samples of each case are taken
//! interleaved in random order in one run and their medians compared. A verify
//! costs one argon2 evaluation whichever code matched, whether one matched, and
//! whether the subject has codes at all (a decoy credential stands in).
//!
//! These compare distributions measured side by side; they never assert a wall
//! time. The bound (a fraction of the median) is far below the difference a
//! skipped or repeated argon2 evaluation would make (100% or more).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use backup_codes_harness::client::{ShimClient, codes};
use backup_codes_harness::db::{Backend, TestDb};
use backup_codes_harness::idp::{Alg, TestIdp, random_id};
use backup_codes_harness::shim::{InProcess, test_config};
use backup_codes_shim::config::PolicyOverrides;
use backup_codes_shim::plugin::{Plugin, PluginConfig};
use secrecy::{ExposeSecret, SecretString};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Relative difference of two medians.
fn spread(a: Duration, b: Duration) -> f64 {
    let (a, b) = (a.as_secs_f64(), b.as_secs_f64());
    (a - b).abs() / a.max(b)
}

/// A shuffled order of `cases` repeated `rounds` times (random source: the OS).
fn schedule(cases: usize, rounds: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..rounds).flat_map(|_| 0..cases).collect();
    for i in (1..order.len()).rev() {
        let r = u64::from_str_radix(&random_id()[..8], 16).unwrap() as usize;
        order.swap(i, r % (i + 1));
    }
    order
}

#[test]
fn which_code_matched_does_not_show_in_verify_time() {
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
    let mut samples: BTreeMap<usize, Vec<Duration>> = BTreeMap::new();
    for case in schedule(cases.len(), 25) {
        let code = SecretString::from(cases[case].1.clone());
        let started = Instant::now();
        // Always against the original credential: the plugin is pure.
        plugin
            .verify(&issued.credential, &code, &policy, None)
            .unwrap();
        samples.entry(case).or_default().push(started.elapsed());
    }
    let medians: Vec<Duration> = samples.into_values().map(median).collect();
    eprintln!(
        "verify medians: {} {:?}, {} {:?}, {} {:?}",
        cases[0].0, medians[0], cases[1].0, medians[1], cases[2].0, medians[2]
    );
    for (i, j) in [(0, 1), (0, 2), (1, 2)] {
        let s = spread(medians[i], medians[j]);
        assert!(
            s < 0.15,
            "{} vs {}: medians differ by {:.1}%",
            cases[i].0,
            cases[j].0,
            s * 100.0
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn whether_a_subject_has_codes_does_not_show_in_verify_time() {
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
    let mut samples: BTreeMap<usize, Vec<Duration>> = BTreeMap::new();
    for (n, case) in schedule(2, 30).into_iter().enumerate() {
        let subject = subjects[case];
        let token = idp.token(Alg::Hs256, subject);
        let code = &foreign[1 + n % 9];
        let started = Instant::now();
        let r = client.verify("acme", subject, &token, code).await.unwrap();
        samples.entry(case).or_default().push(started.elapsed());
        assert!(
            r.status.as_u16() == 200 || r.status.as_u16() == 404,
            "{}",
            r.text
        );
    }
    let medians: Vec<Duration> = samples.into_values().map(median).collect();
    let s = spread(medians[0], medians[1]);
    eprintln!(
        "verify over HTTP: enrolled (wrong code) {:?}, not enrolled {:?}, spread {:.1}%",
        medians[0],
        medians[1],
        s * 100.0
    );
    assert!(
        s < 0.25,
        "enrolled vs not enrolled medians differ by {:.1}%",
        s * 100.0
    );
}
