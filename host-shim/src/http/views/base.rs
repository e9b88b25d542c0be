//! Where the shim is reachable from the browser, so every link, form action,
//! redirect and cookie path works under any prefix.
//!
//! The path of `public_url` is the prefix a proxy in front of the shim adds (a
//! proxy that forwards `https://sso.example/bc/...` as `/...` is configured with
//! `public_url = "https://sso.example/bc"`); the part of the request's original
//! URI before the route's own path is the prefix of a router the shim is nested
//! in (`Router::nest("/backup-codes", ...)` in an application). Pages use both.

use std::convert::Infallible;

use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::request::Parts;

use crate::http::AppState;

/// The base of the shim's addresses for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Base {
    /// `scheme://host[:port]` of `public_url`.
    origin: String,
    /// The path prefix: `public_url`'s path and the nesting prefix, without a
    /// trailing slash (empty at the root).
    prefix: String,
}

impl Base {
    /// The base for `public_url` and a router nested under `nest` (`""`: not nested).
    pub fn new(public_url: &url::Url, nest: &str) -> Self {
        let proxy = public_url.path().trim_end_matches('/');
        Self {
            origin: public_url.origin().ascii_serialization(),
            prefix: format!("{proxy}{}", nest.trim_end_matches('/')),
        }
    }

    /// The browser path of a route (`rel` starts with `/`).
    pub fn path(&self, rel: &str) -> String {
        format!("{}{rel}", self.prefix)
    }

    /// Whether browsers reach the shim over HTTPS (cookies are then `Secure`).
    pub fn is_https(&self) -> bool {
        self.origin.starts_with("https://")
    }

    /// The absolute URL of a route.
    pub fn url(&self, rel: &str) -> String {
        format!("{}{}", self.origin, self.path(rel))
    }
}

impl FromRequestParts<AppState> for Base {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        let inner = parts.uri.path();
        let outer = parts
            .extensions
            .get::<OriginalUri>()
            .map_or(inner, |o| o.0.path());
        let nest = if inner == "/" {
            outer.trim_end_matches('/')
        } else {
            outer.strip_suffix(inner).unwrap_or("")
        };
        Ok(Self::new(&state.config.public_url, nest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_and_nesting_prefixes_compose() {
        let root = url::Url::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(Base::new(&root, "").path("/step/a/login"), "/step/a/login");
        assert_eq!(
            Base::new(&root, "/backup-codes").url("/static/step.css"),
            "http://127.0.0.1:8080/backup-codes/static/step.css"
        );
        let proxied = url::Url::parse("https://sso.example/bc/").unwrap();
        assert_eq!(
            Base::new(&proxied, "/nested").url("/demo/"),
            "https://sso.example/bc/nested/demo/"
        );
    }
}
