//! A new set's codes, sealed into the page's own token (the step's flow, a
//! self-service form token) so the page can show them again after a typo
//! while confirming, until the set is confirmed or the token ends.
//!
//! AES-256-GCM under a key derived for this purpose alone from the secret of
//! the token it travels in ([`step_key`], [`selfservice_key`]), a random
//! 96-bit nonce, and the token's context (the flow id, the self-service
//! session id) and the set id as associated data: a sealed list opens only in
//! the flow or session, and for the set, it was made for. The plaintext is
//! zeroized.

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::Mac as _;
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::http::views::codes::CodeRow;

const NONCE_BYTES: usize = 12;
/// Longest sealed list opened, bytes of base64 (64 codes of 64 characters).
const MAX_SEALED_BYTES: usize = 6 * 1024;

/// The sealing key of a tenant's step, from its `step_secret`.
pub fn step_key(tenant: &str, step_secret: &SecretString) -> Option<Zeroizing<[u8; 32]>> {
    let mut mac = <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(
        step_secret.expose_secret().as_bytes(),
    )
    .ok()?;
    mac.update(b"backup-codes-shim sealed codes v1\0");
    mac.update(tenant.as_bytes());
    Some(Zeroizing::new(mac.finalize().into_bytes().into()))
}

/// The sealing key of a tenant's self-service, from its `session_secret`.
pub fn selfservice_key(tenant: &str, secret: &SecretString) -> Option<Zeroizing<[u8; 32]>> {
    let mut mac =
        <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(secret.expose_secret().as_bytes())
            .ok()?;
    mac.update(b"backup-codes-shim/selfservice/sealed-codes v1\0");
    mac.update(tenant.as_bytes());
    Some(Zeroizing::new(mac.finalize().into_bytes().into()))
}

fn aad(context: &str, set: &str) -> Vec<u8> {
    [context.as_bytes(), b"\0", set.as_bytes()].concat()
}

/// Seal `codes` of the set issued at `issued_at` under `key` for a context
/// `fid` (a flow id, a session id) and the set `set` (`None` when the OS
/// random source or the cipher fails: the page then says the codes are not
/// shown again, as without sealing).
pub fn seal(
    key: &[u8; 32],
    fid: &str,
    set: &str,
    issued_at: i64,
    codes: &[CodeRow],
) -> Option<String> {
    // Room for every line up front: a growing string would leave copies of
    // codes behind in freed memory.
    let room = 24 + codes.iter().map(|c| c.code.len() + 6).sum::<usize>();
    let mut plain = Zeroizing::new(String::with_capacity(room));
    plain.push_str(&issued_at.to_string());
    plain.push('\n');
    for c in codes {
        plain.push_str(&c.number.to_string());
        plain.push(':');
        plain.push_str(&c.code);
        plain.push('\n');
    }
    let mut nonce = [0u8; NONCE_BYTES];
    crate::random::fill(&mut nonce).ok()?;
    let cipher = Aes256Gcm::new_from_slice(key.as_slice()).ok()?;
    let sealed = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plain.as_bytes(),
                aad: &aad(fid, set),
            },
        )
        .ok()?;
    Some(URL_SAFE_NO_PAD.encode([nonce.as_slice(), &sealed].concat()))
}

/// The issue time and codes sealed under `key` for this context and set
/// (`None`: damaged, or made for another key, context or set).
pub fn open(key: &[u8; 32], fid: &str, set: &str, sealed: &str) -> Option<(i64, Vec<CodeRow>)> {
    if sealed.len() > MAX_SEALED_BYTES {
        return None;
    }
    let raw = URL_SAFE_NO_PAD.decode(sealed).ok()?;
    let (nonce, body) = raw.split_at_checked(NONCE_BYTES)?;
    let cipher = Aes256Gcm::new_from_slice(key.as_slice()).ok()?;
    let plain = Zeroizing::new(
        cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: &aad(fid, set),
                },
            )
            .ok()?,
    );
    let text = std::str::from_utf8(&plain).ok()?;
    let mut lines = text.lines();
    let issued_at = lines.next()?.parse().ok()?;
    let rows = lines
        .map(|line| {
            let (n, code) = line.split_once(':')?;
            Some(CodeRow {
                number: n.parse().ok()?,
                code: code.to_owned(),
            })
        })
        .collect::<Option<Vec<_>>>()?;
    Some((issued_at, rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_codes_open_only_in_their_flow_for_their_set() {
        let secret = SecretString::from("k".repeat(32));
        let other_secret = SecretString::from("j".repeat(32));
        let rows = || {
            vec![
                CodeRow {
                    number: 1,
                    code: "ABCD-EFGH".into(),
                },
                CodeRow {
                    number: 2,
                    code: "JKMN-PQRS".into(),
                },
            ]
        };
        let key = step_key("acme", &secret).unwrap();
        let sealed = seal(&key, "fid", "set-1", 1_800_000_000, &rows()).unwrap();
        assert!(!sealed.contains("ABCD"));
        let (issued_at, opened) = open(&key, "fid", "set-1", &sealed).unwrap();
        assert_eq!(issued_at, 1_800_000_000);
        assert_eq!(
            opened
                .iter()
                .map(|r| (r.number, r.code.as_str()))
                .collect::<Vec<_>>(),
            vec![(1, "ABCD-EFGH"), (2, "JKMN-PQRS")]
        );
        assert!(open(&key, "other-flow", "set-1", &sealed).is_none());
        assert!(open(&key, "fid", "set-2", &sealed).is_none());
        assert!(
            open(
                &step_key("acme", &other_secret).unwrap(),
                "fid",
                "set-1",
                &sealed
            )
            .is_none()
        );
        assert!(open(&step_key("beta", &secret).unwrap(), "fid", "set-1", &sealed).is_none());
        // The self-service's key is another one, even over the same secret.
        let own = selfservice_key("acme", &secret).unwrap();
        assert!(open(&own, "fid", "set-1", &sealed).is_none());
        let mut tampered = sealed.into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        assert!(open(&key, "fid", "set-1", &String::from_utf8(tampered).unwrap()).is_none());
    }
}
