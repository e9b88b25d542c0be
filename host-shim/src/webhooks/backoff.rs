//! When a failed delivery is tried again: exponential ceilings with full
//! jitter (the next delay is drawn uniformly below the attempt's ceiling, so
//! receivers coming back are not hit by every instance at once), raised to a
//! receiver's `Retry-After` (at most an hour), and a retry window measured by
//! age rather than by a count of attempts: the last attempt is made at the
//! window's end, never before, and after it the event is dead.

pub use crate::config::WEBHOOK_RETRY_CEILINGS as DEFAULT_CEILINGS;
/// The default retry window, seconds: 24 hours.
pub const DEFAULT_RETRY_FOR: u64 = 86_400;
/// The longest `Retry-After` honoured, seconds.
pub const MAX_RETRY_AFTER: u64 = 3600;
/// The shortest delay between two attempts, milliseconds.
pub const MIN_DELAY_MS: i64 = 1000;

/// What follows a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Try again at this time (Unix milliseconds).
    At(i64),
    /// The retry window is over: park the event as dead.
    Dead,
}

/// A retry schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    ceilings: Vec<u64>,
    retry_for_ms: i64,
}

impl Default for Schedule {
    fn default() -> Self {
        Self {
            ceilings: DEFAULT_CEILINGS.to_vec(),
            retry_for_ms: ms(DEFAULT_RETRY_FOR),
        }
    }
}

fn ms(seconds: u64) -> i64 {
    i64::try_from(seconds)
        .unwrap_or(i64::MAX / 1000)
        .saturating_mul(1000)
}

impl Schedule {
    /// A schedule of `ceilings` (seconds, the last one repeating; none empty,
    /// none zero) over a window of `retry_for` seconds (`None` when either is
    /// unusable).
    pub fn new(ceilings: &[u64], retry_for: u64) -> Option<Self> {
        if ceilings.is_empty() || ceilings.contains(&0) || retry_for == 0 {
            return None;
        }
        Some(Self {
            ceilings: ceilings.to_vec(),
            retry_for_ms: ms(retry_for),
        })
    }

    /// After the `attempts`-th failed attempt (1 for the first) at `now`, of
    /// an event whose window opened at `window` (both Unix milliseconds):
    /// `draw` is uniform in `[0, 1)` (the jitter), `retry_after` the
    /// receiver's ask in seconds.
    pub fn next(
        &self,
        attempts: u32,
        window: i64,
        now: i64,
        retry_after: Option<u64>,
        draw: f64,
    ) -> Next {
        let deadline = window.saturating_add(self.retry_for_ms);
        if now >= deadline {
            return Next::Dead;
        }
        let index = usize::try_from(attempts.saturating_sub(1))
            .unwrap_or(usize::MAX)
            .min(self.ceilings.len() - 1);
        let ceiling = ms(self.ceilings[index]);
        let draw = if draw.is_finite() {
            draw.clamp(0.0, 1.0)
        } else {
            0.0
        };
        // The product is below the ceiling, itself within i64: the cast holds.
        let jittered = (ceiling as f64 * draw) as i64;
        let asked = retry_after.map_or(0, |s| ms(s.min(MAX_RETRY_AFTER)));
        let delay = jittered.max(asked).max(MIN_DELAY_MS);
        Next::At(now.saturating_add(delay).min(deadline))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the draws and the receiver's asks, attempts go forward,
        /// the last one is at the window's end (never before), and the event
        /// is dead right after it.
        #[test]
        fn the_last_attempt_is_at_the_end_of_the_window(
            draws in proptest::collection::vec(0.0f64..1.0, 64),
            asks in proptest::collection::vec(proptest::option::of(0u64..10_000), 64),
            start in 0i64..1_000_000_000_000,
        ) {
            let schedule = Schedule::default();
            let deadline = start + ms(DEFAULT_RETRY_FOR);
            let (mut now, mut attempts) = (start, 0u32);
            loop {
                attempts += 1;
                let i = (attempts as usize - 1) % draws.len();
                match schedule.next(attempts, start, now, asks[i], draws[i]) {
                    Next::At(t) => {
                        prop_assert!(t > now, "goes forward");
                        prop_assert!(t <= deadline, "never past the window");
                        now = t;
                    }
                    Next::Dead => break,
                }
                prop_assert!(attempts < 100_000, "ends");
            }
            prop_assert_eq!(now, deadline, "the last attempt is at the window's end");
        }
    }

    #[test]
    fn ceilings_grow_then_repeat_and_retry_after_raises_the_delay() {
        let s = Schedule::new(&[5, 300], 86_400).unwrap();
        let at = |attempts, ask, draw| match s.next(attempts, 0, 1_000, ask, draw) {
            Next::At(t) => t - 1_000,
            Next::Dead => -1,
        };
        assert_eq!(at(1, None, 0.5), 2_500);
        assert_eq!(at(2, None, 0.5), 150_000);
        assert_eq!(at(9, None, 0.5), 150_000, "the last ceiling repeats");
        assert_eq!(at(1, None, 0.0), MIN_DELAY_MS, "never at once");
        assert_eq!(at(1, Some(60), 0.5), 60_000);
        assert_eq!(at(1, Some(100_000), 0.5), ms(MAX_RETRY_AFTER));
        assert_eq!(at(1, None, f64::NAN), MIN_DELAY_MS);
        assert_eq!(s.next(1, 0, ms(86_400), None, 0.5), Next::Dead);
        assert!(Schedule::new(&[], 10).is_none());
        assert!(Schedule::new(&[0], 10).is_none());
        assert!(Schedule::new(&[5], 0).is_none());
    }
}
