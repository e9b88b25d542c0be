//! Benchmarks of the backup-code component against its physical limit (issue 7).
//!
//! - `backup-codes-bench` (or `report`): in one process, side by side: P1
//!   (argon2 evaluations per verify, counted), P2 (fresh-store verify vs native
//!   argon2), P3 (per-call overhead, start-up with a cold vs warm cache) and a
//!   breakdown of where the verify time goes.
//! - `backup-codes-bench load`: P4 and P5 over HTTP against a shim process.
//! - `backup-codes-bench rest2f`: verify latency through the REST second
//!   factor against the JSON API, interleaved (issue 12).
//! - `backup-codes-bench webhooks`: delivery latency, and verify latency with
//!   and without a slow or failing receiver (issue 16).
//! - `backup-codes-bench doors`: argon2 evaluations per HTTP attempt by kind
//!   and door, counted with fuel, and whether a wrong code, an unknown subject
//!   and a replaced set's code take the same time at each door (issues 24, 25).
//! - `backup-codes-bench imported`: imported Supabase sets at the largest
//!   parameters the shim accepts: verify time, resident memory, and another
//!   user's verify beside eight hostile attempts (issue 24).
//!
//! Output is Markdown, ready to paste into `BENCHMARKS.md`.

use std::error::Error;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

mod doors;
mod imported;
mod load;
mod raw;
mod report;
mod rest2f;
mod stats;
mod webhooks;

/// Errors are reported as text; the bench has no recovery to do.
pub type BoxResult<T> = Result<T, Box<dyn Error>>;

/// Benchmark the backup-code component against native argon2id, side by side.
#[derive(Debug, Parser)]
#[command(
    name = "backup-codes-bench",
    version,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
    #[command(flatten)]
    report: ReportArgs,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// In-process report: P1, P2, P3 and the verify breakdown (the default).
    Report(ReportArgs),
    /// HTTP load against a shim process: P4 (throughput, p99) and P5 (memory, overload).
    Load(load::LoadArgs),
    /// Verify latency through the REST second factor vs the JSON API.
    Rest2f(rest2f::Rest2fArgs),
    /// Webhook delivery latency; verify latency with and without a bad receiver.
    Webhooks(webhooks::WebhooksArgs),
    /// Argon2 evaluations per HTTP attempt by kind and door (fuel), and timing at each door.
    Doors(doors::DoorsArgs),
    /// Imported sets at the largest accepted parameters: verify time, memory, hostile attempts.
    Imported(imported::ImportedArgs),
    /// Print the Cranelift machine code of the component (for `objdump`), then exit.
    Disasm(DisasmArgs),
    /// One verify (or one native argon2), for `valgrind --tool=callgrind`.
    Once(OnceArgs),
    /// Internal: load the component once and print the time taken (start-up runs).
    #[command(hide = true)]
    StartupChild {
        /// Compiled-code cache directory.
        #[arg(long)]
        cache_dir: Option<PathBuf>,
    },
}

/// Options of the in-process report.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// Argon2id memory in KiB (default: the plugin's default policy, 19456).
    #[arg(long)]
    memory_kib: Option<u32>,
    /// Argon2id passes over memory, t (default: the plugin's default policy, 2).
    #[arg(long)]
    iterations: Option<u32>,
    /// Argon2id lanes, p (default: the plugin's default policy, 1).
    #[arg(long)]
    parallelism: Option<u32>,
    /// Measured rounds per argon2 cell [default: 30; with --quick: 3].
    #[arg(long)]
    samples: Option<usize>,
    /// Measured trivial calls [default: 5000; with --quick: 30].
    #[arg(long)]
    trivial_samples: Option<usize>,
    /// Sections to run (1: P2 verify vs native, 2: P1 count and cost vs N,
    /// 3: P3 overhead and start-up, 4: engine variants).
    #[arg(long, value_delimiter = ',', default_value = "1,2,3,4")]
    sections: Vec<u8>,
    /// Python interpreters with `argon2-cffi` installed, one C libargon2 row
    /// each (e.g. the PyPI wheel, and a build with `CFLAGS=-march=native`).
    #[arg(long, value_delimiter = ',', default_value = "python3")]
    python: Vec<String>,
    /// Python interpreters with the example's `backup_codes` package
    /// (examples/python) installed: one row each for verify through the
    /// wasmtime-py host, interleaved with the other cells.
    #[arg(long, value_delimiter = ',')]
    wasmtime_py: Vec<String>,
    /// Measure this component file instead of the embedded one (e.g. a
    /// candidate build of the plugin with other flags).
    #[arg(long)]
    component: Option<PathBuf>,
    /// A second component measured in the same P2 rounds as the first (e.g.
    /// the build before a change, to compare two builds side by side).
    #[arg(long)]
    baseline_component: Option<PathBuf>,
    /// Smoke run: a few samples per cell (numbers are not meaningful).
    #[arg(long)]
    quick: bool,
}

