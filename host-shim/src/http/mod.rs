//! The HTTP layer: [`AppState`], which every handler shares, and [`app`], which
//! composes the doors with the cross-cutting layers. Each part is found by its
//! role:
//!
//! - `doors`: what identity providers and users call, one module each: the
//!   JSON API (`doors::api`), the login step (`doors::step`), the REST
//!   second factor (`doors::rest2f`), self-service (`doors::selfservice`)
//!   and the step-up OpenID provider (`doors::oidc_provider`). A door parses
//!   its input, calls the service once and renders the answer.
//! - `layers`: what wraps every door: request ids, spans and the refusal log
//!   (`layers::observe`), per-address limits and the body reader
//!   (`layers::limits`), security headers (`layers::headers`).
//! - `views`: what the pages are made of: rendering and refusal pages
//!   (`views::pages`, `views::refusal`), the page frame (`views::chrome`),
//!   prefixes (`views::base`), languages (`views::i18n`), tenants' brands
//!   (`views::brand`) and codes sealed in forms (`views::sealed`).
//! - `operator`: health, readiness, metrics, the OpenAPI document and assets.
//! - `demo`: the local demo identity provider.

pub(crate) mod demo;
pub(crate) mod doors;
pub(crate) mod layers;
pub(crate) mod operator;
pub(crate) mod views;

pub use self::doors::api::body::{AttemptBody, IssuedBody, StatusBody};

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware;
use metrics_exporter_prometheus::PrometheusHandle;
use tower_http::timeout::TimeoutLayer;

use self::doors::api::error::ApiError;
use self::doors::{api, oidc_provider, rest2f, selfservice, step};
use self::layers::limits::{self, RateLimits};
pub use self::layers::observe::metrics_handle;
use self::layers::{headers, observe};
use self::views::brand;
use self::views::refusal::Refusal;
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
    pub(crate) auth: Arc<Authenticator>,
    /// Rate limits.
    pub(crate) rates: Arc<RateLimits>,
    /// Request limits.
    pub limits: Limits,
    /// Prometheus rendering.
    pub(crate) metrics: PrometheusHandle,
    /// The configuration the shim runs with (tenants' step settings, public URL).
    pub config: Arc<Config>,
    /// Each tenant's configuration, shared, so a request's context can hold it.
    pub(crate) tenant_configs: Arc<BTreeMap<String, Arc<crate::config::TenantConfig>>>,
    /// The IdPs of tenants with self-service, by tenant id.
    pub(crate) providers: Arc<BTreeMap<String, Provider>>,
    /// The step-up OpenID providers of tenants with `stepup`, by tenant id.
    pub(crate) stepup: Arc<BTreeMap<String, StepUp>>,
    /// The brands of tenants with `branding`, by tenant id (loaded at start).
    pub(crate) brands: Arc<brand::Brands>,
    /// The demo's webhook receiver (empty when the demo is off).
    pub(crate) demo_inbox: Arc<demo::events::Inbox>,
}

impl AppState {
    /// The state for `config`, over a service, an authenticator and the
    /// self-service IdPs.
    pub(crate) fn new(
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
    pub(crate) fn with_stepup(mut self, stepup: BTreeMap<String, StepUp>) -> Self {
        self.stepup = Arc::new(stepup);
        self
    }

    /// The same state serving these brands (see `brand::load_all`).
    #[must_use]
    pub(crate) fn with_brands(mut self, brands: brand::Brands) -> Self {
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
        .merge(oidc_provider::routes())
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
        .merge(operator::routes())
        .merge(brand::routes())
        .layer(middleware::from_fn_with_state(
            state.clone(),
            layers::refusal_pages::refusals,
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

/// Render a page (shared by the doors).
pub(crate) use self::views::pages::render;
