//! `state::Credential::decode` on arbitrary bytes, and on the same bytes behind
//! each valid header (`BKC1` + version 1, the 0.1 layout, and version 2, with
//! imported sets), so the fuzzer spends its time in the postcard bodies and the
//! invariant checks rather than on the magic number.
//!
//! Invariants: never panics; on `Ok` the value satisfies the documented
//! invariants (1..=64 codes a set; symbols within range for native sets and 0
//! for imported ones; each digest of its set's kind, a spent one used; active
//! sets activated; pending sets native, neither activated nor used), its
//! accessors do not panic, encoding then decoding gives the same value (and
//! encoding is then stable), and a value with only native sets is written in
//! version 1.
#![no_main]

use backup_codes_fuzz::alphabet::MAX_SYMBOLS;
use backup_codes_fuzz::policy::{MAX_CONSECUTIVE_FAILURES, MAX_COUNT, MIN_SYMBOLS};
use backup_codes_fuzz::state::{
    CodeSet, Credential, Digest, MAGIC, MAX_ENCODED_LEN, Scheme, VERSION,
};
use libfuzzer_sys::fuzz_target;

fn check_set(set: &CodeSet) {
    assert!((1..=usize::from(MAX_COUNT)).contains(&set.codes.len()));
    match set.scheme {
        Scheme::Native => assert!((MIN_SYMBOLS..=MAX_SYMBOLS).contains(&set.symbols)),
        _ => assert_eq!(set.symbols, 0),
    }
    for c in &set.codes {
        match (&c.digest, set.scheme) {
            (Digest::Argon2(_), Scheme::Native | Scheme::Rehashed(_)) => {}
            (Digest::Sha512(d), Scheme::Keycloak) => assert_eq!(d.len(), 64),
            (Digest::Phc(p), Scheme::Supabase) => assert!(p.is_valid()),
            (Digest::Spent, Scheme::Keycloak | Scheme::Supabase) => assert!(c.used_at.is_some()),
            _ => panic!("a digest of another kind than its set's"),
        }
    }
    assert!(set.failures <= MAX_CONSECUTIVE_FAILURES);
    assert!(set.hash.validate().is_ok());
    assert!(usize::from(set.remaining()) <= set.codes.len());
    if let Some(n) = set.next_number() {
        assert!(set.codes[usize::from(n) - 1].used_at.is_none());
    }
    assert_eq!(set.id_text().len(), 16);
    assert_eq!(set.fingerprint().len(), 4);
    let _ = format!("{set:?}");
}

fn check(bytes: &[u8]) {
    let Ok(credential) = Credential::decode(bytes) else {
        return;
    };
    assert!(bytes.len() <= MAX_ENCODED_LEN);
    if let Some(active) = &credential.active {
        check_set(active);
        assert!(active.activated_at.is_some(), "active set not activated");
    }
    if let Some(pending) = &credential.pending {
        check_set(pending);
        assert!(pending.activated_at.is_none(), "pending set activated");
        assert_eq!(pending.scheme, Scheme::Native, "an imported set pending");
        assert!(
            pending.codes.iter().all(|c| c.used_at.is_none()),
            "pending code used"
        );
    }
    let encoded = credential.encode();
    let native = credential
        .active
        .iter()
        .chain(credential.pending.iter())
        .all(|s| s.scheme == Scheme::Native);
    assert_eq!(credential.version(), if native { 1 } else { VERSION });
    assert_eq!(
        Credential::decode(&encoded).as_ref(),
        Ok(&credential),
        "re-encode round trip"
    );
    assert_eq!(
        Credential::decode(&encoded).map(|c| c.encode()).as_deref(),
        Ok(encoded.as_slice()),
        "encoding is stable"
    );
}

fuzz_target!(|data: &[u8]| {
    check(data);
    for version in [1u16, VERSION] {
        let mut with_header = Vec::with_capacity(data.len() + 6);
        with_header.extend_from_slice(MAGIC);
        with_header.extend_from_slice(&version.to_be_bytes());
        with_header.extend_from_slice(data);
        check(&with_header);
    }
});
