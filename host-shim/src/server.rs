//! Assembling the shim from its configuration, and serving it.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretSlice, SecretString};
use tokio::net::TcpListener;

use crate::api::{self, AppState, RateLimits};
use crate::auth::Authenticator;
use crate::config::{Config, ConfigError, TenantConfig};
use crate::plugin::{CallError, Clock, Plugin, PluginError, Policy, SystemClock};
use crate::service::{Service, Tenant};
use crate::store::Store;

/// Tenant id used when the configuration names none (local trial).
pub const DEMO_TENANT: &str = "demo";
/// Issuer expected from tokens of the demo tenant.
pub const DEMO_ISSUER: &str = "backup-codes-demo";
/// Audience expected by the demo tenant.
pub const DEMO_AUDIENCE: &str = "backup-codes";

/// Why the shim could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The component could not be loaded.
    #[error(transparent)]
    Load(#[from] crate::plugin::LoadError),
    /// The component failed a start-up call.
    #[error("the component failed at start-up: {0}")]
    Plugin(#[from] CallError),
    /// The store could not be opened or migrated.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// Files or sockets.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The HTTP client for JWKS could not be built.
    #[error("HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}

/// Add the demo tenant when no tenant is configured: HS256 with a secret kept in
/// `<data dir>/demo-secret` (created on first use, readable by the owner only).
pub fn with_demo_tenant(config: &mut Config, data_dir: &Path) -> Result<bool, StartError> {
    if !config.tenants.is_empty() {
        return Ok(false);
    }
    let secret = demo_secret(data_dir)?;
    config.tenants.insert(
        DEMO_TENANT.into(),
        TenantConfig {
            issuer: DEMO_ISSUER.into(),
            audience: DEMO_AUDIENCE.into(),
            algorithms: vec!["HS256".into()],
            hs256_secret: Some(secret.clone()),
            step_secret: Some(secret),
            continue_urls: vec![format!("{}/demo/", config.public_url.trim_end_matches('/'))],
            ..TenantConfig::default()
        },
    );
    config.demo = true;
    Ok(true)
}

/// Read or create the demo tenant's secret.
pub fn demo_secret(data_dir: &Path) -> Result<SecretString, StartError> {
    let path = data_dir.join("demo-secret");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        return Ok(SecretString::from(existing.trim().to_owned()));
    }
    std::fs::create_dir_all(data_dir)?;
    let secret = random_secret(32);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    std::io::Write::write_all(&mut options.open(&path)?, secret.expose_secret().as_bytes())?;
    Ok(secret)
}

/// A random secret of `bytes` bytes, as URL-safe base64 text.
pub fn random_secret(bytes: usize) -> SecretString {
    use base64::Engine as _;
    let mut raw = zeroize::Zeroizing::new(vec![0u8; bytes]);
    // The OS random source failing at this point is unrecoverable for key creation.
    if getrandom::fill(&mut raw).is_err() {
        return SecretString::from(String::new());
    }
    SecretString::from(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw.as_slice()))
}

/// Directory the SQLite database lives in (where the demo secret goes too).
pub fn data_dir(config: &Config) -> std::path::PathBuf {
    config
        .database_url
        .strip_prefix("sqlite://")
        .and_then(|p| Path::new(p.split('?').next().unwrap_or(p)).parent())
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| Path::new("data").to_path_buf(), Path::to_path_buf)
}

/// Load the component the configuration names.
pub fn load_plugin(config: &Config, clock: Arc<dyn Clock>) -> Result<Plugin, StartError> {
    let runtime = config.plugin_config()?;
    let plugin = match &config.plugin.component_path {
        Some(path) => Plugin::with_clock(&std::fs::read(path)?, runtime, clock)?,
        None => Plugin::with_clock(crate::plugin::EMBEDDED_COMPONENT, runtime, clock)?,
    };
    Ok(plugin)
}

/// Resolve each tenant's policy through the plugin (which checks every range)
/// and check it fits the memory limit.
pub fn tenants(config: &Config, plugin: &Plugin) -> Result<BTreeMap<String, Tenant>, StartError> {
    let base = plugin.default_policy()?;
    let mut out = BTreeMap::new();
    for (id, t) in &config.tenants {
        let policy = t.policy.apply(base)?;
        let argon_bytes = usize::try_from(policy.hash.memory_kib).unwrap_or(usize::MAX) << 10;
        if argon_bytes.saturating_add(8 << 20) > config.plugin.memory_limit_mib << 20 {
            return Err(ConfigError::Invalid(format!(
                "tenants.{id}.policy.hash_memory_kib needs plugin.memory_limit_mib of at least {}",
                (argon_bytes >> 20) + 8
            ))
            .into());
        }
        let pepper = t
            .pepper
            .as_ref()
            .map(|p| SecretSlice::from(p.expose_secret().as_bytes().to_vec()));
        // Issuing the decoy also has the plugin check every range of the policy.
        let decoy_policy = Policy {
            count: 1,
            low_water: 0,
            require_activation: false,
            ..policy
        };
        let decoy = match plugin.issue(None, &decoy_policy, pepper.as_ref()) {
            Ok(issued) => issued.credential,
            Err(CallError::Plugin(PluginError::InvalidPolicy(m))) => {
                return Err(ConfigError::Invalid(format!("tenants.{id}.policy: {m}")).into());
            }
            Err(e) => return Err(e.into()),
        };
        out.insert(
            id.clone(),
            Tenant {
                policy,
                pepper,
                decoy,
            },
        );
    }
    Ok(out)
}

/// Everything a running shim needs, built from the configuration.
pub async fn build(config: &Config) -> Result<AppState, StartError> {
    build_with_clock(config, Arc::new(SystemClock)).await
}

/// [`build`] with a given clock for the plugin.
pub async fn build_with_clock(
    config: &Config,
    clock: Arc<dyn Clock>,
) -> Result<AppState, StartError> {
    let plugin = Arc::new(load_plugin(config, Arc::clone(&clock))?);
    let tenants = tenants(config, &plugin)?;
    let store = Store::connect(&config.database_url, config.database_max_connections).await?;
    store.migrate().await?;
    let auth = Authenticator::new(&config.tenants, config.limits.leeway_seconds)?;
    tracing::info!(
        sha256 = %hex::encode(plugin.sha256()),
        backend = ?store.backend(),
        tenants = config.tenants.len(),
        "backup-code shim ready"
    );
    Ok(AppState {
        service: Arc::new(Service::new(plugin, store, tenants, clock)),
        auth: Arc::new(auth),
        rates: Arc::new(RateLimits::new(&config.limits)),
        limits: config.limits.clone(),
        metrics: api::metrics_handle(),
        config: Arc::new(config.clone()),
    })
}

/// Housekeeping: forget expired token ids and idle rate-limit keys.
pub fn spawn_housekeeping(state: &AppState) -> tokio::task::JoinHandle<()> {
    let state = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            state.rates.shrink();
            let now = i64::try_from(SystemClock.now()).unwrap_or(i64::MAX);
            if let Err(e) = state.service.store().purge_tokens(now).await {
                tracing::warn!(error = %e, "purging expired token ids failed");
            }
        }
    })
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

/// Serve the API on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    router: axum::Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
