//! Section 1 (P2): `Plugin::verify` in a fresh store vs the same argon2id
//! computed natively, interleaved round by round; C libargon2 for context,
//! and with `--wasmtime-py` verify through the Python host in the same rounds.

use std::hint::black_box;
use std::io::Write;

use secrecy::ExposeSecret;

use super::fixture::{Bench, Fixture, Native};
use super::python::PythonCell;
use super::{P2_TARGET, Results, Settings};
use crate::BoxResult;
use crate::raw::{self, RawHost};
use crate::stats::{Cell, Sample, ms, summarize, time, us};

/// The cells beside native argon2 and the component: C libargon2 and
/// wasmtime-py children, and the Rust host that returns its memory after each
/// call (measured only beside wasmtime-py).
struct Others {
    refs: Vec<PythonCell>,
    missing: Vec<String>,
    pys: Vec<PythonCell>,
    py_missing: Vec<String>,
    decommit: Option<RawHost>,
    /// Holds the component file the wasmtime-py children loaded.
    _dir: tempfile::TempDir,
}

impl Others {
    fn start(bench: &Bench, settings: &Settings, fixture: &Fixture) -> BoxResult<Self> {
        let mut refs: Vec<PythonCell> = Vec::new();
        let mut missing: Vec<String> = Vec::new();
        for python in &settings.python {
            match PythonCell::c_reference(python, bench.policy.hash) {
                Some(r) => refs.push(r),
                None => missing.push(python.clone()),
            }
        }
        // The wasmtime-py host loads the very bytes measured here, from a file.
        let dir = tempfile::tempdir()?;
        let component_file = dir.path().join("backup-codes.wasm");
        std::fs::write(&component_file, &bench.component)?;
        let mut pys: Vec<PythonCell> = Vec::new();
        let mut py_missing: Vec<String> = Vec::new();
        for python in &settings.wasmtime_py {
            match PythonCell::wasmtime_py(python, &component_file, fixture) {
                Some(r) => pys.push(r),
                None => py_missing.push(python.clone()),
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
        Ok(Self {
            refs,
            missing,
            pys,
            py_missing,
            decommit,
            _dir: dir,
        })
    }
}

/// What the rounds measured, cell by cell.
#[derive(Default)]
struct Measured {
    comp: Cell,
    nat: Cell,
    base: Cell,
    dec: Cell,
    c_times: Vec<Vec<f64>>,
    c_ratios: Vec<Vec<f64>>,
    py_cells: Vec<Cell>,
    rust_trivial: Cell,
    py_trivial: Vec<Cell>,
}

/// One sample of every cell of a round (`None` for cells not in this run).
struct Round {
    n: Option<Sample>,
    c: Option<Sample>,
    d: Option<Sample>,
    b: Option<Sample>,
    cs: Vec<f64>,
    ps: Vec<Option<Sample>>,
}

/// Section 1 (P2): component verify in a fresh store vs native argon2id, interleaved.
pub(super) fn section_verify_vs_native(
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
    let mut others = Others::start(bench, settings, &fixture)?;
    let mut m = measure_rounds(bench, settings, &fixture, &native, &mut others)?;
    measure_trivial(bench, settings, &mut others.pys, &mut m)?;
    let c_median = m
        .c_times
        .iter()
        .map(|v| summarize(v).median)
        .min_by(f64::total_cmp);
    let (c, n) = (m.comp.wall(), m.nat.wall());
    let (wall_ratios, cpu_ratios) = m.comp.ratios(&m.nat);
    let (r, rc) = (summarize(&wall_ratios), summarize(&cpu_ratios));
    results.p2_ratio = Some((c.median / n.median, r.median));
    results.p2_cpu_ratio = Some(rc.median);
    results.native_median = Some(n.median);
    results.c_median = c_median;
    write_cells(out, bench, &others, &m)?;
    write_ratios(out, bench, &m)?;
    write_context_ratios(out, &others, &m)?;
    writeln!(out)?;
    Ok(())
}

/// Every cell once per round; the first one rotates, so that no cell always
/// runs right after the same other one.
fn measure_rounds(
    bench: &Bench,
    settings: &Settings,
    fixture: &Fixture,
    native: &Native,
    others: &mut Others,
) -> BoxResult<Measured> {
    let (refs, pys) = (others.refs.len(), others.pys.len());
    let mut m = Measured {
        c_times: vec![Vec::new(); refs],
        c_ratios: vec![Vec::new(); refs],
        py_cells: vec![Cell::default(); pys],
        ..Measured::default()
    };
    // Cells: native, the component, the C references, wasmtime-py, the Rust
    // host with memory decommitted (with wasmtime-py), the baseline component
    // (with --baseline-component).
    let hosts = 2 + refs + pys;
    let decommit_cell = others.decommit.as_ref().map(|_| hosts);
    let cells =
        hosts + usize::from(others.decommit.is_some()) + usize::from(bench.baseline.is_some());
    for round in 0..settings.warmup + settings.samples {
        let mut row = Round {
            n: None,
            c: None,
            d: None,
            b: None,
            cs: vec![f64::NAN; refs],
            ps: vec![None; pys],
        };
        for k in 0..cells {
            match (round + k) % cells {
                0 => row.n = Some(native.hash()?),
                1 => row.c = Some(fixture.verify_right(&bench.plugin)?),
                i if i < 2 + refs => row.cs[i - 2] = others.refs[i - 2].measure()?.wall,
                i if i < hosts => row.ps[i - 2 - refs] = Some(others.pys[i - 2 - refs].measure()?),
                i if Some(i) == decommit_cell => {
                    if let Some(host) = &others.decommit {
                        row.d = Some(fixture.verify_raw(host)?);
                    }
                }
                _ => {
                    if let Some(baseline) = &bench.baseline {
                        row.b = Some(fixture.verify_right(baseline)?);
                    }
                }
            }
        }
        if round >= settings.warmup {
            record(&mut m, row)?;
        }
    }
    Ok(m)
}

/// Add one measured round to the cells.
fn record(m: &mut Measured, row: Round) -> BoxResult<()> {
    let (n, c) = (
        row.n.ok_or("native cell missing")?,
        row.c.ok_or("component cell missing")?,
    );
    m.comp.push(c);
    m.nat.push(n);
    if let Some(b) = row.b {
        m.base.push(b);
    }
    for (k, t) in row.cs.into_iter().enumerate() {
        m.c_times[k].push(t);
        m.c_ratios[k].push(n.wall / t);
    }
    for (k, p) in row.ps.into_iter().enumerate() {
        m.py_cells[k].push(p.ok_or("wasmtime-py cell missing")?);
    }
    if let Some(d) = row.d {
        m.dec.push(d);
    }
    Ok(())
}

/// Per-call overhead, interleaved: wasmtime-py's trivial call vs the Rust host's.
fn measure_trivial(
    bench: &Bench,
    settings: &Settings,
    pys: &mut [PythonCell],
    m: &mut Measured,
) -> BoxResult<()> {
    m.py_trivial = vec![Cell::default(); pys.len()];
    if pys.is_empty() {
        return Ok(());
    }
    for i in 0..settings.trivial_warmup.min(50) + settings.trivial_samples.min(500) {
        let (p, s) = time(|| bench.plugin.default_policy());
        black_box(p?);
        let measured = i >= settings.trivial_warmup.min(50);
        if measured {
            m.rust_trivial.push(s);
        }
        for (k, py) in pys.iter_mut().enumerate() {
            let t = py.trivial()?;
            if measured {
                m.py_trivial[k].push(t);
            }
        }
    }
    Ok(())
}

/// The table of cells: medians, p10, p90, MAD and CPU medians.
fn write_cells(
    out: &mut impl Write,
    bench: &Bench,
    others: &Others,
    m: &Measured,
) -> BoxResult<()> {
    let (c, n) = (m.comp.wall(), m.nat.wall());
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
        ms(m.comp.cpu().median)
    )?;
    writeln!(
        out,
        "| native argon2id, `argon2` crate (`hash_password_into`) | {} | {} | {} | {} | {} |",
        ms(n.median),
        ms(n.p10),
        ms(n.p90),
        ms(n.mad),
        ms(m.nat.cpu().median)
    )?;
    if bench.baseline.is_some() {
        let b = m.base.wall();
        writeln!(
            out,
            "| baseline component `Plugin::verify` (`--baseline-component`, same rounds) | {} | {} | {} | {} | {} |",
            ms(b.median),
            ms(b.p10),
            ms(b.p90),
            ms(b.mad),
            ms(m.base.cpu().median)
        )?;
    }
    write_context_cells(out, bench, others, m)?;
    writeln!(out)?;
    Ok(())
}

/// The cells for context: C libargon2, wasmtime-py, the decommitting host.
fn write_context_cells(
    out: &mut impl Write,
    bench: &Bench,
    others: &Others,
    m: &Measured,
) -> BoxResult<()> {
    for (r, times) in others.refs.iter().zip(&m.c_times) {
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
    for python in &others.missing {
        writeln!(
            out,
            "| for context: C libargon2 | not measured (`{python}` cannot `import argon2`; `pip install argon2-cffi`) | | | | |"
        )?;
    }
    for (r, cell) in others.pys.iter().zip(&m.py_cells) {
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
    for python in &others.py_missing {
        writeln!(
            out,
            "| wasmtime-py host | not measured (`{python}` cannot `import backup_codes`; see examples/python) | | | | |"
        )?;
    }
    if others.decommit.is_some() {
        let t = m.dec.wall();
        writeln!(
            out,
            "| for context: bench host (Rust), production settings but memory returned to the kernel after each call (as wasmtime's default allocator, which wasmtime-py uses) | {} | {} | {} | {} | {} |",
            ms(t.median),
            ms(t.p10),
            ms(t.p90),
            ms(t.mad),
            ms(m.dec.cpu().median)
        )?;
    }
    Ok(())
}

/// Component / native ratios, and the baseline component's.
fn write_ratios(out: &mut impl Write, bench: &Bench, m: &Measured) -> BoxResult<()> {
    let (c, n) = (m.comp.wall(), m.nat.wall());
    let (wall_ratios, cpu_ratios) = m.comp.ratios(&m.nat);
    let (r, rc) = (summarize(&wall_ratios), summarize(&cpu_ratios));
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
        let b = m.base.wall();
        let rb = summarize(&m.base.ratios(&m.nat).0);
        let rcb = summarize(&m.comp.ratios(&m.base).0);
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
    Ok(())
}

/// Ratios to C libargon2 and of wasmtime-py, and the per-call overheads.
fn write_context_ratios(out: &mut impl Write, others: &Others, m: &Measured) -> BoxResult<()> {
    let (c, n) = (m.comp.wall(), m.nat.wall());
    for (r, ratios) in others.refs.iter().zip(&m.c_ratios) {
        writeln!(
            out,
            "| native `argon2` crate / C libargon2 under `{}`, per round, median | {:.2}x | |",
            r.python,
            summarize(ratios).median
        )?;
    }
    for (r, cell) in others.pys.iter().zip(&m.py_cells) {
        let py = cell.wall();
        let (to_rust, to_rust_cpu) = cell.ratios(&m.comp);
        let (to_native, _) = cell.ratios(&m.nat);
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
        if others.decommit.is_some() {
            let (to_dec, _) = cell.ratios(&m.dec);
            writeln!(
                out,
                "| wasmtime-py / Rust bench host with memory returned after each call, per round, median | {:.2}x | |",
                summarize(&to_dec).median
            )?;
        }
    }
    for (r, cell) in others.pys.iter().zip(&m.py_trivial) {
        let (py, rust) = (cell.wall(), m.rust_trivial.wall());
        writeln!(
            out,
            "| per-call overhead (new store + instantiate + `default-policy`), medians: wasmtime-py `Host.default_policy()` under `{}` vs `Plugin::default_policy()` | {} µs vs {} µs | |",
            r.python,
            us(py.median),
            us(rust.median)
        )?;
    }
    Ok(())
}
