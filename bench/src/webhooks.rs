//! `backup-codes-bench webhooks` (issue 16): what webhooks cost.
//!
//! 1. Delivery latency: from the commit of a change (the outbox row's
//!    `created_ms`, written in the change's transaction) to the receiver's
//!    arrival time, for events of sign-ins made one at a time, healthy
//!    receiver on loopback.
//! 2. Login latency with and without a bad receiver: three shim processes of
//!    the same binary side by side — no endpoint, an endpoint whose receiver
//!    answers after 5 s, an endpoint whose receiver answers 500 — and one
//!    verify at a time to each, interleaved (rotating which goes first), so
//!    all three see the same machine. Each verify writes an event, so the
//!    bad receivers' workers are busy the whole time.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use backup_codes_harness::receiver::{Mode, Receiver, new_secret};
use backup_codes_harness::shim::ShimProcess;
use backup_codes_shim::store::{OutboxFilter, Store};
use clap::Args;
use serde_json::{Value, json};

use crate::BoxResult;
use crate::load::{TokenKey, random_hex, shim_binary, token};
use crate::report::machine_line;
use crate::stats::{load_average, ms, quantile};

/// Options of `webhooks`.
#[derive(Debug, Args)]
pub struct WebhooksArgs {
    /// The shim binary [default: `backup-codes-shim` next to this executable].
    #[arg(long)]
    shim: Option<PathBuf>,
    /// Sign-ins for the delivery latency.
    #[arg(long, default_value_t = 200)]
    deliveries: usize,
    /// Verifies per shim for the login latency.
    #[arg(long, default_value_t = 200)]
    samples: usize,
    /// Smoke run (few samples, cheap argon2): numbers are not meaningful.
    #[arg(long)]
    quick: bool,
}

const TENANT: &str = "bench";
/// Subjects signed in round-robin: events of different subjects go out in
/// parallel, so a bad receiver keeps every delivery slot busy.
const SUBJECTS: usize = 8;

/// Run both measurements and print a Markdown section.
pub fn run(args: &WebhooksArgs, out: &mut impl Write) -> BoxResult<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run_async(args, out))
}

struct Shim {
    process: ShimProcess,
    key: TokenKey,
    db: String,
    codes: BTreeMap<String, Vec<String>>,
    wrong: String,
}

async fn start(
    bin: &std::path::Path,
    dir: &std::path::Path,
    name: &str,
    endpoint: Option<(&str, &str)>,
    memory: u32,
    iterations: u32,
) -> BoxResult<Shim> {
    let secret = random_hex(32);
    let db = format!("sqlite://{}", dir.join(format!("{name}.db")).display());
    let hook = endpoint.map_or(String::new(), |(url, s)| {
        format!("[tenants.{TENANT}.webhooks.endpoints.idp]\nurl = {url:?}\nsecret = {s:?}\n")
    });
    let config = format!(
        r#"database_url = "{db}"
log_filter = "error"

[plugin]
cache_dir = {cache:?}

[limits]
per_ip_per_minute = 1000000000
per_subject_per_minute = 1000000000

[tenants.{TENANT}]
issuer = "backup-codes-bench"
audience = "backup-codes"
algorithms = ["HS256"]
hs256_secret = "{secret}"

[tenants.{TENANT}.policy]
count = 64
require_activation = false
free_failures = 100
max_failures = 100
hash_memory_kib = {memory}
hash_iterations = {iterations}

{hook}"#,
        cache = dir.join("cache").display().to_string(),
    );
    let process = ShimProcess::start_binary(bin, dir, name, &config).await?;
    Ok(Shim {
        process,
        key: TokenKey {
            issuer: "backup-codes-bench".into(),
            audience: "backup-codes".into(),
            secret,
        },
        db,
        codes: BTreeMap::new(),
        wrong: String::new(),
    })
}

impl Shim {
    async fn issue(&self, http: &reqwest::Client, subject: &str) -> BoxResult<Vec<String>> {
        let body: Value = http
            .post(format!(
                "{}/v1/tenants/{TENANT}/subjects/{subject}/codes",
                self.process.url
            ))
            .bearer_auth(token(&self.key, subject)?)
            .send()
            .await?
            .json()
            .await?;
        Ok(body["codes"]
            .as_array()
            .ok_or_else(|| format!("no codes: {body}"))?
            .iter()
            .filter_map(|c| c["code"].as_str().map(str::to_owned))
            .collect())
    }

    /// Enrol the subjects, and take a well-formed code of no set of theirs.
    async fn prepare(&mut self, http: &reqwest::Client) -> BoxResult<()> {
        for s in 0..SUBJECTS {
            let subject = format!("user{s}");
            let codes = self.issue(http, &subject).await?;
            self.codes.insert(subject, codes);
        }
        self.wrong = self
            .issue(http, "other")
            .await?
            .pop()
            .ok_or("no code for the other subject")?;
        Ok(())
    }

    /// One verify for `subject`, `right` or with a wrong code; its time.
    async fn verify(
        &mut self,
        http: &reqwest::Client,
        subject: &str,
        right: bool,
    ) -> BoxResult<f64> {
        let code = if right {
            if self.codes.get(subject).is_none_or(Vec::is_empty) {
                let fresh = self.issue(http, subject).await?;
                self.codes.insert(subject.to_owned(), fresh);
            }
            self.codes
                .get_mut(subject)
                .and_then(Vec::pop)
                .ok_or("no code left")?
        } else {
            self.wrong.clone()
        };
        let started = Instant::now();
        let answer: Value = http
            .post(format!(
                "{}/v1/tenants/{TENANT}/subjects/{subject}/codes/verify",
                self.process.url
            ))
            .bearer_auth(token(&self.key, subject)?)
            .json(&json!({ "code": code }))
            .send()
            .await?
            .json()
            .await?;
        let took = started.elapsed().as_secs_f64();
        let expected = if right { "accepted" } else { "rejected" };
        if answer["result"] != expected {
            return Err(format!("expected {expected}: {answer}").into());
        }
        Ok(took)
    }
}

