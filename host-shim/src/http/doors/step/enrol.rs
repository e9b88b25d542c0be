//! Enrolment: a new set shown once (`POST .../enroll/issue`), then one of its
//! codes typed back as proof of saving (`.../enroll/activate`) or, without that
//! policy, the user's word (`.../enroll/done`); the result is signed back.

use axum::http::StatusCode;
use axum::response::Response;

use crate::http::doors::answer::Fault;
use crate::http::doors::form::Posted;
use crate::http::doors::step::ctx::StepCtx;
use crate::http::doors::step::flow::{Flow, MAX_FLOW_BYTES, Stage};
use crate::http::doors::step::pages::{HandoffPage, hand_back};
use crate::http::doors::step::posted::EnrolForms;
use crate::http::doors::step::refusals::{expired_flow, too_many_sets};
use crate::http::doors::step::result::{Enrolment, Reason};
use crate::http::doors::step::{MAX_ISSUES_PER_FLOW, spend};
use crate::http::views::codes::{CodesPage, SetView, rows};
use crate::http::views::i18n::Arg;
use crate::http::views::refusal::{Refusal, bad_form};
use crate::http::views::sealed;
use crate::http::views::text::{activation_message, format_message};
use crate::plugin::Outcome;

/// `POST .../enroll/issue`: a new set, shown once.
pub async fn issue(posted: Posted<EnrolForms>) -> Result<Response, Refusal> {
    let mut ctx = posted.ctx;
    let t = &ctx.tenant;
    let mut allowed = false;
    for n in 0..MAX_ISSUES_PER_FLOW {
        let id = crate::store::Mark::StepIssue {
            tenant: t.id(),
            fid: &ctx.flow.fid,
            n,
        };
        if spend(&ctx.state, id, ctx.marks_until()).await? {
            allowed = true;
            break;
        }
    }
    if !allowed {
        return Err(too_many_sets()
            .back(ctx.failure(Reason::TooManySets))
            .for_reader(ctx.reader()));
    }
    // A first enrolment never replaces codes (decided on the version the new
    // set is written over).
    let issued = ctx
        .state
        .service
        .issue_as(&ctx.subject(), ctx.flow.issue_mode())
        .await
        .map_err(|e| ctx.refusal(e))?;
    let mut flow = ctx
        .flow
        .clone()
        .issued(issued.set_id.clone(), issued.pending());
    let codes = rows(&issued);
    let issued_at = ctx.now();
    // While the set waits to be confirmed, its codes travel sealed in the flow
    // so a typo while confirming shows them again; when the grown flow would
    // not fit through the form (very large sets), they are shown this once.
    if flow.pending {
        let t = &ctx.tenant;
        let sealed = sealed::step_key(t.id(), &t.secret)
            .and_then(|key| sealed::seal(&key, &flow.fid, &issued.set_id, issued_at, &codes));
        let with = Flow {
            sealed,
            ..flow.clone()
        };
        if ctx.sign(&with).is_ok_and(|f| f.len() <= MAX_FLOW_BYTES) {
            flow = with;
        }
    }
    ctx.flow = flow;
    let actions = ctx.actions();
    let view = SetView {
        codes,
        fingerprint: issued.fingerprint.clone(),
        issued_at,
        pending: ctx.flow.pending,
    };
    let page = CodesPage::new(&ctx.chrome, &actions, view, ctx.sign(&ctx.flow)?, None);
    Ok(ctx.page(StatusCode::OK, &page))
}

/// The confirmation form again, with why: with the codes when the flow
/// carries them sealed, else the form alone. `fingerprint` is the short form
/// of the flow's set, which [`activate`] found to be the one waiting (codes of
/// a set replaced or confirmed since are never shown: a stale tab, Back).
fn confirm_again(
    ctx: &StepCtx,
    set: &str,
    fingerprint: &str,
    error: String,
) -> Result<Response, Refusal> {
    let (flow, t) = (&ctx.flow, &ctx.tenant);
    let (issued_at, codes) = flow
        .sealed
        .as_deref()
        .and_then(|s| sealed::open(&*sealed::step_key(t.id(), &t.secret)?, &flow.fid, set, s))
        .unwrap_or_default();
    let fingerprint = if codes.is_empty() {
        String::new()
    } else {
        fingerprint.to_owned()
    };
    let view = SetView {
        codes,
        fingerprint,
        issued_at,
        pending: true,
    };
    let actions = ctx.actions();
    let page = CodesPage::new(&ctx.chrome, &actions, view, ctx.sign(flow)?, Some(error));
    Ok(ctx.page(StatusCode::UNPROCESSABLE_ENTITY, &page))
}

