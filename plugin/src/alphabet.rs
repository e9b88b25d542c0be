//! Code alphabet, check symbol, normalisation of typed input and display form.
//!
//! Codes use Crockford's base32 alphabet (no I, L, O, U), so every symbol carries
//! five bits. The check symbol is a weighted sum over GF(32) with distinct weights
//! α^1..α^n for the random symbols and 1 for the check symbol itself: every single
//! substitution and every transposition of two different symbols changes the sum,
//! so such typos are caught before an attempt is counted.
#![forbid(unsafe_code)]

use alloc::string::String;
use alloc::vec::Vec;
use zeroize::Zeroizing;

/// The 32 code symbols, by value.
pub const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Longest accepted input in bytes, separators included. Longer input is refused
/// before any other work.
pub const MAX_INPUT_BYTES: usize = 128;

/// Most random symbols a code may have: keeps all check weights distinct.
pub const MAX_SYMBOLS: u8 = 30;

/// Why typed input is not a well-formed code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatError {
    /// Nothing but separators.
    Empty,
    /// More than [`MAX_INPUT_BYTES`] bytes.
    TooLong,
    /// A character outside the alphabet (non-ASCII look-alikes included).
    InvalidCharacter,
    /// Wrong number of symbols.
    WrongLength,
    /// The check symbol does not match.
    CheckSymbolMismatch,
}

/// Symbol values of a code (random symbols followed by the check symbol), wiped on drop.
pub type Symbols = Zeroizing<Vec<u8>>;

/// Multiply in GF(2^5) modulo the primitive polynomial x^5 + x^2 + 1.
const fn gf32_mul(mut a: u8, mut b: u8) -> u8 {
    let mut product = 0u8;
    while b != 0 {
        if b & 1 != 0 {
            product ^= a;
        }
        b >>= 1;
        a <<= 1;
        if a & 0x20 != 0 {
            a ^= 0x25;
        }
    }
    product & 0x1f
}

/// The check symbol for the given random symbol values (each below 32).
pub fn check_symbol(data: &[u8]) -> u8 {
    let mut sum = 0u8;
    let mut weight = 1u8;
    for &value in data {
        weight = gf32_mul(weight, 2);
        sum ^= gf32_mul(value & 0x1f, weight);
    }
    sum
}

/// Is `c` a separator users may type between groups: ASCII or Unicode
/// whitespace, hyphen-minus, or a Unicode dash or minus sign.
fn is_separator(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '-' | '\u{2010}'
                ..='\u{2015}'
                    | '\u{2212}'
                    | '\u{2E3A}'
                    | '\u{2E3B}'
                    | '\u{FE58}'
                    | '\u{FE63}'
                    | '\u{FF0D}'
                    | '\u{00AD}'
        )
}

/// The value of one ASCII symbol after case folding and the usual confusions
/// (O→0, I and L→1).
fn symbol_value(c: u8) -> Option<u8> {
    let c = match c.to_ascii_uppercase() {
        b'O' => b'0',
        b'I' | b'L' => b'1',
        other => other,
    };
    ALPHABET
        .iter()
        .position(|&s| s == c)
        .and_then(|p| u8::try_from(p).ok())
}

/// Turn typed input into symbol values, checking length and check symbol.
///
/// `symbols` is the number of random symbols the set's codes have; the check
/// symbol comes on top.
pub fn normalise(input: &str, symbols: u8) -> Result<Symbols, FormatError> {
    if input.len() > MAX_INPUT_BYTES {
        return Err(FormatError::TooLong);
    }
    let mut values: Symbols = Zeroizing::new(Vec::with_capacity(usize::from(symbols) + 1));
    for c in input.chars() {
        if is_separator(c) {
            continue;
        }
        let value = u8::try_from(c)
            .ok()
            .filter(u8::is_ascii)
            .and_then(symbol_value)
            .ok_or(FormatError::InvalidCharacter)?;
        values.push(value);
    }
    if values.is_empty() {
        return Err(FormatError::Empty);
    }
    if values.len() != usize::from(symbols) + 1 {
        return Err(FormatError::WrongLength);
    }
    let (data, check) = values.split_at(usize::from(symbols));
    if check != [check_symbol(data)] {
        return Err(FormatError::CheckSymbolMismatch);
    }
    Ok(values)
}

/// The canonical ASCII form of symbol values (no separators): what is hashed.
pub fn canonical(values: &[u8]) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(
        values
            .iter()
            .map(|&v| ALPHABET[usize::from(v & 0x1f)])
            .collect(),
    )
}

/// Display form: canonical symbols in groups of `group` joined by `-`
/// (no grouping when `group` is 0).
pub fn display(values: &[u8], group: u8) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(values.len() * 2));
    for (i, &v) in values.iter().enumerate() {
        if group != 0 && i != 0 && i % usize::from(group) == 0 {
            out.push('-');
        }
        out.push(char::from(ALPHABET[usize::from(v & 0x1f)]));
    }
    out
}

