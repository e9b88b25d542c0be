//! What one attempt answers (0.3.0): the set checked, low, exhausted,
//! failures and lock after the call; a code of the replaced set told from a
//! wrong one by the same single evaluation; interrupted attempts counted.

use super::*;
use crate::EVALUATIONS;
use crate::policy::HashParams;
use alloc::string::ToString;
use rand::SeedableRng;
use rand::rngs::StdRng;

const T0: u64 = 1_800_000_000;

fn policy() -> Policy {
    Policy {
        hash: HashParams {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        },
        require_activation: false,
        ..Policy::default()
    }
}

fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

fn evaluations() -> u64 {
    EVALUATIONS.with(core::cell::Cell::get)
}

fn codes(issued: &Issuance) -> Vec<String> {
    issued.codes.iter().map(|c| c.code.to_string()).collect()
}

/// A first set, then a second issued over it: (old credential, old codes,
/// new credential, new codes).
fn regenerated(p: &Policy) -> (Vec<u8>, Vec<String>, Vec<u8>, Vec<String>) {
    let first = issue(None, p, None, &mut rng(1), T0).unwrap();
    let second = issue(Some(&first.credential), p, None, &mut rng(2), T0 + 1).unwrap();
    (
        first.credential.clone(),
        codes(&first),
        second.credential.clone(),
        codes(&second),
    )
}

fn check(
    current: &[u8],
    replaced: Option<&[u8]>,
    code: &str,
    p: &Policy,
    now: u64,
) -> Verification {
    verify(current, replaced, code, p, None, &mut rng(0), now).unwrap()
}

#[test]
fn a_code_of_the_replaced_set_is_told_from_a_wrong_one_in_one_evaluation() {
    let p = policy();
    let (old, old_codes, new, new_codes) = regenerated(&p);
    // A stranger's code: wrong for both sets.
    let stranger = codes(&issue(None, &p, None, &mut rng(3), T0).unwrap());
    for (code, replaced_set) in [(&old_codes[2], true), (&stranger[2], false)] {
        let before = evaluations();
        let v = check(&new, Some(&old), code, &p, T0 + 2);
        assert_eq!(evaluations() - before, 1, "one evaluation for {code}");
        assert!(matches!(
            v.outcome,
            Outcome::Rejected {
                reason: FailureReason::Mismatch,
                consecutive_failures: 1,
                ..
            }
        ));
        assert_eq!(v.replaced_set, replaced_set);
        // Counted like any wrong code, whichever it was.
        assert_eq!(v.consecutive_failures, 1);
    }
    // Without the replaced credential it is a wrong code like any other.
    assert!(!check(&new, None, &old_codes[2], &p, T0 + 2).replaced_set);
    // The replaced set never accepts a code; the new one does, once.
    let v = check(&new, Some(&old), &new_codes[4], &p, T0 + 2);
    assert_eq!(v.outcome, Outcome::Accepted(5));
    assert!(!v.replaced_set);
}

#[test]
fn sets_made_apart_are_never_matched_and_cost_the_same() {
    let p = policy();
    // Two unrelated first sets (their own salts), as 0.2.0 regenerated.
    let old = issue(None, &p, None, &mut rng(7), T0).unwrap();
    let new = issue(None, &p, None, &mut rng(8), T0).unwrap();
    let before = evaluations();
    let v = check(
        &new.credential,
        Some(&old.credential),
        &codes(&old)[0],
        &p,
        T0 + 1,
    );
    assert_eq!(evaluations() - before, 1);
    assert!(!v.replaced_set);
    // Other parameters: the new set gets a salt of its own.
    let dearer = Policy {
        hash: HashParams {
            iterations: 2,
            ..p.hash
        },
        ..p.clone()
    };
    let next = issue(Some(&new.credential), &dearer, None, &mut rng(9), T0).unwrap();
    let v = check(
        &next.credential,
        Some(&new.credential),
        &codes(&new)[0],
        &dearer,
        T0 + 1,
    );
    assert!(!v.replaced_set);
    // A replaced credential that does not decode is no match, not an error.
    let v = check(
        &new.credential,
        Some(b"garbage"),
        &codes(&old)[0],
        &p,
        T0 + 1,
    );
    assert!(!v.replaced_set);
}

