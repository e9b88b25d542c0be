//! Assembling the shim from its configuration, and serving it: the demo
//! tenant, the plugin, each tenant's policy, the store, the HTTP server with its
//! header deadline and graceful shutdown, and housekeeping.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretSlice};
use tokio::net::TcpListener;

use crate::auth::Authenticator;
use crate::auth::stepup::StepUp;
use crate::config::{Config, ConfigError, PolicyOverrides};
use crate::http::AppState;
use crate::plugin::{
    self, CallError, Clock, Plugin, PluginConfig, PluginError, Policy, SystemClock,
};
use crate::service::{Service, Tenant};
use crate::store::Store;

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
    /// The step-up provider's signing keys of a tenant cannot be made or opened.
    #[error("tenants.{0}.stepup: {1}")]
    Keys(String, crate::auth::signing::KeyError),
    /// A page catalogue compiled into the binary does not load.
    #[error(transparent)]
    Catalogue(#[from] crate::http::views::i18n::CatalogueError),
    /// A tenant's branding is refused (a value, or a file it names).
    #[error(transparent)]
    Brand(#[from] crate::http::views::brand::BrandError),
    /// The demo tenant cannot be set up.
    #[error(transparent)]
    Demo(#[from] crate::http::demo::tenant::DemoError),
    /// The webhook delivery worker cannot start.
    #[error(transparent)]
    Webhooks(#[from] crate::webhooks::WorkerError),
}

/// Load the component the configuration names, run as `runtime` says.
fn load_plugin_with(
    config: &Config,
    runtime: PluginConfig,
    clock: Arc<dyn Clock>,
) -> Result<Plugin, StartError> {
    let plugin = match &config.plugin.component_path {
        Some(path) => Plugin::with_clock(&std::fs::read(path)?, runtime, clock)?,
        None => Plugin::with_clock(plugin::EMBEDDED_COMPONENT, runtime, clock)?,
    };
    Ok(plugin)
}

/// A tenant's policy: the plugin's default with the tenant's overrides (the
/// plugin checks every range when the tenant's decoy is issued).
pub(crate) fn apply_overrides(o: &PolicyOverrides, mut p: Policy) -> Policy {
    macro_rules! set {
        ($($field:ident => $($target:ident).+),* $(,)?) => {
            $(if let Some(v) = o.$field { p.$($target).+ = v; })*
        };
    }
    set!(
        count => count,
        symbols => symbols,
        group_size => group_size,
        hash_memory_kib => hash.memory_kib,
        hash_iterations => hash.iterations,
        hash_parallelism => hash.parallelism,
        require_activation => require_activation,
        free_failures => free_failures,
        lockout_base_seconds => lockout_base_seconds,
        lockout_max_seconds => lockout_max_seconds,
        max_failures => max_failures,
        low_water => low_water,
        replace_on_use => replace_on_use,
    );
    if let Some(order) = o.order {
        p.order = order;
    }
    p
}

/// Resolve each tenant's policy through the plugin (which checks every range)
/// and check it fits the memory limit.
pub(crate) fn tenants(
    config: &Config,
    plugin: &Plugin,
) -> Result<BTreeMap<String, Tenant>, StartError> {
    let base = plugin.default_policy()?;
    let mut out = BTreeMap::new();
    for (id, t) in &config.tenants {
        let policy = apply_overrides(&t.policy, base);
        let argon_bytes = usize::try_from(policy.hash.memory_kib).unwrap_or(usize::MAX) << 10;
        if argon_bytes.saturating_add(plugin::CALL_HEADROOM_BYTES)
            > config.plugin.memory_limit_mib << 20
        {
            return Err(ConfigError::Invalid(format!(
                "tenants.{id}.policy.hash_memory_kib needs plugin.memory_limit_mib of at least {}",
                (argon_bytes + plugin::CALL_HEADROOM_BYTES) >> 20
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
                webhooks: crate::service::webhook_routes(&t.webhooks),
                unenrolled_capacity: config.limits.unenrolled_subjects_per_tenant,
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
    build_with_runtime(config, PluginConfig::from(&config.plugin), clock).await
}

/// [`build_with_clock`] with the component run as `runtime` says instead of
/// as `config.plugin` does: for benchmarks that count work per request with
/// [`PluginConfig::meter_fuel`], which the configuration file cannot turn on.
pub async fn build_with_runtime(
    config: &Config,
    runtime: PluginConfig,
    clock: Arc<dyn Clock>,
) -> Result<AppState, StartError> {
    // Files first: a refused logo or stylesheet stops the start before the
    // component is compiled or the store opened.
    crate::http::views::i18n::init()?;
    let brands = crate::http::views::brand::load_all(config)?;
    let plugin = Arc::new(load_plugin_with(config, runtime, Arc::clone(&clock))?);
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
    let mut providers = BTreeMap::new();
    for (id, t) in &config.tenants {
        if let Some(issuer) = t.selfservice.as_ref().and_then(|s| s.issuer.clone()) {
            let provider = crate::auth::oidc::Provider::new(issuer, config.limits.leeway_seconds)?;
            providers.insert(id.clone(), provider);
        }
    }
    let now = i64::try_from(SystemClock.now()).unwrap_or(i64::MAX);
    let mut stepup = BTreeMap::new();
    for (id, t) in &config.tenants {
        if let Some(s) = &t.stepup {
            let provider = StepUp::new(id, t, s, config.limits.leeway_seconds)
                .map_err(|e| StartError::Keys(id.clone(), e))?;
            // Keys are made or opened now: a key this instance cannot open
            // stops it here, not at the first sign-in.
            provider
                .ring
                .refresh(&store, now)
                .await
                .map_err(|e| StartError::Keys(id.clone(), e))?;
            stepup.insert(id.clone(), provider);
        }
    }
    let state = AppState::new(
        Service::new(plugin, store, tenants, clock)
            .with_subject_rate(config.limits.per_subject_per_minute),
        auth,
        providers,
        config,
    )
    .with_stepup(stepup)
    .with_brands(brands);
    crate::http::operator::publish_component_info(&state);
    Ok(state)
}

/// Housekeeping: forget expired token ids and idle rate-limit keys.
pub fn spawn_housekeeping(state: &AppState) -> tokio::task::JoinHandle<()> {
    let state = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            state.rates.shrink();
            state.service.shrink();
            let now = state.service.now();
            if let Err(e) = state.service.store().purge_tokens(now).await {
                tracing::warn!(error = %e, "purging expired token ids failed");
            }
            let forget = now.saturating_sub(crate::service::REPLACED_SET_MEMORY);
            if let Err(e) = state.service.store().purge_replaced(forget).await {
                tracing::warn!(error = %e, "purging replaced sets failed");
            }
            for (tenant, provider) in state.stepup.iter() {
                // On failure the keys read last keep working.
                if let Err(e) = provider.ring.refresh(state.service.store(), now).await {
                    tracing::error!(tenant = %tenant, error = %e, "refreshing the step-up signing keys failed");
                }
            }
        }
    })
}

/// The running webhook delivery worker.
#[derive(Debug)]
pub struct WebhookTask {
    task: tokio::task::JoinHandle<()>,
    stop: tokio::sync::oneshot::Sender<()>,
}

impl WebhookTask {
    /// Stop leasing rows, let deliveries in flight end (each is bounded by
    /// `webhooks.timeout_ms`), and wait.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// Start delivering webhooks when a tenant has an endpoint (`None` otherwise).
pub async fn start_webhooks(
    config: &Config,
    state: &AppState,
) -> Result<Option<WebhookTask>, StartError> {
    let signals = std::sync::Arc::clone(state.service.outbox_signals());
    let Some(worker) = crate::webhooks::Worker::new(config, signals).await? else {
        return Ok(None);
    };
    if config.webhooks.retry_for_seconds < 86_400 {
        tracing::warn!(
            retry_for_seconds = config.webhooks.retry_for_seconds,
            "webhooks are retried for less than 24 hours"
        );
    }
    let (task, stop) = crate::webhooks::worker::spawn(worker);
    Ok(Some(WebhookTask { task, stop }))
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

/// How long connections in flight may take to finish after shutdown begins.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

/// Serve `router` on `listener` until `shutdown` resolves, then let requests in
/// flight finish (at most [`SHUTDOWN_GRACE`]).
///
/// HTTP/1.1 through hyper, with a deadline for reading request headers
/// (`limits.header_read_timeout_ms`): a client that never finishes its headers
/// is disconnected instead of holding a connection. Handlers see the peer
/// address as [`axum::extract::ConnectInfo`].
pub async fn serve(
    listener: TcpListener,
    router: axum::Router,
    limits: &crate::config::Limits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};

    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_millis(limits.header_read_timeout_ms));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait, don't spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        tracing::trace!(%peer, "connection accepted");
        let router = router.clone();
        let service = hyper::service::service_fn(
            move |mut request: hyper::Request<hyper::body::Incoming>| {
                request
                    .extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                tower::ServiceExt::oneshot(router.clone(), request.map(axum::body::Body::new))
            },
        );
        let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the shutdown grace period were dropped");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_overrides_apply() {
        let base = Policy {
            count: 10,
            symbols: 13,
            group_size: 5,
            order: plugin::CodeOrder::AnyOrder,
            hash: plugin::HashParams {
                memory_kib: 19_456,
                iterations: 2,
                parallelism: 1,
            },
            require_activation: true,
            free_failures: 5,
            lockout_base_seconds: 30,
            lockout_max_seconds: 3600,
            max_failures: 100,
            low_water: 3,
            replace_on_use: false,
        };
        let o = PolicyOverrides {
            count: Some(12),
            hash_memory_kib: Some(8192),
            order: Some(crate::config::CodeOrder::Numbered),
            ..PolicyOverrides::default()
        };
        let p = apply_overrides(&o, base);
        assert_eq!(
            (p.count, p.hash.memory_kib, p.order),
            (12, 8192, plugin::CodeOrder::Numbered)
        );
    }
}
