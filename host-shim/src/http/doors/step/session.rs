//! The IdP's session token: the HS256 JWT, signed with the tenant's
//! `step_secret`, that opens one step for one subject.
//!
//! | claim | rule |
//! |---|---|
//! | `step` | required: `login`, `enroll` or `regenerate`, the step of the path; a token opens that one step only |
//! | `iss` | the tenant's `issuer` |
//! | `sub` | the subject (1..=255 bytes, no control characters) |
//! | `exp`, `iat` | required; `exp` at most 15 minutes ahead; the leeway is `limits.leeway_seconds` |
//! | `aud` | optional; when present it must name the tenant's `audience` or exactly this step's URL, `{public_url}/step/{tenant}/{step}` (Auth0 puts the redirect URL there) |
//! | `state` | optional; when present it must equal the `state` parameter (Auth0 sets it) |
//! | `continue_uri` | optional; where to send the result. It must fall under one of the tenant's `continue_urls` (same scheme, host and port, path under the prefix); without it the first `continue_urls` entry is used as is (Auth0: `https://{domain}/continue`) |
//! | `jti` | optional; the token is single-use either way (by `jti`, else by its hash) |
//! | `ui_locales`, `locale` | optional; the pages' language (space-separated tags, then one tag), before the browser's `Accept-Language` and the tenant's `default_language` |
//! | `zoneinfo` | optional; an IANA time zone the pages show times in (else UTC, named) |
//! | `preferred_username` | optional; the account name the pages show (else `sub`) |

use std::collections::HashSet;

use axum::http::StatusCode;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use crate::config::{TenantConfig, usable_url};
use crate::http::AppState;
use crate::http::doors::step::refusals::invalid_link;
use crate::http::doors::step::result::{Action, Destination, Reason, Signed};
use crate::http::doors::step::{StepTenant, now, sha256_hex};
use crate::http::views::base::Base;
use crate::http::views::refusal::Refusal;
use crate::service::SubjectId;

/// Longest `exp - now` accepted for a session token, seconds.
pub const MAX_SESSION_LIFETIME: i64 = 900;
/// Longest `state` accepted, bytes.
pub const MAX_STATE_BYTES: usize = 2048;
/// Longest session token accepted, bytes.
pub const MAX_TOKEN_BYTES: usize = 8192;

/// The step a session token opens, named in its required `step` claim and by
/// the entry path. Each token opens exactly one. A flow token carries it by
/// the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Type a code (`/step/{tenant}/login`).
    Login,
    /// A first set, for a subject with no active set (`/step/{tenant}/enroll`).
    Enroll,
    /// A new set replacing the active one, if any (`/step/{tenant}/regenerate`):
    /// the IdP says explicitly that the user may replace their codes.
    Regenerate,
}

impl Kind {
    /// Its name in the `step` claim and the entry path.
    pub fn name(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Enroll => "enroll",
            Self::Regenerate => "regenerate",
        }
    }

    /// The kind a name stands for.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Login, Self::Enroll, Self::Regenerate]
            .into_iter()
            .find(|k| k.name() == name)
    }

    /// The `action` of results answering this step.
    pub fn action(self) -> Action {
        match self {
            Self::Login => Action::Verify,
            Self::Enroll => Action::Enroll,
            Self::Regenerate => Action::Regenerate,
        }
    }

    /// Does this step issue a new set?
    pub fn enrols(self) -> bool {
        matches!(self, Self::Enroll | Self::Regenerate)
    }

    /// The public address of this step's entry.
    pub fn url(self, base: &Base, tenant: &str) -> String {
        base.url(&format!("/step/{tenant}/{}", self.name()))
    }
}

/// Claims the IdP's session token may carry.
#[derive(Deserialize)]
struct SessionClaims {
    iss: Option<String>,
    sub: Option<String>,
    aud: Option<Value>,
    exp: Option<i64>,
    iat: Option<i64>,
    nbf: Option<i64>,
    jti: Option<String>,
    state: Option<String>,
    continue_uri: Option<String>,
    step: Option<String>,
    /// Present only in the shim's own result tokens: such a token is never a session.
    result: Option<Value>,
    /// The IdP's choice of page languages (space-separated, as the OpenID
    /// parameter of that name).
    ui_locales: Option<String>,
    /// The user's language (OpenID standard claim).
    locale: Option<String>,
    /// The user's time zone, an IANA name (OpenID standard claim).
    zoneinfo: Option<String>,
    /// The name the user knows their account by (OpenID standard claim).
    preferred_username: Option<String>,
}

