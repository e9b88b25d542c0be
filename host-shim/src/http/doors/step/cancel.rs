//! `POST /step/{tenant}/cancel`: the user gives up; the flow ends with a signed
//! `cancelled` failure.

use axum::extract::State;
use axum::response::Response;

use crate::http::AppState;
use crate::http::doors::step::chrome;
use crate::http::doors::step::flow::{AnyForms, Posted, finish};
use crate::http::doors::step::pages::{HandoffPage, hand_back};
use crate::http::doors::step::result::Reason;
use crate::http::views::base::Base;
use crate::http::views::refusal::Refusal;

/// End any flow with a signed `cancelled`.
pub async fn cancel(
    State(state): State<AppState>,
    base: Base,
    posted: Posted<AnyForms>,
) -> Result<Response, Refusal> {
    let (t, flow) = (&posted.tenant, &posted.flow);
    finish(&state, t, flow).await?;
    let handoff = flow
        .failure(&state, t, Reason::Cancelled)
        .ok_or_else(Refusal::internal)?;
    let c = chrome(&state, &base, t, flow);
    let page = HandoffPage {
        title: c.msg("handoff-cancel-title"),
        message: c.msg("handoff-cancel"),
        c: &c,
        handoff,
    };
    Ok(hand_back(&page, &page.handoff, &c))
}
