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

mod pages;
pub mod tokens;

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::CookieJar;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use self::pages::{Home, Notice};
use self::tokens::{Keys, Purpose};
use super::AppState;
use super::base::Base;
use super::headers::Forms;
use super::pages::render;
use super::refusal::{Refusal, bad_form};
use super::step::cookie;
use crate::auth::oidc::{Ask, IdClaims, OidcError, Pkce, Provider};
use crate::config::{OidcClient, SelfServiceConfig};
use crate::plugin::{Outcome, PluginError};
use crate::service::{IssueMode, ServiceError};

/// How long a self-service session lasts, seconds.
pub const SESSION_TTL: i64 = 900;
/// How long a login at the IdP may take, seconds.
pub const LOGIN_TTL: i64 = 600;

/// The self-service routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/self/{tenant}", get(to_home))
        .route("/self/{tenant}/", get(home))
        .route("/self/{tenant}/login", get(login))
        .route("/self/{tenant}/callback", get(callback))
        .route("/self/{tenant}/issue", post(issue))
        .route("/self/{tenant}/activate", post(activate))
        .route("/self/{tenant}/done", post(done))
        .route("/self/{tenant}/delete", post(delete))
        .route("/self/{tenant}/cancel", post(cancel))
        .route("/self/{tenant}/logout", post(logout))
}

/// The home page's address without its slash: the cookies are scoped to
/// `/self/{tenant}/`, so the browser is sent there.
async fn to_home(
    State(state): State<AppState>,
    Path(tenant_id): Path<String>,
    base: Base,
) -> Result<Redirect, Refusal> {
    let t = tenant(&state, &tenant_id)?;
    Ok(Redirect::to(&base.path(&self_path(t.id))))
}

/// A tenant with self-service.
struct Tenant<'a> {
    id: &'a str,
    config: &'a SelfServiceConfig,
    provider: &'a Provider,
    keys: Keys<'a>,
}

fn tenant<'a>(state: &'a AppState, id: &'a str) -> Result<Tenant<'a>, Refusal> {
    let config = state
        .config
        .tenants
        .get(id)
        .and_then(|t| t.selfservice.as_ref())
        .filter(|_| state.service.has_tenant(id));
    match (config, state.providers.get(id)) {
        (Some(config), Some(provider)) => {
            let secret = config
                .session_secret
                .as_ref()
                .ok_or_else(Refusal::internal)?;
            Ok(Tenant {
                id,
                config,
                provider,
                keys: Keys::new(id, secret),
            })
        }
        _ => Err(Refusal::new(
            StatusCode::NOT_FOUND,
            "No self-service here",
            "This address does not belong to any sign-in service's backup-code page.",
        )),
    }
}

fn now() -> i64 {
    i64::try_from(jsonwebtoken::get_current_timestamp()).unwrap_or(i64::MAX)
}

fn random() -> Result<String, Refusal> {
    use base64::Engine as _;
    let mut raw = zeroize::Zeroizing::new([0u8; 32]);
    getrandom::fill(raw.as_mut()).map_err(|_| Refusal::internal())?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw.as_slice()))
}

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

/// The session, in its cookie.
#[derive(Serialize, Deserialize, Clone)]
struct SessionClaims {
    iss: String,
    aud: String,
    exp: i64,
    /// Session id (forms are bound to it).
    sid: String,
    sub: String,
    auth_time: Option<i64>,
    acr: Option<String>,
    /// Signed in through the strong client (or asked for a fresh, strong login).
    strong: bool,
}

/// A form's token.
#[derive(Serialize, Deserialize)]
struct FormClaims {
    iss: String,
    aud: String,
    exp: i64,
    sid: String,
    /// The set this page issued (confirmation forms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    set: Option<String>,
}

fn session_cookie_name(tenant: &str) -> String {
    format!("bc_self_{tenant}")
}

fn login_cookie_name(tenant: &str) -> String {
    format!("bc_self_login_{tenant}")
}

fn self_path(tenant: &str) -> String {
    format!("/self/{tenant}/")
}

