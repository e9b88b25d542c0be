//! The login step identity providers send browsers to (shape A, Auth0-compatible
//! redirect actions).
//!
//! # Contract
//!
//! The IdP redirects the browser to `GET /step/{tenant}/login` (code entry),
//! `GET /step/{tenant}/enroll` (a first set, shown once, then one code typed back;
//! refused when the subject already has one) or `GET /step/{tenant}/regenerate`
//! (a new set replacing the current one) with two query parameters: `state`
//! (opaque, single-use) and `session_token`, an HS256 JWT signed with the tenant's
//! `step_secret` ([`session`] has the rules for its claims; `step` is required and
//! names the one step the token opens).
//!
//! The shim never redirects anywhere else. Each `state` and each session token is
//! accepted once (remembered in the store, so the rule holds across shim instances).
//! On completion the browser is sent back with an auto-submitting `POST` to the
//! continue URL carrying `state` and `session_token`: an HS256 JWT signed with the
//! same `step_secret` whose `result` claim is a [`StepResult`](result::StepResult) ([`result`] has the
//! claims). Its `action` names the step the session token opened (`login` →
//! `verify`), so the IdP can check that the answer is for the step it asked for.
//! Failures are sent back only when the session token's signature was valid (so
//! its `sub` and continue URL are the IdP's).
//!
//! Between pages the flow travels in a signed flow token ([`flow`]) bound to a
//! per-flow `HttpOnly; SameSite=Strict` cookie (CSRF, [`cookies`](crate::http::views::cookies)); a finished
//! flow is remembered in the store and refused before anything reaches the
//! engine. Every code goes to [`crate::service::Service`]: the plugin decides
//! everything about codes.
//!
//! The step-up OpenID provider ([`crate::http::doors::oidc_provider`]) opens login flows of its
//! own: they carry an [`OpAnswer`](crate::http::doors::step::oidc_answer::OpAnswer), so their
//! result is form-posted to the relying party as an ID token or an OpenID error
//! instead of a signed result to a continue URL; everything else is the same.
//!
//! Files: [`session`] (the IdP's token), [`flow`] (the flow token, its stages
//! and transitions, its keys), [`posted`] (the prelude of every posted form:
//! the flow and its CSRF cookie checked into a [`ctx::StepCtx`]), [`ending`]
//! (signed answers, lockouts, the pages for service errors, finished flows),
//! [`result`] (the signed answer), [`pages`] (templates), [`refusals`] (what
//! users read), [`entry`], [`login`], [`enrol`] and [`cancel`] (the handlers).

mod cancel;
pub(crate) mod ctx;
mod ending;
mod enrol;
mod entry;
pub(crate) mod flow;
mod login;
pub mod oidc_answer;
pub(crate) mod pages;
pub(crate) mod posted;
mod refusals;
pub mod result;
pub mod session;

use axum::Router;
use axum::response::Response;
use axum::routing::{get, post};
use axum_extra::extract::cookie::CookieJar;
use secrecy::SecretString;
use sha2::{Digest, Sha256};

pub use self::session::Kind;
use crate::http::AppState;
use crate::http::doors::answer::{Fault, Pages};
use crate::http::views::base::Base;
use crate::http::views::refusal::Refusal;
use std::sync::Arc;

use crate::config::TenantConfig;
use crate::service::{Subject, SubjectId, TenantId};

/// How long a flow (the pages between the IdP's redirect and the result) lasts, seconds.
pub const FLOW_TTL: i64 = 900;
/// How long a flow's cookie lives, seconds: the flow, then as long again in
/// which a posted form of the expired flow still gets a way back to the IdP.
pub const COOKIE_TTL: i64 = 2 * FLOW_TTL;
/// New sets one enrolment flow may issue (each costs one argon2 run per code).
pub const MAX_ISSUES_PER_FLOW: u32 = 3;

/// The step's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/step/{tenant}/cancel", post(cancel::cancel))
        .route("/step/{tenant}/login", get(entry::open).post(login::submit))
        .route("/step/{tenant}/enroll", get(entry::open))
        .route("/step/{tenant}/regenerate", get(entry::open))
        .route("/step/{tenant}/enroll/issue", post(enrol::issue))
        .route("/step/{tenant}/enroll/activate", post(enrol::activate))
        .route("/step/{tenant}/enroll/done", post(enrol::done))
}

/// Seconds since the Unix epoch.
fn now(state: &AppState) -> i64 {
    state.service.now()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A random URL-safe token of `bytes` bytes (`None` when the OS source fails).
fn random_token(bytes: usize) -> Option<String> {
    crate::random::token(bytes).ok()
}

/// A tenant whose step is configured: its id as the service knows it, its
/// configuration and its step secret. Owned, looked up once per request, so
/// a request's context holds it.
#[derive(Clone)]
pub struct StepTenant {
    pub(crate) tenant: TenantId,
    pub(crate) config: Arc<TenantConfig>,
    pub(crate) secret: SecretString,
}

impl StepTenant {
    /// The tenant's id.
    pub(crate) fn id(&self) -> &str {
        self.tenant.as_str()
    }

    /// A subject of this tenant (its id was checked when its token was read).
    pub(crate) fn subject(&self, id: &SubjectId) -> Subject {
        Subject::new(self.tenant.clone(), id.clone())
    }
}

fn step_tenant(state: &AppState, id: &str) -> Result<StepTenant, Refusal> {
    match (state.tenant_configs.get(id), state.service.tenant_id(id)) {
        (Some(config), Ok(tenant)) => match &config.step_secret {
            Some(secret) => Ok(StepTenant {
                tenant,
                secret: secret.clone(),
                config: Arc::clone(config),
            }),
            None => Err(refusals::step_not_set_up()),
        },
        _ => Err(refusals::unknown_step()),
    }
}

/// Does `flow` fit through every page of the step (see [`flow::fits`])?
pub(crate) fn fits(state: &AppState, tenant: &str, flow: &flow::Flow) -> Result<bool, Refusal> {
    let t = step_tenant(state, tenant)?;
    Ok(flow::fits(&flow.sign(&t)?))
}

/// Open the code page of a login flow that another entry has checked (the
/// step-up provider's authorization request), with its cookie.
pub(crate) async fn open_login(
    state: &AppState,
    base: &Base,
    jar: CookieJar,
    flow: flow::Flow,
    csrf: String,
) -> Result<(CookieJar, Response), Refusal> {
    let t = step_tenant(state, &flow.aud)?;
    let ctx = ctx::StepCtx::new(state, base.clone(), t, flow, jar);
    let response = login::code_page(&ctx, None).await?;
    Ok((ctx.cookies_with(&ctx.flow, csrf), response))
}

/// Spend a single-use id in the store (fails closed when the store is down).
async fn spend(
    state: &AppState,
    mark: crate::store::Mark<'_>,
    expires: i64,
) -> Result<bool, Refusal> {
    state
        .service
        .spend(mark, expires)
        .await
        .map_err(|e| Fault::of(e).page(Pages::Step))
}
