//! Side-by-side benchmark of the backup-code component (issue 3, groundwork for issue 7).
//!
//! Everything is measured in one run, interleaved, so that noise from other work on
//! the machine hits every cell alike:
//!
//! 1. `Plugin::verify` on the embedded component, each call in a fresh store (what
//!    production does), against the same argon2id computed natively with the
//!    `argon2` crate;
//! 2. verify of a wrong (well-formed) and a right code against sets of 1, 10 and 64
//!    codes: one argon2 evaluation per attempt, so the cost should not depend on N;
//! 3. the fixed per-call overhead: `Plugin::default_policy()` (new store +
//!    instantiate from `InstancePre` + call).
//!
//! Output is Markdown, ready to paste into `BENCHMARKS.md`.

use std::error::Error;
use std::hint::black_box;
use std::io::Write;
use std::time::{Duration, Instant};

use argon2::{Algorithm, Argon2, Params, Version};
use backup_codes_shim::plugin::{
    self, FailureReason, HashParams, Outcome, Plugin, PluginConfig, Policy,
};
use clap::Parser;
use secrecy::{ExposeSecret, SecretString};

type BoxResult<T> = Result<T, Box<dyn Error>>;

/// Set sizes measured in section 2.
const SET_SIZES: [u8; 3] = [1, 10, 64];
/// Argon2 output length, as in the plugin.
const DIGEST_LEN: usize = 32;

/// Benchmark the backup-code component against native argon2id, side by side.
#[derive(Debug, Parser)]
#[command(name = "backup-codes-bench", version)]
struct Cli {
    /// Argon2id memory in KiB (default: the plugin's default policy, 19456).
    #[arg(long)]
    memory_kib: Option<u32>,
    /// Argon2id passes over memory, t (default: the plugin's default policy, 2).
    #[arg(long)]
    iterations: Option<u32>,
    /// Argon2id lanes, p (default: the plugin's default policy, 1).
    #[arg(long)]
    parallelism: Option<u32>,
    /// Measured samples per argon2 cell, sections 1 and 2 [default: 30; with --quick: 3].
    #[arg(long)]
    samples: Option<usize>,
    /// Measured samples of the trivial call, section 3 [default: 3000; with --quick: 30].
    #[arg(long)]
    trivial_samples: Option<usize>,
    /// Smoke run: a few samples per cell (numbers are not meaningful).
    #[arg(long)]
    quick: bool,
}

/// What one run measures.
#[derive(Debug, Clone)]
struct Settings {
    memory_kib: Option<u32>,
    iterations: Option<u32>,
    parallelism: Option<u32>,
    /// Unmeasured rounds before the argon2 cells.
    warmup: usize,
    samples: usize,
    trivial_warmup: usize,
    trivial_samples: usize,
}

impl Settings {
    fn from_cli(cli: &Cli) -> Self {
        let base = if cli.quick {
            Self::quick()
        } else {
            Self::full()
        };
        Self {
            memory_kib: cli.memory_kib,
            iterations: cli.iterations,
            parallelism: cli.parallelism,
            samples: cli.samples.unwrap_or(base.samples).max(1),
            trivial_samples: cli.trivial_samples.unwrap_or(base.trivial_samples).max(1),
            ..base
        }
    }

    fn full() -> Self {
        Self {
            memory_kib: None,
            iterations: None,
            parallelism: None,
            warmup: 3,
            samples: 30,
            trivial_warmup: 200,
            trivial_samples: 3000,
        }
    }

    fn quick() -> Self {
        Self {
            memory_kib: None,
            iterations: None,
            parallelism: None,
            warmup: 1,
            samples: 3,
            trivial_warmup: 5,
            trivial_samples: 30,
        }
    }
}

fn main() -> BoxResult<()> {
    let cli = Cli::parse();
    let settings = Settings::from_cli(&cli);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    run(&settings, &mut out)
}

/// Order statistics of one cell, in seconds.
#[derive(Debug, Clone, Copy)]
struct Summary {
    median: f64,
    p10: f64,
    p90: f64,
    /// Median absolute deviation from the median.
    mad: f64,
}

