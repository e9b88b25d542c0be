//! Code entry at login: `POST /step/{tenant}/login`. A right code ends the flow
//! with a signed success (after showing the code that replaced it, under
//! `replace_on_use`; or, when few codes are left, with the offer of a new set);
//! a wrong one shows the page again with the attempts left.

use axum::http::StatusCode;
use axum::response::Response;
use axum_extra::extract::cookie::CookieJar;

use crate::http::doors::answer::Fault;
use crate::http::doors::form::Posted;
use crate::http::doors::step::ctx::StepCtx;
use crate::http::doors::step::pages::{CodePage, HandoffPage, LowPage, ReplacedPage, hand_back};
use crate::http::doors::step::posted::LoginForms;
use crate::http::doors::step::result::{Proof, StepResult, Verified};
use crate::http::views::codes::CodeRow;
use crate::http::views::i18n::Arg;
use crate::http::views::refusal::{Refusal, bad_form};
use crate::http::views::text::{format_message, rejection_message};
use crate::plugin::{CodeOrder, Outcome};
use crate::service::Attempt;

/// The code-entry page, or a refusal when no code can be accepted now. After a
/// wrong code (`error` set) a lockout that code just started is shown on the
/// page itself, with its end time; the next attempt meets the lockout.
pub async fn code_page(ctx: &StepCtx, error: Option<String>) -> Result<Response, Refusal> {
    let status = ctx
        .state
        .service
        .status(&ctx.subject())
        .await
        .map_err(|e| ctx.refusal(e))?;
    let Some(active) = status.active.as_ref() else {
        return Err(ctx.fault(Fault::NotEnrolled));
    };
    if status.locked_permanently {
        return Err(ctx.locked(None));
    }
    if let Some(until) = status.locked_until.and_then(|u| i64::try_from(u).ok())
        && until > ctx.now()
        && error.is_none()
    {
        return Err(ctx.locked(Some(until)));
    }
    if active.exhausted {
        return Err(ctx.exhausted());
    }
    render_code_page(ctx, active.next_number, error)
}

/// The code page, asking for `next_number` when the tenant's policy uses
/// codes in order; from what the page or the last attempt already knows.
fn render_code_page(
    ctx: &StepCtx,
    next_number: Option<u8>,
    error: Option<String>,
) -> Result<Response, Refusal> {
    let numbered = ctx
        .state
        .service
        .tenant(ctx.tenant.id())
        .is_ok_and(|x| x.policy.order == CodeOrder::Numbered);
    let status_code = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let next_number = numbered.then_some(next_number).flatten();
    let actions = ctx.actions();
    let page = CodePage::new(
        &ctx.chrome,
        &actions,
        ctx.sign(&ctx.flow)?,
        next_number,
        error,
    );
    Ok(ctx.page(status_code, &page))
}

/// `POST /step/{tenant}/login`: check the typed code.
pub async fn submit(posted: Posted<LoginForms>) -> Result<(CookieJar, Response), Refusal> {
    let ctx = &posted.ctx;
    let code = posted.code.ok_or_else(bad_form)?;
    let tr = ctx.flow.tr();
    let attempt = match ctx.state.service.verify(&ctx.subject(), code).await {
        Ok(a) => a,
        Err(e) => match Fault::of(e) {
            Fault::InvalidCode(f) => {
                let error = Some(format_message(&tr, f));
                return Ok((ctx.jar.clone(), code_page(ctx, error).await?));
            }
            fault => return Err(ctx.fault(fault)),
        },
    };
    match attempt.outcome {
        Outcome::Accepted(number) => {
            ctx.finish().await?;
            success(ctx, number, &attempt)
        }
        Outcome::Rejected(r) => {
            let note = ctx.rejected(r).await?;
            let error = Some(rejection_message(
                &tr,
                r.reason,
                attempt.replaced_set,
                &note,
            ));
            // The attempt's answer has what the page shows: no second call.
            let next = attempt.next_number;
            Ok((ctx.jar.clone(), render_code_page(ctx, next, error)?))
        }
        Outcome::Locked(until) => Err(ctx.lock(until).await),
        Outcome::Exhausted => {
            ctx.finish().await?;
            Err(ctx.exhausted())
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
fn success(ctx: &StepCtx, number: u8, attempt: &Attempt) -> Result<(CookieJar, Response), Refusal> {
    let result = verified(number, attempt);
    let handoff = ctx.hand_back(StepResult::success(Proof::Verify(result.clone())))?;
    // A step-up flow answers its relying party at once: the offer of a new
    // set belongs to the user's own sign-in service.
    let c = &ctx.chrome;
    let n = Arg::Num(i64::from(number));
    // The used code was replaced (`replace_on_use`): the new one is shown
    // now, once, before the user goes back (a step-up answer included).
    if let Some(new) = &attempt.replacement {
        use secrecy::ExposeSecret as _;
        let row = CodeRow {
            number: new.number,
            code: new.code.expose_secret().clone(),
        };
        // The set's short form, as the engine names it in the attempt's answer.
        let fingerprint = attempt.fingerprint.clone().unwrap_or_default();
        let actions = ctx.actions();
        let page = ReplacedPage::new(c, &actions, row, fingerprint, ctx.now(), handoff);
        return Ok((ctx.jar.clone(), hand_back(&page, &page.handoff, c)));
    }
    if !attempt.low || ctx.flow.answer.is_some() {
        let page = HandoffPage {
            title: c.msg("handoff-accepted-title"),
            message: c.t.with("handoff-accepted", &[("number", n)]),
            c,
            handoff,
        };
        return Ok((ctx.jar.clone(), hand_back(&page, &page.handoff, c)));
    }
    let (regen, csrf) = ctx.flow.offer_new_set(result, ctx.now())?;
    let notice = format!(
        "{} {}",
        c.t.with("low-accepted", &[("number", n)]),
        c.t.with(
            "low-left",
            &[("remaining", Arg::Num(i64::from(attempt.remaining)))]
        )
    );
    let actions = ctx.actions();
    let page = LowPage {
        title: c.msg("low-title"),
        c,
        actions: &actions,
        notice,
        handoff,
        flow: ctx.sign(&regen)?,
    };
    let jar = ctx.cookies_with(&regen, csrf);
    Ok((jar, hand_back(&page, &page.handoff, c)))
}
