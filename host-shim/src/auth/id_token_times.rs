//! The time claims of the ID tokens self-service accepts, checked
//! explicitly with the configured leeway (`limits.leeway_seconds`):
//! `jsonwebtoken` checks `exp` (and `nbf` when asked) but never `iat`, even
//! when it is listed as required, and knows nothing of `auth_time`.

/// Why an ID token's time claims were refused (see [`check_times`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    /// A time claim is not a finite number of seconds.
    #[error("a time claim is not a number of seconds")]
    Malformed,
    /// No `exp`.
    #[error("no exp")]
    NoExpiry,
    /// `exp` has passed (more than the leeway ago).
    #[error("expired")]
    Expired,
    /// No `iat`.
    #[error("no iat")]
    NoIssueTime,
    /// `iat` lies in the future beyond the leeway.
    #[error("iat in the future")]
    IssuedInFuture,
    /// `nbf` lies in the future beyond the leeway.
    #[error("nbf in the future")]
    NotYetValid,
    /// `auth_time` lies in the future beyond the leeway.
    #[error("auth_time in the future")]
    AuthTimeInFuture,
    /// A fresh login was asked (`max_age`) and the token has no `auth_time`
    /// (OpenID Connect Core 3.1.2.1 makes it required then).
    #[error("no auth_time for a fresh login")]
    NoAuthTime,
}

/// The time claims of an ID token: RFC 7519 NumericDates, seconds since the
/// epoch (JSON numbers, not necessarily integers).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Times {
    /// `exp`: the token is not accepted at or after it.
    pub exp: Option<f64>,
    /// `iat`: when the token was issued.
    pub iat: Option<f64>,
    /// `nbf`: the token is not accepted before it.
    pub nbf: Option<f64>,
    /// `auth_time`: when the user last authenticated at the IdP.
    pub auth_time: Option<f64>,
}

/// Check an ID token's time claims at `now` (seconds since the epoch) with
/// `leeway` seconds for clocks that differ: `exp` present and later than
/// `now - leeway`; `iat` present and at most `now + leeway`; `nbf` and
/// `auth_time`, when present, at most `now + leeway`; and `auth_time` present
/// when the login had to be fresh (`fresh_login`: the request asked `max_age`).
pub fn check_times(
    times: &Times,
    now: i64,
    leeway: u64,
    fresh_login: bool,
) -> Result<(), TimeError> {
    let Times {
        exp,
        iat,
        nbf,
        auth_time,
    } = *times;
    if [exp, iat, nbf, auth_time]
        .into_iter()
        .flatten()
        .any(|t| !t.is_finite())
    {
        return Err(TimeError::Malformed);
    }
    let (now, leeway) = (now as f64, leeway as f64);
    let latest = now + leeway;
    if exp.ok_or(TimeError::NoExpiry)? <= now - leeway {
        return Err(TimeError::Expired);
    }
    if iat.ok_or(TimeError::NoIssueTime)? > latest {
        return Err(TimeError::IssuedInFuture);
    }
    if nbf.is_some_and(|nbf| nbf > latest) {
        return Err(TimeError::NotYetValid);
    }
    match auth_time {
        Some(at) if at > latest => Err(TimeError::AuthTimeInFuture),
        None if fresh_login => Err(TimeError::NoAuthTime),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::oidc::IdClaims;

    const NOW: i64 = 2_000_000_000;
    const LEEWAY: u64 = 30;

    fn at(offset: i64) -> Option<f64> {
        Some((NOW + offset) as f64)
    }

    /// A token issued now, valid for five minutes, from a login a minute ago.
    fn good() -> Times {
        Times {
            exp: at(300),
            iat: at(0),
            nbf: None,
            auth_time: at(-60),
        }
    }

    fn check(times: Times, fresh_login: bool) -> Result<(), TimeError> {
        check_times(&times, NOW, LEEWAY, fresh_login)
    }

    #[test]
    fn good_times_pass() {
        assert_eq!(check(good(), false), Ok(()));
        assert_eq!(check(good(), true), Ok(()));
        let at_the_edges = Times {
            exp: at(-29),
            iat: at(30),
            nbf: at(30),
            auth_time: at(30),
        };
        assert_eq!(check(at_the_edges, true), Ok(()));
        let fractional = Times {
            iat: Some(NOW as f64 + 30.0),
            nbf: Some(NOW as f64 - 0.5),
            ..good()
        };
        assert_eq!(check(fractional, false), Ok(()));
    }

    /// Issue 24, item 2: an ID token without `iat`, or with `iat` a day ahead,
    /// was accepted.
    #[test]
    fn iat_is_required_and_not_in_the_future() {
        let none = Times {
            iat: None,
            ..good()
        };
        assert_eq!(check(none, false), Err(TimeError::NoIssueTime));
        for ahead in [31, 3600, 86_400] {
            let t = Times {
                iat: at(ahead),
                ..good()
            };
            assert_eq!(check(t, false), Err(TimeError::IssuedInFuture), "{ahead}");
        }
        let just_beyond = Times {
            iat: Some(NOW as f64 + 30.5),
            ..good()
        };
        assert_eq!(check(just_beyond, false), Err(TimeError::IssuedInFuture));
    }

    #[test]
    fn exp_is_required_and_not_past() {
        let none = Times {
            exp: None,
            ..good()
        };
        assert_eq!(check(none, false), Err(TimeError::NoExpiry));
        for ago in [30, 31, 86_400] {
            let t = Times {
                exp: at(-ago),
                ..good()
            };
            assert_eq!(check(t, false), Err(TimeError::Expired), "{ago}");
        }
    }

    #[test]
    fn a_future_nbf_is_refused() {
        for ahead in [31, 86_400] {
            let t = Times {
                nbf: at(ahead),
                ..good()
            };
            assert_eq!(check(t, false), Err(TimeError::NotYetValid), "{ahead}");
        }
    }

    /// Issue 24, item 3: a future `auth_time` counted as a fresh login.
    #[test]
    fn a_future_auth_time_is_refused() {
        for fresh_login in [false, true] {
            for ahead in [31, 86_400] {
                let t = Times {
                    auth_time: at(ahead),
                    ..good()
                };
                assert_eq!(
                    check(t, fresh_login),
                    Err(TimeError::AuthTimeInFuture),
                    "{ahead}"
                );
            }
        }
    }

    #[test]
    fn a_fresh_login_needs_auth_time() {
        let none = Times {
            auth_time: None,
            ..good()
        };
        assert_eq!(check(none, true), Err(TimeError::NoAuthTime));
        assert_eq!(check(none, false), Ok(()));
    }

    #[test]
    fn times_that_are_not_numbers_are_refused() {
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let t = Times {
                auth_time: Some(bad),
                ..good()
            };
            assert_eq!(check(t, false), Err(TimeError::Malformed));
        }
        let text = serde_json::json!({"sub": "a", "aud": "c", "iat": "2000000000"});
        assert!(serde_json::from_value::<IdClaims>(text).is_err());
        let claims: IdClaims = serde_json::from_value(serde_json::json!({
            "sub": "a", "aud": "c", "exp": 2_000_000_300.0, "iat": 2_000_000_000u64,
            "auth_time": 1_999_999_940.75, "email": "a@example.test",
        }))
        .unwrap();
        assert_eq!(claims.auth_time(), Some(1_999_999_940));
        assert_eq!(check(claims.times(), true), Ok(()));
        assert!(claims.other.contains_key("email"));
    }
}
