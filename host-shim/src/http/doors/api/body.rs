//! The JSON bodies of the API, as types: what the shim answers is what these
//! structs serialize to (`host-shim/openapi.json` describes the same), and the
//! command line prints the same structs.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::plugin::{CredentialStatus, Issued, Outcome, SetStatus};
use crate::service::{Attempt, reason_name};

/// A typed code (`POST .../verify` and `.../activate`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    /// The code as typed.
    pub code: SecretString,
}

/// A JSON body that must be an object: `T` read from a JSON object only.
///
/// serde's derived `Deserialize` also reads a struct from a sequence of its
/// fields in order, so `["<code>"]` would pass as `{"code": "<code>"}`; the
/// API documents objects, and anything else is a 400.
pub struct JsonObject<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for JsonObject<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectOnly<T>(std::marker::PhantomData<T>);

        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for ObjectOnly<T> {
            type Value = T;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }

        deserializer
            .deserialize_map(ObjectOnly(std::marker::PhantomData))
            .map(Self)
    }
}

/// An error answer: a stable code, and for some a sentence and a reason.
#[derive(Debug, Serialize)]
pub struct ErrorBody {
    /// Stable machine-readable code (`unauthorized`, `invalid_code`, ...).
    pub error: &'static str,
    /// What went wrong, for people (never repeats the input).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// A finer reason (`invalid_code`: which format rule failed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
}

/// One code of a new set. The code is the only plaintext the API ever
/// answers, once, when the set is issued.
#[derive(Serialize)]
pub struct IssuedCodeBody<'a> {
    /// Position in the set, from 1.
    pub number: u8,
    /// The code in display form.
    pub code: &'a str,
}

/// `POST .../codes`: a new set.
#[derive(Serialize)]
pub struct IssuedBody<'a> {
    /// The set's id.
    pub set_id: &'a str,
    /// Its short form, shown to users.
    pub fingerprint: &'a str,
    /// Waiting for one code to be typed back (`.../activate`).
    pub pending: bool,
    /// The codes, in number order.
    pub codes: Vec<IssuedCodeBody<'a>>,
}

impl<'a> From<&'a Issued> for IssuedBody<'a> {
    fn from(issued: &'a Issued) -> Self {
        Self {
            set_id: &issued.set_id,
            fingerprint: &issued.fingerprint,
            pending: issued.pending(),
            codes: issued
                .codes
                .iter()
                .map(|c| IssuedCodeBody {
                    number: c.number,
                    code: c.code.expose_secret(),
                })
                .collect(),
        }
    }
}

/// A used code of a set.
#[derive(Debug, Serialize)]
pub struct UsedBody {
    /// Its number.
    pub number: u8,
    /// When it was used (Unix seconds).
    pub at: u64,
}

/// One set's status.
#[derive(Debug, Serialize)]
pub struct SetBody {
    /// The set's id.
    pub set_id: String,
    /// Its short form.
    pub fingerprint: String,
    /// When it was issued (Unix seconds).
    pub issued_at: u64,
    /// When it was activated, if it was.
    pub activated_at: Option<u64>,
    /// Codes in the set.
    pub total: u8,
    /// Unused codes.
    pub remaining: u8,
    /// Used codes and when.
    pub used: Vec<UsedBody>,
    /// At or below the low-water mark.
    pub low: bool,
    /// Every code used.
    pub exhausted: bool,
    /// Hashed with parameters weaker than the policy's.
    pub hash_outdated: bool,
    /// The number the next code must have (numbered sets).
    pub next_number: Option<u8>,
    /// The identity server the set was imported from, if another.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<&'static str>,
    /// The set keeps that server's digests: prompt the user for a new set.
    pub legacy: bool,
}

impl From<&SetStatus> for SetBody {
    fn from(s: &SetStatus) -> Self {
        Self {
            set_id: s.set_id.clone(),
            fingerprint: s.fingerprint.clone(),
            issued_at: s.issued_at,
            activated_at: s.activated_at,
            total: s.total,
            remaining: s.remaining,
            used: s
                .used
                .iter()
                .map(|u| UsedBody {
                    number: u.number,
                    at: u.at,
                })
                .collect(),
            low: s.low,
            exhausted: s.exhausted,
            hash_outdated: s.hash_outdated,
            next_number: s.next_number,
            source: s.source.map(crate::service::source_name),
            legacy: s.legacy,
        }
    }
}

