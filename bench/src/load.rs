//! `backup-codes-bench load`: HTTP verify load against one shim process on
//! loopback (P4: throughput and p99 against the native bound; P5: peak memory,
//! and queueing or 503 + Retry-After under overload).
//!
//! The tool starts the real `backup-codes-shim serve` with an HS256 tenant on a
//! temporary SQLite database, mints a fresh single-use token per request (as an
//! identity provider does), enrols subjects, then drives `POST .../codes/verify`
//! from a bounded number of clients (closed loop: each client sends its next
//! request when the previous one is answered). Each client owns its subjects, so
//! there are no compare-and-swap conflicts; it sends wrong but well-formed codes
//! (a code of another set), and a right code every `right_every` attempts, which
//! resets the failure count long before the lockout (the tenant allows 100
//! failures). Right and wrong codes cost the same single argon2 evaluation.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use backup_codes_harness::shim::ShimProcess;
use backup_codes_shim::plugin::{HashParams, PluginConfig};
use clap::Args;
use serde_json::{Value, json};

use crate::BoxResult;
use crate::report::{Native, machine_line};
use crate::stats::{load_average, ms, summarize, verdict};

/// P4: throughput at least this fraction of cores / native argon2 time.
const P4_THROUGHPUT: f64 = 0.8;
/// P4: p99 at most this multiple of the native argon2 time.
const P4_P99: f64 = 3.0;
/// P5: fixed allowance for the process, bytes.
const P5_BASE: u64 = 64 << 20;

/// Options of `load`.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// The shim binary [default: `backup-codes-shim` next to this executable].
    #[arg(long)]
    shim: Option<PathBuf>,
    /// Target a running shim at this base URL instead of starting one. Its
    /// tenant must be HS256 with `--hs256-secret`, `require_activation = false`
    /// and `free_failures` above `--right-every`, and its rate limits must allow
    /// the load.
    #[arg(long, requires = "hs256_secret")]
    url: Option<String>,
    /// Tenant id (with `--url`).
    #[arg(long, default_value = "load")]
    tenant: String,
    /// `iss` the tenant expects (with `--url`).
    #[arg(long, default_value = "backup-codes-bench")]
    issuer: String,
    /// `aud` the tenant expects (with `--url`).
    #[arg(long, default_value = "backup-codes")]
    audience: String,
    /// The tenant's HS256 secret (with `--url`).
    #[arg(long)]
    hs256_secret: Option<String>,
    /// PID of the shim at `--url`, to read its memory and CPU time from /proc.
    #[arg(long)]
    pid: Option<u32>,
    /// Client counts (requests in flight) for the throughput runs.
    #[arg(long, value_delimiter = ',', default_value = "1,2,3,4")]
    concurrency: Vec<usize>,
    /// Measured seconds per throughput run (after `--warmup-seconds`).
    #[arg(long, default_value_t = 20.0)]
    seconds: f64,
    /// Unmeasured seconds at the start of each run.
    #[arg(long, default_value_t = 2.0)]
    warmup_seconds: f64,
    /// `plugin.max_concurrent` of the shim [default: the shim's default].
    #[arg(long)]
    max_concurrent: Option<u32>,
    /// `plugin.queue_timeout_ms` of the shim.
    #[arg(long, default_value_t = 1000)]
    queue_timeout_ms: u64,
    /// Clients in the overload run (0: skip it).
    #[arg(long, default_value_t = 64)]
    overload_concurrency: usize,
    /// Seconds of the overload run.
    #[arg(long, default_value_t = 10.0)]
    overload_seconds: f64,
    /// A right code every this many attempts (must stay below 100 failures).
    #[arg(long, default_value_t = 20)]
    right_every: usize,
    /// Argon2id memory in KiB for the tenant (default: the plugin's default policy).
    #[arg(long)]
    memory_kib: Option<u32>,
    /// Argon2id passes for the tenant (default: the plugin's default policy).
    #[arg(long)]
    iterations: Option<u32>,
    /// Native argon2 evaluations timed before and after the runs (the bound).
    #[arg(long, default_value_t = 20)]
    native_samples: usize,
    /// Compiled-code cache directory given to the shim [default: a temporary one].
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// A component file for the shim to load instead of its embedded one
    /// (`plugin.component_path`), e.g. a candidate build of the plugin.
    #[arg(long)]
    component: Option<PathBuf>,
    /// Smoke run (short runs, cheap argon2): numbers are not meaningful.
    #[arg(long)]
    quick: bool,
}