/// Who the verified session token is about and where to send the result.
pub struct Session {
    /// The subject.
    pub sub: SubjectId,
    /// The checked continue URL.
    pub cont: String,
    /// Until when its single-use ids must be remembered.
    pub expires: i64,
    /// Its single-use id (hash of `jti`, or of the token).
    pub id: String,
    /// The IdP's `ui_locales` claim.
    pub ui_locales: Option<String>,
    /// The IdP's `locale` claim.
    pub locale: Option<String>,
    /// The IdP's `zoneinfo` claim.
    pub zoneinfo: Option<String>,
    /// The IdP's `preferred_username` claim.
    pub preferred_username: Option<String>,
}

/// A `state` parameter the step accepts.
pub fn valid_state(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_STATE_BYTES && !s.chars().any(char::is_control)
}

/// Where results may go: `candidate` when it falls under one of the tenant's
/// `continue_urls`, or the first of them when the IdP named none.
pub fn continue_url(config: &TenantConfig, candidate: Option<&str>) -> Option<String> {
    let Some(candidate) = candidate else {
        let first = config.continue_urls.first()?;
        return usable_url(first).then(|| first.to_string());
    };
    let url = Url::parse(candidate).ok()?;
    if !usable_url(&url) || url.query().is_some() {
        return None;
    }
    config.continue_urls.iter().find_map(|p| {
        let same_origin = p.scheme() == url.scheme()
            && p.host_str() == url.host_str()
            && p.port_or_known_default() == url.port_or_known_default();
        let (pp, cp) = (p.path(), url.path());
        let under = cp == pp
            || (cp.starts_with(pp) && (pp.ends_with('/') || cp[pp.len()..].starts_with('/')));
        let no_dots = !cp
            .split('/')
            .any(|s| s == ".." || s == "." || s.contains('%'));
        (usable_url(p) && same_origin && under && no_dots).then(|| url.to_string())
    })
}

