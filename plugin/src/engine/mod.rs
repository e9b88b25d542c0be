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

/// Prove the pending set was saved; see the WIT `engine.activate`.
pub fn activate<R: CryptoRng + ?Sized>(
    current: &[u8],
    code: &str,
    policy: &Policy,
    pepper: Option<&[u8]>,
    rng: &mut R,
    now: u64,
) -> Result<Verification, Error> {
    attempt(current, code, policy, pepper, rng, now, Target::Pending)
}

/// Check a typed code against the active set; see the WIT `engine.verify`.
/// With the policy's `replace_on_use`, a right code is replaced at once by a
/// new one of the same number (one more argon2 evaluation), returned once.
pub fn verify<R: CryptoRng + ?Sized>(
    current: &[u8],
    code: &str,
    policy: &Policy,
    pepper: Option<&[u8]>,
    rng: &mut R,
    now: u64,
) -> Result<Verification, Error> {
    attempt(current, code, policy, pepper, rng, now, Target::Active)
}

fn attempt<R: CryptoRng + ?Sized>(
    current: &[u8],
    code: &str,
    policy: &Policy,
    pepper: Option<&[u8]>,
    rng: &mut R,
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
    let typed = check::read(set, code).map_err(Error::InvalidCode)?;
    // Another system's digests were made without this host's pepper.
    let pepper = if set.scheme.is_legacy() { None } else { pepper };
    if !set.scheme.is_legacy() && set.pepper_len != pepper_len {
        return Err(Error::PepperMismatch);
    }
    let unchanged = |outcome, remaining| Verification {
        credential: current.to_vec(),
        outcome,
        remaining,
        events: Vec::new(),
        replacement: None,
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

    // One evaluation (one per unused code for Supabase's hashes), then a
    // constant-time search of every digest.
    let matched = check::find(set, &typed, pepper)?;
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
                && (policy.order == CodeOrder::Numbered || check::in_order(set))
                && set.next_number() != u8::try_from(i + 1).ok() =>
        {
            Err(FailureReason::WrongNumber)
        }
        Some(i) => Ok(i),
    };

    let mut events = Vec::new();
    let mut replacement = None;
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
                        replacement = Some(IssuedCode { number, code });
                    }
                    let remaining = set.remaining();
                    events.push(Event::Used {
                        set_id: set_id.clone(),
                        number,
                        remaining,
                    });
                    if replacement.is_some() {
                        events.push(Event::Replaced {
                            set_id: set_id.clone(),
                            number,
                        });
                    }
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
        replacement,
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
mod tests_foreign;
