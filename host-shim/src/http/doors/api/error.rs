//! The JSON API's error type: every way a request can end other than success,
//! each with its status code and a fixed body (no input is ever echoed).

use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::auth::AuthError;
use crate::http::doors::answer::Fault;
use crate::http::doors::api::body::ErrorBody;
use crate::http::layers::limits::Refuse;
use crate::http::layers::observe::Refused;
use crate::plugin::CodeFormatError;
use crate::service::ServiceError;

/// Errors a request can end in, each with its status code.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Missing or invalid bearer token (401; the reason is logged, not answered).
    #[error("unauthorized")]
    Unauthorized(AuthError),
    /// A valid token whose `scope` does not cover this operation (403).
    #[error("insufficient scope")]
    Forbidden,
    /// No such tenant (404).
    #[error("unknown tenant")]
    UnknownTenant,
    /// Bad subject id (400).
    #[error("invalid subject")]
    InvalidSubject,
    /// The body is not the expected JSON (400; the parser's message is
    /// answered, never logged: it may quote the input).
    #[error("invalid request body: {0}")]
    BadBody(String),
    /// A field of the body is missing, of the wrong type or not one the
    /// tenant lists (400). The message names fields only, never a value, and
    /// is logged too: an IdP sending an unlisted field is an operator's
    /// mistake that fails every login.
    #[error("invalid request body: {0}")]
    BadField(String),
    /// The body is larger than allowed (413).
    #[error("request body too large")]
    TooLarge,
    /// The client did not send its body in time (408).
    #[error("request body not received in time")]
    BodyTimeout,
    /// The subject has no codes (404).
    #[error("not enrolled")]
    NotEnrolled,
    /// The typed code is not well formed (422; not counted as an attempt).
    #[error("invalid code")]
    InvalidCode(CodeFormatError),
    /// The operation does not fit the credential's state (409).
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// Too many requests (429 with `Retry-After`).
    #[error("rate limited")]
    RateLimited(Duration),
    /// The engine is busy, failed closed or the store is contended (503).
    #[error("temporarily unavailable")]
    Unavailable,
    /// Anything else (500; details are logged, never returned).
    #[error("internal error")]
    Internal,
}

/// The stable code an error is answered with (`error` in its body).
fn answer_code(e: &ApiError) -> &'static str {
    match e {
        ApiError::Unauthorized(_) => "unauthorized",
        ApiError::Forbidden => "insufficient_scope",
        ApiError::UnknownTenant => "unknown_tenant",
        ApiError::InvalidSubject => "invalid_subject",
        ApiError::BadBody(_) | ApiError::BadField(_) => "invalid_body",
        ApiError::TooLarge => "body_too_large",
        ApiError::BodyTimeout => "request_timeout",
        ApiError::NotEnrolled => "not_enrolled",
        ApiError::InvalidCode(_) => "invalid_code",
        ApiError::Conflict(_) => "conflict",
        ApiError::RateLimited(_) => "rate_limited",
        ApiError::Unavailable => "unavailable",
        ApiError::Internal => "internal",
    }
}

/// The stable name of a code format error.
pub fn format_reason(e: CodeFormatError) -> &'static str {
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
        Fault::of(e).into()
    }
}

/// The API's answer to each fault (the doors' one reading of service errors).
impl From<Fault> for ApiError {
    fn from(fault: Fault) -> Self {
        match fault {
            Fault::UnknownTenant => Self::UnknownTenant,
            Fault::InvalidSubject => Self::InvalidSubject,
            Fault::NotEnrolled => Self::NotEnrolled,
            Fault::AlreadyEnrolled => Self::Conflict("backup codes are already enrolled"),
            Fault::InvalidCode(f) => Self::InvalidCode(f),
            Fault::NoActiveSet => Self::Conflict("no active set: activate the pending set first"),
            Fault::NoPendingSet => Self::Conflict("no pending set to activate"),
            Fault::RateLimited(wait) => Self::RateLimited(wait),
            Fault::Busy => Self::Unavailable,
            Fault::StoreDown | Fault::Failed | Fault::Unexpected => Self::Internal,
        }
    }
}

fn body(error: &'static str, message: Option<&str>, reason: Option<&'static str>) -> ErrorBody {
    ErrorBody {
        error,
        message: message.map(str::to_owned),
        reason,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = answer_code(&self);
        let (status, answer) = match &self {
            Self::Unauthorized(reason) => {
                // The operator learns why (logged where the tenant is known); the
                // caller learns only "unauthorized".
                metrics::counter!("backup_codes_auth_failures_total", "reason" => reason.label())
                    .increment(1);
                (StatusCode::UNAUTHORIZED, body(code, None, None))
            }
            Self::Forbidden => {
                metrics::counter!("backup_codes_auth_failures_total", "reason" => AuthError::Scope.label())
                    .increment(1);
                (StatusCode::FORBIDDEN, body(code, None, None))
            }
            Self::UnknownTenant => (
                StatusCode::NOT_FOUND,
                body(code, Some("no such tenant is configured"), None),
            ),
            Self::InvalidSubject => (
                StatusCode::BAD_REQUEST,
                body(
                    code,
                    Some("subject must be 1..=255 bytes without control characters"),
                    None,
                ),
            ),
            Self::BadBody(m) | Self::BadField(m) => {
                (StatusCode::BAD_REQUEST, body(code, Some(m), None))
            }
            Self::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, body(code, None, None)),
            Self::BodyTimeout => (StatusCode::REQUEST_TIMEOUT, body(code, None, None)),
            Self::NotEnrolled => (
                StatusCode::NOT_FOUND,
                body(
                    code,
                    Some("no backup codes are enrolled for this subject"),
                    None,
                ),
            ),
            Self::InvalidCode(f) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                body(
                    code,
                    Some("the code is not well formed; it was not counted as an attempt"),
                    Some(format_reason(*f)),
                ),
            ),
            Self::Conflict(m) => (StatusCode::CONFLICT, body(code, Some(m), None)),
            Self::RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, body(code, None, None)),
            Self::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, body(code, None, None)),
            Self::Internal => (StatusCode::INTERNAL_SERVER_ERROR, body(code, None, None)),
        };
        let detail = match &self {
            Self::Unauthorized(reason) => Some(reason.label().to_owned()),
            Self::BadField(m) => Some(m.clone()),
            Self::InvalidCode(f) => Some(format_reason(*f).to_owned()),
            _ => None,
        };
        let mut response = (status, Json(answer)).into_response();
        response
            .extensions_mut()
            .insert(Refused::with_detail(code, detail));
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

impl Refuse for ApiError {
    fn too_many(wait: Duration) -> Response {
        Self::RateLimited(wait).into_response()
    }

    fn too_large() -> Response {
        Self::TooLarge.into_response()
    }

    fn body_timeout() -> Response {
        Self::BodyTimeout.into_response()
    }

    fn unreadable() -> Response {
        Self::BadBody("the request body could not be read".into()).into_response()
    }
}
