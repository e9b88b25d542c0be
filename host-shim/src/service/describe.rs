//! What events and refusals say: audit rows and webhook details for the
//! plugin's events (kinds, set ids, numbers, reasons; never a code), stable
//! names, and sentences for refusals (never repeating the input).

use serde_json::json;

use crate::config::EventKind;
use crate::plugin::{Event, FailureReason, PluginError};
use crate::store::AuditRecord;

/// Audit rows for plugin events: kind and details, never a code.
pub fn audit_records(events: &[Event], at: i64) -> Vec<AuditRecord> {
    events
        .iter()
        .map(|e| {
            let (kind, detail) = describe(e);
            AuditRecord {
                at,
                kind: kind.to_owned(),
                detail: detail.to_string(),
                version: None,
            }
        })
        .collect()
}

/// An event's kind (named once, by [`EventKind`]) and its details as JSON.
pub fn describe(event: &Event) -> (&'static str, serde_json::Value) {
    let detail = match event {
        Event::Issued(e) => json!({"set_id": e.set_id, "count": e.count, "pending": e.pending}),
        Event::Activated(e) => json!({"set_id": e.set_id}),
        Event::Used(e) => json!({"set_id": e.set_id, "number": e.number, "remaining": e.remaining}),
        Event::Failed(e) => json!({"set_id": e.set_id, "reason": reason_name(e.reason),
            "consecutive_failures": e.consecutive_failures}),
        Event::Locked(e) => json!({"set_id": e.set_id, "until": e.until}),
        Event::Low(e) => json!({"set_id": e.set_id, "number": e.number, "remaining": e.remaining}),
        Event::Exhausted(e) => json!({"set_id": e.set_id}),
        Event::Replaced(e) => json!({"set_id": e.set_id, "number": e.number}),
        Event::Imported(e) => json!({"set_id": e.set_id, "source": source_name(e.source),
            "count": e.count, "remaining": e.remaining, "legacy": e.legacy}),
    };
    (EventKind::of(event).name(), detail)
}

/// Stable name of an identity server sets are imported from.
pub fn source_name(source: crate::plugin::ForeignSource) -> &'static str {
    use crate::plugin::ForeignSource as S;
    match source {
        S::Keycloak => "keycloak",
        S::Kratos => "kratos",
        S::Allauth => "allauth",
        S::Supabase => "supabase",
        S::Plaintext => "plaintext",
    }
}

/// A sentence describing a refusal (never repeating the input).
pub fn refusal_text(e: &PluginError) -> String {
    use crate::plugin::CodeFormatError as F;
    match e {
        PluginError::InvalidPolicy(m) => format!("invalid policy: {m}"),
        PluginError::MalformedCredential => "the stored credential is corrupt".into(),
        PluginError::UnsupportedVersion(v) => {
            format!("the stored credential has format version {v}, newer than this plugin")
        }
        PluginError::InvalidCode(f) => {
            let why = match f {
                F::Empty => "it is empty",
                F::TooLong => "it is too long",
                F::InvalidCharacter => "it has a character that is not in the code alphabet",
                F::WrongLength => "it has the wrong number of characters",
                F::CheckSymbolMismatch => "its check character does not match: a typo",
            };
            format!("the code is not well formed ({why}); it was not counted as an attempt")
        }
        PluginError::NoActiveSet => {
            "no active set: type one code of the new set back first (activate)".into()
        }
        PluginError::NoPendingSet => "there is no new set waiting for activation".into(),
        PluginError::PepperMismatch => {
            "the configured pepper differs from the one the set was issued with".into()
        }
        PluginError::HostFailure => "the host's random source or clock failed".into(),
        PluginError::InvalidImport(e) => {
            use crate::plugin::ImportError as I;
            let why = match e {
                I::BadCount => "it has no code, or more than 64",
                I::BadCode => "a code has characters its system never used",
                I::Duplicate => "two codes are the same",
                I::BadSeed => "the allauth seed is not 40 or 80 hex digits",
                I::BadShape => {
                    "a count, digit length, code number or digest length is out of range"
                }
                I::BadPhc => "a hash is not an argon2id PHC string within the accepted bounds",
            };
            format!("the set cannot be imported: {why}")
        }
    }
}

/// Stable name of a failure reason.
pub fn reason_name(reason: FailureReason) -> &'static str {
    match reason {
        FailureReason::Mismatch => "mismatch",
        FailureReason::AlreadyUsed => "already_used",
        FailureReason::WrongNumber => "wrong_number",
        FailureReason::Interrupted => "interrupted",
    }
}