/// The `q` quantile of sorted values (linear interpolation between ranks).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        1 => sorted[0],
        n => {
            #[allow(clippy::cast_precision_loss)]
            let pos = q * (n - 1) as f64;
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let lo = pos.floor() as usize;
            let hi = (lo + 1).min(n - 1);
            #[allow(clippy::cast_precision_loss)]
            let frac = pos - lo as f64;
            sorted[lo] + (sorted[hi] - sorted[lo]) * frac
        }
    }
}

fn summarize_f64(values: &[f64]) -> Summary {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let median = quantile(&sorted, 0.5);
    let mut dev: Vec<f64> = sorted.iter().map(|v| (v - median).abs()).collect();
    dev.sort_by(f64::total_cmp);
    Summary {
        median,
        p10: quantile(&sorted, 0.1),
        p90: quantile(&sorted, 0.9),
        mad: quantile(&dev, 0.5),
    }
}

fn summarize(samples: &[Duration]) -> Summary {
    let secs: Vec<f64> = samples.iter().map(Duration::as_secs_f64).collect();
    summarize_f64(&secs)
}

/// The component under test, the policy and the argon2 parameters in use.
struct Bench {
    plugin: Plugin,
    policy: Policy,
}

impl Bench {
    fn load(settings: &Settings) -> BoxResult<Self> {
        let defaults = PluginConfig::default();
        let mut config = PluginConfig {
            // Issuing 64 codes with costly parameters takes long; verify is unaffected.
            call_timeout: Duration::from_secs(600),
            ..defaults.clone()
        };
        let plugin = Plugin::embedded(config.clone())?;
        let mut policy = plugin.default_policy()?;
        if let Some(m) = settings.memory_kib {
            policy.hash.memory_kib = m;
        }
        if let Some(t) = settings.iterations {
            policy.hash.iterations = t;
        }
        if let Some(p) = settings.parallelism {
            policy.hash.parallelism = p;
        }
        // Verify against the active set without the activation round trip.
        policy.require_activation = false;
        // The production limit (64 MiB) must exceed argon2's memory; raise it only
        // when asked for more memory than it allows.
        let needed = usize::try_from(policy.hash.memory_kib)?
            .saturating_mul(1024)
            .saturating_add(32 << 20);
        if needed > defaults.memory_limit {
            config.memory_limit = needed;
            let plugin = Plugin::embedded(config)?;
            return Ok(Self { plugin, policy });
        }
        Ok(Self { plugin, policy })
    }

    fn policy_with_count(&self, count: u8) -> Policy {
        Policy {
            count,
            low_water: self.policy.low_water.min(count),
            ..self.policy
        }
    }
}

/// A credential with one active set, a right code for it and a wrong but
/// well-formed code (from another set issued with the same policy).
struct Fixture {
    policy: Policy,
    credential: Vec<u8>,
    right: SecretString,
    right_number: u8,
    wrong: SecretString,
}

impl Fixture {
    fn new(bench: &Bench, count: u8) -> BoxResult<Self> {
        let policy = bench.policy_with_count(count);
        let issued = bench.plugin.issue(None, &policy, None)?;
        let other = bench.plugin.issue(None, &policy, None)?;
        // The last code: the search is constant time over the whole set anyway.
        let right = issued.codes.last().ok_or("issue returned no codes")?;
        let wrong = other.codes.first().ok_or("issue returned no codes")?;
        Ok(Self {
            policy,
            credential: issued.credential,
            right: SecretString::from(right.code.expose_secret().clone()),
            right_number: right.number,
            wrong: SecretString::from(wrong.code.expose_secret().clone()),
        })
    }

    /// Verify the right code against the original credential (the returned,
    /// changed credential is discarded, so every sample sees the same input).
    fn verify_right(&self, plugin: &Plugin) -> BoxResult<Duration> {
        let start = Instant::now();
        let v = plugin.verify(&self.credential, &self.right, &self.policy, None)?;
        let elapsed = start.elapsed();
        match v.outcome {
            Outcome::Accepted(n) if n == self.right_number => Ok(elapsed),
            other => Err(format!(
                "right code: expected accepted({}), got {other:?}",
                self.right_number
            )
            .into()),
        }
    }

