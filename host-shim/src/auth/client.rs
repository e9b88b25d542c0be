//! The HTTP client the shim fetches keys, discovery documents and tokens with
//! (and that its test harness and bench reuse): reqwest over rustls with the
//! `ring` crypto provider. reqwest's default provider, aws-lc-rs, builds
//! aws-lc-sys's C library: minutes per build profile on two cores, for the
//! same TLS.

use std::sync::Once;

/// A client builder whose TLS uses the process's rustls provider, installing
/// `ring` as that provider first unless the embedding application already
/// installed one (which is then used).
pub fn builder() -> reqwest::ClientBuilder {
    static PROVIDER: Once = Once::new();
    PROVIDER.call_once(|| {
        // An error means another provider is already the default: keep it.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::builder()
}
