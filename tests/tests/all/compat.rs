//! Credentials written by an earlier component stay readable (issue 17): the
//! fixtures in `tests/fixtures/credentials-0.1.json` were written by the
//! 0.1.0 component (`authn:backup-codes@0.1.0`, its SHA-256 in the file),
//! and the component built from this tree must read each one as that
//! component left it — the same sets, used codes, order and lockout — and
//! keep checking its codes exactly as 0.1 did.
//!
//! `tests/fixtures/make-credentials-0.1.sh` wrote the file with the shim
//! binary of a 0.1.0 tree (its CLI against a SQLite store); it is not run
//! again (a newer component writes newer credentials).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use backup_codes_shim::plugin::{
    self, Clock, CodeOrder, HashParams, Outcome, Plugin, PluginConfig, Policy,
};
use secrecy::{SecretSlice, SecretString};
use serde_json::Value;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/credentials-0.1.json");

/// A clock the test moves.
struct Manual(AtomicU64);

impl Clock for Manual {
    fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

fn plugin(now: u64) -> (Plugin, Arc<Manual>) {
    let clock = Arc::new(Manual(AtomicU64::new(now)));
    let p = Plugin::with_clock(
        plugin::EMBEDDED_COMPONENT,
        PluginConfig::default(),
        Arc::clone(&clock) as Arc<dyn Clock>,
    )
    .unwrap();
    (p, clock)
}

fn policy(p: &Plugin, numbered: bool) -> Policy {
    Policy {
        hash: HashParams {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        },
        order: if numbered {
            CodeOrder::Numbered
        } else {
            CodeOrder::AnyOrder
        },
        ..p.default_policy().unwrap()
    }
}

fn code(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

fn pepper(v: &Value) -> Option<SecretSlice<u8>> {
    v.as_str().map(|p| SecretSlice::from(p.as_bytes().to_vec()))
}

fn accepted(o: &Outcome) -> bool {
    matches!(o, Outcome::Accepted(_))
}

/// Every 0.1 credential reads as 0.1 left it, and its codes work as before.
#[test]
fn credentials_written_by_0_1_are_read_and_checked_as_before() {
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(FIXTURES).unwrap()).unwrap();
    assert_eq!(doc["written_by"], "authn:backup-codes@0.1.0");
    let now = doc["now"].as_u64().unwrap();
    for case in doc["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let (p, clock) = plugin(now);
        let pol = policy(&p, case["numbered"].as_bool().unwrap());
        let pep = pepper(&case["pepper"]);
        let cred = hex::decode(case["credential"].as_str().unwrap()).unwrap();
        let codes: Vec<String> = serde_json::from_value(case["codes"].clone()).unwrap();
        let used: Vec<u8> = serde_json::from_value(case["used"].clone()).unwrap();
        let status = p.status(&cred, &pol).unwrap();
        let active = status.active.as_ref().unwrap();
        assert_eq!(active.total, 10, "{name}");
        let used_numbers: Vec<u8> = active.used.iter().map(|u| u.number).collect();
        assert_eq!(used_numbers, used, "{name}");
        assert_eq!(usize::from(active.remaining), 10 - used.len(), "{name}");

        if let Some(until) = case["locked_until"].as_u64() {
            // Locked as 0.1 left it; after the lockout, a right code works.
            assert_eq!(status.locked_until, Some(until), "{name}");
            let v = p
                .verify(&cred, None, &code(&codes[3]), &pol, pep.as_ref())
                .unwrap();
            assert!(matches!(v.outcome, Outcome::Locked(_)), "{name}");
            clock.0.store(until + 1, Ordering::SeqCst);
            let v = p
                .verify(&cred, None, &code(&codes[3]), &pol, pep.as_ref())
                .unwrap();
            assert!(accepted(&v.outcome), "{name}: {:?}", v.outcome);
            continue;
        }
        // A used code is refused; an unused one is accepted once.
        if let Some(&n) = used.first() {
            let v = p
                .verify(
                    &cred,
                    None,
                    &code(&codes[usize::from(n) - 1]),
                    &pol,
                    pep.as_ref(),
                )
                .unwrap();
            assert!(!accepted(&v.outcome), "{name}: a used code");
        }
        let next = (1..=10u8).find(|n| !used.contains(n)).unwrap();
        let v = p
            .verify(
                &cred,
                None,
                &code(&codes[usize::from(next) - 1]),
                &pol,
                pep.as_ref(),
            )
            .unwrap();
        assert!(accepted(&v.outcome), "{name}: {:?}", v.outcome);
        let again = p
            .verify(
                &v.credential,
                None,
                &code(&codes[usize::from(next) - 1]),
                &pol,
                pep.as_ref(),
            )
            .unwrap();
        assert!(!accepted(&again.outcome), "{name}: once only");
        // The pending replacement activates with one of its codes.
        let pending: Vec<String> = serde_json::from_value(case["pending_codes"].clone()).unwrap();
        if let Some(first) = pending.first() {
            assert!(status.pending.is_some(), "{name}");
            let a = p
                .activate(&cred, None, &code(first), &pol, pep.as_ref())
                .unwrap();
            assert!(accepted(&a.outcome), "{name}");
            let old = p
                .verify(&a.credential, None, &code(&codes[5]), &pol, pep.as_ref())
                .unwrap();
            assert!(!accepted(&old.outcome), "{name}: the replaced set is gone");
        }
    }
}

const FIXTURES_0_2: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/credentials-0.2.json");
const IMPORTED_CODES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/import/codes.json");

/// The credential format version a value was written in.
fn format_version(credential: &[u8]) -> u16 {
    u16::from_be_bytes([credential[4], credential[5]])
}

/// The codes of an imported subject, and its used numbers, from the import
/// fixtures' `codes.json`.
fn imported_codes(subject: &str) -> (Vec<String>, Vec<usize>) {
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(IMPORTED_CODES).unwrap()).unwrap();
    let entry = doc
        .as_object()
        .unwrap()
        .values()
        .find_map(|by_subject| by_subject.get(subject))
        .unwrap_or_else(|| panic!("{subject} in codes.json"));
    (
        serde_json::from_value(entry["codes"].clone()).unwrap(),
        serde_json::from_value(entry["used"].clone()).unwrap(),
    )
}

