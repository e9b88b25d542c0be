//! Section 4: where the verify time goes, from engine variants of the bench
//! host, each as a ratio to native argon2 in the same round.

use std::io::Write;

use secrecy::ExposeSecret;

use super::Settings;
use super::fixture::{Bench, Fixture, Native};
use crate::BoxResult;
use crate::raw::{self, RawHost};
use crate::stats::{Cell, Sample, ms, summarize};

/// A variant of the bench host: its row's name, its engine options and the
/// component it runs.
type Variant<'a> = (&'static str, raw::Options, &'a [u8]);

/// Section 4: where the verify time goes, from engine variants of the bench host.
pub(super) fn section_breakdown(
    out: &mut impl Write,
    bench: &Bench,
    settings: &Settings,
) -> BoxResult<()> {
    let variants = variants(bench);
    let samples = measure(bench, settings, &variants)?;
    write_table(out, &variants, &samples)
}

/// Production settings, then one knob changed at a time (and the baseline
/// component's rows with `--baseline-component`).
fn variants(bench: &Bench) -> Vec<Variant<'_>> {
    let limit = bench.config.memory_limit;
    let production = raw::Options::production(limit);
    let variants: Vec<(&'static str, raw::Options)> = vec![
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
    let mut variants: Vec<Variant<'_>> = variants
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
    variants
}

/// Every cell once per round, rotating the first: native argon2, `Plugin`,
/// each variant, and the kept instance.
fn measure(bench: &Bench, settings: &Settings, variants: &[Variant<'_>]) -> BoxResult<Vec<Cell>> {
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
    Ok(samples)
}

/// The table: each cell's medians and its ratios to native and to the bench
/// host with production settings.
fn write_table(out: &mut impl Write, variants: &[Variant<'_>], samples: &[Cell]) -> BoxResult<()> {
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
    for (name, cell) in names.iter().zip(samples) {
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
