//! A test identity provider: signing keys for every supported algorithm, a JWKS
//! served on loopback, and good and hostile tokens.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::HarnessError;

/// The algorithms an IdP may sign with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    /// RSA PKCS#1 v1.5 with SHA-256.
    Rs256,
    /// ECDSA P-256 with SHA-256.
    Es256,
    /// Ed25519.
    EdDsa,
    /// HMAC-SHA-256 with a shared secret.
    Hs256,
}

impl Alg {
    /// Every algorithm.
    pub const ALL: [Self; 4] = [Self::Rs256, Self::Es256, Self::EdDsa, Self::Hs256];

    /// The JOSE name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
            Self::EdDsa => "EdDSA",
            Self::Hs256 => "HS256",
        }
    }

    /// The algorithm as the shim's configuration names it.
    pub fn configured(self) -> backup_codes_shim::config::JwtAlgorithm {
        use backup_codes_shim::config::JwtAlgorithm as J;
        match self {
            Self::Rs256 => J::RS256,
            Self::Es256 => J::ES256,
            Self::EdDsa => J::EdDSA,
            Self::Hs256 => J::HS256,
        }
    }

    fn jose(self) -> Algorithm {
        match self {
            Self::Rs256 => Algorithm::RS256,
            Self::Es256 => Algorithm::ES256,
            Self::EdDsa => Algorithm::EdDSA,
            Self::Hs256 => Algorithm::HS256,
        }
    }
}

struct Keys {
    rsa: EncodingKey,
    rsa_public_pem: String,
    ec: EncodingKey,
    ed: EncodingKey,
    /// A second RSA key that is NOT in the JWKS (for "kid pointing elsewhere").
    rogue_rsa: EncodingKey,
    jwks: Value,
}

fn keys() -> Result<&'static Keys, HarnessError> {
    static KEYS: std::sync::OnceLock<Result<Keys, String>> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| generate().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| HarnessError(e.clone()))
}

fn generate() -> Result<Keys, Box<dyn std::error::Error>> {
    use ed25519_dalek::pkcs8::EncodePrivateKey as _;
    use rsa::pkcs1::{EncodeRsaPrivateKey as _, EncodeRsaPublicKey as _};
    use rsa::traits::PublicKeyParts as _;
    let mut rng = rand_core_06::OsRng;

    let rsa_key = rsa::RsaPrivateKey::new(&mut rng, 2048)?;
    let rsa_public = rsa_key.to_public_key();
    let rsa_der = rsa_key.to_pkcs1_der()?;
    let rsa_public_pem = rsa_public.to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)?;
    let rogue = rsa::RsaPrivateKey::new(&mut rng, 2048)?;

    let ec_key = p256::ecdsa::SigningKey::random(&mut rng);
    let ec_point = ec_key.verifying_key().to_encoded_point(false);
    let (x, y) = (
        ec_point.x().ok_or("no x")?.to_vec(),
        ec_point.y().ok_or("no y")?.to_vec(),
    );
    let ec_der = ec_key.to_pkcs8_der()?;

    let ed_key = ed25519_dalek::SigningKey::generate(&mut rng);
    let ed_der = ed_key.to_pkcs8_der()?;

    let jwks = json!({"keys": [
        {"kty": "RSA", "kid": "rsa-1", "alg": "RS256", "use": "sig",
         "n": B64.encode(rsa_public.n().to_bytes_be()), "e": B64.encode(rsa_public.e().to_bytes_be())},
        {"kty": "EC", "kid": "ec-1", "alg": "ES256", "use": "sig", "crv": "P-256",
         "x": B64.encode(x), "y": B64.encode(y)},
        {"kty": "OKP", "kid": "ed-1", "alg": "EdDSA", "use": "sig", "crv": "Ed25519",
         "x": B64.encode(ed_key.verifying_key().to_bytes())},
    ]});
    Ok(Keys {
        rsa: EncodingKey::from_rsa_der(rsa_der.as_bytes()),
        rsa_public_pem,
        ec: EncodingKey::from_ec_der(ec_der.as_bytes()),
        ed: EncodingKey::from_ed_der(ed_der.as_bytes()),
        rogue_rsa: EncodingKey::from_rsa_der(rogue.to_pkcs1_der()?.as_bytes()),
        jwks,
    })
}

/// A running test IdP.
pub struct TestIdp {
    /// `iss` of its tokens.
    pub issuer: String,
    /// `aud` of its tokens.
    pub audience: String,
    /// Shared secret for HS256.
    pub hs256_secret: String,
    /// Where its JWKS is served.
    pub jwks_url: String,
    fetches: Arc<AtomicUsize>,
    /// While true, JWKS requests wait (a slow or hung IdP).
    hold: tokio::sync::watch::Sender<bool>,
    /// JWKS requests waiting right now (dropped ones are no longer counted).
    waiting: Arc<AtomicUsize>,
    server: tokio::task::JoinHandle<()>,
}

