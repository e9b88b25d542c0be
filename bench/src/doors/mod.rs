//! `backup-codes-bench doors`: what one attempt costs at each door a typed
//! code comes through (issue 25), and whether its kind shows in its time.
//!
//! 1. Argon2 evaluations per HTTP attempt, by kind and door ([`fuel`]): the
//!    shim runs in this process with fuel metering on
//!    ([`backup_codes_shim::plugin::PluginConfig::meter_fuel`]), real HTTP on
//!    127.0.0.1 drives each attempt, and the fuel all component calls of that
//!    request used is divided by the fuel of one argon2 evaluation. Counted,
//!    never inferred from time.
//! 2. Timing at each door ([`timing`]): wrong code, unknown subject and a code
//!    of a replaced set, interleaved round by round against a process of the
//!    real shim binary, medians and their relative differences (and issue 24's
//!    REST comparison: an enrolled user's wrong code vs an unknown user).
//!
//! [`client`] drives the three doors.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use backup_codes_shim::config::Config;
use backup_codes_shim::http::{self, AppState};
use backup_codes_shim::plugin::{PluginConfig, SystemClock};
use backup_codes_shim::server;
use clap::Args;

use crate::BoxResult;

pub mod client;
mod fuel;
mod timing;

/// Options of `doors`.
#[derive(Debug, Args)]
pub struct DoorsArgs {
    /// The shim binary for the timing section [default: `backup-codes-shim`
    /// next to this executable].
    #[arg(long)]
    shim: Option<PathBuf>,
    /// Sections to run (1: argon2 evaluations per attempt, counted with fuel;
    /// 2: timing at each door).
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    sections: Vec<u8>,
    /// Attempts of each kind at each door in the fuel count.
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// Timed tries of each kind at each door (at least 60 for issue 25).
    #[arg(long, default_value_t = 60)]
    tries: usize,
    /// Untimed rounds before the timed ones.
    #[arg(long, default_value_t = 3)]
    warmup: usize,
    /// Argon2id memory in KiB for the tenant [default: the plugin's default policy].
    #[arg(long)]
    memory_kib: Option<u32>,
    /// Argon2id passes for the tenant [default: the plugin's default policy].
    #[arg(long)]
    iterations: Option<u32>,
    /// Smoke run (few tries, cheap argon2): numbers are not meaningful, the
    /// evaluation counts are.
    #[arg(long)]
    quick: bool,
}

impl DoorsArgs {
    /// The tenant's argon2 parameters, as policy lines (none: the default policy).
    fn hash_lines(&self) -> String {
        let (m, t) = if self.quick {
            (self.memory_kib.or(Some(1024)), self.iterations.or(Some(1)))
        } else {
            (self.memory_kib, self.iterations)
        };
        let mut lines = String::new();
        if let Some(m) = m {
            lines.push_str(&format!("hash_memory_kib = {m}\n"));
        }
        if let Some(t) = t {
            lines.push_str(&format!("hash_iterations = {t}\n"));
        }
        lines
    }
}

/// Run the sections asked for and print Markdown to `out`.
pub fn run(args: &DoorsArgs, out: &mut impl Write) -> BoxResult<()> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(run_async(args, out))
}

async fn run_async(args: &DoorsArgs, out: &mut impl Write) -> BoxResult<()> {
    writeln!(out, "# backup-codes-bench doors")?;
    writeln!(out)?;
    writeln!(out, "- machine: {}", crate::report::machine_line())?;
    writeln!(
        out,
        "- load average at start: {}",
        crate::stats::load_average()
    )?;
    if cfg!(debug_assertions) {
        writeln!(
            out,
            "- WARNING: debug build; timings are not meaningful (the evaluation counts are)"
        )?;
    }
    writeln!(out)?;
    out.flush()?;
    if args.sections.contains(&1) {
        fuel::run(args, out).await?;
        out.flush()?;
    }
    if args.sections.contains(&2) {
        timing::run(args, out).await?;
        out.flush()?;
    }
    writeln!(
        out,
        "- load average at end: {}",
        crate::stats::load_average()
    )?;
    Ok(())
}

/// A shim served in this process on 127.0.0.1, its component metered.
struct Metered {
    url: String,
    state: AppState,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Metered {
    /// Build the shim of `config` with fuel metering on and serve it on an
    /// ephemeral loopback port.
    async fn start(config: &Config) -> BoxResult<Self> {
        let runtime = PluginConfig {
            meter_fuel: true,
            ..PluginConfig::from(&config.plugin)
        };
        let state = server::build_with_runtime(config, runtime, Arc::new(SystemClock)).await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let router = http::app(state.clone());
        let limits = state.limits.clone();
        let task = tokio::spawn(async move {
            server::serve(listener, router, &limits, async {
                let _ = stopped.await;
            })
            .await
        });
        Ok(Self {
            url,
            state,
            stop: Some(stop),
            task,
        })
    }

    /// Fuel the shim's component calls used so far.
    fn fuel(&self) -> u64 {
        self.state.service.plugin().fuel_used()
    }

    /// Stop serving and wait.
    async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = (&mut self.task).await;
    }
}

/// The median of `values` (NaN when empty).
fn median(values: &[f64]) -> f64 {
    crate::stats::summarize(values).median
}
