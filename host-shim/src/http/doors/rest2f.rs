//! The REST second factor: the IdP collects the code in its own form and asks
//! the shim (LemonLDAP::NG's `rest2f` contract, usable by any IdP).
//!
//! `POST /rest2f/{tenant}/verify` with `Authorization: Basic` (one of the
//! tenant's `rest2f.clients`; only hashes of their secrets are configured,
//! compared in constant time) and a JSON object
//! `{"user": "...", "code": "...", <extra fields>}` (the subject field is
//! configurable; extra fields must be listed in `rest2f.extra_fields`). The
//! answer is `200 {"result": true, "number", "remaining", "low"}` or
//! `200 {"result": false, "reason": ...}`, with JSON booleans only (LemonLDAP::NG
//! 2.16 reads the string `"false"` as true). A user without codes is answered as
//! a wrong code, at the same cost. The engine or the store unavailable is 503,
//! so the IdP fails closed; bad credentials are 401 and a bad body 400, with
//! nothing written.
//!
//! `POST /rest2f/{tenant}/init` with `{"user": ...}`: `{"result": true}` when
//! the user has codes to type (LemonLDAP::NG calls it before showing its form).
//!
//! Mutual TLS in front of these endpoints (LemonLDAP::NG's `lwpSslOpts`) is a
//! deployment option for later; Basic credentials are the contract here.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine as _;
use secrecy::SecretString;
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::{Rest2fConfig, parse_sha256};
use crate::http::AppState;
use crate::http::doors::answer::Fault;
use crate::http::doors::api::error::{ApiError, format_reason};
use crate::plugin::Outcome;
use crate::service::{Subject, TenantId, reason_name};

/// Longest code the endpoint passes to the engine, bytes.
pub const MAX_CODE_BYTES: usize = 64;

/// The REST second factor's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/rest2f/{tenant}/verify", post(verify))
        .route("/rest2f/{tenant}/init", post(init))
}

/// The answer: `result` a JSON boolean, the other fields for other callers.
#[derive(Debug, Serialize)]
pub struct Rest2fAnswer {
    /// Whether the code was accepted (init: whether the user has codes).
    pub result: bool,
    /// The accepted code's number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<u8>,
    /// Unused codes left after an accepted one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remaining: Option<u8>,
    /// Few codes left (the IdP may prompt for a new set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub low: Option<bool>,
    /// Why the code was refused (`mismatch`, `already_used`, `wrong_number`,
    /// `locked`, `exhausted`, `invalid_code`, `rate_limited`, `not_enrolled`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
}

impl IntoResponse for Rest2fAnswer {
    /// The JSON answer; a refused code is also logged (with its reason).
    fn into_response(self) -> Response {
        let refused = self.reason.filter(|_| !self.result);
        let mut response = Json(self).into_response();
        if let Some(reason) = refused {
            response
                .extensions_mut()
                .insert(crate::http::layers::observe::Refused::new(reason));
        }
        response
    }
}

impl Rest2fAnswer {
    fn refused(reason: &'static str) -> Self {
        Self {
            result: false,
            number: None,
            remaining: None,
            low: None,
            reason: Some(reason),
        }
    }
}

/// A refusal of the request itself (not of a code).
#[derive(Debug, thiserror::Error)]
pub enum Rest2fError {
    /// The Basic credentials are missing or not one of the tenant's clients (401).
    #[error("unauthorized")]
    Unauthorized,
    /// Anything the JSON API answers the same way (unknown tenant, bad body, 503).
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl IntoResponse for Rest2fError {
    fn into_response(self) -> Response {
        match self {
            Self::Unauthorized => {
                let mut r = ApiError::Unauthorized(crate::auth::AuthError::Invalid).into_response();
                r.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"backup-codes\""),
                );
                r
            }
            Self::Api(e) => e.into_response(),
        }
    }
}

/// The tenant's REST second factor, when the Basic credentials are one of its clients'.
fn admit<'a>(
    state: &'a AppState,
    tenant: &str,
    headers: &HeaderMap,
) -> Result<(TenantId, &'a Rest2fConfig), Rest2fError> {
    let (Ok(tenant_id), Some(config)) = (
        state.service.tenant_id(tenant),
        state
            .config
            .tenants
            .get(tenant)
            .and_then(|t| t.rest2f.as_ref()),
    ) else {
        return Err(ApiError::UnknownTenant.into());
    };
    let credentials = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|raw| String::from_utf8(raw).ok());
    let Some((id, secret)) = credentials.as_deref().and_then(|c| c.split_once(':')) else {
        tracing::info!(
            tenant,
            reason = "missing",
            "REST second-factor client refused"
        );
        return Err(Rest2fError::Unauthorized);
    };
    let presented: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
    // Every client's hash is compared, in constant time, whatever the id.
    let mut accepted = subtle::Choice::from(0);
    for client in &config.clients {
        let stored = parse_sha256(&client.secret_sha256).unwrap_or([0; 32]);
        let same_id = client.id.as_bytes().ct_eq(id.as_bytes());
        accepted |= same_id & stored.ct_eq(&presented);
    }
    if bool::from(accepted) {
        Ok((tenant_id, config))
    } else {
        tracing::info!(
            tenant,
            reason = "invalid",
            "REST second-factor client refused"
        );
        Err(Rest2fError::Unauthorized)
    }
}

