//! The credential value: versioned, serde-encoded, digests only.
//!
//! Layout: the four bytes `BKC1` (format), a big-endian `u16` version, then the
//! postcard encoding of [`Credential`] for that version. Decoding checks every
//! invariant, so a corrupt value is an error, never a panic or a wrong answer.
#![forbid(unsafe_code)]

use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::alphabet::{MAX_SYMBOLS, encode_base32};
use crate::policy::{HashParams, MAX_CONSECUTIVE_FAILURES, MAX_COUNT, MIN_SYMBOLS};

/// Format marker at the start of every credential value.
pub const MAGIC: &[u8; 4] = b"BKC1";
/// The version this plugin writes.
pub const VERSION: u16 = 1;
/// Largest credential value accepted (two full sets take about 6 KiB).
pub const MAX_ENCODED_LEN: usize = 64 * 1024;
/// Digest length in bytes.
pub const DIGEST_LEN: usize = 32;
/// Salt length in bytes.
pub const SALT_LEN: usize = 16;
/// Set id length in bytes (80 bits, 16 base32 symbols).
pub const SET_ID_LEN: usize = 10;

/// One code of a set: its digest and when it was used.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeEntry {
    /// argon2id(code, set salt, set params, pepper).
    pub digest: [u8; DIGEST_LEN],
    /// When it was used, seconds since the epoch.
    pub used_at: Option<u64>,
}

/// One issued set of codes.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeSet {
    /// Random id.
    pub id: [u8; SET_ID_LEN],
    /// When issued.
    pub issued_at: u64,
    /// When activated (None while pending).
    pub activated_at: Option<u64>,
    /// Random symbols per code.
    pub symbols: u8,
    /// Argon2id parameters the digests were made with.
    pub hash: HashParams,
    /// Per-set random salt.
    pub salt: [u8; SALT_LEN],
    /// Length of the pepper the digests were made with (0: none).
    pub pepper_len: u8,
    /// The codes, in number order.
    pub codes: Vec<CodeEntry>,
    /// Consecutive failed attempts.
    pub failures: u32,
    /// Attempts refused until then.
    pub locked_until: Option<u64>,
    /// Attempts refused until a new set replaces this one.
    pub locked_permanently: bool,
}

impl core::fmt::Debug for CodeSet {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Digests and salt stay out of Debug output.
        f.debug_struct("CodeSet")
            .field("id", &self.id_text())
            .field("issued_at", &self.issued_at)
            .field("activated_at", &self.activated_at)
            .field("codes", &self.codes.len())
            .field("remaining", &self.remaining())
            .field("failures", &self.failures)
            .finish_non_exhaustive()
    }
}

impl CodeSet {
    /// The set id as text.
    pub fn id_text(&self) -> alloc::string::String {
        encode_base32(&self.id)
    }

    /// The first four symbols of the set id, shown beside codes.
    pub fn fingerprint(&self) -> alloc::string::String {
        let mut id = self.id_text();
        id.truncate(4);
        id
    }

    /// Unused codes.
    pub fn remaining(&self) -> u8 {
        let unused = self.codes.iter().filter(|c| c.used_at.is_none()).count();
        u8::try_from(unused).unwrap_or(u8::MAX)
    }

    /// The lowest unused code number (from 1).
    pub fn next_number(&self) -> Option<u8> {
        let index = self.codes.iter().position(|c| c.used_at.is_none())?;
        u8::try_from(index + 1).ok()
    }

    fn is_well_formed(&self) -> bool {
        let count_ok = (1..=usize::from(MAX_COUNT)).contains(&self.codes.len());
        let symbols_ok = (MIN_SYMBOLS..=MAX_SYMBOLS).contains(&self.symbols);
        let pepper_ok = self.pepper_len <= 64;
        let failures_ok = self.failures <= MAX_CONSECUTIVE_FAILURES;
        count_ok && symbols_ok && pepper_ok && failures_ok && self.hash.validate().is_ok()
    }
}

/// Everything kept for one subject: the active set and a set waiting for activation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credential {
    /// The set logins are checked against.
    pub active: Option<CodeSet>,
    /// A newly issued set waiting for proof of saving.
    pub pending: Option<CodeSet>,
}

/// Why a credential value could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// Corrupt, truncated, oversized or inconsistent.
    Malformed,
    /// Written by a newer format version.
    UnsupportedVersion(u16),
}

