//! The self-service's own tokens, each of one purpose with a key of its own
//! (HMAC of the tenant's `session_secret` under a label per purpose) and its
//! purpose also in `iss`, so none verifies as another or as any other token:
//!
//! - the login transaction (`state`, `nonce`, PKCE verifier; 10 minutes), in a
//!   cookie set when the browser is sent to the IdP;
//! - the session (subject, `auth_time`, `acr`, which client; 15 minutes), in a
//!   cookie set at the callback;
//! - a form token (the session id it belongs to, the set a page issued), in the
//!   hidden field of every form: a form is accepted only with the session it
//!   was made for (CSRF), before its expiry.

use hmac::Mac as _;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A purpose of a self-service token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// The login transaction.
    Login,
    /// The session.
    Session,
    /// A form.
    Form,
}

impl Purpose {
    fn label(self) -> &'static str {
        match self {
            Self::Login => "backup-codes-shim/selfservice/login",
            Self::Session => "backup-codes-shim/selfservice/session",
            Self::Form => "backup-codes-shim/selfservice/form",
        }
    }
}

/// The keys of one tenant's self-service.
pub struct Keys<'a> {
    tenant: &'a str,
    secret: &'a SecretString,
}

impl<'a> Keys<'a> {
    /// The keys of `tenant`, from its `session_secret`.
    pub fn new(tenant: &'a str, secret: &'a SecretString) -> Self {
        Self { tenant, secret }
    }

    fn key(&self, purpose: Purpose) -> Option<[u8; 32]> {
        let mut mac =
            hmac::Hmac::<sha2::Sha256>::new_from_slice(self.secret.expose_secret().as_bytes())
                .ok()?;
        mac.update(purpose.label().as_bytes());
        mac.update(b"\0");
        mac.update(self.tenant.as_bytes());
        Some(mac.finalize().into_bytes().into())
    }

    /// Sign `claims` (which carry `iss`, `aud` and `exp`) for `purpose`.
    pub fn sign(&self, purpose: Purpose, claims: &impl Serialize) -> Option<String> {
        let key = self.key(purpose)?;
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(&key),
        )
        .ok()
    }

    /// Open a token of `purpose` (signature, `iss`, `aud` = the tenant, `exp`).
    pub fn open<T: DeserializeOwned>(&self, purpose: Purpose, token: &str) -> Option<T> {
        if token.len() > 8192 {
            return None;
        }
        let key = self.key(purpose)?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_issuer(&[purpose.label()]);
        validation.set_audience(&[self.tenant]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        jsonwebtoken::decode::<T>(token, &DecodingKey::from_secret(&key), &validation)
            .ok()
            .map(|d| d.claims)
    }

    /// The key a new set's codes are sealed with in form tokens (see
    /// `http::views::sealed`).
    pub fn sealing_key(&self) -> Option<zeroize::Zeroizing<[u8; 32]>> {
        crate::http::views::sealed::selfservice_key(self.tenant, self.secret)
    }

    /// The `iss` of `purpose`'s tokens.
    pub fn issuer(purpose: Purpose) -> &'static str {
        purpose.label()
    }
}
