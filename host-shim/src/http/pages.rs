//! Rendering pages: templates become responses that say where their forms may
//! post (the [`headers::pages`](super::headers::pages) layer turns that into
//! the security headers), and refusals become error pages.
//!
//! A [`Refusal`](super::refusal::Refusal) is made far from the request it
//! answers, so it leaves its page to [`refusals`], a layer that knows the
//! request's [`Base`] (for the stylesheet and script links).

use askama::Template;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::base::Base;
use super::headers::Forms;

/// A signed answer ready to be posted to the IdP's continue URL.
#[derive(Debug, Clone)]
pub struct Handoff {
    /// The continue URL it is posted to.
    pub url: String,
    /// The IdP's `state`.
    pub state: String,
    /// The signed result token.
    pub token: String,
}

/// `status` and a rendered template, with the forms policy its headers follow.
pub fn render(status: StatusCode, page: &impl Template, forms: Forms) -> Response {
    let Ok(body) = page.render() else {
        tracing::error!("rendering a page failed");
        return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
    };
    let mut response = (status, body).into_response();
    response.extensions_mut().insert(forms);
    response
}

#[derive(Template)]
#[template(path = "step/error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    base: &'a str,
    message: &'a str,
    handoff: Option<&'a Handoff>,
    link: Option<&'a OnwardLink>,
}

/// A link on a refusal page to where the user can start again.
#[derive(Debug, Clone)]
pub struct OnwardLink {
    /// The shim's own path (under the request's base path), e.g. `/self/acme/`.
    pub path: String,
    /// What the link says.
    pub label: &'static str,
}

/// A refusal waiting for its page (see [`refusals`]).
#[derive(Clone)]
pub struct PendingRefusal {
    /// The page's title.
    pub title: &'static str,
    /// What happened and what to do.
    pub message: String,
    /// The signed failure for the IdP, when one applies.
    pub handoff: Option<Handoff>,
    /// Where the user can start again, when not back at the IdP.
    pub link: Option<OnwardLink>,
}

/// The layer that renders refusals with the request's base path.
pub async fn refusals(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let Ok(base) = Base::from_request_parts(&mut parts, &state).await;
    let mut response = next.run(Request::from_parts(parts, body)).await;
    let Some(pending) = response.extensions_mut().remove::<PendingRefusal>() else {
        return response;
    };
    let page = ErrorPage {
        title: pending.title,
        base: &base.path(""),
        message: &pending.message,
        handoff: pending.handoff.as_ref(),
        link: pending.link.as_ref(),
    };
    let forms = if pending.handoff.is_some() {
        Forms::HandBack
    } else {
        Forms::Own(None)
    };
    let mut rendered = render(response.status(), &page, forms);
    if let Some(retry) = response.headers().get(header::RETRY_AFTER).cloned() {
        rendered.headers_mut().insert(header::RETRY_AFTER, retry);
    }
    // A handler may end something with its refusal (a removed cookie).
    for cookie in response.headers().get_all(header::SET_COOKIE) {
        rendered
            .headers_mut()
            .append(header::SET_COOKIE, cookie.clone());
    }
    rendered
}

/// A `Retry-After` value.
pub fn retry_after(seconds: u64) -> HeaderValue {
    HeaderValue::from(seconds)
}
