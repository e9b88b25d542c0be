//! The in-process report: every figure of issue 7 that does not need HTTP,
//! measured side by side in one run, printed as Markdown with its target.
//!
//! 1. P2: `Plugin::verify` in a fresh store (production) vs the same argon2id
//!    computed natively by the same crate, interleaved; C libargon2 for context,
//!    and with `--wasmtime-py` verify through the Python host (examples/python)
//!    in the same rounds.
//! 2. P1: argon2 evaluations per verify for N = 1, 10, 64, counted with fuel,
//!    and the wall-clock cost vs N.
//! 3. P3: the trivial call (new store + instantiate + call), and start-up with
//!    a cold vs a warm compiled-code cache (separate processes).
//! 4. Where the verify time goes: engine variants of a bench-only host, each
//!    as a ratio to native argon2 in the same round.

use std::hint::black_box;
use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use argon2::{Algorithm, Argon2, Params, Version};
use backup_codes_shim::plugin::{
    self, FailureReason, HashParams, Outcome, Plugin, PluginConfig, Policy,
};
use secrecy::{ExposeSecret, SecretString};

use crate::raw::{self, RawHost, Verdict};
use crate::stats::{Cell, Sample, load_average, ms, summarize, time, us, verdict};
use crate::{BoxResult, ReportArgs};

/// Set sizes measured for P1.
pub const SET_SIZES: [u8; 3] = [1, 10, 64];
/// Argon2 output length, as in the plugin.
const DIGEST_LEN: usize = 32;
/// P2 target: component verify / native argon2.
const P2_TARGET: f64 = 1.3;
/// P3 target: trivial call, seconds.
const P3_TARGET: f64 = 10e-6;

/// What one run measures.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Argon2 m (KiB); `None`: the plugin's default policy.
    pub memory_kib: Option<u32>,
    /// Argon2 t.
    pub iterations: Option<u32>,
    /// Argon2 p.
    pub parallelism: Option<u32>,
    /// Unmeasured rounds before the argon2 cells.
    pub warmup: usize,
    /// Measured rounds per argon2 cell.
    pub samples: usize,
    /// Unmeasured trivial calls.
    pub trivial_warmup: usize,
    /// Measured trivial calls.
    pub trivial_samples: usize,
    /// Start-up measurements (child processes per cache state).
    pub startup_runs: usize,
    /// Sections to run (1 to 4).
    pub sections: Vec<u8>,
    /// Python interpreters with `argon2-cffi`, one C libargon2 row each.
    pub python: Vec<String>,
    /// Python interpreters with the `backup_codes` package, one wasmtime-py row each.
    pub wasmtime_py: Vec<String>,
    /// A component file to measure instead of the embedded one.
    pub component: Option<std::path::PathBuf>,
    /// A second component measured in the same P2 rounds.
    pub baseline_component: Option<std::path::PathBuf>,
}

impl Settings {
    /// From the command line.
    pub fn from_args(a: &ReportArgs) -> Self {
        let base = if a.quick { Self::quick() } else { Self::full() };
        Self {
            memory_kib: a.memory_kib,
            iterations: a.iterations,
            parallelism: a.parallelism,
            samples: a.samples.unwrap_or(base.samples).max(1),
            trivial_samples: a.trivial_samples.unwrap_or(base.trivial_samples).max(1),
            sections: a.sections.clone(),
            python: a.python.clone(),
            wasmtime_py: a.wasmtime_py.clone(),
            component: a.component.clone(),
            baseline_component: a.baseline_component.clone(),
            ..base
        }
    }

    /// A full run (about a minute).
    pub fn full() -> Self {
        Self {
            memory_kib: None,
            iterations: None,
            parallelism: None,
            warmup: 3,
            samples: 30,
            trivial_warmup: 500,
            trivial_samples: 5000,
            startup_runs: 3,
            sections: vec![1, 2, 3, 4],
            python: vec!["python3".into()],
            wasmtime_py: Vec::new(),
            component: None,
            baseline_component: None,
        }
    }

    /// A smoke run: every row printed, numbers not meaningful.
    pub fn quick() -> Self {
        Self {
            warmup: 1,
            samples: 3,
            trivial_warmup: 5,
            trivial_samples: 30,
            startup_runs: 1,
            ..Self::full()
        }
    }
}

/// The component under test, the policy and the argon2 parameters in use.
struct Bench {
    plugin: Plugin,
    component: Vec<u8>,
    /// The second component of `--baseline-component`, same configuration, and its bytes.
    baseline: Option<Plugin>,
    baseline_component: Option<Vec<u8>>,
    config: PluginConfig,
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
        let component = match &settings.component {
            Some(path) => std::fs::read(path)?,
            None => plugin::EMBEDDED_COMPONENT.to_vec(),
        };
        let probe = Plugin::from_bytes(&component, config.clone())?;
        let mut policy = probe.default_policy()?;
        drop(probe);
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
        }
        let plugin = Plugin::from_bytes(&component, config.clone())?;
        let baseline_component = match &settings.baseline_component {
            Some(path) => Some(std::fs::read(path)?),
            None => None,
        };
        let baseline = match &baseline_component {
            Some(bytes) => Some(Plugin::from_bytes(bytes, config.clone())?),
            None => None,
        };
        Ok(Self {
            plugin,
            component,
            baseline,
            baseline_component,
            config,
            policy,
        })
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
    fn verify_right(&self, plugin: &Plugin) -> BoxResult<Sample> {
        let (v, s) =
            time(|| plugin.verify(&self.credential, None, &self.right, &self.policy, None));
        match v?.outcome {
            Outcome::Accepted(n) if n == self.right_number => Ok(s),
            other => Err(format!(
                "right code: expected accepted({}), got {other:?}",
                self.right_number
            )
            .into()),
        }
    }

    /// Verify the wrong code against the original credential (never reaches lockout).
    fn verify_wrong(&self, plugin: &Plugin) -> BoxResult<Sample> {
        let (v, s) =
            time(|| plugin.verify(&self.credential, None, &self.wrong, &self.policy, None));
        match v?.outcome {
            Outcome::Rejected(r)
                if r.reason == FailureReason::Mismatch && r.consecutive_failures == 1 =>
            {
                Ok(s)
            }
            other => {
                Err(format!("wrong code: expected rejected(mismatch, 1), got {other:?}").into())
            }
        }
    }

    /// Verify the right code through a bench host, in a fresh store.
    fn verify_raw(&self, host: &RawHost) -> BoxResult<Sample> {
        let policy = raw::policy(&self.policy);
        let (v, s) = time(|| host.verify(&self.credential, self.right.expose_secret(), &policy));
        check_raw(v?.0, self.right_number)?;
        Ok(s)
    }

    /// Verify the right code on a kept instance.
    fn verify_live(&self, live: &mut raw::Live) -> BoxResult<Sample> {
        let policy = raw::policy(&self.policy);
        let (v, s) = time(|| live.verify(&self.credential, self.right.expose_secret(), &policy));
        check_raw(v?, self.right_number)?;
        Ok(s)
    }
}

