//! Step-up: the shim as an OpenID provider (Microsoft Entra's external
//! authentication methods), its signing keys and its relying parties.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

use super::{TenantConfig, same_secret, usable_url};

/// The shim as an OpenID provider for step-up: discovery, keys and the
/// authorization endpoint under `/op/{tenant}`, and the relying parties it
/// answers. The user types the code on the login step's page, so the tenant
/// needs a `step_secret` (it signs the flow between the pages).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StepUpConfig {
    /// Seals the ID-token signing keys in the database (AES-256-GCM under a key
    /// derived from it); at least 32 bytes, not another secret of the tenant.
    /// Default: a key derived from the tenant's `step_secret` (so replacing
    /// that secret would make the stored keys unreadable: set this to replace
    /// them independently). Every instance on the database needs the same one:
    /// a key it cannot open stops the shim at start.
    pub key_secret: Option<SecretString>,
    /// RSA modulus of new signing keys, bits: 2048, 3072 or 4096.
    pub key_bits: usize,
    /// How long a signing key signs before the next one takes over, days.
    pub key_rotation_days: u32,
    /// How long a new key is published before it signs, hours (Entra refreshes
    /// its copy of the keys daily and asks for two days).
    pub key_publish_hours: u32,
    /// Lifetime of the ID tokens, seconds (a replaced key stays published
    /// until the last token it signed has expired).
    pub id_token_ttl_seconds: u64,
    /// How long after the hint's `iat` the request is accepted and a code may be
    /// entered, seconds. Entra's hints are expired on purpose, so their `exp`
    /// is not used; Entra gives up about 5 to 10 minutes after sending the user.
    pub hint_max_age_seconds: u64,
    /// The relying parties.
    pub clients: Vec<StepUpClient>,
}

/// RSA sizes a signing key may have.
pub const STEPUP_KEY_BITS: [usize; 3] = [2048, 3072, 4096];

/// The `acr` values a backup code can truthfully satisfy by default: every
/// Entra value that a possession factor meets.
pub const STEPUP_DEFAULT_ACR: [&str; 4] = [
    "possessionorinherence",
    "knowledgeorpossession",
    "knowledgeorpossessionorinherence",
    "possession",
];

impl Default for StepUpConfig {
    fn default() -> Self {
        Self {
            key_secret: None,
            key_bits: 2048,
            key_rotation_days: 90,
            key_publish_hours: 48,
            id_token_ttl_seconds: 300,
            hint_max_age_seconds: 600,
            clients: Vec::new(),
        }
    }
}

/// A relying party of the step-up provider.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StepUpClient {
    /// The `client_id` it sends, and the `aud` of the ID tokens it gets (Entra:
    /// the "Client ID" entered in the external method).
    pub client_id: String,
    /// Where its answers may be posted. The request's `redirect_uri` must equal
    /// one of them character for character (nothing is normalised), so each
    /// must be written in its canonical form (checked at start).
    pub redirect_uris: Vec<String>,
    /// Where the caller publishes the keys of its `id_token_hint` (Entra:
    /// `https://login.microsoftonline.com/common/discovery/v2.0/keys`). Keys
    /// are never looked up through the hint's own `iss`. Hints are RS256 only.
    pub hint_jwks_url: Option<Url>,
    /// Accepted `iss` of the hint, each compared exactly; `{tid}` stands for
    /// the hint's `tid` claim, which must then be one of `hint_tenant_ids`
    /// (Entra: `https://login.microsoftonline.com/{tid}/v2.0`).
    pub hint_issuers: Vec<String>,
    /// Accepted `tid` (directory tenant id) of the hint; when set, a hint
    /// without one of them is refused.
    pub hint_tenant_ids: Vec<String>,
    /// The `aud` the hint must carry (Entra: the "App ID" of the app
    /// registration, not the client id); default `client_id`.
    pub hint_audience: Option<String>,
    /// The hint claim naming the user whose codes are checked, the subject
    /// their codes are stored under (Entra: `oid`, the user's object id, the
    /// same in every application); default `sub`. The ID token's `sub` is
    /// always the hint's `sub`.
    pub subject_claim: Option<String>,
    /// The `acr` values the answer may carry, in order of preference: the first
    /// one the request asks for is answered (without a request, the first one).
    /// Default: the Entra values a possession factor meets.
    pub acr_values: Vec<String>,
    /// The one `amr` value of its ID tokens; default `otp`.
    pub amr: Option<String>,
}