/// Counts a JWKS request as waiting until it is answered or dropped.
struct Waiting(Arc<AtomicUsize>);

impl Waiting {
    fn enter(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Self(Arc::clone(count))
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Drop for TestIdp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

/// A random token id.
pub fn random_id() -> String {
    let mut b = [0u8; 16];
    // A failing OS random source makes every later check fail loudly anyway.
    let _ = getrandom::fill(&mut b);
    hex::encode(b)
}

impl TestIdp {
    /// Generate keys (once per process) and serve the JWKS on 127.0.0.1.
    pub async fn start() -> Result<Self, HarnessError> {
        let keys = keys()?;
        let fetches = Arc::new(AtomicUsize::new(0));
        let waiting = Arc::new(AtomicUsize::new(0));
        let (hold, held) = tokio::sync::watch::channel(false);
        let counter = Arc::clone(&fetches);
        let waiters = Arc::clone(&waiting);
        let jwks = keys.jwks.clone();
        let app = Router::new().route(
            "/jwks.json",
            get(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                let body = jwks.clone();
                let mut held = held.clone();
                let waiters = Arc::clone(&waiters);
                async move {
                    let _waiting = Waiting::enter(&waiters);
                    let _ = held.wait_for(|h| !*h).await;
                    axum::Json(body)
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            issuer: format!("https://idp.test/{}", random_id()),
            audience: "backup-codes".into(),
            hs256_secret: format!("hs256-test-secret-{}", random_id()),
            jwks_url: format!("http://{addr}/jwks.json"),
            fetches,
            hold,
            waiting,
            server,
        })
    }

    /// Make JWKS requests wait (`true`) or answer them (`false`).
    pub fn hold_jwks(&self, hold: bool) {
        self.hold.send_replace(hold);
    }

    /// JWKS requests waiting for an answer right now.
    pub fn jwks_waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    /// How many times the JWKS was fetched.
    pub fn jwks_fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    /// Tenant configuration that trusts this IdP with `alg`.
    pub fn tenant(&self, alg: Alg) -> backup_codes_shim::config::TenantConfig {
        backup_codes_shim::config::TenantConfig {
            issuer: self.issuer.clone(),
            audience: self.audience.clone(),
            algorithms: vec![alg.configured()],
            jwks_url: (alg != Alg::Hs256)
                .then(|| self.jwks_url.parse().ok())
                .flatten(),
            hs256_secret: (alg == Alg::Hs256)
                .then(|| secrecy::SecretString::from(self.hs256_secret.clone())),
            ..Default::default()
        }
    }

    /// The same as TOML, for a shim process's configuration file.
    pub fn tenant_toml(&self, id: &str, alg: Alg) -> String {
        let key = if alg == Alg::Hs256 {
            format!("hs256_secret = {:?}", self.hs256_secret)
        } else {
            format!("jwks_url = {:?}", self.jwks_url)
        };
        format!(
            "[tenants.{id}]\nissuer = {:?}\naudience = {:?}\nalgorithms = [{:?}]\n{key}\n",
            self.issuer,
            self.audience,
            alg.name()
        )
    }

    /// Good claims for `subject`: valid for two minutes, fresh `jti`.
    pub fn claims(&self, subject: &str) -> Value {
        let now = now();
        json!({
            "iss": self.issuer, "aud": self.audience, "sub": subject,
            "iat": now, "nbf": now, "exp": now + 120, "jti": random_id(),
        })
    }

    /// A good token for `subject`.
    pub fn token(&self, alg: Alg, subject: &str) -> String {
        self.sign(alg, &self.claims(subject))
    }

    /// Sign `claims` with the key for `alg` and its real `kid`.
    pub fn sign(&self, alg: Alg, claims: &Value) -> String {
        let mut header = Header::new(alg.jose());
        header.kid = match alg {
            Alg::Rs256 => Some("rsa-1".into()),
            Alg::Es256 => Some("ec-1".into()),
            Alg::EdDsa => Some("ed-1".into()),
            Alg::Hs256 => None,
        };
        self.sign_with(alg, &header, claims)
    }

    /// Sign with a given header (for attacks on `kid`, `jku`, `x5u`).
    pub fn sign_with(&self, alg: Alg, header: &Header, claims: &Value) -> String {
        let Ok(keys) = keys() else {
            return String::new();
        };
        let secret;
        let key = match alg {
            Alg::Rs256 => &keys.rsa,
            Alg::Es256 => &keys.ec,
            Alg::EdDsa => &keys.ed,
            Alg::Hs256 => {
                secret = EncodingKey::from_secret(self.hs256_secret.as_bytes());
                &secret
            }
        };
        jsonwebtoken::encode(header, claims, key).unwrap_or_default()
    }

    /// Hostile tokens, by name, for `subject` of a tenant pinned to `alg`.
    pub fn attacks(&self, alg: Alg, subject: &str) -> Vec<(&'static str, String)> {
        let Ok(keys) = keys() else {
            return Vec::new();
        };
        let good = self.claims(subject);
        let with = |f: &dyn Fn(&mut Value)| {
            let mut c = self.claims(subject);
            f(&mut c);
            c
        };
        let now = now();
        let mut out = vec![
            (
                "alg none",
                unsigned(&json!({"alg": "none", "typ": "JWT"}), &good),
            ),
            (
                "alg none lowercase kid",
                unsigned(&json!({"alg": "None", "kid": "rsa-1"}), &good),
            ),
            ("garbage", "not.a.jwt".to_owned()),
            (
                "expired",
                self.sign(
                    alg,
                    &with(&|c| {
                        c["exp"] = json!(now - 600);
                        c["iat"] = json!(now - 900);
                        c["nbf"] = json!(now - 900);
                    }),
                ),
            ),
            (
                "future nbf",
                self.sign(alg, &with(&|c| c["nbf"] = json!(now + 600))),
            ),
            (
                "wrong iss",
                self.sign(alg, &with(&|c| c["iss"] = json!("https://evil.test"))),
            ),
            (
                "wrong aud",
                self.sign(alg, &with(&|c| c["aud"] = json!("someone-else"))),
            ),
            (
                "wrong sub",
                self.sign(alg, &with(&|c| c["sub"] = json!("mallory"))),
            ),
            (
                "no jti",
                self.sign(
                    alg,
                    &with(&|c| {
                        c.as_object_mut().map(|m| m.remove("jti"));
                    }),
                ),
            ),
            (
                "lifetime too long",
                self.sign(alg, &with(&|c| c["exp"] = json!(now + 86_400))),
            ),
            (
                "tampered payload",
                tamper(&self.token(alg, subject), subject),
            ),
        ];
        let mut bad_sig = self.token(alg, subject);
        if let Some(last) = bad_sig.pop() {
            bad_sig.push(if last == 'A' { 'B' } else { 'A' });
        }
        out.push(("bad signature", bad_sig));
        if alg == Alg::Hs256 {
            let wrong_secret = EncodingKey::from_secret(b"not-the-shared-secret-at-all-000");
            out.push((
                "hs256 wrong secret",
                jsonwebtoken::encode(&Header::new(Algorithm::HS256), &good, &wrong_secret)
                    .unwrap_or_default(),
            ));
            out.push(("rs256 to hs tenant", self.sign(Alg::Rs256, &good)));
        } else {
            // HS/RS confusion: HMAC keyed with the RSA public key.
            let mut h = Header::new(Algorithm::HS256);
            h.kid = Some("rsa-1".into());
            let confused = jsonwebtoken::encode(
                &h,
                &good,
                &EncodingKey::from_secret(keys.rsa_public_pem.as_bytes()),
            )
            .unwrap_or_default();
            out.push(("hs256 keyed with rsa public key", confused));
            let mut elsewhere = Header::new(Algorithm::RS256);
            elsewhere.kid = Some("rogue-key".into());
            out.push((
                "kid not in jwks",
                jsonwebtoken::encode(&elsewhere, &good, &keys.rogue_rsa).unwrap_or_default(),
            ));
            let mut swapped = Header::new(Algorithm::RS256);
            swapped.kid = Some("rsa-1".into());
            out.push((
                "signed by a key not in jwks with a real kid",
                jsonwebtoken::encode(&swapped, &good, &keys.rogue_rsa).unwrap_or_default(),
            ));
            let mut jku = Header::new(Algorithm::RS256);
            jku.kid = Some("rogue-key".into());
            jku.jku = Some("http://127.0.0.1:1/evil-jwks.json".into());
            jku.x5u = Some("http://127.0.0.1:1/evil.pem".into());
            out.push((
                "jku and x5u pointing elsewhere",
                jsonwebtoken::encode(&jku, &good, &keys.rogue_rsa).unwrap_or_default(),
            ));
            let other = match alg {
                Alg::Rs256 => Alg::Es256,
                _ => Alg::Rs256,
            };
            out.push(("other pinned family", self.sign(other, &good)));
        }
        out
    }
}

fn unsigned(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}.",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string())
    )
}

/// Swap the payload of a signed token for another subject's, keeping the signature.
fn tamper(token: &str, subject: &str) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let Some(payload) = parts.get(1).and_then(|p| B64.decode(p).ok()) else {
        return token.to_owned();
    };
    let mut claims: Value = serde_json::from_slice(&payload).unwrap_or_default();
    claims["exp"] = json!(claims["exp"].as_u64().unwrap_or(0) + 60);
    claims["sub"] = json!(subject);
    format!(
        "{}.{}.{}",
        parts.first().copied().unwrap_or_default(),
        B64.encode(claims.to_string()),
        parts.get(2).copied().unwrap_or_default()
    )
}
