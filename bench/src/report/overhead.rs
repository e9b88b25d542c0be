//! Section 3 (P3): the fixed per-call overhead (new store + instantiate +
//! trivial call), and start-up with a cold vs a warm compiled-code cache
//! (separate processes).

use std::hint::black_box;
use std::io::Write;
use std::path::Path;
use std::process::Command;

use backup_codes_shim::plugin::{Plugin, PluginConfig};

use super::fixture::Bench;
use super::{Results, Settings};
use crate::BoxResult;
use crate::raw::{self, RawHost};
use crate::stats::{Cell, ms, summarize, time, us};

/// Section 3 (P3): the trivial call, and start-up with a cold vs warm cache.
pub(super) fn section_overhead(
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
