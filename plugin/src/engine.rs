//! The code lifecycle: issue, activate, verify, status. Pure functions of their
//! arguments, a random source and the current time.
#![forbid(unsafe_code)]

use alloc::string::String;
use alloc::vec::Vec;
use rand::{CryptoRng, RngExt};
use zeroize::Zeroizing;

use crate::alphabet::{self, FormatError};
use crate::hashing::{self, HashError};
use crate::policy::{CodeOrder, Policy, PolicyError};
use crate::state::{CodeEntry, CodeSet, Credential, DecodeError, SALT_LEN, SET_ID_LEN};

/// Longest pepper accepted, in bytes.
pub const MAX_PEPPER_LEN: usize = 64;
/// A code used this many seconds ago or less, typed again, is a double submit
/// (two tabs, a retried request, two logins racing with one code): it is refused
/// as already used but not counted toward lockout. Older reuse counts as usual.
pub const REUSE_GRACE_SECONDS: u64 = 60;

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

/// What `activate` and `verify` return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// Credential to store (equal to the input when nothing changed).
    pub credential: Vec<u8>,
    /// What happened.
    pub outcome: Outcome,
    /// Unused codes left in the active set.
    pub remaining: u8,
    /// Events to record.
    pub events: Vec<Event>,
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
    /// Code to ask for in numbered order.
    pub next_number: Option<u8>,
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

fn check_pepper(pepper: Option<&[u8]>) -> Result<u8, Error> {
    match pepper {
        None => Ok(0),
        Some(p) if (1..=MAX_PEPPER_LEN).contains(&p.len()) => {
            u8::try_from(p.len()).map_err(|_| Error::PepperMismatch)
        }
        Some(_) => Err(Error::PepperMismatch),
    }
}

/// Issue a new set; see the WIT `engine.issue`.
pub fn issue<R: CryptoRng + ?Sized>(
    current: Option<&[u8]>,
    policy: &Policy,
    pepper: Option<&[u8]>,
    rng: &mut R,
    now: u64,
) -> Result<Issuance, Error> {
    policy.validate().map_err(Error::InvalidPolicy)?;
    let pepper_len = check_pepper(pepper)?;
    let mut credential = match current {
        Some(bytes) => Credential::decode(bytes)?,
        None => Credential::default(),
    };

    let mut id = [0u8; SET_ID_LEN];
    rng.fill_bytes(&mut id);
    let mut salt = [0u8; SALT_LEN];
    rng.fill_bytes(&mut salt);

    let mut seen: Vec<Zeroizing<Vec<u8>>> = Vec::with_capacity(usize::from(policy.count));
    let mut codes = Vec::with_capacity(usize::from(policy.count));
    let mut entries = Vec::with_capacity(usize::from(policy.count));
    for number in 1..=policy.count {
        let mut values: Zeroizing<Vec<u8>>;
        loop {
            values = Zeroizing::new(
                (0..policy.symbols)
                    .map(|_| rng.random_range(0..32u8))
                    .collect(),
            );
            let check = alphabet::check_symbol(&values);
            values.push(check);
            if !seen.contains(&values) {
                seen.push(values.clone());
                break;
            }
        }
        let canonical = alphabet::canonical(&values);
        let digest = hashing::digest(&canonical, &salt, policy.hash, pepper)?;
        entries.push(CodeEntry {
            digest: *digest,
            used_at: None,
        });
        codes.push(IssuedCode {
            number,
            code: alphabet::display(&values, policy.group_size),
        });
    }

    let activated_at = (!policy.require_activation).then_some(now);
    let set = CodeSet {
        id,
        issued_at: now,
        activated_at,
        symbols: policy.symbols,
        hash: policy.hash,
        salt,
        pepper_len,
        codes: entries,
        failures: 0,
        locked_until: None,
        locked_permanently: false,
    };
    let set_id = set.id_text();
    let fingerprint = set.fingerprint();
    if policy.require_activation {
        credential.pending = Some(set);
    } else {
        credential.active = Some(set);
        credential.pending = None;
    }
    Ok(Issuance {
        credential: credential.encode(),
        codes,
        events: alloc::vec![Event::Issued {
            set_id: set_id.clone(),
            count: policy.count,
            pending: policy.require_activation,
        }],
        set_id,
        fingerprint,
    })
}

/// Which set an attempt is checked against.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    Active,
    Pending,
}

/// Prove the pending set was saved; see the WIT `engine.activate`.
pub fn activate(
    current: &[u8],
    code: &str,
    policy: &Policy,
    pepper: Option<&[u8]>,
    now: u64,
) -> Result<Verification, Error> {
    attempt(current, code, policy, pepper, now, Target::Pending)
}

/// Check a typed code against the active set; see the WIT `engine.verify`.
pub fn verify(
    current: &[u8],
    code: &str,
    policy: &Policy,
    pepper: Option<&[u8]>,
    now: u64,
) -> Result<Verification, Error> {
    attempt(current, code, policy, pepper, now, Target::Active)
}

