//! The in-process report: every figure of issue 7 that does not need HTTP,
//! measured side by side in one run, printed as Markdown with its target.
//!
//! 1. P2: `Plugin::verify` in a fresh store (production) vs the same argon2id
//!    computed natively by the same crate, interleaved; C libargon2 for context,
//!    and with `--wasmtime-py` verify through the Python host (examples/python)
//!    in the same rounds ([`verify`], [`python`]).
//! 2. P1: argon2 evaluations per verify for N = 1, 10, 64, counted with fuel,
//!    and the wall-clock cost vs N ([`set_size`]).
//! 3. P3: the trivial call (new store + instantiate + call), and start-up with
//!    a cold vs a warm compiled-code cache (separate processes) ([`overhead`]).
//! 4. Where the verify time goes: engine variants of a bench-only host, each
//!    as a ratio to native argon2 in the same round ([`breakdown`]).
//!
//! [`fixture`] holds what they measure with, [`machine`] the header,
//! [`summary`] the closing table, [`once`] the single call for callgrind.

use std::io::Write;

use crate::stats::load_average;
use crate::{BoxResult, ReportArgs};

mod breakdown;
mod fixture;
mod machine;
mod once;
mod overhead;
mod python;
mod set_size;
mod summary;
mod verify;

pub use self::fixture::Native;
pub use self::machine::machine_line;
pub use self::once::once;
pub use self::overhead::startup_child;

/// Set sizes measured for P1.
pub const SET_SIZES: [u8; 3] = [1, 10, 64];
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

/// Run every section and write the Markdown report to `out`.
pub fn run(settings: &Settings, out: &mut impl Write) -> BoxResult<()> {
    let started = std::time::Instant::now();
    let bench = fixture::Bench::load(settings)?;
    let mut results = Results::default();
    machine::write_machine(out, &bench, settings)?;
    out.flush()?;
    let on = |n: u8| settings.sections.contains(&n);
    if on(1) {
        verify::section_verify_vs_native(out, &bench, settings, &mut results)?;
        out.flush()?;
    }
    if on(2) {
        set_size::section_set_size(out, &bench, settings, &mut results)?;
        out.flush()?;
    }
    if on(3) {
        overhead::section_overhead(out, &bench, settings, &mut results)?;
        out.flush()?;
    }
    if on(4) {
        breakdown::section_breakdown(out, &bench, settings)?;
        out.flush()?;
    }
    summary::write_summary(out, &results)?;
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
    use backup_codes_shim::plugin;

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