/// The shim under load: a process this tool started (stopped on drop), or one
/// given with `--url`.
struct Shim {
    url: String,
    /// The process this tool started (killed on drop, before its directory goes).
    _process: Option<ShimProcess>,
    pid: Option<u32>,
    _dir: Option<tempfile::TempDir>,
    tenant: String,
    key: TokenKey,
    max_concurrent: u32,
}

/// What tokens for the tenant are signed with.
#[derive(Debug, Clone)]
pub(crate) struct TokenKey {
    pub(crate) issuer: String,
    pub(crate) audience: String,
    pub(crate) secret: String,
}

/// `VmHWM` and `VmRSS` of a process, bytes (0 when unknown).
fn memory_of(pid: Option<u32>) -> (u64, u64) {
    let Some(pid) = pid else { return (0, 0) };
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(0, |kib| kib * 1024)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// User + system CPU seconds a process has used (0 when unknown).
fn cpu_of(pid: Option<u32>) -> f64 {
    let Some(pid) = pid else { return 0.0 };
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may contain spaces) start at ") ".
    let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 here.
    (ticks(11) + ticks(12)) / 100.0
}

fn mib(bytes: u64) -> String {
    if bytes == 0 {
        return "n/a".into();
    }
    #[allow(clippy::cast_precision_loss)]
    let m = bytes as f64 / f64::from(1 << 20);
    format!("{m:.1}")
}

pub(crate) fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    // A failing OS random source would make every token fail loudly anyway.
    let _ = getrandom::fill(&mut b);
    hex::encode(b)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A fresh HS256 token for `subject`, valid two minutes, single-use `jti`.
pub(crate) fn token(shim: &TokenKey, subject: &str) -> BoxResult<String> {
    let now = now();
    let claims = json!({
        "iss": shim.issuer, "aud": shim.audience, "sub": subject,
        "iat": now, "nbf": now, "exp": now + 120, "jti": random_hex(16),
    });
    Ok(jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(shim.secret.as_bytes()),
    )?)
}

pub(crate) fn shim_binary(explicit: Option<&Path>) -> BoxResult<PathBuf> {
    if let Some(p) = explicit {
        // The shim runs in its own directory: a relative path must not depend on it.
        return std::fs::canonicalize(p).map_err(|e| format!("--shim {}: {e}", p.display()).into());
    }
    let exe = std::env::current_exe()?;
    let bin = exe
        .parent()
        .ok_or("cannot locate the target directory")?
        .join("backup-codes-shim");
    if !bin.exists() {
        return Err(format!(
            "{} not found: build it with `cargo build --release -p backup-codes-shim` or pass --shim",
            bin.display()
        )
        .into());
    }
    Ok(bin)
}

/// The tenant's argon2 parameters (overrides of the plugin's default policy).
fn hash_params(args: &LoadArgs) -> HashParams {
    HashParams {
        memory_kib: args
            .memory_kib
            .unwrap_or(if args.quick { 1024 } else { 19_456 }),
        iterations: args.iterations.unwrap_or(if args.quick { 1 } else { 2 }),
        parallelism: 1,
    }
}