fn check_raw(v: Verdict, number: u8) -> BoxResult<()> {
    if v == Verdict::Accepted(number) {
        Ok(())
    } else {
        Err(format!("bench host: expected accepted({number}), got {v:?}").into())
    }
}

/// The same argon2id evaluation the plugin makes, natively.
pub struct Native {
    argon: Argon2<'static>,
    password: Vec<u8>,
    salt: [u8; 16],
}

impl Native {
    /// Parameters and the canonical form of `code`.
    pub fn new(hash: HashParams, code: &str) -> BoxResult<Self> {
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

    /// One evaluation, untimed (for `once`: rustix's vDSO clock does not run under valgrind).
    pub fn hash_untimed(&self) -> BoxResult<()> {
        let mut out = [0u8; DIGEST_LEN];
        self.argon
            .hash_password_into(black_box(&self.password), black_box(&self.salt), &mut out)
            .map_err(|e| format!("argon2: {e}"))?;
        black_box(&out);
        Ok(())
    }

    /// One evaluation, timed.
    pub fn hash(&self) -> BoxResult<Sample> {
        let mut out = [0u8; DIGEST_LEN];
        let (r, s) = time(|| {
            self.argon.hash_password_into(
                black_box(&self.password),
                black_box(&self.salt),
                &mut out,
            )
        });
        r.map_err(|e| format!("argon2: {e}"))?;
        black_box(&out);
        Ok(s)
    }
}

fn first_line_value(text: &str, key: &str) -> Option<String> {
    text.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
}

/// One line describing the CPU.
pub fn machine_line() -> String {
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
        .filter(|f| matches!(*f, "avx2" | "avx512f" | "avx512dq" | "avx512vl"))
        .collect();
    format!(
        "{model}; {logical} logical CPUs ({available} available to this process); SIMD: {}",
        if simd.is_empty() {
            "none of avx2/avx512".to_string()
        } else {
            simd.join(", ")
        }
    )
}

fn write_machine(out: &mut impl Write, bench: &Bench, settings: &Settings) -> BoxResult<()> {
    let sha = hex::encode(bench.plugin.sha256());
    let h = bench.policy.hash;
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    writeln!(out, "# backup-codes-bench")?;
    writeln!(out)?;
    writeln!(out, "- machine: {}", machine_line())?;
    writeln!(out, "- kernel: {}", kernel.trim())?;
    writeln!(out, "- load average at start: {}", load_average())?;
    writeln!(
        out,
        "- component SHA-256: {sha} ({} bytes{})",
        bench.component.len(),
        if settings.component.is_some() {
            ", from --component"
        } else {
            ", embedded"
        }
    )?;
    if let Some(baseline) = &bench.baseline {
        writeln!(
            out,
            "- baseline component SHA-256: {} (from --baseline-component, measured in the P2 rounds and in section 4)",
            hex::encode(baseline.sha256())
        )?;
    }
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

/// Figures the summary table needs.
#[derive(Debug, Default)]
struct Results {
    p1_evaluations: Vec<(u8, f64, f64)>,
    p2_ratio: Option<(f64, f64)>,
    p2_cpu_ratio: Option<f64>,
    p3_trivial: Option<f64>,
    p3_startup: Option<(f64, f64)>,
    native_median: Option<f64>,
    c_median: Option<f64>,
}

/// A cell measured in a Python child process, one evaluation per request, so it
/// can be interleaved with the in-process cells: C libargon2 (`argon2_c.py`,
/// via `argon2-cffi`) or verify through the wasmtime-py host (`wasmtime_py.py`).
struct PythonCell {
    python: String,
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    stdout: std::io::BufReader<std::process::ChildStdout>,
}

impl PythonCell {
    /// Start `script` under `python` with `args`, send `setup` as the first
    /// line, and wait for its "ready".
    fn start(python: &str, script: &str, args: &[String], setup: Option<&str>) -> Option<Self> {
        use std::io::BufRead;
        let mut child = Command::new(python)
            .arg("-c")
            .arg(script)
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .ok()?;
        let mut stdin = child.stdin.take()?;
        if let Some(line) = setup {
            writeln!(stdin, "{line}").ok()?;
            stdin.flush().ok()?;
        }
        let mut stdout = std::io::BufReader::new(child.stdout.take()?);
        let mut line = String::new();
        stdout.read_line(&mut line).ok()?;
        if line.trim() != "ready" {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        Some(Self {
            python: python.to_owned(),
            child,
            stdin,
            stdout,
        })
    }

    /// C libargon2 in `python`.
    fn c_reference(python: &str, hash: HashParams) -> Option<Self> {
        let args = [hash.memory_kib, hash.iterations, hash.parallelism].map(|v| v.to_string());
        Self::start(python, include_str!("../argon2_c.py"), &args, None)
    }

    /// `backup_codes.Host.verify` of the fixture's right code, in `python`.
    fn wasmtime_py(python: &str, component: &Path, fixture: &Fixture) -> Option<Self> {
        let h = fixture.policy.hash;
        let args = [
            component.display().to_string(),
            h.memory_kib.to_string(),
            h.iterations.to_string(),
            h.parallelism.to_string(),
            fixture.policy.count.to_string(),
        ];
        let setup = format!(
            "{} {} {}",
            hex::encode(&fixture.credential),
            fixture.right.expose_secret(),
            fixture.right_number
        );
        Self::start(
            python,
            include_str!("../wasmtime_py.py"),
            &args,
            Some(&setup),
        )
    }

    /// One evaluation: wall-clock seconds as the child measured them (and its
    /// thread CPU seconds, when it reports them).
    fn measure(&mut self) -> BoxResult<Sample> {
        self.request("")
    }

    /// One trivial call (wasmtime-py cells only).
    fn trivial(&mut self) -> BoxResult<Sample> {
        self.request("trivial")
    }

    fn request(&mut self, what: &str) -> BoxResult<Sample> {
        use std::io::BufRead;
        writeln!(self.stdin, "{what}")?;
        self.stdin.flush()?;
        let mut line = String::new();
        self.stdout.read_line(&mut line)?;
        let mut parts = line.split_whitespace();
        let wall = parts.next().ok_or("child gave no time")?.parse::<f64>()?;
        let cpu = parts
            .next()
            .map(str::parse::<f64>)
            .transpose()?
            .unwrap_or(f64::NAN);
        Ok(Sample { wall, cpu })
    }
}

impl Drop for PythonCell {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Section 1 (P2): component verify in a fresh store vs native argon2id, interleaved.
fn section_verify_vs_native(
    out: &mut impl Write,
    bench: &Bench,
    settings: &Settings,
    results: &mut Results,
) -> BoxResult<()> {
    let fixture = Fixture::new(bench, bench.policy.count)?;
    let native = Native::new(bench.policy.hash, fixture.right.expose_secret())?;
    if native.password.len() != usize::from(bench.policy.symbols) + 1 {
        return Err("unexpected canonical code length".into());
    }
    let mut comp = Cell::default();
    let mut nat = Cell::default();
    let mut base = Cell::default();
    let mut refs: Vec<PythonCell> = Vec::new();
    let mut missing: Vec<&str> = Vec::new();
    for python in &settings.python {
        match PythonCell::c_reference(python, bench.policy.hash) {
            Some(r) => refs.push(r),
            None => missing.push(python),
        }
    }
    // The wasmtime-py host loads the very bytes measured here, from a file.
    let dir = tempfile::tempdir()?;
    let component_file = dir.path().join("backup-codes.wasm");
    std::fs::write(&component_file, &bench.component)?;
    let mut pys: Vec<PythonCell> = Vec::new();
    let mut py_missing: Vec<&str> = Vec::new();
    for python in &settings.wasmtime_py {
        match PythonCell::wasmtime_py(python, &component_file, &fixture) {
            Some(r) => pys.push(r),
            None => py_missing.push(python),
        }
    }
    // Beside wasmtime-py (whose engine has no pooling allocator), the Rust host
    // with its memory returned to the kernel after every call, as wasmtime's
    // default allocator does: what the allocator alone costs.
    let decommit = if pys.is_empty() {
        None
    } else {
        Some(RawHost::with_component(
            raw::Options {
                keep_resident: 0,
                pagemap_scan: false,
                ..raw::Options::production(bench.config.memory_limit)
            },
            &bench.component,
        )?)
    };
    let mut dec = Cell::default();
    let mut c_times: Vec<Vec<f64>> = vec![Vec::new(); refs.len()];
    let mut c_ratios: Vec<Vec<f64>> = vec![Vec::new(); refs.len()];
    let mut py_cells: Vec<Cell> = vec![Cell::default(); pys.len()];
    // Cells: native, the component, the C references, wasmtime-py, the Rust
    // host with memory decommitted (with wasmtime-py), the baseline component
    // (with --baseline-component).
    let hosts = 2 + refs.len() + pys.len();
    let decommit_cell = decommit.as_ref().map(|_| hosts);
    let cells = hosts + usize::from(decommit.is_some()) + usize::from(bench.baseline.is_some());
    for round in 0..settings.warmup + settings.samples {
        // Every cell once per round; the first one rotates, so that no cell
        // always runs right after the same other one.
        let (mut n, mut c, mut d, mut b) = (None, None, None, None);
        let mut cs = vec![f64::NAN; refs.len()];
        let mut ps: Vec<Option<Sample>> = vec![None; pys.len()];
        for k in 0..cells {
            match (round + k) % cells {
                0 => n = Some(native.hash()?),
                1 => c = Some(fixture.verify_right(&bench.plugin)?),
                i if i < 2 + refs.len() => cs[i - 2] = refs[i - 2].measure()?.wall,
                i if i < hosts => {
                    ps[i - 2 - refs.len()] = Some(pys[i - 2 - refs.len()].measure()?);
                }
                i if Some(i) == decommit_cell => {
                    if let Some(host) = &decommit {
                        d = Some(fixture.verify_raw(host)?);
                    }
                }
                _ => {
                    if let Some(baseline) = &bench.baseline {
                        b = Some(fixture.verify_right(baseline)?);
                    }
                }
            }
        }
        let (n, c) = (
            n.ok_or("native cell missing")?,
            c.ok_or("component cell missing")?,
        );
        if round >= settings.warmup {
            comp.push(c);
            nat.push(n);
            if let Some(b) = b {
                base.push(b);
            }
            for (k, t) in cs.into_iter().enumerate() {
                c_times[k].push(t);
                c_ratios[k].push(n.wall / t);
            }
            for (k, p) in ps.into_iter().enumerate() {
                py_cells[k].push(p.ok_or("wasmtime-py cell missing")?);
            }
            if let Some(d) = d {
                dec.push(d);
            }
        }
    }
    // Per-call overhead, interleaved: wasmtime-py's trivial call vs the Rust host's.
    let mut rust_trivial = Cell::default();
    let mut py_trivial: Vec<Cell> = vec![Cell::default(); pys.len()];
    if !pys.is_empty() {
        for i in 0..settings.trivial_warmup.min(50) + settings.trivial_samples.min(500) {
            let (p, s) = time(|| bench.plugin.default_policy());
            black_box(p?);
            let measured = i >= settings.trivial_warmup.min(50);
            if measured {
                rust_trivial.push(s);
            }
            for (k, py) in pys.iter_mut().enumerate() {
                let t = py.trivial()?;
                if measured {
                    py_trivial[k].push(t);
                }
            }
        }
    }
    let c_median = c_times
        .iter()
        .map(|v| summarize(v).median)
        .min_by(f64::total_cmp);
    let c = comp.wall();
    let n = nat.wall();
    let (wall_ratios, cpu_ratios) = comp.ratios(&nat);
    let r = summarize(&wall_ratios);
    let rc = summarize(&cpu_ratios);
    results.p2_ratio = Some((c.median / n.median, r.median));
    results.p2_cpu_ratio = Some(rc.median);
    results.native_median = Some(n.median);
    results.c_median = c_median;
    writeln!(
        out,
        "## 1. P2 — verify: component in a fresh store vs native argon2id"
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "| cell | median ms | p10 ms | p90 ms | MAD ms | CPU median ms |"
    )?;
    writeln!(out, "|---|---:|---:|---:|---:|---:|")?;
    writeln!(
        out,
        "| component `Plugin::verify` (fresh store, set of {}) | {} | {} | {} | {} | {} |",
        bench.policy.count,
        ms(c.median),
        ms(c.p10),
        ms(c.p90),
        ms(c.mad),
        ms(comp.cpu().median)
    )?;
    writeln!(
        out,
        "| native argon2id, `argon2` crate (`hash_password_into`) | {} | {} | {} | {} | {} |",
        ms(n.median),
        ms(n.p10),
        ms(n.p90),
        ms(n.mad),
        ms(nat.cpu().median)
    )?;
    if bench.baseline.is_some() {
        let b = base.wall();
        writeln!(
            out,
            "| baseline component `Plugin::verify` (`--baseline-component`, same rounds) | {} | {} | {} | {} | {} |",
            ms(b.median),
            ms(b.p10),
            ms(b.p90),
            ms(b.mad),
            ms(base.cpu().median)
        )?;
    }
    for (r, times) in refs.iter().zip(&c_times) {
        let t = summarize(times);
        writeln!(
            out,
            "| for context: C libargon2 (`argon2-cffi` `hash_secret_raw` under `{}`) | {} | {} | {} | {} | |",
            r.python,
            ms(t.median),
            ms(t.p10),
            ms(t.p90),
            ms(t.mad)
        )?;
    }
    for python in &missing {
        writeln!(
            out,
            "| for context: C libargon2 | not measured (`{python}` cannot `import argon2`; `pip install argon2-cffi`) | | | | |"
        )?;
    }
    for (r, cell) in pys.iter().zip(&py_cells) {
        let t = cell.wall();
        writeln!(
            out,
            "| wasmtime-py host `backup_codes.Host.verify` (fresh store, set of {}) under `{}` | {} | {} | {} | {} | {} |",
            bench.policy.count,
            r.python,
            ms(t.median),
            ms(t.p10),
            ms(t.p90),
            ms(t.mad),
            ms(cell.cpu().median)
        )?;
    }
    for python in &py_missing {
        writeln!(
            out,
            "| wasmtime-py host | not measured (`{python}` cannot `import backup_codes`; see examples/python) | | | | |"
        )?;
    }
    if decommit.is_some() {
        let t = dec.wall();
        writeln!(
            out,
            "| for context: bench host (Rust), production settings but memory returned to the kernel after each call (as wasmtime's default allocator, which wasmtime-py uses) | {} | {} | {} | {} | {} |",
            ms(t.median),
            ms(t.p10),
            ms(t.p90),
            ms(t.mad),
            ms(dec.cpu().median)
        )?;
    }
    writeln!(out)?;
    writeln!(out, "| ratio | value | target |")?;
    writeln!(out, "|---|---:|---:|")?;
    writeln!(
        out,
        "| component / native, of medians | {:.2}x | <= {P2_TARGET:.1}x |",
        c.median / n.median
    )?;
    writeln!(
        out,
        "| component / native, per round, median (p10-p90) | {:.2}x ({:.2}-{:.2}) | <= {P2_TARGET:.1}x |",
        r.median, r.p10, r.p90
    )?;
    writeln!(
        out,
        "| component / native, thread CPU time per round, median | {:.2}x | |",
        rc.median
    )?;
    writeln!(
        out,
        "| component - native, medians | {} ms | |",
        ms(c.median - n.median)
    )?;
    if bench.baseline.is_some() {
        let b = base.wall();
        let rb = summarize(&base.ratios(&nat).0);
        let rcb = summarize(&comp.ratios(&base).0);
        writeln!(
            out,
            "| baseline component / native, of medians | {:.2}x | |",
            b.median / n.median
        )?;
        writeln!(
            out,
            "| baseline component / native, per round, median (p10-p90) | {:.2}x ({:.2}-{:.2}) | |",
            rb.median, rb.p10, rb.p90
        )?;
        writeln!(
            out,
            "| component / baseline component, per round, median (p10-p90) | {:.3}x ({:.3}-{:.3}) | |",
            rcb.median, rcb.p10, rcb.p90
        )?;
        writeln!(
            out,
            "| gain in component / native, per-round medians (1 - component / baseline) | {:.1}% | |",
            100.0 * (1.0 - r.median / rb.median)
        )?;
    }
    for (r, ratios) in refs.iter().zip(&c_ratios) {
        writeln!(
            out,
            "| native `argon2` crate / C libargon2 under `{}`, per round, median | {:.2}x | |",
            r.python,
            summarize(ratios).median
        )?;
    }
    for (r, cell) in pys.iter().zip(&py_cells) {
        let py = cell.wall();
        let (to_rust, to_rust_cpu) = cell.ratios(&comp);
        let (to_native, _) = cell.ratios(&nat);
        let tr = summarize(&to_rust);
        let tn = summarize(&to_native);
        writeln!(
            out,
            "| wasmtime-py / Rust host (`Plugin::verify`) under `{}`, of medians; per round, median (p10-p90) | {:.2}x; {:.2}x ({:.2}-{:.2}) | |",
            r.python,
            py.median / c.median,
            tr.median,
            tr.p10,
            tr.p90
        )?;
        writeln!(
            out,
            "| wasmtime-py / Rust host, thread CPU time per round, median | {:.2}x | |",
            summarize(&to_rust_cpu).median
        )?;
        writeln!(
            out,
            "| wasmtime-py / native argon2id, of medians; per round, median (p10-p90) | {:.2}x; {:.2}x ({:.2}-{:.2}) | |",
            py.median / n.median,
            tn.median,
            tn.p10,
            tn.p90
        )?;
        writeln!(
            out,
            "| wasmtime-py - Rust host, medians | {} ms | |",
            ms(py.median - c.median)
        )?;
        if decommit.is_some() {
            let (to_dec, _) = cell.ratios(&dec);
            writeln!(
                out,
                "| wasmtime-py / Rust bench host with memory returned after each call, per round, median | {:.2}x | |",
                summarize(&to_dec).median
            )?;
        }
    }
    for (r, cell) in pys.iter().zip(&py_trivial) {
        let (py, rust) = (cell.wall(), rust_trivial.wall());
        writeln!(
            out,
            "| per-call overhead (new store + instantiate + `default-policy`), medians: wasmtime-py `Host.default_policy()` under `{}` vs `Plugin::default_policy()` | {} µs vs {} µs | |",
            r.python,
            us(py.median),
            us(rust.median)
        )?;
    }
    writeln!(out)?;
    Ok(())
}

/// Section 2 (P1): argon2 evaluations per verify, counted with fuel, and the
/// wall-clock cost of verify vs set size.
fn section_set_size(
    out: &mut impl Write,
    bench: &Bench,
    settings: &Settings,
    results: &mut Results,
) -> BoxResult<()> {
    let fixtures = SET_SIZES
        .iter()
        .map(|&n| Fixture::new(bench, n))
        .collect::<BoxResult<Vec<_>>>()?;

    // Counting: fuel is one unit per wasm operator executed, deterministic.
    let counter = RawHost::with_component(
        raw::Options {
            fuel: true,
            ..raw::Options::production(bench.config.memory_limit)
        },
        &bench.component,
    )?;
    let (n1, fuel1) = counter.issue(&raw::policy(&bench.policy_with_count(1)))?;
    let (n64, fuel64) = counter.issue(&raw::policy(&bench.policy_with_count(64)))?;
    if n1 != 1 || n64 != 64 {
        return Err("issue returned the wrong number of codes".into());
    }
    // Fuel of one more issued code: one argon2 evaluation plus drawing and
    // encoding one code (a few thousand operators).
    #[allow(clippy::cast_precision_loss)]
    let per_code = (fuel64 - fuel1) as f64 / 63.0;
    writeln!(
        out,
        "## 2. P1 — argon2 evaluations per verify attempt vs set size"
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "Counted with wasmtime fuel (one unit per wasm operator the component executes; \
         deterministic). One argon2 evaluation = the fuel one more code adds to `issue` \
         ((issue N=64 - issue N=1) / 63 = {per_code:.0} fuel, which also includes drawing \
         and encoding that code)."
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "| N codes | wrong code fuel | = evaluations | right code fuel | = evaluations |"
    )?;
    writeln!(out, "|---:|---:|---:|---:|---:|")?;
    for (n, f) in SET_SIZES.iter().zip(&fixtures) {
        let policy = raw::policy(&f.policy);
        let (vw, fw) = counter.verify(&f.credential, f.wrong.expose_secret(), &policy)?;
        let (vr, fr) = counter.verify(&f.credential, f.right.expose_secret(), &policy)?;
        if vw != Verdict::Mismatch {
            return Err(format!("fuel count, N={n}: wrong code gave {vw:?}").into());
        }
        check_raw(vr, f.right_number)?;
        #[allow(clippy::cast_precision_loss)]
        let (ew, er) = (fw as f64 / per_code, fr as f64 / per_code);
        results.p1_evaluations.push((*n, ew, er));
        writeln!(out, "| {n} | {fw} | {ew:.3} | {fr} | {er:.3} |")?;
    }
    if let (Some(first), Some(last)) = (
        results.p1_evaluations.first(),
        results.p1_evaluations.last(),
    ) {
        writeln!(out)?;
        writeln!(
            out,
            "N={} minus N={} (right code): {:+.4} evaluations; the rest of a verify \
             (decode, normalise, 64 constant-time comparisons, encode) is the fraction above 1.",
            last.0,
            first.0,
            last.2 - first.2
        )?;
    }
    writeln!(out)?;

    // Timing: the six cells interleaved, rotating the starting cell each round.
    let cells = fixtures.len() * 2;
    let mut samples: Vec<Cell> = vec![Cell::default(); cells];
    for round in 0..settings.warmup + settings.samples {
        for step in 0..cells {
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
    let sums: Vec<_> = samples.iter().map(Cell::wall).collect();
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

/// Section 3 (P3): the trivial call, and start-up with a cold vs warm cache.
fn section_overhead(
    out: &mut impl Write,
    bench: &Bench,
    settings: &Settings,
    results: &mut Results,
) -> BoxResult<()> {
    // Interleaved: production, then the bench host with and without the
    // pool's keep-resident reset (the previous production setting).
    let limit = bench.config.memory_limit;
    let hosts = [
        RawHost::with_component(raw::Options::production(limit), &bench.component)?,
        RawHost::with_component(
            raw::Options {
                keep_resident: 0,
                pagemap_scan: false,
                ..raw::Options::production(limit)
            },
            &bench.component,
        )?,
    ];
    let mut cells: Vec<Cell> = vec![Cell::default(); 3];
    for i in 0..settings.trivial_warmup + settings.trivial_samples {
        for step in 0..3 {
            let cell = (i + step) % 3;
            let s = match cell {
                0 => {
                    let (p, s) = time(|| bench.plugin.default_policy());
                    black_box(p?);
                    s
                }
                c => {
                    let (p, s) = time(|| hosts[c - 1].trivial());
                    black_box(p?);
                    s
                }
            };
            if i >= settings.trivial_warmup {
                cells[cell].push(s);
            }
        }
    }
    let s = cells[0].wall();
    results.p3_trivial = Some(s.median);
    writeln!(out, "## 3. P3 — fixed per-call overhead and start-up")?;
    writeln!(out)?;
    writeln!(
        out,
        "| call | median µs | p10 µs | p90 µs | MAD µs | CPU median µs | target |"
    )?;
    writeln!(out, "|---|---:|---:|---:|---:|---:|---:|")?;
    let names = [
        "`Plugin::default_policy()` (slot permit + new store + instantiate from `InstancePre` + call)",
        "bench host, same settings (no permit, no result checks)",
        "bench host, memory and tables decommitted after each call (previous setting)",
    ];
    for (k, (name, cell)) in names.iter().zip(&cells).enumerate() {
        let w = cell.wall();
        writeln!(
            out,
            "| {name} | {} | {} | {} | {} | {} | {} |",
            us(w.median),
            us(w.p10),
            us(w.p90),
            us(w.mad),
            us(cell.cpu().median),
            if k == 0 { "<= 10 µs" } else { "" }
        )?;
    }
    writeln!(out)?;

    if settings.startup_runs == 0 {
        writeln!(out, "Start-up: not measured (`startup_runs` = 0).")?;
        writeln!(out)?;
        return Ok(());
    }
    let startup = measure_startup(settings.startup_runs)?;
    results.p3_startup = Some((startup.cold, startup.warm));
    writeln!(
        out,
        "Start-up (`Plugin::from_bytes` of the embedded component in a new process, \
         {} run(s) each, medians): compiled-code cache keyed by the component's hash \
         (and the engine's settings and wasmtime version).",
        settings.startup_runs
    )?;
    writeln!(out)?;
    writeln!(out, "| start-up | median ms |")?;
    writeln!(out, "|---|---:|")?;
    writeln!(out, "| no disk cache (compile) | {} |", ms(startup.none))?;
    writeln!(
        out,
        "| cold cache (compile + write) | {} |",
        ms(startup.cold)
    )?;
    writeln!(
        out,
        "| warm cache (restart: read, no compile) | {} |",
        ms(startup.warm)
    )?;
    writeln!(out, "| cold / warm | {:.1}x |", startup.cold / startup.warm)?;
    writeln!(out)?;
    Ok(())
}

struct Startup {
    none: f64,
    cold: f64,
    warm: f64,
}

/// Run `backup-codes-bench startup-child` in new processes: without a cache,
/// with an empty cache directory, and again with the directory it filled.
fn measure_startup(runs: usize) -> BoxResult<Startup> {
    let exe = std::env::current_exe()?;
    let child = |cache: Option<&Path>| -> BoxResult<f64> {
        let mut cmd = Command::new(&exe);
        cmd.arg("startup-child");
        if let Some(dir) = cache {
            cmd.arg("--cache-dir").arg(dir);
        }
        let output = cmd.output()?;
        if !output.status.success() {
            return Err(format!(
                "startup-child failed: {}",
                String::from_utf8_lossy(&output.stderr)
            )
            .into());
        }
        let text = String::from_utf8_lossy(&output.stdout);
        Ok(text.trim().parse::<f64>()?)
    };
    let (mut none, mut cold, mut warm) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs.max(1) {
        none.push(child(None)?);
        let dir = tempfile::tempdir()?;
        cold.push(child(Some(dir.path()))?);
        warm.push(child(Some(dir.path()))?);
        warm.push(child(Some(dir.path()))?);
    }
    Ok(Startup {
        none: summarize(&none).median,
        cold: summarize(&cold).median,
        warm: summarize(&warm).median,
    })
}

/// The child side of [`measure_startup`]: load the component, make one call,
/// print the load time in seconds.
pub fn startup_child(cache_dir: Option<std::path::PathBuf>) -> BoxResult<()> {
    let config = PluginConfig {
        cache_dir,
        ..PluginConfig::default()
    };
    let (plugin, s) = time(|| Plugin::embedded(config));
    let plugin = plugin?;
    black_box(plugin.default_policy()?);
    println!("{}", s.wall);
    Ok(())
}

/// `backup-codes-bench once`: set up, then make exactly one measured call in
/// [`measured`], so that `valgrind --tool=callgrind --toggle-collect='*measured*'`
/// counts the instructions of that call alone.
pub fn once(
    what: &str,
    count: u8,
    memory_kib: Option<u32>,
    component: Option<std::path::PathBuf>,
) -> BoxResult<()> {
    let settings = Settings {
        memory_kib,
        component,
        ..Settings::quick()
    };
    let bench = Bench::load(&settings)?;
    let policy = bench.policy_with_count(count);
    match what {
        "verify" => {
            let issued = bench.plugin.issue(None, &policy, None)?;
            let code = issued.codes.last().ok_or("issue returned no codes")?;
            let code = SecretString::from(code.code.expose_secret().clone());
            // Warm up: the first call in a slot maps the memory image.
            bench
                .plugin
                .verify(&issued.credential, None, &code, &policy, None)?;
            measured(|| {
                bench
                    .plugin
                    .verify(&issued.credential, None, &code, &policy, None)
                    .map(|_| ())
                    .map_err(Into::into)
            })
        }
        "native" => {
            let native = Native::new(bench.policy.hash, "0123456789ABCD")?;
            native.hash_untimed()?;
            measured(|| native.hash_untimed())
        }
        "trivial" => {
            bench.plugin.default_policy()?;
            measured(|| {
                bench
                    .plugin
                    .default_policy()
                    .map(|_| ())
                    .map_err(Into::into)
            })
        }
        other => Err(format!("--what {other}: use verify, native or trivial").into()),
    }
}

/// The one call `once` measures (a separate symbol for callgrind).
#[inline(never)]
fn measured(f: impl FnOnce() -> BoxResult<()>) -> BoxResult<()> {
    black_box(f())
}

/// Section 4: where the verify time goes, from engine variants of the bench host.
fn section_breakdown(out: &mut impl Write, bench: &Bench, settings: &Settings) -> BoxResult<()> {
    let limit = bench.config.memory_limit;
    let production = raw::Options::production(limit);
    let variants: Vec<(&str, raw::Options)> = vec![
        ("bench host, production settings", production),
        (
            "... but `i64x2.mul` as a `pmuludq` sequence, not AVX-512DQ `vpmullq`",
            raw::Options {
                no_avx512dq: true,
                ..production
            },
        ),
        (
            "... but no AVX-512 at all (AVX2 only; `i64x2.extmul_low_i32x4_u` as `pmuludq`)",
            raw::Options {
                no_avx512: true,
                ..production
            },
        ),
        (
            "... but memory decommitted after each call (`keep_resident` 0, the previous setting)",
            raw::Options {
                keep_resident: 0,
                pagemap_scan: false,
                ..production
            },
        ),
        (
            "... but `keep_resident` without `PAGEMAP_SCAN` (memset of the first bytes)",
            raw::Options {
                pagemap_scan: false,
                ..production
            },
        ),
        (
            "... but on-demand allocator (no pool)",
            raw::Options {
                pooling: false,
                ..production
            },
        ),
        (
            "... but no epoch checks (not allowed in production)",
            raw::Options {
                epoch: false,
                ..production
            },
        ),
    ];
    let mut variants: Vec<(&str, raw::Options, &[u8])> = variants
        .into_iter()
        .map(|(name, options)| (name, options, bench.component.as_slice()))
        .collect();
    if let Some(baseline) = &bench.baseline_component {
        // The same credential verifies only if both components compute the same digests.
        variants.push((
            "baseline component (`--baseline-component`), bench host, production settings",
            production,
            baseline,
        ));
        variants.push((
            "baseline component, bench host, no AVX-512 at all",
            raw::Options {
                no_avx512: true,
                ..production
            },
            baseline,
        ));
    }
    let hosts = variants
        .iter()
        .map(|(_, o, bytes)| RawHost::with_component(*o, bytes))
        .collect::<BoxResult<Vec<_>>>()?;
    let fixture = Fixture::new(bench, bench.policy.count)?;
    let native = Native::new(bench.policy.hash, fixture.right.expose_secret())?;
    let mut live = hosts[0].live()?;
    // Cells: 0 native, 1 Plugin, 2.. hosts, last: kept instance.
    let cells = 3 + hosts.len();
    let mut samples: Vec<Cell> = vec![Cell::default(); cells];
    for round in 0..settings.warmup + settings.samples {
        let mut row: Vec<Option<Sample>> = vec![None; cells];
        for step in 0..cells {
            let cell = (round + step) % cells;
            let s = match cell {
                0 => native.hash()?,
                1 => fixture.verify_right(&bench.plugin)?,
                c if c == cells - 1 => fixture.verify_live(&mut live)?,
                c => fixture.verify_raw(&hosts[c - 2])?,
            };
            row[cell] = Some(s);
        }
        if round >= settings.warmup {
            for (cell, s) in row.into_iter().enumerate() {
                if let Some(s) = s {
                    samples[cell].push(s);
                }
            }
        }
    }
    writeln!(out, "## 4. Where the verify time goes (engine variants)")?;
    writeln!(out)?;
    writeln!(
        out,
        "Each round runs every cell once (rotating the first); ratios are to native argon2 \
         in the same round. The bench host is a copy of the production host with knobs \
         (`bench/src/raw.rs`); `Plugin` is production itself."
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "| cell | median ms | CPU median ms | / native, per round (wall) | / native (CPU) | / bench host production, per round (CPU) |"
    )?;
    writeln!(out, "|---|---:|---:|---:|---:|---:|")?;
    let base = samples[0].clone();
    let host_base = samples[2].clone();
    let mut names: Vec<String> = vec![
        "native argon2id".into(),
        "`Plugin::verify` (production)".into(),
    ];
    names.extend(variants.iter().map(|(n, _, _)| (*n).to_string()));
    names.push(
        "bench host, one instance kept across calls (no fresh store; not allowed in production)"
            .into(),
    );
    for (name, cell) in names.iter().zip(&samples) {
        let (w, c) = cell.ratios(&base);
        let (_, h) = cell.ratios(&host_base);
        writeln!(
            out,
            "| {name} | {} | {} | {:.2}x | {:.2}x | {:.3}x |",
            ms(cell.wall().median),
            ms(cell.cpu().median),
            summarize(&w).median,
            summarize(&c).median,
            summarize(&h).median
        )?;
    }
    writeln!(out)?;
    Ok(())
}

fn write_summary(out: &mut impl Write, results: &Results) -> BoxResult<()> {
    writeln!(out, "## Targets (this run)")?;
    writeln!(out)?;
    writeln!(out, "| target | measured | goal | |")?;
    writeln!(out, "|---|---:|---:|---|")?;
    if !results.p1_evaluations.is_empty() {
        let all_one = results
            .p1_evaluations
            .iter()
            .all(|(_, w, r)| w.round() as i64 == 1 && r.round() as i64 == 1);
        let text: Vec<String> = results
            .p1_evaluations
            .iter()
            .map(|(n, w, r)| format!("N={n}: {w:.3}/{r:.3}"))
            .collect();
        writeln!(
            out,
            "| P1 argon2 evaluations per verify (wrong/right) | {} | 1 | {} |",
            text.join(", "),
            verdict(all_one)
        )?;
    }
    if let Some((of_medians, per_round)) = results.p2_ratio {
        writeln!(
            out,
            "| P2 fresh-store verify / native (of medians; per-round median) | {of_medians:.2}x; {per_round:.2}x | <= {P2_TARGET:.1}x | {} |",
            verdict(of_medians <= P2_TARGET)
        )?;
    }
    if let Some(t) = results.p3_trivial {
        writeln!(
            out,
            "| P3 trivial call (median) | {} µs | <= 10 µs | {} |",
            us(t),
            verdict(t <= P3_TARGET)
        )?;
    }
    if let Some((cold, warm)) = results.p3_startup {
        writeln!(
            out,
            "| P3 start-up, cold / warm cache | {} / {} ms | warm does not compile | {} |",
            ms(cold),
            ms(warm),
            verdict(warm * 2.0 < cold)
        )?;
    }
    if let (Some(n), Some(c)) = (results.native_median, results.c_median) {
        writeln!(
            out,
            "| context: native `argon2` crate / fastest C libargon2 measured, medians | {:.2}x | | |",
            n / c
        )?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "P4 and P5 (HTTP throughput, latency, memory under overload) are measured by \
         `backup-codes-bench load`."
    )?;
    writeln!(out)?;
    Ok(())
}

/// Run every section and write the Markdown report to `out`.
pub fn run(settings: &Settings, out: &mut impl Write) -> BoxResult<()> {
    let started = std::time::Instant::now();
    let bench = Bench::load(settings)?;
    let mut results = Results::default();
    write_machine(out, &bench, settings)?;
    out.flush()?;
    let on = |n: u8| settings.sections.contains(&n);
    if on(1) {
        section_verify_vs_native(out, &bench, settings, &mut results)?;
        out.flush()?;
    }
    if on(2) {
        section_set_size(out, &bench, settings, &mut results)?;
        out.flush()?;
    }
    if on(3) {
        section_overhead(out, &bench, settings, &mut results)?;
        out.flush()?;
    }
    if on(4) {
        section_breakdown(out, &bench, settings)?;
        out.flush()?;
    }
    write_summary(out, &results)?;
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
            // The test binary cannot run `startup-child`; tests/cli.rs covers it.
            startup_runs: 0,
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
            "| native argon2id, `argon2` crate",
            "| for context: C libargon2",
            "| component / native, of medians | ",
            "| component / native, per round, median (p10-p90) | ",
            "| 1 | ",
            "| 10 | ",
            "| 64 | ",
            "| wrong code | ",
            "| right code | ",
            "| `Plugin::default_policy()`",
            "| `Plugin::verify` (production) | ",
            "| P1 argon2 evaluations per verify",
            "| P2 fresh-store verify / native",
            "| P3 trivial call (median) | ",
            "- load average at end: ",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
        }
        // The count is exact: one evaluation per attempt whatever the set size.
        for line in text.lines().filter(|l| l.starts_with("| P1 ")) {
            assert!(line.ends_with("pass |"), "{line}");
        }
        Ok(())
    }

    #[test]
    fn baseline_component_is_measured_in_the_same_rounds() -> BoxResult<()> {
        let dir = tempfile::tempdir()?;
        let baseline = dir.path().join("baseline.wasm");
        std::fs::write(&baseline, plugin::EMBEDDED_COMPONENT)?;
        let settings = Settings {
            memory_kib: Some(1024),
            iterations: Some(1),
            sections: vec![1, 4],
            baseline_component: Some(baseline),
            ..Settings::quick()
        };
        let mut out = Vec::new();
        run(&settings, &mut out)?;
        let text = String::from_utf8(out)?;
        for needle in [
            "- baseline component SHA-256: ",
            "| baseline component `Plugin::verify` (`--baseline-component`, same rounds) | ",
            "| baseline component / native, per round, median (p10-p90) | ",
            "| component / baseline component, per round, median (p10-p90) | ",
            "| gain in component / native, per-round medians",
            "| ... but no AVX-512 at all",
            "| baseline component (`--baseline-component`), bench host, production settings | ",
            "| baseline component, bench host, no AVX-512 at all | ",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
        }
        Ok(())
    }
}
