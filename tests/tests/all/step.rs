//! The redirect step over real HTTP on 127.0.0.1 with a temporary SQLite
//! database: the IdP's session token is checked (tampered, expired, replayed,
//! wrong audience, reused state are refused with a clear page and, when the
//! token is the IdP's, a signed failure back), and codes typed in the pages
//! produce signed results that bind sub, state and the result.
//!
//! The pages are driven with the harness's [`StepClient`]; what is here are
//! the checks an IdP makes of what the step answers.

mod enrolment;
mod login;
mod pages;
mod tokens;

use std::collections::BTreeMap;

use backup_codes_harness::db::{Backend, TestDb, stored};
use backup_codes_harness::shim::{InProcess, cheap, test_config};
use backup_codes_harness::step::{Page, StepClient};
use backup_codes_shim::config::{JwtAlgorithm, PolicyOverrides, TenantConfig};
use backup_codes_shim::service::{Service, Subject};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

const TENANT: &str = "acme";
const ISSUER: &str = "https://idp.test";
const STEP_SECRET: &str = "step-secret-for-tests-0123456789abcdef";
const CONTINUE: &str = "https://idp.test/continue";

/// A shim serving one step tenant, and a browser at its pages.
struct Shim {
    shim: InProcess,
    step: StepClient,
    _db: TestDb,
}

impl Shim {
    /// The shim's base URL (the `iss` of its results).
    fn base(&self) -> &str {
        &self.shim.url
    }

    /// The service, for white-box checks.
    fn service(&self) -> &Service {
        &self.shim.state.service
    }

    /// A subject of the test tenant.
    fn who(&self, subject: &str) -> Subject {
        self.service().subject(TENANT, subject).unwrap()
    }

    /// Open step `kind` with these session claims (signed with the step
    /// secret) and `state`.
    async fn enter(&self, kind: &str, claims: &Value, state: &str) -> Page {
        self.step
            .enter(kind, state, &self.step.sign(claims))
            .await
            .unwrap()
    }

    /// `GET` a path as a browser holding `cookie`, or no cookie.
    async fn get(&self, path: &str, query: &[(&str, &str)], cookie: Option<&str>) -> Page {
        let headers: Vec<(&str, &str)> = cookie.map(|c| ("cookie", c)).into_iter().collect();
        self.step
            .get_with_headers(path, query, &headers)
            .await
            .unwrap()
    }

    /// `POST` a form as a browser holding `cookie`, or no cookie.
    async fn post(&self, path: &str, cookie: Option<&str>, form: &[(&str, &str)]) -> Page {
        self.step.post(path, cookie, form).await.unwrap()
    }

    /// Type `code` into the login page of `flow`, as a browser holding `cookie`.
    async fn type_code(&self, cookie: Option<&str>, flow: &str, code: &str) -> Page {
        self.post(
            &self.step.path("login"),
            cookie,
            &[("flow", flow), ("code", code)],
        )
        .await
    }

    /// Open the login step for `sub` with a fresh session: the entry page, its
    /// cookie and its flow token.
    async fn open_login(&self, sub: &str, state: &str) -> (Page, String, String) {
        let entry = self
            .enter("login", &session(self, sub, state, "login"), state)
            .await;
        let cookie = entry.cookie();
        let flow = entry.field("flow").unwrap();
        (entry, cookie, flow)
    }

    /// Enrol `sub` through the pages, checking each page and the signed
    /// result; the codes with their numbers.
    async fn enrol(&self, sub: &str, state: &str) -> Vec<(u8, String)> {
        let entry = self
            .enter("enroll", &session(self, sub, state, "enroll"), state)
            .await;
        entry.assert_clear(StatusCode::OK, "Set up backup codes");
        // Its attributes checked; the harness posts the pages with it.
        entry.cookie();
        let set = self.step.finish_enrolment(&entry).await.unwrap();
        set.shown
            .assert_clear(StatusCode::OK, "not shown again once you leave this page");
        set.done.assert_clear(StatusCode::OK, "are active");
        let claims = result_claims(self, &set.done, state);
        assert_eq!(claims["result"]["status"], "success");
        assert_eq!(claims["result"]["action"], "enroll");
        set.shown.numbered_codes()
    }

    /// A code of another user's set: well formed, and wrong for anyone else.
    async fn foreign_code(&self) -> String {
        let bob = self.service().issue(&self.who("bob")).await.unwrap();
        bob.codes[0].code.expose_secret().clone()
    }

