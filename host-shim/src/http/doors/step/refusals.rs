//! The step's refusals: each a clear page, with the signed failure for the IdP
//! when the session token was the IdP's. The pages for service errors are
//! the doors' shared ones ([`crate::http::doors::answer`]).

use axum::http::StatusCode;

use crate::http::views::handoff::Handoff;
use crate::http::views::refusal::Refusal;
use crate::http::views::text::locked_message;

/// The tenant has no step configured.
pub fn step_not_set_up() -> Refusal {
    Refusal::new(StatusCode::NOT_FOUND, "refusal-step-not-set-up")
}

/// No such tenant.
pub fn unknown_step() -> Refusal {
    Refusal::new(StatusCode::NOT_FOUND, "refusal-unknown-step")
}

/// The entry link lacks its parameters.
pub fn bad_link() -> Refusal {
    Refusal::new(StatusCode::BAD_REQUEST, "refusal-bad-link")
}

/// The session token is not the IdP's (tampered, another key, not a JWT).
pub fn invalid_link() -> Refusal {
    Refusal::new(StatusCode::FORBIDDEN, "refusal-invalid-link")
}

/// The session's flow would be too large for the pages.
pub fn link_too_long() -> Refusal {
    Refusal::new(StatusCode::BAD_REQUEST, "refusal-link-too-long")
}

/// The `state` was used before.
pub fn state_reused() -> Refusal {
    Refusal::new(StatusCode::CONFLICT, "refusal-state-reused")
}

/// The session token was used before.
pub fn replayed() -> Refusal {
    Refusal::new(StatusCode::CONFLICT, "refusal-replayed")
}

/// A posted flow that is forged, damaged or of another kind.
pub fn expired_flow() -> Refusal {
    Refusal::new(StatusCode::FORBIDDEN, "refusal-expired-flow")
}

/// A posted flow whose page expired or whose result was already handed back.
pub fn finished_flow() -> Refusal {
    Refusal::new(StatusCode::FORBIDDEN, "refusal-finished-flow")
}

/// A posted flow without its cookie (CSRF).
pub fn foreign_form() -> Refusal {
    Refusal::new(StatusCode::FORBIDDEN, "refusal-foreign-form")
}

/// The flow already issued as many sets as it may.
pub fn too_many_sets() -> Refusal {
    Refusal::new(StatusCode::TOO_MANY_REQUESTS, "refusal-too-many-sets")
}

/// Attempts are locked, until `until` or for good (`None`).
pub fn locked(until: Option<i64>, now: i64, handoff: Option<Handoff>) -> Refusal {
    match until {
        Some(until) => {
            let wait = until.saturating_sub(now).max(1);
            Refusal::say(StatusCode::TOO_MANY_REQUESTS, locked_message(until, now))
                .retry_after(u64::try_from(wait).unwrap_or(1))
                .back(handoff)
        }
        None => Refusal::new(StatusCode::FORBIDDEN, "refusal-locked-for-good").back(handoff),
    }
}

/// Every code of the set is used.
pub fn exhausted(handoff: Option<Handoff>) -> Refusal {
    Refusal::new(StatusCode::GONE, "refusal-exhausted").back(handoff)
}
