//! Typed configuration: defaults, then a TOML file, then `BACKUP_CODES_*`
//! environment variables (`__` separates levels), parsed once and checked at
//! start. URLs are [`Url`]s and choices are enums, so a bad value is one error
//! naming its field before anything runs.
//!
//! Secrets are [`SecretString`]s: their `Debug` output is redacted, so the
//! configuration can be logged as a whole. This module imports nothing else of
//! the crate: every other layer reads it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

/// Environment variable prefix.
pub const ENV_PREFIX: &str = "BACKUP_CODES_";
/// Smallest `limits.body_bytes` a login step works with: its forms carry a flow
/// token of up to 8 KiB and a code.
pub const MIN_STEP_BODY_BYTES: usize = 10 * 1024;

/// The local demo tenant, added when no tenant is configured.
pub mod demo {
    /// Its tenant id.
    pub const TENANT: &str = "demo";
    /// The `iss` of its tokens.
    pub const ISSUER: &str = "backup-codes-demo";
    /// The `aud` of its API tokens.
    pub const AUDIENCE: &str = "backup-codes";
}

/// The configuration's top-level keys (environment variables must start with one).
const TOP_LEVEL_KEYS: [&str; 10] = [
    "listen",
    "public_url",
    "database_url",
    "database_max_connections",
    "log_format",
    "log_filter",
    "plugin",
    "limits",
    "demo",
    "tenants",
];

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file or environment could not be read or has wrong types (the
    /// message names the field).
    #[error("configuration: {0}")]
    Parse(String),
    /// A value is out of range or inconsistent; the message names it.
    #[error("configuration: {0}")]
    Invalid(String),
}

/// Log output format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines (coloured only on a terminal).
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

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

/// In which order a set's codes may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CodeOrder {
    /// Any unused code works.
    AnyOrder,
    /// Codes must be used in number order (the next number is shown).
    Numbered,
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP server listens on.
    pub listen: SocketAddr,
    /// The shim's public base URL as browsers and IdPs reach it (with the path
    /// prefix of a proxy in front of it, if any): the `iss` of its result tokens
    /// and the base of step URLs.
    pub public_url: Url,
    /// `sqlite://path` (the default, created on start) or `postgres://...`.
    pub database_url: String,
    /// Database connections in the pool.
    pub database_max_connections: u32,
    /// Log format.
    pub log_format: LogFormat,
    /// Log filter (`tracing` env-filter syntax).
    pub log_filter: String,
    /// How the component runs.
    pub plugin: PluginSettings,
    /// Request limits.
    pub limits: Limits,
    /// Serve the local demo (a demo tenant and pages to try enrolment and login).
    pub demo: bool,
    /// Identity providers allowed to call the shim, by tenant id.
    pub tenants: BTreeMap<String, TenantConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: default_public_url(),
            database_url: "sqlite://data/backup-codes.db".into(),
            database_max_connections: 8,
            log_format: LogFormat::Text,
            log_filter: "info".into(),
            plugin: PluginSettings::default(),
            limits: Limits::default(),
            demo: false,
            tenants: BTreeMap::new(),
        }
    }
}

#[allow(clippy::expect_used)] // a literal that parses
fn default_public_url() -> Url {
    Url::parse("http://127.0.0.1:8080").expect("a valid literal URL")
}

/// Component settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PluginSettings {
    /// A component file to load instead of the embedded one.
    pub component_path: Option<PathBuf>,
    /// Required SHA-256 (hex) of the component; loading fails otherwise.
    pub component_sha256: Option<String>,
    /// Memory limit per call, MiB (must exceed every tenant's argon2 memory).
    pub memory_limit_mib: usize,
    /// Deadline per call, milliseconds.
    pub call_timeout_ms: u64,
    /// Calls at once (instance pool size).
    pub max_concurrent: u32,
    /// How long a call may wait for a free instance, milliseconds.
    pub queue_timeout_ms: u64,
    /// Compiled-code cache directory (`None`: no disk cache).
    pub cache_dir: Option<PathBuf>,
    /// Memory each instance slot keeps resident between calls, MiB (reset in
    /// place instead of faulted in again; 0: return it to the kernel each call).
    pub keep_resident_mib: usize,
}

impl Default for PluginSettings {
    fn default() -> Self {
        Self {
            component_path: None,
            component_sha256: None,
            memory_limit_mib: 64,
            call_timeout_ms: 10_000,
            max_concurrent: 8,
            queue_timeout_ms: 5_000,
            cache_dir: Some(PathBuf::from("data/cache")),
            keep_resident_mib: 64,
        }
    }
}

