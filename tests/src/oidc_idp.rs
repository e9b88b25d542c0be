//! A test OpenID provider for self-service, on loopback: discovery, its JWKS,
//! an authorization endpoint that answers at once (no login page) and a token
//! endpoint whose ID token carries the claims a test chooses, signed RS256 with
//! a key generated when it starts. It checks of the shim what a provider
//! checks (client authentication, redirect URI, PKCE S256, codes used once)
//! and records the authorization requests, so a test sees what was asked.
//!
//! A test sets the claims of the next ID token with [`OidcIdp::next_token`]:
//! an `iat` a day ahead, no `iat` at all, a future `auth_time`; whatever a
//! hostile or broken provider might send.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use backup_codes_shim::config::{ClientAuth, OidcClient};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD as B64};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256};

use crate::HarnessError;
use crate::idp::{now, random_id};

/// The `sub` of ID tokens unless a test sets another.
pub const SUBJECT: &str = "alice";
/// The `kid` of the provider's signing key.
pub const KID: &str = "oidc-test-rsa";
/// How long its ID tokens are valid, seconds.
pub const TOKEN_TTL: u64 = 300;

/// A running test OpenID provider.
pub struct OidcIdp {
    /// Its issuer, `http://127.0.0.1:<port>`.
    pub issuer: String,
    /// The client it knows (the shim).
    pub client_id: String,
    /// That client's secret.
    pub client_secret: String,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for OidcIdp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// What the handlers share.
struct Shared {
    issuer: String,
    client_id: String,
    client_secret: String,
    key: EncodingKey,
    jwks: Value,
    /// Changes to the next ID token's claims (`null` removes a claim).
    next: Mutex<Map<String, Value>>,
    /// Codes not yet exchanged.
    grants: Mutex<HashMap<String, Grant>>,
    /// Every authorization request, in order.
    requests: Mutex<Vec<BTreeMap<String, String>>>,
    /// ID tokens handed out.
    issued: Mutex<usize>,
    /// Codes are kept after their exchange (a provider that accepts a code
    /// twice, which the shim must not rely on).
    reuse_codes: std::sync::atomic::AtomicBool,
}

/// An authorization code's request.
#[derive(Clone)]
struct Grant {
    redirect_uri: String,
    nonce: String,
    challenge: String,
    changes: Map<String, Value>,
}

impl OidcIdp {
    /// Generate a 2048-bit RSA key and serve on 127.0.0.1 for the client
    /// `client_id` with `client_secret`.
    pub async fn start(client_id: &str, client_secret: &str) -> Result<Self, HarnessError> {
        let (key, jwks) = signing_key()?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let issuer = format!("http://{}", listener.local_addr()?);
        let shared = Arc::new(Shared {
            issuer: issuer.clone(),
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            key,
            jwks,
            next: Mutex::new(Map::new()),
            grants: Mutex::new(HashMap::new()),
            requests: Mutex::new(Vec::new()),
            issued: Mutex::new(0),
            reuse_codes: std::sync::atomic::AtomicBool::new(false),
        });
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks.json", get(jwks_document))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .with_state(Arc::clone(&shared));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            issuer,
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            shared,
            server,
        })
    }

    /// The shim's configuration of this client, authenticating with `auth`.
    pub fn client(&self, auth: ClientAuth) -> OidcClient {
        OidcClient {
            client_id: self.client_id.clone(),
            client_secret: Some(self.client_secret.clone().into()),
            auth,
        }
    }

    /// Change the claims of the ID token for the next authorization request:
    /// each key of `changes` (an object) is set, or removed where `null`. The
    /// token otherwise has `iss`, `aud` (the client), `sub` ([`SUBJECT`]),
    /// `iat` and `auth_time` (now), `exp` (now + [`TOKEN_TTL`]) and the
    /// request's `nonce`.
    pub fn next_token(&self, changes: Value) {
        if let (Value::Object(changes), Ok(mut next)) = (changes, self.shared.next.lock()) {
            *next = changes;
        }
    }

    /// Accept each authorization code again after its exchange (`true`), as
    /// a careless provider does.
    pub fn reuse_codes(&self, reuse: bool) {
        self.shared
            .reuse_codes
            .store(reuse, std::sync::atomic::Ordering::SeqCst);
    }

    /// The authorization requests received, in order (their query parameters).
    pub fn requests(&self) -> Vec<BTreeMap<String, String>> {
        self.shared
            .requests
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    /// How many ID tokens the token endpoint handed out.
    pub fn tokens_issued(&self) -> usize {
        self.shared.issued.lock().map(|n| *n).unwrap_or_default()
    }
}

/// An RSA signing key and the JWKS publishing its public half.
fn signing_key() -> Result<(EncodingKey, Value), HarnessError> {
    use rsa::pkcs1::EncodeRsaPrivateKey as _;
    use rsa::traits::PublicKeyParts as _;
    let private = rsa::RsaPrivateKey::new(&mut rand_core_06::OsRng, 2048)
        .map_err(|e| HarnessError(format!("RSA key: {e}")))?;
    let der = private
        .to_pkcs1_der()
        .map_err(|e| HarnessError(format!("RSA key: {e}")))?;
    let public = private.to_public_key();
    let jwks = json!({"keys": [{
        "kty": "RSA", "kid": KID, "alg": "RS256", "use": "sig",
        "n": B64.encode(public.n().to_bytes_be()),
        "e": B64.encode(public.e().to_bytes_be()),
    }]});
    Ok((EncodingKey::from_rsa_der(der.as_bytes()), jwks))
}

