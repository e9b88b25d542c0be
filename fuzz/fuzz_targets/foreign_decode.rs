//! The decoders of sets imported from other systems (`foreign`): each
//! source's normaliser on arbitrary typed input, the PHC-string parser on
//! arbitrary stored text, and django-allauth's code derivation on arbitrary
//! seeds and shapes.
//!
//! Input: byte 0 picks the decoder (and the source), byte 1 a count, byte 2 a
//! number of digits, the rest the text (UTF-8, as a WIT `string` always is).
//!
//! Invariants: never panics; a normalised code is non-empty, at most the
//! input's length, made only of its source's alphabet, and normalises to
//! itself; input over the limit is always `TooLong`. A PHC string is accepted
//! only as argon2id v19 within its bounds, and the parse is a function of its
//! text (no argon2 runs here: a parsed string may name a gibibyte of memory).
//! allauth codes exist only for a 40- or 80-digit hex seed and 1..=64 codes of
//! 1..=32 digits, and are that many zero-padded decimal strings.
#![no_main]

use backup_codes_fuzz::alphabet::MAX_INPUT_BYTES;
use backup_codes_fuzz::foreign::{
    ForeignDataError, ForeignFormatError, PhcArgon2, Source, allauth_codes,
};
use libfuzzer_sys::fuzz_target;

const SOURCES: [Source; 5] = [
    Source::Keycloak,
    Source::Kratos,
    Source::Allauth,
    Source::Supabase,
    Source::Plaintext,
];

fn alphabet(source: Source, c: u8) -> bool {
    match source {
        Source::Keycloak => c.is_ascii_uppercase() || c.is_ascii_digit(),
        Source::Kratos => c.is_ascii_lowercase() || c.is_ascii_digit(),
        Source::Allauth => c.is_ascii_digit(),
        Source::Supabase => c.is_ascii_lowercase() || (b'2'..=b'7').contains(&c),
        Source::Plaintext => c.is_ascii_graphic(),
    }
}

fuzz_target!(|data: &[u8]| {
    let [which, count, digits, rest @ ..] = data else {
        return;
    };
    let Ok(text) = core::str::from_utf8(rest) else {
        return;
    };
    match which % 7 {
        n @ 0..=4 => {
            let source = SOURCES[usize::from(n)];
            let result = source.normalise(text);
            if text.len() > MAX_INPUT_BYTES {
                assert_eq!(result.as_deref(), Err(&ForeignFormatError::TooLong));
                return;
            }
            let Ok(code) = result else {
                return;
            };
            assert!(!code.is_empty(), "empty code");
            assert!(code.len() <= text.len(), "longer than typed");
            assert!(code.bytes().all(|c| alphabet(source, c)), "outside the alphabet");
            assert_eq!(
                source.normalise(&code).as_deref().map(|s| s.as_str()),
                Ok(code.as_str()),
                "not idempotent"
            );
        }
        5 => {
            let first = PhcArgon2::parse(text).is_ok();
            assert_eq!(PhcArgon2::parse(text).is_ok(), first, "parse is not a function");
            if first {
                assert!(text.starts_with("$argon2id$v=19$"), "accepted {text:?}");
                assert!(text.len() <= 512);
            }
        }
        _ => match allauth_codes(text, *count, *digits) {
            Ok(codes) => {
                assert!(matches!(text.len(), 40 | 80));
                assert!(text.bytes().all(|b| b.is_ascii_hexdigit()));
                assert_eq!(codes.len(), usize::from(*count));
                for code in &codes {
                    assert_eq!(code.len(), usize::from(*digits));
                    assert!(code.bytes().all(|b| b.is_ascii_digit()));
                }
            }
            Err(ForeignDataError::BadSeed | ForeignDataError::BadShape) => {}
            Err(e) => panic!("unexpected {e:?}"),
        },
    }
});
