//! Starting shims: in-process on `127.0.0.1:0`, or as processes of the real binary.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use backup_codes_shim::config::{Config, Limits, PolicyOverrides, TenantConfig};
use backup_codes_shim::http::{self, AppState};
use backup_codes_shim::server;

use crate::HarnessError;
use crate::db::TestDb;

/// Policy overrides that keep argon2 cheap in tests (the rules do not depend on it).
pub fn cheap_policy() -> PolicyOverrides {
    cheap(PolicyOverrides::default())
}

/// `policy` with argon2 made cheap as in [`cheap_policy`].
pub fn cheap(policy: PolicyOverrides) -> PolicyOverrides {
    PolicyOverrides {
        hash_memory_kib: Some(1024),
        hash_iterations: Some(1),
        ..policy
    }
}

/// A test configuration: the given database and tenants, generous rate limits,
/// no compiled-code cache.
pub fn test_config(database_url: &str, tenants: BTreeMap<String, TenantConfig>) -> Config {
    let mut config = Config {
        database_url: database_url.to_owned(),
        tenants,
        limits: Limits {
            per_ip_per_minute: 1_000_000,
            per_subject_per_minute: 1_000_000,
            ..Limits::default()
        },
        ..Config::default()
    };
    config.plugin.cache_dir = None;
    config.plugin.max_concurrent = 4;
    config.plugin.queue_timeout_ms = 60_000;
    config
}

/// The configuration file of a shim process on `db` (before the `listen`
/// line [`ShimProcess::start`] adds): `top` (top-level keys, e.g.
/// `log_filter = "warn"`); the compiled-code cache in `db`'s directory, four
/// engine slots and `plugin` (more `[plugin]` keys); rate limits no test
/// reaches; then `tenants` (e.g. [`crate::idp::TestIdp::tenant_toml`]) and
/// cheap hashing for `tenant`, as in [`cheap_policy`]. It ends inside
/// `[tenants.{tenant}.policy]`: more policy keys, then more tables, may follow.
pub fn process_toml(db: &TestDb, top: &str, plugin: &str, tenants: &str, tenant: &str) -> String {
    format!(
        "database_url = {:?}\n{top}\n\
         [plugin]\nmax_concurrent = 4\nqueue_timeout_ms = 120000\ncache_dir = {:?}\n{plugin}\n\
         [limits]\nper_ip_per_minute = 100000000\nper_subject_per_minute = 100000000\n\
         {tenants}\
         [tenants.{tenant}.policy]\nhash_memory_kib = 1024\nhash_iterations = 1\n",
        db.url,
        db.dir.path().join("cache").display().to_string(),
    )
}

/// A shim served in-process on real HTTP.
pub struct InProcess {
    /// Base URL, `http://127.0.0.1:<port>`.
    pub url: String,
    /// The shared state (service, store) for white-box checks.
    pub state: AppState,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    webhooks: Option<server::WebhookTask>,
}

impl InProcess {
    /// Build from `config` and serve on an ephemeral loopback port, whose URL
    /// becomes the configuration's `public_url`.
    pub async fn start(config: &Config) -> Result<Self, HarnessError> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        Self::start_on(listener, config).await
    }

    /// [`InProcess::start`] on a listener bound beforehand, for a
    /// configuration made knowing its address (the demo tenant takes its
    /// continue URL from `public_url` when it is added).
    pub async fn start_on(
        listener: tokio::net::TcpListener,
        config: &Config,
    ) -> Result<Self, HarnessError> {
        let url = format!("http://{}", listener.local_addr()?);
        let mut config = config.clone();
        config.public_url = url
            .parse()
            .map_err(|e| HarnessError(format!("{url}: {e}")))?;
        // The demo's webhooks go to its receiver at the address just bound.
        let demo_hook = backup_codes_shim::demo::webhook_url(&config)
            .map_err(|e| HarnessError(e.to_string()))?;
        if let Some(endpoint) = config
            .tenants
            .get_mut(backup_codes_shim::demo::TENANT)
            .filter(|_| config.demo)
            .and_then(|t| t.webhooks.endpoints.get_mut("demo"))
        {
            endpoint.url = demo_hook;
        }
        let state = server::build(&config).await?;
        let webhooks = server::start_webhooks(&config, &state).await?;
        let mut shim = Self::serve_on(listener, state).await?;
        shim.webhooks = webhooks;
        Ok(shim)
    }

    /// Serve an already built state on an ephemeral loopback port.
    pub async fn serve(state: AppState) -> Result<Self, HarnessError> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        Self::serve_on(listener, state).await
    }

    async fn serve_on(
        listener: tokio::net::TcpListener,
        state: AppState,
    ) -> Result<Self, HarnessError> {
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
            webhooks: None,
        })
    }

    /// Stop gracefully and wait.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = (&mut self.task).await;
        if let Some(w) = self.webhooks.take() {
            w.stop().await;
        }
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The shim binary: `BACKUP_CODES_SHIM_BIN`, or the one cargo builds next to
/// the running test.
///
/// The harness's tests are not in the shim's package, so cargo neither builds
/// that binary for them nor rebuilds it when the shim changes: the first call
/// in a test process runs `cargo build` for it once (a no-op when it is fresh),
/// so no test runs an older shim than the library it was compiled with.
pub fn binary() -> Result<PathBuf, HarnessError> {
    if let Some(p) = std::env::var_os("BACKUP_CODES_SHIM_BIN") {
        return Ok(PathBuf::from(p));
    }
    static BUILT: std::sync::OnceLock<Result<PathBuf, HarnessError>> = std::sync::OnceLock::new();
    BUILT.get_or_init(build_binary).clone()
}