impl StepUpClient {
    /// The `aud` its hints must carry.
    pub fn hint_audience(&self) -> &str {
        self.hint_audience.as_deref().unwrap_or(&self.client_id)
    }

    /// The hint claim naming the user.
    pub fn subject_claim(&self) -> &str {
        self.subject_claim.as_deref().unwrap_or("sub")
    }

    /// The `acr` values its answers may carry, in order of preference.
    pub fn acr_values(&self) -> Vec<String> {
        if self.acr_values.is_empty() {
            STEPUP_DEFAULT_ACR.iter().map(|s| (*s).to_owned()).collect()
        } else {
            self.acr_values.clone()
        }
    }

    /// The `amr` value of its ID tokens.
    pub fn amr(&self) -> &str {
        self.amr.as_deref().unwrap_or("otp")
    }

    /// Is `uri` one of its redirect URIs (exactly)?
    pub fn redirects_to(&self, uri: &str) -> bool {
        self.redirect_uris.iter().any(|r| r == uri)
    }
}

/// A redirect URI answers may be posted to: HTTPS, or HTTP on a loopback host
/// (tests, RFC 8252); no credentials or fragment.
fn usable_redirect_uri(url: &Url) -> bool {
    let loopback = match url.host() {
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Ipv6(a)) => a.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    };
    usable_url(url) && (url.scheme() == "https" || loopback)
}

/// A single token of visible ASCII (an `acr` or `amr` value, a claim name).
fn is_token(s: &str) -> bool {
    !s.is_empty() && s.len() <= 255 && s.bytes().all(|b| b.is_ascii_graphic())
}

pub(super) fn validate(s: &StepUpConfig, t: &TenantConfig) -> Result<(), String> {
    if t.step_secret.is_none() {
        return Err(
            "needs the tenant's step_secret (the code is typed on the login step's pages)".into(),
        );
    }
    if let Some(secret) = &s.key_secret {
        if secret.expose_secret().len() < 32 {
            return Err("key_secret must be at least 32 bytes".into());
        }
        let others = [
            t.hs256_secret.as_ref(),
            t.step_secret.as_ref(),
            t.selfservice
                .as_ref()
                .and_then(|x| x.session_secret.as_ref()),
        ];
        if others.into_iter().flatten().any(|o| same_secret(o, secret)) {
            return Err(
                "key_secret must differ from the tenant's other secrets (one secret per purpose)"
                    .into(),
            );
        }
    }
    if !STEPUP_KEY_BITS.contains(&s.key_bits) {
        return Err("key_bits must be 2048, 3072 or 4096".into());
    }
    if !(1..=3650).contains(&s.key_rotation_days) {
        return Err("key_rotation_days must be within 1..=3650".into());
    }
    if u64::from(s.key_publish_hours) >= u64::from(s.key_rotation_days) * 24 {
        return Err("key_publish_hours must be shorter than key_rotation_days".into());
    }
    if !(60..=3600).contains(&s.id_token_ttl_seconds) {
        return Err("id_token_ttl_seconds must be within 60..=3600".into());
    }
    if !(60..=3600).contains(&s.hint_max_age_seconds) {
        return Err("hint_max_age_seconds must be within 60..=3600".into());
    }
    if s.clients.is_empty() {
        return Err("clients must name at least one relying party".into());
    }
    for (i, c) in s.clients.iter().enumerate() {
        validate_client(c).map_err(|m| format!("clients[{i}] ({}): {m}", c.client_id))?;
        if s.clients[..i].iter().any(|o| o.client_id == c.client_id) {
            return Err(format!("client {} is configured twice", c.client_id));
        }
    }
    Ok(())
}

