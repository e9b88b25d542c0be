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
//!
//! Beside the native bound, one component verify (`Plugin::verify` in a fresh
//! store, in this process) is measured in the same run: the shim's CPU per
//! verify against it is what HTTP, tokens, SQLite and the audit add to the
//! one component call an attempt needs (issue 25), and the component bound
//! (cores / component verify time) is what the shim could reach at best.
//!
//! With `--baseline-shim`, a second binary runs under the same load in the same
//! run, alternating with the first (for example the static musl build against
//! the glibc one), and a section prints their ratios.
//!
//! Files: [`shim`] (the process, tokens, /proc), [`clients`] (the closed
//! loops), [`reference`] (native and component bounds), [`side_by_side`] (two
//! binaries compared).

use std::io::Write;
use std::path::PathBuf;

use backup_codes_shim::plugin::HashParams;
use clap::Args;

use crate::BoxResult;
use crate::report::machine_line;
use crate::stats::{load_average, ms, summarize, verdict};

mod clients;
mod reference;
mod shim;
mod side_by_side;

use self::clients::{RunResult, prepare_clients, run_clients};
use self::reference::{ComponentVerify, Reference, native_parallel_rate, reference};
use self::shim::{Shim, enrol, hash_params, start_shim};
pub(crate) use self::shim::{TokenKey, cpu_of, memory_of, mib, random_hex, shim_binary, token};

/// P4: throughput at least this fraction of cores / native argon2 time.
const P4_THROUGHPUT: f64 = 0.8;
/// P4: p99 at most this multiple of the native argon2 time.
const P4_P99: f64 = 3.0;
/// P5: fixed allowance for the process, bytes.
const P5_BASE: u64 = 64 << 20;
/// Shim CPU per verify at most this multiple of one component verify's (issue 25).
const CPU_PER_VERIFY: f64 = 1.15;

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
    /// A second shim binary run under the same load in the same run,
    /// alternating with `--shim` (e.g. the glibc build beside the static
    /// one): a side-by-side section with their ratios.
    #[arg(long, conflicts_with = "url")]
    baseline_shim: Option<PathBuf>,
    /// Alternating runs per shim and client count in the side-by-side section.
    #[arg(long, default_value_t = 3)]
    side_by_side_rounds: usize,
    /// Smoke run (short runs, cheap argon2): numbers are not meaningful.
    #[arg(long)]
    quick: bool,
}

/// Run the load benchmark and print the Markdown report to `out`.
pub fn run(args: &LoadArgs, out: &mut impl Write) -> BoxResult<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run_async(args, out))
}

/// The run's durations: measured seconds, warm-up and overload seconds.
#[derive(Debug, Clone, Copy)]
struct Durations {
    seconds: f64,
    warmup: f64,
    overload: f64,
}

/// The bounds of this run: cores, the references measured before the runs.
#[derive(Debug, Clone, Copy)]
struct Bounds {
    cores: usize,
    before: Reference,
}

impl Bounds {
    /// Cores / native argon2 time, verifies per second.
    fn native(&self) -> f64 {
        #[allow(clippy::cast_precision_loss)]
        let cores = self.cores as f64;
        cores / self.before.native
    }

    /// Cores / one component verify's time, verifies per second.
    fn component(&self) -> f64 {
        #[allow(clippy::cast_precision_loss)]
        let cores = self.cores as f64;
        cores / self.before.component
    }
}

/// One P4 row, for the targets.
#[derive(Debug, Clone, Copy)]
struct Row {
    clients: usize,
    throughput: f64,
    p99: f64,
    errors: u64,
    /// Shim CPU per answered verify / one component verify's CPU.
    cpu_ratio: f64,
}

/// What P5 gave, for the targets: peak RSS, all 503 with Retry-After, other
/// errors, the bound.
type P5 = (u64, bool, u64, u64);

