//! An IdP's published keys: fetched with deadlines and a size cap, cached, and
//! refetched for an unknown `kid` without ever blocking requests whose key is
//! known. Readers take the current set (an `Arc`, the lock never held across
//! I/O); one request at a time (single flight) fetches, at most once per
//! [`REFETCH_INTERVAL`]. Header URLs (`jku`, `x5u`) are never followed.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey};

use super::AuthError;

/// Largest JWKS document fetched, bytes.
pub const MAX_JWKS_BYTES: usize = 64 * 1024;
/// Shortest interval between two JWKS fetches for unknown key ids.
pub const REFETCH_INTERVAL: Duration = Duration::from_secs(5);
/// Longest a JWKS fetch may take (connection, answer and body).
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(3);

/// One IdP's keys.
pub struct Jwks {
    url: url::Url,
    current: RwLock<Option<Arc<JwkSet>>>,
    /// When the last fetch started; held across a fetch (single flight).
    refetch: tokio::sync::Mutex<Option<Instant>>,
}

impl Jwks {
    /// The keys published at `url` (nothing fetched yet).
    pub fn new(url: url::Url) -> Self {
        Self {
            url,
            current: RwLock::new(None),
            refetch: tokio::sync::Mutex::new(None),
        }
    }

    fn current(&self) -> Option<Arc<JwkSet>> {
        self.current.read().ok().and_then(|g| g.clone())
    }

    fn replace(&self, set: JwkSet) {
        if let Ok(mut g) = self.current.write() {
            *g = Some(Arc::new(set));
        }
    }

    /// The key `kid` for `alg`: from the current set, or after a refetch.
    pub async fn key(
        &self,
        http: &reqwest::Client,
        kid: &str,
        alg: Algorithm,
    ) -> Result<DecodingKey, AuthError> {
        match find_key(self.current().as_deref(), kid, alg)? {
            Some(k) => Ok(k),
            None => self.refetch_for(http, kid, alg).await,
        }
    }

    /// An unknown `kid`: fetch again, one request at a time and at most once per
    /// interval. Requests with known keys never wait for this.
    async fn refetch_for(
        &self,
        http: &reqwest::Client,
        kid: &str,
        alg: Algorithm,
    ) -> Result<DecodingKey, AuthError> {
        let wait = FETCH_TIMEOUT.saturating_add(Duration::from_secs(1));
        let mut last = tokio::time::timeout(wait, self.refetch.lock())
            .await
            .map_err(|_| AuthError::UnknownKey)?;
        // Another request may have fetched the key while this one waited.
        if let Some(k) = find_key(self.current().as_deref(), kid, alg)? {
            return Ok(k);
        }
        if last.is_some_and(|t| t.elapsed() < REFETCH_INTERVAL) {
            return Err(AuthError::UnknownKey);
        }
        *last = Some(Instant::now());
        match tokio::time::timeout(FETCH_TIMEOUT, fetch(http, &self.url)).await {
            Ok(Ok(set)) => self.replace(set),
            Ok(Err(e)) => tracing::warn!(error = %e, "fetching the JWKS failed"),
            Err(_) => tracing::warn!("fetching the JWKS timed out"),
        }
        drop(last);
        find_key(self.current().as_deref(), kid, alg)?.ok_or(AuthError::UnknownKey)
    }
}

async fn fetch(http: &reqwest::Client, url: &url::Url) -> Result<JwkSet, String> {
    let mut response = http
        .get(url.clone())
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| e.without_url().to_string())?;
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
        if body.len() + chunk.len() > MAX_JWKS_BYTES {
            return Err("JWKS document too large".into());
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).map_err(|e| format!("JWKS is not valid: {e}"))
}

/// The key with `kid` usable for `alg`, if the set has one.
fn find_key(
    set: Option<&JwkSet>,
    kid: &str,
    alg: Algorithm,
) -> Result<Option<DecodingKey>, AuthError> {
    let Some(jwk) = set.and_then(|s| s.find(kid)) else {
        return Ok(None);
    };
    if let Some(key_alg) = jwk.common.key_algorithm
        && key_alg.to_string() != format!("{alg:?}")
    {
        return Err(AuthError::Algorithm);
    }
    DecodingKey::from_jwk(jwk)
        .map(Some)
        .map_err(|_| AuthError::UnknownKey)
}
