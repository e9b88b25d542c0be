//! One identity provider: how its tokens are checked, its secrets, its policy
//! and which ways in it has.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

use super::{
    BrandingConfig, ConfigError, Language, Rest2fConfig, SelfServiceConfig, StepUpConfig,
    TenantWebhooks, same_secret, stepup, usable_url,
};

/// A JWT signing algorithm an IdP may be pinned to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum JwtAlgorithm {
    /// HMAC-SHA-256 with `hs256_secret`.
    HS256,
    /// RSA PKCS#1 v1.5 with SHA-256, keys from `jwks_url`.
    RS256,
    /// ECDSA P-256 with SHA-256, keys from `jwks_url`.
    ES256,
    /// Ed25519, keys from `jwks_url`.
    EdDSA,
}

/// In which order a set's codes may be used: the contract's own type, read
/// from its WIT name (`any-order`, `numbered`).
pub use crate::bindings::exports::authn::backup_codes::engine::CodeOrder;

/// Reads a [`CodeOrder`] from its WIT name.
fn code_order<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<CodeOrder>, D::Error> {
    const NAMES: [&str; 2] = ["any-order", "numbered"];
    let Some(name) = Option::<String>::deserialize(d)? else {
        return Ok(None);
    };
    match name.as_str() {
        "any-order" => Ok(Some(CodeOrder::AnyOrder)),
        "numbered" => Ok(Some(CodeOrder::Numbered)),
        other => Err(serde::de::Error::unknown_variant(other, &NAMES)),
    }
}

/// One identity provider.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TenantConfig {
    /// Expected `iss` of the IdP's tokens.
    pub issuer: String,
    /// Expected `aud` of the IdP's tokens.
    pub audience: String,
    /// Accepted algorithms (pinned): `RS256`, `ES256`, `EdDSA` (need `jwks_url`)
    /// or `HS256` (needs `hs256_secret`). Never more than one family.
    pub algorithms: Vec<JwtAlgorithm>,
    /// Where the IdP publishes its signing keys.
    pub jwks_url: Option<Url>,
    /// Shared secret for HS256 (at least 32 bytes).
    pub hs256_secret: Option<SecretString>,
    /// Refuse API tokens without a `scope` claim (tokens that carry one are
    /// always held to it). Default `false`, so IdPs that predate scopes keep
    /// working; set it once the IdP mints scoped tokens (`verify` for its login
    /// path, `issue activate status` for enrolment, `delete` for administration).
    pub require_scope: bool,
    /// Optional pepper (1..=64 bytes) given to argon2 as its secret.
    pub pepper: Option<SecretString>,
    /// Policy overrides on the plugin's default policy.
    pub policy: PolicyOverrides,
    /// Redirect step: secret for the IdP's `session_token` and for the shim's
    /// result token (HS256, at least 32 bytes, not the `hs256_secret`).
    pub step_secret: Option<SecretString>,
    /// Redirect step: URLs the shim may send the browser back to (prefixes).
    pub continue_urls: Vec<Url>,
    /// REST second factor: the IdP posts the code the user typed in its own
    /// form (LemonLDAP::NG's `rest2f`).
    pub rest2f: Option<Rest2fConfig>,
    /// Self-service: users sign in at the IdP (OpenID Connect) to see, create,
    /// replace and delete their codes on the shim's pages.
    pub selfservice: Option<SelfServiceConfig>,
    /// Step-up: the shim is an OpenID provider (`/op/{tenant}`) that relying
    /// parties such as Microsoft Entra (external authentication methods) send
    /// their users to, with an `id_token_hint`, for a backup code.
    pub stepup: Option<StepUpConfig>,
    /// The pages' language when neither the IdP nor the browser names one the
    /// tenant offers (`en`, `fr` or `de`; default `en`).
    pub default_language: Language,
    /// The languages the pages are offered in (default: all shipped ones);
    /// must include `default_language`.
    pub languages: Option<Vec<Language>>,
    /// How the pages name and show the service (none: the shim's neutral look).
    pub branding: Option<BrandingConfig>,
    /// Receivers of the tenant's events (signed webhooks).
    pub webhooks: TenantWebhooks,
}

impl TenantConfig {
    /// The languages offered, in the configured order.
    pub fn offered_languages(&self) -> Vec<Language> {
        self.languages
            .clone()
            .unwrap_or_else(|| Language::ALL.to_vec())
    }
}

/// Fields to change in the plugin's default policy.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyOverrides {
    /// Codes per set.
    pub count: Option<u8>,
    /// Random symbols per code.
    pub symbols: Option<u8>,
    /// Display group size.
    pub group_size: Option<u8>,
    /// `any-order` or `numbered`.
    #[serde(deserialize_with = "code_order")]
    pub order: Option<CodeOrder>,
    /// Argon2 memory, KiB.
    pub hash_memory_kib: Option<u32>,
    /// Argon2 passes.
    pub hash_iterations: Option<u32>,
    /// Argon2 lanes.
    pub hash_parallelism: Option<u32>,
    /// Proof of saving.
    pub require_activation: Option<bool>,
    /// Failures before the first lockout.
    pub free_failures: Option<u32>,
    /// First lockout, seconds.
    pub lockout_base_seconds: Option<u32>,
    /// Longest lockout, seconds.
    pub lockout_max_seconds: Option<u32>,
    /// Failures that lock the set until regenerated.
    pub max_failures: Option<u32>,
    /// Low-water mark.
    pub low_water: Option<u8>,
    /// Replace each used code by a new one of the same number, shown once
    /// after the sign-in (NIST SP 800-63B-4 §4.2.1.1 for saved recovery codes).
    pub replace_on_use: Option<bool>,
}

