//! `backup-codes-bench imported`: sets imported from Supabase Auth (its
//! argon2id PHC strings, kept, one evaluation per unused code at every
//! attempt) at the largest parameters the shim accepts (issue 24), measured
//! on the real binary: `backup-codes-shim import --from supabase`, then
//! `serve` on the same database.
//!
//! - What one attempt at such a set costs, alone, beside a set issued here.
//! - The shim's resident memory (`/proc/<pid>/status`) when ready, after such
//!   attempts, and while `--hostile` of them run at once (closed loop, each on
//!   its own imported subject, all `max_concurrent` slots busy), against
//!   README's bound: slots x the most memory a call may use, plus a base.
//! - Another user's right code at the JSON API while they run: answered (or
//!   503), and how long it took.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use backup_codes_harness::shim::ShimProcess;
use backup_codes_shim::config::PluginSettings;
use clap::Args;
use serde_json::Value;

use crate::BoxResult;
use crate::doors::client::{Answer, Client, Door, Secrets, TENANT, config_toml};
use crate::load::{cpu_of, memory_of, mib};
use crate::stats::{load_average, ms, summarize, verdict};

mod set;

use self::set::Cost;

/// README's allowance for the process itself (as in P5), bytes.
const BASE: u64 = 64 << 20;

/// Options of `imported`.
#[derive(Debug, Args)]
pub struct ImportedArgs {
    /// The shim binary [default: `backup-codes-shim` next to this executable].
    #[arg(long)]
    shim: Option<PathBuf>,
    /// Hostile attempts at once (the default `plugin.max_concurrent` is 8).
    #[arg(long, default_value_t = 8)]
    hostile: usize,
    /// Another user's right-code verifies made while they run, one at a time.
    #[arg(long, default_value_t = 8)]
    victims: usize,
    /// Unused codes per imported set (each evaluated at every attempt).
    #[arg(long, default_value_t = 2)]
    unused: u32,
    /// Used codes per imported set (never evaluated).
    #[arg(long, default_value_t = 8)]
    used: u32,
    /// Lanes of the imported hashes (at most 4).
    #[arg(long, default_value_t = set::MAX_LANES)]
    lanes: u32,
    /// Attempts at an imported set timed alone (and as many of the other
    /// user's, interleaved).
    #[arg(long, default_value_t = 5)]
    samples: usize,
    /// Smoke run (a 16 MiB memory limit, few attempts): numbers are not meaningful.
    #[arg(long)]
    quick: bool,
}

/// Everything measured, for the report.
struct Measured {
    cost: Cost,
    max_concurrent: u32,
    queue_timeout_ms: u64,
    import: ImportReport,
    check: (Answer, f64),
    alone_imported: Vec<f64>,
    alone_native: Vec<f64>,
    attack: Attack,
    rss_ready: (u64, u64),
    rss_after_alone: (u64, u64),
    rss_end: (u64, u64),
}

/// What `backup-codes-shim import` printed, and how long it took.
struct ImportReport {
    imported: u64,
    legacy: u64,
    failed: usize,
    seconds: f64,
}

/// Run and print the Markdown report to `out`.
pub fn run(args: &ImportedArgs, out: &mut impl Write) -> BoxResult<()> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(run_async(args, out))
}

