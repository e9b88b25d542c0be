//! Ory Kratos: identities from the admin API with
//! `include_credential=lookup_secret` (an array, or one identity). The
//! credential's `config.recovery_codes` holds plaintext codes and `used_at`.

use serde_json::Value;

use super::{Export, Options, ReadError, Record, RecordError, items, timestamp};
use crate::plugin::{ForeignSet, PlainCode};

fn subject(identity: &Value, field: &str) -> Option<String> {
    let v = match field.strip_prefix("traits.") {
        Some(trait_name) => identity.get("traits")?.get(trait_name)?,
        None => identity.get(field)?,
    };
    v.as_str().filter(|s| !s.is_empty()).map(str::to_owned)
}

fn set(codes: &[Value]) -> Result<ForeignSet, String> {
    let mut out = Vec::with_capacity(codes.len());
    for c in codes {
        let code = c
            .get("code")
            .and_then(Value::as_str)
            .ok_or("a recovery code without its code")?;
        let used_at = match c.get("used_at") {
            None | Some(Value::Null) => None,
            Some(Value::String(t)) => timestamp(t)?,
            Some(_) => return Err("used_at is not a time".into()),
        };
        out.push(PlainCode {
            code: code.to_owned(),
            used_at,
        });
    }
    Ok(ForeignSet::Kratos(out))
}

pub(super) fn read(v: &Value, options: &Options) -> Result<Export, ReadError> {
    let field = options.subject.as_deref().unwrap_or("id");
    if field != "id" && !field.starts_with("traits.") {
        return Err(ReadError::Subject(field.to_owned()));
    }
    let mut out = Export::default();
    for (i, identity) in items(v, &["identities"])?.into_iter().enumerate() {
        let at = format!("identities[{i}]");
        let codes = identity
            .pointer("/credentials/lookup_secret/config/recovery_codes")
            .and_then(Value::as_array);
        let Some(codes) = codes else {
            out.ignored += 1;
            continue;
        };
        let Some(subject) = subject(identity, field) else {
            out.errors.push(RecordError {
                at,
                reason: format!("no {field}"),
            });
            continue;
        };
        match set(codes) {
            Ok(set) => out.records.push(Record { subject, set }),
            Err(reason) => out.errors.push(RecordError { at, reason }),
        }
    }
    Ok(out)
}
