//! The shim under load: a process of the real binary started with an HS256
//! tenant on a temporary SQLite database (or one given with `--url`), the
//! tokens an identity provider would mint for it, its memory and CPU time
//! from `/proc`, and enrolment through the JSON API.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use backup_codes_harness::shim::ShimProcess;
use backup_codes_shim::plugin::{HashParams, PluginConfig};
use serde_json::{Value, json};

use super::LoadArgs;
use crate::BoxResult;

/// The shim under load: a process this tool started (stopped on drop), or one
/// given with `--url`.
pub(super) struct Shim {
    /// Base URL.
    pub(super) url: String,
    /// The process this tool started (killed on drop, before its directory goes).
    _process: Option<ShimProcess>,
    /// Its process id, to read /proc.
    pub(super) pid: Option<u32>,
    _dir: Option<tempfile::TempDir>,
    /// The tenant.
    pub(super) tenant: String,
    /// What its tokens are signed with.
    pub(super) key: TokenKey,
    /// `plugin.max_concurrent`.
    pub(super) max_concurrent: u32,
}

/// What tokens for the tenant are signed with.
#[derive(Debug, Clone)]
pub(crate) struct TokenKey {
    pub(crate) issuer: String,
    pub(crate) audience: String,
    pub(crate) secret: String,
}

/// `VmHWM` and `VmRSS` of a process, bytes (0 when unknown).
pub(crate) fn memory_of(pid: Option<u32>) -> (u64, u64) {
    let Some(pid) = pid else { return (0, 0) };
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(0, |kib| kib * 1024)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// User + system CPU seconds a process has used (0 when unknown).
pub(crate) fn cpu_of(pid: Option<u32>) -> f64 {
    let Some(pid) = pid else { return 0.0 };
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may contain spaces) start at ") ".
    let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 here.
    (ticks(11) + ticks(12)) / 100.0
}

pub(crate) fn mib(bytes: u64) -> String {
    if bytes == 0 {
        return "n/a".into();
    }
    #[allow(clippy::cast_precision_loss)]
    let m = bytes as f64 / f64::from(1 << 20);
    format!("{m:.1}")
}

pub(crate) fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    // A failing OS random source would make every token fail loudly anyway.
    let _ = getrandom::fill(&mut b);
    hex::encode(b)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A fresh HS256 token for `subject`, valid two minutes, single-use `jti`.
pub(crate) fn token(shim: &TokenKey, subject: &str) -> BoxResult<String> {
    let now = now();
    let claims = json!({
        "iss": shim.issuer, "aud": shim.audience, "sub": subject,
        "iat": now, "nbf": now, "exp": now + 120, "jti": random_hex(16),
    });
    Ok(jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(shim.secret.as_bytes()),
    )?)
}

pub(crate) fn shim_binary(explicit: Option<&Path>) -> BoxResult<PathBuf> {
    if let Some(p) = explicit {
        // The shim runs in its own directory: a relative path must not depend on it.
        return std::fs::canonicalize(p).map_err(|e| format!("--shim {}: {e}", p.display()).into());
    }
    let exe = std::env::current_exe()?;
    let bin = exe
        .parent()
        .ok_or("cannot locate the target directory")?
        .join("backup-codes-shim");
    if !bin.exists() {
        return Err(format!(
            "{} not found: build it with `cargo build --release -p backup-codes-shim` or pass --shim",
            bin.display()
        )
        .into());
    }
    Ok(bin)
}

/// The tenant's argon2 parameters (overrides of the plugin's default policy).
pub(super) fn hash_params(args: &LoadArgs) -> HashParams {
    HashParams {
        memory_kib: args
            .memory_kib
            .unwrap_or(if args.quick { 1024 } else { 19_456 }),
        iterations: args.iterations.unwrap_or(if args.quick { 1 } else { 2 }),
        parallelism: 1,
    }
}

/// Starts `binary` (default: the one next to this tool), or waits for the
/// shim at `--url`.
pub(super) async fn start_shim(
    args: &LoadArgs,
    hash: HashParams,
    binary: Option<&Path>,
) -> BoxResult<Shim> {
    let max_concurrent = args
        .max_concurrent
        .unwrap_or(PluginConfig::default().max_concurrent);
    if let Some(url) = &args.url {
        let shim = Shim {
            url: url.trim_end_matches('/').to_owned(),
            _process: None,
            pid: args.pid,
            _dir: None,
            tenant: args.tenant.clone(),
            key: TokenKey {
                issuer: args.issuer.clone(),
                audience: args.audience.clone(),
                secret: args.hs256_secret.clone().unwrap_or_default(),
            },
            max_concurrent,
        };
        wait_ready(&shim).await?;
        return Ok(shim);
    }
    let dir = tempfile::tempdir()?;
    let secret = random_hex(32);
    let cache = args
        .cache_dir
        .clone()
        .unwrap_or_else(|| dir.path().join("cache"));
    let key = TokenKey {
        issuer: "backup-codes-bench".into(),
        audience: "backup-codes".into(),
        secret,
    };
    let tenant = "load";
    let component = match &args.component {
        Some(path) => format!("component_path = {:?}\n", std::fs::canonicalize(path)?),
        None => String::new(),
    };
    let config = format!(
        r#"database_url = "sqlite://{db}"
log_filter = "warn"

[plugin]
max_concurrent = {max_concurrent}
queue_timeout_ms = {queue}
cache_dir = {cache:?}
{component}
[limits]
per_ip_per_minute = 1000000000
per_subject_per_minute = 1000000000

[tenants.{tenant}]
issuer = "{issuer}"
audience = "{audience}"
algorithms = ["HS256"]
hs256_secret = "{secret}"

[tenants.{tenant}.policy]
require_activation = false
free_failures = 100
max_failures = 100
hash_memory_kib = {m}
hash_iterations = {t}
"#,
        db = dir.path().join("load.db").display(),
        queue = args.queue_timeout_ms,
        m = hash.memory_kib,
        t = hash.iterations,
        issuer = key.issuer,
        audience = key.audience,
        secret = key.secret,
    );
    let process =
        ShimProcess::start_binary(&shim_binary(binary)?, dir.path(), "shim", &config).await?;
    Ok(Shim {
        url: process.url.clone(),
        pid: process.pid(),
        _process: Some(process),
        _dir: Some(dir),
        tenant: tenant.to_owned(),
        key,
        max_concurrent,
    })
}

async fn wait_ready(shim: &Shim) -> BoxResult<()> {
    let http = backup_codes_shim::http_client().build()?;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(r) = http.get(format!("{}/readyz", shim.url)).send().await
            && r.status().is_success()
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err("the shim did not become ready within 120 s".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One enrolled subject and the codes not yet used.
pub(super) struct Subject {
    pub(super) id: String,
    pub(super) codes: Vec<String>,
}

pub(super) async fn enrol(http: &reqwest::Client, shim: &Shim, id: &str) -> BoxResult<Subject> {
    let r = http
        .post(format!(
            "{}/v1/tenants/{}/subjects/{id}/codes",
            shim.url, shim.tenant
        ))
        .bearer_auth(token(&shim.key, id)?)
        .send()
        .await?;
    let status = r.status();
    let body: Value = r.json().await?;
    if status.as_u16() != 201 {
        return Err(format!("enrolling {id}: {status} {body}").into());
    }
    let codes = body["codes"]
        .as_array()
        .ok_or("no codes in the issue response")?
        .iter()
        .filter_map(|c| c["code"].as_str().map(str::to_owned))
        .collect::<Vec<_>>();
    Ok(Subject {
        id: id.to_owned(),
        codes,
    })
}
