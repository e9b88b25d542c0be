//! The report's header: the machine, the kernel, the load, the component and
//! the argon2 parameters of the run.

use std::io::Write;

use super::Settings;
use super::fixture::Bench;
use crate::BoxResult;
use crate::stats::load_average;

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

pub(super) fn write_machine(
    out: &mut impl Write,
    bench: &Bench,
    settings: &Settings,
) -> BoxResult<()> {
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
