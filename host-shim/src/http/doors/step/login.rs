//! Code entry at login: `POST /step/{tenant}/login`. A right code ends the flow
//! with a signed success (after showing the code that replaced it, under
//! `replace_on_use`; or, when few codes are left, with the offer of a new set);
//! a wrong one shows the page again with the attempts left.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum_extra::extract::cookie::CookieJar;

use crate::http::AppState;
use crate::http::doors::step::flow::{self, Flow, LoginForms, Posted, finish};
use crate::http::doors::step::pages::{
    CodePage, HandoffPage, LowPage, ReplacedPage, hand_back, own,
};
use crate::http::doors::step::refusals::exhausted;
use crate::http::doors::step::result::{Proof, Reason, StepResult, Verified};
use crate::http::doors::step::session::Kind;
use crate::http::doors::step::{COOKIE_TTL, StepTenant, chrome, now};
use crate::http::views::base::Base;
use crate::http::views::codes::{Actions, CodeRow};
use crate::http::views::cookies;
use crate::http::views::i18n::Arg;
use crate::http::views::refusal::{Refusal, bad_form};
use crate::http::views::text::{format_message, rejection_message};
use crate::plugin::{CodeOrder, Outcome, PluginError};
use crate::service::{Attempt, ServiceError};

/// The code-entry page, or a refusal when no code can be accepted now. After a
/// wrong code (`error` set) a lockout that code just started is shown on the
/// page itself, with its end time; the next attempt meets the lockout.
pub async fn code_page(
    state: &AppState,
    t: &StepTenant,
    base: &Base,
    actions: &Actions,
    flow: &Flow,
    error: Option<String>,
) -> Result<Response, Refusal> {
    let status = state
        .service
        .status(&t.subject(&flow.sub))
        .await
        .map_err(|e| flow.refusal(state, t, e))?;
    let Some(active) = status.active.as_ref() else {
        return Err(flow.refusal(state, t, ServiceError::NotEnrolled));
    };
    if status.locked_permanently {
        return Err(flow.locked(state, t, None));
    }
    if let Some(until) = status.locked_until.and_then(|u| i64::try_from(u).ok())
        && until > now(state)
        && error.is_none()
    {
        return Err(flow.locked(state, t, Some(until)));
    }
    if active.exhausted {
        return Err(exhausted(flow.failure(state, t, Reason::Exhausted)).for_reader(flow.reader()));
    }
    render_code_page(state, t, base, actions, flow, active.next_number, error)
}

/// The code page, asking for `next_number` when the tenant's policy uses
/// codes in order; from what the page or the last attempt already knows.
fn render_code_page(
    state: &AppState,
    t: &StepTenant,
    base: &Base,
    actions: &Actions,
    flow: &Flow,
    next_number: Option<u8>,
    error: Option<String>,
) -> Result<Response, Refusal> {
    let numbered = state
        .service
        .tenant(t.id())
        .is_ok_and(|x| x.policy.order == CodeOrder::Numbered);
    let status_code = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let c = chrome(state, base, t, flow);
    let next_number = numbered.then_some(next_number).flatten();
    let page = CodePage::new(&c, actions, flow.sign(t)?, next_number, error);
    Ok(own(status_code, &page, &flow.cont, &c))
}

