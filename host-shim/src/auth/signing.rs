//! The step-up provider's own RS256 signing keys: one ring per tenant, kept in
//! the store, published as a JWKS with a self-signed certificate per key.
//!
//! # Schedule
//!
//! Keys are numbered by `slot`. The first key signs from the moment it is
//! made; every later key is made as soon as its predecessor signs, published at
//! once, and signs from `max(predecessor start + rotation, made + publish)`
//! (Entra refreshes its copy of the keys daily and asks for two days). So the
//! JWKS always holds the current key and the next one. A key that has been
//! replaced stays published until every token it signed has expired (the ID
//! token lifetime, the leeway and one refresh interval after its successor
//! started), then it is deleted.
//!
//! # Instances
//!
//! Every instance refreshes its ring from the store (at start and then every
//! minute) and computes the same schedule from the same rows. A new key is
//! stored insert-if-absent on `(tenant, slot)`: when two instances make the
//! same slot at once, one row wins and both read it back, so they never sign
//! with different keys for one slot.
//!
//! # At rest
//!
//! The private key (PKCS#1 DER) is sealed with AES-256-GCM under a key derived
//! from the tenant's secret (HMAC-SHA-256 with a label of its own), with the
//! tenant, slot and key id as associated data: a row moved to another tenant or
//! slot does not open. A key that does not open is an error, never a reason to
//! make a new one silently.

use std::str::FromStr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::Mac as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs1::{DecodeRsaPrivateKey as _, EncodeRsaPrivateKey as _};
use rsa::traits::PublicKeyParts as _;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde_json::{Value, json};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use x509_cert::builder::{Builder as _, CertificateBuilder, Profile};
use x509_cert::der::Encode as _;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::SubjectPublicKeyInfoOwned;
use x509_cert::time::{Time, Validity};
use zeroize::Zeroizing;

use crate::config::StepUpConfig;
use crate::store::{OpKeyRow, Store, StoreError};

/// How often instances refresh their rings (and so how late a scheduled key
/// may start signing), seconds.
pub const REFRESH_INTERVAL: i64 = 60;
/// Lifetime of the self-signed certificates, seconds (ten years: they only
/// carry the key; nobody checks a chain).
const CERT_LIFETIME: u64 = 10 * 365 * 86_400;
/// Length of the AES-GCM nonce in front of a sealed key.
const NONCE_BYTES: usize = 12;

/// Why the signing keys cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored key does not open with this instance's secret (another secret,
    /// or a row changed or moved).
    #[error("the stored signing key {0} does not open with this tenant's key secret")]
    Unsealing(String),
    /// A stored key or certificate is not readable.
    #[error("the stored signing key {0} is damaged")]
    Damaged(String),
    /// Making a key failed (the OS random source, the RSA or X.509 encoders).
    #[error("making a signing key failed: {0}")]
    Generation(String),
    /// The ring has no key (refresh never succeeded).
    #[error("no signing key is available")]
    NoKey,
}

/// When keys sign and retire, from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    /// RSA modulus size of new keys.
    pub bits: usize,
    /// How long a key signs before the next takes over, seconds.
    pub rotation: i64,
    /// How long a new key is published before it signs, seconds.
    pub publish: i64,
    /// How long a replaced key stays published after its successor started
    /// signing, seconds (token lifetime + leeway + one refresh interval).
    pub retire_after: i64,
}

impl Schedule {
    /// The schedule of a tenant's step-up configuration.
    pub fn new(c: &StepUpConfig, leeway_seconds: u64) -> Self {
        let ttl = i64::try_from(c.id_token_ttl_seconds).unwrap_or(3600);
        let leeway = i64::try_from(leeway_seconds).unwrap_or(300);
        Self {
            bits: c.key_bits,
            rotation: i64::from(c.key_rotation_days) * 86_400,
            publish: i64::from(c.key_publish_hours) * 3600,
            retire_after: ttl + leeway + REFRESH_INTERVAL,
        }
    }
}