async fn start_shim(args: &LoadArgs, hash: HashParams) -> BoxResult<Shim> {
    let max_concurrent = args
        .max_concurrent
        .unwrap_or(PluginConfig::default().max_concurrent);
    if let Some(url) = &args.url {
        let shim = Shim {
            url: url.trim_end_matches('/').to_owned(),
            _process: None,
            pid: args.pid,
            _dir: None,
            tenant: args.tenant.clone(),
            key: TokenKey {
                issuer: args.issuer.clone(),
                audience: args.audience.clone(),
                secret: args.hs256_secret.clone().unwrap_or_default(),
            },
            max_concurrent,
        };
        wait_ready(&shim).await?;
        return Ok(shim);
    }
    let dir = tempfile::tempdir()?;
    let secret = random_hex(32);
    let cache = args
        .cache_dir
        .clone()
        .unwrap_or_else(|| dir.path().join("cache"));
    let key = TokenKey {
        issuer: "backup-codes-bench".into(),
        audience: "backup-codes".into(),
        secret,
    };
    let tenant = "load";
    let component = match &args.component {
        Some(path) => format!("component_path = {:?}\n", std::fs::canonicalize(path)?),
        None => String::new(),
    };
    let config = format!(
        r#"database_url = "sqlite://{db}"
log_filter = "warn"

[plugin]
max_concurrent = {max_concurrent}
queue_timeout_ms = {queue}
cache_dir = {cache:?}
{component}
[limits]
per_ip_per_minute = 1000000000
per_subject_per_minute = 1000000000

[tenants.{tenant}]
issuer = "{issuer}"
audience = "{audience}"
algorithms = ["HS256"]
hs256_secret = "{secret}"

[tenants.{tenant}.policy]
require_activation = false
free_failures = 100
max_failures = 100
hash_memory_kib = {m}
hash_iterations = {t}
"#,
        db = dir.path().join("load.db").display(),
        queue = args.queue_timeout_ms,
        m = hash.memory_kib,
        t = hash.iterations,
        issuer = key.issuer,
        audience = key.audience,
        secret = key.secret,
    );
    let process = ShimProcess::start_binary(
        &shim_binary(args.shim.as_deref())?,
        dir.path(),
        "shim",
        &config,
    )
    .await?;
    Ok(Shim {
        url: process.url.clone(),
        pid: process.pid(),
        _process: Some(process),
        _dir: Some(dir),
        tenant: tenant.to_owned(),
        key,
        max_concurrent,
    })
}

