//! Typed configuration: defaults, then a TOML file, then `BACKUP_CODES_*`
//! environment variables (`__` separates levels), parsed once and checked at
//! start. URLs are [`Url`]s and choices are enums, so a bad value is one error
//! naming its field before anything runs.
//!
//! Secrets are [`SecretString`]s: their `Debug` output is redacted, so the
//! configuration can be logged as a whole. This module imports nothing else of
//! the crate: every other layer reads it. One file per part of the file: the
//! process (here), the component (`plugin`), request limits (`limits`), a
//! tenant (`tenant`), its pages' languages (`language`) and branding
//! (`branding`), its optional ways in (`rest2f`, `selfservice`,
//! `stepup`), and webhooks (`webhooks`: the delivery worker's settings and
//! a tenant's endpoints).

mod branding;
mod language;
mod limits;
mod plugin;
mod rest2f;
mod selfservice;
mod stepup;
mod tenant;
pub mod tenant_id;
mod webhooks;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

pub use branding::BrandingConfig;
pub use language::Language;
pub use limits::Limits;
pub use plugin::PluginSettings;
pub use rest2f::{Rest2fClient, Rest2fConfig};
pub use selfservice::{ClientAuth, OidcClient, SelfServiceConfig};
pub use stepup::{STEPUP_DEFAULT_ACR, STEPUP_KEY_BITS, StepUpClient, StepUpConfig};
pub use tenant::{CodeOrder, JwtAlgorithm, PolicyOverrides, TenantConfig};
pub use webhooks::{
    DEFAULT_CEILINGS as WEBHOOK_RETRY_CEILINGS, EndpointConfig, EventKind, SecretError,
    TenantWebhooks, WebhookSecret, WebhookSettings,
};

use tenant::validate_tenant;

/// Environment variable prefix.
pub const ENV_PREFIX: &str = "BACKUP_CODES_";
/// Smallest `limits.body_bytes` a login step works with: its forms carry a flow
/// token of up to 8 KiB and a code.
pub const MIN_STEP_BODY_BYTES: usize = 10 * 1024;

/// The configuration's top-level keys (environment variables must start with one).
const TOP_LEVEL_KEYS: [&str; 11] = [
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
    "webhooks",
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

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP server listens on.
    pub listen: SocketAddr,
    /// The shim's public base URL as browsers and IdPs reach it (with the path
    /// prefix of a proxy in front of it, if any): the `iss` of its result tokens
    /// and the base of step URLs. Unset, it is `http://` and the `listen`
    /// address (a wildcard address read as loopback).
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
    /// How webhooks are delivered (the endpoints are the tenants').
    pub webhooks: WebhookSettings,
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
            webhooks: WebhookSettings::default(),
        }
    }
}

#[allow(clippy::expect_used)] // a literal that parses
fn default_public_url() -> Url {
    Url::parse("http://127.0.0.1:8080").expect("a valid literal URL")
}

/// The URL a shim listening on `listen` is reached at on this machine.
fn public_url_of(listen: SocketAddr) -> Url {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    // An IP address and a port always make a URL; the fallback is not reached.
    Url::parse(&format!("http://{}", SocketAddr::new(ip, listen.port())))
        .unwrap_or_else(|_| default_public_url())
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
        // A tenant id the file defines is found by its environment spelling
        // (`tenant_id`); keys are lower-cased there, not by figment, which
        // would lower-case tenant ids too.
        let spellings = tenant_id::EnvSpellings::new(file_tenant_ids(&figment));
        let env = Env::prefixed(ENV_PREFIX)
            .split("__")
            .map(move |key| spellings.config_key(key.as_str()).into())
            .filter(|key| {
                let top = key.as_str().split('.').next().unwrap_or_default();
                TOP_LEVEL_KEYS.contains(&top)
            })
            .lowercase(false);
        figment = figment.merge(env);
        let public_url_set = figment.find_value("public_url").is_ok();
        let mut config: Self = figment
            .extract()
            .map_err(|e| ConfigError::Parse(e.to_string()))?;
        if !public_url_set {
            config.public_url = public_url_of(config.listen);
        }
        config.validate()?;
        Ok(config)
    }

    /// The directory the SQLite database lives in (the demo's secret goes
    /// there too); `data` when the database is not a SQLite file.
    pub fn data_dir(&self) -> std::path::PathBuf {
        self.database_url
            .strip_prefix("sqlite://")
            .and_then(|p| std::path::Path::new(p.split('?').next().unwrap_or(p)).parent())
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(
                || std::path::PathBuf::from("data"),
                std::path::Path::to_path_buf,
            )
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
        if !(1..=10_000_000).contains(&self.limits.unenrolled_subjects_per_tenant) {
            return invalid(
                "limits.unenrolled_subjects_per_tenant must be within 1..=10000000".into(),
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
        self.webhooks.validate().map_err(ConfigError::Invalid)?;
        if let Some((a, b)) = tenant_id::ambiguous_pair(self.tenants.keys().map(String::as_str)) {
            return invalid(format!(
                "tenant ids {a:?} and {b:?} differ only in case or in - against _: environment variables (BACKUP_CODES_TENANTS__{}__…) cannot tell them apart",
                tenant_id::env_name(a)
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

/// The tenant ids a file defines (none when it has no `tenants` table; a
/// malformed file is reported by the extraction that follows).
fn file_tenant_ids(figment: &Figment) -> Vec<String> {
    match figment.find_value("tenants") {
        Ok(figment::value::Value::Dict(_, tenants)) => tenants.into_keys().collect(),
        _ => Vec::new(),
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

/// Same bytes, compared in constant time.
fn same_secret(a: &SecretString, b: &SecretString) -> bool {
    bool::from(subtle::ConstantTimeEq::ct_eq(
        a.expose_secret().as_bytes(),
        b.expose_secret().as_bytes(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tenant::tests::tenant;

    #[test]
    fn defaults_are_valid_and_secrets_are_redacted() {
        let mut c = Config::default();
        c.tenants.insert("acme".into(), tenant());
        assert!(c.validate().is_ok());
        let debug = format!("{c:?}");
        assert!(!debug.contains(&"x".repeat(32)));
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

    /// Unset, `public_url` is where `listen` is reached, so the demo's hints and
    /// links name the port the shim listens on; set, it is kept as written.
    #[test]
    fn public_url_follows_listen_unless_set() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        for (toml, want) in [
            ("listen = \"0.0.0.0:9000\"\n", "http://127.0.0.1:9000/"),
            ("listen = \"[::]:9001\"\n", "http://[::1]:9001/"),
            ("listen = \"127.0.0.2:9002\"\n", "http://127.0.0.2:9002/"),
            ("", "http://127.0.0.1:8080/"),
            (
                "listen = \"0.0.0.0:9000\"\npublic_url = \"https://sso.example/bc\"\n",
                "https://sso.example/bc",
            ),
        ] {
            std::fs::write(&path, toml).unwrap();
            let c = Config::load(Some(&path)).unwrap();
            assert_eq!(c.public_url.as_str(), want, "{toml}");
        }
    }
}
