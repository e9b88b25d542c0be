//! Attempts per minute for one subject, whichever door they come through
//! (the JSON API, the login step, the REST second factor, self-service, the
//! step-up provider): the service counts every typed code (`verify`,
//! `activate`), so a new door cannot forget to.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::Subject;

/// The per-subject allowance.
pub(super) struct SubjectRates {
    limiter: DefaultKeyedRateLimiter<(String, String)>,
}

impl SubjectRates {
    /// `per_minute` operations per subject.
    pub(super) fn new(per_minute: u32) -> Self {
        let quota = Quota::per_minute(NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN));
        Self {
            limiter: RateLimiter::keyed(quota),
        }
    }

    /// Count one operation for `subject`; `Err` holds how long to wait.
    pub(super) fn check(&self, subject: &Subject) -> Result<(), Duration> {
        let (tenant, id) = subject.names();
        self.limiter
            .check_key(&(tenant.to_owned(), id.to_owned()))
            .map_err(|not_until| {
                not_until.wait_time_from(governor::clock::Clock::now(
                    &governor::clock::DefaultClock::default(),
                ))
            })
    }

    /// Forget subjects back to a full allowance (bounds memory).
    pub(super) fn shrink(&self) {
        self.limiter.retain_recent();
    }
}
