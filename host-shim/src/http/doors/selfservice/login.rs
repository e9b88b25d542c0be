//! Signing in at the IdP: the authorization request (state, nonce, PKCE, and
//! for replacing codes a fresh, strong login), and the callback that checks
//! the answer and opens the session.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::auth::oidc::{Ask, IdClaims, OidcError, Pkce};
use crate::config::{OidcClient, SelfServiceConfig};
use crate::http::AppState;
use crate::http::doors::answer::{Fault, Pages};
use crate::http::doors::selfservice::session::{SessionClaims, session_cookie_name};
use crate::http::doors::selfservice::tenant::{
    LOGIN_TTL, SESSION_TTL, Tenant, now, random, self_path, tenant,
};
use crate::http::doors::selfservice::tokens::{Keys, Purpose};
use crate::http::views::base::Base;
use crate::http::views::cookies::build as cookie;
use crate::http::views::refusal::Refusal;
use crate::store::Mark;

/// The login transaction, in its cookie while the browser is at the IdP.
#[derive(Serialize, Deserialize)]
struct LoginClaims {
    iss: String,
    aud: String,
    exp: i64,
    state: String,
    nonce: String,
    verifier: String,
    strong: bool,
}

fn login_cookie_name(tenant: &str) -> String {
    format!("bc_self_login_{tenant}")
}

/// The IdP's callback address for this tenant.
fn redirect_uri(base: &Base, tenant: &str) -> String {
    base.url(&format!("/self/{tenant}/callback"))
}

/// Query of `login`.
#[derive(Deserialize)]
pub(super) struct LoginQuery {
    strong: Option<u8>,
}

/// Send the browser to the IdP (the strong login for replacing codes).
pub(super) async fn login(
    State(state): State<AppState>,
    Path(tenant_id): Path<String>,
    base: Base,
    jar: CookieJar,
    query: Result<Query<LoginQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<(CookieJar, Response), Refusal> {
    let t = tenant(&state, &tenant_id)?;
    let strong = query.is_ok_and(|q| q.strong == Some(1));
    start_login(&t, &base, jar, strong).await
}

pub(super) async fn start_login(
    t: &Tenant,
    base: &Base,
    jar: CookieJar,
    strong: bool,
) -> Result<(CookieJar, Response), Refusal> {
    let claims = LoginClaims {
        iss: Keys::issuer(Purpose::Login).into(),
        aud: t.id().into(),
        exp: t.now.saturating_add(LOGIN_TTL),
        state: random()?,
        nonce: random()?,
        verifier: random()?,
        strong,
    };
    let client = client(&t.config, strong);
    let pkce = Pkce::new(&claims.verifier);
    let ask = if strong {
        strong_ask(&t.config)
    } else {
        Ask::default()
    };
    let url = t
        .provider
        .authorize_url(
            client,
            &redirect_uri(base, t.id()),
            &claims.state,
            &claims.nonce,
            &pkce,
            &ask,
        )
        .await
        .map_err(|e| idp_unavailable(&e))?;
    let token = t
        .keys()
        .sign(Purpose::Login, &claims)
        .ok_or_else(Refusal::internal)?;
    // Lax: the IdP's redirect back is a top-level navigation from its site.
    let mut c = cookie(
        base,
        &self_path(t.id()),
        login_cookie_name(t.id()),
        token,
        LOGIN_TTL,
    );
    c.set_same_site(axum_extra::extract::cookie::SameSite::Lax);
    Ok((jar.add(c), Redirect::to(url.as_str()).into_response()))
}

/// What the login for replacing or deleting codes asks the IdP for.
///
/// With one client: a new login now (`prompt=login`, `max_age=0`) with one of
/// `replace_acr`. With a `strong_client`, the IdP asks its second factor
/// because of that client (LemonLDAP::NG's per-RP levels), so only freshness is
/// asked: `max_age` = `max_age_seconds`, the age the callback accepts.
/// `prompt=login` there would undo the second factor: LemonLDAP::NG 2.16
/// honours it for sessions older than 5 s (`portalForceAuthnInterval`), and
/// after raising a younger session with the second factor alone it replays the
/// request, by then older, and asks the password and a second code again.
fn strong_ask(config: &SelfServiceConfig) -> Ask<'_> {
    match config.strong_client {
        Some(_) => Ask {
            prompt_login: false,
            max_age: Some(config.max_age_seconds),
            acr_values: &config.replace_acr,
        },
        None => Ask {
            prompt_login: true,
            max_age: Some(0),
            acr_values: &config.replace_acr,
        },
    }
}

fn client(config: &SelfServiceConfig, strong: bool) -> &OidcClient {
    match (&config.strong_client, strong) {
        (Some(c), true) => c,
        _ => &config.client,
    }
}

fn idp_unavailable(e: &OidcError) -> Refusal {
    tracing::warn!(error = %e, "self-service login at the IdP failed");
    Refusal::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "refusal-self-idp-unavailable",
    )
    .retry_after(5)
}

/// Query of the IdP's redirect back.
#[derive(Deserialize)]
pub(super) struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// Back from the IdP: check the transaction, exchange the code, check the ID
/// token, open the session. The login transaction is over either way: a
/// refused callback removes its cookie too, so it cannot be tried again.
pub(super) async fn callback(
    State(state): State<AppState>,
    Path(tenant_id): Path<String>,
    base: Base,
    jar: CookieJar,
    query: Result<Query<Callback>, axum::extract::rejection::QueryRejection>,
) -> Result<(CookieJar, Response), Refusal> {
    let t = tenant(&state, &tenant_id)?;
    match complete_login(&state, &t, &base, &jar, query).await {
        Ok(session_cookie) => Ok((
            jar.remove(login_cookie(&base, t.id())).add(session_cookie),
            Redirect::to(&base.path(&self_path(t.id()))).into_response(),
        )),
        Err(refusal) => Ok((
            jar.remove(login_cookie(&base, t.id())),
            refusal.into_response(),
        )),
    }
}

