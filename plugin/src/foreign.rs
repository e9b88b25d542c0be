//! Codes made by other identity servers, as their users type them.
//!
//! A set imported from another system must accept exactly the codes that
//! system accepted, typed the way its users learnt to type them. Each
//! [`Source`] has a normaliser (what its own login form did with the input,
//! made more lenient only where that cannot let another code through: case
//! folding into an alphabet of one case, separators that are not in the
//! alphabet) and, where only a digest or a seed was stored, the check that
//! system made. The formats are described, with sources, in
//! `docs/notes/issue17-foreign-formats.md`.
//!
//! Nothing here counts attempts or keeps state: the engine does that for an
//! imported set as for its own.

use alloc::string::String;
use alloc::vec::Vec;

use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Params, Version};
use hmac::{Hmac, Mac};
use rand::{CryptoRng, RngExt};
use serde::{Deserialize, Serialize};
use sha1::Sha1;
use sha2::{Digest, Sha512};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::alphabet::MAX_INPUT_BYTES;

/// The system a set was imported from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Source {
    /// Keycloak `recovery-authn-codes`: `[A-Z0-9]`, shown as `ABCD-EFGH-IJKL`,
    /// stored as unsalted SHA-512, used in order.
    Keycloak,
    /// Ory Kratos `lookup_secret`: `[a-z0-9]`, stored in plaintext.
    Kratos,
    /// django-allauth: decimal digits derived from one seed by HMAC-SHA1.
    Allauth,
    /// Supabase Auth: RFC 4648 base32 in lower case, one argon2id PHC string
    /// per code.
    Supabase,
    /// Plaintext static tokens (django-otp, authentik): compared exactly, case
    /// included (authentik's tokens mix cases).
    Plaintext,
}

/// Why typed input cannot be a code of its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForeignFormatError {
    /// Nothing but separators.
    Empty,
    /// More than [`MAX_INPUT_BYTES`] bytes.
    TooLong,
    /// A character its source never puts in a code.
    InvalidCharacter,
}

/// Why a foreign set's stored data cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForeignDataError {
    /// The allauth seed is not the hex string allauth makes (40 or 80 digits).
    BadSeed,
    /// The number of codes or digits is outside what can be imported (1..=64
    /// codes of 1..=32 digits).
    BadShape,
    /// A PHC string that is not argon2id version 19 with bounded parameters
    /// (memory 1 MiB ..= 1 GiB, 1..=20 passes, 1..=16 lanes, a salt of 8..=64
    /// bytes and a hash of 16..=64 bytes, no key id or associated data).
    BadPhc,
}

impl Source {
    /// Whether its sets are imported from plaintext codes and hashed here
    /// (Keycloak and Supabase keep their own digests).
    pub fn is_rehashed(self) -> bool {
        matches!(self, Self::Kratos | Self::Allauth | Self::Plaintext)
    }

    /// A new code of this source's kind, typed as its users type codes, with
    /// at least 64 bits of entropy (replacing a used code of an imported set).
    /// Sources that keep their own digests get none.
    pub fn new_code<R: CryptoRng + ?Sized>(self, rng: &mut R) -> Option<Zeroizing<String>> {
        let alphabet: &[u8] = match self {
            Self::Kratos => b"abcdefghijklmnopqrstuvwxyz0123456789",
            Self::Allauth => b"0123456789",
            Self::Plaintext => b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
            Self::Keycloak | Self::Supabase => return None,
        };
        // ceil(64 / log2(alphabet)): 13, 20 and 11 symbols.
        let length = match alphabet.len() {
            36 => 13,
            10 => 20,
            _ => 11,
        };
        let mut out = Zeroizing::new(String::with_capacity(length));
        for _ in 0..length {
            let i = rng.random_range(0..alphabet.len());
            out.push(char::from(alphabet[i]));
        }
        Some(out)
    }