async fn wait_ready(shim: &Shim) -> BoxResult<()> {
    let http = backup_codes_shim::auth::client::builder().build()?;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(r) = http.get(format!("{}/readyz", shim.url)).send().await
            && r.status().is_success()
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err("the shim did not become ready within 120 s".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One enrolled subject and the codes not yet used.
struct Subject {
    id: String,
    codes: Vec<String>,
}

async fn enrol(http: &reqwest::Client, shim: &Shim, id: &str) -> BoxResult<Subject> {
    let r = http
        .post(format!(
            "{}/v1/tenants/{}/subjects/{id}/codes",
            shim.url, shim.tenant
        ))
        .bearer_auth(token(&shim.key, id)?)
        .send()
        .await?;
    let status = r.status();
    let body: Value = r.json().await?;
    if status.as_u16() != 201 {
        return Err(format!("enrolling {id}: {status} {body}").into());
    }
    let codes = body["codes"]
        .as_array()
        .ok_or("no codes in the issue response")?
        .iter()
        .filter_map(|c| c["code"].as_str().map(str::to_owned))
        .collect::<Vec<_>>();
    Ok(Subject {
        id: id.to_owned(),
        codes,
    })
}

/// What the clients of one run saw.
#[derive(Debug, Default)]
struct Tally {
    /// Latencies of answered verifies (200), seconds.
    latencies: Vec<f64>,
    /// Responses by status code.
    statuses: BTreeMap<u16, u64>,
    /// 503 responses that carried `Retry-After`.
    retry_after: u64,
    /// Transport errors and unexpected outcomes.
    errors: Vec<String>,
    /// Clients that ran out of right codes (setup too small).
    starved: u64,
}

impl Tally {
    fn merge(&mut self, other: Self) {
        self.latencies.extend(other.latencies);
        for (k, v) in other.statuses {
            *self.statuses.entry(k).or_default() += v;
        }
        self.retry_after += other.retry_after;
        self.errors.extend(other.errors);
        self.starved += other.starved;
    }

    fn non_200(&self) -> u64 {
        self.statuses
            .iter()
            .filter(|(k, _)| **k != 200)
            .map(|(_, v)| *v)
            .sum()
    }
}

struct Client {
    subjects: Vec<Subject>,
    wrong: String,
    right_every: usize,
}

/// One client: closed loop until `stop`; latencies recorded once `record` is set.
async fn client(
    http: reqwest::Client,
    url: String,
    tenant: String,
    key: TokenKey,
    mut me: Client,
    stop: Arc<AtomicBool>,
    record: Arc<AtomicBool>,
) -> Tally {
    let mut tally = Tally::default();
    let mut attempt = 0usize;
    while !stop.load(Ordering::Relaxed) {
        attempt += 1;
        let right = attempt.is_multiple_of(me.right_every);
        // Drop subjects whose codes are used up.
        while me.subjects.first().is_some_and(|s| s.codes.is_empty()) {
            me.subjects.remove(0);
        }
        let Some(subject) = me.subjects.first_mut() else {
            tally.starved += 1;
            break;
        };
        let code = if right {
            subject.codes.pop().unwrap_or_default()
        } else {
            me.wrong.clone()
        };
        let Ok(bearer) = token(&key, &subject.id) else {
            tally.errors.push("token".into());
            continue;
        };
        let started = Instant::now();
        let sent = http
            .post(format!(
                "{url}/v1/tenants/{tenant}/subjects/{}/codes/verify",
                subject.id
            ))
            .bearer_auth(bearer)
            .json(&json!({ "code": code }))
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            Err(e) => {
                tally.errors.push(format!("transport: {e}"));
                continue;
            }
        };
        let status = response.status().as_u16();
        let retry = response.headers().contains_key("retry-after");
        let body = response.json::<Value>().await;
        let elapsed = started.elapsed().as_secs_f64();
        let recording = record.load(Ordering::Relaxed);
        if recording {
            *tally.statuses.entry(status).or_default() += 1;
        }
        match (status, body) {
            (200, Ok(v)) => {
                let expected = if right { "accepted" } else { "rejected" };
                if v["result"] != expected {
                    tally.errors.push(format!("expected {expected}, got {v}"));
                } else if recording {
                    tally.latencies.push(elapsed);
                }
            }
            (503, _) => {
                if recording && retry {
                    tally.retry_after += 1;
                }
                if right {
                    // The code was not used: try it again later.
                    subject.codes.push(code);
                }
            }
            (s, b) => {
                if recording {
                    tally.errors.push(format!("status {s}: {b:?}"));
                }
            }
        }
    }
    tally
}

/// Result of one run.
struct RunResult {
    clients: usize,
    tally: Tally,
    seconds: f64,
    shim_cpu: f64,
    rss_peak_sampled: u64,
}

impl RunResult {
    fn answered(&self) -> usize {
        self.tally.latencies.len()
    }

    #[allow(clippy::cast_precision_loss)]
    fn throughput(&self) -> f64 {
        self.answered() as f64 / self.seconds
    }
}

async fn run_clients(
    shim: &Shim,
    clients: Vec<Client>,
    warmup: f64,
    seconds: f64,
) -> BoxResult<RunResult> {
    let n = clients.len();
    let stop = Arc::new(AtomicBool::new(false));
    let record = Arc::new(AtomicBool::new(false));
    let http = backup_codes_shim::auth::client::builder()
        .pool_max_idle_per_host(n.max(1))
        .timeout(Duration::from_secs(60))
        .build()?;
    let mut tasks = Vec::new();
    for c in clients {
        tasks.push(tokio::spawn(client(
            http.clone(),
            shim.url.clone(),
            shim.tenant.clone(),
            shim.key.clone(),
            c,
            Arc::clone(&stop),
            Arc::clone(&record),
        )));
    }
    tokio::time::sleep(Duration::from_secs_f64(warmup)).await;
    record.store(true, Ordering::Relaxed);
    let cpu0 = cpu_of(shim.pid);
    let started = Instant::now();
    let peak = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (peak, stop, pid) = (Arc::clone(&peak), Arc::clone(&stop), shim.pid);
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(memory_of(pid).1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    record.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    let shim_cpu = cpu_of(shim.pid) - cpu0;
    stop.store(true, Ordering::Relaxed);
    let mut tally = Tally::default();
    for t in tasks {
        tally.merge(t.await?);
    }
    let _ = sampler.await;
    Ok(RunResult {
        clients: n,
        tally,
        seconds: elapsed,
        shim_cpu,
        rss_peak_sampled: peak.load(Ordering::Relaxed),
    })
}

/// Enough subjects for `clients` clients over `seconds` at up to `rate` req/s.
async fn prepare_clients(
    http: &reqwest::Client,
    shim: &Shim,
    tag: &str,
    clients: usize,
    attempts_per_client: usize,
    right_every: usize,
    wrong: &str,
) -> BoxResult<Vec<Client>> {
    let rights = attempts_per_client / right_every.max(1) + 1;
    let per_client = rights.div_ceil(10).max(1);
    let mut out = Vec::new();
    for c in 0..clients {
        let mut subjects = Vec::new();
        for s in 0..per_client {
            subjects.push(enrol(http, shim, &format!("{tag}-c{c}-s{s}")).await?);
        }
        out.push(Client {
            subjects,
            wrong: wrong.to_owned(),
            right_every: right_every.max(2),
        });
    }
    Ok(out)
}

/// Native argon2 timings on this machine: single evaluations, median seconds.
fn native_median(hash: HashParams, samples: usize) -> BoxResult<f64> {
    let native = Native::new(hash, "0123456789ABCD")?;
    let _ = native.hash()?;
    let mut v = Vec::new();
    for _ in 0..samples.max(1) {
        v.push(native.hash()?.wall);
    }
    Ok(summarize(&v).median)
}

/// Native argon2 on every core at once: evaluations per second.
fn native_parallel_rate(hash: HashParams, cores: usize, seconds: f64) -> BoxResult<f64> {
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let mut threads = Vec::new();
    for _ in 0..cores {
        let (stop, count) = (Arc::clone(&stop), Arc::clone(&count));
        threads.push(std::thread::spawn(move || -> Result<(), String> {
            let native = Native::new(hash, "0123456789ABCD").map_err(|e| e.to_string())?;
            while !stop.load(Ordering::Relaxed) {
                native.hash().map_err(|e| e.to_string())?;
                count.fetch_add(1, Ordering::Relaxed);
            }
            Ok(())
        }));
    }
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(seconds));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().map_err(|_| "native thread panicked")??;
    }
    #[allow(clippy::cast_precision_loss)]
    let rate = count.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    Ok(rate)
}

