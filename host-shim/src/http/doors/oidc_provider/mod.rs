//! The shim as an OpenID provider for step-up (Microsoft Entra external
//! authentication methods, and any relying party of the same profile).
//!
//! Per tenant with `[tenants.X.stepup]`, under the issuer
//! `{public_url}/op/{tenant}` (and any nesting prefix, like every page):
//!
//! | route | what |
//! |---|---|
//! | `GET .well-known/openid-configuration` | the discovery document |
//! | `GET jwks` | the signing keys: current and next, plus a replaced key until its tokens expired; each with `x5c` |
//! | `GET`/`POST authorize` | the authorization request ([`authorize`]); a bare `GET` is a harmless page (Entra probes it) |
//!
//! The user types a backup code on the login step's own page (same engine,
//! same cookies and CSRF check, same lockout); the flow carries an
//! [`OpAnswer`](crate::http::doors::step::oidc_answer::OpAnswer), so its result
//! is form-posted to the relying party as an ID token or an OpenID error. [`claims`] reads the `claims`
//! parameter.

mod authorize;
pub mod claims;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::auth::stepup::StepUp;
use crate::config::StepUpConfig;
use crate::http::AppState;
use crate::http::views::base::Base;

/// The provider's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/op/{tenant}/.well-known/openid-configuration",
            get(discovery),
        )
        .route("/op/{tenant}/jwks", get(jwks))
        .route(
            "/op/{tenant}/authorize",
            get(authorize::get).post(authorize::post),
        )
}

/// Seconds since the Unix epoch.
pub(crate) fn now(state: &AppState) -> i64 {
    state.service.now()
}

/// The issuer of `tenant`'s provider, as the request reached it.
pub fn issuer(base: &Base, tenant: &str) -> String {
    base.url(&format!("/op/{tenant}"))
}

/// A tenant whose step-up provider is configured.
pub(crate) struct OpTenant<'a> {
    pub(crate) id: &'a str,
    pub(crate) stepup: &'a StepUpConfig,
    pub(crate) provider: &'a StepUp,
}

pub(crate) fn op_tenant<'a>(state: &'a AppState, id: &'a str) -> Option<OpTenant<'a>> {
    let config = state.config.tenants.get(id)?;
    let stepup = config.stepup.as_ref()?;
    let provider = state.stepup.get(id)?;
    state.service.has_tenant(id).then_some(OpTenant {
        id,
        stepup,
        provider,
    })
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CACHE_CONTROL, "no-store")],
        Json(json!({"error": "not_found"})),
    )
        .into_response()
}

/// A JSON document relying parties may cache for an hour (Entra keeps its
/// copy a day anyway; a new key is published days before it signs).
fn cacheable(body: serde_json::Value) -> Response {
    let mut r = Json(body).into_response();
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    r
}

/// `GET /op/{tenant}/.well-known/openid-configuration`.
async fn discovery(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    base: Base,
) -> Response {
    let Some(t) = op_tenant(&state, &tenant) else {
        return not_found();
    };
    let iss = issuer(&base, t.id);
    let mut acr: Vec<String> = Vec::new();
    for c in &t.stepup.clients {
        for v in c.acr_values() {
            if !acr.contains(&v) {
                acr.push(v);
            }
        }
    }
    cacheable(json!({
        "issuer": iss,
        "authorization_endpoint": format!("{iss}/authorize"),
        "jwks_uri": format!("{iss}/jwks"),
        "scopes_supported": ["openid"],
        "response_types_supported": ["id_token"],
        "response_modes_supported": ["form_post"],
        "grant_types_supported": ["implicit"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "claim_types_supported": ["normal"],
        "claims_supported": ["iss", "sub", "aud", "iat", "exp", "auth_time", "nonce", "acr", "amr"],
        "claims_parameter_supported": true,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "acr_values_supported": acr,
    }))
}

/// `GET /op/{tenant}/jwks`.
async fn jwks(State(state): State<AppState>, Path(tenant): Path<String>) -> Response {
    let Some(t) = op_tenant(&state, &tenant) else {
        return not_found();
    };
    cacheable(t.provider.ring.jwks())
}
