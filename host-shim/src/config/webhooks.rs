//! Webhook settings: the process-wide delivery settings (`[webhooks]`) and a
//! tenant's endpoints (`[tenants.X.webhooks.endpoints.NAME]`), each with the
//! event kinds it wants and its Standard Webhooks secrets, checked as the
//! rest of the configuration is, each error naming its field.

use std::collections::BTreeMap;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use subtle::ConstantTimeEq;
use url::Url;
use zeroize::Zeroizing;

use super::usable_url;
use crate::bindings::exports::authn::backup_codes::engine::Event;

/// The prefix of a secret's text.
const PREFIX: &str = "whsec_";
/// Shortest and longest secret the specification allows, bytes.
const SECRET_BYTES: std::ops::RangeInclusive<usize> = 24..=64;

/// Why a secret's text is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// It does not start with `whsec_`.
    #[error("a webhook secret starts with whsec_")]
    Prefix,
    /// What follows is not standard base64.
    #[error("a webhook secret is whsec_ and standard base64")]
    Base64,
    /// It decodes to a length outside 24..=64 bytes.
    #[error("a webhook secret decodes to 24..=64 bytes, not {0}")]
    Length(usize),
}

/// A webhook signing secret (its decoded bytes, wiped on drop; `Debug` shows
/// nothing of it).
#[derive(Clone)]
pub struct WebhookSecret(Zeroizing<Vec<u8>>);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret([REDACTED])")
    }
}

impl WebhookSecret {
    /// The secret `whsec_<base64>` names; strictly decoded (standard base64,
    /// padding optional), so a mistyped character is an error rather than a
    /// shorter key.
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        use base64::Engine as _;
        use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
        const LENIENT: GeneralPurpose = GeneralPurpose::new(
            &base64::alphabet::STANDARD,
            GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
        );
        let encoded = text.strip_prefix(PREFIX).ok_or(SecretError::Prefix)?;
        let bytes = Zeroizing::new(LENIENT.decode(encoded).map_err(|_| SecretError::Base64)?);
        if !SECRET_BYTES.contains(&bytes.len()) {
            return Err(SecretError::Length(bytes.len()));
        }
        Ok(Self(bytes))
    }

    /// Whether two secrets are the same (constant time).
    pub fn same_as(&self, other: &Self) -> bool {
        bool::from(self.0.as_slice().ct_eq(other.0.as_slice()))
    }

    /// The HMAC key: the decoded bytes (never the text).
    pub fn expose_key(&self) -> &[u8] {
        &self.0
    }
}

/// An event kind an endpoint may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    /// A new set was issued.
    Issued,
    /// A pending set became active.
    Activated,
    /// A code was used to sign in.
    Used,
    /// A wrong code counted toward lockout.
    Failed,
    /// Attempts are locked.
    Locked,
    /// Few codes are left.
    Low,
    /// No code is left.
    Exhausted,
    /// A used code was replaced by a new one (`replace_on_use`).
    Replaced,
    /// A set was imported from another identity server.
    Imported,
}

impl EventKind {
    /// Every kind, in the plugin's order.
    pub const ALL: [Self; 9] = [
        Self::Issued,
        Self::Activated,
        Self::Used,
        Self::Failed,
        Self::Locked,
        Self::Low,
        Self::Exhausted,
        Self::Replaced,
        Self::Imported,
    ];

    /// The kind's name, as the plugin's events and the audit rows name it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Issued => "issued",
            Self::Activated => "activated",
            Self::Used => "used",
            Self::Failed => "failed",
            Self::Locked => "locked",
            Self::Low => "low",
            Self::Exhausted => "exhausted",
            Self::Replaced => "replaced",
            Self::Imported => "imported",
        }
    }

    /// The kind of one of the component's events.
    pub fn of(event: &Event) -> Self {
        match event {
            Event::Issued(_) => Self::Issued,
            Event::Activated(_) => Self::Activated,
            Event::Used(_) => Self::Used,
            Event::Failed(_) => Self::Failed,
            Event::Locked(_) => Self::Locked,
            Event::Low(_) => Self::Low,
            Event::Exhausted(_) => Self::Exhausted,
            Event::Replaced(_) => Self::Replaced,
            Event::Imported(_) => Self::Imported,
        }
    }

    /// The kind a name names.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// One receiver of a tenant's events: `[tenants.X.webhooks.endpoints.NAME]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointConfig {
    /// Where events are posted (https, or http on loopback).
    pub url: Url,
    /// The kinds it receives (default: all).
    #[serde(default)]
    pub events: Option<Vec<EventKind>>,
    /// The current secret, `whsec_…`.
    pub secret: SecretString,
    /// The previous secret while receivers rotate: messages carry both signatures.
    #[serde(default)]
    pub previous_secret: Option<SecretString>,
}

impl EndpointConfig {
    /// The kinds it receives.
    pub fn kinds(&self) -> Vec<EventKind> {
        self.events
            .clone()
            .unwrap_or_else(|| EventKind::ALL.to_vec())
    }

