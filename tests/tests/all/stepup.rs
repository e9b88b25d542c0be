//! The shim as an OpenID provider for step-up (issue 13), driven as Microsoft
//! Entra drives an external authentication method: the documented form POST
//! with an expired-on-purpose `id_token_hint` and the documented `claims`,
//! a backup code on the login step's page, and the ID token form-posted back,
//! checked as Entra checks it. Every bad input of the issue is refused with an
//! OpenID error or a page and changes nothing; keys rotate on schedule, and two
//! instances on one database agree on them (SQLite and PostgreSQL).

mod bad_requests;
mod rotation;

use std::collections::BTreeMap;

use backup_codes_harness::db::{Backend, TestDb, snapshot};
use backup_codes_harness::idp::{Alg, TestIdp, now, random_id};
use backup_codes_harness::shim::{InProcess, cheap_policy, test_config};
use backup_codes_harness::step::{Page, StepClient};
use backup_codes_harness::stepup::{
    ENTRA_REDIRECT, Rp, authorize, check_id_token, enter_code, form_action, param, with,
};
use backup_codes_shim::config::{Config, StepUpClient, StepUpConfig, TenantConfig};
use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::{Value, json};

const TENANT: &str = "acme";
/// An authorization request's parameters.
type Request = Vec<(String, String)>;
const USER: &str = "0d9f4a77-6c1b-4e2a-8f3d-5b7e9c1a2d40";

/// A shim whose tenant `acme` is a step-up provider for an Entra-like client
/// and a second relying party of the same profile with other acr/amr.
struct Env {
    shim: InProcess,
    idp: TestIdp,
    entra: Rp,
    other_rp: Rp,
    browser: StepClient,
    db: TestDb,
    config: Config,
}

fn stepup(idp: &TestIdp, entra: &Rp, other_rp: &Rp) -> StepUpConfig {
    let second = StepUpClient {
        // Another RP: issuer without a tenant id, `sub` is the user, and the
        // answer is its own acr and amr.
        hint_issuers: vec![other_rp.hint_issuer.clone()],
        hint_tenant_ids: Vec::new(),
        subject_claim: Some("sub".into()),
        acr_values: vec!["https://refeds.org/profile/mfa".into()],
        amr: Some("mfa".into()),
        ..other_rp.client(idp)
    };
    StepUpConfig {
        clients: vec![entra.client(idp), second],
        ..StepUpConfig::default()
    }
}

async fn env_on(backend: Backend) -> Env {
    let idp = TestIdp::start().await.unwrap();
    let db = TestDb::new(backend).await.unwrap();
    let entra = Rp::entra("entra-client-id", "entra-app-id");
    let other_rp = Rp {
        client_id: "second-rp".into(),
        app_id: "second-rp".into(),
        redirect: "http://127.0.0.1:9/oidc/callback".into(),
        hint_issuer: "https://rp.test/issuer".into(),
    };
    let step_secret = format!("step-secret-{}", random_id());
    let tenant = TenantConfig {
        step_secret: Some(SecretString::from(step_secret.clone())),
        continue_urls: vec!["https://idp.test/continue".parse().unwrap()],
        policy: cheap_policy(),
        stepup: Some(stepup(&idp, &entra, &other_rp)),
        ..idp.tenant(Alg::Hs256)
    };
    let mut tenants = BTreeMap::new();
    tenants.insert(TENANT.to_owned(), tenant);
    let config = test_config(&db.url, tenants);
    let shim = InProcess::start(&config).await.unwrap();
    let browser = StepClient::new(&shim.url, TENANT, &idp.issuer, &step_secret).unwrap();
    Env {
        shim,
        idp,
        entra,
        other_rp,
        browser,
        db,
        config,
    }
}

impl Env {
    fn issuer(&self) -> String {
        format!("{}/op/{TENANT}", self.shim.url)
    }

    /// Enrol `user` through the step's pages; their codes.
    async fn enrol(&self, user: &str) -> Vec<String> {
        let (codes, done) = self.browser.enrol("enroll", user).await.unwrap();
        assert!(done.field("session_token").is_some(), "{}", done.html);
        codes
    }
}

/// The OpenID error a refusal page posts back: its `error` and `state` fields,
/// and where the form goes.
fn posted_error(page: &Page) -> (String, Option<String>, String) {
    (
        page.field("error")
            .unwrap_or_else(|| panic!("an error form: {} {}", page.status, page.html)),
        page.field("state"),
        form_action(page).unwrap_or_default(),
    )
}