/// `cargo build` the shim binary into the profile directory of the running
/// test (`target/<profile>/deps/<test>` → `target/<profile>/backup-codes-shim`).
///
/// With the workspace's test targets selected, so features resolve as for
/// `cargo test --workspace` and the libraries that run built are reused: a
/// `-p backup-codes-shim` build resolves sqlx's and wasmtime's features
/// differently and recompiles them (minutes on a clean CI machine).
fn build_binary() -> Result<PathBuf, HarnessError> {
    let exe = std::env::current_exe()?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or_else(|| HarnessError("cannot locate the target directory".into()))?;
    let profile = profile_dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("debug");
    let mut cmd =
        std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.args([
        "build",
        "--quiet",
        "--workspace",
        "--tests",
        "--bin",
        "backup-codes-shim",
    ]);
    if profile != "debug" {
        cmd.args(["--profile", profile]);
    }
    let status = cmd.status()?;
    if !status.success() {
        return Err(HarnessError("building the shim binary failed".into()));
    }
    Ok(profile_dir.join("backup-codes-shim"))
}

/// A free loopback port (bound and released; a tiny race is acceptable in tests).
pub fn free_port() -> Result<u16, HarnessError> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A shim running as a separate process of the real binary.
pub struct ShimProcess {
    /// Base URL.
    pub url: String,
    /// Its configuration file.
    pub config_path: PathBuf,
    /// Where its standard error goes.
    pub log_path: PathBuf,
    child: tokio::process::Child,
}

impl ShimProcess {
    /// Write `config_toml` (plus a `listen` line) to `dir` and start the binary
    /// with it; waits until `/readyz` answers.
    pub async fn start(dir: &Path, name: &str, config_toml: &str) -> Result<Self, HarnessError> {
        Self::start_binary(&binary()?, dir, name, config_toml).await
    }

    /// [`ShimProcess::start`] with a given shim binary (e.g. a release build).
    /// Only the configuration file counts: the caller's `BACKUP_CODES_*`
    /// variables are not passed on.
    pub async fn start_binary(
        bin: &Path,
        dir: &Path,
        name: &str,
        config_toml: &str,
    ) -> Result<Self, HarnessError> {
        let port = free_port()?;
        let config_path = dir.join(format!("{name}.toml"));
        std::fs::write(
            &config_path,
            format!("listen = \"127.0.0.1:{port}\"\n{config_toml}"),
        )?;
        let log_path = dir.join(format!("{name}.log"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)?;
        let mut cmd = tokio::process::Command::new(bin);
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("BACKUP_CODES_") {
                cmd.env_remove(&k);
            }
        }
        let child = cmd
            .arg("--config")
            .arg(&config_path)
            .arg("serve")
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()?;
        let mut shim = Self {
            url: format!("http://127.0.0.1:{port}"),
            config_path,
            log_path,
            child,
        };
        shim.wait_ready(Duration::from_secs(60)).await?;
        Ok(shim)
    }

    async fn wait_ready(&mut self, within: Duration) -> Result<(), HarnessError> {
        let http = backup_codes_shim::http_client().build()?;
        let deadline = tokio::time::Instant::now() + within;
        while tokio::time::Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                let log = std::fs::read_to_string(&self.log_path).unwrap_or_default();
                return Err(HarnessError(format!(
                    "shim exited ({status}) at start:\n{log}"
                )));
            }
            if let Ok(r) = http.get(format!("{}/readyz", self.url)).send().await
                && r.status().is_success()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(HarnessError("shim did not become ready in time".into()))
    }

    /// The process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// `kill -9`: no chance to clean up.
    pub async fn kill9(&mut self) -> Result<(), HarnessError> {
        self.child.kill().await?;
        Ok(())
    }

    /// `SIGTERM`, then wait for a graceful exit; returns its exit status.
    pub async fn terminate(&mut self) -> Result<std::process::ExitStatus, HarnessError> {
        if let Some(pid) = self.child.id() {
            std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()?;
        }
        Ok(
            tokio::time::timeout(Duration::from_secs(30), self.child.wait())
                .await
                .map_err(|_| HarnessError("shim did not exit after SIGTERM".into()))??,
        )
    }

    /// What the shim wrote to standard error so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }
}