/// The session of this browser, if it has a valid one.
fn session(t: &Tenant<'_>, jar: &CookieJar) -> Option<SessionClaims> {
    let token = jar.get(&session_cookie_name(t.id))?;
    t.keys.open(Purpose::Session, token.value())
}

impl SessionClaims {
    /// May this session replace or delete codes? A login at most `max_age`
    /// old, with one of the tenant's `replace_acr` values when it lists some.
    fn strong_enough(&self, config: &SelfServiceConfig) -> bool {
        let fresh = self.auth_time.is_some_and(|at| {
            now().saturating_sub(at) <= i64::try_from(config.max_age_seconds).unwrap_or(i64::MAX)
        });
        let acr_ok = config.replace_acr.is_empty()
            || self
                .acr
                .as_ref()
                .is_some_and(|a| config.replace_acr.contains(a));
        fresh && acr_ok && (self.strong || config.strong_client.is_none())
    }
}

fn form_token(
    t: &Tenant<'_>,
    session: &SessionClaims,
    set: Option<String>,
) -> Result<String, Refusal> {
    let claims = FormClaims {
        iss: Keys::issuer(Purpose::Form).into(),
        aud: t.id.into(),
        exp: session.exp,
        sid: session.sid.clone(),
        set,
    };
    t.keys
        .sign(Purpose::Form, &claims)
        .ok_or_else(Refusal::internal)
}

/// The fields of a self-service form.
#[derive(Deserialize)]
struct SelfForm {
    flow: Option<String>,
    code: Option<secrecy::SecretString>,
}

/// A posted form of this session: the form token must be one made for it.
fn posted(
    t: &Tenant<'_>,
    jar: &CookieJar,
    form: &SelfForm,
) -> Result<(SessionClaims, FormClaims), Refusal> {
    let expired = || {
        Refusal::new(
            StatusCode::FORBIDDEN,
            "This page has expired",
            "This page is no longer valid (it expired, or belongs to another sign-in). Nothing was changed. Open your backup-code page again.",
        )
        .link(self_path(t.id), "Open your backup-code page")
    };
    let session = session(t, jar).ok_or_else(expired)?;
    let token = form.flow.as_deref().ok_or_else(bad_form)?;
    let claims: FormClaims = t.keys.open(Purpose::Form, token).ok_or_else(expired)?;
    if !bool::from(claims.sid.as_bytes().ct_eq(session.sid.as_bytes())) {
        return Err(expired());
    }
    Ok((session, claims))
}

/// The IdP's callback address for this tenant.
fn redirect_uri(base: &Base, tenant: &str) -> String {
    base.url(&format!("/self/{tenant}/callback"))
}

/// Query of `login`.
#[derive(Deserialize)]
struct LoginQuery {
    strong: Option<u8>,
}

