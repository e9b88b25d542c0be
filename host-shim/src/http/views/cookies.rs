//! The step's cookies, through `axum-extra`'s jar: one per flow, holding the
//! CSRF value whose SHA-256 the flow token carries. `HttpOnly`,
//! `SameSite=Strict`, scoped to the tenant's step path (under any prefix), and
//! `Secure` when the shim is reached over HTTPS.

use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use cookie::time::Duration;

use crate::http::views::base::Base;

/// The cookie of a flow: `bc_flow_<flow id>`.
pub fn name(flow_id: &str) -> String {
    format!("bc_flow_{flow_id}")
}

/// A cookie the step sets.
pub fn build(
    base: &Base,
    path: &str,
    name: String,
    value: String,
    max_age: i64,
) -> Cookie<'static> {
    Cookie::build((name, value))
        .path(base.path(path))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(base.is_https())
        .max_age(Duration::seconds(max_age))
        .build()
}

/// The flow cookie for `tenant`'s step.
pub fn flow(
    base: &Base,
    tenant: &str,
    flow_id: &str,
    csrf: String,
    max_age: i64,
) -> Cookie<'static> {
    build(
        base,
        &format!("/step/{tenant}/"),
        name(flow_id),
        csrf,
        max_age,
    )
}

/// The value of the cookie `name`, if the browser sent it.
pub fn value<'a>(jar: &'a CookieJar, name: &str) -> Option<&'a str> {
    jar.get(name).map(Cookie::value)
}
