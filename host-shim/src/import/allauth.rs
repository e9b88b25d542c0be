//! django-allauth: `manage.py dumpdata mfa.authenticator`. A `recovery_codes`
//! authenticator holds the `seed` its codes derive from and a `used_mask`;
//! sets migrated from django-allauth-2fa or django-otp hold `migrated_codes`
//! (plaintext, removed when used) instead. The count and digits are the
//! project's settings, not stored per record ([`Options`]). A project that
//! overrides `MFAAdapter.encrypt` must export decrypted seeds.

use serde_json::Value;

use super::{Export, Options, ReadError, Record, RecordError, items, key_text};
use crate::plugin::{AllauthSet, ForeignSet};

fn set(data: &Value, options: &Options) -> Result<ForeignSet, String> {
    if let Some(seed) = data.get("seed") {
        let seed = seed.as_str().ok_or("the seed is not text")?;
        let used_mask = data.get("used_mask").and_then(Value::as_u64).unwrap_or(0);
        return Ok(ForeignSet::Allauth(AllauthSet {
            seed: seed.to_owned(),
            count: options.allauth_count,
            digits: options.allauth_digits,
            used_mask,
        }));
    }
    let migrated = data
        .get("migrated_codes")
        .and_then(Value::as_array)
        .ok_or("neither a seed nor migrated codes")?;
    migrated
        .iter()
        .map(|c| {
            c.as_str()
                .map(str::to_owned)
                .ok_or("a migrated code that is not text")
        })
        .collect::<Result<Vec<_>, _>>()
        .map(ForeignSet::Plaintext)
        .map_err(str::to_owned)
}

pub(super) fn read(v: &Value, options: &Options) -> Result<Export, ReadError> {
    if let Some(field) = &options.subject {
        return Err(ReadError::Subject(field.clone()));
    }
    let mut out = Export::default();
    for (i, row) in items(v, &[])?.into_iter().enumerate() {
        let at = format!("[{i}]");
        let fields = row.get("fields");
        let is_codes = row.get("model").and_then(Value::as_str) == Some("mfa.authenticator")
            && fields.and_then(|f| f.get("type")).and_then(Value::as_str) == Some("recovery_codes");
        let Some(fields) = fields.filter(|_| is_codes) else {
            out.ignored += 1;
            continue;
        };
        let Some(subject) = fields.get("user").and_then(key_text) else {
            out.errors.push(RecordError {
                at,
                reason: "no user".into(),
            });
            continue;
        };
        let data = fields.get("data").cloned().unwrap_or(Value::Null);
        match set(&data, options) {
            Ok(set) => out.records.push(Record { subject, set }),
            Err(reason) => out.errors.push(RecordError { at, reason }),
        }
    }
    Ok(out)
}
