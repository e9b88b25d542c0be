//! Native tests of sets imported from other systems and of replace-on-use:
//! imported sets accept exactly their codes, once, typed as their system
//! accepted them, in Keycloak's order, at the cost stated, with lockout;
//! a replaced code works once and the set keeps its size.

use super::*;
use crate::EVALUATIONS;
use crate::foreign::{Source, keycloak_digest};
use crate::policy::HashParams;
use crate::state::{Credential, Scheme};
use alloc::string::ToString;
use alloc::vec;
use rand::SeedableRng;
use rand::rngs::StdRng;
use zeroize::Zeroizing;

const T0: u64 = 1_800_000_000;

fn policy() -> Policy {
    Policy {
        hash: HashParams {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        },
        ..Policy::default()
    }
}

/// A different random source for every call (replacements must differ).
fn rng() -> StdRng {
    static SEED: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(7);
    StdRng::seed_from_u64(SEED.fetch_add(1, core::sync::atomic::Ordering::Relaxed))
}

fn evaluations() -> u64 {
    EVALUATIONS.with(core::cell::Cell::get)
}

fn check(cred: &[u8], code: &str, p: &Policy) -> Verification {
    verify(cred, None, code, p, None, &mut rng(), T0 + 10).unwrap()
}

fn accepted(v: &Verification) -> Option<u8> {
    match v.outcome {
        Outcome::Accepted(n) => Some(n),
        _ => None,
    }
}

fn reason(v: &Verification) -> Option<FailureReason> {
    match v.outcome {
        Outcome::Rejected { reason, .. } => Some(reason),
        _ => None,
    }
}

fn plain(codes: &[&str]) -> Vec<PlainCode> {
    codes
        .iter()
        .map(|c| PlainCode {
            code: Zeroizing::new((*c).to_string()),
            used_at: None,
        })
        .collect()
}

const KRATOS: [&str; 4] = ["k4m9x7qp", "a1b2c3d4", "zz99yy88", "m0n1b2v3"];

#[test]
fn kratos_codes_work_once_as_typed_with_one_evaluation_each() {
    let p = policy();
    let mut codes = plain(&KRATOS);
    codes[1].used_at = Some(T0 - 100);
    let imported = import(&ForeignSet::Kratos(codes), &p, None, &mut rng(), T0).unwrap();
    assert!(imported.codes.is_empty(), "no code leaves an import");
    assert_eq!(
        imported.events,
        [Event::Imported {
            set_id: imported.set_id.clone(),
            source: Source::Kratos,
            count: 4,
            remaining: 3,
            legacy: false,
        }]
    );
    let cred = imported.credential;
    assert_eq!(&cred[4..6], &2u16.to_be_bytes(), "written as version 2");
    let s = status(&cred, &p, T0).unwrap();
    let active = s.active.unwrap();
    assert_eq!(
        (active.source, active.legacy, active.remaining, active.total),
        (Some(Source::Kratos), false, 3, 4)
    );

    // Typed as users copy it: case and separators do not matter.
    let before = evaluations();
    let v = check(&cred, " K4M9-X7QP ", &p);
    assert_eq!(
        evaluations() - before,
        1,
        "one argon2 evaluation per attempt"
    );
    assert_eq!(accepted(&v), Some(1));
    assert_eq!(
        reason(&check(&v.credential, "k4m9x7qp", &p)),
        Some(FailureReason::AlreadyUsed)
    );
    assert_eq!(
        reason(&check(&cred, "a1b2c3d4", &p)),
        Some(FailureReason::AlreadyUsed),
        "used in Kratos, used here"
    );
    assert_eq!(
        reason(&check(&cred, "k4m9x7qq", &p)),
        Some(FailureReason::Mismatch)
    );
    // Characters Kratos never used are refused before hashing.
    assert_eq!(
        verify(&cred, None, "k4m9_x7qp", &p, None, &mut rng(), T0).unwrap_err(),
        Error::InvalidCode(alphabet::FormatError::InvalidCharacter)
    );
}

#[test]
fn imported_sets_honour_lockout() {
    let p = policy();
    let imported = import(
        &ForeignSet::Kratos(plain(&KRATOS)),
        &p,
        None,
        &mut rng(),
        T0,
    )
    .unwrap();
    let mut cred = imported.credential;
    for _ in 0..p.free_failures {
        cred = check(&cred, "wrongcode", &p).credential;
    }
    let v = check(&cred, KRATOS[0], &p);
    assert!(
        matches!(v.outcome, Outcome::Locked(Some(_))),
        "{:?}",
        v.outcome
    );
}

