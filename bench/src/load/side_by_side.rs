//! `load --baseline-shim`: two shim binaries (for example the static musl
//! build and the glibc one) under the same closed-loop verify load in one run.
//! Their runs alternate (the order flips every round, so a drift of the
//! machine falls on both), and each client count prints the medians over the
//! rounds of throughput, median latency and shim CPU per verify, with the
//! ratio of the first shim to the baseline; then each process's peak memory.

use std::io::Write;

use super::clients::{prepare_clients, run_clients};
use super::shim::{Shim, memory_of, mib};
use super::{Bounds, Durations, LoadArgs};
use crate::BoxResult;
use crate::stats::{ms, summarize};

/// One run's figures: verifies per second, median latency (s), CPU per verify (s).
#[derive(Debug, Clone, Copy)]
struct Figures {
    throughput: f64,
    median: f64,
    cpu_per_verify: f64,
}

/// Runs both shims at every client count of `args.concurrency`, `rounds`
/// times each, and prints the comparison.
#[allow(clippy::too_many_arguments)]
pub(super) async fn compare(
    out: &mut impl Write,
    args: &LoadArgs,
    shims: [(&str, &Shim); 2],
    http: &reqwest::Client,
    wrong: &str,
    d: Durations,
    bounds: &Bounds,
    rounds: usize,
) -> BoxResult<()> {
    let [(name_a, _), (name_b, _)] = shims;
    writeln!(
        out,
        "## Side by side — `{name_a}` against `{name_b}` (medians of {rounds} alternating runs each)"
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "| clients | verifies/s: first | baseline | first / baseline | p50 ms: first | baseline | first / baseline | shim CPU per verify ms: first | baseline | first / baseline |"
    )?;
    writeln!(out, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")?;
    for &clients in &args.concurrency {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let attempts =
            (((d.seconds + d.warmup + 2.0) * bounds.native() * 1.5) as usize) / clients.max(1) + 10;
        let mut figures: [Vec<Figures>; 2] = [Vec::new(), Vec::new()];
        for round in 0..rounds {
            let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
            for i in order {
                let shim = shims[i].1;
                let tag = format!("side{i}c{clients}r{round}");
                let prepared =
                    prepare_clients(http, shim, &tag, clients, attempts, args.right_every, wrong)
                        .await?;
                let r = run_clients(shim, prepared, d.warmup, d.seconds).await?;
                #[allow(clippy::cast_precision_loss)]
                let cpu_per_verify = r.shim_cpu / r.answered().max(1) as f64;
                figures[i].push(Figures {
                    throughput: r.throughput(),
                    median: summarize(&r.tally.latencies).median,
                    cpu_per_verify,
                });
            }
        }
        let median = |i: usize, f: fn(&Figures) -> f64| {
            summarize(&figures[i].iter().map(f).collect::<Vec<_>>()).median
        };
        let (t, l, c) = (
            [median(0, |f| f.throughput), median(1, |f| f.throughput)],
            [median(0, |f| f.median), median(1, |f| f.median)],
            [
                median(0, |f| f.cpu_per_verify),
                median(1, |f| f.cpu_per_verify),
            ],
        );
        writeln!(
            out,
            "| {clients} | {:.1} | {:.1} | {:.3}x | {} | {} | {:.3}x | {} | {} | {:.3}x |",
            t[0],
            t[1],
            t[0] / t[1],
            ms(l[0]),
            ms(l[1]),
            l[0] / l[1],
            ms(c[0]),
            ms(c[1]),
            c[0] / c[1]
        )?;
        out.flush()?;
    }
    let (peak_a, _) = memory_of(shims[0].1.pid);
    let (peak_b, _) = memory_of(shims[1].1.pid);
    #[allow(clippy::cast_precision_loss)]
    let ratio = peak_a as f64 / peak_b.max(1) as f64;
    writeln!(out)?;
    writeln!(
        out,
        "Peak RSS (`VmHWM`) after these runs: first {} MiB, baseline {} MiB ({ratio:.2}x).",
        mib(peak_a),
        mib(peak_b)
    )?;
    writeln!(out)?;
    Ok(())
}
