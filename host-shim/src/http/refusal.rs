//! The error type of the pages (the login step, the demo): a clear page saying
//! what happened and what to do, with the signed failure for the IdP when one
//! applies, and nothing changed.

use std::time::Duration;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::limits::Refuse;
use super::pages::{Handoff, OnwardLink, PendingRefusal, retry_after};

/// A refusal: a status, a page, and the signed failure for the IdP when one applies.
#[derive(Clone)]
pub struct Refusal {
    status: StatusCode,
    title: &'static str,
    message: String,
    handoff: Option<Box<Handoff>>,
    link: Option<OnwardLink>,
    retry_after: Option<u64>,
}

impl Refusal {
    /// A refusal page.
    pub fn new(status: StatusCode, title: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            title,
            message: message.into(),
            handoff: None,
            link: None,
            retry_after: None,
        }
    }

    /// Something failed on the shim's side (details are logged where it happened).
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong",
            "The sign-in step failed. Nothing was changed. Go back to the site you came from and try again.",
        )
    }

    /// Add the signed failure the page posts back to the IdP.
    #[must_use]
    pub fn back(mut self, handoff: Option<Handoff>) -> Self {
        self.handoff = handoff.map(Box::new);
        self
    }

    /// Add a link to one of the shim's own pages (where to start again).
    #[must_use]
    pub fn link(mut self, path: String, label: &'static str) -> Self {
        self.link = Some(OnwardLink { path, label });
        self
    }

    /// Say when to come back.
    #[must_use]
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// Its status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut response = self.status.into_response();
        if let Some(s) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, retry_after(s));
        }
        response.extensions_mut().insert(PendingRefusal {
            title: self.title,
            message: self.message,
            handoff: self.handoff.map(|h| *h),
            link: self.link,
        });
        response
    }
}

/// A form that is not one of the pages' forms.
pub fn bad_form() -> Refusal {
    Refusal::new(
        StatusCode::BAD_REQUEST,
        "This form could not be read",
        "The form that was sent is not one of this sign-in step's forms. Nothing was changed.",
    )
}

/// The store or the engine cannot answer now.
pub fn unavailable() -> Refusal {
    Refusal::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "Temporarily unavailable",
        "The sign-in step cannot check this request right now. Nothing was changed. Try again in a moment.",
    )
    .retry_after(5)
}

impl Refuse for Refusal {
    fn too_many(wait: Duration) -> Response {
        let _ = wait;
        Refusal::new(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many requests",
            "Too many requests came from your network in the last minute. Wait a minute, then try again.",
        )
        .retry_after(60)
        .into_response()
    }

    fn too_large() -> Response {
        Refusal::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "This form is too large",
            "The form that was sent is larger than any of this step's forms. Nothing was changed.",
        )
        .into_response()
    }

    fn body_timeout() -> Response {
        Refusal::new(
            StatusCode::REQUEST_TIMEOUT,
            "This form arrived too slowly",
            "The form did not arrive in time, so nothing was changed. Try again.",
        )
        .into_response()
    }

    fn unreadable() -> Response {
        bad_form().into_response()
    }
}
