//! Importing other identity servers' recovery codes (issue 17), end to end:
//! the real binary's `import` reads each system's export (fixtures made by
//! that system's own algorithm, `tests/fixtures/import/make.py`), and then,
//! through the component, every imported set accepts exactly its users'
//! unused codes, once each, typed as users copied them (Keycloak's in order),
//! refuses used and other codes, and honours lockout. Running the import
//! again changes nothing; its report never shows a code.

use std::collections::BTreeMap;

use backup_codes_harness::db::{Backend, TestDb, snapshot};
use backup_codes_harness::idp::{Alg, TestIdp};
use backup_codes_harness::shim::{InProcess, binary, cheap_policy, process_toml, test_config};
use backup_codes_shim::plugin::{FailureReason, Outcome};
use backup_codes_shim::service::Attempt;
use secrecy::SecretString;
use serde_json::Value;

const TENANT: &str = "acme";
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/import");

struct Env {
    db: TestDb,
    idp: TestIdp,
    config_path: std::path::PathBuf,
}

impl Env {
    async fn new() -> Self {
        let db = TestDb::new(Backend::Sqlite).await.unwrap();
        let idp = TestIdp::start().await.unwrap();
        let config_path = db.dir.path().join("shim.toml");
        let tenants = idp.tenant_toml(TENANT, Alg::Hs256);
        let toml = process_toml(&db, "log_filter = \"warn\"", "", &tenants, TENANT);
        std::fs::write(&config_path, toml).unwrap();
        Self {
            db,
            idp,
            config_path,
        }
    }

    /// `backup-codes-shim import --from FROM FILE --tenant acme ARGS`: its report.
    fn import(&self, from: &str, file: &str, args: &[&str]) -> (Value, String) {
        let out = std::process::Command::new(binary().unwrap())
            .args(["--config"])
            .arg(&self.config_path)
            .args(["import", "--from", from, "--tenant", TENANT])
            .arg(format!("{FIXTURES}/{file}"))
            .args(args)
            .current_dir(self.db.dir.path())
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(out.status.success(), "{text}\n{err}");
        (serde_json::from_str(&text).unwrap(), format!("{text}{err}"))
    }

    async fn shim(&self) -> InProcess {
        let mut tenant = self.idp.tenant(Alg::Hs256);
        tenant.policy = cheap_policy();
        InProcess::start(&test_config(
            &self.db.url,
            BTreeMap::from([(TENANT.to_owned(), tenant)]),
        ))
        .await
        .unwrap()
    }
}

fn fixture_codes(key: &str) -> BTreeMap<String, (Vec<String>, Vec<usize>, bool)> {
    let all: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{FIXTURES}/codes.json")).unwrap())
            .unwrap();
    all[key]
        .as_object()
        .unwrap()
        .iter()
        .map(|(subject, v)| {
            let codes = serde_json::from_value(v["codes"].clone()).unwrap();
            let used = serde_json::from_value(v["used"].clone()).unwrap();
            (subject.clone(), (codes, used, v["order"] == "in-order"))
        })
        .collect()
}

async fn verify(shim: &InProcess, subject: &str, code: &str) -> Attempt {
    shim.state
        .service
        .verify(
            &shim.state.service.subject(TENANT, subject).unwrap(),
            SecretString::from(code.to_owned()),
        )
        .await
        .unwrap()
}

fn reason(a: &Attempt) -> Option<FailureReason> {
    match a.outcome {
        Outcome::Rejected(r) => Some(r.reason),
        _ => None,
    }
}

/// A code of the same form that is none of the set's (its last symbol
/// changed within its alphabet: digits for digit codes, else a or b).
fn other_code(code: &str) -> String {
    let mut chars: Vec<char> = code.chars().collect();
    let digits_only = chars
        .iter()
        .filter(|c| c.is_ascii_alphanumeric())
        .all(char::is_ascii_digit);
    let last = chars.iter().rposition(char::is_ascii_alphanumeric).unwrap();
    chars[last] = match (digits_only, chars[last]) {
        (true, '9') => '8',
        (true, _) => '9',
        (false, 'a') => 'b',
        (false, 'A') => 'B',
        (false, c) if c.is_ascii_uppercase() => 'A',
        (false, _) => 'a',
    };
    chars.into_iter().collect()
}

