//! Standard Webhooks v1 signatures: HMAC-SHA256 over `"{id}.{timestamp}.{body}"`
//! with the decoded bytes of a `whsec_` secret, sent as `v1,<base64>`; during a
//! secret's rotation the header lists one signature per secret, separated by
//! spaces, and a receiver accepts a message when any of them verifies.
//!
//! Padded standard base64 throughout: the npm library compares base64 strings,
//! so an unpadded or URL-safe signature would not verify there.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::Mac as _;
use subtle::ConstantTimeEq;

pub use crate::config::{SecretError, WebhookSecret};

/// The HMAC of a message under `secret`.
fn mac(secret: &WebhookSecret, id: &str, timestamp: i64, body: &[u8]) -> Option<[u8; 32]> {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.expose_key()).ok()?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(mac.finalize().into_bytes().into())
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
        .filter_map(|s| mac(s, id, timestamp, body))
        .map(|mac| format!("v1,{}", STANDARD.encode(mac)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether any `v1` signature of `header` is `secret`'s for this message
/// (compared in constant time; other versions are skipped).
pub fn verify(header: &str, id: &str, timestamp: i64, body: &[u8], secret: &WebhookSecret) -> bool {
    let Some(expected) = mac(secret, id, timestamp, body) else {
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
            WebhookSecret::parse(&format!("whsec_{}", STANDARD.encode([7u8; 32]))).unwrap();
        let previous = WebhookSecret::parse(SECRET).unwrap();
        let other = WebhookSecret::parse(&format!("whsec_{}", STANDARD.encode([9u8; 32]))).unwrap();
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
}