/// A GET through the shim's own client builder (rustls on ring).
async fn http_get(url: String) -> reqwest::Result<reqwest::Response> {
    backup_codes_shim::http_client()
        .build()?
        .get(url)
        .send()
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn entra_step_up_gives_an_id_token_entra_accepts() {
    let env = env_on(Backend::Sqlite).await;
    let codes = env.enrol(USER).await;
    the_probe_and_discovery_are_as_entra_requires(&env).await;
    let request = env.entra.request(&env.entra.hint(&env.idp, USER));
    let page = the_code_page_of_the_login_step(&env, &request).await;
    let answer = a_code_posts_the_answer_to_entra(&env, &request, &page, &codes).await;
    the_id_token_is_as_entra_checks(&env, &request, &answer).await;
    the_code_is_used_and_a_cancel_is_access_denied(&env, &codes).await;
}

async fn the_probe_and_discovery_are_as_entra_requires(env: &Env) {
    // A bare GET of the authorize address is a harmless page (Entra probes it).
    let probe = env
        .browser
        .get(&format!("/op/{TENANT}/authorize"), &[])
        .await
        .unwrap();
    assert_eq!(probe.status, StatusCode::OK);
    assert!(!probe.html.contains("name=\"flow\""));

    // Discovery as Entra requires it: issuer = the discovery URL without its
    // suffix, character for character, with a Content-Length.
    let r = http_get(format!("{}/.well-known/openid-configuration", env.issuer()))
        .await
        .unwrap();
    assert!(r.headers().get("content-length").is_some());
    let d: Value = r.json().await.unwrap();
    assert_eq!(d["issuer"], env.issuer());
    assert_eq!(
        d["authorization_endpoint"],
        format!("{}/authorize", env.issuer())
    );
    assert_eq!(d["response_types_supported"], json!(["id_token"]));
    assert_eq!(d["response_modes_supported"], json!(["form_post"]));
    assert_eq!(d["id_token_signing_alg_values_supported"], json!(["RS256"]));
    assert_eq!(d["claims_parameter_supported"], true);
}

/// A good request opens the login step's code page. The page.
async fn the_code_page_of_the_login_step(env: &Env, request: &Request) -> Page {
    let page = authorize(&env.browser, request).await.unwrap();
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    // The existing code page of the login step, in a flow that ends with the
    // hint's window (600 s after its iat, plus the 30 s leeway).
    assert!(page.html.contains("Enter a backup code"), "{}", page.html);
    let flow = page.field("flow").unwrap();
    let payload: Value = {
        use base64::Engine as _;
        let part = flow.split('.').nth(1).unwrap();
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(part)
                .unwrap(),
        )
        .unwrap()
    };
    let hint_iat = env.entra.hint_claims(USER)["iat"].as_i64().unwrap();
    assert!(
        payload["exp"].as_i64().unwrap() <= hint_iat + 630,
        "{payload}"
    );
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("form-action 'self' https://login.microsoftonline.com;"),
        "{csp}"
    );

    page
}

/// A wrong code, then the right one: the answer form-posted to Entra.
async fn a_code_posts_the_answer_to_entra(
    env: &Env,
    request: &Request,
    page: &Page,
    codes: &[String],
) -> Page {
    // A wrong code first: the same page again, the flow goes on.
    let wrong = enter_code(&env.browser, page, "0000-0000-0000-0")
        .await
        .unwrap();
    assert_eq!(
        wrong.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        wrong.html
    );
    let answer = enter_code(&env.browser, page, &codes[0]).await.unwrap();
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.html);
    assert_eq!(form_action(&answer).as_deref(), Some(ENTRA_REDIRECT));
    assert!(answer.html.contains("data-autosubmit"));
    let csp = answer.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("form-action https://login.microsoftonline.com;"),
        "{csp}"
    );
    assert_eq!(
        answer.field("state").as_deref(),
        Some(param(request, "state"))
    );
    assert!(answer.field("error").is_none());

    answer
}

/// The ID token, checked as Entra checks it, and its signing key.
async fn the_id_token_is_as_entra_checks(env: &Env, request: &Request, answer: &Page) {
    let token = answer.field("id_token").unwrap();
    let (claims, jwk) = check_id_token(&env.issuer(), &env.entra.client_id, &token)
        .await
        .unwrap();
    assert_eq!(claims["sub"], format!("pairwise-{USER}"), "the hint's sub");
    assert_eq!(claims["nonce"], param(request, "nonce"));
    assert_eq!(claims["acr"], "possessionorinherence");
    assert_eq!(claims["amr"], json!(["otp"]));
    assert!(claims["auth_time"].as_i64().unwrap() >= now() as i64 - 60);
    let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert_eq!(lifetime, 300);
    let mut names: Vec<&str> = claims
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "acr",
            "amr",
            "aud",
            "auth_time",
            "exp",
            "iat",
            "iss",
            "nonce",
            "sub"
        ]
    );
    for field in [
        "kty", "use", "alg", "kid", "n", "e", "x5c", "x5t", "x5t#S256",
    ] {
        assert!(jwk.get(field).is_some(), "{field} in {jwk}");
    }
    assert_eq!(jwk["use"], "sig");
    assert_eq!(jwk["kid"], jwk["x5t"]);
}

