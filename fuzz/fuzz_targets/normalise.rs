//! `alphabet::normalise` on arbitrary typed input and arbitrary symbol counts.
//!
//! Input: byte 0 is the symbol count (any `u8`, not only the policy's 4..=30),
//! byte 1 the display group size, the rest the typed text (UTF-8, as a WIT
//! `string` always is; other bytes are not a possible input and are skipped).
//!
//! Invariants: never panics; on `Ok` the input was at most `MAX_INPUT_BYTES`,
//! there are `symbols + 1` values, each below 32, the last is the check symbol of
//! the others, and the display form (any grouping, upper or lower case, when it
//! fits the input limit) normalises back to the same values; an input over the
//! limit is always `TooLong`.
#![no_main]

use backup_codes_fuzz::alphabet::{
    ALPHABET, FormatError, MAX_INPUT_BYTES, canonical, check_symbol, display, normalise,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [symbols, group, rest @ ..] = data else {
        return;
    };
    let (symbols, group) = (*symbols, *group);
    let Ok(input) = core::str::from_utf8(rest) else {
        return;
    };
    let result = normalise(input, symbols);
    if input.len() > MAX_INPUT_BYTES {
        assert_eq!(result.as_deref(), Err(&FormatError::TooLong));
        return;
    }
    let Ok(values) = result else {
        return;
    };
    assert_eq!(values.len(), usize::from(symbols) + 1, "length");
    assert!(values.iter().all(|&v| v < 32), "value out of range");
    let (body, check) = values.split_at(usize::from(symbols));
    assert_eq!(check, [check_symbol(body)], "check symbol");

    // Canonical form: one alphabet symbol per value, never longer than the input.
    let canon = canonical(&values);
    assert!(canon.iter().all(|c| ALPHABET.contains(c)));
    assert!(canon.len() <= input.len());
    let canon_text = core::str::from_utf8(&canon).unwrap_or_default();
    assert_eq!(
        normalise(canon_text, symbols).as_deref(),
        Ok(&*values),
        "canonical round trip"
    );

    // Display form, with the fuzzer's grouping, upper and lower case.
    let shown = display(&values, group);
    if shown.len() <= MAX_INPUT_BYTES {
        assert_eq!(
            normalise(&shown, symbols).as_deref(),
            Ok(&*values),
            "display round trip"
        );
        let lower = shown.to_ascii_lowercase();
        assert_eq!(
            normalise(&lower, symbols).as_deref(),
            Ok(&*values),
            "lower-case round trip"
        );
    } else {
        assert_eq!(
            normalise(&shown, symbols).as_deref(),
            Err(&FormatError::TooLong)
        );
    }

    // Normalising is a function of the input: same answer twice.
    assert_eq!(normalise(input, symbols).as_deref(), Ok(&*values));
});
