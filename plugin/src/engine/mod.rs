//! The code lifecycle: issue, activate, verify, status, and import of sets
//! from other systems ([`import`]). Pure functions of their arguments, a
//! random source and the current time. Their results and events are in
//! [`types`]; how a typed code is checked against each kind of set, in
//! [`check`].
#![forbid(unsafe_code)]

mod check;
pub mod import;
mod types;

pub use self::import::{ForeignSet, ImportError, PlainCode, import};
pub use self::types::*;

use alloc::vec::Vec;
use rand::{CryptoRng, RngExt};
use zeroize::Zeroizing;

use crate::alphabet;
use crate::hashing;
use crate::policy::{CodeOrder, Policy};
use crate::state::{CodeEntry, CodeSet, Credential, Digest, SALT_LEN, SET_ID_LEN, Scheme};

/// Longest pepper accepted, in bytes.
pub const MAX_PEPPER_LEN: usize = 64;
/// A code used this many seconds ago or less, typed again, is a double submit
/// (two tabs, a retried request, two logins racing with one code): it is refused
/// as already used but not counted toward lockout. Older reuse counts as usual.
pub const REUSE_GRACE_SECONDS: u64 = 60;

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
    // One salt per subject: a new set made like the active one keeps its
    // salt, so a code of the set it replaces can be told from a wrong one by
    // the same single evaluation (`verify`'s `replaced`). The codes are
    // random and 65 bits strong; sharing a salt between one subject's sets
    // saves an attacker holding the store nothing worth having.
    let mut salt = [0u8; SALT_LEN];
    rng.fill_bytes(&mut salt);
    if let Some(active) = credential.active.as_ref().filter(|a| {
        a.scheme == Scheme::Native && a.hash == policy.hash && a.pepper_len == pepper_len
    }) {
        salt = active.salt;
    }

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
            digest: Digest::Argon2(*digest),
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
        scheme: Scheme::Native,
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

/// A typed code and what it is checked with.
#[derive(Clone, Copy)]
struct Typing<'a> {
    current: &'a [u8],
    replaced: Option<&'a [u8]>,
    /// At activation: the id of the pending set the user was shown.
    expected_set: Option<&'a str>,
    code: &'a str,
    policy: &'a Policy,
    pepper: Option<&'a [u8]>,
}

/// What an attempt did, beside the credential it left.
#[derive(Default)]
struct Done {
    events: Vec<Event>,
    replacement: Option<IssuedCode>,
    replaced_set: bool,
}

/// Prove the pending set was saved; see the WIT `engine.activate`.
pub fn activate<R: CryptoRng + ?Sized>(
    current: &[u8],
    set_id: Option<&str>,
    code: &str,
    policy: &Policy,
    pepper: Option<&[u8]>,
    rng: &mut R,
    now: u64,
) -> Result<Verification, Error> {
    let typing = Typing {
        current,
        replaced: None,
        expected_set: set_id,
        code,
        policy,
        pepper,
    };
    attempt(&typing, rng, now, Target::Pending)
}

/// Check a typed code against the active set; see the WIT `engine.verify`.
/// With the policy's `replace_on_use`, a right code is replaced at once by a
/// new one of the same number (one more argon2 evaluation), returned once. A
/// wrong code is also compared with the active set of `replaced` (the
/// credential before its active set was replaced), from the same evaluation.
pub fn verify<R: CryptoRng + ?Sized>(
    current: &[u8],
    replaced: Option<&[u8]>,
    code: &str,
    policy: &Policy,
    pepper: Option<&[u8]>,
    rng: &mut R,
    now: u64,
) -> Result<Verification, Error> {
    let typing = Typing {
        current,
        replaced,
        expected_set: None,
        code,
        policy,
        pepper,
    };
    attempt(&typing, rng, now, Target::Active)
}

