//! Authenticating identity providers: bearer JWTs signed by the IdP.
//!
//! Per tenant the accepted algorithms are pinned; keys come from the IdP's JWKS
//! (fetched with timeouts and a size cap, cached, refetched at most every few
//! seconds when an unknown `kid` appears) or from a shared HS256 secret. Header
//! URLs (`jku`, `x5u`) are never followed. `iss`, `aud`, `sub`, `exp` and `nbf`
//! are checked with a small leeway, tokens may not live longer than
//! [`MAX_TOKEN_LIFETIME`], and each `jti` is accepted once (remembered in the
//! store until the token expires, so the rule holds across shim instances).
//!
//! A token is bound to operations by its `scope` claim (space-separated
//! [`Operation`] names); a tenant with `require_scope` refuses tokens without
//! one. A token carrying a `step` claim is a login-step session token and is
//! never accepted here.
//!
//! Keys published by an IdP are handled by [`jwks`]: refetching them never
//! blocks requests whose key is known. [`oidc`] is the shim as a relying party
//! (self-service); [`stepup`] and [`signing`] are the shim as an OpenID
//! provider for step-up: the `id_token_hint` checks and its own signing keys.

pub mod client;
pub mod id_token_times;
pub mod jwks;
pub mod oidc;
pub mod signing;
pub mod stepup;

use std::collections::BTreeMap;
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use secrecy::ExposeSecret;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use self::jwks::Jwks;
use crate::config::{JwtAlgorithm, TenantConfig};
use crate::service::{Service, Subject};

/// Longest `exp - now` accepted, seconds.
pub const MAX_TOKEN_LIFETIME: u64 = 900;
pub use self::jwks::REFETCH_INTERVAL as JWKS_REFETCH_INTERVAL;
/// Longest bearer token accepted, bytes.
pub const MAX_API_TOKEN_BYTES: usize = 8192;

/// What an API call does; a token's `scope` names the operations it may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// `POST .../codes`: issue or regenerate a set.
    Issue,
    /// `POST .../codes/activate`: confirm a pending set.
    Activate,
    /// `POST .../codes/verify`: check a code at login.
    Verify,
    /// `GET .../codes`: read the status.
    Status,
    /// `DELETE .../codes`: remove the codes.
    Delete,
}

impl Operation {
    /// Its name in a `scope` claim.
    pub fn scope(self) -> &'static str {
        match self {
            Self::Issue => "issue",
            Self::Activate => "activate",
            Self::Verify => "verify",
            Self::Status => "status",
            Self::Delete => "delete",
        }
    }
}

/// Why a token was refused. All map to the same short 401 answer; the variant
/// is only logged (at debug level) and counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization: Bearer` header.
    #[error("missing bearer token")]
    Missing,
    /// Unparseable token or header.
    #[error("malformed token")]
    Malformed,
    /// Algorithm not pinned for this tenant (includes `none`).
    #[error("algorithm not accepted")]
    Algorithm,
    /// No key for the token's `kid`.
    #[error("unknown key")]
    UnknownKey,
    /// Bad signature or claims (`iss`, `aud`, `sub`, `exp`, `nbf`).
    #[error("invalid signature or claims")]
    Invalid,
    /// Expires too far in the future or lacks a usable `jti`.
    #[error("token lifetime or id not accepted")]
    Lifetime,
    /// The `jti` was used before.
    #[error("replayed token")]
    Replayed,
    /// The token's `scope` does not name the operation (or names none where the
    /// tenant requires one). Answered with 403, not 401.
    #[error("operation not in the token's scope")]
    Scope,
    /// The replay store could not be reached: fail closed.
    #[error("replay store unavailable")]
    Store,
}

impl AuthError {
    /// Short label for metrics.
    pub fn label(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Malformed => "malformed",
            Self::Algorithm => "algorithm",
            Self::UnknownKey => "unknown_key",
            Self::Invalid => "invalid",
            Self::Lifetime => "lifetime",
            Self::Replayed => "replayed",
            Self::Scope => "scope",
            Self::Store => "store",
        }
    }
}

/// The claims the shim needs.
#[derive(Debug, Deserialize)]
struct Claims {
    exp: u64,
    jti: Option<String>,
    scope: Option<String>,
    /// Only login-step session tokens carry it: such a token is refused here.
    step: Option<serde_json::Value>,
}

enum Keys {
    Shared(DecodingKey),
    Jwks(Jwks),
    /// No usable key source (validation prevents it): every token is refused.
    None,
}

struct TenantAuth {
    issuer: String,
    audience: String,
    algorithms: Vec<Algorithm>,
    require_scope: bool,
    keys: Keys,
}

