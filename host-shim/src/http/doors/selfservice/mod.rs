//! Self-service through the IdP's own login: the shim is an OpenID Connect
//! relying party of the tenant's IdP ([`crate::auth::oidc`]). After the login a
//! user sees their codes (set, remaining, used codes and when), creates or
//! replaces a set (shown once, copy/download/print, one code typed back) and
//! deletes it.
//!
//! A user without codes may make a first set after any login the IdP accepts
//! (with no codes there is no second factor yet). Replacing or deleting codes
//! needs a login at most `max_age_seconds` old and, when the tenant lists
//! `replace_acr`, one of those `acr` values (through `strong_client` when the
//! IdP ties strength to the client, as LemonLDAP::NG does): the password alone
//! never replaces codes. Sessions are signed cookies of 15 minutes, forms carry
//! a token bound to the session ([`tokens`]).
//!
//! Routes under `/self/{tenant}/`: the home page, `login` (to the IdP),
//! `callback` (back from it), and the forms `issue`, `activate`, `done`,
//! `delete`, `cancel`, `logout`.

mod ctx;
mod forms;
mod home;
mod login;
mod pages;
mod session;
mod tenant;
pub mod tokens;

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Redirect;
use axum::routing::{get, post};

use self::tenant::{self_path, tenant};
use crate::http::AppState;
use crate::http::views::base::Base;
use crate::http::views::refusal::Refusal;

/// The self-service routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/self/{tenant}", get(to_home))
        .route("/self/{tenant}/", get(home::home))
        .route("/self/{tenant}/login", get(login::login))
        .route("/self/{tenant}/callback", get(login::callback))
        .route("/self/{tenant}/issue", post(forms::issue))
        .route("/self/{tenant}/activate", post(forms::activate))
        .route("/self/{tenant}/done", post(forms::done))
        .route("/self/{tenant}/delete", post(forms::delete))
        .route("/self/{tenant}/cancel", post(forms::cancel))
        .route("/self/{tenant}/logout", post(forms::logout))
}

/// The home page's address without its slash: the cookies are scoped to
/// `/self/{tenant}/`, so the browser is sent there.
async fn to_home(
    State(state): State<AppState>,
    Path(tenant_id): Path<String>,
    base: Base,
) -> Result<Redirect, Refusal> {
    let t = tenant(&state, &tenant_id)?;
    Ok(Redirect::to(&base.path(&self_path(t.id()))))
}
