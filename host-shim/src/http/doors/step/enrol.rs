//! Enrolment: a new set shown once (`POST .../enroll/issue`), then one of its
//! codes typed back as proof of saving (`.../enroll/activate`) or, without that
//! policy, the user's word (`.../enroll/done`); the result is signed back.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use crate::http::AppState;
use crate::http::doors::step::flow::{self, EnrolForms, Flow, MAX_FLOW_BYTES, Posted, finish};
use crate::http::doors::step::pages::{HandoffPage, hand_back, own};
use crate::http::doors::step::refusals::{exhausted, expired_flow, too_many_sets};
use crate::http::doors::step::result::{Enrolment, Proof, Reason, StepResult};
use crate::http::doors::step::session::Kind;
use crate::http::doors::step::{MAX_ISSUES_PER_FLOW, StepTenant, chrome, now, spend};
use crate::http::views::base::Base;
use crate::http::views::codes::{Actions, CodesPage, SetView, rows};
use crate::http::views::i18n::Arg;
use crate::http::views::refusal::{Refusal, bad_form};
use crate::http::views::sealed;
use crate::http::views::text::{activation_message, format_message};
use crate::plugin::{Outcome, PluginError};
use crate::service::{IssueMode, ServiceError, Subject};

/// `POST .../enroll/issue`: a new set, shown once.
pub async fn issue(
    State(state): State<AppState>,
    base: Base,
    posted: Posted<EnrolForms>,
) -> Result<Response, Refusal> {
    let t = &posted.tenant;
    let mut flow = posted.flow.clone();
    let mut allowed = false;
    for n in 0..MAX_ISSUES_PER_FLOW {
        let id = crate::store::Mark::StepIssue {
            tenant: t.id(),
            fid: &flow.fid,
            n,
        };
        if spend(&state, id, flow::marks_until(&state, &flow)).await? {
            allowed = true;
            break;
        }
    }
    if !allowed {
        return Err(too_many_sets()
            .back(flow.failure(&state, t, Reason::TooManySets))
            .for_reader(flow.reader()));
    }
    // A first enrolment never replaces codes, whatever happened since its entry
    // page (decided on the version the new set is written over).
    let mode = if flow.kind() == Some(Kind::Enroll) {
        IssueMode::First
    } else {
        IssueMode::Replace
    };
    let issued = state
        .service
        .issue_as(&t.subject(&flow.sub), mode)
        .await
        .map_err(|e| flow.refusal(&state, t, e))?;
    flow.set = Some(issued.set_id.clone());
    flow.pending = issued.pending();
    let codes = rows(&issued);
    let issued_at = now(&state);
    // While the set waits to be confirmed, its codes travel sealed in the flow
    // so a typo while confirming shows them again; when the grown flow would
    // not fit through the form (very large sets), they are shown this once.
    flow.sealed = None;
    if flow.pending {
        let sealed = sealed::step_key(t.id(), &t.secret)
            .and_then(|key| sealed::seal(&key, &flow.fid, &issued.set_id, issued_at, &codes));
        let with = Flow {
            sealed,
            ..flow.clone()
        };
        if with.sign(t).is_ok_and(|f| f.len() <= MAX_FLOW_BYTES) {
            flow = with;
        }
    }
    let actions = Actions::new(&base, t.id());
    let c = chrome(&state, &base, t, &flow);
    let view = SetView {
        codes,
        fingerprint: issued.fingerprint.clone(),
        issued_at,
        pending: flow.pending,
    };
    let page = CodesPage::new(&c, &actions, view, flow.sign(t)?, None);
    Ok(own(StatusCode::OK, &page, &flow.cont, &c))
}

/// The confirmation form again, with why: with the codes when the flow
/// carries them sealed, else the form alone. `fingerprint` is the short form
/// of the flow's set, which [`activate`] found to be the one waiting (codes of
/// a set replaced or confirmed since are never shown: a stale tab, Back).
async fn confirm_again(
    state: &AppState,
    t: &StepTenant,
    base: &Base,
    actions: &Actions,
    flow: &Flow,
    fingerprint: &str,
    error: String,
) -> Result<Response, Refusal> {
    let set = flow.set.as_deref().unwrap_or_default();
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
    let c = chrome(state, base, t, flow);
    let view = SetView {
        codes,
        fingerprint,
        issued_at,
        pending: true,
    };
    let page = CodesPage::new(&c, actions, view, flow.sign(t)?, Some(error));
    Ok(own(StatusCode::UNPROCESSABLE_ENTITY, &page, &flow.cont, &c))
}

/// The short form of the subject's pending set, when it is `set` (`None`:
/// another set waits, none does, or the status cannot be read). Only a typo
/// needs it: every attempt's answer carries its set's fingerprint.
async fn pending_fingerprint(state: &AppState, who: &Subject, set: &str) -> Option<String> {
    state
        .service
        .status(who)
        .await
        .ok()
        .and_then(|s| s.pending.filter(|p| p.set_id == set).map(|p| p.fingerprint))
}

