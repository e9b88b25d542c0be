//! Argon2id digests of codes and the constant-time search among a set's digests.
#![forbid(unsafe_code)]

use argon2::{Algorithm, Argon2, Params, Version};
use subtle::{ConditionallySelectable, ConstantTimeEq};
use zeroize::Zeroizing;

use crate::policy::HashParams;
use crate::state::{CodeEntry, DIGEST_LEN, Digest};

/// The argon2 implementation refused its inputs (cannot happen for validated
/// parameters, a 16-byte salt and a pepper of at most 64 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashError;

/// argon2id(`code`, `salt`, `params`, secret = `pepper`) → 32 bytes.
pub fn digest(
    code: &[u8],
    salt: &[u8],
    params: HashParams,
    pepper: Option<&[u8]>,
) -> Result<Zeroizing<[u8; DIGEST_LEN]>, HashError> {
    #[cfg(test)]
    crate::EVALUATIONS.with(|n| n.set(n.get() + 1));
    let params = Params::new(
        params.memory_kib,
        params.iterations,
        params.parallelism,
        Some(DIGEST_LEN),
    )
    .map_err(|_| HashError)?;
    let argon = match pepper {
        Some(secret) => {
            Argon2::new_with_secret(secret, Algorithm::Argon2id, Version::V0x13, params)
                .map_err(|_| HashError)?
        }
        None => Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
    };
    let mut out = Zeroizing::new([0u8; DIGEST_LEN]);
    argon
        .hash_password_into(code, salt, out.as_mut_slice())
        .map_err(|_| HashError)?;
    Ok(out)
}

/// The index of the entry whose argon2 digest equals `candidate`, comparing
/// against every entry in constant time: the time taken does not depend on
/// which entry matched, or whether one did. Entries of other kinds never match.
pub fn find(candidate: &[u8; DIGEST_LEN], entries: &[CodeEntry]) -> Option<usize> {
    find_by(entries, |d| match d {
        Digest::Argon2(stored) => stored.ct_eq(candidate),
        _ => subtle::Choice::from(0),
    })
}

/// The index of the entry `hit` says matches, asking of every entry, and
/// choosing without a branch on the answers.
pub fn find_by(entries: &[CodeEntry], hit: impl Fn(&Digest) -> subtle::Choice) -> Option<usize> {
    let mut found = subtle::Choice::from(0);
    let mut index = 0u32;
    for (i, entry) in (0u32..).zip(entries) {
        let hit = hit(&entry.digest);
        index.conditional_assign(&i, hit);
        found |= hit;
    }
    let index = usize::try_from(index).ok()?;
    bool::from(found).then_some(index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    /// Known answer computed independently with the reference C implementation
    /// (libargon2 via Python's argon2-cffi, `hash_secret_raw`): code
    /// "0123456789ABCD", salt 16 × 0x01, argon2id v19, m=1024 KiB, t=2, p=1, 32 bytes.
    const KAT_NO_PEPPER: &str = include_str!("../testdata/kat-no-pepper.hex");
    /// The same with secret (pepper) b"pepper-0123456789".
    const KAT_PEPPER: &str = include_str!("../testdata/kat-pepper.hex");

    fn hex(bytes: &[u8]) -> alloc::string::String {
        bytes.iter().map(|b| alloc::format!("{b:02x}")).collect()
    }

    #[test]
    fn known_answer_matches_reference_implementation() {
        let params = HashParams {
            memory_kib: 1024,
            iterations: 2,
            parallelism: 1,
        };
        let d = digest(b"0123456789ABCD", &[1; 16], params, None).unwrap();
        assert_eq!(hex(d.as_slice()), KAT_NO_PEPPER.trim());
        let d = digest(
            b"0123456789ABCD",
            &[1; 16],
            params,
            Some(b"pepper-0123456789"),
        )
        .unwrap();
        assert_eq!(hex(d.as_slice()), KAT_PEPPER.trim());
    }

    #[test]
    fn find_returns_the_matching_index_or_none() {
        let entries: Vec<CodeEntry> = (0u8..64)
            .map(|i| CodeEntry {
                digest: Digest::Argon2([i; DIGEST_LEN]),
                used_at: None,
            })
            .collect();
        assert_eq!(find(&[0; DIGEST_LEN], &entries), Some(0));
        assert_eq!(find(&[37; DIGEST_LEN], &entries), Some(37));
        assert_eq!(find(&[63; DIGEST_LEN], &entries), Some(63));
        assert_eq!(find(&[64; DIGEST_LEN], &entries), None);
        assert_eq!(find(&[0; DIGEST_LEN], &[]), None);
    }
}
