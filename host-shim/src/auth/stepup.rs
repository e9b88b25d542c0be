//! The step-up provider of a tenant: its signing keys ([`super::signing`]) and
//! the checks of the `id_token_hint` a relying party sends.
//!
//! A hint is accepted only as RS256, with a `kid` found in the JWKS configured
//! for that client (`hint_jwks_url`; one single-flight refetch for an unknown
//! `kid`, through [`super::jwks`]; the hint's own `iss`, `jku` or `x5u` are
//! never used to find keys). Then: `iss` is one of the client's
//! `hint_issuers` (`{tid}` standing for the hint's `tid`), `tid` is one of
//! `hint_tenant_ids` when those are set, `aud` names `hint_audience`, `iat` is
//! at most `hint_max_age_seconds` old and not in the future, `nbf` (if any) is
//! a number that has passed (both with `limits.leeway_seconds`), and `sub` and
//! the configured subject claim are present. `exp` is deliberately not
//! checked: Entra issues its hints already expired. No other time claim is
//! read (a hint's `auth_time` is not used).

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use jsonwebtoken::{Algorithm, Validation};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::AuthError;
use super::jwks::{self, Jwks};
use super::signing::{KeyError, KeyRing, Schedule};
use crate::config::{StepUpClient, StepUpConfig, TenantConfig};

/// Longest `id_token_hint` accepted, bytes.
pub const MAX_HINT_BYTES: usize = 8192;

/// Why a hint was refused (logged as its label; the relying party gets an
/// OpenID error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HintError {
    /// Not a JWT, too long, or an `nbf` that is not a number.
    #[error("malformed hint")]
    Malformed,
    /// Not RS256 (`none`, HS*, ES*, ...), or a key published for another algorithm.
    #[error("hint algorithm not accepted")]
    Algorithm,
    /// No `kid`, or none the client's JWKS has (after one refetch).
    #[error("hint signed by an unknown key")]
    UnknownKey,
    /// The signature does not verify.
    #[error("hint signature invalid")]
    Signature,
    /// `iss` is not one the client's hints may have.
    #[error("hint issuer not accepted")]
    Issuer,
    /// `tid` is missing or not an accepted tenant.
    #[error("hint tenant not accepted")]
    Tenant,
    /// `aud` does not name the configured audience.
    #[error("hint audience not accepted")]
    Audience,
    /// `iat` is missing or older than the window.
    #[error("hint too old")]
    TooOld,
    /// `iat` or `nbf` lies in the future.
    #[error("hint not yet valid")]
    NotYetValid,
    /// `sub` or the subject claim is missing or not a usable subject.
    #[error("hint names no usable subject")]
    Subject,
}

impl HintError {
    /// Short label for logs.
    pub fn label(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::Algorithm => "algorithm",
            Self::UnknownKey => "unknown_key",
            Self::Signature => "signature",
            Self::Issuer => "issuer",
            Self::Tenant => "tenant",
            Self::Audience => "audience",
            Self::TooOld => "too_old",
            Self::NotYetValid => "not_yet_valid",
            Self::Subject => "subject",
        }
    }
}

/// A verified hint.
#[derive(Debug, Clone)]
pub struct Hint {
    /// Its `sub`: the ID token's `sub` must be this.
    pub sub: String,
    /// The subject whose codes are checked (the configured subject claim).
    pub subject: crate::service::SubjectId,
    /// Its `iat`.
    pub iat: i64,
    /// Its single-use id: SHA-256 (hex) of its `jti`, or of the whole token.
    pub id: String,
}

/// A tenant's step-up provider.
pub struct StepUp {
    /// Its signing keys.
    pub ring: KeyRing,
    hints: BTreeMap<String, Jwks>,
    http: reqwest::Client,
    leeway: i64,
    max_age: i64,
}

