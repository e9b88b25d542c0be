//! Standard Webhooks v1 signatures: HMAC-SHA256 over `"{id}.{timestamp}.{body}"`
//! with the decoded bytes of a `whsec_` secret, sent as `v1,<base64>`; during a
//! secret's rotation the header lists one signature per secret, separated by
//! spaces, and a receiver accepts a message when any of them verifies.
//!
//! Padded standard base64 throughout: the npm library compares base64 strings,
//! so an unpadded or URL-safe signature would not verify there.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use hmac::Mac as _;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// The prefix of a secret's text.
const PREFIX: &str = "whsec_";
/// Shortest and longest secret the specification allows, bytes.
const SECRET_BYTES: std::ops::RangeInclusive<usize> = 24..=64;
/// Standard base64, with or without its padding (secrets are shown both ways).
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

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
    /// The secret `whsec_<base64>` names; strictly decoded, so a mistyped
    /// character is an error rather than a shorter key.
    pub fn parse(text: &str) -> Result<Self, SecretError> {
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

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> Option<[u8; 32]> {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.0).ok()?;
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        Some(mac.finalize().into_bytes().into())
    }
}

/// The `webhook-signature` header of a message: one `v1,<base64>` per secret,
/// the current one first, separated by spaces.
pub fn signature_header(
    id: &str,
    timestamp: i64,
    body: &[u8],
    secrets: &[&WebhookSecret],
) -> String {
    secrets
        .iter()
        .filter_map(|s| s.mac(id, timestamp, body))
        .map(|mac| format!("v1,{}", STANDARD.encode(mac)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether any `v1` signature of `header` is `secret`'s for this message
/// (compared in constant time; other versions are skipped).
pub fn verify(header: &str, id: &str, timestamp: i64, body: &[u8], secret: &WebhookSecret) -> bool {
    let Some(expected) = secret.mac(id, timestamp, body) else {
        return false;
    };
    header.split(' ').any(|entry| {
        entry
            .strip_prefix("v1,")
            .and_then(|b64| STANDARD.decode(b64).ok())
            .is_some_and(|got| bool::from(got.as_slice().ct_eq(&expected)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The specification's own test vector (its libraries' tests).
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1_614_265_330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    #[test]
    fn the_specifications_vector_signs_and_verifies() {
        let secret = WebhookSecret::parse(SECRET).unwrap();
        assert_eq!(signature_header(ID, TS, BODY, &[&secret]), SIGNATURE);
        assert!(verify(SIGNATURE, ID, TS, BODY, &secret));
        assert!(!verify(SIGNATURE, ID, TS + 1, BODY, &secret));
        assert!(!verify(SIGNATURE, "msg_other", TS, BODY, &secret));
        assert!(!verify(
            SIGNATURE,
            ID,
            TS,
            br#"{"test": 2432232315}"#,
            &secret
        ));
        assert!(!verify(
            "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
            ID,
            TS,
            BODY,
            &secret
        ));
        assert_eq!(format!("{secret:?}"), "WebhookSecret([REDACTED])");
    }

    #[test]
    fn during_rotation_either_secret_verifies() {
        let current =
            WebhookSecret::parse(&format!("{PREFIX}{}", STANDARD.encode([7u8; 32]))).unwrap();
        let previous = WebhookSecret::parse(SECRET).unwrap();
        let other =
            WebhookSecret::parse(&format!("{PREFIX}{}", STANDARD.encode([9u8; 32]))).unwrap();
        let header = signature_header(ID, TS, BODY, &[&current, &previous]);
        assert_eq!(header.split(' ').count(), 2);
        assert!(header.ends_with(SIGNATURE));
        assert!(verify(&header, ID, TS, BODY, &current));
        assert!(verify(&header, ID, TS, BODY, &previous));
        assert!(!verify(&header, ID, TS, BODY, &other));
        assert!(current.same_as(&current.clone()) && !current.same_as(&previous));
    }

    /// A rotation header, against the signatures PyPI `standardwebhooks`
    /// 1.1.0 makes (`Webhook(secret).sign(id, datetime, body)`, printed once).
    #[test]
    fn a_rotation_header_matches_the_python_library() {
        let current =
            WebhookSecret::parse("whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").unwrap();
        let previous =
            WebhookSecret::parse("whsec_BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBw==")
                .unwrap();
        let body = br#"{"data":{"event":"used","number":3},"type":"backup_codes.used"}"#;
        let header = signature_header(
            "msg_0123456789abcdef0123456789abcdef",
            1_800_000_000,
            body,
            &[&current, &previous],
        );
        assert_eq!(
            header,
            "v1,G5P7tqj6stDRGN/Zh3MFbB96az6g8iBBzDsd0QkEbEc= v1,Qv/CYd/dT8zPzfpptvAreP0d0/3yAKipQtHhHIrFm0Y="
        );
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
        let long = format!("{PREFIX}{}", STANDARD.encode([1u8; 65]));
        assert_eq!(
            WebhookSecret::parse(&long).unwrap_err(),
            SecretError::Length(65)
        );
        // Padding is optional, as the libraries accept both.
        let padded = format!("{PREFIX}{}", STANDARD.encode([3u8; 25]));
        assert!(padded.ends_with('='));
        assert!(WebhookSecret::parse(&padded).is_ok());
        assert!(WebhookSecret::parse(padded.trim_end_matches('=')).is_ok());
    }
}