#[test]
fn allauth_codes_derive_from_the_seed_with_used_marks() {
    let p = policy();
    let seed = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff0011223344556677";
    let set = ForeignSet::Allauth {
        seed: Zeroizing::new(seed.into()),
        count: 10,
        digits: 8,
        used_mask: 0b101,
    };
    let cred = import(&set, &p, None, &mut rng(), T0).unwrap().credential;
    let s = status(&cred, &p, T0).unwrap().active.unwrap();
    let used: Vec<u8> = s.used.iter().map(|u| u.number).collect();
    assert_eq!(used, [1, 3]);
    assert_eq!(accepted(&check(&cred, " 77560411 ", &p)), Some(2));
    assert_eq!(
        reason(&check(&cred, "96543028", &p)),
        Some(FailureReason::AlreadyUsed)
    );
    assert_eq!(accepted(&check(&cred, "16606028", &p)), Some(10));
}

#[test]
fn keycloak_codes_are_used_in_order_with_one_sha512_each() {
    let p = policy();
    let codes: Vec<String> = (1..=12).map(|i| alloc::format!("ABCD{i:04}WXYZ")).collect();
    // Keycloak dropped the first two (used): numbers 3..=12 remain.
    let remaining = (3u8..=12)
        .map(|n| (n, keycloak_digest(&codes[usize::from(n) - 1])))
        .collect();
    let set = ForeignSet::Keycloak {
        total: 12,
        remaining,
    };
    // A tenant pepper does not apply to Keycloak's digests.
    let pepper = Some(&b"tenant pepper"[..]);
    let imported = import(&set, &p, pepper, &mut rng(), T0).unwrap();
    let cred = imported.credential;
    let s = status(&cred, &p, T0).unwrap().active.unwrap();
    assert_eq!(
        (s.legacy, s.hash_outdated, s.remaining, s.next_number),
        (true, true, 10, Some(3))
    );
    let before = evaluations();
    let display = |i: usize| {
        let c = &codes[i];
        alloc::format!("{}-{}-{}", &c[..4], &c[4..8], &c[8..]).to_lowercase()
    };
    let v = verify(&cred, None, &display(2), &p, pepper, &mut rng(), T0).unwrap();
    assert_eq!(accepted(&v), Some(3));
    assert_eq!(evaluations(), before, "no argon2 for Keycloak's digests");
    assert_eq!(
        reason(&verify(&v.credential, None, &codes[4], &p, pepper, &mut rng(), T0).unwrap()),
        Some(FailureReason::WrongNumber),
        "only the next code, as Keycloak"
    );
    let v = verify(&v.credential, None, &codes[3], &p, pepper, &mut rng(), T0).unwrap();
    assert_eq!(accepted(&v), Some(4));
    assert_eq!(
        reason(&verify(&v.credential, None, &codes[0], &p, pepper, &mut rng(), T0).unwrap()),
        Some(FailureReason::Mismatch),
        "a code used in Keycloak is no longer known"
    );
    // Replace-on-use does not extend another system's digests.
    let nist = Policy {
        replace_on_use: true,
        ..p.clone()
    };
    let v = verify(
        &v.credential,
        None,
        &codes[4],
        &nist,
        pepper,
        &mut rng(),
        T0,
    )
    .unwrap();
    assert_eq!(accepted(&v), Some(5));
    assert!(v.replacement.is_none());
}

/// A PHC string as Supabase stores one (argon2id v19), made here with cheap
/// parameters; the real algorithm is checked against argon2-cffi in `foreign`.
fn phc(code: &str, salt: u8) -> String {
    use argon2::{Algorithm, Argon2, Params, Version};
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
    let params = Params::new(1024, 1, 1, Some(32)).unwrap();
    let mut hash = [0u8; 32];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(code.as_bytes(), &[salt; 16], &mut hash)
        .unwrap();
    alloc::format!(
        "$argon2id$v=19$m=1024,t=1,p=1${}${}",
        b64.encode([salt; 16]),
        b64.encode(hash)
    )
}

#[test]
fn supabase_codes_cost_one_evaluation_per_unused_code() {
    let p = policy();
    let codes = ["k4m7x7qp2ab6ht3z", "abcdefgh234567ab", "zzzzyyyyxxxx7777"];
    let set = ForeignSet::Supabase(
        codes
            .iter()
            .enumerate()
            .map(|(i, c)| (phc(c, i as u8), (i == 2).then_some(T0 - 5)))
            .collect(),
    );
    let cred = import(&set, &p, None, &mut rng(), T0).unwrap().credential;
    let before = evaluations();
    let v = check(&cred, "K4M7-X7QP 2AB6-HT3Z", &p);
    assert_eq!(accepted(&v), Some(1));
    assert_eq!(evaluations() - before, 2, "each unused code, no early exit");
    let before = evaluations();
    let again = check(&v.credential, "k4m7x7qp2ab6ht3z", &p);
    assert_eq!(reason(&again), Some(FailureReason::Mismatch));
    assert_eq!(evaluations() - before, 1, "one unused code left");
    assert_eq!(
        accepted(&check(&v.credential, "abcdefgh234567ab", &p)),
        Some(2)
    );
}

