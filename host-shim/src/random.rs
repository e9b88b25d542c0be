//! Random values from the operating system's source, in one place: every
//! token, secret, nonce and id the shim makes is drawn here.
//!
//! A failing source is an error ([`SourceFailed`]); the caller decides what
//! that means (a refused request, a failed start). Nothing here falls back to
//! a weaker source.

use base64::Engine as _;
use zeroize::Zeroizing;

/// The operating system's random source failed.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the operating system's random source failed")]
pub struct SourceFailed;

/// Fills `buf` from the OS source.
pub fn fill(buf: &mut [u8]) -> Result<(), SourceFailed> {
    getrandom::fill(buf).map_err(|_| SourceFailed)
}

/// The same OS source as a `rand_core` 0.6 generator, for a library that
/// draws through one (RSA key generation). Its infallible `fill_bytes` panics
/// if the source fails, so a key is never made from weak randomness; callers
/// run it where a panic ends only that task.
pub fn generator() -> rand_core_06::OsRng {
    rand_core_06::OsRng
}

/// `n` random bytes, wiped when dropped.
pub fn bytes(n: usize) -> Result<Zeroizing<Vec<u8>>, SourceFailed> {
    let mut raw = Zeroizing::new(vec![0u8; n]);
    fill(&mut raw)?;
    Ok(raw)
}

/// `n` random bytes as URL-safe base64 without padding: tokens, states,
/// secrets that travel in URLs, cookies and forms.
pub fn token(n: usize) -> Result<String, SourceFailed> {
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes(n)?.as_slice()))
}

/// `n` random bytes as a URL-safe base64 secret (keys, peppers, `jti`s).
pub fn secret(n: usize) -> Result<secrecy::SecretString, SourceFailed> {
    token(n).map(secrecy::SecretString::from)
}

/// `n` random bytes as standard, padded base64 (the Standard Webhooks
/// secret format).
pub fn standard_base64(n: usize) -> Result<String, SourceFailed> {
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes(n)?.as_slice()))
}

/// `n` random bytes as lower-case hex: ids (requests, events, leases).
pub fn hex(n: usize) -> Result<String, SourceFailed> {
    Ok(hex::encode(bytes(n)?.as_slice()))
}

/// A random `u64` (the component's `wasi:random` source).
pub fn u64() -> Result<u64, SourceFailed> {
    let mut raw = [0u8; 8];
    fill(&mut raw)?;
    Ok(u64::from_le_bytes(raw))
}

/// A uniform draw in `[0, 1)` (53 random bits, exact in an `f64`).
pub fn unit() -> Result<f64, SourceFailed> {
    Ok((u64()? >> 11) as f64 / (1u64 << 53) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_and_alphabets() {
        let t = token(32).unwrap();
        assert_eq!(t.len(), 43);
        assert!(
            t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        let h = hex(16).unwrap();
        assert_eq!(h.len(), 32);
        assert!(h.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(standard_base64(32).unwrap().len(), 44);
        assert_ne!(token(32).unwrap(), token(32).unwrap());
        let u = unit().unwrap();
        assert!((0.0..1.0).contains(&u));
    }
}