fn validate_client(c: &StepUpClient) -> Result<(), String> {
    if c.client_id.is_empty()
        || c.client_id.len() > 255
        || c.client_id.chars().any(char::is_control)
    {
        return Err("client_id must be 1..=255 bytes without control characters".into());
    }
    if c.redirect_uris.is_empty() {
        return Err("redirect_uris must name at least one URI".into());
    }
    for r in &c.redirect_uris {
        let Ok(url) = Url::parse(r) else {
            return Err(format!("redirect URI {r:?} is not a URL"));
        };
        if !usable_redirect_uri(&url) {
            return Err(format!(
                "redirect URI {r} must be https (http only on a loopback host), without credentials or fragment"
            ));
        }
        // Requests are compared with it character for character: it must be
        // written as the URL it is, or no request could ever match it.
        if url.as_str() != r {
            return Err(format!(
                "redirect URI {r:?} must be written in its canonical form, {:?}",
                url.as_str()
            ));
        }
    }
    match &c.hint_jwks_url {
        Some(u) if usable_url(u) => {}
        _ => return Err("hint_jwks_url must be the http(s) URL of the caller's keys".into()),
    }
    if c.hint_issuers.is_empty() || c.hint_issuers.iter().any(|i| !is_token(i)) {
        return Err("hint_issuers must list the accepted hint issuers".into());
    }
    if c.hint_tenant_ids.iter().any(|i| !is_token(i)) {
        return Err("hint_tenant_ids must be non-empty values of visible ASCII".into());
    }
    if c.hint_issuers.iter().any(|i| i.contains("{tid}")) && c.hint_tenant_ids.is_empty() {
        return Err("an issuer with {tid} needs hint_tenant_ids (the tenants accepted)".into());
    }
    if c.hint_audience.as_deref().is_some_and(|a| !is_token(a)) {
        return Err("hint_audience must be one value of visible ASCII characters".into());
    }
    for (field, value) in [
        ("subject_claim", c.subject_claim.as_deref()),
        ("amr", c.amr.as_deref()),
    ] {
        if value.is_some_and(|v| !is_token(v)) {
            return Err(format!(
                "{field} must be one value of visible ASCII characters"
            ));
        }
    }
    if c.acr_values.iter().any(|v| !is_token(v)) {
        return Err("acr_values must be values of visible ASCII characters".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tenant::{tests::tenant, validate_tenant};

    fn stepup_tenant() -> TenantConfig {
        TenantConfig {
            step_secret: Some(SecretString::from("s".repeat(32))),
            stepup: Some(StepUpConfig {
                clients: vec![StepUpClient {
                    client_id: "entra".into(),
                    redirect_uris: vec![
                        "https://login.microsoftonline.com/common/federation/externalauthprovider"
                            .into(),
                    ],
                    hint_jwks_url: Url::parse(
                        "https://login.microsoftonline.com/common/discovery/v2.0/keys",
                    )
                    .ok(),
                    hint_issuers: vec!["https://login.microsoftonline.com/{tid}/v2.0".into()],
                    hint_tenant_ids: vec!["00000000-0000-0000-0000-000000000001".into()],
                    hint_audience: Some("app-id".into()),
                    subject_claim: Some("oid".into()),
                    ..StepUpClient::default()
                }],
                ..StepUpConfig::default()
            }),
            ..tenant()
        }
    }

    #[test]
    fn stepup_is_checked_at_start() {
        assert!(validate_tenant("acme", &stepup_tenant()).is_ok());
        let bad = |f: &dyn Fn(&mut TenantConfig), needle: &str| {
            let mut t = stepup_tenant();
            f(&mut t);
            let e = validate_tenant("acme", &t).unwrap_err().to_string();
            assert!(e.contains(needle), "{needle}: {e}");
        };
        fn client(t: &mut TenantConfig) -> &mut StepUpClient {
            &mut t.stepup.as_mut().unwrap().clients[0]
        }
        bad(&|t| t.step_secret = None, "step_secret");
        bad(
            &|t| t.stepup.as_mut().unwrap().key_secret = t.step_secret.clone(),
            "one secret per purpose",
        );
        bad(&|t| t.stepup.as_mut().unwrap().key_bits = 1024, "key_bits");
        bad(
            &|t| t.stepup.as_mut().unwrap().key_publish_hours = 90 * 24,
            "key_publish_hours",
        );
        bad(&|t| t.stepup.as_mut().unwrap().clients.clear(), "clients");
        // Exact matching needs canonical URIs: `https://Example.com` would
        // never equal what a client sends for it.
        bad(
            &|t| client(t).redirect_uris = vec!["https://Example.com".into()],
            "canonical",
        );
        bad(
            &|t| client(t).redirect_uris = vec!["http://rp.example/cb".into()],
            "https",
        );
        bad(&|t| client(t).hint_jwks_url = None, "hint_jwks_url");
        bad(&|t| client(t).hint_tenant_ids.clear(), "{tid}");
        bad(
            &|t| client(t).acr_values = vec!["two words".into()],
            "acr_values",
        );
        bad(
            &|t| {
                let c = client(t).clone();
                t.stepup.as_mut().unwrap().clients.push(c);
            },
            "twice",
        );
        let mut t = stepup_tenant();
        client(&mut t).redirect_uris = vec!["http://127.0.0.1:9/cb".into()];
        assert!(validate_tenant("acme", &t).is_ok());
    }
}
