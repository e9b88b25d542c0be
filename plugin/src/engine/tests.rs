//! Native unit tests for every rule of the lifecycle.

use super::*;
use crate::EVALUATIONS;
use crate::alphabet::FormatError;
use crate::policy::HashParams;
use alloc::collections::BTreeSet;
use alloc::format;
use alloc::string::ToString;
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;

pub(super) const T0: u64 = 1_800_000_000;

/// Cheap hashing so the suite stays fast; the rules do not depend on the cost.
pub(super) fn policy() -> Policy {
    Policy {
        hash: HashParams {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        },
        ..Policy::default()
    }
}

pub(super) fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// `verify` with a fixed random source (replacement codes are not asked for here).
pub(super) fn verify(
    current: &[u8],
    code: &str,
    p: &Policy,
    pepper: Option<&[u8]>,
    now: u64,
) -> Result<Verification, Error> {
    super::verify(current, None, code, p, pepper, &mut rng(0), now)
}

/// `activate` with a fixed random source.
pub(super) fn activate(
    current: &[u8],
    code: &str,
    p: &Policy,
    pepper: Option<&[u8]>,
    now: u64,
) -> Result<Verification, Error> {
    super::activate(current, None, code, p, pepper, &mut rng(0), now)
}

pub(super) fn evaluations() -> u64 {
    EVALUATIONS.with(core::cell::Cell::get)
}

/// An active set (issued without activation) and its codes.
pub(super) fn active(policy: &Policy, seed: u64) -> (Vec<u8>, Vec<String>) {
    let p = Policy {
        require_activation: false,
        ..policy.clone()
    };
    let issued = issue(None, &p, None, &mut rng(seed), T0).unwrap();
    let codes = issued.codes.iter().map(|c| c.code.to_string()).collect();
    (issued.credential, codes)
}

/// A code of the set that is not any of `codes`, with a valid check symbol.
pub(super) fn wrong_code(codes: &[String]) -> String {
    let mut r = rng(99);
    loop {
        let mut v: Vec<u8> = (0..13).map(|_| r.random_range(0..32u8)).collect();
        v.push(alphabet::check_symbol(&v));
        let c = alphabet::display(&v, 5).to_string();
        if !codes.contains(&c) {
            return c;
        }
    }
}

#[test]
fn issue_makes_unique_grouped_codes_with_a_check_symbol() {
    let p = policy();
    let issued = issue(None, &p, None, &mut rng(1), T0).unwrap();
    assert_eq!(issued.codes.len(), 10);
    let mut seen = BTreeSet::new();
    for (i, c) in issued.codes.iter().enumerate() {
        assert_eq!(usize::from(c.number), i + 1);
        assert_eq!(c.code.len(), 14 + 2, "13 symbols + check in groups of 5");
        assert_eq!(c.code.matches('-').count(), 2);
        assert!(alphabet::normalise(&c.code, 13).is_ok());
        assert!(seen.insert(c.code.to_string()));
    }
    assert_eq!(issued.fingerprint.len(), 4);
    assert!(issued.set_id.starts_with(&issued.fingerprint));
    assert_eq!(
        issued.events,
        [Event::Issued {
            set_id: issued.set_id.clone(),
            count: 10,
            pending: true
        }]
    );
}

#[test]
fn no_duplicates_even_at_the_smallest_code_space() {
    // 4 symbols = 20 bits; 64 codes from a fixed seed would collide without the check.
    let p = Policy {
        count: 64,
        symbols: 4,
        low_water: 3,
        ..policy()
    };
    for seed in 0..4 {
        let issued = issue(None, &p, None, &mut rng(seed), T0).unwrap();
        let set: BTreeSet<_> = issued.codes.iter().map(|c| c.code.to_string()).collect();
        assert_eq!(set.len(), 64);
    }
}

#[test]
fn credential_holds_no_plaintext_code() {
    let (cred, codes) = active(&policy(), 2);
    for code in &codes {
        let canonical: String = code.chars().filter(|c| *c != '-').collect();
        let hay = String::from_utf8_lossy(&cred);
        assert!(!hay.contains(&canonical) && !hay.contains(code.as_str()));
    }
    let issued = issue(None, &policy(), None, &mut rng(2), T0).unwrap();
    let debug = format!("{issued:?}");
    for c in &issued.codes {
        assert!(!debug.contains(c.code.as_str()));
    }
}

