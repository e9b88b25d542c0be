//! The HTTP layer: [`AppState`], which every handler shares, and [`app`], which
//! composes the views with the cross-cutting layers.
//!
//! Views: [`api`] (the JSON API identity providers call), [`step`] (the login
//! step's pages), [`op`] (the step-up OpenID provider: discovery, keys, the
//! authorization endpoint, whose users type their code on the step's pages),
//! [`demo`] (the local demo IdP), [`ops`] (health, metrics, OpenAPI, the
//! root page, assets) and [`brand`] (tenants' logos and stylesheets). Layers,
//! each in its file: [`observe`] (request ids, spans, metrics), [`limits`]
//! (per-IP and per-subject rates, the body reader), [`headers`] (security
//! headers) and [`pages`] (rendering and refusal pages); [`base`] makes every
//! link and cookie work under any prefix. [`body`] and [`error`] are the API's
//! typed bodies and error type, [`refusal`] the pages' error type.

pub mod api;
pub mod base;
pub mod body;
pub mod brand;
pub mod chrome;
pub mod demo;
pub mod error;
pub mod headers;
pub mod i18n;
pub mod limits;
pub mod observe;
pub mod op;
pub mod ops;
pub mod pages;
pub mod refusal;
pub mod rest2f;
pub mod sealed;
pub mod selfservice;
pub mod step;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware;
use metrics_exporter_prometheus::PrometheusHandle;
use tower_http::timeout::TimeoutLayer;

use self::error::ApiError;
use self::limits::RateLimits;
pub use self::observe::metrics_handle;
use self::refusal::Refusal;
use crate::auth::Authenticator;
use crate::auth::oidc::Provider;
use crate::auth::stepup::StepUp;
use crate::config::{Config, Limits};
use crate::service::Service;

/// Everything the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The backup-code service.
    pub service: Arc<Service>,
    /// Token verification.
    pub auth: Arc<Authenticator>,
    /// Rate limits.
    pub rates: Arc<RateLimits>,
    /// Request limits.
    pub limits: Limits,
    /// Prometheus rendering.
    pub metrics: PrometheusHandle,
    /// The configuration the shim runs with (tenants' step settings, public URL).
    pub config: Arc<Config>,
    /// Each tenant's configuration, shared, so a request's context can hold it.
    pub(crate) tenant_configs: Arc<BTreeMap<String, Arc<crate::config::TenantConfig>>>,
    /// The IdPs of tenants with self-service, by tenant id.
    pub providers: Arc<BTreeMap<String, Provider>>,
    /// The step-up OpenID providers of tenants with `stepup`, by tenant id.
    pub stepup: Arc<BTreeMap<String, StepUp>>,
    /// The brands of tenants with `branding`, by tenant id (loaded at start).
    pub brands: Arc<brand::Brands>,
    /// The demo's webhook receiver (empty when the demo is off).
    pub demo_inbox: Arc<demo::events::Inbox>,
}

impl AppState {
    /// The state for `config`, over a service, an authenticator and the
    /// self-service IdPs.
    pub fn new(
        service: Service,
        auth: Authenticator,
        providers: BTreeMap<String, Provider>,
        config: &Config,
    ) -> Self {
        Self {
            service: Arc::new(service),
            auth: Arc::new(auth),
            rates: Arc::new(RateLimits::new(&config.limits)),
            limits: config.limits.clone(),
            metrics: metrics_handle(),
            config: Arc::new(config.clone()),
            tenant_configs: Arc::new(
                config
                    .tenants
                    .iter()
                    .map(|(id, t)| (id.clone(), Arc::new(t.clone())))
                    .collect(),
            ),
            providers: Arc::new(providers),
            stepup: Arc::new(BTreeMap::new()),
            brands: Arc::new(brand::Brands::new()),
            demo_inbox: Arc::new(demo::events::Inbox::new(config)),
        }
    }

    /// The same state serving these step-up providers.
    #[must_use]
    pub fn with_stepup(mut self, stepup: BTreeMap<String, StepUp>) -> Self {
        self.stepup = Arc::new(stepup);
        self
    }

    /// The same state serving these brands (see [`brand::load_all`]).
    #[must_use]
    pub fn with_brands(mut self, brands: brand::Brands) -> Self {
        self.brands = Arc::new(brands);
        self
    }
}

/// The whole router: to serve, `.nest()` or `.merge()` into another app.
pub fn app(state: AppState) -> Router {
    let api = api::routes()
        .merge(rest2f::routes())
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            limits::read_body::<ApiError>,
        ))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            limits::per_ip::<ApiError>,
        ))
        .layer(headers::no_store());
    // The step and the demo answer the limits with pages.
    let pages = step::routes()
        .merge(op::routes())
        .merge(selfservice::routes())
        .merge(demo::routes(&state))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            limits::read_body::<Refusal>,
        ))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            limits::per_ip::<Refusal>,
        ))
        .merge(ops::routes())
        .merge(brand::routes())
        .layer(middleware::from_fn_with_state(
            state.clone(),
            pages::refusals,
        ))
        .layer(middleware::map_response(headers::pages));
    Router::new()
        .merge(api)
        .merge(pages)
        .route_layer(middleware::from_fn(observe::observe))
        .layer(DefaultBodyLimit::max(state.limits.body_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_millis(state.limits.request_timeout_ms),
        ))
        .with_state(state)
}

/// Render a page (shared by the views).
pub(crate) use self::pages::render;