async fn the_code_is_used_and_a_cancel_is_access_denied(env: &Env, codes: &[String]) {
    // The code is used: it was checked by the engine like any login. (A hint
    // of its own: the same claims in the same second make the same token,
    // which is single-use.)
    let mut second = env.entra.hint_claims(USER);
    second["jti"] = json!(random_id());
    let hint = env.idp.sign(Alg::Rs256, &second);
    let page = authorize(&env.browser, &env.entra.request(&hint))
        .await
        .unwrap();
    let again = enter_code(&env.browser, &page, &codes[0]).await.unwrap();
    assert_eq!(
        again.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        again.html
    );
    assert!(again.html.contains("already used"), "{}", again.html);
    // The user gives up: `access_denied` posted back with the state.
    let cancel = env
        .browser
        .post(
            &env.browser.path("cancel"),
            Some(&page.flow_cookie().unwrap()),
            &[("flow", &page.field("flow").unwrap())],
        )
        .await
        .unwrap();
    let (error, state, action) = posted_error(&cancel);
    assert_eq!(
        (error.as_str(), action.as_str()),
        ("access_denied", ENTRA_REDIRECT)
    );
    assert!(state.is_some());
    assert!(cancel.field("id_token").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_relying_party_gets_its_own_acr_and_amr() {
    let env = env_on(Backend::Sqlite).await;
    let user = "bob";
    let codes = env.enrol(user).await;
    let rp = &env.other_rp;
    let mut hint = rp.hint_claims(user);
    hint["sub"] = json!(user);
    hint.as_object_mut().unwrap().remove("tid");
    let request = with(
        &rp.request(&env.idp.sign(Alg::Rs256, &hint)),
        "claims",
        None,
    );
    let page = authorize(&env.browser, &request).await.unwrap();
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    let answer = enter_code(&env.browser, &page, &codes[3]).await.unwrap();
    assert_eq!(form_action(&answer).as_deref(), Some(rp.redirect.as_str()));
    let csp = answer.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("form-action http://127.0.0.1:9;"), "{csp}");
    let (claims, _) = check_id_token(
        &env.issuer(),
        &rp.client_id,
        &answer.field("id_token").unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(claims["sub"], user);
    assert_eq!(claims["acr"], "https://refeds.org/profile/mfa");
    assert_eq!(claims["amr"], json!(["mfa"]));
    // Entra's claims ask for what this client does not answer: refused.
    let page = authorize(
        &env.browser,
        &with(
            &request,
            "claims",
            Some(backup_codes_harness::stepup::ENTRA_CLAIMS),
        ),
    )
    .await
    .unwrap();
    assert_eq!(posted_error(&page).0, "access_denied");
}

/// A hint, a nonce and a state are each accepted once.
#[tokio::test(flavor = "multi_thread")]
async fn hints_nonces_and_states_work_once() {
    let env = env_on(Backend::Sqlite).await;
    env.enrol(USER).await;
    let rp = &env.entra;
    let first = rp.request(&rp.hint(&env.idp, USER));
    let page = authorize(&env.browser, &first).await.unwrap();
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    // Fresh hints: another `jti` makes another token with the same claims.
    let fresh_hint = || {
        let mut c = rp.hint_claims(USER);
        c["jti"] = json!(random_id());
        env.idp.sign(Alg::Rs256, &c)
    };
    let replays = [
        (
            "the same request again (hint, nonce and state)",
            first.clone(),
        ),
        (
            "the same hint, fresh nonce and state",
            with(
                &with(&first, "nonce", Some(&random_id())),
                "state",
                Some(&random_id()),
            ),
        ),
        (
            "a fresh hint with the nonce used",
            with(
                &with(&first, "id_token_hint", Some(&fresh_hint())),
                "state",
                Some(&random_id()),
            ),
        ),
        (
            "a fresh hint with the state used",
            with(
                &with(&first, "id_token_hint", Some(&fresh_hint())),
                "nonce",
                Some(&random_id()),
            ),
        ),
    ];
    let before = snapshot(&env.db.url).await.unwrap();
    for (name, request) in &replays {
        let page = authorize(&env.browser, request).await.unwrap();
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{name}: {}", page.html);
        let (error, state, _) = posted_error(&page);
        assert_eq!(error, "access_denied", "{name}");
        assert_eq!(state.as_deref(), Some(param(request, "state")), "{name}");
    }
    assert_eq!(
        snapshot(&env.db.url).await.unwrap(),
        before,
        "a replay changed the store"
    );
    // All fresh: accepted.
    let fresh = with(
        &with(
            &with(&first, "id_token_hint", Some(&fresh_hint())),
            "nonce",
            Some(&random_id()),
        ),
        "state",
        Some(&random_id()),
    );
    assert_eq!(
        authorize(&env.browser, &fresh).await.unwrap().status,
        StatusCode::OK
    );
}