async fn discovery(State(s): State<Arc<Shared>>) -> axum::Json<Value> {
    let issuer = &s.issuer;
    axum::Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks.json"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    }))
}

async fn jwks_document(State(s): State<Arc<Shared>>) -> axum::Json<Value> {
    axum::Json(s.jwks.clone())
}

fn refuse(status: StatusCode, error: &str) -> Response {
    (status, axum::Json(json!({ "error": error }))).into_response()
}

/// The authorization request: recorded, checked, and answered at once with a
/// code sent back to the `redirect_uri`.
async fn authorize(
    State(s): State<Arc<Shared>>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    if let Ok(mut requests) = s.requests.lock() {
        requests.push(q.clone());
    }
    let param = |name: &str| q.get(name).map(String::as_str).unwrap_or_default();
    let scopes_openid = param("scope").split(' ').any(|w| w == "openid");
    if param("response_type") != "code"
        || param("client_id") != s.client_id
        || !scopes_openid
        || param("code_challenge_method") != "S256"
        || param("code_challenge").is_empty()
        || param("nonce").is_empty()
        || param("state").is_empty()
    {
        return refuse(StatusCode::BAD_REQUEST, "invalid_request");
    }
    let Ok(mut back) = reqwest::Url::parse(param("redirect_uri")) else {
        return refuse(StatusCode::BAD_REQUEST, "invalid_request");
    };
    let code = random_id();
    let changes = s
        .next
        .lock()
        .map(|mut n| std::mem::take(&mut *n))
        .unwrap_or_default();
    let grant = Grant {
        redirect_uri: param("redirect_uri").to_owned(),
        nonce: param("nonce").to_owned(),
        challenge: param("code_challenge").to_owned(),
        changes,
    };
    match s.grants.lock() {
        Ok(mut grants) => grants.insert(code.clone(), grant),
        Err(_) => return refuse(StatusCode::INTERNAL_SERVER_ERROR, "server_error"),
    };
    back.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", param("state"));
    (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, back.to_string())],
    )
        .into_response()
}

/// The client's id and secret: HTTP Basic, or in the form.
fn client_credentials(
    headers: &HeaderMap,
    form: &BTreeMap<String, String>,
) -> Option<(String, String)> {
    if let Some(basic) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    {
        let decoded = String::from_utf8(STANDARD.decode(basic).ok()?).ok()?;
        let (id, secret) = decoded.split_once(':')?;
        return Some((id.to_owned(), secret.to_owned()));
    }
    Some((
        form.get("client_id")?.clone(),
        form.get("client_secret")?.clone(),
    ))
}

/// The token request: client, code (once), redirect URI and PKCE checked; the
/// ID token built from the grant's claims.
async fn token(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Form(form): Form<BTreeMap<String, String>>,
) -> Response {
    let authenticated = client_credentials(&headers, &form)
        .is_some_and(|(id, secret)| id == s.client_id && secret == s.client_secret);
    if !authenticated {
        return refuse(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    let reuse = s.reuse_codes.load(std::sync::atomic::Ordering::SeqCst);
    let grant = s.grants.lock().ok().and_then(|mut g| {
        if reuse {
            g.get(field("code")).cloned()
        } else {
            g.remove(field("code"))
        }
    });
    let Some(grant) = grant else {
        return refuse(StatusCode::BAD_REQUEST, "invalid_grant");
    };
    let challenge = B64.encode(Sha256::digest(field("code_verifier").as_bytes()));
    if field("grant_type") != "authorization_code"
        || field("redirect_uri") != grant.redirect_uri
        || challenge != grant.challenge
    {
        return refuse(StatusCode::BAD_REQUEST, "invalid_grant");
    }
    let now = now();
    let mut claims = json!({
        "iss": s.issuer, "aud": s.client_id, "sub": SUBJECT,
        "iat": now, "exp": now + TOKEN_TTL, "auth_time": now, "nonce": grant.nonce,
    });
    if let Value::Object(map) = &mut claims {
        for (name, value) in grant.changes {
            if value.is_null() {
                map.remove(&name);
            } else {
                map.insert(name, value);
            }
        }
    }
    let mut jose = Header::new(Algorithm::RS256);
    jose.kid = Some(KID.into());
    let Ok(id_token) = jsonwebtoken::encode(&jose, &claims, &s.key) else {
        return refuse(StatusCode::INTERNAL_SERVER_ERROR, "server_error");
    };
    if let Ok(mut n) = s.issued.lock() {
        *n += 1;
    }
    axum::Json(json!({
        "access_token": random_id(),
        "token_type": "Bearer",
        "expires_in": TOKEN_TTL,
        "id_token": id_token,
    }))
    .into_response()
}
