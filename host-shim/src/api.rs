//! The HTTP API for identity providers (`/v1`), health, readiness and metrics.
//!
//! [`app`] builds the router without a socket, so tests can drive it directly
//! or serve it on `127.0.0.1:0`.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::rejection::JsonRejection;
use axum::extract::{
    ConnectInfo, DefaultBodyLimit, FromRequest, MatchedPath, Path, Request, State,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;

use crate::auth::{AuthError, Authenticator, Operation};
use crate::config::Limits;
use crate::plugin::{
    CallError, CodeFormatError, CredentialStatus, Outcome, PluginError, SetStatus,
};
use crate::service::{Attempt, Service, ServiceError, reason_name};

/// The OpenAPI 3.1 description of this API, served at `/v1/openapi.json`.
pub const OPENAPI: &str = include_str!("../openapi.json");

/// Per-key request rate limits.
pub struct RateLimits {
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
    per_subject: DefaultKeyedRateLimiter<(String, String)>,
}

impl RateLimits {
    /// Limits from the configuration.
    pub fn new(limits: &Limits) -> Self {
        let quota = |n: u32| Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN));
        Self {
            per_ip: RateLimiter::keyed(quota(limits.per_ip_per_minute)),
            per_subject: RateLimiter::keyed(quota(limits.per_subject_per_minute)),
        }
    }

    /// Count a request from `ip`; `Err` holds how long to wait when over the limit.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), Duration> {
        self.per_ip.check_key(&ip).map_err(wait)
    }

    /// Count a code attempt for a subject, whichever door it came through (API
    /// or login step); `Err` holds how long to wait when over the limit.
    pub fn check_subject(&self, tenant: &str, subject: &str) -> Result<(), Duration> {
        let key = (tenant.to_owned(), subject.to_owned());
        self.per_subject.check_key(&key).map_err(wait)
    }

    /// Forget keys that are back to a full allowance (bounds memory).
    pub fn shrink(&self) {
        self.per_ip.retain_recent();
        self.per_subject.retain_recent();
    }
}

fn wait(not_until: governor::NotUntil<governor::clock::QuantaInstant>) -> Duration {
    not_until.wait_time_from(governor::clock::Clock::now(
        &governor::clock::DefaultClock::default(),
    ))
}

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
    pub config: Arc<crate::config::Config>,
}

/// The process-wide Prometheus recorder (installed on first use).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let buckets = [
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ];
            let builder = PrometheusBuilder::new()
                .set_buckets(&buckets)
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (embedding apps); then this
            // handle renders only what it records, which is still correct for /metrics.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// Errors a request can end in, each with its status code.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Missing or invalid bearer token.
    #[error("unauthorized")]
    Unauthorized(AuthError),
    /// A valid token whose `scope` does not cover this operation.
    #[error("insufficient scope")]
    Forbidden,
    /// No such tenant.
    #[error("unknown tenant")]
    UnknownTenant,
    /// Bad subject id.
    #[error("invalid subject")]
    InvalidSubject,
    /// The body is not the expected JSON.
    #[error("invalid request body: {0}")]
    BadBody(String),
    /// The body is larger than allowed.
    #[error("request body too large")]
    TooLarge,
    /// The client did not send its body in time.
    #[error("request body not received in time")]
    BodyTimeout,
    /// The subject has no codes.
    #[error("not enrolled")]
    NotEnrolled,
    /// The typed code is not well formed.
    #[error("invalid code")]
    InvalidCode(CodeFormatError),
    /// The operation does not fit the credential's state.
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// Too many requests.
    #[error("rate limited")]
    RateLimited(Duration),
    /// The engine is busy, failed closed or the store is contended.
    #[error("temporarily unavailable")]
    Unavailable,
    /// Anything else (details are logged, never returned).
    #[error("internal error")]
    Internal,
}

