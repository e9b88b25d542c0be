//! The demo tenant: its names, its one stored secret and the per-purpose
//! secrets derived from it, adding it to a configuration that has no tenant,
//! and minting API tokens for it (`backup-codes-shim token`).

use std::path::{Path, PathBuf};

use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};

use crate::config::{Config, EndpointConfig, JwtAlgorithm, TenantConfig, TenantWebhooks};

/// The demo tenant's id.
pub const TENANT: &str = "demo";
/// The `iss` of the demo's tokens.
pub const ISSUER: &str = "backup-codes-demo";
/// The `aud` of the demo's API tokens.
pub const AUDIENCE: &str = "backup-codes";
/// Longest life of a token [`api_token`] mints, in seconds.
pub const MAX_TOKEN_SECONDS: u64 = 900;

/// Why the demo tenant cannot be set up or used.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The secret file cannot be read, created or written.
    #[error("the demo secret: {0}")]
    Io(#[from] std::io::Error),
    /// The OS random source failed (no secret is made then).
    #[error(transparent)]
    Random(#[from] crate::random::SourceFailed),
    /// The stored secret cannot key HMAC-SHA-256.
    #[error("the demo secret cannot key HMAC-SHA-256")]
    Derive,
    /// `public_url` cannot be the base of the demo's receiver URL.
    #[error("public_url cannot be a base for the demo")]
    PublicUrl,
    /// Tokens are minted for the demo tenant only, never for configured ones.
    #[error(
        "`token` mints tokens for the demo tenant only; with configured tenants, tokens come from your identity provider"
    )]
    NotDemo,
    /// No demo secret where `serve` keeps it (never a new one for a token).
    #[error(
        "no demo secret at {0}: run `token` from the directory `serve` runs in (scripts/serve runs in the repository's root), or give the same --config"
    )]
    NoSecret(PathBuf),
    /// The token could not be signed.
    #[error("signing the token: {0}")]
    Sign(#[from] jsonwebtoken::errors::Error),
}

/// Add the demo tenant when no tenant is configured: HS256 with a secret kept in
/// `<data dir>/demo-secret` (created on first use, readable by the owner only).
/// `Ok(false)` when tenants are configured (nothing is changed then).
pub fn add_to(config: &mut Config, data_dir: &Path) -> Result<bool, DemoError> {
    if !config.tenants.is_empty() {
        return Ok(false);
    }
    let secrets = Secrets::derive(&read_or_create_secret(data_dir)?)?;
    // The demo's results go to its own pages on the shim's origin, under
    // whatever prefix the shim is mounted at.
    let mut origin = config.public_url.clone();
    origin.set_path("/");
    let webhooks = webhooks(config, secrets.webhook)?;
    config.tenants.insert(
        TENANT.into(),
        TenantConfig {
            issuer: ISSUER.into(),
            audience: AUDIENCE.into(),
            algorithms: vec![JwtAlgorithm::HS256],
            hs256_secret: Some(secrets.api),
            require_scope: true,
            step_secret: Some(secrets.step),
            continue_urls: vec![origin],
            webhooks,
            ..TenantConfig::default()
        },
    );
    config.demo = true;
    Ok(true)
}

/// The demo tenant's one endpoint: the demo's own receiver, at
/// `{public_url}/demo/webhooks`.
fn webhooks(config: &Config, secret: SecretString) -> Result<TenantWebhooks, DemoError> {
    let mut webhooks = TenantWebhooks::default();
    webhooks.endpoints.insert(
        super::events::ENDPOINT.into(),
        EndpointConfig {
            url: webhook_url(config)?,
            events: None,
            secret,
            previous_secret: None,
        },
    );
    Ok(webhooks)
}