/// Every credential the 0.2.0 component wrote (native sets in format 1,
/// imported sets in format 2) reads as 0.2 left it: the status 0.2's CLI
/// printed, byte for byte as JSON; its codes work once; what 0.3 writes back
/// keeps the format, so 0.1 and 0.2 components sharing the store still read it.
#[test]
fn credentials_written_by_0_2_are_read_and_checked_as_before() {
    use backup_codes_shim::http::StatusBody;
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(FIXTURES_0_2).unwrap()).unwrap();
    assert_eq!(doc["written_by"], "authn:backup-codes@0.2.0");
    let now = doc["now"].as_u64().unwrap();
    for case in doc["cases"].as_array().unwrap() {
        let subject = case["subject"].as_str().unwrap();
        let (p, clock) = plugin(now);
        let pol = policy(&p, false);
        let cred = hex::decode(case["credential"].as_str().unwrap()).unwrap();
        let status = p.status(&cred, &pol).unwrap();
        assert_eq!(
            serde_json::to_value(StatusBody::from(&status)).unwrap(),
            case["status"],
            "{subject}: the status 0.2 reported"
        );
        let (codes, used): (Vec<String>, Vec<usize>) = match case["codes"].as_array() {
            Some(_) => {
                let codes: Vec<String> = serde_json::from_value(case["codes"].clone()).unwrap();
                let used = status.active.as_ref().unwrap().used.iter();
                (codes, used.map(|u| usize::from(u.number)).collect())
            }
            None => imported_codes(subject),
        };
        if let Some(until) = status.locked_until {
            assert!(matches!(
                p.verify(&cred, None, &code(&codes[3]), &pol, None)
                    .unwrap()
                    .outcome,
                Outcome::Locked(_)
            ));
            clock.0.store(until + 1, Ordering::SeqCst);
        }
        // A used code is refused; the next unused one is accepted once.
        if let Some(&n) = used.first() {
            let v = p
                .verify(&cred, None, &code(&codes[n - 1]), &pol, None)
                .unwrap();
            assert!(!accepted(&v.outcome), "{subject}: a used code");
        }
        let next = (1..=codes.len()).find(|n| !used.contains(n)).unwrap();
        let v = p
            .verify(&cred, None, &code(&codes[next - 1]), &pol, None)
            .unwrap();
        assert!(accepted(&v.outcome), "{subject}: {:?}", v.outcome);
        assert_eq!(
            format_version(&v.credential),
            format_version(&cred),
            "{subject}: written back in the format 0.2 wrote"
        );
        let again = p
            .verify(&v.credential, None, &code(&codes[next - 1]), &pol, None)
            .unwrap();
        assert!(!accepted(&again.outcome), "{subject}: once only");
        // A code of the set 0.2 replaced: refused like any wrong code (0.2
        // gave each set its own salt, so it cannot be told apart in one
        // evaluation; sets 0.3 issues over one another can).
        if let Some(old) = case["replaced"].as_str() {
            let old_codes: Vec<String> =
                serde_json::from_value(case["replaced_codes"].clone()).unwrap();
            let old = hex::decode(old).unwrap();
            let v = p
                .verify(&cred, Some(&old), &code(&old_codes[4]), &pol, None)
                .unwrap();
            assert!(!accepted(&v.outcome), "{subject}: an old code");
            assert!(!v.replaced_set, "{subject}");
        }
        // The pending set activates with one of its codes, in format 1.
        if let Some(pending) = case["pending_codes"].as_array() {
            let first = pending[0].as_str().unwrap();
            let a = p.activate(&cred, None, &code(first), &pol, None).unwrap();
            assert!(accepted(&a.outcome), "{subject}");
            assert_eq!(format_version(&a.credential), 1, "{subject}");
        }
    }
}
