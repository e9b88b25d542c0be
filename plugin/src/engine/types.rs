//! What the engine's operations return: errors, outcomes, events, issued
//! codes and status. None holds a digest; issued codes are wiped on drop.
#![forbid(unsafe_code)]

use alloc::string::String;
use alloc::vec::Vec;
use zeroize::Zeroizing;

use crate::alphabet::FormatError;
use crate::foreign::Source;
use crate::hashing::HashError;
use crate::policy::PolicyError;
use crate::state::DecodeError;

use super::ImportError;

/// Why a call failed. None of these changes the credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// A policy field is out of range.
    InvalidPolicy(PolicyError),
    /// The credential value is corrupt or truncated.
    MalformedCredential,
    /// The credential was written by a newer format version.
    UnsupportedVersion(u16),
    /// The typed code was refused before hashing.
    InvalidCode(FormatError),
    /// No active set to verify against.
    NoActiveSet,
    /// No pending set to activate.
    NoPendingSet,
    /// The pepper differs from the set's, or is too long.
    PepperMismatch,
    /// Hashing failed (the host's inputs were unusable).
    HostFailure,
    /// A set from another system cannot be imported.
    InvalidImport(ImportError),
}

impl From<DecodeError> for Error {
    fn from(e: DecodeError) -> Self {
        match e {
            DecodeError::Malformed => Self::MalformedCredential,
            DecodeError::UnsupportedVersion(v) => Self::UnsupportedVersion(v),
        }
    }
}

impl From<HashError> for Error {
    fn from(_: HashError) -> Self {
        Self::HostFailure
    }
}

/// Why an attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureReason {
    /// No unused code matched.
    Mismatch,
    /// Matched a used code.
    AlreadyUsed,
    /// In numbered order, a valid code other than the one asked for.
    WrongNumber,
    /// The host stopped the check before it finished (see [`super::interrupted`]).
    Interrupted,
}

/// Whether a set takes attempts after a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lock {
    /// Attempts may be made now.
    Open,
    /// Attempts are refused until then.
    Until(u64),
    /// Attempts are refused until a new set.
    Permanent,
}

/// Something to record or notify on; never holds a code or digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A set was issued.
    Issued {
        /// Set id.
        set_id: String,
        /// Codes in it.
        count: u8,
        /// Waits for activation.
        pending: bool,
    },
    /// A pending set became active.
    Activated {
        /// Set id.
        set_id: String,
    },
    /// A code was used.
    Used {
        /// Set id.
        set_id: String,
        /// Code number.
        number: u8,
        /// Unused codes left.
        remaining: u8,
    },
    /// An attempt failed.
    Failed {
        /// Set id.
        set_id: String,
        /// Why.
        reason: FailureReason,
        /// Consecutive failures including this one.
        consecutive_failures: u32,
    },
    /// Attempts are refused until then (None: until a new set).
    Locked {
        /// Set id.
        set_id: String,
        /// Until when.
        until: Option<u64>,
    },
    /// Few codes left.
    Low {
        /// Set id.
        set_id: String,
        /// Number of the code just used.
        number: u8,
        /// Unused codes left.
        remaining: u8,
    },
    /// No codes left.
    Exhausted {
        /// Set id.
        set_id: String,
    },
    /// A used code was replaced by a new one of the same number (the policy's
    /// `replace_on_use`); the new code is shown once.
    Replaced {
        /// Set id.
        set_id: String,
        /// Number of the code used and replaced.
        number: u8,
    },
    /// A set was imported from another system, active at once.
    Imported {
        /// Set id.
        set_id: String,
        /// The system.
        source: Source,
        /// Codes in it.
        count: u8,
        /// Unused codes in it.
        remaining: u8,
        /// Its digests are the other system's (hosts should prompt a new set).
        legacy: bool,
    },
}

/// Result of one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Right code; its number.
    Accepted(u8),
    /// Wrong code; counted.
    Rejected {
        /// Why.
        reason: FailureReason,
        /// Consecutive failures including this one.
        consecutive_failures: u32,
        /// Lockout started by this failure.
        locked_until: Option<u64>,
        /// Locked until a new set.
        permanent: bool,
    },
    /// Refused unchecked until then (None: until a new set).
    Locked(Option<u64>),
    /// All codes used.
    Exhausted,
}

/// What `activate`, `verify` and `interrupted` return: all a host answers with.
#[derive(Debug)]
pub struct Verification {
    /// Credential to store (equal to the input when nothing changed).
    pub credential: Vec<u8>,
    /// What happened.
    pub outcome: Outcome,
    /// Unused codes left in the active set.
    pub remaining: u8,
    /// Events to record.
    pub events: Vec<Event>,
    /// The new code that replaced the one just used (`replace_on_use`),
    /// shown once.
    pub replacement: Option<IssuedCode>,
    /// Id of the set checked.
    pub set_id: String,
    /// Its short form.
    pub fingerprint: String,
    /// The active set's remaining count is at or below the low-water mark.
    pub low: bool,
    /// No code of the active set remains.
    pub exhausted: bool,
    /// The code number to ask for next, when codes are used in order.
    pub next_number: Option<u8>,
    /// Consecutive failures on the set checked, after the call.
    pub consecutive_failures: u32,
    /// Whether the set checked takes attempts after the call.
    pub lock: Lock,
    /// A wrong code was one of the replaced set's (same evaluation).
    pub replaced_set: bool,
}

/// One issued code in display form, wiped on drop.
pub struct IssuedCode {
    /// Number from 1.
    pub number: u8,
    /// Display form.
    pub code: Zeroizing<String>,
}

impl core::fmt::Debug for IssuedCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "IssuedCode {{ number: {}, code: <redacted> }}",
            self.number
        )
    }
}

/// What `issue` returns.
#[derive(Debug)]
pub struct Issuance {
    /// Credential to store.
    pub credential: Vec<u8>,
    /// The codes, in number order.
    pub codes: Vec<IssuedCode>,
    /// New set's id.
    pub set_id: String,
    /// Its short form.
    pub fingerprint: String,
    /// Events to record.
    pub events: Vec<Event>,
}

/// A used code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsedCode {
    /// Number.
    pub number: u8,
    /// When.
    pub at: u64,
}

/// Status of one set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetStatus {
    /// Id.
    pub set_id: String,
    /// Short id.
    pub fingerprint: String,
    /// Issued at.
    pub issued_at: u64,
    /// Activated at.
    pub activated_at: Option<u64>,
    /// Codes.
    pub total: u8,
    /// Unused codes.
    pub remaining: u8,
    /// Used codes.
    pub used: Vec<UsedCode>,
    /// At or below low water.
    pub low: bool,
    /// None left.
    pub exhausted: bool,
    /// Hash parameters differ from the policy's.
    pub hash_outdated: bool,
    /// Code to ask for in numbered order (always, for a set used in order).
    pub next_number: Option<u8>,
    /// The system it was imported from, if another.
    pub source: Option<Source>,
    /// Its digests are another system's (hosts should prompt a new set).
    pub legacy: bool,
}

/// What `status` returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// Active set.
    pub active: Option<SetStatus>,
    /// Pending set.
    pub pending: Option<SetStatus>,
    /// Consecutive failures on the active set.
    pub consecutive_failures: u32,
    /// Locked until (only when in the future).
    pub locked_until: Option<u64>,
    /// Locked until a new set.
    pub locked_permanently: bool,
}
