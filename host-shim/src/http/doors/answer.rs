//! What a service error means to whoever answers it: the one reading of
//! [`ServiceError`] ([`Fault`]) that every door renders in its own form, and
//! the refusal pages the page doors (the login step, self-service) show for
//! it ([`Fault::page`]). The JSON API and the REST second factor answer it
//! through [`ApiError`](crate::http::doors::api::error::ApiError)'s
//! `From<Fault>`; the step adds its signed failure for the IdP.

use std::time::Duration;

use axum::http::StatusCode;

use crate::http::views::refusal::Refusal;
use crate::plugin::{CodeFormatError, PluginError};
use crate::service::ServiceError;

/// What a service error means for an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// No such tenant.
    UnknownTenant,
    /// The subject named is not valid.
    InvalidSubject,
    /// The subject has no codes.
    NotEnrolled,
    /// The subject's codes are not active yet (a set waits for activation).
    NoActiveSet,
    /// A first set was asked for and codes exist.
    AlreadyEnrolled,
    /// Nothing waits for activation.
    NoPendingSet,
    /// The typed code is not well formed (not counted as an attempt).
    InvalidCode(CodeFormatError),
    /// Too many attempts for this subject; this long to wait.
    RateLimited(Duration),
    /// The engine is busy or failed closed, or the subject is contended.
    Busy,
    /// The store failed (logged as it is read).
    StoreDown,
    /// The shim failed on its side: the random source, or an import's cost
    /// where no import runs (logged as it is read).
    Failed,
    /// The plugin refused in a way no door expects (logged as it is read).
    Unexpected,
}

/// Whose pages answer: each page door has its own words for some faults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pages {
    /// The login step's pages.
    Step,
    /// Self-service's pages.
    SelfService,
}

impl Fault {
    /// What `e` means; a failure of the store or the shim, or a refusal no
    /// door expects, is logged here with its details.
    pub fn of(e: ServiceError) -> Self {
        match e {
            ServiceError::UnknownTenant => Self::UnknownTenant,
            ServiceError::InvalidSubject => Self::InvalidSubject,
            ServiceError::NotEnrolled => Self::NotEnrolled,
            ServiceError::AlreadyEnrolled => Self::AlreadyEnrolled,
            ServiceError::Refused(PluginError::NoActiveSet) => Self::NoActiveSet,
            ServiceError::Refused(PluginError::NoPendingSet) => Self::NoPendingSet,
            ServiceError::Refused(PluginError::InvalidCode(f)) => Self::InvalidCode(f),
            ServiceError::RateLimited(wait) => Self::RateLimited(wait),
            ServiceError::Engine(_) | ServiceError::Contended => Self::Busy,
            ServiceError::Store(err) => {
                tracing::error!(error = %err, "the store failed during a request");
                Self::StoreDown
            }
            e @ (ServiceError::Random | ServiceError::ImportCost(_)) => {
                tracing::error!(error = %e, "request failed");
                Self::Failed
            }
            ServiceError::Refused(other) => {
                tracing::warn!(error = ?other, "the plugin refused a request");
                Self::Unexpected
            }
        }
    }

    /// The refusal page `pages` show for this fault: its status, message
    /// and `Retry-After` (the step adds its signed failure).
    pub fn page(self, pages: Pages) -> Refusal {
        match pages {
            Pages::Step => self.step_page(),
            Pages::SelfService => self.self_page(),
        }
    }

    fn step_page(self) -> Refusal {
        match self {
            Self::NotEnrolled | Self::NoActiveSet => {
                Refusal::new(StatusCode::CONFLICT, "refusal-not-enrolled")
            }
            Self::AlreadyEnrolled => Refusal::new(StatusCode::CONFLICT, "refusal-already-enrolled"),
            Self::NoPendingSet => Refusal::new(StatusCode::CONFLICT, "refusal-no-pending-set"),
            Self::InvalidSubject | Self::UnknownTenant => {
                Refusal::new(StatusCode::BAD_REQUEST, "refusal-invalid-subject")
            }
            Self::RateLimited(wait) => {
                Refusal::new(StatusCode::TOO_MANY_REQUESTS, "refusal-too-many-attempts")
                    .retry_after(wait.as_secs().max(1))
            }
            Self::StoreDown => {
                Refusal::new(StatusCode::SERVICE_UNAVAILABLE, "refusal-unavailable").retry_after(5)
            }
            // Only the import command imports; a step never meets an import's cost.
            Self::Busy | Self::Failed => Refusal::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "refusal-engine-unavailable",
            )
            .retry_after(5),
            Self::InvalidCode(_) | Self::Unexpected => Refusal::internal(),
        }
    }

    fn self_page(self) -> Refusal {
        match self {
            Self::RateLimited(wait) => Refusal::new(
                StatusCode::TOO_MANY_REQUESTS,
                "refusal-self-too-many-attempts",
            )
            .retry_after(wait.as_secs().max(1)),
            Self::Busy | Self::StoreDown => {
                Refusal::new(StatusCode::SERVICE_UNAVAILABLE, "refusal-self-unavailable")
                    .retry_after(5)
            }
            other => {
                tracing::warn!(fault = ?other, "self-service request failed");
                Refusal::internal()
            }
        }
    }
}
