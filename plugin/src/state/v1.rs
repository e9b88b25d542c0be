//! The layout of format version 1, as `authn:backup-codes@0.1.0` wrote it:
//! only this engine's own sets, one argon2id digest per code. Kept to read
//! those values, and to write values that need nothing newer, so 0.1
//! components sharing a store during an upgrade can still read them.
#![forbid(unsafe_code)]

use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use super::{CodeEntry, CodeSet, DIGEST_LEN, Digest, SALT_LEN, SET_ID_LEN, Scheme};
use crate::policy::HashParams;

/// A code of version 1.
#[derive(Serialize, Deserialize)]
struct Entry {
    digest: [u8; DIGEST_LEN],
    used_at: Option<u64>,
}

/// A set of version 1 (field order is the layout).
#[derive(Serialize, Deserialize)]
struct Set {
    id: [u8; SET_ID_LEN],
    issued_at: u64,
    activated_at: Option<u64>,
    symbols: u8,
    hash: HashParams,
    salt: [u8; SALT_LEN],
    pepper_len: u8,
    codes: Vec<Entry>,
    failures: u32,
    locked_until: Option<u64>,
    locked_permanently: bool,
}

/// A credential of version 1.
#[derive(Serialize, Deserialize)]
pub(super) struct Credential {
    active: Option<Set>,
    pending: Option<Set>,
}

impl Set {
    fn from_current(set: &CodeSet) -> Option<Self> {
        if set.scheme != Scheme::Native {
            return None;
        }
        let codes = set
            .codes
            .iter()
            .map(|c| match c.digest {
                Digest::Argon2(digest) => Some(Entry {
                    digest,
                    used_at: c.used_at,
                }),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Self {
            id: set.id,
            issued_at: set.issued_at,
            activated_at: set.activated_at,
            symbols: set.symbols,
            hash: set.hash,
            salt: set.salt,
            pepper_len: set.pepper_len,
            codes,
            failures: set.failures,
            locked_until: set.locked_until,
            locked_permanently: set.locked_permanently,
        })
    }

    fn into_current(self) -> CodeSet {
        CodeSet {
            id: self.id,
            issued_at: self.issued_at,
            activated_at: self.activated_at,
            symbols: self.symbols,
            hash: self.hash,
            salt: self.salt,
            pepper_len: self.pepper_len,
            scheme: Scheme::Native,
            codes: self
                .codes
                .into_iter()
                .map(|c| CodeEntry {
                    digest: Digest::Argon2(c.digest),
                    used_at: c.used_at,
                })
                .collect(),
            failures: self.failures,
            locked_until: self.locked_until,
            locked_permanently: self.locked_permanently,
        }
    }
}

impl Credential {
    /// The value in version 1, when every set fits it.
    pub(super) fn from_current(c: &super::Credential) -> Option<Self> {
        let convert = |s: &Option<CodeSet>| match s {
            Some(set) => Set::from_current(set).map(Some),
            None => Some(None),
        };
        Some(Self {
            active: convert(&c.active)?,
            pending: convert(&c.pending)?,
        })
    }

    /// The value as this engine holds it.
    pub(super) fn into_current(self) -> super::Credential {
        super::Credential {
            active: self.active.map(Set::into_current),
            pending: self.pending.map(Set::into_current),
        }
    }
}
