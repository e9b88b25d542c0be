//! What users read on the step's pages about their codes: format errors,
//! rejections, attempts left, lockout times.

use crate::plugin::{CodeFormatError, FailureReason};

/// The sentence for a code that is not well formed (never counted).
pub fn format_message(f: CodeFormatError) -> &'static str {
    match f {
        CodeFormatError::Empty => "Type one of your backup codes.",
        CodeFormatError::TooLong => "That is longer than a backup code. Type just one code.",
        CodeFormatError::InvalidCharacter => {
            "That contains characters that are not in backup codes (codes use letters and digits only). It was not counted as an attempt."
        }
        CodeFormatError::WrongLength => {
            "That code has the wrong number of characters. Check it against your list; it was not counted as an attempt."
        }
        CodeFormatError::CheckSymbolMismatch => {
            "That code has a typo (its check character does not match the rest). Check it against your list; it was not counted as an attempt."
        }
    }
}

/// The sentence for a rejected code at login, with the attempts note.
pub fn rejection_message(reason: FailureReason, note: &str) -> String {
    let first = match reason {
        FailureReason::Mismatch => "That code is not right.",
        FailureReason::AlreadyUsed => {
            "That code was already used. Each code works once: use another code from your list."
        }
        FailureReason::WrongNumber => {
            "That is a valid code, but not the one asked for: use the code with the number shown."
        }
    };
    format!("{first} {note}")
}

/// The sentence for a code that did not confirm a new set, with the attempts note.
pub fn activation_message(reason: FailureReason, note: &str) -> String {
    let first = match reason {
        FailureReason::Mismatch => {
            "That code is not one of the new set. Type a code from the list you just saved."
        }
        FailureReason::AlreadyUsed | FailureReason::WrongNumber => {
            "That code cannot confirm the new set. Type another code from the list you just saved."
        }
    };
    format!("{first} {note}")
}

/// How many attempts are left, or until when attempts are locked.
pub fn attempts_note(
    free_failures: u32,
    failures: u32,
    locked_until: Option<i64>,
    now: i64,
) -> String {
    if let Some(until) = locked_until {
        let wait = until.saturating_sub(now).max(1);
        return format!(
            "Too many wrong codes: you can try again after {} UTC (in {}).",
            format_time(until),
            format_wait(wait)
        );
    }
    match free_failures.saturating_sub(failures) {
        0 => "The next wrong code locks backup codes for a while.".to_owned(),
        1 => "1 attempt left before a short lockout.".to_owned(),
        left => format!("{left} attempts left before a short lockout."),
    }
}

/// The message of a lockout page.
pub fn locked_message(until: i64, now: i64) -> String {
    let wait = until.saturating_sub(now).max(1);
    format!(
        "Backup codes are locked for your account after too many wrong codes. Try again after {} UTC (in {}).",
        format_time(until),
        format_wait(wait)
    )
}

/// A Unix time as `YYYY-MM-DD hh:mm:ss` in UTC.
pub fn format_time(at: i64) -> String {
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let days = at.div_euclid(86_400);
    let secs = at.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// A wait in seconds, minutes or hours, rounded up.
pub fn format_wait(seconds: i64) -> String {
    match seconds {
        s if s < 60 => format!("{s} second{}", if s == 1 { "" } else { "s" }),
        s if s < 3600 => {
            let m = (s + 59) / 60;
            format!("{m} minute{}", if m == 1 { "" } else { "s" })
        }
        s => {
            let h = (s + 3599) / 3600;
            format!("{h} hour{}", if h == 1 { "" } else { "s" })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_formatted_in_utc() {
        assert_eq!(format_time(0), "1970-01-01 00:00:00");
        assert_eq!(format_time(1_800_000_000), "2027-01-15 08:00:00");
        assert_eq!(format_wait(30), "30 seconds");
        assert_eq!(format_wait(61), "2 minutes");
    }
}