impl std::fmt::Debug for StepUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StepUp")
            .field("ring", &self.ring)
            .field("clients", &self.hints.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl StepUp {
    /// The provider of tenant `id` (validated configuration with `stepup`).
    pub fn new(
        id: &str,
        tenant: &TenantConfig,
        stepup: &StepUpConfig,
        leeway: u64,
    ) -> Result<Self, KeyError> {
        let secret = stepup
            .key_secret
            .as_ref()
            .or(tenant.step_secret.as_ref())
            .ok_or(KeyError::NoKey)?;
        let ring = KeyRing::new(id, secret, Schedule::new(stepup, leeway))?;
        let http = super::client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(jwks::FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| KeyError::Generation(e.to_string()))?;
        let hints = stepup
            .clients
            .iter()
            .filter_map(|c| {
                let url = c.hint_jwks_url.clone()?;
                Some((c.client_id.clone(), Jwks::new(url)))
            })
            .collect();
        Ok(Self {
            ring,
            hints,
            http,
            leeway: i64::try_from(leeway).unwrap_or(300),
            max_age: i64::try_from(stepup.hint_max_age_seconds).unwrap_or(600),
        })
    }

    /// Until when a hint issued at `iat` may be used (its single-use ids are
    /// remembered that long).
    pub fn horizon(&self, iat: i64) -> i64 {
        iat.saturating_add(self.max_age).saturating_add(self.leeway)
    }

    /// Check `token` as a hint of `client` at `now`.
    pub async fn verify_hint(
        &self,
        client: &StepUpClient,
        token: &str,
        now: i64,
    ) -> Result<Hint, HintError> {
        if token.is_empty() || token.len() > MAX_HINT_BYTES {
            return Err(HintError::Malformed);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| HintError::Malformed)?;
        if header.alg != Algorithm::RS256 {
            return Err(HintError::Algorithm);
        }
        let kid = header.kid.ok_or(HintError::UnknownKey)?;
        let jwks = self
            .hints
            .get(&client.client_id)
            .ok_or(HintError::UnknownKey)?;
        let key = jwks
            .key(&self.http, &kid, Algorithm::RS256)
            .await
            .map_err(|e| match e {
                AuthError::Algorithm => HintError::Algorithm,
                _ => HintError::UnknownKey,
            })?;
        if key.family() != Algorithm::RS256.family() {
            return Err(HintError::Algorithm);
        }
        // The signature only: every claim is checked below, `exp` not at all.
        let mut validation = Validation::new(Algorithm::RS256);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims = HashSet::new();
        let claims = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
            .map_err(|_| HintError::Signature)?
            .claims;
        let text = |name: &str| claims.get(name).and_then(Value::as_str);
        let tid = text("tid");
        if !client.hint_tenant_ids.is_empty()
            && !tid.is_some_and(|t| client.hint_tenant_ids.iter().any(|a| a == t))
        {
            return Err(HintError::Tenant);
        }
        let iss = text("iss").ok_or(HintError::Issuer)?;
        let issuer_ok = client.hint_issuers.iter().any(|pattern| {
            if pattern.contains("{tid}") {
                tid.is_some_and(|t| pattern.replace("{tid}", t) == iss)
            } else {
                pattern == iss
            }
        });
        if !issuer_ok {
            return Err(HintError::Issuer);
        }
        let audience = client.hint_audience();
        let aud_ok = match claims.get("aud") {
            Some(Value::String(a)) => a == audience,
            Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(audience)),
            _ => false,
        };
        if !aud_ok {
            return Err(HintError::Audience);
        }
        let iat = check_times(&claims, now, self.leeway, self.max_age)?;
        if let Some(exp) = claims.get("exp").and_then(Value::as_i64) {
            // Learn what real hints carry; never a reason to refuse.
            tracing::debug!(
                exp_minus_iat = exp.saturating_sub(iat),
                "id_token_hint lifetime"
            );
        }
        let sub = text("sub")
            .filter(|s| !s.is_empty() && s.len() <= 255)
            .ok_or(HintError::Subject)?;
        let subject = text(client.subject_claim())
            .and_then(|s| crate::service::SubjectId::parse(s).ok())
            .ok_or(HintError::Subject)?;
        let id = match text("jti").filter(|j| !j.is_empty() && j.len() <= 256) {
            Some(jti) => hex::encode(Sha256::digest(jti.as_bytes())),
            None => hex::encode(Sha256::digest(token.as_bytes())),
        };
        Ok(Hint {
            sub: sub.to_owned(),
            subject,
            iat,
            id,
        })
    }
}