    /// Whether `c` may appear in one of its codes, after normalising.
    fn allows(self, c: u8) -> bool {
        match self {
            Self::Keycloak => c.is_ascii_uppercase() || c.is_ascii_digit(),
            Self::Kratos => c.is_ascii_lowercase() || c.is_ascii_digit(),
            Self::Allauth => c.is_ascii_digit(),
            Self::Supabase => c.is_ascii_lowercase() || (b'2'..=b'7').contains(&c),
            Self::Plaintext => c.is_ascii_graphic(),
        }
    }

    /// Whether `c` is dropped from typed input: separators its codes never
    /// contain. Plaintext tokens drop nothing inside them.
    fn drops(self, c: char) -> bool {
        match self {
            Self::Plaintext => false,
            _ => c == '-' || c.is_whitespace(),
        }
    }

    /// The code its user meant by `input`: separators removed, case folded
    /// into its alphabet's one case, surrounding whitespace trimmed (as every
    /// one of these systems' forms did). Wiped on drop.
    pub fn normalise(self, input: &str) -> Result<Zeroizing<String>, ForeignFormatError> {
        if input.len() > MAX_INPUT_BYTES {
            return Err(ForeignFormatError::TooLong);
        }
        let mut out = Zeroizing::new(String::with_capacity(input.len()));
        for c in input.trim().chars() {
            if self.drops(c) {
                continue;
            }
            let folded = match self {
                Self::Keycloak => c.to_ascii_uppercase(),
                Self::Kratos | Self::Supabase => c.to_ascii_lowercase(),
                Self::Allauth | Self::Plaintext => c,
            };
            if !folded.is_ascii() || !self.allows(folded as u8) {
                return Err(ForeignFormatError::InvalidCharacter);
            }
            out.push(folded);
        }
        if out.is_empty() {
            return Err(ForeignFormatError::Empty);
        }
        Ok(out)
    }
}

/// Keycloak's digest of a normalised code: SHA-512 of its UTF-8 bytes.
pub fn keycloak_digest(code: &str) -> [u8; 64] {
    Sha512::digest(code.as_bytes()).into()
}

/// Whether `code` (normalised) is the one whose Keycloak digest is `stored`;
/// one SHA-512, compared in constant time.
pub fn keycloak_matches(code: &str, stored: &[u8; 64]) -> bool {
    bool::from(keycloak_digest(code).ct_eq(stored))
}

/// The codes django-allauth derives from `seed` (the hex string it stores,
/// used as ASCII key bytes): code `i` is the first `digits / 2` bytes, big-endian, of HMAC-SHA1 over `"  0,  1, …,  i,"` (each index
/// right-aligned in three places), modulo 10^digits, zero-padded.
pub fn allauth_codes(
    seed: &str,
    count: u8,
    digits: u8,
) -> Result<Vec<Zeroizing<String>>, ForeignDataError> {
    if !matches!(seed.len(), 40 | 80) || !seed.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ForeignDataError::BadSeed);
    }
    if !(1..=64).contains(&count) || !(1..=32).contains(&digits) {
        return Err(ForeignDataError::BadShape);
    }
    let mut mac =
        Hmac::<Sha1>::new_from_slice(seed.as_bytes()).map_err(|_| ForeignDataError::BadSeed)?;
    // At most 16 bytes for 32 digits: the value fits a u128.
    let take = usize::from(digits / 2);
    let modulus = 10u128.pow(u32::from(digits));
    let mut codes = Vec::with_capacity(usize::from(count));
    for i in 0..count {
        mac.update(alloc::format!("{i:3},").as_bytes());
        let digest: Zeroizing<[u8; 20]> =
            Zeroizing::new(mac.clone().finalize().into_bytes().into());
        let value = digest[..take]
            .iter()
            .fold(0u128, |acc, b| (acc << 8) | u128::from(*b))
            % modulus;
        codes.push(Zeroizing::new(alloc::format!(
            "{value:0width$}",
            width = usize::from(digits)
        )));
    }
    Ok(codes)
}

/// One code's argon2id hash as Supabase Auth stores it (a PHC string), with
/// its parameters checked before any work: verifying costs one evaluation
/// with the stored parameters.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhcArgon2 {
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
    salt: Vec<u8>,
    hash: Vec<u8>,
}

