//! Self-service: the shim is the IdP's OpenID Connect relying party.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

use super::{ConfigError, usable_url};

/// How a client authenticates at the IdP's token endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// `client_id` and `client_secret` in the form body.
    #[default]
    ClientSecretPost,
    /// HTTP Basic.
    ClientSecretBasic,
}

/// An OpenID Connect client of the IdP.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OidcClient {
    /// Its client id.
    pub client_id: String,
    /// Its secret.
    pub client_secret: Option<SecretString>,
    /// How it authenticates at the token endpoint.
    pub auth: ClientAuth,
}

/// Self-service through the IdP's own login (the shim is its OpenID Connect
/// relying party).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SelfServiceConfig {
    /// The IdP's issuer; discovery is `{issuer}/.well-known/openid-configuration`.
    pub issuer: Option<Url>,
    /// The client users sign in with to see their codes and make a first set
    /// (the password may be enough: a user without codes has no second factor).
    pub client: OidcClient,
    /// The client for replacing or deleting existing codes, when the IdP ties
    /// the strength of a login to the client (LemonLDAP::NG's per-RP levels);
    /// without it the same client is asked for `replace_acr` with `acr_values`.
    pub strong_client: Option<OidcClient>,
    /// `acr` values that may replace or delete codes (empty: any `acr`, only a
    /// fresh login is asked for).
    pub replace_acr: Vec<String>,
    /// A login older than this may not replace or delete codes, seconds.
    pub max_age_seconds: u64,
    /// The ID-token claim naming the subject (default `sub`).
    pub subject_claim: Option<String>,
    /// Signs the self-service session and forms (HS256, at least 32 bytes, not
    /// another secret of the tenant).
    pub session_secret: Option<SecretString>,
}

impl Default for SelfServiceConfig {
    fn default() -> Self {
        Self {
            issuer: None,
            client: OidcClient::default(),
            strong_client: None,
            replace_acr: Vec::new(),
            max_age_seconds: 300,
            subject_claim: None,
            session_secret: None,
        }
    }
}

impl SelfServiceConfig {
    /// Check the self-service settings of tenant `id`.
    pub(super) fn validate(&self, id: &str) -> Result<(), ConfigError> {
        let invalid = |m: String| Err(ConfigError::Invalid(format!("tenants.{id}: {m}")));
        match &self.issuer {
            Some(u) if usable_url(u) => {}
            _ => return invalid("selfservice.issuer must be the IdP's http(s) issuer URL".into()),
        }
        if self.client.client_id.is_empty() {
            return invalid("selfservice.client.client_id is required".into());
        }
        match &self.session_secret {
            Some(s) if s.expose_secret().len() >= 32 => {}
            _ => {
                return invalid(
                    "selfservice.session_secret of at least 32 bytes is required".into(),
                );
            }
        }
        if self.max_age_seconds == 0 {
            return invalid("selfservice.max_age_seconds must be > 0".into());
        }
        Ok(())
    }
}
