//! The local demo: a tiny identity provider on the shim's own origin, on when
//! no tenant is configured. It signs session tokens for the user named, sends
//! the browser to the step, and shows the signed result it receives, checked
//! the way an IdP must check it. It also receives the demo tenant's signed
//! webhooks and lists them ([`events`]).

pub mod events;
pub mod tenant;

use askama::Template;
use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::CookieJar;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::http::AppState;
use crate::http::doors::step::Kind;
use crate::http::doors::step::result::{Proof, ResultClaims, StepResult};
use crate::http::layers::headers::Forms;
use crate::http::views::base::Base;
use crate::http::views::chrome::Chrome;
use crate::http::views::i18n::Tr;
use crate::http::views::pages::render;
use crate::http::views::refusal::{Refusal, bad_form};

const STATE_COOKIE: &str = "bc_demo_state";

/// Is the local demo on (the demo tenant added because none is configured)?
pub fn is_on(state: &AppState) -> bool {
    state.config.demo
        && state
            .config
            .tenants
            .get(tenant::TENANT)
            .is_some_and(|t| t.issuer == tenant::ISSUER && t.step_secret.is_some())
}

impl AppState {
    /// The demo tenant's id, as the configuration holds it, when it has one
    /// (pages under `/demo` are branded and worded as that tenant's).
    pub fn demo_tenant(&self) -> Option<&str> {
        self.config
            .tenants
            .get_key_value(tenant::TENANT)
            .map(|(k, _)| k.as_str())
    }
}

/// The demo's routes (none when it is off).
pub fn routes(state: &AppState) -> Router<AppState> {
    if !is_on(state) {
        return Router::new();
    }
    Router::new()
        .route("/demo", get(index))
        .route("/demo/", get(index))
        .route("/demo/start", get(start))
        .route("/demo/continue", post(finish))
        .route("/demo/webhooks", post(events::receive))
        .route("/demo/events", get(events::page))
}

/// Query of the demo's pages.
#[derive(Deserialize)]
struct Start {
    user: Option<String>,
    action: Option<String>,
}

#[derive(Template)]
#[template(path = "demo/index.html")]
struct IndexPage<'a> {
    c: Chrome,
    title: &'a str,
    base: String,
    subject: String,
}

#[derive(Template)]
#[template(path = "demo/result.html")]
struct ResultPage<'a> {
    c: Chrome,
    title: &'a str,
    base: String,
    ok: bool,
    summary: String,
    claims: String,
    subject: String,
}

/// The session token the demo IdP signs.
#[derive(Serialize)]
struct SessionClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    step: &'a str,
    iat: u64,
    exp: u64,
    state: &'a str,
    continue_uri: &'a str,
}

fn secret(state: &AppState) -> Option<&SecretString> {
    state
        .config
        .tenants
        .get(tenant::TENANT)
        .and_then(|t| t.step_secret.as_ref())
}

/// The demo's own pages are in English (a developer's tool, not a user's page).
fn english(state: &AppState, base: &Base) -> Chrome {
    Chrome::new(state, base, None, Tr::default(), None)
}

fn user_name(u: &str) -> bool {
    crate::service::SubjectId::parse(u).is_ok() && u.len() <= 64
}

async fn index(
    State(state): State<AppState>,
    base: Base,
    query: Result<Query<Start>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let subject = query
        .ok()
        .and_then(|q| q.0.user)
        .filter(|u| user_name(u))
        .unwrap_or_else(|| "alice".into());
    let page = IndexPage {
        c: english(&state, &base),
        title: "Try backup codes",
        base: base.path(""),
        subject,
    };
    render(StatusCode::OK, &page, Forms::Own(None))
}

