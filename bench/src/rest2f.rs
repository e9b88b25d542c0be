//! `backup-codes-bench rest2f`: the latency of one verify through the REST
//! second factor (`POST /rest2f/{tenant}/verify`, HTTP Basic, as
//! LemonLDAP::NG calls it) against the JSON API (`POST .../codes/verify`,
//! a fresh bearer token per request), over loopback against one shim process,
//! one request at a time, the two interleaved (alternating which goes first)
//! so both see the same machine. The same argon2 evaluation dominates both;
//! the difference is what the REST path adds.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use backup_codes_harness::shim::ShimProcess;
use base64::Engine as _;
use clap::Args;
use serde_json::{Value, json};
use sha2::Digest as _;

use crate::BoxResult;
use crate::report::machine_line;
use crate::stats::{load_average, ms, quantile};

/// Options of `rest2f`.
#[derive(Debug, Args)]
pub struct Rest2fArgs {
    /// The shim binary [default: `backup-codes-shim` next to this executable].
    #[arg(long)]
    shim: Option<PathBuf>,
    /// Verifies per path.
    #[arg(long, default_value_t = 200)]
    samples: usize,
    /// Smoke run (few samples, cheap argon2): numbers are not meaningful.
    #[arg(long)]
    quick: bool,
}

const TENANT: &str = "bench";
const SUBJECT: &str = "dwho";

/// Run the comparison and print a Markdown section.
pub fn run(args: &Rest2fArgs, out: &mut impl Write) -> BoxResult<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run_async(args, out))
}

async fn run_async(args: &Rest2fArgs, out: &mut impl Write) -> BoxResult<()> {
    let dir = tempfile::tempdir()?;
    let api_secret = crate::load::random_hex(32);
    let rest2f_secret = crate::load::random_hex(24);
    let (memory, iterations) = if args.quick { (1024, 1) } else { (19_456, 2) };
    let config = format!(
        r#"database_url = "sqlite://{db}"
log_filter = "warn"

[plugin]
cache_dir = {cache:?}

[limits]
per_ip_per_minute = 1000000000
per_subject_per_minute = 1000000000

[tenants.{TENANT}]
issuer = "backup-codes-bench"
audience = "backup-codes"
algorithms = ["HS256"]
hs256_secret = "{api_secret}"

[tenants.{TENANT}.rest2f]
clients = [{{ id = "idp", secret_sha256 = "{hash}" }}]

[tenants.{TENANT}.policy]
count = 64
require_activation = false
free_failures = 100
max_failures = 100
hash_memory_kib = {memory}
hash_iterations = {iterations}
"#,
        db = dir.path().join("bench.db").display(),
        cache = dir.path().join("cache").display().to_string(),
        hash = hex::encode(sha2::Sha256::digest(rest2f_secret.as_bytes())),
    );
    let bin = crate::load::shim_binary(args.shim.as_deref())?;
    let shim = ShimProcess::start_binary(&bin, dir.path(), "shim", &config).await?;
    let http = backup_codes_shim::http_client().build()?;
    let key = crate::load::TokenKey {
        issuer: "backup-codes-bench".into(),
        audience: "backup-codes".into(),
        secret: api_secret,
    };
    let codes_url = format!("{}/v1/tenants/{TENANT}/subjects/{SUBJECT}/codes", shim.url);
    let rest_url = format!("{}/rest2f/{TENANT}/verify", shim.url);
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("idp:{rest2f_secret}"))
    );
    let issue = || async {
        let body: Value = http
            .post(&codes_url)
            .bearer_auth(crate::load::token(&key, SUBJECT)?)
            .send()
            .await?
            .json()
            .await?;
        let codes: Vec<String> = body["codes"]
            .as_array()
            .ok_or("no codes")?
            .iter()
            .filter_map(|c| c["code"].as_str().map(str::to_owned))
            .collect();
        BoxResult::Ok(codes)
    };
    let mut codes = issue().await?;
    // A well-formed code of no set of this subject: rejected, one argon2 run.
    let wrong = {
        let other: Value = http
            .post(format!(
                "{}/v1/tenants/{TENANT}/subjects/other/codes",
                shim.url
            ))
            .bearer_auth(crate::load::token(&key, "other")?)
            .send()
            .await?
            .json()
            .await?;
        other["codes"][0]["code"]
            .as_str()
            .ok_or_else(|| format!("no code for another subject: {other}"))?
            .to_owned()
    };
    let samples = if args.quick { 10 } else { args.samples };
    let (mut json_times, mut rest_times) = (Vec::new(), Vec::new());
    for round in 0..samples {
        // Every 40 attempts a right code resets the failure count (untimed).
        if round % 20 == 19 {
            if codes.is_empty() {
                codes = issue().await?;
            }
            let code = codes.pop().ok_or("no code left")?;
            let r = http
                .post(&rest_url)
                .header(reqwest::header::AUTHORIZATION, &basic)
                .json(&json!({"user": SUBJECT, "code": code}))
                .send()
                .await?;
            let v: Value = r.json().await?;
            if v["result"] != json!(true) {
                return Err(format!("a right code was refused: {v}").into());
            }
        }
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for which in order {
            let started = Instant::now();
            let answer: Value = if which == 0 {
                http.post(format!("{codes_url}/verify"))
                    .bearer_auth(crate::load::token(&key, SUBJECT)?)
                    .json(&json!({"code": wrong}))
                    .send()
                    .await?
                    .json()
                    .await?
            } else {
                http.post(&rest_url)
                    .header(reqwest::header::AUTHORIZATION, &basic)
                    .json(&json!({"user": SUBJECT, "code": wrong}))
                    .send()
                    .await?
                    .json()
                    .await?
            };
            let took = started.elapsed().as_secs_f64();
            let refused = if which == 0 {
                answer["result"] == "rejected"
            } else {
                answer["result"] == json!(false)
            };
            if !refused {
                return Err(format!("unexpected answer: {answer}").into());
            }
            if which == 0 {
                json_times.push(took);
            } else {
                rest_times.push(took);
            }
        }
    }
    json_times.sort_by(f64::total_cmp);
    rest_times.sort_by(f64::total_cmp);
    let (j50, j99) = (quantile(&json_times, 0.5), quantile(&json_times, 0.99));
    let (r50, r99) = (quantile(&rest_times, 0.5), quantile(&rest_times, 0.99));
    writeln!(out, "## REST second factor vs JSON API (verify latency)\n")?;
    writeln!(out, "{}", machine_line())?;
    writeln!(
        out,
        "- {samples} verifies per path, one at a time, interleaved; argon2id m={memory} KiB t={iterations}; load average {}\n",
        load_average()
    )?;
    writeln!(out, "| path | p50 | p99 |\n|---|---|---|")?;
    writeln!(
        out,
        "| JSON API `POST .../codes/verify` (bearer JWT) | {} | {} |",
        ms(j50),
        ms(j99)
    )?;
    writeln!(
        out,
        "| REST second factor `POST /rest2f/.../verify` (Basic) | {} | {} |",
        ms(r50),
        ms(r99)
    )?;
    writeln!(
        out,
        "\nREST − JSON at p50: {} ({:.2}x)",
        ms(r50 - j50),
        r50 / j50
    )?;
    drop(shim);
    Ok(())
}
