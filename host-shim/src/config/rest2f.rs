//! The REST second factor: the IdP posts the code its user typed.

use serde::Deserialize;

use super::{ConfigError, parse_sha256};

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

impl Rest2fConfig {
    /// Check the clients of tenant `id`.
    pub(super) fn validate(&self, id: &str) -> Result<(), ConfigError> {
        let invalid = |m: String| Err(ConfigError::Invalid(format!("tenants.{id}: {m}")));
        if self.clients.is_empty() {
            return invalid("rest2f.clients must name at least one client".into());
        }
        for c in &self.clients {
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
        Ok(())
    }
}