async fn run_async(args: &WebhooksArgs, out: &mut impl Write) -> BoxResult<()> {
    let dir = tempfile::tempdir()?;
    let bin = shim_binary(args.shim.as_deref())?;
    let (memory, iterations) = if args.quick { (1024, 1) } else { (19_456, 2) };
    let http = backup_codes_shim::http_client().build()?;

    // 1. Delivery latency, healthy receiver.
    let secret = new_secret();
    let healthy = Receiver::start(&[&secret]).await?;
    let mut shim = start(
        &bin,
        dir.path(),
        "delivery",
        Some((&healthy.url(), &secret)),
        memory,
        iterations,
    )
    .await?;
    shim.prepare(&http).await?;
    let deliveries = if args.quick { 20 } else { args.deliveries };
    for i in 0..deliveries {
        shim.verify(&http, &format!("user{}", i % SUBJECTS), true)
            .await?;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let store = Store::connect(&shim.db, 1).await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    let rows = loop {
        let rows = store
            .list_outbox(&OutboxFilter {
                limit: 1_000_000,
                ..OutboxFilter::default()
            })
            .await?;
        if rows.iter().all(|r| r.state == "delivered") {
            break rows;
        }
        if Instant::now() > deadline {
            return Err("deliveries did not finish in 60 s".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    store.close().await;
    let arrived: BTreeMap<String, i64> = healthy
        .deliveries()
        .into_iter()
        .filter(|d| d.answered == 204)
        .map(|d| (d.id, d.arrived_ms))
        .collect();
    let mut latency: Vec<f64> = rows
        .iter()
        .filter_map(|r| {
            let at = arrived.get(&r.event_id)?;
            Some((at - r.created_ms) as f64 / 1000.0)
        })
        .collect();
    latency.sort_by(f64::total_cmp);
    drop(shim);

    // 2. Login latency: no endpoint, a slow receiver, a failing receiver.
    let slow_secret = new_secret();
    let slow = Receiver::start(&[&slow_secret]).await?;
    slow.set(Mode::Slow(Duration::from_secs(5)));
    let failing_secret = new_secret();
    let failing = Receiver::start(&[&failing_secret]).await?;
    failing.set(Mode::Status(500));
    let mut shims = [
        start(&bin, dir.path(), "none", None, memory, iterations).await?,
        start(
            &bin,
            dir.path(),
            "slow",
            Some((&slow.url(), &slow_secret)),
            memory,
            iterations,
        )
        .await?,
        start(
            &bin,
            dir.path(),
            "failing",
            Some((&failing.url(), &failing_secret)),
            memory,
            iterations,
        )
        .await?,
    ];
    for s in &mut shims {
        s.prepare(&http).await?;
    }
    let samples = if args.quick { 12 } else { args.samples };
    let mut times: [Vec<f64>; 3] = Default::default();
    for round in 0..samples {
        let subject = format!("user{}", round % SUBJECTS);
        // Mostly wrong codes (one argon2 evaluation, an event each); every
        // tenth a right one, which resets the failure count before lockout.
        let right = round % 10 == 9;
        for k in 0..3 {
            let which = (round + k) % 3;
            let took = shims[which].verify(&http, &subject, right).await?;
            times[which].push(took);
        }
    }
    for t in &mut times {
        t.sort_by(f64::total_cmp);
    }
    let in_flight = (slow.in_flight(), failing.deliveries().len());
    drop(shims);

    writeln!(
        out,
        "## Webhooks: delivery latency, and logins with a bad receiver\n"
    )?;
    writeln!(out, "{}", machine_line())?;
    writeln!(
        out,
        "- argon2id m={memory} KiB t={iterations}; load average {}\n",
        load_average()
    )?;
    writeln!(
        out,
        "Delivery latency, commit (the outbox row's `created_ms`) to arrival at a healthy receiver on loopback, {} events of {deliveries} sign-ins made one at a time:\n",
        latency.len()
    )?;
    writeln!(
        out,
        "| p50 (ms) | p90 (ms) | p99 (ms) | max (ms) |\n|---|---|---|---|"
    )?;
    writeln!(
        out,
        "| {} | {} | {} | {} |\n",
        ms(quantile(&latency, 0.5)),
        ms(quantile(&latency, 0.9)),
        ms(quantile(&latency, 0.99)),
        ms(latency.last().copied().unwrap_or_default())
    )?;
    writeln!(
        out,
        "Verify latency, three shims side by side, {samples} verifies each, one at a time, interleaved (each writes an event):\n"
    )?;
    writeln!(
        out,
        "| shim | p50 (ms) | p99 (ms) | p50 vs no endpoint |\n|---|---|---|---|"
    )?;
    let base = quantile(&times[0], 0.5);
    for (name, t) in [
        "no endpoint",
        "receiver answers after 5 s",
        "receiver answers 500",
    ]
    .iter()
    .zip(&times)
    {
        let p50 = quantile(t, 0.5);
        writeln!(
            out,
            "| {name} | {} | {} | {:.2}x |",
            ms(p50),
            ms(quantile(t, 0.99)),
            p50 / base
        )?;
    }
    writeln!(
        out,
        "\nAt the end the slow receiver held {} deliveries; the failing one had answered {} attempts.",
        in_flight.0, in_flight.1
    )?;
    Ok(())
}