/// Import `file` and check every subject's codes.
async fn import_and_check(from: &str, file: &str, key: &str, args: &[&str]) {
    let env = Env::new().await;
    let expected = fixture_codes(key);
    let (report, output) = env.import(from, file, args);
    assert_eq!(report["imported"], expected.len(), "{report}");
    assert_eq!(report["read"], expected.len(), "{report}");
    assert_eq!(report["failed"], Value::Array(vec![]), "{report}");
    for (codes, _, _) in expected.values() {
        for code in codes {
            let bare: String = code.chars().filter(char::is_ascii_alphanumeric).collect();
            assert!(
                !output.contains(code.as_str()) && !output.contains(&bare),
                "a code in the report"
            );
        }
    }
    // Again: nothing changes.
    let before = snapshot(&env.db.url).await.unwrap();
    let (again, _) = env.import(from, file, args);
    assert_eq!(
        (&again["imported"], &again["already_enrolled"]),
        (&Value::from(0), &Value::from(expected.len()))
    );
    assert_eq!(
        snapshot(&env.db.url).await.unwrap(),
        before,
        "a second import changes nothing"
    );
    for line in before.iter().filter(|l| l.starts_with("credential")) {
        for (codes, _, _) in expected.values() {
            for code in codes {
                let bare: String = code.chars().filter(char::is_ascii_alphanumeric).collect();
                assert!(
                    !line
                        .to_lowercase()
                        .contains(&hex::encode(bare.to_lowercase()))
                );
            }
        }
    }

    let shim = env.shim().await;
    for (subject, (codes, used, in_order)) in &expected {
        let status = shim
            .state
            .service
            .status(&shim.state.service.subject(TENANT, subject).unwrap())
            .await
            .unwrap();
        let active = status.active.as_ref().unwrap();
        assert_eq!(usize::from(active.total), codes.len(), "{subject}");
        assert_eq!(
            usize::from(active.remaining),
            codes.len() - used.len(),
            "{subject}"
        );
        // A code of the same form that is not one of them is refused.
        let wrong = verify(&shim, subject, &other_code(&codes[codes.len() - 1])).await;
        assert!(reason(&wrong).is_some(), "{subject}: {:?}", wrong.outcome);
        // Codes used in the other system are refused.
        for n in used {
            let a = verify(&shim, subject, &codes[n - 1]).await;
            assert!(reason(&a).is_some(), "{subject}: used code {n}");
        }
        let unused: Vec<(usize, &String)> = (1..)
            .zip(codes)
            .filter(|(n, _)| !used.contains(n))
            .collect();
        let order: Vec<(usize, &String)> = if *in_order {
            // Keycloak: only the next code; the one after it is refused.
            let early = verify(&shim, subject, unused[1].1).await;
            assert_eq!(
                reason(&early),
                Some(FailureReason::WrongNumber),
                "{subject}"
            );
            unused.clone()
        } else {
            unused.iter().rev().cloned().collect()
        };
        for (n, code) in order {
            let a = verify(&shim, subject, code).await;
            assert!(
                matches!(a.outcome, Outcome::Accepted(k) if usize::from(k) == n),
                "{subject}: code {n}: {:?}",
                a.outcome
            );
            let again = verify(&shim, subject, code).await;
            assert!(
                !matches!(again.outcome, Outcome::Accepted(_)),
                "{subject}: code {n} twice"
            );
        }
        let status = shim
            .state
            .service
            .status(&shim.state.service.subject(TENANT, subject).unwrap())
            .await
            .unwrap();
        assert!(status.active.unwrap().exhausted, "{subject}");
    }
    shim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keycloak_sets_import_and_verify_in_order() {
    import_and_check("keycloak", "keycloak-realm.json", "keycloak", &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kratos_sets_import_with_their_used_marks() {
    import_and_check("kratos", "kratos-identities.json", "kratos", &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allauth_seeds_import_as_their_codes() {
    import_and_check("allauth", "allauth-dumpdata.json", "allauth", &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supabase_hashes_import_and_verify() {
    import_and_check("supabase", "supabase.csv", "supabase", &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn django_otp_and_authentik_tokens_import() {
    import_and_check("plaintext", "otp-dumpdata.json", "otp", &[]).await;
    import_and_check("plaintext", "authentik-dumpdata.json", "authentik", &[]).await;
}

/// An imported set locks like a set issued here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imported_sets_honour_lockout() {
    let env = Env::new().await;
    env.import("kratos", "kratos-identities.json", &[]);
    let (subject, (codes, _, _)) = fixture_codes("kratos").into_iter().next().unwrap();
    let shim = env.shim().await;
    let wrong = other_code(&codes[0]);
    for _ in 0..5 {
        verify(&shim, &subject, &wrong).await;
    }
    let locked = verify(&shim, &subject, &codes[0]).await;
    assert!(
        matches!(locked.outcome, Outcome::Locked(Some(_))),
        "{:?}",
        locked.outcome
    );
    shim.stop().await;
}
