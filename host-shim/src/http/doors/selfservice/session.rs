//! The self-service session: its cookie and the tokens of its forms (what a
//! posted form is checked against is in [`ctx`](super::ctx)).

use axum_extra::extract::cookie::CookieJar;
use serde::{Deserialize, Serialize};

use crate::config::SelfServiceConfig;
use crate::http::AppState;
use crate::http::doors::answer::{Fault, Pages};
use crate::http::doors::selfservice::tenant::Tenant;
use crate::http::doors::selfservice::tokens::{Keys, Purpose};
use crate::http::views::refusal::Refusal;
use crate::service::SubjectId;
use crate::store::Mark;

/// The session, in its cookie.
#[derive(Serialize, Deserialize, Clone)]
pub(super) struct SessionClaims {
    pub(super) iss: String,
    pub(super) aud: String,
    pub(super) exp: i64,
    /// Session id (forms are bound to it).
    pub(super) sid: String,
    pub(super) sub: SubjectId,
    pub(super) auth_time: Option<i64>,
    pub(super) acr: Option<String>,
    /// Signed in through the strong client (or asked for a fresh, strong login).
    pub(super) strong: bool,
}

/// A form's token.
#[derive(Serialize, Deserialize)]
pub(super) struct FormClaims {
    pub(super) iss: String,
    pub(super) aud: String,
    pub(super) exp: i64,
    pub(super) sid: String,
    /// The set this page issued (confirmation forms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) set: Option<String>,
    /// That set's codes, sealed for this session and set, shown again after a
    /// typo while confirming.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) sealed: Option<String>,
}

pub(super) fn session_cookie_name(tenant: &str) -> String {
    format!("bc_self_{tenant}")
}

/// The session of this browser, if it has a valid one that was not ended
/// by logout (on any instance: the store keeps ended sessions' ids until they
/// would have expired). Fails closed when the store cannot say.
pub(super) async fn session(
    state: &AppState,
    t: &Tenant,
    jar: &CookieJar,
) -> Result<Option<SessionClaims>, Refusal> {
    let Some(claims) = jar.get(&session_cookie_name(t.id())).and_then(|token| {
        t.keys()
            .open::<SessionClaims>(Purpose::Session, token.value())
    }) else {
        return Ok(None);
    };
    let sid_sha256 = claims.sid_sha256();
    let ended = Mark::SelfSessionEnded {
        tenant: t.id(),
        sid_sha256: &sid_sha256,
    };
    match state.service.spent(ended).await {
        Ok(false) => Ok(Some(claims)),
        Ok(true) => Ok(None),
        Err(e) => Err(Fault::of(e).page(Pages::SelfService)),
    }
}

impl SessionClaims {
    /// SHA-256 hex of the session id (what the store keeps of an ended session).
    pub(super) fn sid_sha256(&self) -> String {
        use sha2::Digest as _;
        hex::encode(sha2::Sha256::digest(self.sid.as_bytes()))
    }
}

impl SessionClaims {
    /// May this session replace or delete codes? A login at most `max_age`
    /// old, with one of the tenant's `replace_acr` values when it lists some.
    pub(super) fn strong_enough(&self, t: &Tenant) -> bool {
        self.strong_enough_at(&t.config, t.now)
    }

    /// [`Self::strong_enough`] at `now`. An `auth_time` after `now` is never
    /// fresh: the callback refuses one beyond the leeway and records one within
    /// it as the time of the callback, so no session of the shim's carries one.
    fn strong_enough_at(&self, config: &SelfServiceConfig, now: i64) -> bool {
        let max_age = i64::try_from(config.max_age_seconds).unwrap_or(i64::MAX);
        let fresh = self
            .auth_time
            .is_some_and(|at| at <= now && now.saturating_sub(at) <= max_age);
        let acr_ok = config.replace_acr.is_empty()
            || self
                .acr
                .as_ref()
                .is_some_and(|a| config.replace_acr.contains(a));
        fresh && acr_ok && (self.strong || config.strong_client.is_none())
    }
}

pub(super) fn form_token(
    t: &Tenant,
    session: &SessionClaims,
    set: Option<String>,
) -> Result<String, Refusal> {
    form_token_sealed(t, session, set, None)
}

/// A form token that also carries its set's codes, sealed; without them when
/// the token would be too long to be posted back (very large sets).
pub(super) fn form_token_sealed(
    t: &Tenant,
    session: &SessionClaims,
    set: Option<String>,
    sealed: Option<String>,
) -> Result<String, Refusal> {
    let claims = FormClaims {
        iss: Keys::issuer(Purpose::Form).into(),
        aud: t.id().into(),
        exp: session.exp,
        sid: session.sid.clone(),
        set,
        sealed,
    };
    let token = t
        .keys()
        .sign(Purpose::Form, &claims)
        .ok_or_else(Refusal::internal)?;
    if token.len() <= MAX_FORM_TOKEN_BYTES || claims.sealed.is_none() {
        return Ok(token);
    }
    form_token_sealed(t, session, claims.set, None)
}

/// Longest form token the pages post back, bytes (what [`Keys::open`] reads).
const MAX_FORM_TOKEN_BYTES: usize = 8192;

#[cfg(test)]
mod tests {
    use super::*;

    fn session(auth_time: Option<i64>, acr: Option<&str>, strong: bool) -> SessionClaims {
        SessionClaims {
            iss: Keys::issuer(Purpose::Session).into(),
            aud: "acme".into(),
            exp: 2_000_000_900,
            sid: "sid".into(),
            sub: SubjectId::parse("alice").unwrap(),
            auth_time,
            acr: acr.map(str::to_owned),
            strong,
        }
    }

    const NOW: i64 = 2_000_000_000;

    #[test]
    fn a_recent_login_with_the_right_acr_is_strong_enough() {
        let config = SelfServiceConfig {
            replace_acr: vec!["mfa".into()],
            max_age_seconds: 300,
            ..SelfServiceConfig::default()
        };
        assert!(session(Some(NOW), Some("mfa"), true).strong_enough_at(&config, NOW));
        assert!(session(Some(NOW - 300), Some("mfa"), true).strong_enough_at(&config, NOW));
        assert!(!session(Some(NOW - 301), Some("mfa"), true).strong_enough_at(&config, NOW));
        assert!(!session(None, Some("mfa"), true).strong_enough_at(&config, NOW));
        assert!(!session(Some(NOW), Some("pwd"), true).strong_enough_at(&config, NOW));
        assert!(!session(Some(NOW), None, true).strong_enough_at(&config, NOW));
    }

    /// Issue 24, item 3: `now - auth_time <= max_age` holds for any future
    /// `auth_time`; such a session replaced a user's codes.
    #[test]
    fn a_future_auth_time_is_never_fresh() {
        let config = SelfServiceConfig {
            replace_acr: vec!["mfa".into()],
            ..SelfServiceConfig::default()
        };
        for ahead in [1, 30, 86_400, i64::MAX - NOW] {
            let s = session(Some(NOW + ahead), Some("mfa"), true);
            assert!(!s.strong_enough_at(&config, NOW), "auth_time now + {ahead}");
        }
        let anything = SelfServiceConfig::default();
        assert!(!session(Some(i64::MAX), None, true).strong_enough_at(&anything, NOW));
        assert!(session(Some(NOW), None, true).strong_enough_at(&anything, NOW));
    }
}