/// One usable key.
pub struct SigningKey {
    /// Its slot.
    pub slot: i64,
    /// Its key id.
    pub kid: String,
    /// From when it signs.
    pub activates_at: i64,
    /// Until when it is published (set once its successor is known).
    pub published_until: Option<i64>,
    encoding: EncodingKey,
    /// Its JWKS entry.
    pub jwk: Value,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("slot", &self.slot)
            .field("kid", &self.kid)
            .field("activates_at", &self.activates_at)
            .field("published_until", &self.published_until)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Sign `claims` as an RS256 JWT with this key's `kid`.
    pub fn sign(&self, claims: &impl Serialize) -> Result<String, KeyError> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        header.typ = Some("JWT".into());
        jsonwebtoken::encode(&header, claims, &self.encoding)
            .map_err(|e| KeyError::Generation(e.to_string()))
    }
}

/// The keys of one tenant as last read from the store.
#[derive(Debug, Default)]
pub struct Ring {
    /// By slot, oldest first.
    pub keys: Vec<Arc<SigningKey>>,
}

impl Ring {
    /// The key that signs at `now`: the latest one started.
    pub fn signer(&self, now: i64) -> Option<Arc<SigningKey>> {
        self.keys
            .iter()
            .rev()
            .find(|k| k.activates_at <= now)
            .or_else(|| self.keys.first())
            .cloned()
    }

    /// The JWKS at `now`: every key not yet retired.
    pub fn jwks(&self, now: i64) -> Value {
        let keys: Vec<&Value> = self
            .keys
            .iter()
            .filter(|k| k.published_until.is_none_or(|until| until > now))
            .map(|k| &k.jwk)
            .collect();
        json!({ "keys": keys })
    }
}

/// A tenant's signing keys.
pub struct KeyRing {
    tenant: String,
    schedule: Schedule,
    seal: Zeroizing<[u8; 32]>,
    current: RwLock<Arc<Ring>>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("tenant", &self.tenant)
            .field("schedule", &self.schedule)
            .finish_non_exhaustive()
    }
}

/// The sealing key of a tenant: HMAC-SHA-256 of the tenant id under its secret,
/// with a label used for nothing else.
fn sealing_key(tenant: &str, secret: &SecretString) -> Result<Zeroizing<[u8; 32]>, KeyError> {
    let mut mac =
        <hmac::Hmac<Sha256> as hmac::Mac>::new_from_slice(secret.expose_secret().as_bytes())
            .map_err(|_| KeyError::Generation("the key secret cannot key HMAC".into()))?;
    mac.update(b"backup-codes-shim op signing key sealing v1\0");
    mac.update(tenant.as_bytes());
    Ok(Zeroizing::new(mac.finalize().into_bytes().into()))
}

fn aad(tenant: &str, slot: i64, kid: &str) -> Vec<u8> {
    format!("backup-codes-shim op key|{tenant}|{slot}|{kid}").into_bytes()
}

fn now_secs() -> i64 {
    i64::try_from(jsonwebtoken::get_current_timestamp()).unwrap_or(i64::MAX)
}

impl KeyRing {
    /// The ring of `tenant`, sealed under `secret` (nothing read yet).
    pub fn new(tenant: &str, secret: &SecretString, schedule: Schedule) -> Result<Self, KeyError> {
        Ok(Self {
            tenant: tenant.to_owned(),
            schedule,
            seal: sealing_key(tenant, secret)?,
            current: RwLock::new(Arc::new(Ring::default())),
        })
    }

    /// The keys as last refreshed.
    pub fn ring(&self) -> Arc<Ring> {
        self.current
            .read()
            .map(|g| Arc::clone(&g))
            .unwrap_or_default()
    }

    /// The key that signs now.
    pub fn signer(&self) -> Result<Arc<SigningKey>, KeyError> {
        self.ring().signer(now_secs()).ok_or(KeyError::NoKey)
    }

    /// The published keys now.
    pub fn jwks(&self) -> Value {
        self.ring().jwks(now_secs())
    }

