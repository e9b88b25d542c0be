//! How a typed code is read and checked against each kind of set.
//!
//! - This engine's sets: its alphabet and check symbol, one argon2id
//!   evaluation, a constant-time search of every digest.
//! - Sets imported from plaintext (Kratos, allauth, static tokens): typed as
//!   their system accepted, then the same one evaluation and search.
//! - Keycloak's digests: one SHA-512, compared with every digest.
//! - Supabase's hashes: one argon2id per unused code, every one evaluated
//!   (no early exit), as Supabase itself does.
#![forbid(unsafe_code)]

use alloc::string::String;
use alloc::vec::Vec;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::alphabet::{self, FormatError};
use crate::foreign::{self, ForeignFormatError};
use crate::hashing::{self, HashError};
use crate::state::{CodeSet, DIGEST_LEN, Digest, Scheme};

/// A typed code, read the way its set's system reads codes (wiped on drop).
pub(super) enum Typed {
    /// This engine's canonical symbols.
    Native(Zeroizing<Vec<u8>>),
    /// Another system's code, as that system compared it.
    Foreign(Zeroizing<String>),
}

fn foreign_format(e: ForeignFormatError) -> FormatError {
    match e {
        ForeignFormatError::Empty => FormatError::Empty,
        ForeignFormatError::TooLong => FormatError::TooLong,
        ForeignFormatError::InvalidCharacter => FormatError::InvalidCharacter,
    }
}

/// Read `input` for `set`; a malformed code is refused here, before any hashing.
pub(super) fn read(set: &CodeSet, input: &str) -> Result<Typed, FormatError> {
    match set.scheme.source() {
        None => {
            let values = alphabet::normalise(input, set.symbols)?;
            Ok(Typed::Native(alphabet::canonical(&values)))
        }
        Some(source) => source
            .normalise(input)
            .map(Typed::Foreign)
            .map_err(foreign_format),
    }
}

/// What one evaluation of a typed code gave: kept to compare with another
/// set's digests made the same way (the set the checked one replaced),
/// without evaluating again. Wiped on drop.
pub(super) enum Candidate {
    /// An argon2id digest under the checked set's salt, parameters and pepper.
    Argon2(Zeroizing<[u8; DIGEST_LEN]>),
    /// Keycloak's SHA-512 of the code.
    Sha512(Zeroizing<[u8; 64]>),
    /// Supabase's hashes: each code has its own salt, nothing carries over.
    None,
}

impl Candidate {
    /// The index of the code of `set` this candidate is, used or not
    /// (constant time over every digest).
    fn find_in(&self, set: &CodeSet) -> Option<usize> {
        match self {
            Self::Argon2(candidate) => hashing::find(candidate, &set.codes),
            Self::Sha512(candidate) => hashing::find_by(&set.codes, |d| match d {
                Digest::Sha512(stored) => stored.as_slice().ct_eq(candidate.as_slice()),
                _ => subtle::Choice::from(0),
            }),
            Self::None => None,
        }
    }

    /// Whether this candidate, made for `checked`, is one of the codes of
    /// `other` (used or not). Only a set of the same kind whose digests were
    /// made with the same salt, parameters and pepper can be told from the
    /// same evaluation; any other set is never matched.
    pub(super) fn is_in(&self, checked: &CodeSet, other: &CodeSet) -> bool {
        let comparable = match self {
            Self::Argon2(_) => {
                other.scheme == checked.scheme
                    && other.salt == checked.salt
                    && other.hash == checked.hash
                    && other.pepper_len == checked.pepper_len
            }
            Self::Sha512(_) => other.scheme == Scheme::Keycloak,
            Self::None => false,
        };
        comparable && self.find_in(other).is_some()
    }
}

/// Evaluate `typed` for `set` once (one argon2id; one SHA-512 for Keycloak's
/// digests; one argon2id per unused code for Supabase's, every one evaluated
/// whatever matched before it): the index of the code it is, used or not, and
/// the candidate to compare with another set.
pub(super) fn evaluate(
    set: &CodeSet,
    typed: &Typed,
    pepper: Option<&[u8]>,
) -> Result<(Option<usize>, Candidate), HashError> {
    let candidate = match (set.scheme, typed) {
        (Scheme::Native | Scheme::Rehashed(_), typed) => {
            let bytes: &[u8] = match typed {
                Typed::Native(c) => c,
                Typed::Foreign(c) => c.as_bytes(),
            };
            Candidate::Argon2(hashing::digest(bytes, &set.salt, set.hash, pepper)?)
        }
        (Scheme::Keycloak, Typed::Foreign(code)) => {
            Candidate::Sha512(Zeroizing::new(foreign::keycloak_digest(code)))
        }
        (Scheme::Supabase, Typed::Foreign(code)) => {
            let hits: Vec<bool> = set
                .codes
                .iter()
                .map(|c| match (&c.digest, c.used_at) {
                    (Digest::Phc(phc), None) => phc.matches(code),
                    _ => false,
                })
                .collect();
            return Ok((hits.iter().position(|&hit| hit), Candidate::None));
        }
        (Scheme::Keycloak | Scheme::Supabase, Typed::Native(_)) => Candidate::None,
    };
    Ok((candidate.find_in(set), candidate))
}

/// A new code for the used code of `set` (the policy's `replace_on_use`):
/// its display form and its digest, made as the set's other codes were.
/// `None` for sets that keep another system's digests.
pub(super) fn new_code<R: rand::CryptoRng + ?Sized>(
    set: &CodeSet,
    group_size: u8,
    pepper: Option<&[u8]>,
    rng: &mut R,
) -> Result<Option<(Zeroizing<String>, Digest)>, HashError> {
    use rand::RngExt;
    let (display, canonical): (Zeroizing<String>, Zeroizing<Vec<u8>>) = match set.scheme {
        Scheme::Native => {
            let mut values: Zeroizing<Vec<u8>> = Zeroizing::new(
                (0..set.symbols)
                    .map(|_| rng.random_range(0..32u8))
                    .collect(),
            );
            let check = alphabet::check_symbol(&values);
            values.push(check);
            (
                alphabet::display(&values, group_size),
                alphabet::canonical(&values),
            )
        }
        Scheme::Rehashed(source) => {
            let Some(code) = source.new_code(rng) else {
                return Ok(None);
            };
            let canonical = Zeroizing::new(code.as_bytes().to_vec());
            (code, canonical)
        }
        Scheme::Keycloak | Scheme::Supabase => return Ok(None),
    };
    let digest = hashing::digest(&canonical, &set.salt, set.hash, pepper)?;
    Ok(Some((display, Digest::Argon2(*digest))))
}

/// Whether a set must be used in order whatever the policy says (Keycloak
/// accepted only its next code).
pub(super) fn in_order(set: &CodeSet) -> bool {
    set.scheme == Scheme::Keycloak
}
