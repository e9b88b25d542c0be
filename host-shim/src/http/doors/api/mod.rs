//! The JSON API identity providers call (`/v1/tenants/{tenant}/subjects/{subject}/codes`):
//! issue, activate, verify, status and delete, each admitted by a bearer token
//! scoped to its operation.

pub mod body;
pub mod error;

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};

use crate::auth::{AuthError, Operation};
use crate::http::AppState;
use crate::http::doors::api::body::{AttemptBody, CodeRequest, IssuedBody, JsonObject, StatusBody};
use crate::http::doors::api::error::ApiError;
use crate::plugin::Outcome;
use crate::service::{Attempt, Subject};

/// The API's routes (state, limits and headers come from [`crate::http::app`]).
pub fn routes() -> Router<AppState> {
    let codes = "/v1/tenants/{tenant}/subjects/{subject}/codes";
    Router::new()
        .route(codes, post(issue).get(status).delete(delete))
        .route(&format!("{codes}/verify"), post(verify))
        .route(&format!("{codes}/activate"), post(activate))
}

/// JSON body extractor whose rejections are [`ApiError`]s; the body must be
/// a JSON object ([`JsonObject`]).
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<JsonObject<T>>::from_request(req, state).await {
            Ok(Json(JsonObject(v))) => Ok(Self(v)),
            Err(JsonRejection::BytesRejection(_)) => Err(ApiError::TooLarge),
            Err(e) => Err(ApiError::BadBody(e.body_text())),
        }
    }
}

/// The subject a request's path names, its tenant and id checked once.
pub struct PathSubject(pub Subject);

impl FromRequestParts<AppState> for PathSubject {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Ok(Path((tenant, subject))) =
            Path::<(String, String)>::from_request_parts(parts, state).await
        else {
            return Err(ApiError::InvalidSubject);
        };
        Ok(Self(state.service.subject(&tenant, &subject)?))
    }
}

/// Authenticate `operation` on a subject (the service counts attempts).
async fn admit(
    state: &AppState,
    headers: &HeaderMap,
    who: &Subject,
    operation: Operation,
) -> Result<(), ApiError> {
    let tenant = who.tenant().as_str();
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if let Err(reason) = state
        .auth
        .authenticate(&state.service, who, operation, authorization)
        .await
    {
        // The operator learns why (never the token); the caller only that it failed.
        tracing::info!(
            tenant,
            operation = operation.scope(),
            reason = reason.label(),
            "API token refused"
        );
        return Err(match reason {
            AuthError::Scope => ApiError::Forbidden,
            other => ApiError::Unauthorized(other),
        });
    }
    Ok(())
}

async fn issue(
    State(state): State<AppState>,
    PathSubject(who): PathSubject,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    admit(&state, &headers, &who, Operation::Issue).await?;
    let issued = state.service.issue(&who).await?;
    let mut response = (StatusCode::CREATED, Json(IssuedBody::from(&issued))).into_response();
    response
        .headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(response)
}

async fn status(
    State(state): State<AppState>,
    PathSubject(who): PathSubject,
    headers: HeaderMap,
) -> Result<Json<StatusBody>, ApiError> {
    admit(&state, &headers, &who, Operation::Status).await?;
    let s = state.service.status(&who).await?;
    Ok(Json(StatusBody::from(&s)))
}

async fn delete(
    State(state): State<AppState>,
    PathSubject(who): PathSubject,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    admit(&state, &headers, &who, Operation::Delete).await?;
    state.service.delete(&who).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn verify(
    State(state): State<AppState>,
    PathSubject(who): PathSubject,
    headers: HeaderMap,
    Body(body): Body<CodeRequest>,
) -> Result<Response, ApiError> {
    admit(&state, &headers, &who, Operation::Verify).await?;
    let a = state.service.verify(&who, body.code).await?;
    Ok(attempt_response(&a))
}

async fn activate(
    State(state): State<AppState>,
    PathSubject(who): PathSubject,
    headers: HeaderMap,
    Body(body): Body<CodeRequest>,
) -> Result<Response, ApiError> {
    admit(&state, &headers, &who, Operation::Activate).await?;
    let a = state.service.activate(&who, None, body.code).await?;
    Ok(attempt_response(&a))
}

/// An attempt's body; a lockout also says in `Retry-After` when to try
/// again (from the service's clock).
fn attempt_response(a: &Attempt) -> Response {
    let mut response = Json(AttemptBody::from(a)).into_response();
    if let Some(wait) = a
        .retry_after
        .filter(|_| matches!(a.outcome, Outcome::Locked(_)))
    {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(wait));
    }
    response
}