/// Count an attempt the host could not finish as a failure of the active
/// set; see the WIT `engine.interrupted`. No evaluation.
pub fn interrupted(current: &[u8], policy: &Policy, now: u64) -> Result<Verification, Error> {
    policy.validate().map_err(Error::InvalidPolicy)?;
    let mut credential = Credential::decode(current)?;
    let set = credential.active.as_mut().ok_or(Error::NoActiveSet)?;
    if let Some(outcome) = refused_unchecked(set, now) {
        let unchanged = current.to_vec();
        return Ok(answer(
            unchanged,
            &credential,
            Target::Active,
            policy,
            now,
            (outcome, Done::default()),
        ));
    }
    let mut done = Done::default();
    let outcome = fail(
        set,
        FailureReason::Interrupted,
        policy,
        now,
        &mut done.events,
    );
    Ok(answer(
        credential.encode(),
        &credential,
        Target::Active,
        policy,
        now,
        (outcome, done),
    ))
}

/// The outcome of an attempt at a set that takes none now (locked, or no
/// code left), before anything is read or evaluated.
fn refused_unchecked(set: &CodeSet, now: u64) -> Option<Outcome> {
    if set.locked_permanently {
        Some(Outcome::Locked(None))
    } else if let Some(until) = set.locked_until.filter(|&until| until > now) {
        Some(Outcome::Locked(Some(until)))
    } else if set.remaining() == 0 {
        Some(Outcome::Exhausted)
    } else {
        None
    }
}