/// Send the browser to the IdP (the strong login for replacing codes).
async fn login(
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

async fn start_login(
    t: &Tenant<'_>,
    base: &Base,
    jar: CookieJar,
    strong: bool,
) -> Result<(CookieJar, Response), Refusal> {
    let claims = LoginClaims {
        iss: Keys::issuer(Purpose::Login).into(),
        aud: t.id.into(),
        exp: now().saturating_add(LOGIN_TTL),
        state: random()?,
        nonce: random()?,
        verifier: random()?,
        strong,
    };
    let client = client(t.config, strong);
    let pkce = Pkce::new(claims.verifier.clone());
    let ask = if strong {
        strong_ask(t.config)
    } else {
        Ask::default()
    };
    let url = t
        .provider
        .authorize_url(
            client,
            &redirect_uri(base, t.id),
            &claims.state,
            &claims.nonce,
            &pkce,
            &ask,
        )
        .await
        .map_err(|e| idp_unavailable(&e))?;
    let token = t
        .keys
        .sign(Purpose::Login, &claims)
        .ok_or_else(Refusal::internal)?;
    // Lax: the IdP's redirect back is a top-level navigation from its site.
    let mut c = cookie(
        base,
        &self_path(t.id),
        login_cookie_name(t.id),
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
        "Sign-in service unavailable",
        "The sign-in service could not be reached or answered something unexpected. Nothing was changed. Try again in a moment.",
    )
    .retry_after(5)
}

/// Query of the IdP's redirect back.
#[derive(Deserialize)]
struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// Back from the IdP: check the transaction, exchange the code, check the ID
/// token, open the session. The login transaction is over either way: a
/// refused callback removes its cookie too, so it cannot be tried again.
async fn callback(
    State(state): State<AppState>,
    Path(tenant_id): Path<String>,
    base: Base,
    jar: CookieJar,
    query: Result<Query<Callback>, axum::extract::rejection::QueryRejection>,
) -> Result<(CookieJar, Response), Refusal> {
    let t = tenant(&state, &tenant_id)?;
    match complete_login(&t, &base, &jar, query).await {
        Ok(session_cookie) => Ok((
            jar.remove(login_cookie(&base, t.id)).add(session_cookie),
            Redirect::to(&base.path(&self_path(t.id))).into_response(),
        )),
        Err(refusal) => Ok((
            jar.remove(login_cookie(&base, t.id)),
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
    t: &Tenant<'_>,
    base: &Base,
    jar: &CookieJar,
    query: Result<Query<Callback>, axum::extract::rejection::QueryRejection>,
) -> Result<axum_extra::extract::cookie::Cookie<'static>, Refusal> {
    let refused = |why: &str| {
        tracing::info!(tenant = t.id, reason = why, "self-service login refused");
        Refusal::new(
            StatusCode::FORBIDDEN,
            "Sign-in not completed",
            "The sign-in could not be completed (it expired, was cancelled or did not come from this browser). Nothing was changed. Open your backup-code page again.",
        )
        .link(self_path(t.id), "Open your backup-code page")
    };
    let Ok(Query(q)) = query else {
        return Err(refused("no parameters"));
    };
    let transaction: LoginClaims = jar
        .get(&login_cookie_name(t.id))
        .and_then(|c| t.keys.open(Purpose::Login, c.value()))
        .ok_or_else(|| refused("no login transaction"))?;
    let same_state = q
        .state
        .as_deref()
        .is_some_and(|s| bool::from(s.as_bytes().ct_eq(transaction.state.as_bytes())));
    if !same_state {
        return Err(refused("state"));
    }
    if q.error.is_some() {
        return Err(refused("the IdP answered an error"));
    }
    let code = q.code.ok_or_else(|| refused("no code"))?;
    let client = client(t.config, transaction.strong);
    let id_token = t
        .provider
        .exchange(
            client,
            &code,
            &redirect_uri(base, t.id),
            &transaction.verifier,
        )
        .await
        .map_err(|e| match e {
            OidcError::TokenRefused(_) => refused("the token endpoint refused the code"),
            other => idp_unavailable(&other),
        })?;
    let claims: IdClaims = t
        .provider
        .validate(&id_token, &client.client_id, &transaction.nonce)
        .await
        .map_err(|e| {
            tracing::info!(tenant = t.id, error = %e, "self-service ID token refused");
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
    .filter(|s| crate::service::check_subject(s).is_ok())
    .ok_or_else(|| refused("subject"))?;
    let session = SessionClaims {
        iss: Keys::issuer(Purpose::Session).into(),
        aud: t.id.into(),
        exp: now().saturating_add(SESSION_TTL),
        sid: random()?,
        sub,
        auth_time: claims.auth_time.and_then(|a| i64::try_from(a).ok()),
        acr: claims.acr,
        strong: transaction.strong,
    };
    let token = t
        .keys
        .sign(Purpose::Session, &session)
        .ok_or_else(Refusal::internal)?;
    let mut c = cookie(
        base,
        &self_path(t.id),
        session_cookie_name(t.id),
        token,
        SESSION_TTL,
    );
    c.set_same_site(axum_extra::extract::cookie::SameSite::Lax);
    Ok(c)
}

/// The home page: the user's codes, or a login first.
async fn home(
    State(state): State<AppState>,
    Path(tenant_id): Path<String>,
    base: Base,
    jar: CookieJar,
) -> Result<(CookieJar, Response), Refusal> {
    let t = tenant(&state, &tenant_id)?;
    let Some(session) = session(&t, &jar) else {
        return start_login(&t, &base, jar, false).await;
    };
    let page = home_page(&state, &t, &base, &session, None).await?;
    Ok((jar, page))
}

async fn home_page(
    state: &AppState,
    t: &Tenant<'_>,
    base: &Base,
    session: &SessionClaims,
    notice: Option<Notice>,
) -> Result<Response, Refusal> {
    let status = match state.service.status(t.id, &session.sub).await {
        Ok(s) => Some(s),
        Err(ServiceError::NotEnrolled) => None,
        Err(e) => return Err(service_refusal(e)),
    };
    let page = Home::new(
        base,
        t.id,
        &session.sub,
        status.as_ref(),
        session.strong_enough(t.config),
        form_token(t, session, None)?,
        notice,
    );
    // Replacing or deleting codes after a weak login sends the browser on to
    // the IdP; `form-action` applies to that redirect too.
    let idp = t.provider.authorization_origin().await.ok();
    Ok(render(StatusCode::OK, &page, Forms::Own(idp)))
}

fn service_refusal(e: ServiceError) -> Refusal {
    match e {
        ServiceError::Engine(_) | ServiceError::Contended | ServiceError::Store(_) => Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Temporarily unavailable",
            "Your backup codes cannot be read or changed just now. Nothing was changed. Try again in a moment.",
        )
        .retry_after(5),
        other => {
            tracing::warn!(error = %other, "self-service request failed");
            Refusal::internal()
        }
    }
}

/// A posted self-service form with its session and form token checked: the
/// prelude of every form, as an extractor (nothing else is ever accepted).
struct Post {
    tenant: String,
    base: Base,
    jar: CookieJar,
    form: SelfForm,
    session: SessionClaims,
    claims: FormClaims,
}

impl axum::extract::FromRequest<AppState> for Post {
    type Rejection = Refusal;

    async fn from_request(req: axum::extract::Request, state: &AppState) -> Result<Self, Refusal> {
        use axum::extract::FromRequestParts as _;
        let (mut parts, body) = req.into_parts();
        let Ok(Path(tenant_id)) = Path::<String>::from_request_parts(&mut parts, state).await
        else {
            return Err(bad_form());
        };
        let Ok(base) = Base::from_request_parts(&mut parts, state).await;
        let jar = CookieJar::from_headers(&parts.headers);
        let req = axum::extract::Request::from_parts(parts, body);
        let Form(form) = Form::<SelfForm>::from_request(req, state)
            .await
            .map_err(|_| bad_form())?;
        let t = tenant(state, &tenant_id)?;
        let (session, claims) = posted(&t, &jar, &form)?;
        Ok(Self {
            tenant: tenant_id,
            base,
            jar,
            form,
            session,
            claims,
        })
    }
}

/// A new set: a first one after any login, a replacement only after a strong one.
async fn issue(
    State(state): State<AppState>,
    post: Post,
) -> Result<(CookieJar, Response), Refusal> {
    let Post {
        tenant: id,
        base,
        jar,
        session,
        ..
    } = post;
    let t = tenant(&state, &id)?;
    let mode = if session.strong_enough(t.config) {
        IssueMode::Replace
    } else {
        IssueMode::First
    };
    let issued = match state.service.issue_as(t.id, &session.sub, mode).await {
        Ok(i) => i,
        // Codes exist and this login may not replace them: a strong login first.
        Err(ServiceError::AlreadyEnrolled) => return start_login(&t, &base, jar, true).await,
        Err(e) => return Err(service_refusal(e)),
    };
    let page = pages::codes(
        &base,
        t.id,
        &session.sub,
        &issued,
        form_token(&t, &session, Some(issued.set_id.clone()))?,
        None,
    );
    Ok((jar, page))
}

/// One code of the new set typed back.
async fn activate(
    State(state): State<AppState>,
    post: Post,
) -> Result<(CookieJar, Response), Refusal> {
    let Post {
        tenant: id,
        base,
        jar,
        form,
        session,
        claims,
        ..
    } = post;
    let t = tenant(&state, &id)?;
    let set = claims.set.clone().ok_or_else(bad_form)?;
    let code = form.code.ok_or_else(bad_form)?;
    if state.rates.check_subject(t.id, &session.sub).is_err() {
        return Err(Refusal::new(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many attempts",
            "Too many codes were tried for this account in the last minute. Wait a minute, then try again.",
        )
        .retry_after(60));
    }
    let again = |message: String| -> Result<(CookieJar, Response), Refusal> {
        let token = form_token(&t, &session, Some(set.clone()))?;
        Ok((
            jar.clone(),
            pages::confirm_again(&base, t.id, &session.sub, token, message),
        ))
    };
    let attempt = match state.service.activate(t.id, &session.sub, code).await {
        Ok(a) => a,
        Err(ServiceError::Refused(PluginError::InvalidCode(f))) => {
            return again(super::step::text::format_message(f).into());
        }
        Err(ServiceError::Refused(PluginError::NoPendingSet)) => {
            let page =
                home_page(&state, &t, &base, &session, Some(Notice::NothingToConfirm)).await?;
            return Ok((jar, page));
        }
        Err(e) => return Err(service_refusal(e)),
    };
    match attempt.outcome {
        Outcome::Accepted(_) if attempt.set_id.as_deref() == Some(set.as_str()) => {
            let page = home_page(&state, &t, &base, &session, Some(Notice::Active)).await?;
            Ok((jar, page))
        }
        Outcome::Accepted(_) | Outcome::Exhausted => Err(bad_form()),
        Outcome::Rejected(_) => again(
            "That code is not one of the new set. Type a code from the list you just saved.".into(),
        ),
        Outcome::Locked(_) => {
            let page = home_page(&state, &t, &base, &session, Some(Notice::Locked)).await?;
            Ok((jar, page))
        }
    }
}

/// Without proof of saving: back to the home page, where the set shows as active.
async fn done(State(state): State<AppState>, post: Post) -> Result<(CookieJar, Response), Refusal> {
    let Post {
        tenant: id,
        base,
        jar,
        session,
        ..
    } = post;
    let t = tenant(&state, &id)?;
    let page = home_page(&state, &t, &base, &session, Some(Notice::Active)).await?;
    Ok((jar, page))
}

/// Delete the codes: only after a strong login.
async fn delete(
    State(state): State<AppState>,
    post: Post,
) -> Result<(CookieJar, Response), Refusal> {
    let Post {
        tenant: id,
        base,
        jar,
        session,
        ..
    } = post;
    let t = tenant(&state, &id)?;
    if !session.strong_enough(t.config) {
        return start_login(&t, &base, jar, true).await;
    }
    match state.service.delete(t.id, &session.sub).await {
        Ok(()) | Err(ServiceError::NotEnrolled) => {}
        Err(e) => return Err(service_refusal(e)),
    }
    let page = home_page(&state, &t, &base, &session, Some(Notice::Deleted)).await?;
    Ok((jar, page))
}

/// Leave the codes page without confirming: home.
async fn cancel(
    State(state): State<AppState>,
    post: Post,
) -> Result<(CookieJar, Response), Refusal> {
    let Post {
        tenant: id,
        base,
        jar,
        session,
        ..
    } = post;
    let t = tenant(&state, &id)?;
    let page = home_page(&state, &t, &base, &session, None).await?;
    Ok((jar, page))
}

/// End the session.
async fn logout(
    State(state): State<AppState>,
    post: Post,
) -> Result<(CookieJar, Response), Refusal> {
    let Post {
        tenant: id,
        base,
        jar,
        ..
    } = post;
    let t = tenant(&state, &id)?;
    let jar = jar.remove(cookie(
        &base,
        &self_path(t.id),
        session_cookie_name(t.id),
        String::new(),
        0,
    ));
    Ok((jar, pages::signed_out(&base, t.id)))
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