    /// Verify the wrong code against the original credential (never reaches lockout).
    fn verify_wrong(&self, plugin: &Plugin) -> BoxResult<Duration> {
        let start = Instant::now();
        let v = plugin.verify(&self.credential, &self.wrong, &self.policy, None)?;
        let elapsed = start.elapsed();
        match v.outcome {
            Outcome::Rejected(r)
                if r.reason == FailureReason::Mismatch && r.consecutive_failures == 1 =>
            {
                Ok(elapsed)
            }
            other => {
                Err(format!("wrong code: expected rejected(mismatch, 1), got {other:?}").into())
            }
        }
    }
}

/// The same argon2id evaluation the plugin makes, natively.
struct Native {
    argon: Argon2<'static>,
    password: Vec<u8>,
    salt: [u8; 16],
}

impl Native {
    fn new(hash: HashParams, code: &str) -> BoxResult<Self> {
        let params = Params::new(
            hash.memory_kib,
            hash.iterations,
            hash.parallelism,
            Some(DIGEST_LEN),
        )
        .map_err(|e| format!("argon2 parameters: {e}"))?;
        // The canonical form the plugin hashes: symbols only, upper case.
        let password: Vec<u8> = code
            .bytes()
            .filter(|b| *b != b'-' && *b != b' ')
            .map(|b| b.to_ascii_uppercase())
            .collect();
        Ok(Self {
            argon: Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
            password,
            salt: *b"bench-salt-16byt",
        })
    }

    fn hash(&self) -> BoxResult<Duration> {
        let mut out = [0u8; DIGEST_LEN];
        let start = Instant::now();
        self.argon
            .hash_password_into(black_box(&self.password), black_box(&self.salt), &mut out)
            .map_err(|e| format!("argon2: {e}"))?;
        black_box(&out);
        Ok(start.elapsed())
    }
}

fn ms(secs: f64) -> String {
    format!("{:.2}", secs * 1e3)
}

fn us(secs: f64) -> String {
    format!("{:.1}", secs * 1e6)
}

fn first_line_value(text: &str, key: &str) -> Option<String> {
    text.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn write_machine(out: &mut impl Write, bench: &Bench, settings: &Settings) -> BoxResult<()> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = first_line_value(&cpuinfo, "model name").unwrap_or_else(|| "unknown".into());
    let logical = cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    let available = std::thread::available_parallelism().map_or(0, usize::from);
    let flags = first_line_value(&cpuinfo, "flags").unwrap_or_default();
    let simd: Vec<&str> = flags
        .split_whitespace()
        .filter(|f| matches!(*f, "avx2" | "avx512f"))
        .collect();
    let sha: String = bench
        .plugin
        .sha256()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let h = bench.policy.hash;
    writeln!(out, "# backup-codes-bench")?;
    writeln!(out)?;
    writeln!(
        out,
        "- machine: {model}; {logical} logical CPUs ({available} available to this process); SIMD: {}",
        if simd.is_empty() {
            "none of avx2/avx512f".to_string()
        } else {
            simd.join(", ")
        }
    )?;
    writeln!(out, "- load average at start: {}", load_average())?;
    writeln!(
        out,
        "- component SHA-256: {sha} ({} bytes)",
        plugin::EMBEDDED_COMPONENT.len()
    )?;
    writeln!(
        out,
        "- argon2id: m={} KiB, t={}, p={}, 32-byte output, 16-byte salt, 14-byte code, no pepper",
        h.memory_kib, h.iterations, h.parallelism
    )?;
    writeln!(
        out,
        "- samples: {} per argon2 cell after {} warm-up round(s); {} trivial calls after {} warm-up",
        settings.samples, settings.warmup, settings.trivial_samples, settings.trivial_warmup
    )?;
    if cfg!(debug_assertions) {
        writeln!(
            out,
            "- WARNING: debug build; run with `cargo run --release -p backup-codes-bench` for meaningful numbers"
        )?;
    }
    writeln!(out)?;
    Ok(())
}