/// `GET .../codes`: a subject's codes.
#[derive(Debug, Serialize)]
pub struct StatusBody {
    /// The active set.
    pub active: Option<SetBody>,
    /// A new set waiting for activation.
    pub pending: Option<SetBody>,
    /// Consecutive failures on the active set.
    pub consecutive_failures: u32,
    /// Attempts are refused until then (Unix seconds).
    pub locked_until: Option<u64>,
    /// Attempts are refused until a new set is issued.
    pub locked_permanently: bool,
}

impl From<&CredentialStatus> for StatusBody {
    fn from(s: &CredentialStatus) -> Self {
        Self {
            active: s.active.as_ref().map(SetBody::from),
            pending: s.pending.as_ref().map(SetBody::from),
            consecutive_failures: s.consecutive_failures,
            locked_until: s.locked_until,
            locked_permanently: s.locked_permanently,
        }
    }
}

/// What an attempt (`verify`, `activate`) found.
#[derive(Debug, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum AttemptResult {
    /// The code was right.
    Accepted {
        /// Its number.
        number: u8,
    },
    /// The code was wrong (counted unless a double submit).
    Rejected {
        /// `mismatch`, `already_used` or `wrong_number`.
        reason: &'static str,
        /// Consecutive failures, this one included.
        consecutive_failures: u32,
        /// Attempts are refused until then, if this failure started a lockout.
        locked_until: Option<u64>,
        /// Locked until a new set is issued.
        permanent: bool,
    },
    /// Nothing was checked: attempts are locked (the same fields as a rejection).
    Locked {
        /// Always `locked`.
        reason: &'static str,
        /// Consecutive failures so far.
        consecutive_failures: u32,
        /// Until when (`null`: until a new set is issued).
        locked_until: Option<u64>,
        /// Locked until a new set is issued.
        permanent: bool,
    },
    /// Every code is used; nothing was checked.
    Exhausted,
}

/// `POST .../verify` and `.../activate`. Its `Debug` output leaves out the
/// replacement code.
#[derive(Serialize)]
pub struct AttemptBody<'a> {
    /// What happened.
    #[serde(flatten)]
    pub result: AttemptResult,
    /// Unused codes in the active set.
    pub remaining: u8,
    /// At or below the low-water mark.
    pub low: bool,
    /// The set the attempt was checked against.
    pub set_id: Option<String>,
    /// The new code that replaced the one just used (`replace_on_use`):
    /// in this answer only, never again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replacement: Option<IssuedCodeBody<'a>>,
}

impl std::fmt::Debug for AttemptBody<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttemptBody")
            .field("result", &self.result)
            .field("remaining", &self.remaining)
            .field(
                "replacement",
                &self.replacement.as_ref().map(|_| "[REDACTED]"),
            )
            .finish_non_exhaustive()
    }
}

impl<'a> From<&'a Attempt> for AttemptBody<'a> {
    fn from(a: &'a Attempt) -> Self {
        let result = match a.outcome {
            Outcome::Accepted(number) => AttemptResult::Accepted { number },
            Outcome::Rejected(r) => AttemptResult::Rejected {
                reason: reason_name(r.reason),
                consecutive_failures: r.consecutive_failures,
                locked_until: r.locked_until,
                permanent: r.permanent,
            },
            Outcome::Locked(until) => AttemptResult::Locked {
                reason: "locked",
                consecutive_failures: a.consecutive_failures,
                locked_until: until,
                permanent: until.is_none(),
            },
            Outcome::Exhausted => AttemptResult::Exhausted,
        };
        Self {
            result,
            remaining: a.remaining,
            low: a.low,
            set_id: a.set_id.clone(),
            replacement: a.replacement.as_ref().map(|c| IssuedCodeBody {
                number: c.number,
                code: c.code.expose_secret(),
            }),
        }
    }
}