/// Verifies IdP tokens for every tenant.
pub struct Authenticator {
    tenants: BTreeMap<String, TenantAuth>,
    http: reqwest::Client,
    leeway: u64,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("tenants", &self.tenants.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// The JOSE algorithm of a configured one.
pub fn algorithm(a: JwtAlgorithm) -> Algorithm {
    match a {
        JwtAlgorithm::HS256 => Algorithm::HS256,
        JwtAlgorithm::RS256 => Algorithm::RS256,
        JwtAlgorithm::ES256 => Algorithm::ES256,
        JwtAlgorithm::EdDSA => Algorithm::EdDSA,
    }
}

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

impl Authenticator {
    /// Build from validated tenant configurations.
    pub fn new(
        tenants: &BTreeMap<String, TenantConfig>,
        leeway: u64,
    ) -> Result<Self, reqwest::Error> {
        let http = client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(jwks::FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let tenants = tenants
            .iter()
            .map(|(id, t)| {
                let keys = match (&t.hs256_secret, &t.jwks_url) {
                    (Some(secret), _) if t.algorithms.contains(&JwtAlgorithm::HS256) => {
                        Keys::Shared(DecodingKey::from_secret(secret.expose_secret().as_bytes()))
                    }
                    (_, Some(url)) => Keys::Jwks(Jwks::new(url.clone())),
                    _ => Keys::None,
                };
                let auth = TenantAuth {
                    issuer: t.issuer.clone(),
                    audience: t.audience.clone(),
                    algorithms: t.algorithms.iter().copied().map(algorithm).collect(),
                    require_scope: t.require_scope,
                    keys,
                };
                (id.clone(), auth)
            })
            .collect();
        Ok(Self {
            tenants,
            http,
            leeway,
        })
    }

    /// Check the `Authorization` header value for `operation` on `who`, and
    /// spend its `jti` through the service (only once everything else holds).
    pub async fn authenticate(
        &self,
        service: &Service,
        who: &Subject,
        operation: Operation,
        authorization: Option<&str>,
    ) -> Result<(), AuthError> {
        let (tenant_id, subject) = (who.tenant().as_str(), who.id().as_str());
        let tenant = self.tenants.get(tenant_id).ok_or(AuthError::Invalid)?;
        let token = authorization
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(AuthError::Missing)?;
        if token.len() > MAX_API_TOKEN_BYTES {
            return Err(AuthError::Malformed);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::Malformed)?;
        if !tenant.algorithms.contains(&header.alg) {
            return Err(AuthError::Algorithm);
        }
        let key = self.key(tenant, header.kid.as_deref(), header.alg).await?;
        let mut validation = Validation::new(header.alg);
        validation.leeway = self.leeway;
        validation.validate_nbf = true;
        validation.set_issuer(&[&tenant.issuer]);
        validation.set_audience(&[&tenant.audience]);
        validation.sub = Some(subject.to_owned());
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map_err(|_| AuthError::Invalid)?;
        let claims = data.claims;
        if claims.step.is_some() {
            return Err(AuthError::Invalid);
        }
        if claims.exp > now().saturating_add(MAX_TOKEN_LIFETIME) {
            return Err(AuthError::Lifetime);
        }
        match &claims.scope {
            Some(scope) if scope.split(' ').any(|s| s == operation.scope()) => {}
            None if !tenant.require_scope => {}
            _ => return Err(AuthError::Scope),
        }
        let jti = claims
            .jti
            .filter(|j| !j.is_empty() && j.len() <= 256)
            .ok_or(AuthError::Lifetime)?;
        let jti_sha256 = hex::encode(Sha256::digest(jti.as_bytes()));
        let mark = crate::store::Mark::ApiToken {
            tenant: tenant_id,
            jti_sha256: &jti_sha256,
        };
        let expires = i64::try_from(claims.exp.saturating_add(self.leeway)).unwrap_or(i64::MAX);
        match service.spend(mark, expires).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(AuthError::Replayed),
            Err(e) => {
                tracing::error!(error = %e, "replay store unavailable");
                Err(AuthError::Store)
            }
        }
    }

    async fn key(
        &self,
        tenant: &TenantAuth,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<DecodingKey, AuthError> {
        let key = match &tenant.keys {
            Keys::Shared(key) => key.clone(),
            Keys::Jwks(jwks) => {
                let kid = kid.ok_or(AuthError::UnknownKey)?;
                jwks.key(&self.http, kid, alg).await?
            }
            Keys::None => return Err(AuthError::UnknownKey),
        };
        if key.family() != alg.family() {
            return Err(AuthError::Algorithm);
        }
        Ok(key)
    }
}
