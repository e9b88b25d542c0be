//! The shim test harness: plays an identity provider against the backup-code shim.
//!
//! - [`idp::TestIdp`] generates RS256, ES256, EdDSA and HS256 keys, serves a JWKS
//!   on loopback and mints good and hostile tokens;
//! - [`client::ShimClient`] drives every contract of the JSON API over HTTP with
//!   `reqwest`; it works against any base URL, including your own deployment;
//! - [`shim`] starts the shim in-process on `127.0.0.1:0` or as real processes of
//!   the built binary with a real configuration file;
//! - [`db`] gives each test its own SQLite file or PostgreSQL database;
//! - [`step::StepClient`] walks the login step's pages as a browser and an IdP would;
//! - [`stepup::Rp`] plays a relying party of the step-up OpenID provider (Entra);
//! - [`oidc_idp::OidcIdp`] is an OpenID provider for self-service whose ID
//!   tokens carry the claims a test chooses, and [`selfservice::SelfBrowser`]
//!   signs in through it and uses the self-service pages;
//! - [`receiver::Receiver`] receives the shim's signed webhooks.
//!
//! Pointing it at your deployment: start a [`idp::TestIdp`], configure a tenant in
//! your shim with [`idp::TestIdp::tenant_toml`] (its JWKS URL must be reachable
//! from the shim), then use [`client::ShimClient::new`] with your base URL.

pub mod client;
pub mod db;
pub mod idp;
pub mod oidc_idp;
pub mod receiver;
pub mod selfservice;
pub mod shim;
pub mod step;
pub mod stepup;

/// A harness failure with a readable message.
#[derive(Debug, Clone)]
pub struct HarnessError(pub String);

impl std::fmt::Display for HarnessError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HarnessError {}

macro_rules! from_error {
    ($($t:ty),*) => {$(
        impl From<$t> for HarnessError {
            fn from(e: $t) -> Self {
                Self(e.to_string())
            }
        }
    )*};
}

from_error!(
    std::io::Error,
    reqwest::Error,
    sqlx::Error,
    serde_json::Error,
    backup_codes_shim::server::StartError,
    backup_codes_shim::config::ConfigError,
    backup_codes_shim::store::StoreError
);
