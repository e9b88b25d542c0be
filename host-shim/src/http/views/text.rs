//! What users read on the step's pages about their codes: format errors,
//! rejections, attempts left, lockout times, in the reader's language.

use crate::http::views::i18n::{Arg, Msg, Tr};
use crate::plugin::{CodeFormatError, FailureReason};

/// The sentence for a code that is not well formed (never counted).
pub fn format_message(t: &Tr, f: CodeFormatError) -> String {
    t.msg(match f {
        CodeFormatError::Empty => "code-error-empty",
        CodeFormatError::TooLong => "code-error-too-long",
        CodeFormatError::InvalidCharacter => "code-error-invalid-character",
        CodeFormatError::WrongLength => "code-error-wrong-length",
        CodeFormatError::CheckSymbolMismatch => "code-error-check-symbol",
    })
}

/// The sentence for a rejected code at login, with the attempts note; a code
/// of the set the active one replaced gets its own sentence.
pub fn rejection_message(t: &Tr, reason: FailureReason, replaced_set: bool, note: &str) -> String {
    let first = match reason {
        FailureReason::Mismatch if replaced_set => "reject-replaced-set",
        // An interrupted check is answered as unavailable, never with this
        // page; were it shown, it reads as any wrong code.
        FailureReason::Mismatch | FailureReason::Interrupted => "reject-mismatch",
        FailureReason::AlreadyUsed => "reject-already-used",
        FailureReason::WrongNumber => "reject-wrong-number",
    };
    format!("{} {note}", t.msg(first))
}

/// The sentence for a code that did not confirm a new set, with the attempts note.
pub fn activation_message(t: &Tr, reason: FailureReason, note: &str) -> String {
    let first = match reason {
        FailureReason::Mismatch | FailureReason::Interrupted => "activate-mismatch",
        FailureReason::AlreadyUsed | FailureReason::WrongNumber => "activate-other",
    };
    format!("{} {note}", t.msg(first))
}

/// How many attempts are left, or until when attempts are locked.
pub fn attempts_note(
    t: &Tr,
    free_failures: u32,
    failures: u32,
    locked_until: Option<i64>,
    now: i64,
) -> String {
    if let Some(until) = locked_until {
        return t.text(&until_message("attempts-locked", until, now));
    }
    match free_failures.saturating_sub(failures) {
        0 => t.msg("attempts-last"),
        left => t.with("attempts-left", &[("left", Arg::Num(i64::from(left)))]),
    }
}

/// The message of a lockout page.
pub fn locked_message(until: i64, now: i64) -> Msg {
    until_message("refusal-locked-until", until, now)
}

/// A message naming when a lockout ends: the time is rounded up to the
/// minute (times are shown without seconds), so "try again after" holds.
fn until_message(id: &'static str, until: i64, now: i64) -> Msg {
    let shown = until.saturating_add(59).div_euclid(60).saturating_mul(60);
    Msg::new(id)
        .arg("until", Arg::Time(shown))
        .arg("wait", Arg::Wait(until.saturating_sub(now).max(1)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::views::i18n::Language;

    #[test]
    fn times_name_their_zone_and_lockouts_round_up() {
        let en = Tr::default();
        assert_eq!(en.time(1_800_000_000), "2027-01-15 08:00 (UTC)");
        assert_eq!(en.wait(30), "30 seconds");
        assert_eq!(en.wait(61), "2 minutes");
        assert_eq!(en.wait(1), "1 second");
        let paris = Tr::new(Language::Fr, Some("Europe/Paris"));
        assert_eq!(paris.time(1_800_000_000), "15/01/2027 09:00 (Europe/Paris)");
        let note = attempts_note(&en, 3, 3, Some(1_800_000_001), 1_800_000_000);
        assert!(note.contains("08:01 (UTC)"), "{note}");
        // An unknown zone is not trusted: UTC, named.
        assert!(
            Tr::new(Language::En, Some("Mars/Olympus"))
                .time(0)
                .ends_with("(UTC)")
        );
    }
}