/// Count a failure of `set`: lockout as the policy says, its events.
fn fail(
    set: &mut CodeSet,
    reason: FailureReason,
    policy: &Policy,
    now: u64,
    events: &mut Vec<Event>,
) -> Outcome {
    set.failures = set.failures.saturating_add(1);
    let failures = set.failures;
    let set_id = set.id_text();
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

/// Everything a host answers with, from the credential after the call. The
/// set checked is the target, or (after an activation) the new active set.
fn answer(
    encoded: Vec<u8>,
    credential: &Credential,
    target: Target,
    policy: &Policy,
    now: u64,
    (outcome, done): (Outcome, Done),
) -> Verification {
    let active = credential.active.as_ref();
    let checked = match target {
        Target::Pending => credential.pending.as_ref().or(active),
        Target::Active => active,
    };
    let remaining = active.map_or(0, CodeSet::remaining);
    let lock = match checked {
        Some(s) if s.locked_permanently => Lock::Permanent,
        Some(s) => s
            .locked_until
            .filter(|&until| until > now)
            .map_or(Lock::Open, Lock::Until),
        None => Lock::Open,
    };
    Verification {
        credential: encoded,
        outcome,
        remaining,
        events: done.events,
        replacement: done.replacement,
        set_id: checked.map(CodeSet::id_text).unwrap_or_default(),
        fingerprint: checked.map(CodeSet::fingerprint).unwrap_or_default(),
        low: active.is_some_and(|_| remaining <= policy.low_water),
        exhausted: active.is_some_and(|_| remaining == 0),
        next_number: active
            .filter(|a| policy.order == CodeOrder::Numbered || check::in_order(a))
            .and_then(CodeSet::next_number),
        consecutive_failures: checked.map_or(0, |s| s.failures),
        lock,
        replaced_set: done.replaced_set,
    }
}

/// Whether a wrong code, evaluated as `candidate` for `set`, is one of the
/// codes of the active set of `replaced` (no further evaluation; a replaced
/// credential that does not decode is no match).
fn of_replaced_set(replaced: Option<&[u8]>, set: &CodeSet, candidate: &check::Candidate) -> bool {
    replaced
        .and_then(|bytes| Credential::decode(bytes).ok())
        .and_then(|old| old.active)
        .is_some_and(|old| candidate.is_in(set, &old))
}

fn attempt<R: CryptoRng + ?Sized>(
    typing: &Typing<'_>,
    rng: &mut R,
    now: u64,
    target: Target,
) -> Result<Verification, Error> {
    let Typing {
        current,
        replaced,
        expected_set,
        code,
        policy,
        pepper,
    } = *typing;
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
    // Only the set the user was shown: a stale page changes nothing.
    if expected_set.is_some_and(|id| id != set.id_text()) {
        return Err(Error::NoPendingSet);
    }
    let typed = check::read(set, code).map_err(Error::InvalidCode)?;
    // Another system's digests were made without this host's pepper.
    let pepper = if set.scheme.is_legacy() { None } else { pepper };
    if !set.scheme.is_legacy() && set.pepper_len != pepper_len {
        return Err(Error::PepperMismatch);
    }
    let unchanged = |credential: &Credential, outcome| {
        answer(
            current.to_vec(),
            credential,
            target,
            policy,
            now,
            (outcome, Done::default()),
        )
    };
    if let Some(outcome) = refused_unchecked(set, now) {
        return Ok(unchanged(&credential, outcome));
    }

    // One evaluation (one per unused code for Supabase's hashes), then a
    // constant-time search of every digest.
    let (matched, candidate) = check::evaluate(set, &typed, pepper)?;
    let set_id = set.id_text();

    let verdict = match matched {
        None => Err(FailureReason::Mismatch),
        Some(i)
            if set.codes[i]
                .used_at
                .is_some_and(|at| now.saturating_sub(at) <= REUSE_GRACE_SECONDS) =>
        {
            // A double submit of a code just used: refused, nothing counted.
            let outcome = Outcome::Rejected {
                reason: FailureReason::AlreadyUsed,
                consecutive_failures: set.failures,
                locked_until: None,
                permanent: false,
            };
            return Ok(unchanged(&credential, outcome));
        }
        Some(i) if set.codes[i].used_at.is_some() => Err(FailureReason::AlreadyUsed),
        Some(i)
            if target == Target::Active
                && (policy.order == CodeOrder::Numbered || check::in_order(set))
                && set.next_number() != u8::try_from(i + 1).ok() =>
        {
            Err(FailureReason::WrongNumber)
        }
        Some(i) => Ok(i),
    };
    // Told from the same evaluation: one of the codes the active set replaced.
    let replaced_set = verdict == Err(FailureReason::Mismatch)
        && target == Target::Active
        && of_replaced_set(replaced, set, &candidate);
    drop(candidate);

    let mut done = Done {
        replaced_set,
        ..Done::default()
    };
    let outcome = match verdict {
        Ok(index) => {
            let number = u8::try_from(index + 1).map_err(|_| Error::MalformedCredential)?;
            set.failures = 0;
            set.locked_until = None;
            match target {
                Target::Active => {
                    set.codes[index].used_at = Some(now);
                    let new = if policy.replace_on_use {
                        check::new_code(set, policy.group_size, pepper, rng)?
                    } else {
                        None
                    };
                    if let Some((code, digest)) = new {
                        set.codes[index] = CodeEntry {
                            digest,
                            used_at: None,
                        };
                        done.replacement = Some(IssuedCode { number, code });
                    }
                    let remaining = set.remaining();
                    done.events.push(Event::Used {
                        set_id: set_id.clone(),
                        number,
                        remaining,
                    });
                    if done.replacement.is_some() {
                        done.events.push(Event::Replaced {
                            set_id: set_id.clone(),
                            number,
                        });
                    }
                    if remaining == 0 {
                        done.events.push(Event::Exhausted { set_id });
                    } else if remaining <= policy.low_water {
                        done.events.push(Event::Low {
                            set_id,
                            number,
                            remaining,
                        });
                    }
                }
                Target::Pending => {
                    set.activated_at = Some(now);
                    credential.active = credential.pending.take();
                    done.events.push(Event::Activated { set_id });
                }
            }
            Outcome::Accepted(number)
        }
        Err(reason) => fail(set, reason, policy, now, &mut done.events),
    };
    Ok(answer(
        credential.encode(),
        &credential,
        target,
        policy,
        now,
        (outcome, done),
    ))
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
        hash_outdated: set.scheme.is_legacy() || set.hash != policy.hash,
        next_number: set.next_number(),
        source: set.scheme.source(),
        legacy: set.scheme.is_legacy(),
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
#[cfg(test)]
mod tests_answer;
#[cfg(test)]
mod tests_foreign;
#[cfg(test)]
mod tests_lockout;