/// `POST .../enroll/activate`: one code of the new set typed back.
pub async fn activate(
    State(state): State<AppState>,
    base: Base,
    posted: Posted<EnrolForms>,
) -> Result<Response, Refusal> {
    let t = &posted.tenant;
    let flow = &posted.flow;
    let Some(set) = flow.set.clone() else {
        return Err(expired_flow());
    };
    let code = posted.form.code.clone().ok_or_else(bad_form)?;
    let who = t.subject(&flow.sub);
    let actions = Actions::new(&base, t.id());
    let tr = flow.tr();
    // Only this flow's set may be confirmed from its page: a stale page (a
    // set replaced or confirmed since) is refused by the engine before any
    // evaluation, and changes nothing.
    let attempt = match state.service.activate(&who, Some(&set), code).await {
        Ok(a) => a,
        Err(ServiceError::Refused(PluginError::InvalidCode(f))) => {
            let Some(fingerprint) = pending_fingerprint(&state, &who, &set).await else {
                let stale = ServiceError::Refused(PluginError::NoPendingSet);
                return Err(flow.refusal(&state, t, stale));
            };
            let error = format_message(&tr, f);
            return confirm_again(&state, t, &base, &actions, flow, &fingerprint, error).await;
        }
        Err(e) => return Err(flow.refusal(&state, t, e)),
    };
    let shown = Shown {
        set: &set,
        fingerprint: attempt.fingerprint.clone().unwrap_or_default(),
        remaining: attempt.remaining,
    };
    match attempt.outcome {
        Outcome::Accepted(number) if attempt.set_id.as_deref() == Some(set.as_str()) => {
            finish(&state, t, flow).await?;
            enrolled(&state, t, &base, flow, shown, Some(number)).await
        }
        Outcome::Accepted(_) => Err(expired_flow()),
        Outcome::Rejected(r) => {
            let note = flow::rejected(&state, t, flow, r).await?;
            let error = activation_message(&tr, r.reason, &note);
            confirm_again(&state, t, &base, &actions, flow, &shown.fingerprint, error).await
        }
        Outcome::Locked(until) => Err(flow::lock(&state, t, flow, until).await),
        Outcome::Exhausted => {
            Err(exhausted(flow.failure(&state, t, Reason::Exhausted)).for_reader(flow.reader()))
        }
    }
}

/// `POST .../enroll/done`: without proof of saving (policy
/// `require_activation = false`), the user says the set is saved; the set must
/// be the one issued in this flow and active.
pub async fn done(
    State(state): State<AppState>,
    base: Base,
    posted: Posted<EnrolForms>,
) -> Result<Response, Refusal> {
    let t = &posted.tenant;
    let flow = &posted.flow;
    let Some(set) = flow.set.clone().filter(|_| !flow.pending) else {
        return Err(expired_flow());
    };
    let status = state
        .service
        .status(&t.subject(&flow.sub))
        .await
        .map_err(|e| flow.refusal(&state, t, e))?;
    let active = status
        .active
        .filter(|a| a.set_id == set)
        .ok_or_else(expired_flow)?;
    finish(&state, t, flow).await?;
    let shown = Shown {
        set: &set,
        fingerprint: active.fingerprint,
        remaining: active.remaining,
    };
    enrolled(&state, t, &base, flow, shown, None).await
}

/// The set an enrolment made active, as the result names it.
struct Shown<'a> {
    set: &'a str,
    fingerprint: String,
    remaining: u8,
}

/// The signed success of an enrolment (after a login: the login's result with
/// the new set).
async fn enrolled(
    state: &AppState,
    t: &StepTenant,
    base: &Base,
    flow: &Flow,
    shown: Shown<'_>,
    number: Option<u8>,
) -> Result<Response, Refusal> {
    let fingerprint = shown.fingerprint;
    let enrolment = Enrolment {
        set_id: shown.set.to_owned(),
        fingerprint: fingerprint.clone(),
        count: shown.remaining,
        confirmed_with: number,
    };
    let result = match (&flow.after, flow.kind()) {
        (Some(login), _) => {
            let mut login = login.clone();
            login.regenerated = Some(Box::new(StepResult::success(Proof::Enroll(enrolment))));
            StepResult::success(Proof::Verify(login))
        }
        (None, Some(Kind::Regenerate)) => StepResult::success(Proof::Regenerate(enrolment)),
        (None, _) => StepResult::success(Proof::Enroll(enrolment)),
    };
    let c = chrome(state, base, t, flow);
    let page = HandoffPage {
        title: c.msg("handoff-enrolled-title"),
        message: c.t.with(
            "handoff-enrolled",
            &[("fingerprint", Arg::Str(fingerprint))],
        ),
        c: &c,
        handoff: flow.hand_back(state, t, result)?,
    };
    Ok(hand_back(&page, &page.handoff, &c))
}