fn take_string(fields: &mut Map<String, Value>, name: &str) -> Result<String, ApiError> {
    match fields.remove(name) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(ApiError::BadField(format!("{name} must be a string"))),
        None => Err(ApiError::BadField(format!("{name} is missing"))),
    }
}

/// The request body: an object with the subject field, the code (verify) and
/// only the extra fields the tenant lists.
fn read_body(
    (tenant, config): (&TenantId, &Rest2fConfig),
    body: &Bytes,
    with_code: bool,
) -> Result<(Subject, Option<SecretString>), ApiError> {
    let Ok(Value::Object(mut fields)) = serde_json::from_slice::<Value>(body) else {
        return Err(ApiError::BadBody("the body must be a JSON object".into()));
    };
    let subject = take_string(&mut fields, config.subject_field())?;
    let code = if with_code {
        Some(SecretString::from(take_string(&mut fields, "code")?))
    } else {
        None
    };
    // The subject field's usual companion (LemonLDAP::NG always sends `user`).
    if let Some(unknown) = fields
        .keys()
        .find(|k| *k != "user" && !config.extra_fields.iter().any(|e| e == *k))
    {
        return Err(ApiError::BadField(format!(
            "unknown field {unknown:?} (list it in rest2f.extra_fields)"
        )));
    }
    Ok((tenant.subject(&subject)?, code))
}

/// A typed code the engine may see: short, and only what a person types for a
/// code (LemonLDAP::NG expands `$attr` inside what the user typed).
fn typed_code_looks_right(code: &str) -> bool {
    code.len() <= MAX_CODE_BYTES
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '-')
}

async fn verify(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Rest2fAnswer, Rest2fError> {
    let (id, config) = admit(&state, &tenant, &headers)?;
    let (who, code) = read_body((&id, config), &body, true)?;
    let code = code.ok_or(ApiError::Internal)?;
    if !typed_code_looks_right(secrecy::ExposeSecret::expose_secret(&code)) {
        return Ok(Rest2fAnswer::refused("invalid_code"));
    }
    // A user without codes is answered exactly as one with codes (the service
    // checks its own decoy state: the same cost, the same lockout).
    let attempt = match state.service.verify_like_enrolled(&who, code).await {
        Ok(a) => a,
        Err(e) => {
            return match Fault::of(e) {
                Fault::RateLimited(_) => Ok(Rest2fAnswer::refused("rate_limited")),
                Fault::InvalidCode(f) => {
                    tracing::debug!(
                        reason = format_reason(f),
                        "REST second factor: malformed code"
                    );
                    Ok(Rest2fAnswer::refused("invalid_code"))
                }
                fault => Err(ApiError::from(fault).into()),
            };
        }
    };
    Ok(match attempt.outcome {
        Outcome::Accepted(number) => Rest2fAnswer {
            result: true,
            number: Some(number),
            remaining: Some(attempt.remaining),
            low: Some(attempt.low),
            reason: None,
        },
        Outcome::Rejected(r) => Rest2fAnswer::refused(reason_name(r.reason)),
        Outcome::Locked(_) => Rest2fAnswer::refused("locked"),
        Outcome::Exhausted => Rest2fAnswer::refused("exhausted"),
    })
}

async fn init(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Rest2fAnswer, Rest2fError> {
    let (id, config) = admit(&state, &tenant, &headers)?;
    let (who, _) = read_body((&id, config), &body, false)?;
    match state.service.status(&who).await {
        Ok(s) if s.active.as_ref().is_some_and(|a| !a.exhausted) => Ok(Rest2fAnswer {
            result: true,
            number: None,
            remaining: s.active.map(|a| a.remaining),
            low: None,
            reason: None,
        }),
        Ok(_) => Ok(Rest2fAnswer::refused("not_enrolled")),
        Err(e) => match Fault::of(e) {
            Fault::NotEnrolled => Ok(Rest2fAnswer::refused("not_enrolled")),
            fault => Err(ApiError::from(fault).into()),
        },
    }
}