fn format_reason(e: CodeFormatError) -> &'static str {
    match e {
        CodeFormatError::Empty => "empty",
        CodeFormatError::TooLong => "too_long",
        CodeFormatError::InvalidCharacter => "invalid_character",
        CodeFormatError::WrongLength => "wrong_length",
        CodeFormatError::CheckSymbolMismatch => "check_symbol_mismatch",
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::UnknownTenant => Self::UnknownTenant,
            ServiceError::InvalidSubject => Self::InvalidSubject,
            ServiceError::NotEnrolled => Self::NotEnrolled,
            ServiceError::AlreadyEnrolled => Self::Conflict("backup codes are already enrolled"),
            ServiceError::Refused(PluginError::InvalidCode(f)) => Self::InvalidCode(f),
            ServiceError::Refused(PluginError::NoActiveSet) => {
                Self::Conflict("no active set: activate the pending set first")
            }
            ServiceError::Refused(PluginError::NoPendingSet) => {
                Self::Conflict("no pending set to activate")
            }
            ServiceError::Engine(CallError::Busy) | ServiceError::Contended => Self::Unavailable,
            ServiceError::Engine(_) => Self::Unavailable,
            other => {
                tracing::error!(error = %other, "request failed");
                Self::Internal
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match &self {
            Self::Unauthorized(reason) => {
                tracing::debug!(reason = %reason, "token refused");
                metrics::counter!("backup_codes_auth_failures_total", "reason" => reason.label())
                    .increment(1);
                (StatusCode::UNAUTHORIZED, json!({"error": "unauthorized"}))
            }
            Self::Forbidden => {
                metrics::counter!("backup_codes_auth_failures_total", "reason" => AuthError::Scope.label())
                    .increment(1);
                (
                    StatusCode::FORBIDDEN,
                    json!({"error": "insufficient_scope"}),
                )
            }
            Self::UnknownTenant => (
                StatusCode::NOT_FOUND,
                json!({"error": "unknown_tenant", "message": "no such tenant is configured"}),
            ),
            Self::InvalidSubject => (
                StatusCode::BAD_REQUEST,
                json!({"error": "invalid_subject", "message": "subject must be 1..=255 bytes without control characters"}),
            ),
            Self::BadBody(m) => (
                StatusCode::BAD_REQUEST,
                json!({"error": "invalid_body", "message": m}),
            ),
            Self::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                json!({"error": "body_too_large"}),
            ),
            Self::BodyTimeout => (
                StatusCode::REQUEST_TIMEOUT,
                json!({"error": "request_timeout"}),
            ),
            Self::NotEnrolled => (
                StatusCode::NOT_FOUND,
                json!({"error": "not_enrolled", "message": "no backup codes are enrolled for this subject"}),
            ),
            Self::InvalidCode(f) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({"error": "invalid_code", "reason": format_reason(*f), "message": "the code is not well formed; it was not counted as an attempt"}),
            ),
            Self::Conflict(m) => (
                StatusCode::CONFLICT,
                json!({"error": "conflict", "message": m}),
            ),
            Self::RateLimited(_) => (
                StatusCode::TOO_MANY_REQUESTS,
                json!({"error": "rate_limited"}),
            ),
            Self::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"error": "unavailable"}),
            ),
            Self::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"error": "internal"}),
            ),
        };
        let mut response = (status, Json(body)).into_response();
        let retry = match &self {
            Self::RateLimited(wait) => Some(wait.as_secs().max(1)),
            Self::Unavailable => Some(1),
            _ => None,
        };
        if let Some(seconds) = retry {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// JSON body extractor whose rejections are [`ApiError`]s.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Self(v)),
            Err(JsonRejection::BytesRejection(_)) => Err(ApiError::TooLarge),
            Err(e) => Err(ApiError::BadBody(e.body_text())),
        }
    }
}

/// A typed code.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeBody {
    /// The code as typed.
    pub code: SecretString,
}

/// Authenticate, validate and rate-limit a request about one subject.
async fn admit(
    state: &AppState,
    headers: &HeaderMap,
    tenant: &str,
    subject: &str,
    operation: Operation,
) -> Result<(), ApiError> {
    if !state.service.has_tenant(tenant) {
        return Err(ApiError::UnknownTenant);
    }
    crate::service::check_subject(subject).map_err(|_| ApiError::InvalidSubject)?;
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    state
        .auth
        .authenticate(
            state.service.store(),
            tenant,
            subject,
            operation,
            authorization,
        )
        .await
        .map_err(|e| match e {
            AuthError::Scope => ApiError::Forbidden,
            other => ApiError::Unauthorized(other),
        })?;
    if matches!(operation, Operation::Verify | Operation::Activate) {
        state
            .rates
            .check_subject(tenant, subject)
            .map_err(ApiError::RateLimited)?;
    }
    Ok(())
}