/// The login transaction's cookie, for removal.
fn login_cookie(base: &Base, tenant: &str) -> axum_extra::extract::cookie::Cookie<'static> {
    cookie(
        base,
        &self_path(tenant),
        login_cookie_name(tenant),
        String::new(),
        0,
    )
}

/// The callback's checks; the new session's cookie when they all hold.
async fn complete_login(
    state: &AppState,
    t: &Tenant,
    base: &Base,
    jar: &CookieJar,
    query: Result<Query<Callback>, axum::extract::rejection::QueryRejection>,
) -> Result<axum_extra::extract::cookie::Cookie<'static>, Refusal> {
    let refused = |why: &str| {
        tracing::info!(tenant = t.id(), reason = why, "self-service login refused");
        Refusal::new(StatusCode::FORBIDDEN, "refusal-self-login-not-completed")
            .link(self_path(t.id()), "link-open-self")
    };
    let Ok(Query(q)) = query else {
        return Err(refused("no parameters"));
    };
    let transaction: LoginClaims = jar
        .get(&login_cookie_name(t.id()))
        .and_then(|c| t.keys().open(Purpose::Login, c.value()))
        .ok_or_else(|| refused("no login transaction"))?;
    let same_state = q
        .state
        .as_deref()
        .is_some_and(|s| bool::from(s.as_bytes().ct_eq(transaction.state.as_bytes())));
    if !same_state {
        return Err(refused("state"));
    }
    // Single use, whatever the IdP does with its codes: a replayed callback
    // (the URL and the transaction's cookie captured) opens nothing.
    let state_sha256 = {
        use sha2::Digest as _;
        hex::encode(sha2::Sha256::digest(transaction.state.as_bytes()))
    };
    let mark = Mark::SelfLogin {
        tenant: t.id(),
        state_sha256: &state_sha256,
    };
    match state.service.spend(mark, transaction.exp).await {
        Ok(true) => {}
        Ok(false) => return Err(refused("login transaction already used")),
        Err(e) => return Err(Fault::of(e).page(Pages::SelfService)),
    }
    if q.error.is_some() {
        return Err(refused("the IdP answered an error"));
    }
    let code = q.code.ok_or_else(|| refused("no code"))?;
    let client = client(&t.config, transaction.strong);
    let id_token = t
        .provider
        .exchange(
            client,
            &code,
            &redirect_uri(base, t.id()),
            &transaction.verifier,
        )
        .await
        .map_err(|e| match e {
            OidcError::TokenRefused(_) => refused("the token endpoint refused the code"),
            other => idp_unavailable(&other),
        })?;
    let claims: IdClaims = t
        .provider
        .validate(
            &id_token,
            &client.client_id,
            &transaction.nonce,
            transaction.strong,
        )
        .await
        .map_err(|e| {
            tracing::info!(tenant = t.id(), error = %e, "self-service ID token refused");
            refused("ID token")
        })?;
    let sub = match t.config.subject_claim.as_deref() {
        None | Some("sub") => Some(claims.sub.clone()),
        Some(name) => claims
            .other
            .get(name)
            .and_then(|v| v.as_str())
            .map(str::to_owned),
    }
    .and_then(|s| crate::service::SubjectId::parse(&s).ok())
    .ok_or_else(|| refused("subject"))?;
    let session = SessionClaims {
        iss: Keys::issuer(Purpose::Session).into(),
        aud: t.id().into(),
        exp: now(state).saturating_add(SESSION_TTL),
        sid: random()?,
        sub,
        auth_time: claims.auth_time(),
        acr: claims.acr,
        strong: transaction.strong,
    };
    let token = t
        .keys()
        .sign(Purpose::Session, &session)
        .ok_or_else(Refusal::internal)?;
    let mut c = cookie(
        base,
        &self_path(t.id()),
        session_cookie_name(t.id()),
        token,
        SESSION_TTL,
    );
    c.set_same_site(axum_extra::extract::cookie::SameSite::Lax);
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_strong_login_asks_a_new_login_of_one_client() {
        let config = SelfServiceConfig {
            replace_acr: vec!["mfa".into()],
            ..SelfServiceConfig::default()
        };
        let ask = strong_ask(&config);
        assert!(ask.prompt_login);
        assert_eq!(ask.max_age, Some(0));
        assert_eq!(ask.acr_values, ["mfa".to_owned()]);
    }

    /// Regression (LemonLDAP::NG 2.16, examples/lemonldap test f): with
    /// `prompt=login`, a session raised by the strong client's second factor was
    /// asked for the password and another code.
    #[test]
    fn the_strong_client_is_asked_for_freshness_only() {
        let config = SelfServiceConfig {
            strong_client: Some(OidcClient {
                client_id: "selfservice-strong".into(),
                ..OidcClient::default()
            }),
            replace_acr: vec!["loa-3".into()],
            max_age_seconds: 300,
            ..SelfServiceConfig::default()
        };
        let ask = strong_ask(&config);
        assert!(!ask.prompt_login);
        assert_eq!(ask.max_age, Some(300));
        assert_eq!(ask.acr_values, ["loa-3".to_owned()]);
        assert_eq!(client(&config, true).client_id, "selfservice-strong");
    }
}
