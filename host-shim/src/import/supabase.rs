//! Supabase Auth: its recovery codes are only in its database (no API
//! returns them), so the export is a CSV of `auth.mfa_recovery_codes` joined
//! to its sets, with a header naming `user_id`, `code_hash` and `consumed_at`
//! (or `used_at`, an earlier name), as psql writes it:
//!
//! ```sql
//! \copy (SELECT s.user_id, c.code_hash, c.consumed_at FROM auth.mfa_recovery_codes c
//!   JOIN auth.mfa_recovery_code_sets s ON s.id = c.mfa_recovery_code_set_id
//!   ORDER BY s.user_id, c.created_at, c.id) TO 'supabase.csv' CSV HEADER
//! ```

use super::{Export, Options, ReadError, Record, RecordError, timestamp};
use crate::plugin::{ForeignSet, PhcCode};

pub(super) fn read(text: &str, options: &Options) -> Result<Export, ReadError> {
    if let Some(field) = &options.subject {
        return Err(ReadError::Subject(field.clone()));
    }
    let mut csv = csv::Reader::from_reader(text.as_bytes());
    let header = csv.headers()?.clone();
    let column = |names: &[&str]| header.iter().position(|h| names.contains(&h.trim()));
    let (Some(user), Some(hash)) = (column(&["user_id"]), column(&["code_hash"])) else {
        return Err(ReadError::Shape(
            "expected a CSV header with user_id and code_hash".into(),
        ));
    };
    let used = column(&["consumed_at", "used_at"]);
    let mut out = Export::default();
    let mut failed: Vec<String> = Vec::new();
    for (i, row) in csv.records().enumerate() {
        let at = format!("line {}", i + 2);
        let row = row?;
        let subject = row.get(user).unwrap_or_default().trim().to_owned();
        if subject.is_empty() {
            out.errors.push(RecordError {
                at,
                reason: "no user_id".into(),
            });
            continue;
        }
        if failed.contains(&subject) {
            continue;
        }
        let used_at = match used.and_then(|u| row.get(u)).map(str::trim) {
            None | Some("") => Ok(None),
            Some(t) => timestamp(t),
        };
        let used_at = match used_at {
            Ok(u) => u,
            Err(reason) => {
                // One bad row spoils its subject's whole set.
                out.records.retain(|r| r.subject != subject);
                failed.push(subject);
                out.errors.push(RecordError { at, reason });
                continue;
            }
        };
        let code = PhcCode {
            phc: row.get(hash).unwrap_or_default().trim().to_owned(),
            used_at,
        };
        match out.records.iter_mut().find(|r| r.subject == subject) {
            Some(Record {
                set: ForeignSet::Supabase(codes),
                ..
            }) => codes.push(code),
            _ => out.records.push(Record {
                subject,
                set: ForeignSet::Supabase(vec![code]),
            }),
        }
    }
    Ok(out)
}
