//! Plaintext static tokens: `manage.py dumpdata otp_static` (django-otp) or
//! `dumpdata authentik_stages_authenticator_static` (authentik). Devices name
//! their user; tokens name their device and hold the code. Only unused tokens
//! exist (a used one is deleted). A user's tokens of all devices form one set,
//! as both systems accept any of them.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Export, Options, ReadError, Record, RecordError, items, key_text};
use crate::plugin::ForeignSet;

fn model(row: &Value) -> &str {
    row.get("model").and_then(Value::as_str).unwrap_or_default()
}

pub(super) fn read(v: &Value, options: &Options) -> Result<Export, ReadError> {
    if let Some(field) = &options.subject {
        return Err(ReadError::Subject(field.clone()));
    }
    let rows = items(v, &[])?;
    let mut out = Export::default();
    // Devices first: tokens refer to them by primary key.
    let mut owner: BTreeMap<String, String> = BTreeMap::new();
    for (i, row) in rows.iter().enumerate() {
        if !model(row).ends_with(".staticdevice") {
            continue;
        }
        let device = row.get("pk").and_then(key_text);
        let user = row.pointer("/fields/user").and_then(key_text);
        match (device, user) {
            (Some(d), Some(u)) => {
                owner.insert(d, u);
            }
            _ => out.errors.push(RecordError {
                at: format!("[{i}]"),
                reason: "a device without its pk or user".into(),
            }),
        }
    }
    let mut sets: Vec<(String, Vec<String>)> = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let m = model(row);
        if m.ends_with(".staticdevice") {
            continue;
        }
        if !m.ends_with(".statictoken") {
            out.ignored += 1;
            continue;
        }
        let at = format!("[{i}]");
        let device = row.pointer("/fields/device").and_then(key_text);
        let token = row.pointer("/fields/token").and_then(Value::as_str);
        let (Some(device), Some(token)) = (device, token) else {
            out.errors.push(RecordError {
                at,
                reason: "a token without its device or token".into(),
            });
            continue;
        };
        let Some(user) = owner.get(&device) else {
            out.errors.push(RecordError {
                at,
                reason: "a token of a device not in the file".into(),
            });
            continue;
        };
        match sets.iter_mut().find(|(u, _)| u == user) {
            Some((_, tokens)) => tokens.push(token.to_owned()),
            None => sets.push((user.clone(), vec![token.to_owned()])),
        }
    }
    out.records = sets
        .into_iter()
        .map(|(subject, tokens)| Record {
            subject,
            set: ForeignSet::Plaintext(tokens),
        })
        .collect();
    Ok(out)
}
