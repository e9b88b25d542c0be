//! Rendering pages: templates become responses that say where their forms may
//! post (the [`headers::pages`](crate::http::layers::headers::pages) layer turns that into
//! the security headers), and refusals become error pages.
//!
//! A [`Refusal`](crate::http::views::refusal::Refusal) is made far from the request it
//! answers, so it leaves its page to [`refusals`], a layer that knows the
//! request's [`Base`] (for the stylesheet and script links).

use askama::Template;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::http::AppState;
use crate::http::layers::headers::Forms;
use crate::http::views::base::Base;
use crate::http::views::chrome::{Chrome, tenant_of};
use crate::http::views::i18n::Msg;
use crate::http::views::refusal::Reader;

/// A signed answer ready to be posted back: to the IdP's continue URL (the
/// login step's `state` and `session_token`), or to a relying party's
/// redirect URI (the step-up provider's `id_token` or `error`, and `state`).
#[derive(Debug, Clone)]
pub struct Handoff {
    /// Where it is posted.
    pub url: String,
    /// The form's fields, in order.
    pub fields: Vec<Field>,
    /// The one origin the page's forms may post to (`form-action`), for
    /// answers of the step-up provider; `None` for the step's hand-back (see
    /// [`Forms::HandBack`]).
    pub form_action: Option<String>,
}

/// A hidden field of a hand-back form.
#[derive(Debug, Clone)]
pub struct Field {
    /// Its name.
    pub name: &'static str,
    /// Its value.
    pub value: String,
}

impl Handoff {
    /// The login step's answer: `state` and the signed result token.
    pub fn step(url: String, state: String, token: String) -> Self {
        Self {
            url,
            fields: vec![
                Field {
                    name: "state",
                    value: state,
                },
                Field {
                    name: "session_token",
                    value: token,
                },
            ],
            form_action: None,
        }
    }

    /// The forms policy of a page that posts it.
    pub fn forms(&self) -> Forms {
        match &self.form_action {
            Some(origin) => Forms::PostTo(origin.clone()),
            None => Forms::HandBack,
        }
    }
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

/// `status` and a rendered template in the reader's language: the page says
/// so in `Content-Language`.
pub fn render_in(status: StatusCode, page: &impl Template, forms: Forms, c: &Chrome) -> Response {
    let mut response = render(status, page, forms);
    if let Ok(v) = HeaderValue::from_str(c.t.tag()) {
        response.headers_mut().insert(header::CONTENT_LANGUAGE, v);
    }
    response
}

#[derive(Template)]
#[template(path = "step/error.html")]
struct ErrorPage<'a> {
    c: &'a Chrome,
    title: String,
    message: String,
    handoff: Option<&'a Handoff>,
    link: Option<&'a OnwardLink>,
}

/// A link on a refusal page to where the user can start again.
#[derive(Debug, Clone)]
pub struct OnwardLink {
    /// The shim's own path (under the request's base path), e.g. `/self/acme/`.
    pub path: String,
    /// What the link says (a message id).
    pub label: &'static str,
}

/// A refusal waiting for its page (see [`refusals`]).
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

/// A `Retry-After` value.
pub fn retry_after(seconds: u64) -> HeaderValue {
    HeaderValue::from(seconds)
}