/// Check the IdP's session token for step `kind`. Nothing is spent here; a
/// refusal of a token whose signature is the IdP's carries a signed failure.
pub fn check(
    state: &AppState,
    t: &StepTenant,
    base: &Base,
    token: &str,
    flow_state: &str,
    kind: Kind,
) -> Result<Session, Refusal> {
    let refused = |reason: &'static str| {
        // The operator learns why (never the token); the browser gets the page.
        tracing::info!(
            tenant = t.id(),
            step = kind.name(),
            reason,
            "session token refused"
        );
        invalid_link()
    };
    let header = jsonwebtoken::decode_header(token).map_err(|_| refused("malformed"))?;
    if header.alg != Algorithm::HS256 {
        return Err(refused("algorithm"));
    }
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims = HashSet::new();
    let key = DecodingKey::from_secret(t.secret.expose_secret().as_bytes());
    let claims = jsonwebtoken::decode::<SessionClaims>(token, &key, &validation)
        .map_err(|_| refused("invalid_signature"))?
        .claims;
    // The shim's own result tokens share the key: never take one for a session.
    if claims.result.is_some() {
        return Err(refused("result_token"));
    }
    // The signature is the IdP's: its continue URL and subject can be trusted
    // once checked against the configuration.
    let cont = continue_url(&t.config, claims.continue_uri.as_deref()).ok_or_else(|| {
        tracing::info!(
            tenant = t.id(),
            step = kind.name(),
            reason = "continue_uri",
            "session token refused"
        );
        Refusal::new(StatusCode::BAD_REQUEST, "refusal-session-continue-uri")
    })?;
    let sub = claims.sub.and_then(|s| SubjectId::parse(&s).ok());
    let fail = |status: StatusCode, id: &'static str, reason: Reason| {
        tracing::info!(tenant = t.id(), step = kind.name(), reason = %reason.name(), "session token refused");
        let to = Destination {
            cont: &cont,
            state: flow_state,
            sub: sub.as_ref().map(SubjectId::as_str),
        };
        Refusal::new(status, id).back(Signed::failure(state, t, to, kind.action(), reason))
    };
    let leeway = i64::try_from(state.limits.leeway_seconds).unwrap_or(0);
    let now = now(state);
    if claims.iss.as_deref() != Some(t.config.issuer.as_str()) {
        return Err(fail(
            StatusCode::FORBIDDEN,
            "refusal-session-invalid-issuer",
            Reason::InvalidIssuer,
        ));
    }
    if claims.step.as_deref() != Some(kind.name()) {
        return Err(fail(
            StatusCode::FORBIDDEN,
            "refusal-session-wrong-step",
            Reason::WrongStep,
        ));
    }
    if let Some(aud) = &claims.aud {
        // The tenant's audience, or exactly this step's own address.
        let step_url = kind.url(base, t.id());
        let ok = |a: &str| a == t.config.audience || a == step_url;
        let accepted = match aud {
            Value::String(a) => ok(a),
            Value::Array(list) => list.iter().any(|a| a.as_str().is_some_and(ok)),
            _ => false,
        };
        if !accepted {
            return Err(fail(
                StatusCode::FORBIDDEN,
                "refusal-session-wrong-audience",
                Reason::WrongAudience,
            ));
        }
    }
    let Some(exp) = claims.exp else {
        return Err(fail(
            StatusCode::FORBIDDEN,
            "refusal-session-no-expiry",
            Reason::InvalidToken,
        ));
    };
    if exp.saturating_add(leeway) < now {
        return Err(fail(
            StatusCode::FORBIDDEN,
            "refusal-session-expired-token",
            Reason::ExpiredToken,
        ));
    }
    if exp > now.saturating_add(MAX_SESSION_LIFETIME + leeway)
        || claims
            .iat
            .is_none_or(|iat| iat > now.saturating_add(leeway))
        || claims
            .nbf
            .is_some_and(|nbf| nbf > now.saturating_add(leeway))
    {
        return Err(fail(
            StatusCode::FORBIDDEN,
            "refusal-session-bad-times",
            Reason::InvalidToken,
        ));
    }
    if claims.state.as_deref().is_some_and(|s| s != flow_state) {
        return Err(fail(
            StatusCode::FORBIDDEN,
            "refusal-session-state-mismatch",
            Reason::StateMismatch,
        ));
    }
    let Some(sub) = sub.clone() else {
        return Err(fail(
            StatusCode::FORBIDDEN,
            "refusal-session-invalid-subject",
            Reason::InvalidSubject,
        ));
    };
    let id = claims
        .jti
        .filter(|j| !j.is_empty() && j.len() <= 256)
        .map_or_else(
            || sha256_hex(token.as_bytes()),
            |j| sha256_hex(j.as_bytes()),
        );
    Ok(Session {
        sub,
        cont,
        expires: exp.saturating_add(leeway),
        id,
        ui_locales: claims.ui_locales,
        locale: claims.locale,
        zoneinfo: claims.zoneinfo,
        preferred_username: claims.preferred_username,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(urls: &[&str]) -> TenantConfig {
        TenantConfig {
            continue_urls: urls.iter().map(|s| Url::parse(s).unwrap()).collect(),
            ..TenantConfig::default()
        }
    }

    #[test]
    fn continue_urls_match_by_origin_and_path_prefix_only() {
        let t = tenant(&[
            "https://idp.example/continue",
            "https://idp.example/interaction/",
        ]);
        assert_eq!(
            continue_url(&t, None).as_deref(),
            Some("https://idp.example/continue")
        );
        assert!(continue_url(&t, Some("https://idp.example/continue")).is_some());
        assert!(continue_url(&t, Some("https://idp.example/interaction/abc/continue")).is_some());
        for bad in [
            "https://idp.example/continued",
            "https://idp.example.evil/continue",
            "http://idp.example/continue",
            "https://idp.example:444/continue",
            "https://user@idp.example/continue",
            "https://idp.example/continue#x",
            "https://idp.example/continue?next=https://evil",
            "https://idp.example/interaction/../admin",
            "https://idp.example/interaction/%2e%2e/admin",
            "javascript:alert(1)",
            "//evil.example/continue",
        ] {
            assert!(continue_url(&t, Some(bad)).is_none(), "{bad}");
        }
        assert!(continue_url(&tenant(&[]), None).is_none());
    }
}
