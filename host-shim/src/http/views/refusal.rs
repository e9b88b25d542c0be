//! The error type of the pages (the login step, the demo): a clear page saying
//! what happened and what to do, with the signed failure for the IdP when one
//! applies, and nothing changed. A refusal names its message (the catalogues'
//! `refusal-*` ids, the title in `.title`); the page is written in the
//! reader's language by the [`refusal_pages`](crate::http::layers::refusal_pages) layer.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::http::layers::limits::Refuse;
use crate::http::views::handoff::Handoff;
use crate::http::views::i18n::{Msg, Tr};

/// A refusal: a status, a page, and the signed failure for the IdP when one applies.
#[derive(Clone)]
pub struct Refusal {
    status: StatusCode,
    message: Msg,
    handoff: Option<Box<Handoff>>,
    link: Option<OnwardLink>,
    retry_after: Option<u64>,
    reader: Option<Box<Reader>>,
}

/// Who a refusal page is for, when the handler knows (a flow carries it);
/// otherwise the layer negotiates from the request.
#[derive(Debug, Clone)]
pub struct Reader {
    /// Language and time zone.
    pub tr: Tr,
    /// The account the page is about, as shown.
    pub account: Option<String>,
}

impl Refusal {
    /// A refusal page saying the message `id` (its title: `id.title`).
    pub fn new(status: StatusCode, id: &'static str) -> Self {
        Self::say(status, Msg::new(id))
    }

    /// A refusal page saying a message with arguments.
    pub fn say(status: StatusCode, message: Msg) -> Self {
        Self {
            status,
            message,
            handoff: None,
            link: None,
            retry_after: None,
            reader: None,
        }
    }

    /// Something failed on the shim's side (details are logged where it happened).
    pub fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "refusal-internal")
    }

    /// Write the page for this reader (language, zone, account).
    #[must_use]
    pub fn for_reader(mut self, reader: Reader) -> Self {
        self.reader = Some(Box::new(reader));
        self
    }

    /// Add the signed failure the page posts back to the IdP.
    #[must_use]
    pub fn back(mut self, handoff: Option<Handoff>) -> Self {
        self.handoff = handoff.map(Box::new);
        self
    }

    /// Add a link to one of the shim's own pages (where to start again);
    /// `label` is a message id.
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
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut response = self.status.into_response();
        if let Some(s) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, retry_after(s));
        }
        response
            .extensions_mut()
            .insert(crate::http::layers::observe::Refused::new(self.message.id));
        response.extensions_mut().insert(PendingRefusal {
            message: self.message,
            handoff: self.handoff.map(|h| *h),
            link: self.link,
            reader: self.reader.map(|r| *r),
        });
        response
    }
}

/// A form that is not one of the pages' forms.
pub fn bad_form() -> Refusal {
    Refusal::new(StatusCode::BAD_REQUEST, "refusal-bad-form")
}

impl Refuse for Refusal {
    fn too_many(wait: Duration) -> Response {
        let _ = wait;
        Refusal::new(StatusCode::TOO_MANY_REQUESTS, "refusal-too-many")
            .retry_after(60)
            .into_response()
    }

    fn too_large() -> Response {
        Refusal::new(StatusCode::PAYLOAD_TOO_LARGE, "refusal-too-large").into_response()
    }

    fn body_timeout() -> Response {
        Refusal::new(StatusCode::REQUEST_TIMEOUT, "refusal-body-timeout").into_response()
    }

    fn unreadable() -> Response {
        bad_form().into_response()
    }
}

/// A link on a refusal page to where the user can start again.
#[derive(Debug, Clone)]
pub struct OnwardLink {
    /// The shim's own path (under the request's base path), e.g. `/self/acme/`.
    pub path: String,
    /// What the link says (a message id).
    pub label: &'static str,
}

/// A refusal waiting for its page (see [`refusals`](crate::http::layers::refusal_pages::refusals)).
#[derive(Clone)]
pub struct PendingRefusal {
    /// What happened and what to do (its `.title`: the page's title).
    pub message: Msg,
    /// The signed failure for the IdP, when one applies.
    pub handoff: Option<Handoff>,
    /// Where the user can start again, when not back at the IdP.
    pub link: Option<OnwardLink>,
    /// Who the page is for, when the handler knew.
    pub reader: Option<Reader>,
}

/// A `Retry-After` value.
pub fn retry_after(seconds: u64) -> HeaderValue {
    HeaderValue::from(seconds)
}
