//! Importing a set of codes another identity server issued, so its users
//! keep the codes they saved (see the WIT `engine.import-set`).
//!
//! - Plaintext known (Ory Kratos, django-allauth's seed, static tokens):
//!   each code is hashed here with argon2id under a new salt, typed as its
//!   system accepted it (that system's alphabet and length, no check symbol);
//!   one evaluation per attempt, as for this engine's own sets.
//! - Only digests known (Keycloak's SHA-512, Supabase's argon2id PHC
//!   strings): the digests are kept and checked as their system checked them
//!   (one SHA-512 per attempt, in order; one argon2id per unused code); the
//!   set is `legacy`, for hosts to prompt a new set.
//!
//! Used marks are carried over; the set is active at once.
#![forbid(unsafe_code)]

use alloc::string::String;
use alloc::vec::Vec;
use rand::CryptoRng;
use zeroize::Zeroizing;

use super::{Error, Event, Issuance, check_pepper};
use crate::foreign::{self, ForeignDataError, PhcArgon2, Source};
use crate::hashing;
use crate::policy::{MAX_COUNT, Policy};
use crate::state::{CodeEntry, CodeSet, Credential, Digest, SALT_LEN, SET_ID_LEN, Scheme};

/// Why a foreign set cannot be imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportError {
    /// No code, or more than 64.
    BadCount,
    /// A code its system could not have issued (wrong characters, empty).
    BadCode,
    /// Two codes are the same.
    Duplicate,
    /// The allauth seed is not the hex string allauth makes.
    BadSeed,
    /// The allauth code count or digits, or a Keycloak code number or total,
    /// are out of range.
    BadShape,
    /// A Supabase hash is not an argon2id PHC string within the accepted bounds.
    BadPhc,
}

impl From<ForeignDataError> for ImportError {
    fn from(e: ForeignDataError) -> Self {
        match e {
            ForeignDataError::BadSeed => Self::BadSeed,
            ForeignDataError::BadShape => Self::BadShape,
            ForeignDataError::BadPhc => Self::BadPhc,
        }
    }
}

/// A code known in plaintext, and when it was used (if it was).
pub struct PlainCode {
    /// The code as its system stored it (wiped on drop).
    pub code: Zeroizing<String>,
    /// When it was used, seconds since the epoch.
    pub used_at: Option<u64>,
}

/// A set as another system keeps it.
pub enum ForeignSet {
    /// Keycloak `recovery-authn-codes`: the set's size and its unused codes,
    /// each with its number and SHA-512 digest (used codes are gone).
    Keycloak {
        /// Codes the set had (`totalCodes`).
        total: u8,
        /// The unused codes: number (from 1) and digest.
        remaining: Vec<(u8, [u8; 64])>,
    },
    /// Ory Kratos `lookup_secret`: plaintext codes with their `used_at`.
    Kratos(Vec<PlainCode>),
    /// django-allauth: the seed its codes derive from, its settings, and the
    /// mask of used codes.
    Allauth {
        /// The seed (hex text, decrypted; wiped on drop).
        seed: Zeroizing<String>,
        /// `MFA_RECOVERY_CODE_COUNT`.
        count: u8,
        /// `MFA_RECOVERY_CODE_DIGITS`.
        digits: u8,
        /// Bit `i` set: code `i` was used.
        used_mask: u64,
    },
    /// Supabase Auth: one argon2id PHC string per code, with `consumed_at`.
    Supabase(Vec<(String, Option<u64>)>),
    /// Plaintext static tokens (django-otp, authentik): all unused.
    Plaintext(Vec<Zeroizing<String>>),
}

impl core::fmt::Debug for ForeignSet {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Codes, seeds and digests stay out of Debug output.
        let (name, n) = match self {
            Self::Keycloak { remaining, .. } => ("Keycloak", remaining.len()),
            Self::Kratos(c) => ("Kratos", c.len()),
            Self::Allauth { count, .. } => ("Allauth", usize::from(*count)),
            Self::Supabase(c) => ("Supabase", c.len()),
            Self::Plaintext(c) => ("Plaintext", c.len()),
        };
        write!(f, "ForeignSet::{name}({n} codes)")
    }
}

impl ForeignSet {
    /// The system it comes from.
    pub fn source(&self) -> Source {
        match self {
            Self::Keycloak { .. } => Source::Keycloak,
            Self::Kratos(_) => Source::Kratos,
            Self::Allauth { .. } => Source::Allauth,
            Self::Supabase(_) => Source::Supabase,
            Self::Plaintext(_) => Source::Plaintext,
        }
    }
}

fn count_ok(n: usize) -> Result<(), ImportError> {
    if (1..=usize::from(MAX_COUNT)).contains(&n) {
        Ok(())
    } else {
        Err(ImportError::BadCount)
    }
}

/// A code normalised as its system compares it, and when it was used.
type Normalised = (Zeroizing<String>, Option<u64>);