impl core::fmt::Debug for PhcArgon2 {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PhcArgon2")
            .field("m_cost", &self.memory_kib)
            .field("t_cost", &self.iterations)
            .field("p_cost", &self.parallelism)
            .finish_non_exhaustive()
    }
}

impl PhcArgon2 {
    /// Parse `$argon2id$v=19$m=…,t=…,p=…$<salt>$<hash>` (unpadded base64).
    pub fn parse(phc: &str) -> Result<Self, ForeignDataError> {
        if phc.len() > 512 {
            return Err(ForeignDataError::BadPhc);
        }
        let parsed = PasswordHash::new(phc).map_err(|_| ForeignDataError::BadPhc)?;
        if parsed.algorithm.as_str() != "argon2id" || parsed.version != Some(0x13) {
            return Err(ForeignDataError::BadPhc);
        }
        let params = Params::try_from(&parsed).map_err(|_| ForeignDataError::BadPhc)?;
        let (Some(salt), Some(hash)) = (parsed.salt, parsed.hash) else {
            return Err(ForeignDataError::BadPhc);
        };
        if !params.keyid().is_empty() || !params.data().is_empty() {
            return Err(ForeignDataError::BadPhc);
        }
        let out = Self {
            memory_kib: params.m_cost(),
            iterations: params.t_cost(),
            parallelism: params.p_cost(),
            salt: salt.as_ref().to_vec(),
            hash: hash.as_bytes().to_vec(),
        };
        if !out.is_valid() || !out.within_policy_ranges() {
            return Err(ForeignDataError::BadPhc);
        }
        Ok(out)
    }

    /// Whether its cost parameters are within what a policy may set for this
    /// engine's own sets (passes 1..=16, lanes 1..=4, memory 1 MiB ..= 1 GiB):
    /// an imported set never costs more per evaluation than a set issued
    /// here could. Checked at import; the host also bounds memory and the
    /// whole verify by what it spends per call.
    pub fn within_policy_ranges(&self) -> bool {
        (1024..=1_048_576).contains(&self.memory_kib)
            && (1..=16).contains(&self.iterations)
            && (1..=4).contains(&self.parallelism)
    }

    /// Whether its parameters are within the bounds a stored set may have
    /// (memory 1 MiB ..= 1 GiB, 1..=20 passes, 1..=16 lanes, a salt of
    /// 8..=64 bytes, a hash of 16..=64 bytes); checked on decoding, wider than
    /// the import's ranges so sets imported by 0.2.0 stay readable.
    pub fn is_valid(&self) -> bool {
        (1024..=1_048_576).contains(&self.memory_kib)
            && (1..=20).contains(&self.iterations)
            && (1..=16).contains(&self.parallelism)
            && (8..=64).contains(&self.salt.len())
            && (16..=64).contains(&self.hash.len())
    }