/// Where the demo's receiver is: `{public_url}/demo/webhooks` (a host that
/// sets `public_url` after [`add_to`] points the endpoint here again).
pub fn webhook_url(config: &Config) -> Result<url::Url, DemoError> {
    let base = format!("{}/", config.public_base());
    url::Url::parse(&base)
        .and_then(|b| b.join("demo/webhooks"))
        .map_err(|_| DemoError::PublicUrl)
}

/// The demo tenant's per-purpose secrets, derived from its one stored secret
/// (HMAC-SHA-256 under a label per purpose), so an API token never verifies as a
/// step session token or the other way round.
pub struct Secrets {
    /// Signs API bearer tokens (`hs256_secret`).
    pub api: SecretString,
    /// Signs step session and result tokens (`step_secret`).
    pub step: SecretString,
    /// Signs the demo endpoint's webhooks (`whsec_…`).
    pub webhook: SecretString,
}

impl Secrets {
    /// Derive every purpose's secret from the stored one.
    pub fn derive(root: &SecretString) -> Result<Self, DemoError> {
        Ok(Self {
            api: derive_secret(root, "backup-codes demo api v1")?,
            step: derive_secret(root, "backup-codes demo step v1")?,
            webhook: SecretString::from(format!(
                "whsec_{}",
                base64::engine::general_purpose::STANDARD
                    .encode(derive_bytes(root, "backup-codes demo webhook v1")?.as_slice())
            )),
        })
    }
}

fn derive_bytes(
    root: &SecretString,
    label: &str,
) -> Result<zeroize::Zeroizing<Vec<u8>>, DemoError> {
    use hmac::Mac as _;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(root.expose_secret().as_bytes())
        .map_err(|_| DemoError::Derive)?;
    mac.update(label.as_bytes());
    Ok(zeroize::Zeroizing::new(
        mac.finalize().into_bytes().to_vec(),
    ))
}

fn derive_secret(root: &SecretString, label: &str) -> Result<SecretString, DemoError> {
    Ok(SecretString::from(
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(derive_bytes(root, label)?.as_slice()),
    ))
}

/// The file holding the demo tenant's secret.
pub fn secret_path(data_dir: &Path) -> PathBuf {
    data_dir.join("demo-secret")
}

/// The demo tenant's secret if it was made already (by `serve`).
pub fn existing_secret(data_dir: &Path) -> Option<SecretString> {
    std::fs::read_to_string(secret_path(data_dir))
        .ok()
        .map(|s| SecretString::from(s.trim().to_owned()))
}

/// Read or create the demo tenant's secret (created readable by the owner only).
fn read_or_create_secret(data_dir: &Path) -> Result<SecretString, DemoError> {
    if let Some(existing) = existing_secret(data_dir) {
        return Ok(existing);
    }
    std::fs::create_dir_all(data_dir)?;
    let secret = crate::random::secret(32)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    std::io::Write::write_all(
        &mut options.open(secret_path(data_dir))?,
        secret.expose_secret().as_bytes(),
    )?;
    Ok(secret)
}

/// A demo API token for `subject` with `scope`, living `ttl` seconds (at most
/// [`MAX_TOKEN_SECONDS`]), signed with the secret the running demo uses: refused
/// (never a new secret) when that secret is not where `serve` keeps it.
pub fn api_token(
    config: &Config,
    subject: &str,
    ttl: u64,
    scope: &str,
) -> Result<String, DemoError> {
    if !config.tenants.is_empty() {
        return Err(DemoError::NotDemo);
    }
    let data_dir = config.data_dir();
    let root =
        existing_secret(&data_dir).ok_or_else(|| DemoError::NoSecret(secret_path(&data_dir)))?;
    let secret = Secrets::derive(&root)?.api;
    // Minted by the CLI, outside any request: the wall clock, not a service's.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let claims = serde_json::json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": subject,
        "iat": now, "exp": now + ttl.min(MAX_TOKEN_SECONDS), "scope": scope,
        "jti": crate::random::token(16)?,
    });
    Ok(jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.expose_secret().as_bytes()),
    )?)
}