#[test]
fn a_code_verifies_once_and_only_once() {
    let p = policy();
    let (cred, codes) = active(&p, 3);
    let first = verify(&cred, &codes[2], &p, None, T0 + 1).unwrap();
    assert_eq!(first.outcome, Outcome::Accepted(3));
    assert_eq!(first.remaining, 9);
    assert_eq!(
        first.events,
        [Event::Used {
            set_id: Credential::decode(&cred).unwrap().active.unwrap().id_text(),
            number: 3,
            remaining: 9
        }]
    );
    let later = T0 + 2 + REUSE_GRACE_SECONDS;
    let again = verify(&first.credential, &codes[2], &p, None, later).unwrap();
    assert!(matches!(
        again.outcome,
        Outcome::Rejected {
            reason: FailureReason::AlreadyUsed,
            consecutive_failures: 1,
            ..
        }
    ));
    assert_eq!(again.remaining, 9);
}

/// A code typed again just after it was used (a double submit, two logins
/// racing with one code) is refused as already used, changes nothing and does
/// not count toward lockout on its own; after the grace window it counts.
#[test]
fn a_double_submit_of_a_used_code_does_not_count_toward_lockout() {
    let p = Policy {
        free_failures: 1,
        ..policy()
    };
    let (cred, codes) = active(&p, 5);
    let used = verify(&cred, &codes[0], &p, None, T0).unwrap();
    let mut current = used.credential.clone();
    for dt in [0, 1, REUSE_GRACE_SECONDS] {
        let again = verify(&current, &codes[0], &p, None, T0 + dt).unwrap();
        assert_eq!(
            again.outcome,
            Outcome::Rejected {
                reason: FailureReason::AlreadyUsed,
                consecutive_failures: 0,
                locked_until: None,
                permanent: false,
            }
        );
        assert_eq!(again.credential, current, "nothing changed");
        assert!(again.events.is_empty());
        current = again.credential;
    }
    let late = verify(&current, &codes[0], &p, None, T0 + REUSE_GRACE_SECONDS + 1).unwrap();
    assert!(matches!(
        late.outcome,
        Outcome::Rejected {
            reason: FailureReason::AlreadyUsed,
            consecutive_failures: 1,
            ..
        }
    ));
}

#[test]
fn wrong_code_is_rejected_and_counted() {
    let p = policy();
    let (cred, codes) = active(&p, 4);
    let r = verify(&cred, &wrong_code(&codes), &p, None, T0).unwrap();
    assert!(matches!(
        r.outcome,
        Outcome::Rejected {
            reason: FailureReason::Mismatch,
            consecutive_failures: 1,
            locked_until: None,
            permanent: false
        }
    ));
    assert_ne!(r.credential, cred);
    assert_eq!(
        status(&r.credential, &p, T0).unwrap().consecutive_failures,
        1
    );
}

#[test]
fn malformed_codes_are_errors_not_counted_and_change_nothing() {
    let p = policy();
    let (cred, codes) = active(&p, 5);
    let mut typo = codes[0].clone().into_bytes();
    typo[0] = if typo[0] == b'A' { b'B' } else { b'A' };
    let typo = String::from_utf8(typo).unwrap();
    let before = evaluations();
    for (input, expected) in [
        ("", FormatError::Empty),
        ("   ", FormatError::Empty),
        (&"7".repeat(10 * 1024)[..], FormatError::TooLong),
        ("ABC\u{0410}", FormatError::InvalidCharacter),
        ("ABCD-EFGH", FormatError::WrongLength),
        (typo.as_str(), FormatError::CheckSymbolMismatch),
    ] {
        assert_eq!(
            verify(&cred, input, &p, None, T0).unwrap_err(),
            Error::InvalidCode(expected),
            "{expected:?}"
        );
    }
    assert_eq!(evaluations(), before, "no hashing for malformed input");
}

#[test]
fn exactly_one_argon2_evaluation_per_attempt_whatever_the_set_size() {
    for n in [1u8, 10, 64] {
        let p = Policy {
            count: n,
            low_water: 0,
            ..policy()
        };
        let (cred, codes) = active(&p, u64::from(n));
        for code in [codes[usize::from(n) - 1].clone(), wrong_code(&codes)] {
            let before = evaluations();
            verify(&cred, &code, &p, None, T0).unwrap();
            assert_eq!(evaluations() - before, 1, "N = {n}");
        }
    }
}

#[test]
fn input_is_normalised_before_checking() {
    let p = policy();
    let (cred, codes) = active(&p, 6);
    let typed = format!(
        "  {}  ",
        codes[0]
            .to_lowercase()
            .replace('-', " \u{2014} ")
            .replace('0', "o")
            .replace('1', "i")
    );
    let r = verify(&cred, &typed, &p, None, T0).unwrap();
    assert_eq!(r.outcome, Outcome::Accepted(1));
}

