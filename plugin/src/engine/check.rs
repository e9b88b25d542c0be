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
use crate::state::{CodeSet, Digest, Scheme};

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

/// The index of the code of `set` that `typed` is, used or not.
pub(super) fn find(
    set: &CodeSet,
    typed: &Typed,
    pepper: Option<&[u8]>,
) -> Result<Option<usize>, HashError> {
    let bytes: &[u8] = match typed {
        Typed::Native(c) => c,
        Typed::Foreign(c) => c.as_bytes(),
    };
    match set.scheme {
        Scheme::Native | Scheme::Rehashed(_) => {
            let candidate = hashing::digest(bytes, &set.salt, set.hash, pepper)?;
            Ok(hashing::find(&candidate, &set.codes))
        }
        Scheme::Keycloak => {
            let Typed::Foreign(code) = typed else {
                return Ok(None);
            };
            let candidate = foreign::keycloak_digest(code);
            Ok(hashing::find_by(&set.codes, |d| match d {
                Digest::Sha512(stored) => stored.as_slice().ct_eq(candidate.as_slice()),
                _ => subtle::Choice::from(0),
            }))
        }
        Scheme::Supabase => {
            let Typed::Foreign(code) = typed else {
                return Ok(None);
            };
            // Every unused code is evaluated, whatever matched before it.
            let hits: Vec<bool> = set
                .codes
                .iter()
                .map(|c| match (&c.digest, c.used_at) {
                    (Digest::Phc(phc), None) => phc.matches(code),
                    _ => false,
                })
                .collect();
            Ok(hits.iter().position(|&hit| hit))
        }
    }
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
