//! Lockout: consecutive failures back off exponentially up to a ceiling,
//! and a locked set answers without hashing. Helpers are the engine tests'.

use super::tests::{T0, activate, active, evaluations, policy, rng, verify, wrong_code};
use super::*;

#[test]
fn lockout_backs_off_exponentially_and_holds_without_hashing() {
    let p = policy();
    let (mut cred, codes) = active(&p, 8);
    let wrong = wrong_code(&codes);
    let mut now = T0;
    for i in 1..=4 {
        let r = verify(&cred, &wrong, &p, None, now).unwrap();
        assert!(
            matches!(r.outcome, Outcome::Rejected { consecutive_failures, locked_until: None, .. } if consecutive_failures == i)
        );
        cred = r.credential;
    }
    let r = verify(&cred, &wrong, &p, None, now).unwrap();
    assert!(matches!(r.outcome, Outcome::Rejected { locked_until: Some(t), .. } if t == now + 30));
    assert!(r.events.contains(&Event::Locked {
        set_id: Credential::decode(&cred).unwrap().active.unwrap().id_text(),
        until: Some(now + 30)
    }));
    cred = r.credential;

    // While locked, even the right code is refused unchecked and nothing changes.
    let before = evaluations();
    let r = verify(&cred, &codes[0], &p, None, now + 29).unwrap();
    assert_eq!(r.outcome, Outcome::Locked(Some(now + 30)));
    assert_eq!(r.credential, cred);
    assert!(r.events.is_empty());
    assert_eq!(evaluations(), before);
    assert_eq!(
        status(&cred, &p, now + 29).unwrap().locked_until,
        Some(now + 30)
    );

    now += 30;
    let r = verify(&cred, &wrong, &p, None, now).unwrap();
    assert!(matches!(r.outcome, Outcome::Rejected { locked_until: Some(t), .. } if t == now + 60));
    cred = r.credential;
    now += 60;

    // Success resets the counter.
    let r = verify(&cred, &codes[0], &p, None, now).unwrap();
    assert_eq!(r.outcome, Outcome::Accepted(1));
    let s = status(&r.credential, &p, now).unwrap();
    assert_eq!((s.consecutive_failures, s.locked_until), (0, None));
}

#[test]
fn never_more_than_the_maximum_of_consecutive_failures() {
    let p = Policy {
        free_failures: 100,
        max_failures: 100,
        ..policy()
    };
    let (mut cred, codes) = active(&p, 9);
    let wrong = wrong_code(&codes);
    for _ in 0..99 {
        cred = verify(&cred, &wrong, &p, None, T0).unwrap().credential;
    }
    let r = verify(&cred, &wrong, &p, None, T0).unwrap();
    assert!(matches!(
        r.outcome,
        Outcome::Rejected {
            consecutive_failures: 100,
            permanent: true,
            ..
        }
    ));
    cred = r.credential;
    let r = verify(&cred, &codes[0], &p, None, T0 + 10_000_000).unwrap();
    assert_eq!(r.outcome, Outcome::Locked(None));
    assert!(status(&cred, &p, T0).unwrap().locked_permanently);
    // A new set ends it.
    let issued = issue(Some(&cred), &p, None, &mut rng(10), T0).unwrap();
    let fresh = &issued.codes[0].code;
    let activated = activate(&issued.credential, fresh, &p, None, T0).unwrap();
    let r = verify(&activated.credential, fresh, &p, None, T0).unwrap();
    assert_eq!(r.outcome, Outcome::Accepted(1));
}
