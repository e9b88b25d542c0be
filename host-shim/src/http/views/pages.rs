//! Rendering pages: templates become responses that say where their forms may
//! post (the [`headers::pages`](crate::http::layers::headers::pages) layer
//! turns that into the security headers). Refusals become error pages in the
//! [`refusal_pages`](crate::http::layers::refusal_pages) layer.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::http::layers::headers::Forms;
use crate::http::views::chrome::Chrome;

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