async fn run_async(args: &LoadArgs, out: &mut impl Write) -> BoxResult<()> {
    let hash = hash_params(args);
    let durations = if args.quick {
        Durations {
            seconds: 1.0,
            warmup: 0.3,
            overload: 1.0,
        }
    } else {
        Durations {
            seconds: args.seconds,
            warmup: args.warmup_seconds,
            overload: args.overload_seconds,
        }
    };
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    write_header(out, args, hash)?;
    let verify = ComponentVerify::new(hash, args.component.as_deref())?;
    let before = reference(hash, &verify, args.native_samples)?;
    let parallel = native_parallel_rate(hash, cores, if args.quick { 0.5 } else { 3.0 })?;
    let bounds = Bounds { cores, before };
    let shim = start_shim(args, hash, args.shim.as_deref()).await?;
    write_reference(out, args, &shim, &bounds, parallel)?;

    let http = backup_codes_shim::http_client().build()?;
    // Wrong but well-formed codes: a set nobody verifies against.
    let donor = enrol(&http, &shim, "donor").await?;
    let wrong = donor.codes.first().cloned().ok_or("donor has no codes")?;
    let rows = run_p4(out, args, &shim, &http, &wrong, durations, &bounds).await?;
    let after = reference(hash, &verify, args.native_samples)?;
    writeln!(
        out,
        "After the runs: native argon2id {} ms, one component verify {} ms (CPU {} ms); before: {} ms, {} ms (CPU {} ms).",
        ms(after.native),
        ms(after.component),
        ms(after.component_cpu),
        ms(before.native),
        ms(before.component),
        ms(before.component_cpu)
    )?;
    writeln!(out)?;
    if let Some(baseline) = &args.baseline_shim {
        let other = start_shim(args, hash, Some(baseline)).await?;
        let first = shim_binary(args.shim.as_deref())?;
        let second = shim_binary(Some(baseline))?;
        let name = |p: &std::path::Path| p.display().to_string();
        side_by_side::compare(
            out,
            args,
            [(&name(&first), &shim), (&name(&second), &other)],
            &http,
            &wrong,
            durations,
            &bounds,
            if args.quick {
                1
            } else {
                args.side_by_side_rounds.max(1)
            },
        )
        .await?;
    }
    let p5 = if args.overload_concurrency > 0 {
        Some(run_p5(out, args, &shim, &http, &wrong, durations, &bounds, hash).await?)
    } else {
        None
    };
    let (hwm_end, rss_end) = memory_of(shim.pid);
    drop(shim);
    write_targets(out, &bounds, &after, &rows, p5)?;
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

fn write_header(out: &mut impl Write, args: &LoadArgs, hash: HashParams) -> BoxResult<()> {
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
    Ok(())
}

fn write_reference(
    out: &mut impl Write,
    args: &LoadArgs,
    shim: &Shim,
    bounds: &Bounds,
    parallel: f64,
) -> BoxResult<()> {
    let (hwm_ready, rss_ready) = memory_of(shim.pid);
    let (cores, before) = (bounds.cores, bounds.before);
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
    writeln!(
        out,
        "Measured before the shim starts, {} of each, interleaved.",
        args.native_samples.max(1)
    )?;
    writeln!(out)?;
    writeln!(out, "| figure | value |")?;
    writeln!(out, "|---|---:|")?;
    writeln!(
        out,
        "| native argon2id, one evaluation, median | {} ms |",
        ms(before.native)
    )?;
    writeln!(
        out,
        "| native bound = {cores} cores / native time | {:.1} verifies/s |",
        bounds.native()
    )?;
    writeln!(
        out,
        "| native argon2id on {cores} threads at once, measured | {parallel:.1} evaluations/s |"
    )?;
    writeln!(
        out,
        "| one component verify (`Plugin::verify`, fresh store, wrong code, set of 10), median | {} ms (thread CPU {} ms); {:.2}x native |",
        ms(before.component),
        ms(before.component_cpu),
        before.component / before.native
    )?;
    writeln!(
        out,
        "| component bound = {cores} cores / component verify time | {:.1} verifies/s |",
        bounds.component()
    )?;
    writeln!(out)?;
    out.flush()?;
    Ok(())
}

/// P4: one closed-loop run per client count.
async fn run_p4(
    out: &mut impl Write,
    args: &LoadArgs,
    shim: &Shim,
    http: &reqwest::Client,
    wrong: &str,
    d: Durations,
    bounds: &Bounds,
) -> BoxResult<Vec<Row>> {
    writeln!(out, "## P4 — verify throughput and latency (closed loop)")?;
    writeln!(out)?;
    writeln!(
        out,
        "| clients | verifies/s | / native bound | / component bound | p50 ms | p90 ms | p99 ms | p99 / native | max ms | errors (non-200) | shim CPU per verify ms | / component verify CPU |"
    )?;
    writeln!(
        out,
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    )?;
    out.flush()?;
    let mut rows = Vec::new();
    for (i, &clients) in args.concurrency.iter().enumerate() {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let attempts =
            (((d.seconds + d.warmup + 2.0) * bounds.native() * 1.5) as usize) / clients.max(1) + 10;
        let prepared = prepare_clients(
            http,
            shim,
            &format!("r{i}"),
            clients,
            attempts,
            args.right_every,
            wrong,
        )
        .await?;
        let r = run_clients(shim, prepared, d.warmup, d.seconds).await?;
        let row = write_p4_row(out, &r, bounds)?;
        for e in r.tally.errors.iter().take(3) {
            eprintln!("load: client error: {e}");
        }
        rows.push(row);
    }
    writeln!(out)?;
    Ok(rows)
}

fn write_p4_row(out: &mut impl Write, r: &RunResult, bounds: &Bounds) -> BoxResult<Row> {
    let s = summarize(&r.tally.latencies);
    let mut sorted = r.tally.latencies.clone();
    sorted.sort_by(f64::total_cmp);
    let p99 = crate::stats::quantile(&sorted, 0.99);
    let max = sorted.last().copied().unwrap_or(f64::NAN);
    let errors = r.tally.errors.len() as u64 + r.tally.non_200() + r.tally.starved;
    #[allow(clippy::cast_precision_loss)]
    let cpu_per = r.shim_cpu / r.answered().max(1) as f64;
    let cpu_ratio = cpu_per / bounds.before.component_cpu;
    writeln!(
        out,
        "| {} | {:.1} | {:.0}% | {:.0}% | {} | {} | {} | {:.2}x | {} | {} | {} | {:.2}x |",
        r.clients,
        r.throughput(),
        100.0 * r.throughput() / bounds.native(),
        100.0 * r.throughput() / bounds.component(),
        ms(s.median),
        ms(s.p90),
        ms(p99),
        p99 / bounds.before.native,
        ms(max),
        errors,
        ms(cpu_per),
        cpu_ratio
    )?;
    out.flush()?;
    Ok(Row {
        clients: r.clients,
        throughput: r.throughput(),
        p99,
        errors,
        cpu_ratio,
    })
}

/// P5: peak memory, and queueing or 503 + Retry-After under overload.
#[allow(clippy::too_many_arguments)]
async fn run_p5(
    out: &mut impl Write,
    args: &LoadArgs,
    shim: &Shim,
    http: &reqwest::Client,
    wrong: &str,
    d: Durations,
    bounds: &Bounds,
    hash: HashParams,
) -> BoxResult<P5> {
    let argon_bytes = u64::from(hash.memory_kib) * 1024;
    let clients = args.overload_concurrency;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let attempts = ((d.overload + 2.0) * bounds.native() * 1.5) as usize / clients + 10;
    let prepared = prepare_clients(
        http,
        shim,
        "overload",
        clients,
        attempts,
        args.right_every,
        wrong,
    )
    .await?;
    let r = run_clients(shim, prepared, 0.5, d.overload).await?;
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
    Ok((hwm, r.tally.retry_after == s503, other, limit))
}

fn write_targets(
    out: &mut impl Write,
    bounds: &Bounds,
    after: &Reference,
    rows: &[Row],
    p5: Option<P5>,
) -> BoxResult<()> {
    let native = bounds.before.native;
    writeln!(out, "## Targets (this run)")?;
    writeln!(out)?;
    writeln!(out, "| target | measured | goal | |")?;
    writeln!(out, "|---|---:|---:|---|")?;
    let best = rows
        .iter()
        .filter(|r| r.errors == 0 && r.p99 <= P4_P99 * native)
        .max_by(|a, b| a.throughput.total_cmp(&b.throughput));
    match best {
        Some(r) => writeln!(
            out,
            "| P4 throughput at p99 <= {P4_P99:.0}x native, 0 errors (best row: {} clients) | {:.0}% of bound (p99 {:.2}x native); {:.0}% of the component bound | >= {:.0}% | {} |",
            r.clients,
            100.0 * r.throughput / bounds.native(),
            r.p99 / native,
            100.0 * r.throughput / bounds.component(),
            100.0 * P4_THROUGHPUT,
            verdict(r.throughput >= P4_THROUGHPUT * bounds.native())
        )?,
        None => writeln!(
            out,
            "| P4 throughput | no run had p99 <= {P4_P99:.0}x native and 0 errors | >= {:.0}% | MISS |",
            100.0 * P4_THROUGHPUT
        )?,
    }
    if let Some(first) = rows.first() {
        let each: Vec<String> = rows
            .iter()
            .map(|r| format!("{} clients {:.2}x", r.clients, r.cpu_ratio))
            .collect();
        // The rows are read against the reference taken before the runs; the
        // one taken after them (same machine, shim idle) for comparison.
        let drift = bounds.before.component_cpu / after.component_cpu;
        writeln!(
            out,
            "| shim CPU per verify / one component verify (CPU), {} client(s); every row; {} client(s) against the reference after the runs | {:.2}x; {}; {:.2}x | <= {CPU_PER_VERIFY:.2}x | {} |",
            first.clients,
            first.clients,
            first.cpu_ratio,
            each.join(", "),
            first.cpu_ratio * drift,
            verdict(first.cpu_ratio <= CPU_PER_VERIFY)
        )?;
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
    Ok(())
}