/// Encode bytes as Crockford base32 text (for set ids), five bits a symbol.
pub fn encode_base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 8 / 5 + 1);
    let mut buffer = 0u16;
    let mut bits = 0u8;
    for &b in bytes {
        buffer = (buffer << 8) | u16::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[usize::from((buffer >> bits) & 0x1f)]));
        }
    }
    if bits > 0 {
        out.push(char::from(
            ALPHABET[usize::from((buffer << (5 - bits)) & 0x1f)],
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn with_check(data: &[u8]) -> Vec<u8> {
        let mut v = data.to_vec();
        v.push(check_symbol(data));
        v
    }

    #[test]
    fn alpha_is_primitive_so_weights_are_distinct() {
        let mut seen = [false; 32];
        let mut w = 1u8;
        for _ in 0..31 {
            assert!(!seen[usize::from(w)], "weight repeats before 31 steps");
            seen[usize::from(w)] = true;
            w = gf32_mul(w, 2);
        }
        assert_eq!(w, 1, "alpha has order 31");
        assert!(!seen[0]);
    }

    #[test]
    fn normalises_case_separators_and_confusables() {
        let data = [0u8, 1, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        let code = with_check(&data);
        let shown = display(&code, 5);
        let typed = shown.to_lowercase().replace('0', "o").replace('1', "l");
        let typed = typed.replace('-', " \u{2013} ");
        assert_eq!(normalise(&typed, 13).as_deref(), Ok(&code));
    }

    #[test]
    fn refuses_bad_input_with_its_own_error() {
        let code = display(&with_check(&[5u8; 13]), 5);
        assert_eq!(normalise("", 13), Err(FormatError::Empty));
        assert_eq!(normalise(" - -", 13), Err(FormatError::Empty));
        assert_eq!(
            normalise(&"A".repeat(10 * 1024), 13),
            Err(FormatError::TooLong)
        );
        assert_eq!(normalise("ABCDU", 13), Err(FormatError::InvalidCharacter));
        // Cyrillic А and full-width Ａ look like A.
        let lookalike = code.replacen('5', "\u{0410}", 1);
        assert_eq!(
            normalise(&lookalike, 13),
            Err(FormatError::InvalidCharacter)
        );
        assert_eq!(
            normalise(&code.replacen('5', "\u{FF21}", 1), 13),
            Err(FormatError::InvalidCharacter)
        );
        assert_eq!(normalise(&code[..10], 13), Err(FormatError::WrongLength));
        let mut wrong = with_check(&[5u8; 13]);
        wrong[13] ^= 1;
        assert_eq!(
            normalise(&display(&wrong, 5), 13),
            Err(FormatError::CheckSymbolMismatch)
        );
    }

    #[test]
    fn base32_of_known_bytes() {
        assert_eq!(encode_base32(&[0xff, 0xff]), "ZZZG");
        assert_eq!(encode_base32(&[0; 10]), "0000000000000000");
    }

    proptest! {
        #[test]
        fn display_form_round_trips(data in proptest::collection::vec(0u8..32, 4..=30), group in 0u8..8) {
            let symbols = u8::try_from(data.len()).unwrap();
            let code = with_check(&data);
            prop_assert_eq!(normalise(&display(&code, group), symbols).map(|v| v.to_vec()), Ok(code));
        }

        #[test]
        fn any_single_substitution_is_caught(data in proptest::collection::vec(0u8..32, 4..=30), pos in any::<prop::sample::Index>(), delta in 1u8..32) {
            let symbols = u8::try_from(data.len()).unwrap();
            let mut code = with_check(&data);
            let i = pos.index(code.len());
            code[i] ^= delta;
            prop_assert_eq!(normalise(&display(&code, 0), symbols).map(|v| v.to_vec()), Err(FormatError::CheckSymbolMismatch));
        }

        #[test]
        fn any_transposition_of_different_symbols_is_caught(data in proptest::collection::vec(0u8..32, 4..=30), a in any::<prop::sample::Index>(), b in any::<prop::sample::Index>()) {
            let symbols = u8::try_from(data.len()).unwrap();
            let mut code = with_check(&data);
            let (i, j) = (a.index(code.len()), b.index(code.len()));
            prop_assume!(code[i] != code[j]);
            code.swap(i, j);
            prop_assert_eq!(normalise(&display(&code, 0), symbols).map(|v| v.to_vec()), Err(FormatError::CheckSymbolMismatch));
        }

        #[test]
        fn normalise_never_panics_and_bounds_work(input in ".{0,200}", symbols in 4u8..=30) {
            if let Ok(v) = normalise(&input, symbols) {
                prop_assert!(input.len() <= MAX_INPUT_BYTES);
                prop_assert_eq!(v.len(), usize::from(symbols) + 1);
                prop_assert!(v.iter().all(|&s| s < 32));
            }
        }
    }
}