    /// Its secrets, parsed: the current one first, then the previous one.
    /// (Checked at start by [`TenantWebhooks::validate`].)
    pub fn secrets(&self) -> Result<Vec<WebhookSecret>, SecretError> {
        let mut out = vec![WebhookSecret::parse(self.secret.expose_secret())?];
        if let Some(p) = &self.previous_secret {
            out.push(WebhookSecret::parse(p.expose_secret())?);
        }
        Ok(out)
    }
}

/// How the delivery worker runs: `[webhooks]`, for the whole process.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookSettings {
    /// Longest one delivery may take, milliseconds (connect, send, answer).
    pub timeout_ms: u64,
    /// How long a worker holds a row it is sending, seconds; at least twice
    /// the timeout and a second more, so a healthy worker always ends its
    /// attempt before another instance may take the row over.
    pub lease_seconds: u64,
    /// Deliveries in flight per instance.
    pub concurrency: u32,
    /// How often a worker looks for rows other instances (or the CLI) wrote,
    /// milliseconds; its own instance's rows wake it at once.
    pub poll_interval_ms: u64,
    /// Ceilings of the delay before each retry, seconds (the last repeats);
    /// the delay is drawn uniformly below the ceiling.
    pub retry_schedule_seconds: Vec<u64>,
    /// How long an event is retried before it is parked as dead, seconds
    /// (24 hours; less only for tests).
    pub retry_for_seconds: u64,
    /// The most undelivered rows (pending and dead) one endpoint may have in
    /// the outbox; at the bound its new events are dropped, counted and
    /// logged (an alert: its receiver is likely gone), and logins go on.
    pub max_undelivered_rows: u64,
    /// How long delivered rows are kept, seconds.
    pub retain_delivered_seconds: u64,
    /// How long dead rows are kept for inspection and replay, seconds.
    pub retain_dead_seconds: u64,
    /// How often the outbox is counted (gauges, the bound) and purged, milliseconds.
    pub sample_interval_ms: u64,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            timeout_ms: 15_000,
            lease_seconds: 60,
            concurrency: 4,
            poll_interval_ms: 1000,
            retry_schedule_seconds: DEFAULT_CEILINGS.to_vec(),
            retry_for_seconds: 86_400,
            max_undelivered_rows: 100_000,
            retain_delivered_seconds: 86_400,
            retain_dead_seconds: 30 * 86_400,
            sample_interval_ms: 15_000,
        }
    }
}

/// The default retry ceilings, seconds: 5 s, 5 min, 30 min, 2 h, 5 h, then 10 h.
pub const DEFAULT_CEILINGS: [u64; 6] = [5, 300, 1800, 7200, 18_000, 36_000];

impl WebhookSettings {
    /// Check the values; the error names the field.
    pub fn validate(&self) -> Result<(), String> {
        if !(100..=30_000).contains(&self.timeout_ms) {
            return Err("webhooks.timeout_ms must be within 100..=30000".into());
        }
        if self.lease_seconds.saturating_mul(1000) < 2 * self.timeout_ms + 1000 {
            return Err(format!(
                "webhooks.lease_seconds must be at least {} (twice timeout_ms and a second)",
                (2 * self.timeout_ms + 1000).div_ceil(1000)
            ));
        }
        if !(1..=64).contains(&self.concurrency) {
            return Err("webhooks.concurrency must be within 1..=64".into());
        }
        if !(10..=60_000).contains(&self.poll_interval_ms) {
            return Err("webhooks.poll_interval_ms must be within 10..=60000".into());
        }
        if self.retry_schedule_seconds.is_empty()
            || self.retry_schedule_seconds.contains(&0)
            || self.retry_schedule_seconds.len() > 32
        {
            return Err(
                "webhooks.retry_schedule_seconds must list 1..=32 delays, none zero".into(),
            );
        }
        if self.retry_for_seconds == 0 || self.retry_for_seconds > 30 * 86_400 {
            return Err("webhooks.retry_for_seconds must be within 1..=2592000".into());
        }
        if self.max_undelivered_rows == 0 {
            return Err("webhooks.max_undelivered_rows must be > 0".into());
        }
        if self.retain_delivered_seconds == 0 || self.retain_dead_seconds == 0 {
            return Err(
                "webhooks.retain_delivered_seconds and retain_dead_seconds must be > 0".into(),
            );
        }
        if !(100..=600_000).contains(&self.sample_interval_ms) {
            return Err("webhooks.sample_interval_ms must be within 100..=600000".into());
        }
        Ok(())
    }
}

/// A tenant's webhooks: `[tenants.X.webhooks]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TenantWebhooks {
    /// Its endpoints, by name.
    pub endpoints: BTreeMap<String, EndpointConfig>,
}