impl Credential {
    /// Encode to the stored form.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_be_bytes());
        // Serialising plain structs into a Vec cannot fail; keep the header alone
        // (which then fails to decode) rather than panic if it ever did.
        if let Ok(body) = postcard::to_allocvec(self) {
            out.extend_from_slice(&body);
        }
        out
    }

    /// Decode and check a stored value.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        if bytes.len() > MAX_ENCODED_LEN {
            return Err(DecodeError::Malformed);
        }
        let (magic, rest) = bytes.split_at_checked(4).ok_or(DecodeError::Malformed)?;
        if magic != MAGIC {
            return Err(DecodeError::Malformed);
        }
        let (version, body) = rest.split_at_checked(2).ok_or(DecodeError::Malformed)?;
        let version = u16::from_be_bytes([version[0], version[1]]);
        match version {
            VERSION => {}
            0 => return Err(DecodeError::Malformed),
            newer => return Err(DecodeError::UnsupportedVersion(newer)),
        }
        let (credential, trailing): (Self, _) =
            postcard::take_from_bytes(body).map_err(|_| DecodeError::Malformed)?;
        let sets_ok = credential
            .active
            .iter()
            .chain(credential.pending.iter())
            .all(CodeSet::is_well_formed);
        let active_ok = credential
            .active
            .as_ref()
            .is_none_or(|s| s.activated_at.is_some());
        let pending_ok = credential.pending.as_ref().is_none_or(|s| {
            s.activated_at.is_none() && s.codes.iter().all(|c| c.used_at.is_none())
        });
        if !trailing.is_empty() || !sets_ok || !active_ok || !pending_ok {
            return Err(DecodeError::Malformed);
        }
        Ok(credential)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use alloc::vec;
    use proptest::prelude::*;

    pub(crate) fn sample_set(n: usize) -> CodeSet {
        CodeSet {
            id: [7; SET_ID_LEN],
            issued_at: 1_700_000_000,
            activated_at: Some(1_700_000_100),
            symbols: 13,
            hash: HashParams::RECOMMENDED,
            salt: [1; SALT_LEN],
            pepper_len: 0,
            codes: (0..n)
                .map(|i| CodeEntry {
                    digest: [u8::try_from(i).unwrap(); DIGEST_LEN],
                    used_at: None,
                })
                .collect(),
            failures: 0,
            locked_until: None,
            locked_permanently: false,
        }
    }

    #[test]
    fn bad_values_are_typed_errors() {
        let good = Credential {
            active: Some(sample_set(10)),
            pending: None,
        }
        .encode();
        assert!(Credential::decode(&good).is_ok());
        assert_eq!(Credential::decode(&[]), Err(DecodeError::Malformed));
        assert_eq!(
            Credential::decode(b"not a credential"),
            Err(DecodeError::Malformed)
        );
        assert_eq!(
            Credential::decode(&good[..good.len() - 3]),
            Err(DecodeError::Malformed)
        );
        let mut future = good.clone();
        future[4..6].copy_from_slice(&2u16.to_be_bytes());
        assert_eq!(
            Credential::decode(&future),
            Err(DecodeError::UnsupportedVersion(2))
        );
        let mut trailing = good.clone();
        trailing.push(0);
        assert_eq!(Credential::decode(&trailing), Err(DecodeError::Malformed));
        let too_big = vec![0u8; MAX_ENCODED_LEN + 1];
        assert_eq!(Credential::decode(&too_big), Err(DecodeError::Malformed));
        let empty_set = Credential {
            active: Some(sample_set(0)),
            pending: None,
        };
        assert_eq!(
            Credential::decode(&empty_set.encode()),
            Err(DecodeError::Malformed)
        );
    }

    #[test]
    fn debug_output_has_no_digest_or_salt() {
        let text = alloc::format!("{:?}", sample_set(3));
        assert!(!text.contains("digest") && !text.contains("salt"));
    }

    proptest! {
        #[test]
        fn round_trips(n in 1usize..=64, used in proptest::collection::vec(any::<Option<u64>>(), 64), failures in 0u32..=100, locked in any::<Option<u64>>()) {
            let mut set = sample_set(n);
            for (c, u) in set.codes.iter_mut().zip(used) { c.used_at = u; }
            set.failures = failures;
            set.locked_until = locked;
            let cred = Credential { active: Some(set.clone()), pending: Some(CodeSet { activated_at: None, ..sample_set(n) }) };
            prop_assert_eq!(Credential::decode(&cred.encode()), Ok(cred));
        }

        #[test]
        fn decoding_garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = Credential::decode(&bytes);
            let mut with_header = MAGIC.to_vec();
            with_header.extend_from_slice(&VERSION.to_be_bytes());
            with_header.extend_from_slice(&bytes);
            let _ = Credential::decode(&with_header);
        }
    }
}
