//! The credential value: versioned, serde-encoded, digests only.
//!
//! Layout: the four bytes `BKC1` (format), a big-endian `u16` version, then the
//! postcard encoding of the credential for that version. Decoding checks every
//! invariant, so a corrupt value is an error, never a panic or a wrong answer.
//!
//! Version 1 (written by `authn:backup-codes@0.1.0`, layout in [`v1`]) holds
//! only this engine's own sets. Version 2 adds sets imported from other
//! systems: each set names its [`Scheme`], each code its [`Digest`]. A
//! credential that needs nothing of version 2 is still written as version 1,
//! so hosts running the 0.1 component beside this one during a rolling upgrade
//! keep reading it; a 0.1 component refuses a version-2 value
//! (`unsupported-version`) rather than misread it.
#![forbid(unsafe_code)]

mod v1;

use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::alphabet::{MAX_SYMBOLS, encode_base32};
use crate::foreign::{PhcArgon2, Source};
use crate::policy::{HashParams, MAX_CONSECUTIVE_FAILURES, MAX_COUNT, MIN_SYMBOLS};

/// Format marker at the start of every credential value.
pub const MAGIC: &[u8; 4] = b"BKC1";
/// The newest version this plugin reads and writes.
pub const VERSION: u16 = 2;
/// Largest credential value accepted (two full sets take about 6 KiB).
pub const MAX_ENCODED_LEN: usize = 64 * 1024;
/// Digest length in bytes.
pub const DIGEST_LEN: usize = 32;
/// Salt length in bytes.
pub const SALT_LEN: usize = 16;
/// Set id length in bytes (80 bits, 16 base32 symbols).
pub const SET_ID_LEN: usize = 10;

/// How a set's codes are typed and checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Scheme {
    /// Codes this engine issued: its alphabet with a check symbol, argon2id
    /// digests under the set's salt.
    Native,
    /// Codes another system issued whose plaintext was known at import
    /// (Kratos, allauth, plaintext tokens): typed as that system accepted
    /// them, hashed here with argon2id under the set's salt.
    Rehashed(Source),
    /// Keycloak's own digests kept (unsalted SHA-512), used in order: one
    /// SHA-512 per attempt. A legacy set: hosts should prompt regeneration.
    Keycloak,
    /// Supabase's own per-code argon2id hashes kept: one argon2id per unused
    /// code per attempt. A legacy set: hosts should prompt regeneration.
    Supabase,
}

impl Scheme {
    /// Sets whose digests came from another system, checked the way it did
    /// (not with this engine's salt and parameters).
    pub fn is_legacy(self) -> bool {
        matches!(self, Self::Keycloak | Self::Supabase)
    }

    /// The system the set came from, if another.
    pub fn source(self) -> Option<Source> {
        match self {
            Self::Native => None,
            Self::Rehashed(s) => Some(s),
            Self::Keycloak => Some(Source::Keycloak),
            Self::Supabase => Some(Source::Supabase),
        }
    }
}

/// What is kept of one code.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Digest {
    /// argon2id(code, set salt, set params, pepper).
    Argon2([u8; DIGEST_LEN]),
    /// Keycloak's SHA-512 of the code (64 bytes).
    Sha512(Vec<u8>),
    /// Supabase's argon2id hash of the code, with its own parameters and salt.
    Phc(PhcArgon2),
    /// A code used before it was imported, whose digest was not kept.
    Spent,
}

/// One code of a set: its digest and when it was used.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeEntry {
    /// What is kept of the code.
    pub digest: Digest,
    /// When it was used, seconds since the epoch.
    pub used_at: Option<u64>,
}

