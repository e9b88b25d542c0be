//! `POST /step/{tenant}/cancel`: the user gives up; the flow ends with a signed
//! `cancelled` failure.

use axum::response::Response;

use crate::http::doors::form::Posted;
use crate::http::doors::step::pages::{HandoffPage, hand_back};
use crate::http::doors::step::posted::AnyForms;
use crate::http::doors::step::result::Reason;
use crate::http::views::refusal::Refusal;

/// End any flow with a signed `cancelled`.
pub async fn cancel(posted: Posted<AnyForms>) -> Result<Response, Refusal> {
    let ctx = &posted.ctx;
    ctx.finish().await?;
    let handoff = ctx
        .failure(Reason::Cancelled)
        .ok_or_else(Refusal::internal)?;
    let c = &ctx.chrome;
    let page = HandoffPage {
        title: c.msg("handoff-cancel-title"),
        message: c.msg("handoff-cancel"),
        c,
        handoff,
    };
    Ok(hand_back(&page, &page.handoff, c))
}