async fn run_async(args: &ImportedArgs, out: &mut impl Write) -> BoxResult<()> {
    let settings = PluginSettings::default();
    let limit_mib = if args.quick {
        16
    } else {
        settings.memory_limit_mib
    };
    let cost = Cost::largest(limit_mib, args.unused, args.used, args.lanes)?;
    let (samples, victims) = if args.quick {
        (1, 2)
    } else {
        (args.samples.max(1), args.victims.max(1))
    };
    writeln!(out, "# backup-codes-bench imported")?;
    writeln!(out)?;
    writeln!(out, "- machine: {}", crate::report::machine_line())?;
    writeln!(out, "- load average at start: {}", load_average())?;
    writeln!(out)?;
    out.flush()?;

    let dir = tempfile::tempdir()?;
    let secrets = Secrets::random();
    let policy = if args.quick {
        "free_failures = 100\nmax_failures = 100\nhash_memory_kib = 1024\nhash_iterations = 1\n"
    } else {
        "free_failures = 100\nmax_failures = 100\n"
    };
    let plugin = format!("memory_limit_mib = {limit_mib}\n");
    let config = config_toml(dir.path(), &secrets, policy, &plugin);
    let hostile: Vec<String> = (0..args.hostile.max(1))
        .map(|i| format!("imported-{i}"))
        .collect();
    let mut subjects = hostile.clone();
    subjects.push("imported-check".into());
    let (csv, right) = set::export(&subjects, &cost)?;
    let bin = crate::load::shim_binary(args.shim.as_deref())?;
    let import = import(&bin, dir.path(), &config, &csv)?;
    if import.imported != subjects.len() as u64 {
        return Err(format!(
            "{} of {} subjects imported ({} failed)",
            import.imported,
            subjects.len(),
            import.failed
        )
        .into());
    }
    let shim = ShimProcess::start_binary(&bin, dir.path(), "shim", &config).await?;
    let pid = shim.pid();
    let client = Arc::new(Client::new(&shim.url, &secrets)?);
    let rss_ready = memory_of(pid);
    let check = client
        .attempt(Door::Api, "imported-check", &right, None)
        .await?;
    if check.0 != Answer::Accepted {
        return Err(format!("an imported code was refused: {:?}", check.0).into());
    }
    let mut rights = RightCodes::default();
    let wrong = set::random_code()?;
    let (mut alone_imported, mut alone_native) = (Vec::new(), Vec::new());
    for _ in 0..samples {
        let (answer, took) = client.attempt(Door::Api, &hostile[0], &wrong, None).await?;
        expect(
            &answer,
            &Answer::Rejected,
            "a wrong code at an imported set",
        )?;
        alone_imported.push(took);
        let (subject, code) = rights.next(&client).await?;
        let (answer, took) = client.attempt(Door::Api, &subject, &code, None).await?;
        expect(&answer, &Answer::Accepted, "another user's right code")?;
        alone_native.push(took);
    }
    let rss_after_alone = memory_of(pid);
    rights.reserve(&client, victims).await?;
    let attack = attack(&client, pid, &hostile, &wrong, &mut rights, victims).await?;
    let rss_end = memory_of(pid);
    drop(shim);
    let measured = Measured {
        cost,
        max_concurrent: settings.max_concurrent,
        queue_timeout_ms: settings.queue_timeout_ms,
        import,
        check,
        alone_imported,
        alone_native,
        attack,
        rss_ready,
        rss_after_alone,
        rss_end,
    };
    write(out, &measured, args.quick)
}

fn expect(got: &Answer, want: &Answer, what: &str) -> BoxResult<()> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: expected {want:?}, got {got:?}").into())
    }
}

/// Run `backup-codes-shim import --from supabase` on the export; its report.
fn import(bin: &Path, dir: &Path, config: &str, csv: &str) -> BoxResult<ImportReport> {
    let config_path = dir.join("import.toml");
    std::fs::write(&config_path, config)?;
    let csv_path = dir.join("recovery-codes.csv");
    std::fs::write(&csv_path, csv)?;
    let mut cmd = Command::new(bin);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("BACKUP_CODES_") {
            cmd.env_remove(&k);
        }
    }
    let started = Instant::now();
    let output = cmd
        .arg("--config")
        .arg(&config_path)
        .args(["import", "--from", "supabase"])
        .arg(&csv_path)
        .args(["--tenant", TENANT])
        .current_dir(dir)
        .output()?;
    let seconds = started.elapsed().as_secs_f64();
    if !output.status.success() {
        return Err(format!("import failed: {}", String::from_utf8_lossy(&output.stderr)).into());
    }
    let report: Value = serde_json::from_slice(&output.stdout)?;
    Ok(ImportReport {
        imported: report["imported"].as_u64().unwrap_or(0),
        legacy: report["legacy"].as_u64().unwrap_or(0),
        failed: report["failed"].as_array().map_or(0, Vec::len),
        seconds,
    })
}

/// Right codes of other users (sets issued here with the tenant's policy),
/// issued as they are needed.
#[derive(Default)]
struct RightCodes {
    subjects: usize,
    codes: Vec<(String, String)>,
}

impl RightCodes {
    /// Have at least `n` codes at hand (issued now, not while every slot
    /// is busy, when issuing would wait in the queue too).
    async fn reserve(&mut self, client: &Client, n: usize) -> BoxResult<()> {
        while self.codes.len() < n {
            let subject = format!("user-{}", self.subjects);
            self.subjects += 1;
            let codes = client.issue(&subject).await?;
            self.codes
                .extend(codes.into_iter().map(|c| (subject.clone(), c)));
        }
        Ok(())
    }

    async fn next(&mut self, client: &Client) -> BoxResult<(String, String)> {
        if self.codes.is_empty() {
            let subject = format!("user-{}", self.subjects);
            self.subjects += 1;
            let codes = client.issue(&subject).await?;
            self.codes = codes.into_iter().map(|c| (subject.clone(), c)).collect();
        }
        self.codes.pop().ok_or_else(|| "no codes issued".into())
    }
}