/// Request limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest request body, bytes.
    pub body_bytes: usize,
    /// Longest request, milliseconds (503 when a handler takes longer).
    pub request_timeout_ms: u64,
    /// Longest a client may take to send its request headers, milliseconds (the
    /// connection is closed after that).
    pub header_read_timeout_ms: u64,
    /// Longest a client may take to send its request body, milliseconds (408).
    pub body_read_timeout_ms: u64,
    /// Requests per minute from one IP address.
    pub per_ip_per_minute: u32,
    /// Code attempts per minute for one subject.
    pub per_subject_per_minute: u32,
    /// Accepted clock skew for token times, seconds.
    pub leeway_seconds: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            body_bytes: 16 * 1024,
            request_timeout_ms: 15_000,
            header_read_timeout_ms: 10_000,
            body_read_timeout_ms: 10_000,
            per_ip_per_minute: 600,
            per_subject_per_minute: 30,
            leeway_seconds: 30,
        }
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
}

/// A REST second factor (`POST /rest2f/{tenant}/verify`, `.../init`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rest2fConfig {
    /// The IdP's HTTP Basic clients (LemonLDAP::NG sends the credentials of
    /// `rest2fVerifyUrl`'s `user:password@` part).
    pub clients: Vec<Rest2fClient>,
    /// The body field naming the subject (LemonLDAP::NG: `user`).
    pub subject_field: Option<String>,
    /// Further body fields the IdP may send (its `rest2fVerifyArgs` names);
    /// read and ignored. Any other field is refused.
    pub extra_fields: Vec<String>,
}

impl Rest2fConfig {
    /// The body field naming the subject.
    pub fn subject_field(&self) -> &str {
        self.subject_field.as_deref().unwrap_or("user")
    }
}

/// One HTTP Basic client of the REST second factor; only a hash of its secret
/// is configured.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rest2fClient {
    /// Its user name.
    pub id: String,
    /// SHA-256 (hex) of its secret (`tenant-init` prints both). Secrets are
    /// random, so a fast hash is enough: the point is that the file never holds
    /// a usable credential.
    pub secret_sha256: String,
}

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
}

impl Config {
    /// Load defaults, then `file` (if given and present), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::new();
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError::Parse(format!(
                    "{} does not exist",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file(path));
        }
        // Only variables naming a configuration section: other BACKUP_CODES_*
        // variables (the CLI's --config, test settings) are not configuration.
        figment = figment.merge(Env::prefixed(ENV_PREFIX).split("__").filter(|key| {
            let top = key.as_str().split('.').next().unwrap_or_default();
            TOP_LEVEL_KEYS.contains(&top.to_ascii_lowercase().as_str())
        }));
        let config: Self = figment
            .extract()
            .map_err(|e| ConfigError::Parse(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// The public URL without a trailing slash, as it appears in tokens.
    pub fn public_base(&self) -> &str {
        self.public_url.as_str().trim_end_matches('/')
    }

    /// Check values that need no plugin (policies are checked by the plugin).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |m: String| Err(ConfigError::Invalid(m));
        if !matches!(self.public_url.scheme(), "http" | "https")
            || self.public_url.host_str().is_none()
            || self.public_url.query().is_some()
            || self.public_url.fragment().is_some()
        {
            return invalid("public_url must be an http(s) URL without query or fragment".into());
        }
        if self.plugin.max_concurrent == 0 || self.plugin.max_concurrent > 1024 {
            return invalid("plugin.max_concurrent must be within 1..=1024".into());
        }
        if !(16..=4096).contains(&self.plugin.memory_limit_mib) {
            return invalid("plugin.memory_limit_mib must be within 16..=4096".into());
        }
        if self.plugin.call_timeout_ms < 10 {
            return invalid("plugin.call_timeout_ms must be at least 10".into());
        }
        if let Some(hex) = &self.plugin.component_sha256 {
            parse_sha256(hex)?;
        }
        if self.limits.body_bytes < 256 || self.limits.per_ip_per_minute == 0 {
            return invalid("limits.body_bytes must be >= 256 and rates > 0".into());
        }
        if self.limits.header_read_timeout_ms == 0 || self.limits.body_read_timeout_ms == 0 {
            return invalid(
                "limits.header_read_timeout_ms and limits.body_read_timeout_ms must be > 0".into(),
            );
        }
        if self.limits.per_subject_per_minute == 0 || self.limits.leeway_seconds > 300 {
            return invalid(
                "limits.per_subject_per_minute must be > 0 and leeway_seconds <= 300".into(),
            );
        }
        if self
            .tenants
            .values()
            .any(|t| t.step_secret.is_some() || t.stepup.is_some())
            && self.limits.body_bytes < MIN_STEP_BODY_BYTES
        {
            return invalid(format!(
                "limits.body_bytes must be at least {MIN_STEP_BODY_BYTES} when a tenant has a login step (its forms carry the flow)"
            ));
        }
        for (id, t) in &self.tenants {
            validate_tenant(id, t)?;
            if t.issuer.trim_end_matches('/') == self.public_base() {
                return invalid(format!(
                    "tenants.{id}.issuer must differ from public_url: the shim's own result tokens carry public_url as their issuer"
                ));
            }
        }
        Ok(())
    }
}

/// Parse a hex SHA-256.
pub fn parse_sha256(hex_digest: &str) -> Result<[u8; 32], ConfigError> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_digest.trim(), &mut out).map_err(|_| {
        ConfigError::Invalid("plugin.component_sha256 must be 64 hex digits".into())
    })?;
    Ok(out)
}

