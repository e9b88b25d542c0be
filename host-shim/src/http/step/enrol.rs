//! Enrolment: a new set shown once (`POST .../enroll/issue`), then one of its
//! codes typed back as proof of saving (`.../enroll/activate`) or, without that
//! policy, the user's word (`.../enroll/done`); the result is signed back.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::flow::{self, EnrolForms, Flow, Posted, finish, subject_limited};
use super::pages::{Actions, CodesPage, HandoffPage, hand_back, own};
use super::refusals::{exhausted, expired_flow, too_many_sets};
use super::result::{Enrolment, Proof, Reason, StepResult};
use super::session::Kind;
use super::text::{activation_message, format_message};
use super::{MAX_ISSUES_PER_FLOW, StepTenant, active_fingerprint, spend};
use crate::http::AppState;
use crate::http::base::Base;
use crate::http::refusal::{Refusal, bad_form};
use crate::plugin::{Outcome, PluginError};
use crate::service::{IssueMode, ServiceError};

/// `POST .../enroll/issue`: a new set, shown once.
pub async fn issue(
    State(state): State<AppState>,
    base: Base,
    posted: Posted<EnrolForms>,
) -> Result<Response, Refusal> {
    let t = posted.tenant(&state)?;
    let mut flow = posted.flow.clone();
    subject_limited(&state, t.id, &flow.sub)?;
    let mut allowed = false;
    for n in 0..MAX_ISSUES_PER_FLOW {
        let id = format!("issue:{}:{}:{n}", t.id, flow.fid);
        if spend(&state, &id, flow.exp.saturating_add(60)).await? {
            allowed = true;
            break;
        }
    }
    if !allowed {
        return Err(too_many_sets().back(flow.failure(&state, &t, Reason::TooManySets)));
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
        .issue_as(t.id, &flow.sub, mode)
        .await
        .map_err(|e| flow.refusal(&state, &t, e))?;
    flow.set = Some(issued.set_id.clone());
    flow.pending = issued.pending();
    let actions = Actions::new(&base, t.id);
    let page = CodesPage::new_set(&actions, &issued, flow.sub.clone(), flow.sign(&t)?, None);
    Ok(own(StatusCode::OK, &page, &flow.cont))
}

/// The confirmation form again (codes are not shown twice), with why.
fn confirm_again(
    t: &StepTenant<'_>,
    actions: &Actions,
    flow: &Flow,
    error: String,
) -> Result<Response, Refusal> {
    let page = CodesPage {
        title: "Confirm your backup codes",
        base: &actions.base,
        actions,
        codes: Vec::new(),
        fingerprint: String::new(),
        subject: flow.sub.clone(),
        issued: String::new(),
        pending: true,
        flow: flow.sign(t)?,
        error: Some(error),
    };
    Ok(own(StatusCode::UNPROCESSABLE_ENTITY, &page, &flow.cont))
}

/// `POST .../enroll/activate`: one code of the new set typed back.
pub async fn activate(
    State(state): State<AppState>,
    base: Base,
    posted: Posted<EnrolForms>,
) -> Result<Response, Refusal> {
    let t = posted.tenant(&state)?;
    let flow = &posted.flow;
    let Some(set) = flow.set.clone() else {
        return Err(expired_flow());
    };
    let code = posted.form.code.clone().ok_or_else(bad_form)?;
    subject_limited(&state, t.id, &flow.sub)?;
    let actions = Actions::new(&base, t.id);
    let attempt = match state.service.activate(t.id, &flow.sub, code).await {
        Ok(a) => a,
        Err(ServiceError::Refused(PluginError::InvalidCode(f))) => {
            return confirm_again(&t, &actions, flow, format_message(f).into());
        }
        Err(e) => return Err(flow.refusal(&state, &t, e)),
    };
    match attempt.outcome {
        Outcome::Accepted(number) if attempt.set_id.as_deref() == Some(set.as_str()) => {
            finish(&state, &t, flow).await?;
            let confirmed = Some(number);
            enrolled(
                &state,
                &t,
                &actions,
                flow,
                &set,
                confirmed,
                attempt.remaining,
            )
            .await
        }
        Outcome::Accepted(_) => Err(expired_flow()),
        Outcome::Rejected(r) => {
            let note = flow::rejected(&state, &t, flow, r).await?;
            confirm_again(&t, &actions, flow, activation_message(r.reason, &note))
        }
        Outcome::Locked(until) => Err(flow::lock(&state, &t, flow, until).await),
        Outcome::Exhausted => Err(exhausted(flow.failure(&state, &t, Reason::Exhausted))),
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
    let t = posted.tenant(&state)?;
    let flow = &posted.flow;
    let Some(set) = flow.set.clone().filter(|_| !flow.pending) else {
        return Err(expired_flow());
    };
    let status = state
        .service
        .status(t.id, &flow.sub)
        .await
        .map_err(|e| flow.refusal(&state, &t, e))?;
    let active = status
        .active
        .filter(|a| a.set_id == set)
        .ok_or_else(expired_flow)?;
    finish(&state, &t, flow).await?;
    let actions = Actions::new(&base, t.id);
    enrolled(&state, &t, &actions, flow, &set, None, active.remaining).await
}

/// The signed success of an enrolment (after a login: the login's result with
/// the new set).
async fn enrolled(
    state: &AppState,
    t: &StepTenant<'_>,
    actions: &Actions,
    flow: &Flow,
    set: &str,
    number: Option<u8>,
    remaining: u8,
) -> Result<Response, Refusal> {
    let fingerprint = active_fingerprint(state, t.id, &flow.sub).await;
    let enrolment = Enrolment {
        set_id: set.to_owned(),
        fingerprint: fingerprint.clone(),
        count: remaining,
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
    let page = HandoffPage {
        title: "Backup codes are on",
        base: &actions.base,
        message: format!(
            "Your new backup codes (set {fingerprint}) are active. Returning you to sign-in…"
        ),
        handoff: flow.hand_back(state, t, result)?,
    };
    Ok(hand_back(&page, &page.handoff))
}