/// The time claims a hint is checked on, at `now`: `iat` present, at most
/// `max_age` old and not in the future (each with `leeway`); `nbf`, when
/// present, a number not in the future (with `leeway`). Hints carry no
/// `auth_time` the shim reads, and `exp` is deliberately not checked (see the
/// module). Times are RFC 7519 NumericDates (JSON numbers, not necessarily
/// integers). The hint's `iat`, in whole seconds (rounded down).
fn check_times(
    claims: &Map<String, Value>,
    now: i64,
    leeway: i64,
    max_age: i64,
) -> Result<i64, HintError> {
    let seconds = |name: &str| {
        claims
            .get(name)
            .map(|v| v.as_f64().filter(|t| t.is_finite()))
    };
    let iat = seconds("iat").flatten().ok_or(HintError::TooOld)?;
    let (now, leeway, max_age) = (now as f64, leeway as f64, max_age as f64);
    if iat > now + leeway {
        return Err(HintError::NotYetValid);
    }
    if now - iat > max_age + leeway {
        return Err(HintError::TooOld);
    }
    match seconds("nbf") {
        None => {}
        // Present but not a number: never ignored.
        Some(None) => return Err(HintError::Malformed),
        Some(Some(nbf)) if nbf > now + leeway => return Err(HintError::NotYetValid),
        Some(Some(_)) => {}
    }
    // `as` saturates; `iat` is finite.
    Ok(iat.floor() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 2_000_000_000;

    fn check(claims: Value) -> Result<i64, HintError> {
        let Value::Object(map) = claims else {
            return Err(HintError::Malformed);
        };
        check_times(&map, NOW, 30, 600)
    }

    #[test]
    fn iat_is_required_within_the_window_and_not_in_the_future() {
        assert_eq!(check(json!({"iat": NOW})), Ok(NOW));
        assert_eq!(check(json!({"iat": NOW - 630})), Ok(NOW - 630));
        assert_eq!(check(json!({"iat": NOW + 30})), Ok(NOW + 30));
        assert_eq!(check(json!({"iat": NOW as f64 - 0.5})), Ok(NOW - 1));
        assert_eq!(check(json!({})), Err(HintError::TooOld));
        assert_eq!(check(json!({"iat": "2000000000"})), Err(HintError::TooOld));
        assert_eq!(check(json!({"iat": NOW - 631})), Err(HintError::TooOld));
        assert_eq!(check(json!({"iat": NOW + 31})), Err(HintError::NotYetValid));
        assert_eq!(
            check(json!({"iat": NOW + 86_400})),
            Err(HintError::NotYetValid)
        );
    }

    /// An `nbf` that was not an integer (a fraction, a string) used to be
    /// ignored, whatever time it named.
    #[test]
    fn nbf_if_present_is_a_number_not_in_the_future() {
        assert_eq!(check(json!({"iat": NOW, "nbf": NOW + 30})), Ok(NOW));
        assert_eq!(
            check(json!({"iat": NOW, "nbf": NOW + 31})),
            Err(HintError::NotYetValid)
        );
        assert_eq!(
            check(json!({"iat": NOW, "nbf": (NOW + 86_400) as f64 + 0.5})),
            Err(HintError::NotYetValid)
        );
        for odd in [json!("2000086400"), Value::Null, json!([NOW])] {
            assert_eq!(
                check(json!({"iat": NOW, "nbf": odd})),
                Err(HintError::Malformed)
            );
        }
    }

    /// Entra sends its hints already expired: `exp` is never a reason to refuse.
    #[test]
    fn exp_is_not_checked() {
        assert_eq!(check(json!({"iat": NOW, "exp": NOW - 1})), Ok(NOW));
    }
}