/// The short form of the flow's subject's pending set, when it is `set`
/// (`None`: another set waits, none does, or the status cannot be read).
/// Only a typo needs it: every attempt's answer carries its set's fingerprint.
async fn pending_fingerprint(ctx: &StepCtx, set: &str) -> Option<String> {
    ctx.state
        .service
        .status(&ctx.subject())
        .await
        .ok()
        .and_then(|s| s.pending.filter(|p| p.set_id == set).map(|p| p.fingerprint))
}

/// `POST .../enroll/activate`: one code of the new set typed back.
pub async fn activate(posted: Posted<EnrolForms>) -> Result<Response, Refusal> {
    let ctx = &posted.ctx;
    let set = match ctx.flow.stage() {
        Stage::Confirming(set) | Stage::Saved(set) => set.to_owned(),
        Stage::Login | Stage::Enrolling => return Err(expired_flow()),
    };
    let code = posted.code.ok_or_else(bad_form)?;
    let who = ctx.subject();
    let tr = ctx.flow.tr();
    // Only this flow's set may be confirmed from its page: a stale page (a
    // set replaced or confirmed since) is refused by the engine before any
    // evaluation, and changes nothing.
    let attempt = match ctx.state.service.activate(&who, Some(&set), code).await {
        Ok(a) => a,
        Err(e) => match Fault::of(e) {
            Fault::InvalidCode(f) => {
                let Some(fingerprint) = pending_fingerprint(ctx, &set).await else {
                    return Err(ctx.fault(Fault::NoPendingSet));
                };
                let error = format_message(&tr, f);
                return confirm_again(ctx, &set, &fingerprint, error);
            }
            fault => return Err(ctx.fault(fault)),
        },
    };
    let shown = Shown {
        set: &set,
        fingerprint: attempt.fingerprint.clone().unwrap_or_default(),
        remaining: attempt.remaining,
    };
    match attempt.outcome {
        Outcome::Accepted(number) if attempt.set_id.as_deref() == Some(set.as_str()) => {
            ctx.finish().await?;
            enrolled(ctx, shown, Some(number))
        }
        Outcome::Accepted(_) => Err(expired_flow()),
        Outcome::Rejected(r) => {
            let note = ctx.rejected(r).await?;
            let error = activation_message(&tr, r.reason, &note);
            confirm_again(ctx, &set, &shown.fingerprint, error)
        }
        Outcome::Locked(until) => Err(ctx.lock(until).await),
        Outcome::Exhausted => Err(ctx.exhausted()),
    }
}

/// `POST .../enroll/done`: without proof of saving (policy
/// `require_activation = false`), the user says the set is saved; the set must
/// be the one issued in this flow and active.
pub async fn done(posted: Posted<EnrolForms>) -> Result<Response, Refusal> {
    let ctx = &posted.ctx;
    let Stage::Saved(set) = ctx.flow.stage() else {
        return Err(expired_flow());
    };
    let status = ctx
        .state
        .service
        .status(&ctx.subject())
        .await
        .map_err(|e| ctx.refusal(e))?;
    let active = status
        .active
        .filter(|a| a.set_id == set)
        .ok_or_else(expired_flow)?;
    ctx.finish().await?;
    let shown = Shown {
        set,
        fingerprint: active.fingerprint,
        remaining: active.remaining,
    };
    enrolled(ctx, shown, None)
}

/// The set an enrolment made active, as the result names it.
struct Shown<'a> {
    set: &'a str,
    fingerprint: String,
    remaining: u8,
}

/// The signed success of an enrolment (after a login: the login's result with
/// the new set).
fn enrolled(ctx: &StepCtx, shown: Shown<'_>, number: Option<u8>) -> Result<Response, Refusal> {
    let fingerprint = shown.fingerprint;
    let enrolment = Enrolment {
        set_id: shown.set.to_owned(),
        fingerprint: fingerprint.clone(),
        count: shown.remaining,
        confirmed_with: number,
    };
    let c = &ctx.chrome;
    let page = HandoffPage {
        title: c.msg("handoff-enrolled-title"),
        message: c.t.with(
            "handoff-enrolled",
            &[("fingerprint", Arg::Str(fingerprint))],
        ),
        c,
        handoff: ctx.hand_back(ctx.flow.enrolled(enrolment))?,
    };
    Ok(hand_back(&page, &page.handoff, c))
}