impl TenantWebhooks {
    /// Check the endpoints; the error starts with the field's path below the
    /// tenant (`webhooks.endpoints.NAME.…`).
    pub fn validate(&self) -> Result<(), String> {
        let mut secrets: Vec<(String, WebhookSecret)> = Vec::new();
        for (name, e) in &self.endpoints {
            let at = format!("webhooks.endpoints.{name}");
            if name.is_empty()
                || name.len() > 64
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(format!("{at}: an endpoint name is 1..=64 of [A-Za-z0-9_-]"));
            }
            let loopback = e.url.host().is_some_and(|h| match h {
                url::Host::Ipv4(ip) => ip.is_loopback(),
                url::Host::Ipv6(ip) => ip.is_loopback(),
                url::Host::Domain(d) => d == "localhost",
            });
            if !usable_url(&e.url) || (e.url.scheme() != "https" && !loopback) {
                return Err(format!(
                    "{at}.url: https without credentials or fragment (http only on loopback)"
                ));
            }
            if e.events.as_ref().is_some_and(Vec::is_empty) {
                return Err(format!(
                    "{at}.events: name at least one kind, or leave it out for all"
                ));
            }
            let current = WebhookSecret::parse(e.secret.expose_secret())
                .map_err(|err| format!("{at}.secret: {err}"))?;
            if let Some(p) = &e.previous_secret {
                let previous = WebhookSecret::parse(p.expose_secret())
                    .map_err(|err| format!("{at}.previous_secret: {err}"))?;
                if previous.same_as(&current) {
                    return Err(format!("{at}.previous_secret: the same as secret"));
                }
                secrets.push((format!("{at}.previous_secret"), previous));
            }
            if let Some((other, _)) = secrets.iter().find(|(_, s)| s.same_as(&current)) {
                return Err(format!(
                    "{at}.secret: also {other} (one secret per endpoint)"
                ));
            }
            secrets.push((format!("{at}.secret"), current));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    fn secret(byte: u8) -> SecretString {
        let b64 = base64::engine::general_purpose::STANDARD.encode([byte; 32]);
        SecretString::from(format!("whsec_{b64}"))
    }

    fn endpoint(url: &str, s: SecretString) -> EndpointConfig {
        EndpointConfig {
            url: url.parse().unwrap(),
            events: None,
            secret: s,
            previous_secret: None,
        }
    }

    fn with(endpoints: Vec<(&str, EndpointConfig)>) -> Result<(), String> {
        TenantWebhooks {
            endpoints: endpoints
                .into_iter()
                .map(|(n, e)| (n.to_owned(), e))
                .collect(),
        }
        .validate()
    }

    #[test]
    fn endpoints_are_checked_with_their_field_named() {
        assert_eq!(
            with(vec![(
                "crm",
                endpoint("https://crm.example/hooks", secret(1))
            )]),
            Ok(())
        );
        assert_eq!(
            with(vec![("t", endpoint("http://127.0.0.1:9/h", secret(1)))]),
            Ok(())
        );
        let refused = [
            (
                with(vec![(
                    "bad name",
                    endpoint("https://a.example/", secret(1)),
                )]),
                "webhooks.endpoints.bad name:",
            ),
            (
                with(vec![("crm", endpoint("http://crm.example/", secret(1)))]),
                "webhooks.endpoints.crm.url:",
            ),
            (
                with(vec![(
                    "crm",
                    endpoint("https://crm.example/", SecretString::from("nope")),
                )]),
                "webhooks.endpoints.crm.secret: a webhook secret starts with whsec_",
            ),
            (
                with(vec![
                    ("a", endpoint("https://a.example/", secret(1))),
                    ("b", endpoint("https://b.example/", secret(1))),
                ]),
                "webhooks.endpoints.b.secret: also webhooks.endpoints.a.secret",
            ),
            (
                with(vec![(
                    "a",
                    EndpointConfig {
                        events: Some(vec![]),
                        ..endpoint("https://a.example/", secret(1))
                    },
                )]),
                "webhooks.endpoints.a.events:",
            ),
            (
                with(vec![(
                    "a",
                    EndpointConfig {
                        previous_secret: Some(secret(1)),
                        ..endpoint("https://a.example/", secret(1))
                    },
                )]),
                "webhooks.endpoints.a.previous_secret: the same as secret",
            ),
        ];
        for (result, start) in refused {
            let err = result.unwrap_err();
            assert!(err.starts_with(start), "{err}");
            assert!(!err.contains("whsec_AQ"), "no secret in {err}");
        }
    }

    #[test]
    fn secrets_are_read_strictly() {
        assert_eq!(
            WebhookSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap_err(),
            SecretError::Prefix
        );
        assert_eq!(
            WebhookSecret::parse("whsec_MfKQ9r8G*YqrTwjUPD8ILPZIo2LaLaSw").unwrap_err(),
            SecretError::Base64
        );
        assert_eq!(
            WebhookSecret::parse("whsec_AAAA").unwrap_err(),
            SecretError::Length(3)
        );
        let b64 = |n: usize| base64::engine::general_purpose::STANDARD.encode(vec![1u8; n]);
        assert_eq!(
            WebhookSecret::parse(&format!("whsec_{}", b64(65))).unwrap_err(),
            SecretError::Length(65)
        );
        let padded = format!("whsec_{}", b64(25));
        assert!(padded.ends_with('='));
        assert!(WebhookSecret::parse(&padded).is_ok());
        assert!(WebhookSecret::parse(padded.trim_end_matches('=')).is_ok());
        assert_eq!(
            format!("{:?}", WebhookSecret::parse(&padded).unwrap()),
            "WebhookSecret([REDACTED])"
        );
    }
}
