//! Order statistics, timers and formatting shared by every section.

use std::time::Instant;

/// Order statistics of one cell.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    /// Median.
    pub median: f64,
    /// 10th percentile.
    pub p10: f64,
    /// 90th percentile.
    pub p90: f64,
    /// Median absolute deviation from the median.
    pub mad: f64,
}

/// The `q` quantile of sorted values (linear interpolation between ranks).
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
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

/// Median, p10, p90 and MAD of `values`.
pub fn summarize(values: &[f64]) -> Summary {
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

/// CPU time consumed by the calling thread so far, seconds (user + system, so
/// page faults taken on this thread count; time spent descheduled does not).
pub fn thread_cpu() -> f64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    #[allow(clippy::cast_precision_loss)]
    let secs = t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9;
    secs
}

/// Wall-clock and thread-CPU time of one measured operation, seconds.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Elapsed wall-clock time.
    pub wall: f64,
    /// CPU time of the measuring thread.
    pub cpu: f64,
}

/// Times `f` on this thread.
pub fn time<R>(f: impl FnOnce() -> R) -> (R, Sample) {
    let cpu0 = thread_cpu();
    let start = Instant::now();
    let r = f();
    let wall = start.elapsed().as_secs_f64();
    let cpu = thread_cpu() - cpu0;
    (r, Sample { wall, cpu })
}

/// Samples of one cell.
#[derive(Debug, Clone, Default)]
pub struct Cell {
    /// Wall-clock times, seconds.
    pub wall: Vec<f64>,
    /// Thread-CPU times, seconds.
    pub cpu: Vec<f64>,
}

impl Cell {
    /// Record one sample.
    pub fn push(&mut self, s: Sample) {
        self.wall.push(s.wall);
        self.cpu.push(s.cpu);
    }

    /// Summary of the wall-clock times.
    pub fn wall(&self) -> Summary {
        summarize(&self.wall)
    }

    /// Summary of the CPU times.
    pub fn cpu(&self) -> Summary {
        summarize(&self.cpu)
    }

    /// Per-sample ratios to `base` (same index = same round).
    pub fn ratios(&self, base: &Self) -> (Vec<f64>, Vec<f64>) {
        let wall = self
            .wall
            .iter()
            .zip(&base.wall)
            .map(|(a, b)| a / b)
            .collect();
        let cpu = self.cpu.iter().zip(&base.cpu).map(|(a, b)| a / b).collect();
        (wall, cpu)
    }
}

/// Milliseconds, two decimals.
pub fn ms(secs: f64) -> String {
    format!("{:.2}", secs * 1e3)
}

/// Microseconds, one decimal.
pub fn us(secs: f64) -> String {
    format!("{:.1}", secs * 1e6)
}

/// `/proc/loadavg`'s three load averages.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// `pass` or `MISS` for a target check.
pub fn verdict(ok: bool) -> &'static str {
    if ok { "pass" } else { "MISS" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate() {
        let s = summarize(&[1.0, 2.0, 3.0, 4.0, 5.0]);
        assert!((s.median - 3.0).abs() < 1e-12);
        assert!((s.p10 - 1.4).abs() < 1e-12);
        assert!((s.p90 - 4.6).abs() < 1e-12);
        assert!((s.mad - 1.0).abs() < 1e-12);
    }

    #[test]
    fn thread_cpu_moves_forward() {
        let a = thread_cpu();
        let mut x = 0u64;
        for i in 0..1_000_000u64 {
            x = x.wrapping_add(std::hint::black_box(i));
        }
        std::hint::black_box(x);
        assert!(thread_cpu() >= a);
    }
}