/// What happened while the hostile attempts ran.
struct Attack {
    /// Hostile clients at once.
    hostile_clients: usize,
    /// The other user's verifies: answer (or HTTP status) and seconds.
    victims: Vec<(String, f64)>,
    /// Hostile attempts answered, their median latency, and other answers.
    hostile_answered: usize,
    hostile_median: f64,
    hostile_other: Vec<String>,
    /// Shim CPU seconds over the attack and the answered attempts in it.
    cpu: f64,
    /// Largest RSS sampled every 20 ms during the attack.
    rss_sampled: u64,
    seconds: f64,
}

/// `hostile` clients each typing wrong codes at its own imported subject in
/// a closed loop; once all are in flight, the other user's right codes one
/// at a time.
async fn attack(
    client: &Arc<Client>,
    pid: Option<u32>,
    hostile: &[String],
    wrong: &str,
    rights: &mut RightCodes,
    victims: usize,
) -> BoxResult<Attack> {
    let stop = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(0));
    let cpu0 = cpu_of(pid);
    let started = Instant::now();
    let sampler = {
        let (stop, peak) = (Arc::clone(&stop), Arc::clone(&peak));
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(memory_of(pid).1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let mut tasks = Vec::new();
    for subject in hostile {
        let (client, stop) = (Arc::clone(client), Arc::clone(&stop));
        let (subject, wrong) = (subject.clone(), wrong.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut seen: Vec<(Answer, f64)> = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                match client.attempt(Door::Api, &subject, &wrong, None).await {
                    Ok(a) => seen.push(a),
                    Err(e) => seen.push((Answer::Other(e.to_string()), f64::NAN)),
                }
            }
            seen
        }));
    }
    // Every slot busy before the other user comes.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut seen_victims = Vec::new();
    for _ in 0..victims {
        let (subject, code) = rights.next(client).await?;
        let (answer, took) = client.attempt(Door::Api, &subject, &code, None).await?;
        seen_victims.push((format!("{answer:?}"), took));
    }
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    let mut other = Vec::new();
    for t in tasks {
        for (answer, took) in t.await? {
            match answer {
                Answer::Rejected => latencies.push(took),
                a => other.push(format!("{a:?}")),
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu = cpu_of(pid) - cpu0;
    let _ = sampler.await;
    Ok(Attack {
        hostile_clients: hostile.len(),
        victims: seen_victims,
        hostile_answered: latencies.len(),
        hostile_median: summarize(&latencies).median,
        hostile_other: other,
        cpu,
        rss_sampled: peak.load(Ordering::Relaxed),
        seconds,
    })
}

fn write(out: &mut impl Write, m: &Measured, quick: bool) -> BoxResult<()> {
    let c = &m.cost;
    #[allow(clippy::cast_precision_loss)]
    let share = 100.0 * c.work() as f64 / c.budget() as f64;
    writeln!(
        out,
        "## Imported Supabase sets at the largest accepted parameters (issue 24)"
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "`plugin.memory_limit_mib` = {}{}, `max_concurrent` = {}, `queue_timeout_ms` = {} \
         (the defaults), SQLite. Each \
         subject's set: {} unused + {} used codes, every one `$argon2id$v=19$m={},t={},p={}$…` \
         (memory = the limit less the call's {} MiB headroom; lanes at most {}; passes the most \
         that keep one attempt within {} passes over the limit: {} of {} KiB-passes, {:.1}%). \
         Hashes made natively (`argon2` crate), imported with `backup-codes-shim import --from \
         supabase` ({} subjects, {} legacy, {} failed, {:.1} s), then served by `backup-codes-shim \
         serve` on the same database.",
        c.memory_limit_mib,
        if quick {
            " (--quick; the default is 64)"
        } else {
            ""
        },
        m.max_concurrent,
        m.queue_timeout_ms,
        c.unused,
        c.used,
        c.memory_kib,
        c.passes,
        c.lanes,
        backup_codes_shim::plugin::CALL_HEADROOM_BYTES >> 20,
        set::MAX_LANES,
        16,
        c.work(),
        c.budget(),
        share,
        m.import.imported,
        m.import.legacy,
        m.import.failed,
        m.import.seconds
    )?;
    writeln!(out)?;
    write_times(out, m)?;
    write_memory(out, m)?;
    writeln!(out, "- load average at end: {}", load_average())?;
    Ok(())
}

fn write_times(out: &mut impl Write, m: &Measured) -> BoxResult<()> {
    let (imp, nat) = (summarize(&m.alone_imported), summarize(&m.alone_native));
    writeln!(
        out,
        "| verify at the JSON API, one at a time | median ms | p10-p90 ms | n |"
    )?;
    writeln!(out, "|---|---:|---:|---:|")?;
    writeln!(
        out,
        "| wrong code, imported set (every unused code evaluated) | {} | {}-{} | {} |",
        ms(imp.median),
        ms(imp.p10),
        ms(imp.p90),
        m.alone_imported.len()
    )?;
    writeln!(
        out,
        "| right code, imported set (once, to check the import) | {} | | 1 |",
        ms(m.check.1)
    )?;
    writeln!(
        out,
        "| another user's right code, a set issued here (tenant policy), interleaved | {} | {}-{} | {} |",
        ms(nat.median),
        ms(nat.p10),
        ms(nat.p90),
        m.alone_native.len()
    )?;
    writeln!(out)?;
    let a = &m.attack;
    let answered = a.victims.iter().filter(|(s, _)| s == "Accepted").count();
    let times: Vec<f64> = a.victims.iter().map(|(_, t)| *t).collect();
    let v = summarize(&times);
    let max = times.iter().copied().fold(0.0, f64::max);
    #[allow(clippy::cast_precision_loss)]
    let cpu_per = a.cpu / a.hostile_answered.max(1) as f64;
    writeln!(
        out,
        "With {} hostile clients at once (each typing wrong codes at its own imported subject, \
         closed loop, {:.1} s): {} hostile attempts answered (median {} ms){}; shim CPU {} ms per \
         hostile attempt. Another user's right code meanwhile, one at a time:",
        a.hostile_clients,
        a.seconds,
        a.hostile_answered,
        ms(a.hostile_median),
        if a.hostile_other.is_empty() {
            String::new()
        } else {
            format!(", other answers: {}", a.hostile_other.join(", "))
        },
        ms(cpu_per)
    )?;
    writeln!(out)?;
    writeln!(out, "| another user's verifies | value |")?;
    writeln!(out, "|---|---:|")?;
    writeln!(
        out,
        "| answered (accepted) / made | {answered} / {} |",
        a.victims.len()
    )?;
    let others: Vec<&str> = a
        .victims
        .iter()
        .filter(|(s, _)| s != "Accepted")
        .map(|(s, _)| s.as_str())
        .collect();
    if !others.is_empty() {
        writeln!(out, "| other answers | {} |", others.join(", "))?;
    }
    writeln!(
        out,
        "| latency median (p10-p90), max | {} ms ({}-{}), {} ms |",
        ms(v.median),
        ms(v.p10),
        ms(v.p90),
        ms(max)
    )?;
    writeln!(
        out,
        "| each, ms | {} |",
        times.iter().map(|t| ms(*t)).collect::<Vec<_>>().join(", ")
    )?;
    writeln!(out)?;
    Ok(())
}

fn write_memory(out: &mut impl Write, m: &Measured) -> BoxResult<()> {
    let c = &m.cost;
    let slots = u64::from(m.max_concurrent);
    let call = c.memory_limit_mib as u64 * (1 << 20);
    let argon = u64::from(c.memory_kib) * 1024;
    let bound = BASE + slots * call;
    let tight = BASE + slots * argon;
    let hwm = m.rss_end.0;
    writeln!(out, "| shim resident memory (`/proc/<pid>/status`) | MiB |")?;
    writeln!(out, "|---|---:|")?;
    writeln!(
        out,
        "| when ready (`VmRSS`), imports done | {} |",
        mib(m.rss_ready.1)
    )?;
    writeln!(
        out,
        "| after the attempts one at a time (`VmRSS`) | {} |",
        mib(m.rss_after_alone.1)
    )?;
    writeln!(
        out,
        "| during the hostile attempts, sampled every 20 ms, max (`VmRSS`) | {} |",
        mib(m.attack.rss_sampled)
    )?;
    writeln!(out, "| at the end (`VmRSS`) | {} |", mib(m.rss_end.1))?;
    writeln!(out, "| peak over the whole life (`VmHWM`) | {} |", mib(hwm))?;
    writeln!(out)?;
    writeln!(out, "| target | measured | goal | |")?;
    writeln!(out, "|---|---:|---:|---|")?;
    writeln!(
        out,
        "| peak RSS <= base + slots x the most memory a call may use | {} MiB | <= 64 + {slots} x {} = {} MiB | {} |",
        mib(hwm),
        c.memory_limit_mib,
        mib(bound),
        verdict(hwm > 0 && hwm <= bound)
    )?;
    writeln!(
        out,
        "| for context: base + slots x the largest accepted argon2 memory | {} MiB | {} MiB | {} |",
        mib(hwm),
        mib(tight),
        verdict(hwm > 0 && hwm <= tight)
    )?;
    let answered = m.attack.victims.iter().all(|(s, _)| s == "Accepted");
    writeln!(
        out,
        "| another user's right code beside the hostile attempts | {} of {} accepted | all answered, none 503 | {} |",
        m.attack
            .victims
            .iter()
            .filter(|(s, _)| s == "Accepted")
            .count(),
        m.attack.victims.len(),
        verdict(answered)
    )?;
    writeln!(out)?;
    Ok(())
}