/// Section 1: component verify in a fresh store vs native argon2id, interleaved.
fn section_verify_vs_native(
    out: &mut impl Write,
    bench: &Bench,
    settings: &Settings,
) -> BoxResult<()> {
    let fixture = Fixture::new(bench, bench.policy.count)?;
    let native = Native::new(bench.policy.hash, fixture.right.expose_secret())?;
    if native.password.len() != usize::from(bench.policy.symbols) + 1 {
        return Err("unexpected canonical code length".into());
    }
    let mut comp = Vec::with_capacity(settings.samples);
    let mut nat = Vec::with_capacity(settings.samples);
    let mut paired = Vec::with_capacity(settings.samples);
    for round in 0..settings.warmup + settings.samples {
        // Alternate which goes first, so neither always follows the other.
        let (c, n) = if round % 2 == 0 {
            let n = native.hash()?;
            (fixture.verify_right(&bench.plugin)?, n)
        } else {
            let c = fixture.verify_right(&bench.plugin)?;
            (c, native.hash()?)
        };
        if round >= settings.warmup {
            paired.push(c.as_secs_f64() / n.as_secs_f64());
            comp.push(c);
            nat.push(n);
        }
    }
    let c = summarize(&comp);
    let n = summarize(&nat);
    let r = summarize_f64(&paired);
    writeln!(
        out,
        "## 1. Verify: component in a fresh store vs native argon2id"
    )?;
    writeln!(out)?;
    writeln!(out, "| cell | median ms | p10 ms | p90 ms | MAD ms |")?;
    writeln!(out, "|---|---:|---:|---:|---:|")?;
    writeln!(
        out,
        "| component `Plugin::verify` (fresh store, set of {}) | {} | {} | {} | {} |",
        bench.policy.count,
        ms(c.median),
        ms(c.p10),
        ms(c.p90),
        ms(c.mad)
    )?;
    writeln!(
        out,
        "| native argon2id (`hash_password_into`) | {} | {} | {} | {} |",
        ms(n.median),
        ms(n.p10),
        ms(n.p90),
        ms(n.mad)
    )?;
    writeln!(out)?;
    writeln!(out, "| ratio component / native | value |")?;
    writeln!(out, "|---|---:|")?;
    writeln!(out, "| of medians | {:.2}x |", c.median / n.median)?;
    writeln!(
        out,
        "| per round, median (p10-p90) | {:.2}x ({:.2}-{:.2}) |",
        r.median, r.p10, r.p90
    )?;
    writeln!(
        out,
        "| component - native, medians | {} ms |",
        ms(c.median - n.median)
    )?;
    writeln!(out)?;
    Ok(())
}

/// Section 2: verify cost vs set size, wrong and right code, interleaved.
fn section_set_size(out: &mut impl Write, bench: &Bench, settings: &Settings) -> BoxResult<()> {
    let fixtures = SET_SIZES
        .iter()
        .map(|&n| Fixture::new(bench, n))
        .collect::<BoxResult<Vec<_>>>()?;
    // Cell 2k: wrong code against fixtures[k]; cell 2k+1: right code.
    let cells = fixtures.len() * 2;
    let mut samples: Vec<Vec<Duration>> = vec![Vec::with_capacity(settings.samples); cells];
    for round in 0..settings.warmup + settings.samples {
        for step in 0..cells {
            // Rotate the starting cell each round.
            let cell = (round + step) % cells;
            let fixture = &fixtures[cell / 2];
            let d = if cell % 2 == 0 {
                fixture.verify_wrong(&bench.plugin)?
            } else {
                fixture.verify_right(&bench.plugin)?
            };
            if round >= settings.warmup {
                samples[cell].push(d);
            }
        }
    }
    let sums: Vec<Summary> = samples.iter().map(|s| summarize(s)).collect();
    writeln!(
        out,
        "## 2. Verify cost vs set size (component, fresh store)"
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "| N codes | wrong code median ms | p10-p90 ms | right code median ms | p10-p90 ms |"
    )?;
    writeln!(out, "|---:|---:|---:|---:|---:|")?;
    for (k, n) in SET_SIZES.iter().enumerate() {
        let (w, r) = (sums[2 * k], sums[2 * k + 1]);
        writeln!(
            out,
            "| {n} | {} | {}-{} | {} | {}-{} |",
            ms(w.median),
            ms(w.p10),
            ms(w.p90),
            ms(r.median),
            ms(r.p10),
            ms(r.p90)
        )?;
    }
    let last = 2 * (SET_SIZES.len() - 1);
    writeln!(out)?;
    writeln!(
        out,
        "| ratio N={} / N={} (medians) | value |",
        SET_SIZES[SET_SIZES.len() - 1],
        SET_SIZES[0]
    )?;
    writeln!(out, "|---|---:|")?;
    writeln!(
        out,
        "| wrong code | {:.2}x |",
        sums[last].median / sums[0].median
    )?;
    writeln!(
        out,
        "| right code | {:.2}x |",
        sums[last + 1].median / sums[1].median
    )?;
    writeln!(out)?;
    Ok(())
}

