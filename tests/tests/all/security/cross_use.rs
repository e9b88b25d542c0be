//! The cross-use matrix: an attacker IdP that holds every secret of its
//! tenant mints tokens of every kind and purpose and presents each at every
//! endpoint of both tenants.

use backup_codes_harness::client::{RawBody, ShimClient};
use backup_codes_harness::idp::{Alg, random_id};
use backup_codes_harness::step::{Page, sign_hs256};
use backup_codes_harness::stepup::{authorize, enter_code};
use backup_codes_shim::test_support::Purpose;
use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{Env, OTHER, TENANT, env, rest2f_basic, rp, self_token};

/// Where a token can be presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Endpoint {
    /// The JSON API, by operation (`Authorization: Bearer`).
    Api(&'static str),
    /// A step entry (`session_token` query parameter).
    Entry(&'static str),
    /// A posted step form (`flow` field, with every flow cookie of the browser).
    Form(&'static str),
    /// The REST second factor (`Authorization` header, JSON body with the code).
    Rest2f(&'static str),
    /// A posted self-service form (`flow` field, with the browser's cookies).
    SelfForm(&'static str),
    /// The step-up provider's authorization request (`id_token_hint` in an
    /// otherwise good Entra request).
    Op(&'static str),
}

const ENDPOINTS: [Endpoint; 20] = [
    Endpoint::Op("authorize"),
    Endpoint::Rest2f("verify"),
    Endpoint::Rest2f("init"),
    Endpoint::SelfForm("issue"),
    Endpoint::SelfForm("activate"),
    Endpoint::SelfForm("delete"),
    Endpoint::SelfForm("logout"),
    Endpoint::Api("issue"),
    Endpoint::Api("activate"),
    Endpoint::Api("verify"),
    Endpoint::Api("status"),
    Endpoint::Api("delete"),
    Endpoint::Entry("login"),
    Endpoint::Entry("enroll"),
    Endpoint::Entry("regenerate"),
    Endpoint::Form("login"),
    Endpoint::Form("enroll/issue"),
    Endpoint::Form("enroll/activate"),
    Endpoint::Form("enroll/done"),
    Endpoint::Form("cancel"),
];

/// A token the attacker IdP holds: its name, the tenant it was minted for, the
/// endpoints it was minted for (where it may work), and the token.
struct Minted {
    name: String,
    tenant: &'static str,
    purpose: Vec<Endpoint>,
    token: String,
}

/// Present `token` at `endpoint` of `tenant`; the status the shim answered.
async fn present(
    env: &Env,
    tenant: &str,
    endpoint: Endpoint,
    token: &str,
    sub: &str,
    code: &str,
    cookies: &str,
) -> (StatusCode, String) {
    let step = &env.steps[if tenant == TENANT { TENANT } else { OTHER }];
    // Credentials of another scheme travel as they are; tokens as bearer tokens.
    let authorization = if token.starts_with("Basic ") {
        token.to_owned()
    } else {
        format!("Bearer {token}")
    };
    match endpoint {
        Endpoint::Api(op) => {
            let base = ShimClient::codes_path(tenant, sub);
            let (method, path, body) = match op {
                "issue" => (Method::POST, base, None),
                "activate" => (Method::POST, format!("{base}/activate"), Some(code)),
                "verify" => (Method::POST, format!("{base}/verify"), Some(code)),
                "status" => (Method::GET, base, None),
                _ => (Method::DELETE, base, None),
            };
            let body = body.map(|c| RawBody::json(&json!({ "code": c })));
            let r = env
                .api
                .send_authorized(method, &path, Some(&authorization), body)
                .await
                .unwrap();
            (r.status, r.text)
        }
        Endpoint::Rest2f(op) => {
            let body = RawBody::json(&json!({ "user": sub, "code": code }));
            let r = env
                .api
                .send_authorized(
                    Method::POST,
                    &format!("/rest2f/{tenant}/{op}"),
                    Some(&authorization),
                    Some(body),
                )
                .await
                .unwrap();
            (r.status, r.text)
        }
        Endpoint::SelfForm(route) => {
            let page = step
                .post(
                    &format!("/self/{tenant}/{route}"),
                    Some(cookies),
                    &[("flow", token), ("code", code)],
                )
                .await
                .unwrap();
            (page.status, page.html)
        }
        Endpoint::Op(_) => {
            let page = authorize(step, &rp(tenant).request(token)).await.unwrap();
            (page.status, page.html)
        }
        Endpoint::Entry(kind) => {
            let page = step.enter(kind, &random_id(), token).await.unwrap();
            (page.status, page.html)
        }
        Endpoint::Form(route) => {
            let page = step
                .post(
                    &step.path(route),
                    Some(cookies),
                    &[("flow", token), ("code", code)],
                )
                .await
                .unwrap();
            (page.status, page.html)
        }
    }
}

fn result_token(page: &Page) -> String {
    page.field("session_token")
        .unwrap_or_else(|| panic!("a signed result: {}", page.html))
}

/// Every token of every kind and purpose, minted by an IdP that holds all of
/// its tenant's secrets, is refused at every endpoint it was not minted for,
/// of its own tenant and of another, and nothing in the store changes.
#[tokio::test(flavor = "multi_thread")]
async fn cross_use_matrix_refuses_every_token_outside_its_purpose() {
    let env = env(|_| {}).await;
    let held = hold(&env).await;
    let mut mint = Mint::default();
    mint_api_tokens(&env, &mut mint);
    mint_session_tokens(&env, &mut mint);
    mint_flows(&held, &mut mint);
    mint_other_credentials(&env, &held, &mut mint);

    let before = env.snapshot().await;
    let tried = refuse_outside_purpose(&env, &mint.0, &held).await;
    assert_eq!(
        env.snapshot().await,
        before,
        "a refused token changed the store"
    );
    eprintln!("{tried} cross-uses refused, the store unchanged");
    assert!(tried > 300, "{tried} cross-uses tried");

    each_token_works_where_minted_for(&env, &held).await;
}

/// The subject whose tokens the attacker mints.
const VICTIM: &str = "victim";

/// What the attacker's browser holds once the victim has codes.
struct Held {
    /// The victim's codes at `acme`.
    codes: Vec<String>,
    /// A code of theirs not used yet.
    unused: String,
    /// Live flows of every kind.
    login_page: Page,
    regen_page: Page,
    enrol_page: Page,
    other_login: Page,
    /// A live step-up flow.
    op_page: Page,
    /// Signed results: a success (the enrolment) and a failure (a cancel).
    enrol_result: String,
    failure_result: String,
    /// An ID token from a finished step-up flow.
    id_token: String,
    /// Every flow cookie and both tenants' self-service sessions.
    cookies: String,
}

/// The victim has codes; the attacker knows the victim's password only, so
/// it may obtain any token the IdP mints after a password.
async fn hold(env: &Env) -> Held {
    let acme = &env.steps[TENANT];
    let other = &env.steps[OTHER];
    let victim = VICTIM;
    let (codes, done) = acme.enrol("enroll", victim).await.unwrap();
    let enrol_result = result_token(&done);
    // The same user is known to another tenant (another IdP) of the shim.
    other.enrol("enroll", victim).await.unwrap();
    let unused = codes[1].clone();

    // Live flows of every kind, with their cookies.
    let (login_page, _) = acme.open("login", victim).await.unwrap();
    let (regen_page, _) = acme.open("regenerate", victim).await.unwrap();
    let (enrol_page, _) = acme.open("enroll", "newcomer").await.unwrap();
    let (other_login, _) = other.open("login", victim).await.unwrap();
    for p in [&login_page, &regen_page, &enrol_page] {
        assert_eq!(p.status, StatusCode::OK, "{}", p.html);
    }
    // The browser also holds self-service sessions of both tenants.
    let cookies = [&login_page, &regen_page, &enrol_page, &other_login]
        .iter()
        .filter_map(|p| p.flow_cookie())
        .chain(
            [TENANT, OTHER]
                .map(|t| format!("bc_self_{t}={}", self_token(t, Purpose::Session, victim))),
        )
        .collect::<Vec<_>>()
        .join("; ");
    // A signed failure (a cancelled login); the enrolment above gave a success.
    let (cancel_page, _) = acme.open("login", victim).await.unwrap();
    let cancelled = acme
        .post(
            &acme.path("cancel"),
            Some(&cancel_page.flow_cookie().unwrap()),
            &[("flow", &cancel_page.field("flow").unwrap())],
        )
        .await
        .unwrap();
    let failure_result = result_token(&cancelled);
    // The step-up provider: a live flow (with its cookie), and an ID token
    // from a finished one.
    let op_page = authorize(
        acme,
        &rp(TENANT).request(&rp(TENANT).hint(&env.idp, victim)),
    )
    .await
    .unwrap();
    assert_eq!(op_page.status, StatusCode::OK, "{}", op_page.html);
    let op_done = authorize(
        acme,
        &rp(TENANT).request(&rp(TENANT).hint(&env.idp, victim)),
    )
    .await
    .unwrap();
    let id_token = enter_code(acme, &op_done, &codes[3])
        .await
        .unwrap()
        .field("id_token")
        .unwrap_or_else(|| panic!("an ID token"));
    let cookies = format!("{cookies}; {}", op_page.flow_cookie().unwrap());
    Held {
        codes,
        unused,
        login_page,
        regen_page,
        enrol_page,
        other_login,
        op_page,
        enrol_result,
        failure_result,
        id_token,
        cookies,
    }
}

/// The tokens the attacker holds, in the order they are tried.
#[derive(Default)]
struct Mint(Vec<Minted>);

impl Mint {
    fn add(&mut self, name: &str, tenant: &'static str, purpose: &[Endpoint], token: String) {
        self.0.push(Minted {
            name: name.to_owned(),
            tenant,
            purpose: purpose.to_vec(),
            token,
        });
    }
}

/// API tokens: one per scope, and ones a tenant requiring scopes must refuse.
fn mint_api_tokens(env: &Env, mint: &mut Mint) {
    let acme = &env.steps[TENANT];
    let victim = VICTIM;
    for op in ["issue", "activate", "verify", "status", "delete"] {
        mint.add(
            &format!("api scope={op}"),
            TENANT,
            &[Endpoint::Api(op)],
            env.scoped(victim, op),
        );
    }
    mint.add(
        "api without scope (the tenant requires one)",
        TENANT,
        &[],
        env.api_token(victim, None, &env.idp.hs256_secret),
    );
    mint.add(
        "api scope=verify signed with the step secret",
        TENANT,
        &[],
        env.api_token(victim, Some("verify"), &acme.step_secret),
    );
    mint.add("api scope=verify carrying a step claim", TENANT, &[], {
        let mut c = env.idp.claims(victim);
        c["scope"] = json!("verify");
        c["step"] = json!("login");
        sign_hs256(&c, &env.idp.hs256_secret)
    });
}

/// Session tokens of each step, of both tenants, and ones signed or shaped
/// wrongly.
fn mint_session_tokens(env: &Env, mint: &mut Mint) {
    let acme = &env.steps[TENANT];
    let other = &env.steps[OTHER];
    let victim = VICTIM;
    for kind in ["login", "enroll", "regenerate"] {
        let claims = acme.session_claims(kind, victim, &random_id());
        // Without `state`: the entry's state parameter is fresh for every try.
        let mut claims = claims;
        claims.as_object_mut().unwrap().remove("state");
        mint.add(
            &format!("session step={kind}"),
            TENANT,
            &[Endpoint::Entry(kind)],
            acme.sign(&claims),
        );
        mint.add(
            &format!("session step={kind} signed with the API secret"),
            TENANT,
            &[],
            sign_hs256(&claims, &env.idp.hs256_secret),
        );
        let mut bare = claims.clone();
        bare["aud"] = json!("backup-codes");
        bare.as_object_mut().unwrap().remove("step");
        mint.add(
            &format!("session without step (was {kind})"),
            TENANT,
            &[],
            acme.sign(&bare),
        );
        let mut other_claims = other.session_claims(kind, victim, "x");
        other_claims.as_object_mut().unwrap().remove("state");
        mint.add(
            &format!("other tenant's session step={kind}"),
            OTHER,
            &[Endpoint::Entry(kind)],
            other.sign(&other_claims),
        );
    }
}

/// The posted forms of a step flow.
fn flow_purpose(kinds: &[&'static str]) -> Vec<Endpoint> {
    kinds.iter().map(|k| Endpoint::Form(k)).collect()
}

/// The live flows' tokens.
fn mint_flows(held: &Held, mint: &mut Mint) {
    mint.add(
        "login flow",
        TENANT,
        &flow_purpose(&["login", "cancel"]),
        held.login_page.field("flow").unwrap(),
    );
    mint.add(
        "regenerate flow",
        TENANT,
        &flow_purpose(&["enroll/issue", "enroll/activate", "enroll/done", "cancel"]),
        held.regen_page.field("flow").unwrap(),
    );
    mint.add(
        "first-enrolment flow (another subject)",
        TENANT,
        &flow_purpose(&["enroll/issue", "enroll/activate", "enroll/done", "cancel"]),
        held.enrol_page.field("flow").unwrap(),
    );
    mint.add(
        "other tenant's login flow",
        OTHER,
        &flow_purpose(&["login", "cancel"]),
        held.other_login.field("flow").unwrap(),
    );
}

/// The REST second factor's Basic credentials, self-service tokens as the
/// tenant's session secret signs them, the step-up provider's hints, flow
/// and ID token, and signed results.
fn mint_other_credentials(env: &Env, held: &Held, mint: &mut Mint) {
    let victim = VICTIM;
    mint.add(
        "rest2f Basic credentials",
        TENANT,
        &[Endpoint::Rest2f("verify"), Endpoint::Rest2f("init")],
        rest2f_basic(TENANT),
    );
    mint.add(
        "other tenant's rest2f Basic credentials",
        OTHER,
        &[Endpoint::Rest2f("verify"), Endpoint::Rest2f("init")],
        rest2f_basic(OTHER),
    );
    const SELF_FORMS: &[Endpoint] = &[
        Endpoint::SelfForm("issue"),
        Endpoint::SelfForm("activate"),
        Endpoint::SelfForm("delete"),
        Endpoint::SelfForm("logout"),
    ];
    for (name, purpose) in [
        ("self-service session", Purpose::Session),
        ("self-service login transaction", Purpose::Login),
    ] {
        mint.add(name, TENANT, &[], self_token(TENANT, purpose, victim));
    }
    mint.add(
        "self-service form",
        TENANT,
        SELF_FORMS,
        self_token(TENANT, Purpose::Form, victim),
    );
    mint.add(
        "other tenant's self-service form",
        OTHER,
        SELF_FORMS,
        self_token(OTHER, Purpose::Form, victim),
    );
    mint.add(
        "step-up id_token_hint",
        TENANT,
        &[Endpoint::Op("authorize")],
        rp(TENANT).hint(&env.idp, victim),
    );
    mint.add(
        "the IdP's RS256 token (not a hint: another audience)",
        TENANT,
        &[],
        env.idp.token(Alg::Rs256, victim),
    );
    mint.add(
        "step-up flow",
        TENANT,
        &flow_purpose(&["login", "cancel"]),
        held.op_page.field("flow").unwrap(),
    );
    mint.add("step-up ID token", TENANT, &[], held.id_token.clone());
    mint.add(
        "result of an enrolment",
        TENANT,
        &[],
        held.enrol_result.clone(),
    );
    mint.add(
        "result of a cancelled login",
        TENANT,
        &[],
        held.failure_result.clone(),
    );
}

/// Each token at each endpoint of both tenants but where it was minted for:
/// refused, and no flow opened. How many were tried.
async fn refuse_outside_purpose(env: &Env, minted: &[Minted], held: &Held) -> usize {
    let mut tried = 0;
    for m in minted {
        for tenant in [TENANT, OTHER] {
            for endpoint in ENDPOINTS {
                if tenant == m.tenant && m.purpose.contains(&endpoint) {
                    continue;
                }
                let (status, body) = present(
                    env,
                    tenant,
                    endpoint,
                    &m.token,
                    VICTIM,
                    &held.unused,
                    &held.cookies,
                )
                .await;
                assert!(
                    status.is_client_error(),
                    "{} at {tenant} {endpoint:?} was not refused: {status}\n{body}",
                    m.name
                );
                assert!(
                    !body.contains("name=\"flow\""),
                    "{} at {tenant} {endpoint:?} opened a flow",
                    m.name
                );
                tried += 1;
            }
        }
    }
    tried
}

/// Each token works where it was minted for (so the refusals are the
/// tokens' purpose, not a broken shim).
async fn each_token_works_where_minted_for(env: &Env, held: &Held) {
    let acme = &env.steps[TENANT];
    let victim = VICTIM;
    let scoped = |op: &str| env.scoped(victim, op);
    let r = env
        .api
        .status(TENANT, victim, &scoped("status"))
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::OK);
    let r = env
        .api
        .verify(TENANT, victim, &scoped("verify"), &held.unused)
        .await
        .unwrap();
    assert_eq!(r.json["result"], "accepted", "{}", r.text);
    let login_cookie = held.login_page.flow_cookie().unwrap();
    let page = acme
        .post(
            &acme.path("login"),
            Some(&login_cookie),
            &[
                ("flow", &held.login_page.field("flow").unwrap()),
                ("code", &held.codes[2]),
            ],
        )
        .await
        .unwrap();
    assert!(page.field("session_token").is_some(), "{}", page.html);
    let r = env
        .api
        .delete(TENANT, victim, &scoped("delete"))
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = env
        .api
        .send_authorized(
            Method::POST,
            &format!("/rest2f/{TENANT}/init"),
            Some(&rest2f_basic(TENANT)),
            Some(RawBody::json(&json!({"user": victim}))),
        )
        .await
        .unwrap();
    assert_eq!(
        r.json,
        json!({"result": false, "reason": "not_enrolled"}),
        "{}",
        r.text
    );
    // A self-service session opens the user's page (it only reads).
    let home = backup_codes_shim::http_client()
        .build()
        .unwrap()
        .get(format!("{}/self/{TENANT}/", env.shim.url))
        .header(
            reqwest::header::COOKIE,
            format!(
                "bc_self_{TENANT}={}",
                self_token(TENANT, Purpose::Session, victim)
            ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(home.status(), StatusCode::OK);
    assert!(
        home.text()
            .await
            .unwrap()
            .contains("You have no backup codes")
    );
}