    /// Bring the stored keys up to the schedule at `now` (make the first or the
    /// next key, delete retired ones) and read them into the ring.
    pub async fn refresh(&self, store: &Store, now: i64) -> Result<Arc<Ring>, KeyError> {
        let mut rows = store.op_keys(&self.tenant).await?;
        if rows.is_empty() {
            let first = self.make(0, now, now).await?;
            store.insert_op_key(&self.tenant, &first).await?;
            rows = store.op_keys(&self.tenant).await?;
        }
        let current = current_index(&rows, now);
        if current + 1 == rows.len()
            && let Some(cur) = rows.get(current)
        {
            let starts = cur
                .activates_at
                .saturating_add(self.schedule.rotation)
                .max(now.saturating_add(self.schedule.publish));
            let next = self.make(cur.slot + 1, now, starts).await?;
            store.insert_op_key(&self.tenant, &next).await?;
            rows = store.op_keys(&self.tenant).await?;
        }
        // Keys whose successor started long enough ago to outlive their tokens.
        let mut kept = Vec::with_capacity(rows.len());
        for (i, row) in rows.iter().enumerate() {
            let retired = rows.get(i + 1).is_some_and(|next| {
                next.activates_at <= now
                    && next.activates_at.saturating_add(self.schedule.retire_after) <= now
            });
            if retired {
                store.delete_op_key(&self.tenant, row.slot).await?;
                tracing::info!(tenant = %self.tenant, kid = %row.kid, "retired a step-up signing key");
            } else {
                kept.push(row.clone());
            }
        }
        let mut keys = Vec::with_capacity(kept.len());
        for (i, row) in kept.iter().enumerate() {
            let until = kept
                .get(i + 1)
                .map(|next| next.activates_at.saturating_add(self.schedule.retire_after));
            keys.push(Arc::new(self.open(row, until)?));
        }
        let ring = Arc::new(Ring { keys });
        if let Ok(mut g) = self.current.write() {
            *g = Arc::clone(&ring);
        }
        Ok(ring)
    }

    /// Make the key of `slot`, signing from `activates_at`.
    async fn make(&self, slot: i64, now: i64, activates_at: i64) -> Result<OpKeyRow, KeyError> {
        let bits = self.schedule.bits;
        let tenant = self.tenant.clone();
        let seal = self.seal.clone();
        tokio::task::spawn_blocking(move || generate(&tenant, &seal, bits, slot, now, activates_at))
            .await
            .map_err(|e| KeyError::Generation(e.to_string()))?
    }

    /// Open a stored key.
    fn open(&self, row: &OpKeyRow, published_until: Option<i64>) -> Result<SigningKey, KeyError> {
        let (nonce, sealed) = row
            .sealed
            .split_at_checked(NONCE_BYTES)
            .ok_or_else(|| KeyError::Damaged(row.kid.clone()))?;
        let cipher = Aes256Gcm::new_from_slice(self.seal.as_slice())
            .map_err(|_| KeyError::Damaged(row.kid.clone()))?;
        let der = Zeroizing::new(
            cipher
                .decrypt(
                    Nonce::from_slice(nonce),
                    Payload {
                        msg: sealed,
                        aad: &aad(&self.tenant, row.slot, &row.kid),
                    },
                )
                .map_err(|_| KeyError::Unsealing(row.kid.clone()))?,
        );
        let private = rsa::RsaPrivateKey::from_pkcs1_der(&der)
            .map_err(|_| KeyError::Damaged(row.kid.clone()))?;
        let jwk = jwk(&private.to_public_key(), &row.cert);
        if jwk["kid"].as_str() != Some(row.kid.as_str()) {
            return Err(KeyError::Damaged(row.kid.clone()));
        }
        Ok(SigningKey {
            slot: row.slot,
            kid: row.kid.clone(),
            activates_at: row.activates_at,
            published_until,
            encoding: EncodingKey::from_rsa_der(&der),
            jwk,
        })
    }
}

/// The index of the key that signs at `now` in `rows` (ordered by slot).
fn current_index(rows: &[OpKeyRow], now: i64) -> usize {
    rows.iter()
        .rposition(|r| r.activates_at <= now)
        .unwrap_or(0)
}

/// The JWKS entry of a key and its certificate; the `kid` is the certificate's
/// SHA-1 thumbprint (`x5t`), base64url, the same string in tokens and JWKS.
fn jwk(public: &rsa::RsaPublicKey, cert: &[u8]) -> Value {
    let x5t = URL_SAFE_NO_PAD.encode(Sha1::digest(cert));
    json!({
        "kty": "RSA",
        "use": "sig",
        "alg": "RS256",
        "kid": x5t,
        "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
        "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
        "x5c": [STANDARD.encode(cert)],
        "x5t": x5t,
        "x5t#S256": URL_SAFE_NO_PAD.encode(Sha256::digest(cert)),
    })
}

fn gen_err(e: impl std::fmt::Display) -> KeyError {
    KeyError::Generation(e.to_string())
}