fn set_json(s: &SetStatus) -> Value {
    json!({
        "set_id": s.set_id,
        "fingerprint": s.fingerprint,
        "issued_at": s.issued_at,
        "activated_at": s.activated_at,
        "total": s.total,
        "remaining": s.remaining,
        "used": s.used.iter().map(|u| json!({"number": u.number, "at": u.at})).collect::<Vec<_>>(),
        "low": s.low,
        "exhausted": s.exhausted,
        "hash_outdated": s.hash_outdated,
        "next_number": s.next_number,
    })
}

/// JSON form of a credential's status.
pub fn status_json(s: &CredentialStatus) -> Value {
    json!({
        "active": s.active.as_ref().map(set_json),
        "pending": s.pending.as_ref().map(set_json),
        "consecutive_failures": s.consecutive_failures,
        "locked_until": s.locked_until,
        "locked_permanently": s.locked_permanently,
    })
}

/// JSON form of an attempt's result.
pub fn attempt_json(a: &Attempt) -> Value {
    let mut v = match a.outcome {
        Outcome::Accepted(number) => json!({"result": "accepted", "number": number}),
        Outcome::Rejected(r) => json!({
            "result": "rejected",
            "reason": reason_name(r.reason),
            "consecutive_failures": r.consecutive_failures,
            "locked_until": r.locked_until,
            "permanent": r.permanent,
        }),
        // The same fields as a rejection, so IdPs read one shape.
        Outcome::Locked(until) => json!({
            "result": "locked",
            "reason": "locked",
            "consecutive_failures": a.consecutive_failures,
            "locked_until": until,
            "permanent": until.is_none(),
        }),
        Outcome::Exhausted => json!({"result": "exhausted"}),
    };
    if let Some(map) = v.as_object_mut() {
        map.insert("remaining".into(), json!(a.remaining));
        map.insert("low".into(), json!(a.low));
        map.insert("set_id".into(), json!(a.set_id));
    }
    v
}

async fn issue(
    State(state): State<AppState>,
    Path((tenant, subject)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    admit(&state, &headers, &tenant, &subject, Operation::Issue).await?;
    let issued = state.service.issue(&tenant, &subject).await?;
    let pending = issued
        .events
        .iter()
        .any(|e| matches!(e, crate::plugin::Event::Issued(i) if i.pending));
    let body = json!({
        "set_id": issued.set_id,
        "fingerprint": issued.fingerprint,
        "pending": pending,
        "codes": issued.codes.iter().map(|c| json!({"number": c.number, "code": c.code.expose_secret()})).collect::<Vec<_>>(),
    });
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(response)
}

async fn status(
    State(state): State<AppState>,
    Path((tenant, subject)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    admit(&state, &headers, &tenant, &subject, Operation::Status).await?;
    let s = state.service.status(&tenant, &subject).await?;
    Ok(Json(status_json(&s)))
}

async fn delete(
    State(state): State<AppState>,
    Path((tenant, subject)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    admit(&state, &headers, &tenant, &subject, Operation::Delete).await?;
    state.service.delete(&tenant, &subject).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn verify(
    State(state): State<AppState>,
    Path((tenant, subject)): Path<(String, String)>,
    headers: HeaderMap,
    Body(body): Body<CodeBody>,
) -> Result<Response, ApiError> {
    admit(&state, &headers, &tenant, &subject, Operation::Verify).await?;
    let a = state.service.verify(&tenant, &subject, body.code).await?;
    Ok(attempt_response(&a))
}

/// An attempt's JSON; a lockout also says in `Retry-After` when to try again.
fn attempt_response(a: &Attempt) -> Response {
    let mut response = Json(attempt_json(a)).into_response();
    if let Outcome::Locked(Some(until)) = a.outcome {
        let now = jsonwebtoken::get_current_timestamp();
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(until.saturating_sub(now).max(1)),
        );
    }
    response
}

async fn activate(
    State(state): State<AppState>,
    Path((tenant, subject)): Path<(String, String)>,
    headers: HeaderMap,
    Body(body): Body<CodeBody>,
) -> Result<Response, ApiError> {
    admit(&state, &headers, &tenant, &subject, Operation::Activate).await?;
    let a = state.service.activate(&tenant, &subject, body.code).await?;
    Ok(attempt_response(&a))
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state.service.store().ping().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            (StatusCode::SERVICE_UNAVAILABLE, "store unavailable").into_response()
        }
    }
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

/// Per-IP limit, request metrics and a span per request (method and route
/// template only: no codes, tokens or bodies).
async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_owned();
    let ip = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([127, 0, 0, 1]), |c| c.0.ip());
    let method = request.method().clone();
    // The login step's pages count against the same allowance but answer with a
    // page of their own (see `step`).
    if route.starts_with("/v1/tenants")
        && let Err(wait) = state.rates.check_ip(ip)
    {
        return ApiError::RateLimited(wait).into_response();
    }
    let span = tracing::info_span!("request", %method, route = %route);
    let started = Instant::now();
    let response = tracing::Instrument::instrument(next.run(request), span).await;
    let status = response.status().as_u16().to_string();
    metrics::histogram!("backup_codes_http_request_duration_seconds", "route" => route.clone(), "method" => method.to_string(), "status" => status.clone())
        .record(started.elapsed().as_secs_f64());
    metrics::counter!("backup_codes_http_requests_total", "route" => route, "status" => status)
        .increment(1);
    response
}