/// Run the load benchmark and print the Markdown report to `out`.
pub fn run(args: &LoadArgs, out: &mut impl Write) -> BoxResult<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run_async(args, out))
}

async fn run_async(args: &LoadArgs, out: &mut impl Write) -> BoxResult<()> {
    let hash = hash_params(args);
    let (seconds, warmup, overload_seconds) = if args.quick {
        (1.0, 0.3, 1.0)
    } else {
        (args.seconds, args.warmup_seconds, args.overload_seconds)
    };
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    writeln!(out, "# backup-codes-bench load")?;
    writeln!(out)?;
    writeln!(out, "- machine: {}", machine_line())?;
    writeln!(out, "- load average at start: {}", load_average())?;
    if let Some(path) = &args.component {
        writeln!(
            out,
            "- component: {} (SHA-256 {}, from --component)",
            path.display(),
            hex::encode(backup_codes_shim::plugin::sha256(&std::fs::read(path)?))
        )?;
    }
    writeln!(
        out,
        "- argon2id: m={} KiB, t={}, p={}; tenant allows 100 failures; a right code every {} attempts",
        hash.memory_kib, hash.iterations, hash.parallelism, args.right_every
    )?;
    out.flush()?;

    let native_before = native_median(hash, args.native_samples)?;
    let parallel = native_parallel_rate(hash, cores, if args.quick { 0.5 } else { 3.0 })?;
    #[allow(clippy::cast_precision_loss)]
    let bound = cores as f64 / native_before;

    let shim = start_shim(args, hash).await?;
    let (hwm_ready, rss_ready) = memory_of(shim.pid);
    writeln!(
        out,
        "- shim: `plugin.max_concurrent` = {}, `queue_timeout_ms` = {}, SQLite; RSS when ready {} MiB (peak so far {} MiB)",
        shim.max_concurrent,
        args.queue_timeout_ms,
        mib(rss_ready),
        mib(hwm_ready)
    )?;
    writeln!(out)?;
    writeln!(out, "## Native reference (this process, same run)")?;
    writeln!(out)?;
    writeln!(out, "| figure | value |")?;
    writeln!(out, "|---|---:|")?;
    writeln!(
        out,
        "| native argon2id, one evaluation, median | {} ms |",
        ms(native_before)
    )?;
    writeln!(
        out,
        "| native bound = {cores} cores / native time | {bound:.1} verifies/s |"
    )?;
    writeln!(
        out,
        "| native argon2id on {cores} threads at once, measured | {parallel:.1} evaluations/s |"
    )?;
    writeln!(out)?;
    out.flush()?;

    let http = backup_codes_shim::auth::client::builder().build()?;
    // Wrong but well-formed codes: a set nobody verifies against.
    let donor = enrol(&http, &shim, "donor").await?;
    let wrong = donor.codes.first().cloned().ok_or("donor has no codes")?;

    writeln!(out, "## P4 — verify throughput and latency (closed loop)")?;
    writeln!(out)?;
    writeln!(
        out,
        "| clients | verifies/s | / native bound | p50 ms | p90 ms | p99 ms | p99 / native | max ms | errors (non-200) | shim CPU per verify ms |"
    )?;
    writeln!(out, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")?;
    out.flush()?;
    let mut best: Option<(usize, f64, f64, u64)> = None;
    for (i, &clients) in args.concurrency.iter().enumerate() {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let attempts = (((seconds + warmup + 2.0) * bound * 1.5) as usize) / clients.max(1) + 10;
        let prepared = prepare_clients(
            &http,
            &shim,
            &format!("r{i}"),
            clients,
            attempts,
            args.right_every,
            &wrong,
        )
        .await?;
        let r = run_clients(&shim, prepared, warmup, seconds).await?;
        let s = summarize(&r.tally.latencies);
        let mut sorted = r.tally.latencies.clone();
        sorted.sort_by(f64::total_cmp);
        let p50 = s.median;
        let p99 = crate::stats::quantile(&sorted, 0.99);
        let max = sorted.last().copied().unwrap_or(f64::NAN);
        let errors = r.tally.errors.len() as u64 + r.tally.non_200() + r.tally.starved;
        #[allow(clippy::cast_precision_loss)]
        let cpu_per = r.shim_cpu / r.answered().max(1) as f64;
        writeln!(
            out,
            "| {} | {:.1} | {:.0}% | {} | {} | {} | {:.2}x | {} | {} | {} |",
            r.clients,
            r.throughput(),
            100.0 * r.throughput() / bound,
            ms(p50),
            ms(s.p90),
            ms(p99),
            p99 / native_before,
            ms(max),
            errors,
            ms(cpu_per)
        )?;
        out.flush()?;
        for e in r.tally.errors.iter().take(3) {
            eprintln!("load: client error: {e}");
        }
        let ok = errors == 0 && p99 <= P4_P99 * native_before;
        if ok && best.is_none_or(|b| r.throughput() > b.1) {
            best = Some((clients, r.throughput(), p99, errors));
        }
    }
    writeln!(out)?;

    let native_after = native_median(hash, args.native_samples)?;
    writeln!(
        out,
        "Native argon2id after the runs: {} ms (before: {} ms).",
        ms(native_after),
        ms(native_before)
    )?;
    writeln!(out)?;

    let argon_bytes = u64::from(hash.memory_kib) * 1024;
    let mut p5: Option<(u64, bool, u64, u64)> = None;
    if args.overload_concurrency > 0 {
        let clients = args.overload_concurrency;
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let attempts = ((overload_seconds + 2.0) * bound * 1.5) as usize / clients + 10;
        let prepared = prepare_clients(
            &http,
            &shim,
            "overload",
            clients,
            attempts,
            args.right_every,
            &wrong,
        )
        .await?;
        let r = run_clients(&shim, prepared, 0.5, overload_seconds).await?;
        let (hwm, _) = memory_of(shim.pid);
        let limit = P5_BASE + u64::from(shim.max_concurrent) * argon_bytes;
        let s503 = r.tally.statuses.get(&503).copied().unwrap_or(0);
        let other = r.tally.non_200() - s503 + r.tally.errors.len() as u64;
        let mut sorted = r.tally.latencies.clone();
        sorted.sort_by(f64::total_cmp);
        writeln!(
            out,
            "## P5 — memory, and overload ({clients} clients, {} slots)",
            shim.max_concurrent
        )?;
        writeln!(out)?;
        writeln!(out, "| figure | value | target |")?;
        writeln!(out, "|---|---:|---:|")?;
        writeln!(
            out,
            "| answered 200 | {} ({:.1}/s; p50 {} ms, p99 {} ms) | |",
            r.answered(),
            r.throughput(),
            ms(crate::stats::quantile(&sorted, 0.5)),
            ms(crate::stats::quantile(&sorted, 0.99))
        )?;
        writeln!(
            out,
            "| 503 | {s503} ({} with `Retry-After`) | every 503 has it |",
            r.tally.retry_after
        )?;
        writeln!(out, "| other errors | {other} | 0 |")?;
        writeln!(
            out,
            "| shim peak RSS over its whole life (`VmHWM`) | {} MiB | <= 64 + {} x {:.1} = {} MiB |",
            mib(hwm),
            shim.max_concurrent,
            f64::from(hash.memory_kib) / 1024.0,
            mib(limit)
        )?;
        writeln!(
            out,
            "| shim RSS sampled every 20 ms during overload, max | {} MiB | |",
            mib(r.rss_peak_sampled)
        )?;
        writeln!(out)?;
        p5 = Some((hwm, r.tally.retry_after == s503, other, limit));
    }
    let (hwm_end, rss_end) = memory_of(shim.pid);
    drop(shim);

    writeln!(out, "## Targets (this run)")?;
    writeln!(out)?;
    writeln!(out, "| target | measured | goal | |")?;
    writeln!(out, "|---|---:|---:|---|")?;
    match best {
        Some((clients, tput, p99, _)) => writeln!(
            out,
            "| P4 throughput at p99 <= {P4_P99:.0}x native, 0 errors (best row: {clients} clients) | {:.0}% of bound (p99 {:.2}x native) | >= {:.0}% | {} |",
            100.0 * tput / bound,
            p99 / native_before,
            100.0 * P4_THROUGHPUT,
            verdict(tput >= P4_THROUGHPUT * bound)
        )?,
        None => writeln!(
            out,
            "| P4 throughput | no run had p99 <= {P4_P99:.0}x native and 0 errors | >= {:.0}% | MISS |",
            100.0 * P4_THROUGHPUT
        )?,
    }
    if let Some((hwm, all_retry, other, limit)) = p5 {
        writeln!(
            out,
            "| P5 peak RSS | {} MiB | <= {} MiB | {} |",
            mib(hwm),
            mib(limit),
            if hwm == 0 {
                "not measured (no --pid)"
            } else {
                verdict(hwm <= limit)
            }
        )?;
        writeln!(
            out,
            "| P5 overload answered 200 or 503 + Retry-After | other errors {other}; all 503 with Retry-After: {all_retry} | yes | {} |",
            verdict(other == 0 && all_retry)
        )?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "- shim at the end: RSS {} MiB, peak {} MiB; load average at end: {}",
        mib(rss_end),
        mib(hwm_end),
        load_average()
    )?;
    out.flush()?;
    Ok(())
}