pub(super) fn validate_tenant(id: &str, t: &TenantConfig) -> Result<(), ConfigError> {
    let invalid = |m: String| Err(ConfigError::Invalid(format!("tenants.{id}: {m}")));
    if !super::tenant_id::is_valid(id) {
        return Err(ConfigError::Invalid(format!(
            "tenant id {id:?} must be 1..=64 letters and digits, in words joined by single - or _"
        )));
    }
    if t.issuer.is_empty() || t.audience.is_empty() {
        return invalid("issuer and audience are required".into());
    }
    if t.algorithms.is_empty() {
        return invalid("algorithms must name the accepted algorithm(s)".into());
    }
    let hs = t.algorithms.contains(&JwtAlgorithm::HS256);
    if hs && t.algorithms.len() > 1 {
        return invalid("HS256 cannot be mixed with public-key algorithms".into());
    }
    if hs {
        match &t.hs256_secret {
            Some(s) if s.expose_secret().len() >= 32 => {}
            _ => return invalid("HS256 needs hs256_secret of at least 32 bytes".into()),
        }
    } else {
        match &t.jwks_url {
            Some(url) if usable_url(url) => {}
            Some(_) => {
                return invalid("jwks_url must be an http(s) URL without credentials".into());
            }
            None => return invalid("public-key algorithms need jwks_url".into()),
        }
    }
    if let Some(p) = &t.pepper
        && !(1..=64).contains(&p.expose_secret().len())
    {
        return invalid("pepper must be 1..=64 bytes".into());
    }
    if let Some(s) = &t.step_secret
        && s.expose_secret().len() < 32
    {
        return invalid("step_secret must be at least 32 bytes".into());
    }
    // One secret per purpose: a token signed for the API must never verify as a
    // step session token, or the other way round.
    if let (Some(step), Some(api)) = (&t.step_secret, &t.hs256_secret)
        && same_secret(step, api)
    {
        return invalid(
            "step_secret must differ from hs256_secret (one secret per purpose)".into(),
        );
    }
    if let Some(r) = &t.rest2f {
        r.validate(id)?;
        if t.policy.replace_on_use == Some(true) {
            return invalid(
                "policy.replace_on_use needs a page or an answer that shows the new code; the REST second factor answers only true or false (use the login step or the JSON API)".into(),
            );
        }
    }
    if let Some(ss) = &t.selfservice {
        ss.validate(id)?;
    }
    if let Some(s) = &t.stepup {
        stepup::validate(s, t)
            .map_err(|m| ConfigError::Invalid(format!("tenants.{id}.stepup: {m}")))?;
    }
    if let Some(bad) = t
        .continue_urls
        .iter()
        .find(|u| !usable_url(u) || u.query().is_some())
    {
        return invalid(format!(
            "continue_urls entry {bad} must be an http(s) URL without credentials, query or fragment"
        ));
    }
    let offered = t.offered_languages();
    if offered.is_empty() {
        return invalid("languages must name at least one of en, fr, de".into());
    }
    if !offered.contains(&t.default_language) {
        return invalid(format!(
            "default_language {} must be one of languages",
            t.default_language.tag()
        ));
    }
    if let Some(b) = &t.branding {
        b.validate()
            .map_err(|m| ConfigError::Invalid(format!("tenants.{id}.branding.{m}")))?;
    }
    t.webhooks
        .validate()
        .map_err(|m| ConfigError::Invalid(format!("tenants.{id}.{m}")))?;
    Ok(())
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::config::Config;

    pub(in crate::config) fn tenant() -> TenantConfig {
        TenantConfig {
            issuer: "https://idp.example".into(),
            audience: "backup-codes".into(),
            algorithms: vec![JwtAlgorithm::HS256],
            hs256_secret: Some(SecretString::from("x".repeat(32))),
            ..TenantConfig::default()
        }
    }

    #[test]
    fn inconsistent_tenants_are_refused_with_the_field_named() {
        let mut t = tenant();
        t.algorithms.push(JwtAlgorithm::RS256);
        assert!(
            validate_tenant("acme", &t)
                .unwrap_err()
                .to_string()
                .contains("mixed")
        );
        let mut t = tenant();
        t.hs256_secret = Some(SecretString::from("short".to_owned()));
        assert!(validate_tenant("acme", &t).is_err());
        assert!(validate_tenant("bad id", &tenant()).is_err());
        // One secret for two purposes.
        let mut t = tenant();
        t.step_secret = t.hs256_secret.clone();
        assert!(
            validate_tenant("acme", &t)
                .unwrap_err()
                .to_string()
                .contains("step_secret must differ from hs256_secret")
        );
        // The IdP's issuer may not be the shim's own.
        let mut c = Config::default();
        let mut t = tenant();
        t.issuer = format!("{}/", c.public_base());
        c.tenants.insert("acme".into(), t);
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("must differ from public_url")
        );
    }

    #[test]
    fn code_orders_are_read_by_their_wit_names() {
        let read = |v: serde_json::Value| serde_json::from_value::<PolicyOverrides>(v);
        let order = |v| read(v).map(|p| p.order);
        assert_eq!(order(serde_json::json!({})).unwrap(), None);
        assert_eq!(
            order(serde_json::json!({"order": "numbered"})).unwrap(),
            Some(CodeOrder::Numbered)
        );
        assert_eq!(
            order(serde_json::json!({"order": "any-order"})).unwrap(),
            Some(CodeOrder::AnyOrder)
        );
        let refused = read(serde_json::json!({"order": "Numbered"})).unwrap_err();
        assert!(
            refused
                .to_string()
                .contains("unknown variant `Numbered`, expected `any-order` or `numbered`"),
            "{refused}"
        );
    }
}