/// Section 3: fixed per-call overhead of the trivial `default-policy` call.
fn section_overhead(out: &mut impl Write, bench: &Bench, settings: &Settings) -> BoxResult<()> {
    let mut samples = Vec::with_capacity(settings.trivial_samples);
    for i in 0..settings.trivial_warmup + settings.trivial_samples {
        let start = Instant::now();
        let policy = bench.plugin.default_policy()?;
        let elapsed = start.elapsed();
        black_box(policy);
        if i >= settings.trivial_warmup {
            samples.push(elapsed);
        }
    }
    let s = summarize(&samples);
    writeln!(out, "## 3. Fixed per-call overhead")?;
    writeln!(out)?;
    writeln!(out, "| call | median µs | p10 µs | p90 µs | MAD µs |")?;
    writeln!(out, "|---|---:|---:|---:|---:|")?;
    writeln!(
        out,
        "| `Plugin::default_policy()` (new store + instantiate from `InstancePre` + call) | {} | {} | {} | {} |",
        us(s.median),
        us(s.p10),
        us(s.p90),
        us(s.mad)
    )?;
    writeln!(out)?;
    Ok(())
}

/// Run every section and write the Markdown report to `out`.
fn run(settings: &Settings, out: &mut impl Write) -> BoxResult<()> {
    let started = Instant::now();
    let bench = Bench::load(settings)?;
    write_machine(out, &bench, settings)?;
    out.flush()?;
    section_verify_vs_native(out, &bench, settings)?;
    out.flush()?;
    section_set_size(out, &bench, settings)?;
    out.flush()?;
    section_overhead(out, &bench, settings)?;
    writeln!(
        out,
        "- load average at end: {}; wall time {:.1} s",
        load_average(),
        started.elapsed().as_secs_f64()
    )?;
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quick_run_prints_every_row() -> BoxResult<()> {
        let settings = Settings {
            memory_kib: Some(1024),
            iterations: Some(1),
            ..Settings::quick()
        };
        let mut out = Vec::new();
        run(&settings, &mut out)?;
        let text = String::from_utf8(out)?;
        for needle in [
            "- machine: ",
            "- component SHA-256: ",
            "- argon2id: m=1024 KiB, t=1, p=1",
            "- samples: 3 per argon2 cell",
            "| component `Plugin::verify` (fresh store",
            "| native argon2id (`hash_password_into`)",
            "| of medians | ",
            "| per round, median (p10-p90) | ",
            "| 1 | ",
            "| 10 | ",
            "| 64 | ",
            "| wrong code | ",
            "| right code | ",
            "| `Plugin::default_policy()`",
            "- load average at end: ",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
        }
        Ok(())
    }

    #[test]
    fn quantiles_interpolate() {
        let s = summarize_f64(&[1.0, 2.0, 3.0, 4.0, 5.0]);
        assert!((s.median - 3.0).abs() < 1e-12);
        assert!((s.p10 - 1.4).abs() < 1e-12);
        assert!((s.p90 - 4.6).abs() < 1e-12);
        assert!((s.mad - 1.0).abs() < 1e-12);
    }
}
