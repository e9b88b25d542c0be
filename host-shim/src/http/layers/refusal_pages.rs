//! The layer that turns refusals into pages: a [`Refusal`] is made far from
//! the request it answers, so it leaves its page to this layer, which knows
//! the request's [`Base`] (for the stylesheet and script links), its tenant
//! (for the brand) and its reader (for the language).
//!
//! [`Refusal`]: crate::http::views::refusal::Refusal

use askama::Template;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;

use crate::http::AppState;
use crate::http::layers::headers::Forms;
use crate::http::views::base::Base;
use crate::http::views::chrome::{Chrome, tenant_of};
use crate::http::views::handoff::Handoff;
use crate::http::views::pages::render_in;
use crate::http::views::refusal::{OnwardLink, PendingRefusal};

#[derive(Template)]
#[template(path = "step/error.html")]
struct ErrorPage<'a> {
    c: &'a Chrome,
    title: String,
    message: String,
    handoff: Option<&'a Handoff>,
    link: Option<&'a OnwardLink>,
}

/// The layer that renders refusals with the request's base path.
pub async fn refusals(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let Ok(base) = Base::from_request_parts(&mut parts, &state).await;
    let tenant = tenant_of(&state, parts.uri.path()).map(str::to_owned);
    let headers = parts.headers.clone();
    let mut response = next.run(Request::from_parts(parts, body)).await;
    let Some(pending) = response.extensions_mut().remove::<PendingRefusal>() else {
        return response;
    };
    let chrome = match pending.reader {
        Some(r) => Chrome::new(&state, &base, tenant.as_deref(), r.tr, r.account),
        None => Chrome::negotiated(&state, &base, tenant.as_deref(), &headers),
    };
    let mut title_id = String::from(pending.message.id);
    title_id.push_str(".title");
    let page = ErrorPage {
        title: chrome.msg(&title_id),
        message: chrome.t.text(&pending.message),
        c: &chrome,
        handoff: pending.handoff.as_ref(),
        link: pending.link.as_ref(),
    };
    let forms = pending
        .handoff
        .as_ref()
        .map_or(Forms::Own(None), Handoff::forms);
    let mut rendered = render_in(response.status(), &page, forms, &chrome);
    if let Some(refused) = response
        .extensions_mut()
        .remove::<crate::http::layers::observe::Refused>()
    {
        rendered.extensions_mut().insert(refused);
    }
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
