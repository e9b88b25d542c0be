//! The shim as an OpenID Connect relying party of an IdP (for self-service):
//! discovery, the authorization-code request with PKCE, the token exchange and
//! the ID token's checks (signature against the IdP's JWKS, `iss`, `aud`, `azp`,
//! `nonce`, and the time claims in [`check_times`]).
//!
//! Discovery is fetched on first use, with deadlines and a size cap, and kept;
//! keys go through [`super::jwks`] (an unknown `kid` refetches without blocking
//! others). Only asymmetric algorithms are accepted for ID tokens.
//!
//! The time claims are checked here, explicitly, with the configured leeway
//! (`limits.leeway_seconds`): `jsonwebtoken` checks `exp` (and `nbf` when
//! asked) but never `iat`, even when it is listed as required, and knows
//! nothing of `auth_time`.

use std::collections::HashSet;
use std::time::Duration;

use base64::Engine as _;
use jsonwebtoken::{Algorithm, Validation};
use secrecy::ExposeSecret;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use url::Url;

pub use super::id_token_times::{TimeError, Times, check_times};
use super::jwks::Jwks;
use crate::config::{ClientAuth, OidcClient};

/// Largest discovery document or token answer read, bytes.
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;
/// Longest a discovery or token request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a login at the IdP did not give a usable ID token.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// The discovery document could not be fetched or is not usable.
    #[error("the IdP's discovery document is not usable: {0}")]
    Discovery(String),
    /// The token endpoint refused the code (a 4xx answer such as
    /// `invalid_grant`: the code was used, expired or is not this client's).
    #[error("the IdP's token endpoint refused the code (HTTP {0})")]
    TokenRefused(u16),
    /// The token endpoint could not be reached or answered something unusable.
    #[error("the IdP's token endpoint failed: {0}")]
    Token(String),
    /// The ID token failed a check (the reason names which).
    #[error("the ID token was refused: {0}")]
    IdToken(&'static str),
    /// The ID token's time claims are missing, malformed or out of range.
    #[error("the ID token was refused: {0}")]
    Times(#[from] TimeError),
}

/// What the shim needs from the discovery document.
#[derive(Debug, Clone, Deserialize)]
struct Metadata {
    issuer: String,
    authorization_endpoint: Url,
    token_endpoint: Url,
    jwks_uri: Url,
}

/// The discovered IdP.
struct Discovered {
    metadata: Metadata,
    jwks: Jwks,
}

/// One IdP the shim signs users in with. Its clones share one client and
/// one discovery (a request's context holds one).
#[derive(Clone)]
pub struct Provider {
    issuer: Url,
    http: reqwest::Client,
    discovered: std::sync::Arc<tokio::sync::OnceCell<Discovered>>,
    leeway: u64,
}

/// The claims of an ID token the shim reads.
#[derive(Debug, Clone, Deserialize)]
pub struct IdClaims {
    /// The subject.
    pub sub: String,
    exp: Option<f64>,
    iat: Option<f64>,
    nbf: Option<f64>,
    auth_time: Option<f64>,
    /// The authentication context class.
    pub acr: Option<String>,
    nonce: Option<String>,
    aud: serde_json::Value,
    azp: Option<String>,
    /// Every other claim, for a configured subject claim.
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

impl IdClaims {
    /// Its time claims.
    pub fn times(&self) -> Times {
        Times {
            exp: self.exp,
            iat: self.iat,
            nbf: self.nbf,
            auth_time: self.auth_time,
        }
    }

    /// When the user last authenticated at the IdP, whole seconds since the
    /// epoch; after [`Provider::validate`] never later than when it was checked
    /// (an `auth_time` ahead of the shim's clock, within the leeway, counts as
    /// "now").
    pub fn auth_time(&self) -> Option<i64> {
        // `as` saturates; the value is finite (checked).
        self.auth_time.map(|at| at.floor() as i64)
    }
}

/// PKCE's S256 challenge, sent in the authorization request (the verifier
/// stays in the login transaction until the code is exchanged).
pub struct Pkce {
    /// Sent in the authorization request.
    pub challenge: String,
}

impl Pkce {
    /// The challenge for `verifier` (43+ URL-safe characters).
    pub fn new(verifier: &str) -> Self {
        Self {
            challenge: base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(Sha256::digest(verifier.as_bytes())),
        }
    }
}

/// What an authorization request asks for beyond the usual.
#[derive(Debug, Default)]
pub struct Ask<'a> {
    /// Ask for a new login whatever the session (`prompt=login`).
    pub prompt_login: bool,
    /// The oldest login the IdP may answer with, seconds (`max_age`).
    pub max_age: Option<u64>,
    /// `acr_values` to ask for.
    pub acr_values: &'a [String],
}

impl Provider {
    /// The IdP whose issuer is `issuer`.
    pub fn new(issuer: Url, leeway: u64) -> Result<Self, reqwest::Error> {
        let http = super::client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(REQUEST_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            issuer,
            http,
            discovered: std::sync::Arc::new(tokio::sync::OnceCell::new()),
            leeway,
        })
    }

    async fn discovered(&self) -> Result<&Discovered, OidcError> {
        self.discovered
            .get_or_try_init(|| async {
                let base = self.issuer.as_str().trim_end_matches('/');
                let url = format!("{base}/.well-known/openid-configuration");
                let bytes = get(&self.http, &url).await.map_err(OidcError::Discovery)?;
                let metadata: Metadata = serde_json::from_slice(&bytes)
                    .map_err(|e| OidcError::Discovery(format!("not the expected JSON: {e}")))?;
                if metadata.issuer.trim_end_matches('/') != base {
                    return Err(OidcError::Discovery(format!(
                        "its issuer {} is not the configured {base}",
                        metadata.issuer
                    )));
                }
                let jwks = Jwks::new(metadata.jwks_uri.clone());
                Ok(Discovered { metadata, jwks })
            })
            .await
    }

    /// The origin of the IdP's authorization endpoint (`https://idp.example`),
    /// where the shim's forms may redirect the browser to sign in again.
    pub async fn authorization_origin(&self) -> Result<String, OidcError> {
        let d = self.discovered().await?;
        Ok(d.metadata
            .authorization_endpoint
            .origin()
            .ascii_serialization())
    }

    /// The authorization request to send the browser to.
    pub async fn authorize_url(
        &self,
        client: &OidcClient,
        redirect_uri: &str,
        state: &str,
        nonce: &str,
        pkce: &Pkce,
        ask: &Ask<'_>,
    ) -> Result<Url, OidcError> {
        let d = self.discovered().await?;
        let mut url = d.metadata.authorization_endpoint.clone();
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", &client.client_id)
                .append_pair("redirect_uri", redirect_uri)
                .append_pair("scope", "openid")
                .append_pair("state", state)
                .append_pair("nonce", nonce)
                .append_pair("code_challenge", &pkce.challenge)
                .append_pair("code_challenge_method", "S256");
            if ask.prompt_login {
                q.append_pair("prompt", "login");
            }
            if let Some(max_age) = ask.max_age {
                q.append_pair("max_age", &max_age.to_string());
            }
            if !ask.acr_values.is_empty() {
                q.append_pair("acr_values", &ask.acr_values.join(" "));
            }
        }
        Ok(url)
    }

    /// Exchange an authorization code for the ID token.
    pub async fn exchange(
        &self,
        client: &OidcClient,
        code: &str,
        redirect_uri: &str,
        verifier: &str,
    ) -> Result<String, OidcError> {
        let d = self.discovered().await?;
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier),
        ];
        let secret = client
            .client_secret
            .as_ref()
            .map(|s| s.expose_secret().to_owned())
            .unwrap_or_default();
        let mut request = self.http.post(d.metadata.token_endpoint.clone());
        match client.auth {
            ClientAuth::ClientSecretPost => {
                form.push(("client_id", &client.client_id));
                form.push(("client_secret", &secret));
            }
            ClientAuth::ClientSecretBasic => {
                request = request.basic_auth(&client.client_id, Some(&secret));
            }
        }
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let response = request
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body)
            .send()
            .await
            .map_err(|e| OidcError::Token(e.without_url().to_string()))?;
        let status = response.status();
        let bytes = read_capped(response).await.map_err(OidcError::Token)?;
        if status.is_client_error() {
            return Err(OidcError::TokenRefused(status.as_u16()));
        }
        if !status.is_success() {
            return Err(OidcError::Token(format!("answered {status}")));
        }
        #[derive(Deserialize)]
        struct Tokens {
            id_token: String,
        }
        let tokens: Tokens = serde_json::from_slice(&bytes)
            .map_err(|_| OidcError::Token("no id_token in the answer".into()))?;
        Ok(tokens.id_token)
    }

    /// Check an ID token for `client_id` and `nonce`; `fresh_login`: the
    /// request asked for a login at most `max_age` old, so `auth_time` must be
    /// in the token.
    pub async fn validate(
        &self,
        id_token: &str,
        client_id: &str,
        nonce: &str,
        fresh_login: bool,
    ) -> Result<IdClaims, OidcError> {
        let d = self.discovered().await?;
        let header =
            jsonwebtoken::decode_header(id_token).map_err(|_| OidcError::IdToken("malformed"))?;
        if !matches!(
            header.alg,
            Algorithm::RS256 | Algorithm::ES256 | Algorithm::EdDSA | Algorithm::PS256
        ) {
            return Err(OidcError::IdToken("algorithm not accepted"));
        }
        let kid = header.kid.as_deref().unwrap_or("");
        let key = d
            .jwks
            .key(&self.http, kid, header.alg)
            .await
            .map_err(|_| OidcError::IdToken("no key for its kid"))?;
        let mut validation = Validation::new(header.alg);
        validation.leeway = self.leeway;
        validation.validate_nbf = true;
        validation.set_issuer(&[&d.metadata.issuer]);
        validation.set_audience(&[client_id]);
        // jsonwebtoken knows only these; `iat` and `auth_time` are checked below.
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let mut claims = jsonwebtoken::decode::<IdClaims>(id_token, &key, &validation)
            .map_err(|_| OidcError::IdToken("signature, issuer, audience or times"))?
            .claims;
        let now = i64::try_from(jsonwebtoken::get_current_timestamp()).unwrap_or(i64::MAX);
        check_times(&claims.times(), now, self.leeway, fresh_login)?;
        // Within the leeway ahead of this clock is "now" for the session.
        claims.auth_time = claims.auth_time.map(|at| at.min(now as f64));
        let audiences: HashSet<&str> = match &claims.aud {
            serde_json::Value::String(a) => HashSet::from([a.as_str()]),
            serde_json::Value::Array(list) => list.iter().filter_map(|a| a.as_str()).collect(),
            _ => HashSet::new(),
        };
        if audiences.len() > 1 && claims.azp.is_none() {
            return Err(OidcError::IdToken("several audiences and no azp"));
        }
        // OpenID Connect Core 3.1.3.7: an `azp`, when present, names this client.
        if claims
            .azp
            .as_deref()
            .is_some_and(|azp| !bool::from(azp.as_bytes().ct_eq(client_id.as_bytes())))
        {
            return Err(OidcError::IdToken("azp is not this client"));
        }
        let sent = claims.nonce.as_deref().unwrap_or("");
        if sent.is_empty() || !bool::from(sent.as_bytes().ct_eq(nonce.as_bytes())) {
            return Err(OidcError::IdToken("nonce"));
        }
        Ok(claims)
    }
}

async fn get(http: &reqwest::Client, url: &str) -> Result<Vec<u8>, String> {
    let response = http
        .get(url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| e.without_url().to_string())?;
    read_capped(response).await
}

async fn read_capped(mut response: reqwest::Response) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
        if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
            return Err("the answer is too large".into());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