fn attempt(
    current: &[u8],
    code: &str,
    policy: &Policy,
    pepper: Option<&[u8]>,
    now: u64,
    target: Target,
) -> Result<Verification, Error> {
    policy.validate().map_err(Error::InvalidPolicy)?;
    let pepper_len = check_pepper(pepper)?;
    let mut credential = Credential::decode(current)?;
    let slot = match target {
        Target::Active => &mut credential.active,
        Target::Pending => &mut credential.pending,
    };
    let set = slot.as_mut().ok_or(match target {
        Target::Active => Error::NoActiveSet,
        Target::Pending => Error::NoPendingSet,
    })?;
    let values = alphabet::normalise(code, set.symbols).map_err(Error::InvalidCode)?;
    if set.pepper_len != pepper_len {
        return Err(Error::PepperMismatch);
    }
    let unchanged = |outcome, remaining| Verification {
        credential: current.to_vec(),
        outcome,
        remaining,
        events: Vec::new(),
    };
    let active_remaining = |c: &Credential| c.active.as_ref().map_or(0, CodeSet::remaining);

    if set.locked_permanently {
        return Ok(unchanged(
            Outcome::Locked(None),
            active_remaining(&credential),
        ));
    }
    if let Some(until) = set.locked_until.filter(|&until| until > now) {
        return Ok(unchanged(
            Outcome::Locked(Some(until)),
            active_remaining(&credential),
        ));
    }
    if set.remaining() == 0 {
        return Ok(unchanged(Outcome::Exhausted, 0));
    }

    // Exactly one argon2 evaluation, then a constant-time search of every digest.
    let canonical = alphabet::canonical(&values);
    let candidate = hashing::digest(&canonical, &set.salt, set.hash, pepper)?;
    let matched = hashing::find(&candidate, &set.codes);
    let set_id = set.id_text();

    let verdict = match matched {
        None => Err(FailureReason::Mismatch),
        Some(i)
            if set.codes[i]
                .used_at
                .is_some_and(|at| now.saturating_sub(at) <= REUSE_GRACE_SECONDS) =>
        {
            // A double submit of a code just used: refused, nothing counted.
            let consecutive_failures = set.failures;
            return Ok(unchanged(
                Outcome::Rejected {
                    reason: FailureReason::AlreadyUsed,
                    consecutive_failures,
                    locked_until: None,
                    permanent: false,
                },
                active_remaining(&credential),
            ));
        }
        Some(i) if set.codes[i].used_at.is_some() => Err(FailureReason::AlreadyUsed),
        Some(i)
            if target == Target::Active
                && policy.order == CodeOrder::Numbered
                && set.next_number() != u8::try_from(i + 1).ok() =>
        {
            Err(FailureReason::WrongNumber)
        }
        Some(i) => Ok(i),
    };

    let mut events = Vec::new();
    let outcome = match verdict {
        Ok(index) => {
            let number = u8::try_from(index + 1).map_err(|_| Error::MalformedCredential)?;
            set.failures = 0;
            set.locked_until = None;
            match target {
                Target::Active => {
                    set.codes[index].used_at = Some(now);
                    let remaining = set.remaining();
                    events.push(Event::Used {
                        set_id: set_id.clone(),
                        number,
                        remaining,
                    });
                    if remaining == 0 {
                        events.push(Event::Exhausted { set_id });
                    } else if remaining <= policy.low_water {
                        events.push(Event::Low {
                            set_id,
                            number,
                            remaining,
                        });
                    }
                }
                Target::Pending => {
                    set.activated_at = Some(now);
                    credential.active = credential.pending.take();
                    events.push(Event::Activated { set_id });
                }
            }
            Outcome::Accepted(number)
        }
        Err(reason) => {
            set.failures = set.failures.saturating_add(1);
            let failures = set.failures;
            events.push(Event::Failed {
                set_id: set_id.clone(),
                reason,
                consecutive_failures: failures,
            });
            let permanent = failures >= policy.max_failures;
            let locked_until = if permanent {
                None
            } else {
                policy
                    .lockout_seconds(failures)
                    .map(|s| now.saturating_add(s))
            };
            set.locked_permanently = permanent;
            set.locked_until = locked_until;
            if permanent || locked_until.is_some() {
                events.push(Event::Locked {
                    set_id,
                    until: locked_until,
                });
            }
            Outcome::Rejected {
                reason,
                consecutive_failures: failures,
                locked_until,
                permanent,
            }
        }
    };
    Ok(Verification {
        remaining: active_remaining(&credential),
        credential: credential.encode(),
        outcome,
        events,
    })
}

fn set_status(set: &CodeSet, policy: &Policy) -> SetStatus {
    let remaining = set.remaining();
    SetStatus {
        set_id: set.id_text(),
        fingerprint: set.fingerprint(),
        issued_at: set.issued_at,
        activated_at: set.activated_at,
        total: u8::try_from(set.codes.len()).unwrap_or(u8::MAX),
        remaining,
        used: (1u8..)
            .zip(&set.codes)
            .filter_map(|(number, c)| c.used_at.map(|at| UsedCode { number, at }))
            .collect(),
        low: remaining <= policy.low_water,
        exhausted: remaining == 0,
        hash_outdated: set.hash != policy.hash,
        next_number: set.next_number(),
    }
}

/// Describe a credential; see the WIT `engine.status`.
pub fn status(current: &[u8], policy: &Policy, now: u64) -> Result<Status, Error> {
    policy.validate().map_err(Error::InvalidPolicy)?;
    let credential = Credential::decode(current)?;
    let active = credential.active.as_ref();
    Ok(Status {
        active: active.map(|s| set_status(s, policy)),
        pending: credential.pending.as_ref().map(|s| set_status(s, policy)),
        consecutive_failures: active.map_or(0, |s| s.failures),
        locked_until: active
            .and_then(|s| s.locked_until)
            .filter(|&until| until > now),
        locked_permanently: active.is_some_and(|s| s.locked_permanently),
    })
}

#[cfg(test)]
mod tests;