    /// Whether `code` (normalised) is the one hashed; one argon2id evaluation,
    /// compared in constant time. An evaluation the library refuses is no match.
    pub fn matches(&self, code: &str) -> bool {
        #[cfg(test)]
        crate::EVALUATIONS.with(|n| n.set(n.get() + 1));
        let Ok(params) = Params::new(
            self.memory_kib,
            self.iterations,
            self.parallelism,
            Some(self.hash.len()),
        ) else {
            return false;
        };
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let mut out = Zeroizing::new(alloc::vec![0u8; self.hash.len()]);
        if argon
            .hash_password_into(code.as_bytes(), &self.salt, out.as_mut_slice())
            .is_err()
        {
            return false;
        }
        bool::from(out.as_slice().ct_eq(self.hash.as_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use proptest::prelude::*;

    fn b64(s: &str) -> [u8; 64] {
        base64::engine::general_purpose::STANDARD
            .decode(s)
            .unwrap()
            .try_into()
            .unwrap()
    }

    /// Digests computed with Python's hashlib, as Keycloak computes them
    /// (base64 of SHA-512 over the code without dashes).
    #[test]
    fn keycloak_digests_match_keycloaks_own() {
        let cases = [
            (
                "ABCD-EFGH-IJKL",
                "XYt2bTs3zoqmjdNUpQr5yUIBKG15k9QuILt6k8DMmJf9JxSihg7IxNeZEjdsgjTftS6EHv8OuWA3CoTqVzXosw==",
            ),
            (
                "7QK2-MZ9P-XH4R",
                "JKSI2ttXrjMZas4Orb6AocvULOiDUlrH5VFTMGxz3c1u556SVdXghBVxxXMVWX+z5jWLbRqZoSOD2JLJcWVoig==",
            ),
        ];
        for (shown, stored) in cases {
            let stored = b64(stored);
            for typed in [shown, &shown.to_ascii_lowercase(), &shown.replace('-', " ")] {
                let code = Source::Keycloak.normalise(typed).unwrap();
                assert!(keycloak_matches(&code, &stored), "{typed}");
            }
            assert!(!keycloak_matches("ABCDEFGHIJKM", &stored));
        }
    }

    /// Codes computed with Python from allauth's algorithm (defaults: 10 codes
    /// of 8 digits), for an 80-digit seed (allauth 65.5 and later) and a
    /// 40-digit one (earlier versions).
    #[test]
    fn allauth_codes_match_allauths_own() {
        let cases = [
            (
                "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff0011223344556677",
                "96543028 77560411 64398994 56181033 03197695 03785152 09748224 76340105 94950737 16606028",
            ),
            (
                "0123456789abcdef0123456789abcdef01234567",
                "94444618 14265627 79962534 72098617 06140299 18761587 51930121 90754611 31334072 57793223",
            ),
        ];
        for (seed, expected) in cases {
            let codes = allauth_codes(seed, 10, 8).unwrap();
            let got: Vec<&str> = codes.iter().map(|c| c.as_str()).collect();
            assert_eq!(got.join(" "), expected);
        }
        assert_eq!(
            allauth_codes("xyz", 10, 8).unwrap_err(),
            ForeignDataError::BadSeed
        );
        assert_eq!(
            allauth_codes(&"0".repeat(40), 0, 8).unwrap_err(),
            ForeignDataError::BadShape
        );
    }

    /// A hash made with argon2-cffi (Python) with Supabase's parameters and a
    /// fixed salt (bytes 0..16).
    #[test]
    fn supabase_hashes_verify_with_one_evaluation() {
        let phc = "$argon2id$v=19$m=19456,t=1,p=1$AAECAwQFBgcICQoLDA0ODw$0CspOlG21nyBMlT89leo3Oy26lUWVhTSEYciXX5TYkQ";
        let hash = PhcArgon2::parse(phc).unwrap();
        let before = crate::EVALUATIONS.with(|n| n.get());
        let code = Source::Supabase.normalise("K4M7-X7QP 2AB6-HT3Z").unwrap();
        assert!(hash.matches(&code));
        assert_eq!(crate::EVALUATIONS.with(|n| n.get()) - before, 1);
        assert!(!hash.matches("k4m7x7qp2ab6ht3y"));
        // Its Debug output shows the cost, never the salt or the hash.
        let debug = format!("{hash:?}");
        assert!(debug.contains("19456") && !debug.contains("0Csp"));
        for bad in [
            "$argon2i$v=19$m=19456,t=1,p=1$AAECAwQFBgcICQoLDA0ODw$fMa5SL8JKk5FB6z7rxTAbdIZP9ivT8E96Rt81nqz2Qs",
            "$argon2id$v=16$m=19456,t=1,p=1$AAECAwQFBgcICQoLDA0ODw$fMa5SL8JKk5FB6z7rxTAbdIZP9ivT8E96Rt81nqz2Qs",
            "$argon2id$v=19$m=4194304,t=1,p=1$AAECAwQFBgcICQoLDA0ODw$fMa5SL8JKk5FB6z7rxTAbdIZP9ivT8E96Rt81nqz2Qs",
            "$argon2id$v=19$m=19456,t=99,p=1$AAECAwQFBgcICQoLDA0ODw$fMa5SL8JKk5FB6z7rxTAbdIZP9ivT8E96Rt81nqz2Qs",
            // Beyond what a policy may set here (passes 1..=16, lanes 1..=4),
            // though 0.2.0 imported them: a set never costs more than ours could.
            "$argon2id$v=19$m=19456,t=17,p=1$AAECAwQFBgcICQoLDA0ODw$fMa5SL8JKk5FB6z7rxTAbdIZP9ivT8E96Rt81nqz2Qs",
            "$argon2id$v=19$m=19456,t=20,p=1$AAECAwQFBgcICQoLDA0ODw$fMa5SL8JKk5FB6z7rxTAbdIZP9ivT8E96Rt81nqz2Qs",
            "$argon2id$v=19$m=19456,t=1,p=5$AAECAwQFBgcICQoLDA0ODw$fMa5SL8JKk5FB6z7rxTAbdIZP9ivT8E96Rt81nqz2Qs",
            "$argon2id$v=19$m=19456,t=1,p=1$AAECAwQFBgcICQoLDA0ODw",
            "not a phc string",
        ] {
            assert_eq!(
                PhcArgon2::parse(bad).unwrap_err(),
                ForeignDataError::BadPhc,
                "{bad}"
            );
        }
    }

    #[test]
    fn each_source_refuses_what_it_never_made() {
        assert_eq!(
            Source::Keycloak.normalise("ABCD_EFGH").unwrap_err(),
            ForeignFormatError::InvalidCharacter
        );
        assert_eq!(
            Source::Allauth.normalise("1234567a").unwrap_err(),
            ForeignFormatError::InvalidCharacter
        );
        assert_eq!(
            Source::Supabase.normalise("abc1").unwrap_err(),
            ForeignFormatError::InvalidCharacter
        );
        assert_eq!(
            Source::Kratos.normalise(" - ").unwrap_err(),
            ForeignFormatError::Empty
        );
        assert_eq!(
            Source::Kratos
                .normalise(&"a".repeat(MAX_INPUT_BYTES + 1))
                .unwrap_err(),
            ForeignFormatError::TooLong
        );
        // Plaintext tokens keep their case and their inner characters.
        assert_eq!(
            Source::Plaintext.normalise("  aB3-x  ").unwrap().as_str(),
            "aB3-x"
        );
        assert_eq!(
            Source::Plaintext.normalise("a b").unwrap_err(),
            ForeignFormatError::InvalidCharacter
        );
    }

    const SOURCES: [Source; 5] = [
        Source::Keycloak,
        Source::Kratos,
        Source::Allauth,
        Source::Supabase,
        Source::Plaintext,
    ];

    proptest! {
        /// Normalising twice changes nothing, and a normalised code uses only
        /// its source's alphabet.
        #[test]
        fn normalising_is_idempotent(input in "\\PC{0,40}", which in 0usize..5) {
            let source = SOURCES[which];
            if let Ok(once) = source.normalise(&input) {
                prop_assert!(once.bytes().all(|b| source.allows(b)));
                let twice = source.normalise(&once).unwrap();
                prop_assert_eq!(once.as_str(), twice.as_str());
            }
        }

        /// The ways users copy a code (case, dashes, spaces, surrounding
        /// whitespace) all reach the same code, for every source that folds.
        #[test]
        fn display_variants_reach_the_code(
            code in "[A-Z0-9]{12}",
            cuts in proptest::collection::vec(0usize..12, 0..4),
            lower in any::<bool>(),
        ) {
            let mut typed = String::new();
            for (i, c) in code.chars().enumerate() {
                if cuts.contains(&i) {
                    typed.push(if i % 2 == 0 { '-' } else { ' ' });
                }
                typed.push(if lower { c.to_ascii_lowercase() } else { c });
            }
            let typed = alloc::format!("  {typed}\t");
            let got = Source::Keycloak.normalise(&typed).unwrap();
            prop_assert_eq!(got.as_str(), code.as_str());
            let kratos = Source::Kratos.normalise(&typed).unwrap();
            prop_assert_eq!(kratos.as_str(), code.to_ascii_lowercase());
        }
    }
}