/// Options of `disasm`.
#[derive(Debug, Args)]
struct DisasmArgs {
    /// Where to write the ELF image of the compiled component.
    #[arg(long)]
    out: PathBuf,
    /// Hide AVX-512DQ from Cranelift (`i64x2.mul` as `pmuludq` instead of `vpmullq`).
    #[arg(long)]
    no_avx512dq: bool,
    /// Hide all of AVX-512 from Cranelift (the code valgrind's emulated CPU runs).
    #[arg(long)]
    no_avx512: bool,
    /// Compile this component file instead of the embedded one.
    #[arg(long)]
    component: Option<PathBuf>,
}

/// Options of `once`.
#[derive(Debug, Args)]
struct OnceArgs {
    /// `verify` (component, fresh store), `native` (argon2 crate) or `trivial`.
    #[arg(long, default_value = "verify")]
    what: String,
    /// Codes in the set (verify only).
    #[arg(long, default_value_t = 10)]
    count: u8,
    /// Argon2id memory in KiB (default: the plugin's default policy).
    #[arg(long)]
    memory_kib: Option<u32>,
    /// A component file to call instead of the embedded one.
    #[arg(long)]
    component: Option<PathBuf>,
}

fn main() -> BoxResult<()> {
    let cli = Cli::parse();
    let stdout = std::io::stdout();
    match cli.command {
        None => report::run(
            &report::Settings::from_args(&cli.report),
            &mut stdout.lock(),
        ),
        Some(Cmd::Report(a)) => report::run(&report::Settings::from_args(&a), &mut stdout.lock()),
        Some(Cmd::Load(a)) => load::run(&a, &mut stdout.lock()),
        Some(Cmd::Rest2f(a)) => rest2f::run(&a, &mut stdout.lock()),
        Some(Cmd::Webhooks(a)) => webhooks::run(&a, &mut stdout.lock()),
        Some(Cmd::Doors(a)) => doors::run(&a, &mut stdout.lock()),
        Some(Cmd::Imported(a)) => imported::run(&a, &mut stdout.lock()),
        Some(Cmd::Disasm(a)) => disasm(&a),
        Some(Cmd::Once(a)) => report::once(&a.what, a.count, a.memory_kib, a.component),
        Some(Cmd::StartupChild { cache_dir }) => report::startup_child(cache_dir),
    }
}

fn disasm(a: &DisasmArgs) -> BoxResult<()> {
    let options = raw::Options {
        no_avx512dq: a.no_avx512dq,
        no_avx512: a.no_avx512,
        ..raw::Options::production(64 << 20)
    };
    let host = match &a.component {
        Some(path) => raw::RawHost::with_component(options, &std::fs::read(path)?)?,
        None => raw::RawHost::new(options)?,
    };
    std::fs::write(&a.out, host.compiled_image()?)?;
    println!(
        "wrote {}; try: objdump -d {} | grep -c vpmullq",
        a.out.display(),
        a.out.display()
    );
    Ok(())
}