#[test]
fn numbered_order_asks_for_the_lowest_unused_code() {
    let p = Policy {
        order: CodeOrder::Numbered,
        ..policy()
    };
    let (cred, codes) = active(&p, 7);
    assert_eq!(
        status(&cred, &p, T0).unwrap().active.unwrap().next_number,
        Some(1)
    );
    let r = verify(&cred, &codes[4], &p, None, T0).unwrap();
    assert!(matches!(
        r.outcome,
        Outcome::Rejected {
            reason: FailureReason::WrongNumber,
            ..
        }
    ));
    let r = verify(&cred, &codes[0], &p, None, T0).unwrap();
    assert_eq!(r.outcome, Outcome::Accepted(1));
    let s = status(&r.credential, &p, T0).unwrap();
    assert_eq!(s.active.unwrap().next_number, Some(2));
}

#[test]
fn proof_of_saving_then_regeneration_replaces_the_old_set_whole() {
    let p = policy();
    let (old, old_codes) = active(&p, 11);
    let issued = issue(Some(&old), &p, None, &mut rng(12), T0 + 5).unwrap();
    let s = status(&issued.credential, &p, T0 + 5).unwrap();
    assert!(s.pending.is_some() && s.active.is_some());
    // Old codes keep working until the new set is activated.
    let r = verify(&issued.credential, &old_codes[0], &p, None, T0 + 6).unwrap();
    assert_eq!(r.outcome, Outcome::Accepted(1));
    // New codes do not work for login yet.
    let r = verify(&r.credential, &issued.codes[0].code, &p, None, T0 + 6).unwrap();
    assert!(matches!(r.outcome, Outcome::Rejected { .. }));
    // Activation with an old code fails; with a new one succeeds and uses nothing.
    let cred = r.credential;
    let bad = activate(&cred, &old_codes[1], &p, None, T0 + 7).unwrap();
    assert!(matches!(bad.outcome, Outcome::Rejected { .. }));
    let ok = activate(&cred, &issued.codes[3].code, &p, None, T0 + 8).unwrap();
    assert_eq!(ok.outcome, Outcome::Accepted(4));
    assert_eq!(ok.remaining, 10);
    assert_eq!(
        ok.events,
        [Event::Activated {
            set_id: issued.set_id.clone()
        }]
    );
    let s = status(&ok.credential, &p, T0 + 8).unwrap();
    assert!(s.pending.is_none());
    let a = s.active.unwrap();
    assert_eq!(a.set_id, issued.set_id);
    assert_eq!(
        (a.activated_at, a.remaining, s.consecutive_failures),
        (Some(T0 + 8), 10, 0)
    );
    // The old set is gone as a whole; the activation code still works once.
    for old_code in &old_codes[1..] {
        let r = verify(&ok.credential, old_code, &p, None, T0 + 9).unwrap();
        assert!(matches!(r.outcome, Outcome::Rejected { .. }));
    }
    let r = verify(&ok.credential, &issued.codes[3].code, &p, None, T0 + 9).unwrap();
    assert_eq!(r.outcome, Outcome::Accepted(4));
    assert_eq!(
        activate(&r.credential, "x", &p, None, T0).unwrap_err(),
        Error::NoPendingSet
    );
}

#[test]
fn verify_before_activation_has_no_active_set() {
    let p = policy();
    let issued = issue(None, &p, None, &mut rng(13), T0).unwrap();
    assert_eq!(
        verify(&issued.credential, &issued.codes[0].code, &p, None, T0).unwrap_err(),
        Error::NoActiveSet
    );
}

#[test]
fn status_reports_low_water_exhaustion_and_outdated_hashing() {
    let p = Policy {
        count: 4,
        low_water: 2,
        ..policy()
    };
    let (mut cred, codes) = active(&p, 14);
    let mut events = Vec::new();
    for (i, code) in codes.iter().enumerate() {
        let r = verify(&cred, code, &p, None, T0 + u64::try_from(i).unwrap()).unwrap();
        events.extend(r.events);
        cred = r.credential;
    }
    let s = status(&cred, &p, T0).unwrap().active.unwrap();
    assert_eq!(
        (s.total, s.remaining, s.low, s.exhausted),
        (4, 0, true, true)
    );
    assert_eq!(
        s.used,
        (1..=4)
            .map(|n| UsedCode {
                number: n,
                at: T0 + u64::from(n) - 1
            })
            .collect::<Vec<_>>()
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Low { remaining: 2, .. }))
    );
    assert!(events.iter().any(|e| matches!(e, Event::Exhausted { .. })));
    assert_eq!(
        verify(&cred, &codes[0], &p, None, T0).unwrap().outcome,
        Outcome::Exhausted
    );
    assert!(!s.hash_outdated);
    let stronger = Policy {
        hash: HashParams::RECOMMENDED,
        ..p
    };
    assert!(
        status(&cred, &stronger, T0)
            .unwrap()
            .active
            .unwrap()
            .hash_outdated
    );
}

