//! Security headers, set by layers rather than by each handler.
//!
//! Pages say in a response extension where their forms may post ([`Forms`]);
//! [`pages`] turns that into a strict Content-Security-Policy and adds the
//! headers every page carries. The JSON API's answers are never cached
//! ([`no_store`]); static assets are cacheable ([`asset`]).

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use tower_http::set_header::SetResponseHeaderLayer;

/// Where a page's forms may be submitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Forms {
    /// To the shim itself and, when given, to this origin (the IdP's continue
    /// URL): `form-action 'self' <origin>`.
    Own(Option<String>),
    /// The page posts a signed result back to the IdP. Browsers apply
    /// `form-action` to every redirect that follows a form submission, and the
    /// IdP's continue endpoint redirects on to the application's callback, whose
    /// origin the shim cannot know (Chromium blocks the sign-in otherwise). So
    /// these pages carry every other directive but no `form-action`; their only
    /// cross-origin form targets the continue URL checked against the tenant's
    /// `continue_urls`, and no script but the shim's own runs on them.
    HandBack,
    /// The page posts an answer of the step-up provider to a relying party's
    /// registered redirect URI, and nothing else: `form-action <origin>`.
    PostTo(String),
}

/// The layer that gives every page (a response carrying [`Forms`]) its headers.
pub async fn pages(mut response: Response) -> Response {
    let Some(forms) = response.extensions_mut().remove::<Forms>() else {
        return response;
    };
    let form_action = match forms {
        Forms::Own(None) => "form-action 'self'; ".to_owned(),
        Forms::Own(Some(origin)) => format!("form-action 'self' {origin}; "),
        Forms::HandBack => String::new(),
        Forms::PostTo(origin) => format!("form-action {origin}; "),
    };
    let csp = format!(
        "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; \
         {form_action}frame-ancestors 'none'; base-uri 'none'"
    );
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// Answers about a subject's codes are never stored by any cache.
pub fn no_store() -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))
}

/// A static asset compiled into the shim: cacheable for an hour, never sniffed.
pub fn asset(content_type: &'static str, body: &'static [u8]) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}
