//! Section 2 (P1): argon2 evaluations per verify attempt for N = 1, 10, 64
//! codes, counted with wasmtime fuel, and the wall-clock cost of verify vs N.

use std::io::Write;

use secrecy::ExposeSecret;

use super::fixture::{Bench, Fixture, check_raw};
use super::{Results, SET_SIZES, Settings};
use crate::BoxResult;
use crate::raw::{self, RawHost, Verdict};
use crate::stats::{Cell, ms};

/// Section 2 (P1): argon2 evaluations per verify, counted with fuel, and the
/// wall-clock cost of verify vs set size.
pub(super) fn section_set_size(
    out: &mut impl Write,
    bench: &Bench,
    settings: &Settings,
    results: &mut Results,
) -> BoxResult<()> {
    let fixtures = SET_SIZES
        .iter()
        .map(|&n| Fixture::new(bench, n))
        .collect::<BoxResult<Vec<_>>>()?;
    count_evaluations(out, bench, &fixtures, results)?;
    time_set_sizes(out, bench, settings, &fixtures)
}

/// The fuel of a wrong and a right code's verify for each N, in evaluations.
fn count_evaluations(
    out: &mut impl Write,
    bench: &Bench,
    fixtures: &[Fixture],
    results: &mut Results,
) -> BoxResult<()> {
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
    for (n, f) in SET_SIZES.iter().zip(fixtures) {
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
    Ok(())
}

/// The six cells (wrong and right code for each N) interleaved, rotating the
/// starting cell each round.
fn time_set_sizes(
    out: &mut impl Write,
    bench: &Bench,
    settings: &Settings,
    fixtures: &[Fixture],
) -> BoxResult<()> {
    let cells = fixtures.len() * 2;
    let mut samples: Vec<Cell> = vec![Cell::default(); cells];
    for round in 0..settings.warmup + settings.samples {
        for step in 0..cells {
            let cell = (round + step) % cells;
            let fixture = &fixtures[cell / 2];
            let d = if cell.is_multiple_of(2) {
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