/// A URL the shim may send a browser to or fetch from: http(s), a host, no
/// credentials, no fragment.
pub fn usable_url(url: &Url) -> bool {
    matches!(url.scheme(), "https" | "http")
        && url.host_str().is_some()
        && url.username().is_empty()
        && url.password().is_none()
        && url.fragment().is_none()
}

fn validate_tenant(id: &str, t: &TenantConfig) -> Result<(), ConfigError> {
    let invalid = |m: String| Err(ConfigError::Invalid(format!("tenants.{id}: {m}")));
    if id.is_empty()
        || id.len() > 64
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(ConfigError::Invalid(format!(
            "tenant id {id:?} must be 1..=64 of [A-Za-z0-9_-]"
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
        && bool::from(subtle::ConstantTimeEq::ct_eq(
            step.expose_secret().as_bytes(),
            api.expose_secret().as_bytes(),
        ))
    {
        return invalid(
            "step_secret must differ from hs256_secret (one secret per purpose)".into(),
        );
    }
    if let Some(r) = &t.rest2f {
        if r.clients.is_empty() {
            return invalid("rest2f.clients must name at least one client".into());
        }
        for c in &r.clients {
            if c.id.is_empty() || c.id.contains(':') {
                return invalid("rest2f.clients: id must be non-empty without ':'".into());
            }
            parse_sha256(&c.secret_sha256).map_err(|_| {
                ConfigError::Invalid(format!(
                    "tenants.{id}.rest2f.clients: secret_sha256 of {} must be 64 hex digits",
                    c.id
                ))
            })?;
        }
    }
    if let Some(ss) = &t.selfservice {
        match &ss.issuer {
            Some(u) if usable_url(u) => {}
            _ => return invalid("selfservice.issuer must be the IdP's http(s) issuer URL".into()),
        }
        if ss.client.client_id.is_empty() {
            return invalid("selfservice.client.client_id is required".into());
        }
        match &ss.session_secret {
            Some(s) if s.expose_secret().len() >= 32 => {}
            _ => {
                return invalid(
                    "selfservice.session_secret of at least 32 bytes is required".into(),
                );
            }
        }
        if ss.max_age_seconds == 0 {
            return invalid("selfservice.max_age_seconds must be > 0".into());
        }
    }
    if let Some(s) = &t.stepup {
        validate_stepup(s, t)
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
    Ok(())
}

/// Same bytes, compared in constant time.
fn same_secret(a: &SecretString, b: &SecretString) -> bool {
    bool::from(subtle::ConstantTimeEq::ct_eq(
        a.expose_secret().as_bytes(),
        b.expose_secret().as_bytes(),
    ))
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

fn validate_stepup(s: &StepUpConfig, t: &TenantConfig) -> Result<(), String> {
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
        validate_stepup_client(c).map_err(|m| format!("clients[{i}] ({}): {m}", c.client_id))?;
        if s.clients[..i].iter().any(|o| o.client_id == c.client_id) {
            return Err(format!("client {} is configured twice", c.client_id));
        }
    }
    Ok(())
}

fn validate_stepup_client(c: &StepUpClient) -> Result<(), String> {
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

    fn tenant() -> TenantConfig {
        TenantConfig {
            issuer: "https://idp.example".into(),
            audience: "backup-codes".into(),
            algorithms: vec![JwtAlgorithm::HS256],
            hs256_secret: Some(SecretString::from("x".repeat(32))),
            ..TenantConfig::default()
        }
    }

    #[test]
    fn defaults_are_valid_and_secrets_are_redacted() {
        let mut c = Config::default();
        c.tenants.insert("acme".into(), tenant());
        assert!(c.validate().is_ok());
        let debug = format!("{c:?}");
        assert!(!debug.contains(&"x".repeat(32)));
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

    /// Types are checked when the file is read: the error names the field.
    #[test]
    fn a_bad_value_is_one_error_naming_its_field() {
        let dir = tempfile::tempdir().unwrap();
        for (toml, field) in [
            ("public_url = \"not a url\"\n", "public_url"),
            (
                "[tenants.acme]\nissuer = \"i\"\naudience = \"a\"\nalgorithms = [\"none\"]\n",
                "algorithms",
            ),
            (
                "[tenants.acme]\nissuer = \"i\"\naudience = \"a\"\nalgorithms = [\"RS256\"]\njwks_url = \"::\"\n",
                "jwks_url",
            ),
            ("[tenants.acme.policy]\norder = \"random\"\n", "order"),
        ] {
            let path = dir.path().join("c.toml");
            std::fs::write(&path, toml).unwrap();
            let e = Config::load(Some(&path)).unwrap_err().to_string();
            assert!(e.contains(field), "{toml}: {e}");
        }
    }
}
