//! Operations and what a newcomer meets first: health and readiness, metrics,
//! the OpenAPI document, the root page, and the assets compiled into the shim.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;

use crate::http::AppState;
use crate::http::layers::headers::{Forms, asset};
use crate::http::views::base::Base;
use crate::http::views::chrome::Chrome;
use crate::http::views::i18n::Tr;

/// The OpenAPI 3.1 description of the API, served at `/v1/openapi.json`.
pub const OPENAPI: &str = include_str!("../../openapi.json");
const CSS: &[u8] = include_bytes!("../../static/step.css");
const JS: &[u8] = include_bytes!("../../static/step.js");
const ICON: &[u8] = include_bytes!("../../static/icon.svg");

/// Routes that need no tenant.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(root))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .route("/v1/openapi.json", get(openapi))
        .route(
            "/static/step.css",
            get(|| async { asset("text/css; charset=utf-8", CSS) }),
        )
        .route(
            "/static/step.js",
            get(|| async { asset("text/javascript; charset=utf-8", JS) }),
        )
        .route(
            "/static/icon.svg",
            get(|| async { asset("image/svg+xml", ICON) }),
        )
        .route(
            "/favicon.ico",
            get(|| async { asset("image/svg+xml", ICON) }),
        )
}

#[derive(Template)]
#[template(path = "root.html")]
struct RootPage<'a> {
    c: Chrome,
    title: &'a str,
    base: String,
    demo: bool,
}

/// A small page saying what this is and where to go.
async fn root(State(state): State<AppState>, base: Base) -> Response {
    let page = RootPage {
        c: Chrome::new(&state, &base, None, Tr::default(), None),
        title: "Backup-code service",
        base: base.path(""),
        demo: crate::http::demo::is_on(&state),
    };
    crate::http::render(StatusCode::OK, &page, Forms::Own(None))
}

async fn healthz() -> &'static str {
    "ok"
}

/// What `/readyz` answers: whether the store answers, and which component
/// this instance runs (so a deployment can be checked against a release's
/// `SHA256SUMS`).
#[derive(Serialize)]
struct Readiness {
    /// `ready`, or `store unavailable`.
    status: &'static str,
    /// The shim's version.
    version: &'static str,
    /// The component it runs.
    component: ComponentInfo,
}

/// The component an instance runs.
#[derive(Serialize)]
struct ComponentInfo {
    /// SHA-256 (hex) of its bytes.
    sha256: String,
    /// `embedded` (built into the shim) or `file` (`plugin.component_path`).
    source: &'static str,
}

impl ComponentInfo {
    fn of(state: &AppState) -> Self {
        Self {
            sha256: hex::encode(state.service.plugin().sha256()),
            source: if state.config.plugin.component_path.is_some() {
                "file"
            } else {
                "embedded"
            },
        }
    }
}

/// Publish which component `state` runs as the metric
/// `backup_codes_component_info{sha256, source, version} 1`.
pub(crate) fn publish_component_info(state: &AppState) {
    let c = ComponentInfo::of(state);
    metrics::gauge!(
        "backup_codes_component_info",
        "sha256" => c.sha256,
        "source" => c.source,
        "version" => crate::plugin::COMPONENT_VERSION,
    )
    .set(1.0);
}

async fn readyz(State(state): State<AppState>) -> Response {
    let (code, status) = match state.service.ready().await {
        Ok(()) => (StatusCode::OK, "ready"),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            (StatusCode::SERVICE_UNAVAILABLE, "store unavailable")
        }
    };
    let body = Readiness {
        status,
        version: crate::plugin::COMPONENT_VERSION,
        component: ComponentInfo::of(&state),
    };
    (code, axum::Json(body)).into_response()
}

async fn metrics_text(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}