    /// What the store holds for a subject: the credential row and the audit trail.
    async fn stored(&self, sub: &str) -> (Option<Vec<u8>>, Vec<String>) {
        stored(self.service().store(), TENANT, sub).await.unwrap()
    }
}

async fn start(count: u8) -> Shim {
    start_with(PolicyOverrides {
        count: Some(count),
        ..PolicyOverrides::default()
    })
    .await
}

/// A shim whose tenant has these policy overrides (cheap hashing added).
async fn start_with(policy: PolicyOverrides) -> Shim {
    let db = TestDb::new(Backend::Sqlite).await.unwrap();
    let tenant = TenantConfig {
        issuer: ISSUER.into(),
        audience: "backup-codes".into(),
        algorithms: vec![JwtAlgorithm::HS256],
        hs256_secret: Some(SecretString::from("api-secret-for-tests-0123456789abcdef")),
        step_secret: Some(SecretString::from(STEP_SECRET)),
        continue_urls: vec![
            CONTINUE.parse().unwrap(),
            "https://idp.test/interaction/".parse().unwrap(),
        ],
        policy: cheap(policy),
        ..TenantConfig::default()
    };
    let config = test_config(&db.url, BTreeMap::from([(TENANT.to_owned(), tenant)]));
    config.validate().unwrap();
    let shim = InProcess::start(&config).await.unwrap();
    let step = StepClient::new(&shim.url, TENANT, ISSUER, STEP_SECRET).unwrap();
    Shim {
        shim,
        step,
        _db: db,
    }
}

fn now() -> i64 {
    i64::try_from(backup_codes_harness::idp::now()).unwrap()
}

/// A session token's claims as Auth0 makes them (aud = the redirect URL, a
/// state claim), with a `jti` of the state's own: tokens for one state are
/// one token, so a refusal that spent it would show.
fn session(shim: &Shim, sub: &str, state: &str, kind: &str) -> Value {
    let mut claims = shim.step.session_claims(kind, sub, state);
    claims["jti"] = json!(format!("jti-{state}"));
    claims
}

/// The result token of a page, checked the way an IdP must check it.
fn result_claims(shim: &Shim, page: &Page, state: &str) -> Value {
    assert_eq!(page.handoff_action().as_deref(), Some(CONTINUE));
    assert_eq!(page.field("state").as_deref(), Some(state));
    let token = page.field("session_token").expect("a signed result");
    let mut v = Validation::new(Algorithm::HS256);
    v.set_issuer(&[shim.base()]);
    v.set_audience(&[ISSUER]);
    v.set_required_spec_claims(&["exp", "iat", "iss", "aud"]);
    let claims = jsonwebtoken::decode::<Value>(
        &token,
        &DecodingKey::from_secret(STEP_SECRET.as_bytes()),
        &v,
    )
    .expect("the result verifies with the step secret")
    .claims;
    assert_eq!(claims["state"], state);
    let ttl = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert!((1..=300).contains(&ttl));
    assert!(claims["jti"].as_str().is_some_and(|j| j.len() >= 16));
    claims
}

/// The posted result on a refusal page's "Return to sign-in" form.
fn way_back(shim: &Shim, page: &Page, state: &str) -> Value {
    assert!(
        page.html
            .contains("<form method=\"post\" action=\"https://idp.test/continue\"")
    );
    result_claims(shim, page, state)["result"].clone()
}

/// What every page of the step must be.
trait StepPage {
    /// The flow cookie (`name=value`), set `HttpOnly` and `SameSite=Strict`.
    fn cookie(&self) -> String;
    /// A human-readable page with this status that says `text`, uncached,
    /// under the step's content security policy.
    fn assert_clear(&self, status: StatusCode, text: &str);
}

impl StepPage for Page {
    fn cookie(&self) -> String {
        let set = self.flow_set_cookie().expect("a flow cookie");
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"));
        self.flow_cookie().unwrap()
    }

    fn assert_clear(&self, status: StatusCode, text: &str) {
        assert_eq!(self.status, status, "{}", self.html);
        assert!(
            self.html.contains(text),
            "page should say {text:?}:\n{}",
            self.html
        );
        assert!(self.html.contains("<h1>"), "a human-readable page");
        let ct = self.headers[reqwest::header::CONTENT_TYPE]
            .to_str()
            .unwrap();
        assert!(ct.starts_with("text/html"));
        assert_eq!(self.headers[reqwest::header::CACHE_CONTROL], "no-store");
        let csp = self.headers[reqwest::header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert!(csp.starts_with("default-src 'none'; style-src 'self'; script-src 'self'"));
        assert!(csp.contains("frame-ancestors 'none'"));
    }
}