/// Plaintext codes and used marks, normalised as their system compares them.
fn plain_codes(set: &ForeignSet, now: u64) -> Result<Vec<Normalised>, ImportError> {
    let source = set.source();
    let normal = |c: &str| source.normalise(c).map_err(|_| ImportError::BadCode);
    let codes = match set {
        ForeignSet::Kratos(codes) => codes
            .iter()
            .map(|c| Ok((normal(&c.code)?, c.used_at)))
            .collect::<Result<Vec<_>, ImportError>>()?,
        ForeignSet::Plaintext(codes) => codes
            .iter()
            .map(|c| Ok((normal(c)?, None)))
            .collect::<Result<Vec<_>, ImportError>>()?,
        ForeignSet::Allauth {
            seed,
            count,
            digits,
            used_mask,
        } => foreign::allauth_codes(seed, *count, *digits)?
            .into_iter()
            .zip(0u32..)
            .map(|(code, i)| {
                let used = used_mask.checked_shr(i).is_some_and(|m| m & 1 == 1);
                (code, used.then_some(now))
            })
            .collect(),
        ForeignSet::Keycloak { .. } | ForeignSet::Supabase(_) => Vec::new(),
    };
    count_ok(codes.len())?;
    for (i, (a, _)) in codes.iter().enumerate() {
        if codes[..i].iter().any(|(b, _)| a == b) {
            return Err(ImportError::Duplicate);
        }
    }
    Ok(codes)
}

/// The entries of a set that keeps another system's digests.
fn kept_digests(set: &ForeignSet, now: u64) -> Result<(Scheme, Vec<CodeEntry>), ImportError> {
    match set {
        ForeignSet::Keycloak { total, remaining } => {
            count_ok(usize::from(*total))?;
            let mut entries: Vec<CodeEntry> = (0..*total)
                .map(|_| CodeEntry {
                    digest: Digest::Spent,
                    used_at: Some(now),
                })
                .collect();
            for (number, digest) in remaining {
                let slot = usize::from(*number)
                    .checked_sub(1)
                    .and_then(|i| entries.get_mut(i))
                    .ok_or(ImportError::BadShape)?;
                if slot.used_at.is_none() {
                    return Err(ImportError::Duplicate);
                }
                *slot = CodeEntry {
                    digest: Digest::Sha512(digest.to_vec()),
                    used_at: None,
                };
            }
            Ok((Scheme::Keycloak, entries))
        }
        ForeignSet::Supabase(codes) => {
            count_ok(codes.len())?;
            let entries = codes
                .iter()
                .map(|(phc, used_at)| {
                    Ok(CodeEntry {
                        digest: Digest::Phc(PhcArgon2::parse(phc)?),
                        used_at: *used_at,
                    })
                })
                .collect::<Result<Vec<_>, ImportError>>()?;
            for (i, a) in entries.iter().enumerate() {
                if entries[..i].iter().any(|b| b.digest == a.digest) {
                    return Err(ImportError::Duplicate);
                }
            }
            Ok((Scheme::Supabase, entries))
        }
        _ => Err(ImportError::BadShape),
    }
}

/// Import `set` as a subject's active set, in a new credential; see the WIT
/// `engine.import-set`. Rehashing costs one argon2 evaluation per code.
pub fn import<R: CryptoRng + ?Sized>(
    set: &ForeignSet,
    policy: &Policy,
    pepper: Option<&[u8]>,
    rng: &mut R,
    now: u64,
) -> Result<Issuance, Error> {
    policy.validate().map_err(Error::InvalidPolicy)?;
    let source = set.source();
    let mut salt = [0u8; SALT_LEN];
    rng.fill_bytes(&mut salt);
    let (scheme, codes, pepper_len) = if source.is_rehashed() {
        let pepper_len = check_pepper(pepper)?;
        let plain = plain_codes(set, now).map_err(Error::InvalidImport)?;
        let mut entries = Vec::with_capacity(plain.len());
        for (code, used_at) in &plain {
            let digest = hashing::digest(code.as_bytes(), &salt, policy.hash, pepper)?;
            entries.push(CodeEntry {
                digest: Digest::Argon2(*digest),
                used_at: *used_at,
            });
        }
        (Scheme::Rehashed(source), entries, pepper_len)
    } else {
        let (scheme, entries) = kept_digests(set, now).map_err(Error::InvalidImport)?;
        (scheme, entries, 0)
    };
    let mut id = [0u8; SET_ID_LEN];
    rng.fill_bytes(&mut id);
    let set = CodeSet {
        id,
        issued_at: now,
        activated_at: Some(now),
        symbols: 0,
        hash: policy.hash,
        salt,
        pepper_len,
        scheme,
        codes,
        failures: 0,
        locked_until: None,
        locked_permanently: false,
    };
    let set_id = set.id_text();
    let fingerprint = set.fingerprint();
    let event = Event::Imported {
        set_id: set_id.clone(),
        source,
        count: u8::try_from(set.codes.len()).map_err(|_| Error::MalformedCredential)?,
        remaining: set.remaining(),
        legacy: scheme.is_legacy(),
    };
    let credential = Credential {
        active: Some(set),
        pending: None,
    };
    Ok(Issuance {
        credential: credential.encode(),
        codes: Vec::new(),
        set_id,
        fingerprint,
        events: alloc::vec![event],
    })
}