#[test]
fn pepper_is_required_and_must_match() {
    let p = Policy {
        require_activation: false,
        ..policy()
    };
    let pepper = b"host-secret-pepper".as_slice();
    let issued = issue(None, &p, Some(pepper), &mut rng(15), T0).unwrap();
    let code = &issued.codes[0].code;
    assert_eq!(
        verify(&issued.credential, code, &p, None, T0).unwrap_err(),
        Error::PepperMismatch
    );
    let r = verify(
        &issued.credential,
        code,
        &p,
        Some(b"host-secret-peppeR"),
        T0,
    )
    .unwrap();
    assert!(matches!(r.outcome, Outcome::Rejected { .. }));
    let r = verify(&issued.credential, code, &p, Some(pepper), T0).unwrap();
    assert_eq!(r.outcome, Outcome::Accepted(1));
    assert_eq!(
        issue(None, &p, Some(&[0; 65]), &mut rng(1), T0).unwrap_err(),
        Error::PepperMismatch
    );
    assert_eq!(
        issue(None, &p, Some(&[]), &mut rng(1), T0).unwrap_err(),
        Error::PepperMismatch
    );
}

#[test]
fn bad_policies_and_credentials_are_typed_errors() {
    let (cred, codes) = active(&policy(), 16);
    let bad = Policy {
        count: 0,
        ..policy()
    };
    assert!(matches!(
        issue(None, &bad, None, &mut rng(1), T0),
        Err(Error::InvalidPolicy(_))
    ));
    assert!(matches!(
        verify(&cred, &codes[0], &bad, None, T0),
        Err(Error::InvalidPolicy(_))
    ));
    assert_eq!(
        verify(&cred[..cred.len() / 2], &codes[0], &policy(), None, T0).unwrap_err(),
        Error::MalformedCredential
    );
    let mut future = cred.clone();
    future[4..6].copy_from_slice(&7u16.to_be_bytes());
    assert_eq!(
        verify(&future, &codes[0], &policy(), None, T0).unwrap_err(),
        Error::UnsupportedVersion(7)
    );
    assert_eq!(
        issue(Some(b"garbage"), &policy(), None, &mut rng(1), T0).unwrap_err(),
        Error::MalformedCredential
    );
    assert_eq!(status(b"", &policy(), T0), Err(Error::MalformedCredential));
}

#[test]
fn events_never_carry_a_code() {
    let p = Policy {
        count: 2,
        low_water: 1,
        ..policy()
    };
    let (mut cred, codes) = active(&p, 17);
    let mut all = Vec::new();
    for code in [
        codes[0].clone(),
        codes[0].clone(),
        wrong_code(&codes),
        codes[1].clone(),
    ] {
        let r = verify(&cred, &code, &p, None, T0).unwrap();
        all.extend(r.events);
        cred = r.credential;
    }
    let text = format!("{all:?}");
    for code in &codes {
        assert!(!text.contains(code.as_str()));
        assert!(!text.contains(&code.replace('-', "")));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn each_code_verifies_once_and_only_once(seed in any::<u64>(), order in proptest::collection::vec(0usize..3, 1..8)) {
        let p = Policy { count: 3, low_water: 0, free_failures: 100, max_failures: 100, ..policy() };
        let (mut cred, codes) = active(&p, seed);
        let mut used = [false; 3];
        for i in order {
            let r = verify(&cred, &codes[i], &p, None, T0).unwrap();
            if used.iter().all(|u| *u) {
                prop_assert_eq!(r.outcome, Outcome::Exhausted);
            } else if used[i] {
                let rejected = matches!(r.outcome, Outcome::Rejected { reason: FailureReason::AlreadyUsed, .. });
                prop_assert!(rejected);
            } else {
                prop_assert_eq!(r.outcome, Outcome::Accepted(u8::try_from(i + 1).unwrap()));
                used[i] = true;
            }
            cred = r.credential;
        }
        let remaining = used.iter().filter(|u| !**u).count();
        prop_assert_eq!(usize::from(status(&cred, &p, T0).unwrap().active.unwrap().remaining), remaining);
    }
}
