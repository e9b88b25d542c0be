//! The report's closing table: each target of this run with its verdict.

use std::io::Write;

use super::{P2_TARGET, P3_TARGET, Results};
use crate::BoxResult;
use crate::stats::{ms, us, verdict};

pub(super) fn write_summary(out: &mut impl Write, results: &Results) -> BoxResult<()> {
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