#[test]
fn every_answer_carries_what_a_host_shows() {
    let p = Policy {
        count: 4,
        low_water: 2,
        ..policy()
    };
    let issued = issue(None, &p, None, &mut rng(1), T0).unwrap();
    let c = codes(&issued);
    let v = check(&issued.credential, None, &c[0], &p, T0 + 1);
    assert_eq!(
        (v.set_id.as_str(), v.fingerprint.as_str()),
        (issued.set_id.as_str(), issued.fingerprint.as_str())
    );
    assert_eq!(
        (v.remaining, v.low, v.exhausted, v.lock),
        (3, false, false, Lock::Open)
    );
    let v = check(&v.credential, None, &c[1], &p, T0 + 2);
    assert_eq!((v.remaining, v.low, v.exhausted), (2, true, false));
    // Five wrong codes: the lock after the call is in the answer.
    let mut cred = v.credential;
    let wrong = codes(&issue(None, &p, None, &mut rng(5), T0).unwrap());
    for i in 0..5 {
        let v = check(&cred, None, &wrong[i % 4], &p, T0 + 3);
        assert_eq!(v.consecutive_failures, u32::try_from(i + 1).unwrap());
        let expected = if i == 4 {
            Lock::Until(T0 + 3 + 30)
        } else {
            Lock::Open
        };
        assert_eq!(v.lock, expected);
        cred = v.credential;
    }
    // Locked: nothing checked, the count and the lock still in the answer.
    let v = check(&cred, None, &c[2], &p, T0 + 4);
    assert_eq!(v.outcome, Outcome::Locked(Some(T0 + 33)));
    assert_eq!((v.consecutive_failures, v.lock), (5, Lock::Until(T0 + 33)));
    // After the lock, the last codes: exhausted.
    let v = check(&cred, None, &c[2], &p, T0 + 40);
    let v = check(&v.credential, None, &c[3], &p, T0 + 41);
    assert_eq!(
        (v.remaining, v.low, v.exhausted, v.consecutive_failures),
        (0, true, true, 0)
    );
    assert_eq!(
        check(&v.credential, None, &c[3], &p, T0 + 200).outcome,
        Outcome::Exhausted
    );
}

#[test]
fn activation_answers_for_the_set_it_activates() {
    let p = Policy {
        require_activation: true,
        ..policy()
    };
    let first = issue(None, &p, None, &mut rng(1), T0).unwrap();
    let v = activate(
        &first.credential,
        None,
        &codes(&first)[0],
        &p,
        None,
        &mut rng(0),
        T0,
    )
    .unwrap();
    let pending = issue(Some(&v.credential), &p, None, &mut rng(2), T0).unwrap();
    // Another set's id (a stale page): refused before anything is read.
    let before = evaluations();
    assert_eq!(
        activate(
            &pending.credential,
            Some(&first.set_id),
            &codes(&pending)[3],
            &p,
            None,
            &mut rng(0),
            T0,
        )
        .unwrap_err(),
        Error::NoPendingSet
    );
    assert_eq!(evaluations(), before);
    let wrong = activate(
        &pending.credential,
        Some(&pending.set_id),
        &codes(&first)[1],
        &p,
        None,
        &mut rng(0),
        T0,
    )
    .unwrap();
    // A wrong code counts on the pending set, which the answer names.
    assert_eq!(
        (wrong.set_id.as_str(), wrong.consecutive_failures),
        (pending.set_id.as_str(), 1)
    );
    let done = activate(
        &wrong.credential,
        Some(&pending.set_id),
        &codes(&pending)[3],
        &p,
        None,
        &mut rng(0),
        T0,
    )
    .unwrap();
    assert_eq!(done.outcome, Outcome::Accepted(4));
    assert_eq!(
        (
            done.set_id.as_str(),
            done.remaining,
            done.consecutive_failures
        ),
        (pending.set_id.as_str(), 10, 0)
    );
}

#[test]
fn an_interrupted_attempt_counts_toward_lockout_without_an_evaluation() {
    let p = policy();
    let issued = issue(None, &p, None, &mut rng(1), T0).unwrap();
    let mut cred = issued.credential;
    let before = evaluations();
    for i in 1..=5u32 {
        let v = interrupted(&cred, &p, T0).unwrap();
        assert!(matches!(
            v.outcome,
            Outcome::Rejected { reason: FailureReason::Interrupted, consecutive_failures, .. }
                if consecutive_failures == i
        ));
        assert!(v.events.iter().any(|e| matches!(
            e,
            Event::Failed {
                reason: FailureReason::Interrupted,
                ..
            }
        )));
        cred = v.credential;
    }
    assert_eq!(evaluations(), before, "nothing was evaluated");
    // Locked now: the next one changes nothing, and a right code waits too.
    let v = interrupted(&cred, &p, T0 + 1).unwrap();
    assert_eq!(
        (v.outcome, v.credential == cred),
        (Outcome::Locked(Some(T0 + 30)), true)
    );
    let v = check(&cred, None, &codes_of(&issued.codes)[0], &p, T0 + 1);
    assert_eq!(v.outcome, Outcome::Locked(Some(T0 + 30)));
    // Without an active set there is nothing to count.
    let pending = issue(
        None,
        &Policy {
            require_activation: true,
            ..p.clone()
        },
        None,
        &mut rng(2),
        T0,
    )
    .unwrap();
    assert_eq!(
        interrupted(&pending.credential, &p, T0).unwrap_err(),
        Error::NoActiveSet
    );
}

fn codes_of(c: &[IssuedCode]) -> Vec<String> {
    c.iter().map(|c| c.code.to_string()).collect()
}
