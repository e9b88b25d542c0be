//! Reading other identity servers' exports of recovery codes, so their users
//! keep the codes they saved (`backup-codes-shim import`, issue 17). Each
//! reader turns one system's export into one [`ForeignSet`] per subject; the
//! component then hashes or keeps them (see the WIT `import-set`). Readers
//! never keep, log or print a code: a bad record is reported by its place in
//! the file and what is wrong with it.
//!
//! | `--from` | file | subject |
//! |---|---|---|
//! | `keycloak` | realm or users export (`kc.sh export --users ...`), JSON | `username` (or `id`, `email`) |
//! | `kratos` | `GET /admin/identities?include_credential=lookup_secret`, JSON | identity `id` (or `traits.NAME`) |
//! | `allauth` | `manage.py dumpdata mfa.authenticator`, JSON | user primary key |
//! | `supabase` | CSV `user_id,code_hash,consumed_at` from `auth.mfa_recovery_codes` | `user_id` |
//! | `plaintext` | `manage.py dumpdata otp_static` (django-otp) or `authentik_stages_authenticator_static` (authentik), JSON | user primary key |

mod allauth;
mod keycloak;
mod kratos;
mod otp;
mod supabase;

use serde_json::Value;

use crate::plugin::ForeignSet;

/// The system an export comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Keycloak `recovery-authn-codes`.
    Keycloak,
    /// Ory Kratos `lookup_secret`.
    Kratos,
    /// django-allauth recovery codes.
    Allauth,
    /// Supabase Auth recovery codes.
    Supabase,
    /// django-otp or authentik static tokens.
    Plaintext,
}

/// How to read an export.
#[derive(Debug, Clone)]
pub struct Options {
    /// Which field names the subject (format-dependent; `None`: the default).
    pub subject: Option<String>,
    /// django-allauth's `MFA_RECOVERY_CODE_COUNT` (not stored per record).
    pub allauth_count: u8,
    /// django-allauth's `MFA_RECOVERY_CODE_DIGITS`.
    pub allauth_digits: u8,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            subject: None,
            allauth_count: 10,
            allauth_digits: 8,
        }
    }
}

/// One subject's set.
pub struct Record {
    /// The subject, as the identity provider names it to the shim.
    pub subject: String,
    /// The set, as its system keeps it.
    pub set: ForeignSet,
}

impl std::fmt::Debug for Record {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Record")
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// A record that cannot be read: where, and why (never its content).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RecordError {
    /// Its place in the file (`users[3]`, `line 7`).
    pub at: String,
    /// What is wrong.
    pub reason: String,
}

/// What a file holds.
#[derive(Debug, Default)]
pub struct Export {
    /// One set per subject, in file order.
    pub records: Vec<Record>,
    /// Entries that hold no recovery codes (other credential types).
    pub ignored: usize,
    /// Records that cannot be read.
    pub errors: Vec<RecordError>,
}

/// Why a file cannot be read at all.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// It is not the JSON its format is.
    #[error("not JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// It is not the CSV its format is.
    #[error("not CSV: {0}")]
    Csv(#[from] csv::Error),
    /// Its shape is not its format's (the message says what was expected).
    #[error("{0}")]
    Shape(String),
    /// The subject option does not apply to this format.
    #[error("--subject {0} is not a field this format has")]
    Subject(String),
}

/// Largest export file read, bytes: a file this size is parsed in a few
/// times its size of memory. Larger exports are read in parts (Keycloak's
/// `--users-per-file`, Kratos's pages, a `WHERE` on the Supabase query).
pub const MAX_EXPORT_BYTES: u64 = 64 << 20;

/// Why an export file cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file cannot be opened or read.
    #[error("cannot read the file: {0}")]
    Io(#[from] std::io::Error),
    /// The file is larger than [`MAX_EXPORT_BYTES`] (nothing was imported).
    #[error(
        "the file is larger than {} MiB: export it in parts (Keycloak --users-per-file, \
         Kratos pages, a WHERE on the Supabase query) and import each",
        MAX_EXPORT_BYTES >> 20
    )]
    TooLarge,
    /// The file is not UTF-8 text.
    #[error("the file is not UTF-8 text")]
    NotText,
}

/// Read an export file: at most [`MAX_EXPORT_BYTES`], read up to one byte
/// past the limit and refused then (a device or a growing file as much as
/// a large one), wiped from memory when dropped (exports may hold codes).
pub fn read_file(path: &std::path::Path) -> Result<zeroize::Zeroizing<String>, FileError> {
    use std::io::Read as _;
    let file = std::fs::File::open(path)?;
    // Sized once for a regular file, so no copy of the text is left behind
    // by a reallocation (devices and pipes report 0 and grow as they go).
    let size = file.metadata().map_or(0, |m| m.len()).min(MAX_EXPORT_BYTES) + 1;
    let mut bytes = zeroize::Zeroizing::new(Vec::with_capacity(usize::try_from(size).unwrap_or(0)));
    file.take(MAX_EXPORT_BYTES + 1).read_to_end(&mut bytes)?;
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > MAX_EXPORT_BYTES {
        return Err(FileError::TooLarge);
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| FileError::NotText)?;
    Ok(zeroize::Zeroizing::new(text.to_owned()))
}

/// Read `text` as an export of `format`.
pub fn read(format: Format, text: &str, options: &Options) -> Result<Export, ReadError> {
    match format {
        Format::Keycloak => keycloak::read(&serde_json::from_str(text)?, options),
        Format::Kratos => kratos::read(&serde_json::from_str(text)?, options),
        Format::Allauth => allauth::read(&serde_json::from_str(text)?, options),
        Format::Supabase => supabase::read(text, options),
        Format::Plaintext => otp::read(&serde_json::from_str(text)?, options),
    }
}

/// The items of a JSON array, or of the array under one of `keys`, or the
/// value itself when it is one object.
fn items<'a>(v: &'a Value, keys: &[&str]) -> Result<Vec<&'a Value>, ReadError> {
    if let Some(a) = v.as_array() {
        return Ok(a.iter().collect());
    }
    for k in keys {
        if let Some(a) = v.get(*k).and_then(Value::as_array) {
            return Ok(a.iter().collect());
        }
    }
    if v.is_object() {
        return Ok(vec![v]);
    }
    Err(ReadError::Shape(format!(
        "expected an array{}",
        if keys.is_empty() {
            String::new()
        } else {
            format!(" or an object with {}", keys.join(" or "))
        }
    )))
}

/// A primary key or id as text (numbers and strings alike).
fn key_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Unix seconds of an RFC 3339 time (or PostgreSQL's `2026-09-03 12:00:00+00`);
/// Go's zero time (`0001-01-01T00:00:00Z`, Kratos's "never") is `None`.
fn timestamp(text: &str) -> Result<Option<u64>, String> {
    let t: jiff::Timestamp = text
        .trim()
        .parse()
        .map_err(|_| "a time that is not RFC 3339".to_owned())?;
    Ok(u64::try_from(t.as_second()).ok().filter(|&s| s > 0))
}

#[cfg(test)]
mod tests;