async fn start(
    State(state): State<AppState>,
    base: Base,
    jar: CookieJar,
    query: Result<Query<Start>, axum::extract::rejection::QueryRejection>,
) -> Result<(CookieJar, Response), Refusal> {
    let Query(q) = query.map_err(|_| bad_form())?;
    let Some(user) = q.user.map(|u| u.trim().to_owned()).filter(|u| user_name(u)) else {
        return Err(Refusal::new(StatusCode::BAD_REQUEST, "refusal-demo-user"));
    };
    let kind = match q.action.as_deref() {
        // The demo plays the IdP: it may let its user replace codes at will.
        Some("enroll") => {
            let status = match state.service.subject(tenant::TENANT, &user) {
                Ok(who) => state.service.status(&who).await,
                Err(e) => Err(e),
            };
            match status {
                Ok(s) if s.active.is_some() => Kind::Regenerate,
                _ => Kind::Enroll,
            }
        }
        Some("login") => Kind::Login,
        _ => return Err(bad_form()),
    };
    let (Some(secret), Some(flow_state)) = (secret(&state), random_state()) else {
        return Err(Refusal::internal());
    };
    let step = kind.url(&base, tenant::TENANT);
    let cont = base.url("/demo/continue");
    let iat = u64::try_from(state.service.now()).unwrap_or(0);
    let claims = SessionClaims {
        iss: tenant::ISSUER,
        sub: &user,
        aud: &step,
        step: kind.name(),
        iat,
        exp: iat + 300,
        state: &flow_state,
        continue_uri: &cont,
    };
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.expose_secret().as_bytes()),
    )
    .map_err(|_| Refusal::internal())?;
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("state", &flow_state)
        .append_pair("session_token", &token)
        .finish();
    let jar = jar.add(crate::http::views::cookies::build(
        &base,
        "/demo/",
        STATE_COOKIE.into(),
        flow_state,
        900,
    ));
    Ok((
        jar,
        Redirect::to(&format!("{step}?{query}")).into_response(),
    ))
}

fn random_state() -> Option<String> {
    crate::random::token(24).ok()
}

/// What the IdP receives: the form the shim posts back.
#[derive(Deserialize)]
struct ContinueForm {
    state: Option<String>,
    session_token: Option<String>,
}

/// The result, checked the way an IdP must: signature, issuer, audience,
/// expiry, and that its state is the one this demo sent (kept in a cookie).
async fn finish(
    State(state): State<AppState>,
    base: Base,
    jar: CookieJar,
    form: Result<Form<ContinueForm>, axum::extract::rejection::FormRejection>,
) -> Result<(CookieJar, Response), Refusal> {
    let Form(form) = form.map_err(|_| bad_form())?;
    let (Some(flow_state), Some(token), Some(secret)) =
        (form.state, form.session_token, secret(&state))
    else {
        return Err(bad_form());
    };
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = state.limits.leeway_seconds;
    validation.set_issuer(&[state.config.public_base()]);
    validation.set_audience(&[tenant::ISSUER]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "iat"]);
    let decoded = jsonwebtoken::decode::<ResultClaims>(
        &token,
        &DecodingKey::from_secret(secret.expose_secret().as_bytes()),
        &validation,
    );
    let expected = jar.get(STATE_COOKIE).map_or("", |c| c.value());
    let (ok, summary, subject, shown) = match decoded {
        Err(_) => (
            false,
            "The result token was refused: bad signature, issuer, audience or expiry.".to_owned(),
            None,
            String::from("null"),
        ),
        Ok(data) => {
            let claims = data.claims;
            let shown = serde_json::to_string_pretty(&claims).unwrap_or_default();
            let state_ok = claims.state == flow_state
                && bool::from(expected.as_bytes().ct_eq(flow_state.as_bytes()));
            let (ok, summary) = if !state_ok {
                (
                    false,
                    "The result's state is not the one this demo sent: refused.".to_owned(),
                )
            } else {
                match &claims.result {
                    StepResult::Success(s) => match &s.proof {
                        Proof::Enroll(e) | Proof::Regenerate(e) => {
                            (true, format!("Enrolled: set {} is active.", e.fingerprint))
                        }
                        Proof::Verify(v) => (
                            true,
                            format!(
                                "Signed in with backup code #{}; {} left.",
                                v.number, v.remaining
                            ),
                        ),
                    },
                    StepResult::Failed(f) => {
                        (false, format!("The step failed: {}.", f.reason.name()))
                    }
                }
            };
            (ok, summary, claims.sub, shown)
        }
    };
    let page = ResultPage {
        c: english(&state, &base),
        title: "Demo result",
        base: base.path(""),
        ok,
        summary,
        claims: shown,
        subject: subject.unwrap_or_else(|| "alice".into()),
    };
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::FORBIDDEN
    };
    let jar = jar.remove(crate::http::views::cookies::build(
        &base,
        "/demo/",
        STATE_COOKIE.into(),
        String::new(),
        0,
    ));
    Ok((jar, render(status, &page, Forms::Own(None))))
}
