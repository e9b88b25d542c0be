//! What the step's forms accept ([`Accepts`] for the shared
//! [`Posted`](crate::http::doors::form::Posted) extractor): the prelude of
//! every posted form. The flow's signature, kind (one the form takes) and
//! grace period, and its CSRF cookie (compared in constant time), are checked,
//! and an expired or finished flow is refused with a way back to the IdP,
//! before any handler runs and before anything reaches the engine.

use std::future::Future;

use axum_extra::extract::cookie::CookieJar;
use subtle::ConstantTimeEq;

use crate::http::AppState;
use crate::http::doors::form::{Accepts, Posting};
use crate::http::doors::step::ctx::StepCtx;
use crate::http::doors::step::flow::{self, Flow};
use crate::http::doors::step::refusals::{self, expired_flow, foreign_form};
use crate::http::doors::step::session::Kind;
use crate::http::doors::step::{COOKIE_TTL, FLOW_TTL, StepTenant, sha256_hex, step_tenant};
use crate::http::views::cookies;
use crate::http::views::refusal::Refusal;

/// Forms of the login step.
pub struct LoginForms;
/// Forms of an enrolment (first set or regeneration).
pub struct EnrolForms;
/// Forms every flow has (cancel).
pub struct AnyForms;

/// The step's forms: each takes flows of some kinds only.
pub trait StepForms {
    /// Whether this form is part of a flow of `kind`.
    fn takes(kind: Kind) -> bool;
}

impl StepForms for LoginForms {
    fn takes(kind: Kind) -> bool {
        kind == Kind::Login
    }
}

impl StepForms for EnrolForms {
    fn takes(kind: Kind) -> bool {
        kind.enrols()
    }
}

impl StepForms for AnyForms {
    fn takes(_: Kind) -> bool {
        true
    }
}

impl<F: StepForms> Accepts for F {
    type Context = StepCtx;

    fn no_tenant() -> Refusal {
        refusals::unknown_step()
    }

    fn admit(
        state: &AppState,
        p: Posting,
    ) -> impl Future<Output = Result<StepCtx, Refusal>> + Send {
        admit(state, p, F::takes)
    }
}

/// The posted flow's context, when the flow is one of `accepts`'s kinds, its
/// CSRF cookie is the browser's and it has neither expired nor finished.
async fn admit(
    state: &AppState,
    p: Posting,
    accepts: fn(Kind) -> bool,
) -> Result<StepCtx, Refusal> {
    let t = step_tenant(state, &p.tenant)?;
    let now = state.service.now();
    let flow = checked(&t, &p.jar, p.token.as_deref(), accepts, now)?;
    let expired = flow.exp <= now;
    let ctx = StepCtx::new(state, p.base, t, flow, p.jar);
    if expired || ctx.finished().await? {
        return Err(ctx.ended());
    }
    Ok(ctx)
}

/// The flow of a posted token: signed for this tenant, of a kind the form
/// takes, within its grace period, and bound to the browser's CSRF cookie.
fn checked(
    t: &StepTenant,
    jar: &CookieJar,
    token: Option<&str>,
    accepts: fn(Kind) -> bool,
    now: i64,
) -> Result<Flow, Refusal> {
    let token = token.ok_or_else(expired_flow)?;
    // The signature is checked first and the expiry apart: a page of this
    // step that has expired or finished (a reload, Back, a second tab) gets a
    // way back to the IdP, a signed `cancelled`; anything else is refused flat.
    let flow = flow::open(token, t)?;
    if !accepts(flow.kind) {
        return Err(expired_flow());
    }
    // Past its grace period an expired flow gets no signed answer at all.
    if now >= flow.exp.saturating_add(COOKIE_TTL - FLOW_TTL) {
        return Err(expired_flow());
    }
    let presented = cookies::value(jar, &cookies::name(&flow.fid)).unwrap_or("");
    let digest = sha256_hex(presented.as_bytes());
    if presented.is_empty() || !bool::from(digest.as_bytes().ct_eq(flow.csrf.as_bytes())) {
        return Err(foreign_form());
    }
    Ok(flow)
}