/// `POST /step/{tenant}/login`: check the typed code.
pub async fn submit(
    State(state): State<AppState>,
    base: Base,
    posted: Posted<LoginForms>,
) -> Result<(CookieJar, Response), Refusal> {
    let t = &posted.tenant;
    let (flow, jar) = (&posted.flow, posted.jar.clone());
    let actions = Actions::new(&base, t.id());
    let code = posted.form.code.clone().ok_or_else(bad_form)?;
    let tr = flow.tr();
    let attempt = match state.service.verify(&t.subject(&flow.sub), code).await {
        Ok(a) => a,
        Err(ServiceError::Refused(PluginError::InvalidCode(f))) => {
            let error = Some(format_message(&tr, f));
            return Ok((
                jar,
                code_page(&state, t, &base, &actions, flow, error).await?,
            ));
        }
        Err(e) => return Err(flow.refusal(&state, t, e)),
    };
    match attempt.outcome {
        Outcome::Accepted(number) => {
            finish(&state, t, flow).await?;
            success(&state, t, &base, &actions, jar, flow, number, &attempt).await
        }
        Outcome::Rejected(r) => {
            let note = flow::rejected(&state, t, flow, r).await?;
            let error = Some(rejection_message(
                &tr,
                r.reason,
                attempt.replaced_set,
                &note,
            ));
            // The attempt's answer has what the page shows: no second call.
            let next = attempt.next_number;
            Ok((
                jar,
                render_code_page(&state, t, &base, &actions, flow, next, error)?,
            ))
        }
        Outcome::Locked(until) => Err(flow::lock(&state, t, flow, until).await),
        Outcome::Exhausted => {
            finish(&state, t, flow).await?;
            Err(exhausted(flow.failure(&state, t, Reason::Exhausted)).for_reader(flow.reader()))
        }
    }
}

/// What an accepted code proves.
pub fn verified(number: u8, a: &Attempt) -> Verified {
    Verified {
        set_id: a.set_id.clone(),
        number,
        remaining: a.remaining,
        low: a.low,
        regenerated: None,
    }
}

/// The signed success; when few codes are left, first the offer of a new set,
/// in a fresh flow that carries this login's result (password and a backup
/// code were just proven).
#[allow(clippy::too_many_arguments)]
async fn success(
    state: &AppState,
    t: &StepTenant,
    base: &Base,
    actions: &Actions,
    jar: CookieJar,
    flow: &Flow,
    number: u8,
    attempt: &Attempt,
) -> Result<(CookieJar, Response), Refusal> {
    let result = verified(number, attempt);
    let handoff = flow.hand_back(state, t, StepResult::success(Proof::Verify(result.clone())))?;
    // A step-up flow answers its relying party at once: the offer of a new
    // set belongs to the user's own sign-in service.
    let c = chrome(state, base, t, flow);
    let n = Arg::Num(i64::from(number));
    // The used code was replaced (`replace_on_use`): the new one is shown
    // now, once, before the user goes back (a step-up answer included).
    if let Some(new) = &attempt.replacement {
        use secrecy::ExposeSecret as _;
        let row = CodeRow {
            number: new.number,
            code: new.code.expose_secret().clone(),
        };
        let fingerprint: String = result
            .set_id
            .as_deref()
            .unwrap_or("")
            .chars()
            .take(4)
            .collect();
        let page = ReplacedPage::new(&c, actions, row, fingerprint, now(state), handoff);
        return Ok((jar, hand_back(&page, &page.handoff, &c)));
    }
    if !attempt.low || flow.answer.is_some() {
        let page = HandoffPage {
            title: c.msg("handoff-accepted-title"),
            message: c.t.with("handoff-accepted", &[("number", n)]),
            c: &c,
            handoff,
        };
        return Ok((jar, hand_back(&page, &page.handoff, &c)));
    }
    let (mut regen, csrf) = Flow::start(
        t.id(),
        Kind::Regenerate,
        &flow.sub,
        &flow.state,
        &flow.cont,
        now(state),
    )?;
    regen.after = Some(result);
    let regen = regen.for_reader(&flow.reader());
    let notice = format!(
        "{} {}",
        c.t.with("low-accepted", &[("number", n)]),
        c.t.with(
            "low-left",
            &[("remaining", Arg::Num(i64::from(attempt.remaining)))]
        )
    );
    let page = LowPage {
        title: c.msg("low-title"),
        c: &c,
        actions,
        notice,
        handoff,
        flow: regen.sign(t)?,
    };
    let jar = jar.add(cookies::flow(base, t.id(), &regen.fid, csrf, COOKIE_TTL));
    Ok((jar, hand_back(&page, &page.handoff, &c)))
}