/// One issued set of codes.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeSet {
    /// Random id.
    pub id: [u8; SET_ID_LEN],
    /// When issued (or imported).
    pub issued_at: u64,
    /// When activated (None while pending).
    pub activated_at: Option<u64>,
    /// Random symbols per code of a native set (0 for imported sets).
    pub symbols: u8,
    /// Argon2id parameters the argon2 digests were made with.
    pub hash: HashParams,
    /// Per-set random salt.
    pub salt: [u8; SALT_LEN],
    /// Length of the pepper the digests were made with (0: none).
    pub pepper_len: u8,
    /// How codes are typed and checked.
    pub scheme: Scheme,
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
        let symbols_ok = match self.scheme {
            Scheme::Native => (MIN_SYMBOLS..=MAX_SYMBOLS).contains(&self.symbols),
            _ => self.symbols == 0,
        };
        let pepper_ok = self.pepper_len <= 64 && (!self.scheme.is_legacy() || self.pepper_len == 0);
        let failures_ok = self.failures <= MAX_CONSECUTIVE_FAILURES;
        // Each code's digest is of its set's kind; a spent one was used.
        let digests_ok = self.codes.iter().all(|c| match (&c.digest, self.scheme) {
            (Digest::Argon2(_), Scheme::Native | Scheme::Rehashed(_)) => true,
            (Digest::Sha512(d), Scheme::Keycloak) => d.len() == 64,
            (Digest::Phc(p), Scheme::Supabase) => p.is_valid(),
            (Digest::Spent, Scheme::Keycloak | Scheme::Supabase) => c.used_at.is_some(),
            _ => false,
        });
        let source_ok = match self.scheme {
            Scheme::Rehashed(s) => s.is_rehashed(),
            _ => true,
        };
        count_ok
            && symbols_ok
            && pepper_ok
            && failures_ok
            && digests_ok
            && source_ok
            && self.hash.validate().is_ok()
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
    /// Encode to the stored form: version 1 when every set is one this
    /// engine issued (what 0.1 components read), version 2 otherwise.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(MAGIC);
        // Serialising plain structs into a Vec cannot fail; keep the header alone
        // (which then fails to decode) rather than panic if it ever did.
        match v1::Credential::from_current(self) {
            Some(old) => {
                out.extend_from_slice(&1u16.to_be_bytes());
                if let Ok(body) = postcard::to_allocvec(&old) {
                    out.extend_from_slice(&body);
                }
            }
            None => {
                out.extend_from_slice(&VERSION.to_be_bytes());
                if let Ok(body) = postcard::to_allocvec(self) {
                    out.extend_from_slice(&body);
                }
            }
        }
        out
    }

    /// The format version [`Credential::encode`] writes for this value.
    pub fn version(&self) -> u16 {
        if v1::Credential::from_current(self).is_some() {
            1
        } else {
            VERSION
        }
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
        let (credential, trailing) = match version {
            1 => {
                let (old, trailing): (v1::Credential, _) =
                    postcard::take_from_bytes(body).map_err(|_| DecodeError::Malformed)?;
                (old.into_current(), trailing)
            }
            VERSION => {
                postcard::take_from_bytes::<Self>(body).map_err(|_| DecodeError::Malformed)?
            }
            0 => return Err(DecodeError::Malformed),
            newer => return Err(DecodeError::UnsupportedVersion(newer)),
        };
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
            s.activated_at.is_none()
                && s.scheme == Scheme::Native
                && s.codes.iter().all(|c| c.used_at.is_none())
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
            scheme: Scheme::Native,
            codes: (0..n)
                .map(|i| CodeEntry {
                    digest: Digest::Argon2([u8::try_from(i).unwrap(); DIGEST_LEN]),
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
        future[4..6].copy_from_slice(&3u16.to_be_bytes());
        assert_eq!(
            Credential::decode(&future),
            Err(DecodeError::UnsupportedVersion(3))
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
        // A digest of another set's kind, or a spent code never used: refused.
        let mut mixed = sample_set(3);
        mixed.codes[1].digest = Digest::Sha512(vec![0; 64]);
        let mut spent = sample_set(3);
        spent.symbols = 0;
        spent.scheme = Scheme::Keycloak;
        for c in &mut spent.codes {
            c.digest = Digest::Spent;
        }
        for set in [mixed, spent] {
            let bad = Credential {
                active: Some(set),
                pending: None,
            };
            assert_eq!(
                Credential::decode(&bad.encode()),
                Err(DecodeError::Malformed)
            );
        }
    }

    /// A value written by the 0.1 engine (fixed bytes: the layout of version
    /// 1) reads as the same native set.
    #[test]
    fn version_one_values_read_as_native_sets() {
        let set = sample_set(2);
        let encoded = Credential {
            active: Some(set.clone()),
            pending: None,
        }
        .encode();
        assert_eq!(&encoded[4..6], &1u16.to_be_bytes());
        let mut by_hand = MAGIC.to_vec();
        by_hand.extend_from_slice(&1u16.to_be_bytes());
        // Some(set): id, issued_at, activated_at, symbols, hash, salt,
        // pepper_len, codes (digest, used_at), failures, locked_until,
        // locked_permanently; then None for the pending set.
        by_hand.push(1);
        by_hand.extend_from_slice(&[7; SET_ID_LEN]);
        by_hand.extend_from_slice(&[0x80, 0xe2, 0xcf, 0xaa, 0x06]); // 1_700_000_000
        by_hand.extend_from_slice(&[1, 0xe4, 0xe2, 0xcf, 0xaa, 0x06]); // Some(1_700_000_100)
        by_hand.push(13);
        by_hand.extend_from_slice(&[0x80, 0x98, 0x01, 2, 1]); // 19456, 2, 1
        by_hand.extend_from_slice(&[1; SALT_LEN]);
        by_hand.push(0);
        by_hand.push(2);
        for i in 0..2u8 {
            by_hand.extend_from_slice(&[i; DIGEST_LEN]);
            by_hand.push(0);
        }
        by_hand.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(encoded, by_hand);
        assert_eq!(
            Credential::decode(&by_hand),
            Ok(Credential {
                active: Some(set),
                pending: None
            })
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
            prop_assert_eq!(cred.version(), 1, "native sets are written as version 1");
            prop_assert_eq!(Credential::decode(&cred.encode()), Ok(cred));
        }

        /// Imported sets round-trip as version 2, whatever their codes' state.
        #[test]
        fn imported_sets_round_trip(n in 1usize..=64, used in proptest::collection::vec(any::<Option<u64>>(), 64), which in 0usize..3) {
            let mut set = sample_set(n);
            set.symbols = 0;
            set.scheme = [Scheme::Rehashed(Source::Kratos), Scheme::Keycloak, Scheme::Rehashed(Source::Allauth)][which];
            for (c, u) in set.codes.iter_mut().zip(used) {
                c.used_at = u;
                if set.scheme == Scheme::Keycloak {
                    c.digest = if u.is_some() { Digest::Spent } else { Digest::Sha512(vec![3; 64]) };
                }
            }
            let cred = Credential { active: Some(set), pending: None };
            prop_assert_eq!(cred.version(), 2);
            prop_assert_eq!(Credential::decode(&cred.encode()), Ok(cred));
        }

        #[test]
        fn decoding_garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = Credential::decode(&bytes);
            for version in [1u16, VERSION] {
                let mut with_header = MAGIC.to_vec();
                with_header.extend_from_slice(&version.to_be_bytes());
                with_header.extend_from_slice(&bytes);
                let _ = Credential::decode(&with_header);
            }
        }
    }
}
