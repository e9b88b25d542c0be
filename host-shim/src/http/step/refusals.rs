//! The step's refusals: each a clear page, with the signed failure for the IdP
//! when the session token was the IdP's.

use axum::http::StatusCode;

use super::text::locked_message;
use crate::http::pages::Handoff;
use crate::http::refusal::Refusal;

/// The tenant has no step configured.
pub fn step_not_set_up() -> Refusal {
    Refusal::new(
        StatusCode::NOT_FOUND,
        "Sign-in step not set up",
        "This service is not set up to use backup codes as a sign-in step. Go back to the site you came from.",
    )
}

/// No such tenant.
pub fn unknown_step() -> Refusal {
    Refusal::new(
        StatusCode::NOT_FOUND,
        "Unknown sign-in step",
        "This address does not belong to any sign-in service. Go back to the site you came from.",
    )
}

/// The entry link lacks its parameters.
pub fn bad_link() -> Refusal {
    Refusal::new(
        StatusCode::BAD_REQUEST,
        "This sign-in link is incomplete",
        "The link that brought you here is missing its sign-in details. Go back to the site you came from and sign in again.",
    )
}

/// The session token is not the IdP's (tampered, another key, not a JWT).
pub fn invalid_link() -> Refusal {
    Refusal::new(
        StatusCode::FORBIDDEN,
        "This sign-in link is not valid",
        "The sign-in details in this link were changed or were not issued for this service, so they were refused and nothing was changed. Go back to the site you came from and sign in again.",
    )
}

/// The session's flow would be too large for the pages.
pub fn link_too_long() -> Refusal {
    Refusal::new(
        StatusCode::BAD_REQUEST,
        "This sign-in link is too long",
        "The sign-in details in this link are too long for this step, so nothing was changed. Go back to the site you came from.",
    )
}

/// The `state` was used before.
pub fn state_reused() -> Refusal {
    Refusal::new(
        StatusCode::CONFLICT,
        "This sign-in link was already used",
        "Each sign-in link works once, and this one was used before. Go back to the site you came from and sign in again.",
    )
}

/// The session token was used before.
pub fn replayed() -> Refusal {
    Refusal::new(
        StatusCode::CONFLICT,
        "This sign-in link was already used",
        "These sign-in details were used before (a replay), so they were refused. Go back to the site you came from and sign in again.",
    )
}

/// A posted flow that is expired, finished, forged or of another kind.
pub fn expired_flow() -> Refusal {
    Refusal::new(
        StatusCode::FORBIDDEN,
        "This page has expired",
        "This sign-in page is no longer valid (it expired, was already completed, or was opened in another browser). Go back to the site you came from and sign in again.",
    )
}

/// A posted flow without its cookie (CSRF).
pub fn foreign_form() -> Refusal {
    Refusal::new(
        StatusCode::FORBIDDEN,
        "This form could not be accepted",
        "The form was not sent from this sign-in page in this browser (its security check failed), so nothing was changed. Go back to the site you came from and sign in again.",
    )
}

/// Too many codes tried for one subject.
pub fn too_many_attempts() -> Refusal {
    Refusal::new(
        StatusCode::TOO_MANY_REQUESTS,
        "Too many attempts",
        "Too many codes were tried for this account in the last minute. Wait a minute, then try again.",
    )
    .retry_after(60)
}

/// A first enrolment for a subject who already has codes.
pub fn already_enrolled() -> Refusal {
    Refusal::new(
        StatusCode::CONFLICT,
        "Backup codes are already set up",
        "Your account already has backup codes, so no new set was made and nothing was changed. To replace them, start again from your account settings at the site you came from.",
    )
}

/// No active set to sign in with.
pub fn not_enrolled() -> Refusal {
    Refusal::new(
        StatusCode::CONFLICT,
        "No backup codes are set up",
        "There are no active backup codes for your account, so you cannot sign in with one. Return to the sign-in page and choose another way.",
    )
}

/// Nothing waits for confirmation.
pub fn no_pending_set() -> Refusal {
    Refusal::new(
        StatusCode::CONFLICT,
        "Nothing to confirm",
        "There is no new set of backup codes waiting to be confirmed. Start again from the site you came from.",
    )
}

/// The flow already issued as many sets as it may.
pub fn too_many_sets() -> Refusal {
    Refusal::new(
        StatusCode::TOO_MANY_REQUESTS,
        "Too many new sets",
        "Several sets were already created in this visit. Go back to the site you came from and start again.",
    )
}

/// The engine or the store failed: nothing was accepted.
pub fn engine_unavailable() -> Refusal {
    Refusal::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "Temporarily unavailable",
        "The backup-code check could not run just now, so nothing was accepted or changed. Go back and try again in a moment.",
    )
    .retry_after(5)
}

/// The subject named is not valid.
pub fn invalid_subject() -> Refusal {
    Refusal::new(
        StatusCode::BAD_REQUEST,
        "This sign-in link is not valid",
        "The sign-in details name no valid user. Nothing was changed.",
    )
}

/// Attempts are locked, until `until` or for good (`None`).
pub fn locked(until: Option<i64>, now: i64, handoff: Option<Handoff>) -> Refusal {
    match until {
        Some(until) => {
            let wait = until.saturating_sub(now).max(1);
            Refusal::new(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many wrong codes",
                locked_message(until, now),
            )
            .retry_after(u64::try_from(wait).unwrap_or(1))
            .back(handoff)
        }
        None => Refusal::new(
            StatusCode::FORBIDDEN,
            "Backup codes are locked",
            "Backup codes are locked for your account after too many wrong codes. They can be used again only after a new set is created; contact the service's support.",
        )
        .back(handoff),
    }
}

/// Every code of the set is used.
pub fn exhausted(handoff: Option<Handoff>) -> Refusal {
    Refusal::new(
        StatusCode::GONE,
        "All backup codes are used",
        "Every backup code of your set has been used. Sign in another way, then create a new set.",
    )
    .back(handoff)
}