/// Declared bodies over the limit but at most this large are read and thrown
/// away before the 413, so the client gets the answer rather than a reset
/// connection; larger ones are refused at once.
const DRAIN_BYTES: u64 = 1 << 20;

/// Read the whole body before the handler runs, within the size limit and the
/// body-read deadline: a declared `Content-Length` over the limit is refused
/// (413; at once above [`DRAIN_BYTES`]), a body that does not arrive in time gets
/// 408, so a slow client holds no handler, engine slot or database connection.
async fn read_body(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let limit = state.limits.body_bytes;
    let (parts, body) = request.into_parts();
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let deadline = Duration::from_millis(state.limits.body_read_timeout_ms);
    if let Some(n) = declared.filter(|&n| n > u64::try_from(limit).unwrap_or(u64::MAX)) {
        if n <= DRAIN_BYTES {
            let drain = async {
                let mut body = body;
                while let Some(Ok(_)) = http_body_util::BodyExt::frame(&mut body).await {}
            };
            let _ = tokio::time::timeout(deadline, drain).await;
        }
        return ApiError::TooLarge.into_response();
    }
    let limited = http_body_util::Limited::new(body, limit);
    let bytes = match tokio::time::timeout(deadline, http_body_util::BodyExt::collect(limited))
        .await
    {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
            return ApiError::TooLarge.into_response();
        }
        Ok(Err(_)) => {
            return ApiError::BadBody("the request body could not be read".into()).into_response();
        }
        Err(_) => {
            metrics::counter!("backup_codes_http_body_timeouts_total").increment(1);
            return ApiError::BodyTimeout.into_response();
        }
    };
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await
}

/// The API router.
pub fn app(state: AppState) -> Router {
    let subject = "/v1/tenants/{tenant}/subjects/{subject}/codes";
    let timeout = Duration::from_millis(state.limits.request_timeout_ms);
    // Every API answer is about one subject's codes: never cached anywhere.
    let api = Router::new()
        .route(subject, post(issue).get(status).delete(delete))
        .route(&format!("{subject}/verify"), post(verify))
        .route(&format!("{subject}/activate"), post(activate))
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ));
    Router::new()
        .merge(api)
        .route("/v1/openapi.json", get(openapi))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .merge(crate::step::router(state.clone()))
        .route_layer(middleware::from_fn_with_state(state.clone(), read_body))
        .route_layer(middleware::from_fn_with_state(state.clone(), observe))
        .layer(DefaultBodyLimit::max(state.limits.body_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            timeout,
        ))
        .with_state(state)
}