/// A new key with its self-signed certificate, sealed.
fn generate(
    tenant: &str,
    seal: &[u8; 32],
    bits: usize,
    slot: i64,
    now: i64,
    activates_at: i64,
) -> Result<OpKeyRow, KeyError> {
    let mut rng = crate::random::generator();
    let private = rsa::RsaPrivateKey::new(&mut rng, bits).map_err(gen_err)?;
    let cert = certificate(tenant, slot, &private, now)?;
    let kid = URL_SAFE_NO_PAD.encode(Sha1::digest(&cert));
    let der = private.to_pkcs1_der().map_err(gen_err)?;
    let mut nonce = [0u8; NONCE_BYTES];
    crate::random::fill(&mut nonce).map_err(gen_err)?;
    let cipher = Aes256Gcm::new_from_slice(seal).map_err(gen_err)?;
    let sealed = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: der.as_bytes(),
                aad: &aad(tenant, slot, &kid),
            },
        )
        .map_err(gen_err)?;
    Ok(OpKeyRow {
        slot,
        kid,
        created_at: now,
        activates_at,
        sealed: [nonce.as_slice(), sealed.as_slice()].concat(),
        cert,
    })
}

/// A self-signed certificate for the key (the JWKS `x5c`, which Entra requires).
fn certificate(
    tenant: &str,
    slot: i64,
    private: &rsa::RsaPrivateKey,
    now: i64,
) -> Result<Vec<u8>, KeyError> {
    let signer = rsa::pkcs1v15::SigningKey::<Sha256>::new(private.clone());
    let spki = SubjectPublicKeyInfoOwned::from_key(private.to_public_key()).map_err(gen_err)?;
    let mut serial = [0u8; 16];
    crate::random::fill(&mut serial).map_err(gen_err)?;
    serial[0] &= 0x7f;
    serial[0] |= 0x01;
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(now).unwrap_or(0));
    let validity = Validity {
        not_before: Time::try_from(start).map_err(gen_err)?,
        not_after: Time::try_from(start + Duration::from_secs(CERT_LIFETIME)).map_err(gen_err)?,
    };
    // Tenant ids are [A-Za-z0-9_-]: nothing to escape in the name.
    let subject = Name::from_str(&format!(
        "CN=backup-codes step-up signing key {slot},OU={tenant}"
    ))
    .map_err(gen_err)?;
    let builder = CertificateBuilder::new(
        Profile::Root,
        SerialNumber::new(&serial).map_err(gen_err)?,
        validity,
        subject,
        spki,
        &signer,
    )
    .map_err(gen_err)?;
    let cert = builder
        .build::<rsa::pkcs1v15::Signature>()
        .map_err(gen_err)?;
    cert.to_der().map_err(gen_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_seals_opens_and_publishes_a_matching_certificate() {
        let secret = SecretString::from("k".repeat(32));
        let schedule = Schedule {
            bits: 2048,
            rotation: 86_400,
            publish: 3600,
            retire_after: 600,
        };
        let ring = KeyRing::new("acme", &secret, schedule).unwrap();
        let row = generate("acme", &ring.seal, 2048, 3, 1_800_000_000, 1_800_000_000).unwrap();
        let key = ring.open(&row, None).unwrap();
        assert_eq!(key.jwk["kid"], key.jwk["x5t"]);
        assert_eq!(key.jwk["x5c"][0], STANDARD.encode(&row.cert));
        // The certificate carries the published modulus.
        let n = URL_SAFE_NO_PAD
            .decode(key.jwk["n"].as_str().unwrap())
            .unwrap();
        assert!(row.cert.windows(n.len()).any(|w| w == n.as_slice()));
        // Another tenant's ring, another secret, another slot: it does not open.
        let other = KeyRing::new("other", &secret, schedule).unwrap();
        assert!(matches!(
            other.open(&row, None),
            Err(KeyError::Unsealing(_))
        ));
        let wrong = KeyRing::new("acme", &SecretString::from("x".repeat(32)), schedule).unwrap();
        assert!(matches!(
            wrong.open(&row, None),
            Err(KeyError::Unsealing(_))
        ));
        let moved = OpKeyRow { slot: 4, ..row };
        assert!(matches!(
            ring.open(&moved, None),
            Err(KeyError::Unsealing(_))
        ));
    }
}
