//! Keycloak: a realm or users export. Each user's `credentials` may hold one
//! of type `recovery-authn-codes`, whose `secretData` and `credentialData`
//! are JSON strings: the unused codes' numbers and base64 SHA-512 digests
//! (`encodedHashedValue`), and the set's size (`totalCodes`, or `total` as
//! Keycloak's own import accepts). Used codes are gone from the list.

use base64::Engine as _;
use serde_json::Value;

use super::{Export, Options, ReadError, Record, RecordError, items};
use crate::plugin::{ForeignSet, KeycloakCode, KeycloakSet};

const TYPE: &str = "recovery-authn-codes";

fn subject(user: &Value, field: &str) -> Option<String> {
    user.get(field)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// A JSON field that Keycloak stores as a JSON string (or, from some tools,
/// as the object itself).
fn embedded(credential: &Value, field: &str) -> Result<Value, String> {
    match credential.get(field) {
        Some(Value::String(s)) => {
            serde_json::from_str(s).map_err(|_| format!("{field} is not JSON"))
        }
        Some(v @ Value::Object(_)) => Ok(v.clone()),
        _ => Err(format!("no {field}")),
    }
}

fn set(credential: &Value) -> Result<ForeignSet, String> {
    let data = embedded(credential, "credentialData")?;
    if let Some(alg) = data.get("algorithm").and_then(Value::as_str)
        && !matches!(alg, "RS512" | "SHA-512")
    {
        return Err(format!("algorithm {alg} (SHA-512 expected)"));
    }
    let secret = embedded(credential, "secretData")?;
    let codes = secret
        .get("codes")
        .and_then(Value::as_array)
        .ok_or("secretData has no codes")?;
    let mut remaining = Vec::with_capacity(codes.len());
    for c in codes {
        let number = c
            .get("number")
            .and_then(Value::as_u64)
            .and_then(|n| u8::try_from(n).ok())
            .ok_or("a code without a number")?;
        let sha512 = c
            .get("encodedHashedValue")
            .and_then(Value::as_str)
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .filter(|d| d.len() == 64)
            .ok_or("a digest that is not base64 SHA-512")?;
        remaining.push(KeycloakCode { number, sha512 });
    }
    let total = ["totalCodes", "total"]
        .iter()
        .find_map(|k| data.get(*k).and_then(Value::as_u64))
        .map(u8::try_from)
        .transpose()
        .map_err(|_| "totalCodes out of range")?
        .or_else(|| remaining.iter().map(|c| c.number).max())
        .ok_or("no total and no code")?;
    Ok(ForeignSet::Keycloak(KeycloakSet { total, remaining }))
}

pub(super) fn read(v: &Value, options: &Options) -> Result<Export, ReadError> {
    let field = options.subject.as_deref().unwrap_or("username");
    if !matches!(field, "username" | "id" | "email") {
        return Err(ReadError::Subject(field.to_owned()));
    }
    let mut out = Export::default();
    for (i, user) in items(v, &["users"])?.into_iter().enumerate() {
        let at = format!("users[{i}]");
        let credential = user
            .get("credentials")
            .and_then(Value::as_array)
            .and_then(|cs| {
                cs.iter()
                    .find(|c| c.get("type").and_then(Value::as_str) == Some(TYPE))
            });
        let Some(credential) = credential else {
            out.ignored += 1;
            continue;
        };
        let Some(subject) = subject(user, field) else {
            out.errors.push(RecordError {
                at,
                reason: format!("no {field}"),
            });
            continue;
        };
        match set(credential) {
            Ok(set) => out.records.push(Record { subject, set }),
            Err(reason) => out.errors.push(RecordError { at, reason }),
        }
    }
    Ok(out)
}