#[test]
fn plaintext_tokens_keep_their_case() {
    let p = policy();
    let set = ForeignSet::Plaintext(vec![
        Zeroizing::new("aB3xYz9Q".into()),
        Zeroizing::new("ab3xyz9q".into()),
    ]);
    let cred = import(&set, &p, None, &mut rng(), T0).unwrap().credential;
    assert_eq!(accepted(&check(&cred, "ab3xyz9q", &p)), Some(2));
    assert_eq!(accepted(&check(&cred, " aB3xYz9Q\n", &p)), Some(1));
    assert_eq!(
        reason(&check(&cred, "AB3XYZ9Q", &p)),
        Some(FailureReason::Mismatch)
    );
}

#[test]
fn bad_foreign_sets_are_refused() {
    let p = policy();
    let refused = |set: ForeignSet| match import(&set, &p, None, &mut rng(), T0) {
        Err(Error::InvalidImport(e)) => e,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        refused(ForeignSet::Kratos(plain(&["abc", "abc"]))),
        ImportError::Duplicate
    );
    assert_eq!(
        refused(ForeignSet::Kratos(plain(&[]))),
        ImportError::BadCount
    );
    assert_eq!(
        refused(ForeignSet::Kratos(plain(&["ab_c"]))),
        ImportError::BadCode
    );
    assert_eq!(
        refused(ForeignSet::Allauth {
            seed: Zeroizing::new("not hex".into()),
            count: 10,
            digits: 8,
            used_mask: 0
        }),
        ImportError::BadSeed
    );
    assert_eq!(
        refused(ForeignSet::Supabase(vec![("$argon2i$v=19$x".into(), None)])),
        ImportError::BadPhc
    );
    assert_eq!(
        refused(ForeignSet::Keycloak {
            total: 12,
            remaining: vec![(13, [0; 64])]
        }),
        ImportError::BadShape
    );
    assert_eq!(
        refused(ForeignSet::Keycloak {
            total: 12,
            remaining: vec![(3, [0; 64]), (3, [1; 64])]
        }),
        ImportError::Duplicate
    );
    let debug = alloc::format!("{:?}", ForeignSet::Kratos(plain(&KRATOS)));
    assert!(!debug.contains(KRATOS[0]), "{debug}");
}

#[test]
fn replace_on_use_keeps_the_set_size_and_each_replacement_works_once() {
    let p = Policy {
        replace_on_use: true,
        require_activation: false,
        ..policy()
    };
    let issued = issue(None, &p, None, &mut rng(), T0).unwrap();
    let codes: Vec<String> = issued.codes.iter().map(|c| c.code.to_string()).collect();
    let before = evaluations();
    let v = check(&issued.credential, &codes[3], &p);
    assert_eq!(
        evaluations() - before,
        2,
        "the check, then the new code's digest"
    );
    assert_eq!(accepted(&v), Some(4));
    let new = v.replacement.as_ref().unwrap();
    assert_eq!(new.number, 4);
    assert_ne!(new.code.as_str(), codes[3]);
    assert_eq!(v.remaining, 10, "the set keeps its size");
    assert!(v.events.contains(&Event::Replaced {
        set_id: issued.set_id.clone(),
        number: 4
    }));
    assert_eq!(
        Credential::decode(&v.credential).unwrap().version(),
        1,
        "a native set stays readable by 0.1"
    );
    // The old code no longer works; the new one works once (and is replaced).
    assert_eq!(
        reason(&check(&v.credential, &codes[3], &p)),
        Some(FailureReason::Mismatch)
    );
    let again = check(&v.credential, new.code.as_str(), &p);
    assert_eq!(accepted(&again), Some(4));
    let newer = again.replacement.as_ref().unwrap();
    assert_ne!(newer.code.as_str(), new.code.as_str());
    assert!(accepted(&check(&again.credential, new.code.as_str(), &p)).is_none());
    // Without the policy, the code is spent and nothing replaces it.
    let spend = Policy {
        replace_on_use: false,
        ..p.clone()
    };
    let v = check(&issued.credential, &codes[3], &spend);
    assert!(v.replacement.is_none());
    assert_eq!(v.remaining, 9);
}

#[test]
fn an_imported_sets_replacement_is_in_its_systems_form() {
    let p = Policy {
        replace_on_use: true,
        ..policy()
    };
    let cred = import(
        &ForeignSet::Kratos(plain(&KRATOS)),
        &p,
        None,
        &mut rng(),
        T0,
    )
    .unwrap()
    .credential;
    let v = check(&cred, KRATOS[2], &p);
    let new = v.replacement.as_ref().unwrap();
    assert_eq!(new.code.len(), 13, "at least 64 bits in a-z0-9");
    assert!(
        new.code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    );
    assert_eq!(
        accepted(&check(&v.credential, &new.code.to_uppercase(), &p)),
        Some(3)
    );
    let decoded = Credential::decode(&v.credential).unwrap();
    assert_eq!(
        decoded.active.unwrap().scheme,
        Scheme::Rehashed(Source::Kratos)
    );
}
