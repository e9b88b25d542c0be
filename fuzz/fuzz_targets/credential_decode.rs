//! `state::Credential::decode` on arbitrary bytes, and on the same bytes behind a
//! valid header (`BKC1` + version 1), so the fuzzer spends its time in the
//! postcard body and the invariant checks rather than on the magic number.
//!
//! Invariants: never panics; on `Ok` the value satisfies the documented
//! invariants (1..=64 codes a set, symbols within range, active sets activated,
//! pending sets neither activated nor used), its accessors do not panic, and
//! encoding then decoding gives the same value (and encoding is then stable).
#![no_main]

use backup_codes_fuzz::alphabet::MAX_SYMBOLS;
use backup_codes_fuzz::policy::{MAX_CONSECUTIVE_FAILURES, MAX_COUNT, MIN_SYMBOLS};
use backup_codes_fuzz::state::{CodeSet, Credential, MAGIC, MAX_ENCODED_LEN, VERSION};
use libfuzzer_sys::fuzz_target;

fn check_set(set: &CodeSet) {
    assert!((1..=usize::from(MAX_COUNT)).contains(&set.codes.len()));
    assert!((MIN_SYMBOLS..=MAX_SYMBOLS).contains(&set.symbols));
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
        assert!(
            pending.codes.iter().all(|c| c.used_at.is_none()),
            "pending code used"
        );
    }
    let encoded = credential.encode();
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
    let mut with_header = Vec::with_capacity(data.len() + 6);
    with_header.extend_from_slice(MAGIC);
    with_header.extend_from_slice(&VERSION.to_be_bytes());
    with_header.extend_from_slice(data);
    check(&with_header);
});
