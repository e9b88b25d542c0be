//! Security properties of the shim as an attacker meets them: an "attacker
//! IdP" that holds every secret of its tenant mints tokens of every kind and
//! purpose and tries each at every endpoint (the cross-use matrix), plus the
//! regressions of the independent attack run (issue 10): JWKS refetches that
//! stalled a tenant, slow clients, flows that could never finish, operations
//! not bound to tokens, lockout answers and caching.

use std::collections::BTreeMap;
use std::time::Duration;

use backup_codes_harness::client::{RawBody, ShimClient};
use backup_codes_harness::db::{Backend, TestDb};
use backup_codes_harness::idp::{Alg, TestIdp, now, random_id};
use backup_codes_harness::shim::{InProcess, cheap_policy, test_config};
use backup_codes_harness::step::{Page, StepClient, sign_hs256};
use backup_codes_harness::stepup::{Rp, authorize, enter_code};
use backup_codes_shim::config::{Config, TenantConfig};
use backup_codes_shim::http::selfservice::tokens::{Keys, Purpose};
use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TENANT: &str = "acme";
const OTHER: &str = "other";
const CONTINUE: &str = "https://idp.test/continue";

/// A shim with two step tenants (`acme` and `other`), each with its own API and
/// step secrets, scopes required, on SQLite.
struct Env {
    shim: InProcess,
    idp: TestIdp,
    api: ShimClient,
    steps: BTreeMap<&'static str, StepClient>,
    db: TestDb,
}

/// The step-up relying party (Entra-like) of a tenant: the same client id at
/// both tenants, hints of another App ID each.
fn rp(tenant: &str) -> Rp {
    Rp::entra("entra-client", &format!("app-id-of-{tenant}"))
}

/// The REST second factor's client of every test tenant.
const REST2F_ID: &str = "idp-rest2f";
/// Self-service session secret of a tenant.
fn session_secret(tenant: &str) -> String {
    format!("selfservice-session-secret-of-{tenant}-0123456789")
}
/// The REST second factor's secret of a tenant.
fn rest2f_secret(tenant: &str) -> String {
    format!("rest2f-secret-of-{tenant}")
}

fn step_tenant(
    idp: &TestIdp,
    id: &str,
    issuer: &str,
    api_secret: &str,
    step_secret: &str,
) -> TenantConfig {
    use sha2::Digest as _;
    TenantConfig {
        issuer: issuer.into(),
        hs256_secret: Some(SecretString::from(api_secret.to_owned())),
        step_secret: Some(SecretString::from(step_secret.to_owned())),
        rest2f: Some(backup_codes_shim::config::Rest2fConfig {
            clients: vec![backup_codes_shim::config::Rest2fClient {
                id: REST2F_ID.into(),
                secret_sha256: hex::encode(sha2::Sha256::digest(rest2f_secret(id).as_bytes())),
            }],
            subject_field: None,
            extra_fields: vec!["uid".into(), "mail".into()],
        }),
        selfservice: Some(backup_codes_shim::config::SelfServiceConfig {
            // Never reached: the matrix mints self-service tokens itself.
            issuer: Some("http://127.0.0.1:9/".parse().unwrap()),
            client: backup_codes_shim::config::OidcClient {
                client_id: "backup-codes".into(),
                ..Default::default()
            },
            session_secret: Some(SecretString::from(session_secret(id))),
            ..Default::default()
        }),
        continue_urls: vec![
            CONTINUE.parse().unwrap(),
            "https://idp.test/interaction/".parse().unwrap(),
        ],
        // The step-up provider, trusting the test IdP's RSA key for hints of
        // an audience of its own per tenant.
        stepup: Some(backup_codes_shim::config::StepUpConfig {
            clients: vec![rp(id).client(idp)],
            ..Default::default()
        }),
        require_scope: true,
        policy: cheap_policy(),
        ..idp.tenant(Alg::Hs256)
    }
}

async fn env(configure: impl FnOnce(&mut Config)) -> Env {
    let idp = TestIdp::start().await.unwrap();
    let db = TestDb::new(Backend::Sqlite).await.unwrap();
    let mut tenants = BTreeMap::new();
    let acme_step = format!("acme-step-secret-{}", random_id());
    let other_step = format!("other-step-secret-{}", random_id());
    tenants.insert(
        TENANT.to_owned(),
        step_tenant(&idp, TENANT, &idp.issuer, &idp.hs256_secret, &acme_step),
    );
    let other_issuer = format!("{}-other", idp.issuer);
    tenants.insert(
        OTHER.to_owned(),
        step_tenant(
            &idp,
            OTHER,
            &other_issuer,
            &format!("other-api-secret-{}", random_id()),
            &other_step,
        ),
    );
    let mut config = test_config(&db.url, tenants);
    configure(&mut config);
    let shim = InProcess::start(&config).await.unwrap();
    let api = ShimClient::new(&shim.url).unwrap();
    let mut steps = BTreeMap::new();
    steps.insert(
        TENANT,
        StepClient::new(&shim.url, TENANT, &idp.issuer, &acme_step).unwrap(),
    );
    steps.insert(
        OTHER,
        StepClient::new(&shim.url, OTHER, &other_issuer, &other_step).unwrap(),
    );
    Env {
        shim,
        idp,
        api,
        steps,
        db,
    }
}

impl Env {
    /// An API token of `acme` for `sub` with `scope` (none: no claim), signed
    /// with `secret` (the tenant's API secret unless an attack says otherwise).
    fn api_token(&self, sub: &str, scope: Option<&str>, secret: &str) -> String {
        let mut claims = self.idp.claims(sub);
        if let Some(s) = scope {
            claims["scope"] = json!(s);
        }
        sign_hs256(&claims, secret)
    }

    fn scoped(&self, sub: &str, scope: &str) -> String {
        self.api_token(sub, Some(scope), &self.idp.hs256_secret)
    }

    /// Everything the store holds, in a stable order.
    async fn snapshot(&self) -> Vec<String> {
        use sqlx::Row as _;
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&self.db.url).await.unwrap();
        let mut out = Vec::new();
        for row in sqlx::query(
            "SELECT tenant, subject, version, credential FROM credentials ORDER BY tenant, subject",
        )
        .fetch_all(&pool)
        .await
        .unwrap()
        {
            let credential: Vec<u8> = row.get(3);
            out.push(format!(
                "credential {} {} v{} {}",
                row.get::<String, _>(0),
                row.get::<String, _>(1),
                row.get::<i64, _>(2),
                hex::encode(credential)
            ));
        }
        for row in sqlx::query(
            "SELECT tenant, subject, kind, detail, at FROM audit_events ORDER BY tenant, subject, at, kind, detail",
        )
        .fetch_all(&pool)
        .await
        .unwrap()
        {
            out.push(format!(
                "audit {} {} {} {}",
                row.get::<String, _>(0),
                row.get::<String, _>(1),
                row.get::<String, _>(2),
                row.get::<String, _>(3)
            ));
        }
        for row in sqlx::query("SELECT id FROM used_tokens ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap()
        {
            out.push(format!("used {}", row.get::<String, _>(0)));
        }
        pool.close().await;
        out
    }
}

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
    let acme = &env.steps[TENANT];
    let other = &env.steps[OTHER];
    let victim = "victim";

    // The victim has codes; the attacker knows the victim's password only, so
    // it may obtain any token the IdP mints after a password.
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

    let mut minted = Vec::new();
    let mut mint = |name: &str, tenant: &'static str, purpose: &[Endpoint], token: String| {
        minted.push(Minted {
            name: name.to_owned(),
            tenant,
            purpose: purpose.to_vec(),
            token,
        });
    };
    for op in ["issue", "activate", "verify", "status", "delete"] {
        mint(
            &format!("api scope={op}"),
            TENANT,
            &[Endpoint::Api(op)],
            env.scoped(victim, op),
        );
    }
    mint(
        "api without scope (the tenant requires one)",
        TENANT,
        &[],
        env.api_token(victim, None, &env.idp.hs256_secret),
    );
    mint(
        "api scope=verify signed with the step secret",
        TENANT,
        &[],
        env.api_token(victim, Some("verify"), &acme.step_secret),
    );
    mint("api scope=verify carrying a step claim", TENANT, &[], {
        let mut c = env.idp.claims(victim);
        c["scope"] = json!("verify");
        c["step"] = json!("login");
        sign_hs256(&c, &env.idp.hs256_secret)
    });
    for kind in ["login", "enroll", "regenerate"] {
        let claims = acme.session_claims(kind, victim, &random_id());
        // Without `state`: the entry's state parameter is fresh for every try.
        let mut claims = claims;
        claims.as_object_mut().unwrap().remove("state");
        mint(
            &format!("session step={kind}"),
            TENANT,
            &[Endpoint::Entry(kind)],
            acme.sign(&claims),
        );
        mint(
            &format!("session step={kind} signed with the API secret"),
            TENANT,
            &[],
            sign_hs256(&claims, &env.idp.hs256_secret),
        );
        let mut bare = claims.clone();
        bare["aud"] = json!("backup-codes");
        bare.as_object_mut().unwrap().remove("step");
        mint(
            &format!("session without step (was {kind})"),
            TENANT,
            &[],
            acme.sign(&bare),
        );
        let mut other_claims = other.session_claims(kind, victim, "x");
        other_claims.as_object_mut().unwrap().remove("state");
        mint(
            &format!("other tenant's session step={kind}"),
            OTHER,
            &[Endpoint::Entry(kind)],
            other.sign(&other_claims),
        );
    }
    let flow_purpose =
        |kinds: &[&'static str]| kinds.iter().map(|k| Endpoint::Form(k)).collect::<Vec<_>>();
    mint(
        "login flow",
        TENANT,
        &flow_purpose(&["login", "cancel"]),
        login_page.field("flow").unwrap(),
    );
    mint(
        "regenerate flow",
        TENANT,
        &flow_purpose(&["enroll/issue", "enroll/activate", "enroll/done", "cancel"]),
        regen_page.field("flow").unwrap(),
    );
    mint(
        "first-enrolment flow (another subject)",
        TENANT,
        &flow_purpose(&["enroll/issue", "enroll/activate", "enroll/done", "cancel"]),
        enrol_page.field("flow").unwrap(),
    );
    mint(
        "other tenant's login flow",
        OTHER,
        &flow_purpose(&["login", "cancel"]),
        other_login.field("flow").unwrap(),
    );
    // The REST second factor's Basic credentials.
    use base64::Engine as _;
    let basic = |tenant: &str| {
        let raw = format!("{REST2F_ID}:{}", rest2f_secret(tenant));
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    };
    mint(
        "rest2f Basic credentials",
        TENANT,
        &[Endpoint::Rest2f("verify"), Endpoint::Rest2f("init")],
        basic(TENANT),
    );
    mint(
        "other tenant's rest2f Basic credentials",
        OTHER,
        &[Endpoint::Rest2f("verify"), Endpoint::Rest2f("init")],
        basic(OTHER),
    );
    // Self-service tokens as the tenant's session secret signs them.
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
        mint(name, TENANT, &[], self_token(TENANT, purpose, victim));
    }
    mint(
        "self-service form",
        TENANT,
        SELF_FORMS,
        self_token(TENANT, Purpose::Form, victim),
    );
    mint(
        "other tenant's self-service form",
        OTHER,
        SELF_FORMS,
        self_token(OTHER, Purpose::Form, victim),
    );
    mint(
        "step-up id_token_hint",
        TENANT,
        &[Endpoint::Op("authorize")],
        rp(TENANT).hint(&env.idp, victim),
    );
    mint(
        "the IdP's RS256 token (not a hint: another audience)",
        TENANT,
        &[],
        env.idp.token(Alg::Rs256, victim),
    );
    mint(
        "step-up flow",
        TENANT,
        &flow_purpose(&["login", "cancel"]),
        op_page.field("flow").unwrap(),
    );
    mint("step-up ID token", TENANT, &[], id_token);
    mint("result of an enrolment", TENANT, &[], enrol_result);
    mint("result of a cancelled login", TENANT, &[], failure_result);

    let before = env.snapshot().await;
    let mut tried = 0;
    for m in &minted {
        for tenant in [TENANT, OTHER] {
            for endpoint in ENDPOINTS {
                if tenant == m.tenant && m.purpose.contains(&endpoint) {
                    continue;
                }
                let (status, body) =
                    present(&env, tenant, endpoint, &m.token, victim, &unused, &cookies).await;
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
    assert_eq!(
        env.snapshot().await,
        before,
        "a refused token changed the store"
    );
    eprintln!("{tried} cross-uses refused, the store unchanged");
    assert!(tried > 300, "{tried} cross-uses tried");

    // Each token works where it was minted for (so the refusals above are the
    // tokens' purpose, not a broken shim).
    let scoped = |op: &str| env.scoped(victim, op);
    let r = env
        .api
        .status(TENANT, victim, &scoped("status"))
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::OK);
    let r = env
        .api
        .verify(TENANT, victim, &scoped("verify"), &unused)
        .await
        .unwrap();
    assert_eq!(r.json["result"], "accepted", "{}", r.text);
    let login_cookie = login_page.flow_cookie().unwrap();
    let page = acme
        .post(
            &acme.path("login"),
            Some(&login_cookie),
            &[
                ("flow", &login_page.field("flow").unwrap()),
                ("code", &codes[2]),
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
            Some(&basic(TENANT)),
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
    let home = backup_codes_shim::auth::client::builder()
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

/// A self-service token of `purpose` for `sub`, signed as the shim signs its own.
fn self_token(tenant: &str, purpose: Purpose, sub: &str) -> String {
    let secret = SecretString::from(session_secret(tenant));
    let claims = json!({
        "iss": Keys::issuer(purpose),
        "aud": tenant,
        "exp": now() + 600,
        "sid": "attacker-session",
        "sub": sub,
        "auth_time": now(),
        "acr": "loa-3",
        "strong": true,
        "state": "s",
        "nonce": "n",
        "verifier": "v",
    });
    Keys::new(tenant, &secret).sign(purpose, &claims).unwrap()
}

/// Issue 10, item 3: a token with an unknown `kid` makes the shim refetch the
/// JWKS; while that fetch hangs, requests whose key is known are served at once.
#[tokio::test(flavor = "multi_thread")]
async fn a_hung_jwks_refetch_never_stalls_requests_with_known_keys() {
    let idp = TestIdp::start().await.unwrap();
    let db = TestDb::new(Backend::Sqlite).await.unwrap();
    let mut tenants = BTreeMap::new();
    let mut tenant = idp.tenant(Alg::Rs256);
    tenant.policy = cheap_policy();
    tenants.insert(TENANT.to_owned(), tenant);
    let shim = InProcess::start(&test_config(&db.url, tenants))
        .await
        .unwrap();
    let api = ShimClient::new(&shim.url).unwrap();
    // Keys known (first fetch).
    let r = api
        .issue(TENANT, "alice", &idp.token(Alg::Rs256, "alice"))
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(idp.jwks_fetches(), 1);
    // Past the refetch interval, the IdP's JWKS hangs.
    tokio::time::sleep(backup_codes_shim::auth::JWKS_REFETCH_INTERVAL + Duration::from_millis(200))
        .await;
    idp.hold_jwks(true);
    let attack = {
        let api = api.clone();
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = Some(format!("unknown-{}", random_id()));
        let claims = idp.claims("alice");
        let token = format!(
            "{}.{}.garbage-signature",
            base64_url(&serde_json::to_vec(&header).unwrap()),
            base64_url(&serde_json::to_vec(&claims).unwrap())
        );
        tokio::spawn(async move { api.status(TENANT, "alice", &token).await.unwrap() })
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while idp.jwks_waiting() == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the refetch never started"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Valid requests meanwhile: answered while the refetch is still hanging.
    for _ in 0..3 {
        let r = api
            .status(TENANT, "alice", &idp.token(Alg::Rs256, "alice"))
            .await
            .unwrap();
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(
            idp.jwks_waiting(),
            1,
            "answered only after the refetch gave up"
        );
    }
    idp.hold_jwks(false);
    assert_eq!(attack.await.unwrap().status, StatusCode::UNAUTHORIZED);
    // The refetch-rate limit still holds: another unknown kid fetches nothing.
    let fetches = idp.jwks_fetches();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some("another-unknown".into());
    let token = format!(
        "{}.{}.x",
        base64_url(&serde_json::to_vec(&header).unwrap()),
        base64_url(&serde_json::to_vec(&idp.claims("alice")).unwrap())
    );
    assert_eq!(
        api.status(TENANT, "alice", &token).await.unwrap().status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(idp.jwks_fetches(), fetches);
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Read one HTTP response head from a raw connection (or what arrived before
/// the shim closed it); `None` when nothing came within `wait`.
async fn read_head(stream: &mut tokio::net::TcpStream, wait: Duration) -> Option<String> {
    let mut buf = vec![0u8; 4096];
    match tokio::time::timeout(wait, stream.read(&mut buf)).await {
        Ok(Ok(n)) => Some(String::from_utf8_lossy(&buf[..n]).into_owned()),
        Ok(Err(_)) => Some(String::new()),
        Err(_) => None,
    }
}

/// Issue 10, item 4: slow clients. Headers that never end are cut off after the
/// header-read deadline; a body that never completes gets 408 (and a metric);
/// a declared body over the limit gets 413 before it is sent.
#[tokio::test(flavor = "multi_thread")]
async fn slow_clients_are_cut_off_with_408_and_413() {
    let env = env(|c| {
        c.limits.header_read_timeout_ms = 1_000;
        c.limits.body_read_timeout_ms = 1_000;
    })
    .await;
    let addr = env.shim.url.trim_start_matches("http://").to_owned();
    let token = env.scoped("alice", "verify");
    let path = format!("{}/verify", ShimClient::codes_path(TENANT, "alice"));

    // Headers sent a line at a time, forever: the connection is closed.
    let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
    slow.write_all(format!("POST {path} HTTP/1.1\r\nHost: x\r\n").as_bytes())
        .await
        .unwrap();
    let mut closed = false;
    for i in 0..40 {
        if slow
            .write_all(format!("X-Slow-{i}: still sending\r\n").as_bytes())
            .await
            .is_err()
        {
            closed = true;
            break;
        }
        if let Some(head) = read_head(&mut slow, Duration::from_millis(250)).await {
            // Closed (empty read) or answered 408: either way not held open.
            assert!(
                head.is_empty() || head.starts_with("HTTP/1.1 408"),
                "{head}"
            );
            closed = true;
            break;
        }
    }
    assert!(
        closed,
        "a client sending headers for 10 s was still connected"
    );

    // A body that never completes: 408 after the body deadline, counted.
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    stream
        .write_all(
            format!(
                "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
                 Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"code\":"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let head = read_head(&mut stream, Duration::from_secs(10))
        .await
        .unwrap();
    assert!(head.starts_with("HTTP/1.1 408"), "{head}");
    let metrics = backup_codes_shim::auth::client::builder()
        .build()
        .unwrap()
        .get(format!("{}/metrics", env.shim.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("backup_codes_http_body_timeouts_total") && !l.ends_with(" 0")),
        "{metrics}"
    );

    // A huge declared body: 413 at once, before a byte of it is sent.
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    stream
        .write_all(
            format!(
                "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
                 Content-Type: application/json\r\nContent-Length: 10000000000\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let head = read_head(&mut stream, Duration::from_millis(900)).await;
    assert!(
        head.as_deref()
            .is_some_and(|h| h.starts_with("HTTP/1.1 413")),
        "{head:?}"
    );
    // The step's forms too.
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    stream
        .write_all(
            format!(
                "POST /step/{TENANT}/login HTTP/1.1\r\nHost: x\r\n\
                 Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 10000000000\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let head = read_head(&mut stream, Duration::from_millis(900)).await;
    assert!(
        head.as_deref()
            .is_some_and(|h| h.starts_with("HTTP/1.1 413")),
        "{head:?}"
    );
}

/// Issue 10, item 5: a long `state` with a long continue URL made a flow token
/// too large to post back after the state was spent. Now the entry refuses it
/// first, nothing spent; the longest state with an ordinary URL works.
#[tokio::test(flavor = "multi_thread")]
async fn a_flow_that_could_not_finish_is_refused_before_anything_is_spent() {
    let env = env(|_| {}).await;
    let acme = &env.steps[TENANT];
    let state = "s".repeat(2048);
    // A session token just under its 8 KiB cap: its flow would be as large.
    let mut path = 4000;
    let token = loop {
        let mut claims = acme.session_claims("enroll", "fay", &state);
        claims["continue_uri"] =
            json!(format!("https://idp.test/interaction/{}", "p".repeat(path)));
        let token = acme.sign(&claims);
        if token.len() <= 8100 {
            break token;
        }
        path -= 50;
    };
    let before = env.snapshot().await;
    let page = acme.enter("enroll", &state, &token).await.unwrap();
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.html);
    assert!(page.html.contains("too long"));
    assert!(page.field("flow").is_none());
    assert_eq!(env.snapshot().await, before, "nothing was spent");

    // The longest state with an ordinary continue URL goes through every page.
    let claims = acme.session_claims("enroll", "fay", &state);
    let entry = acme
        .enter("enroll", &state, &acme.sign(&claims))
        .await
        .unwrap();
    assert_eq!(entry.status, StatusCode::OK, "{}", entry.html);
    let cookie = entry.flow_cookie().unwrap();
    let shown = acme
        .post(
            &acme.path("enroll/issue"),
            Some(&cookie),
            &[("flow", &entry.field("flow").unwrap())],
        )
        .await
        .unwrap();
    let codes = shown.codes();
    assert_eq!(codes.len(), 10, "{}", shown.html);
    let done = acme
        .post(
            &acme.path("enroll/activate"),
            Some(&cookie),
            &[("flow", &shown.field("flow").unwrap()), ("code", &codes[0])],
        )
        .await
        .unwrap();
    assert_eq!(done.field("state").as_deref(), Some(state.as_str()));
}

/// Issue 10, item 7: an API token is bound to the operations its `scope`
/// names; a tenant may require a scope. Item 8: tokens over 8 KiB are refused.
#[tokio::test(flavor = "multi_thread")]
async fn api_tokens_are_bound_to_their_operations() {
    let env = env(|_| {}).await;
    let sub = "gus";
    let issued = env
        .api
        .issue(TENANT, sub, &env.scoped(sub, "issue activate"))
        .await
        .unwrap();
    assert_eq!(issued.status, StatusCode::CREATED, "{}", issued.text);
    let codes = backup_codes_harness::client::codes(&issued);
    let r = env
        .api
        .activate(TENANT, sub, &env.scoped(sub, "issue activate"), &codes[0])
        .await
        .unwrap();
    assert_eq!(r.json["result"], "accepted");
    let before = env.snapshot().await;
    // A verify-only token, as an IdP mints for its login path.
    let verify_only = || env.scoped(sub, "verify");
    for reply in [
        env.api.delete(TENANT, sub, &verify_only()).await.unwrap(),
        env.api.issue(TENANT, sub, &verify_only()).await.unwrap(),
        env.api.status(TENANT, sub, &verify_only()).await.unwrap(),
        env.api
            .activate(TENANT, sub, &verify_only(), &codes[1])
            .await
            .unwrap(),
    ] {
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text);
        assert_eq!(reply.json, json!({"error": "insufficient_scope"}));
    }
    // No scope where the tenant requires one; a look-alike scope.
    for token in [
        env.api_token(sub, None, &env.idp.hs256_secret),
        env.scoped(sub, "verify:all deleted"),
    ] {
        let r = env.api.delete(TENANT, sub, &token).await.unwrap();
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    }
    // Over 8 KiB: refused as malformed before any check.
    let mut claims = env.idp.claims(sub);
    claims["scope"] = json!("verify");
    claims["padding"] = json!("x".repeat(9000));
    let big = sign_hs256(&claims, &env.idp.hs256_secret);
    let r = env.api.verify(TENANT, sub, &big, &codes[1]).await.unwrap();
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(env.snapshot().await, before, "nothing changed");
    // The verify-only token does verify.
    let r = env
        .api
        .verify(TENANT, sub, &verify_only(), &codes[1])
        .await
        .unwrap();
    assert_eq!(r.json["result"], "accepted");
}

/// Issue 10, item 8: a lockout answer says when to come back and carries the
/// fields of a rejection; answers about codes are never cached.
#[tokio::test(flavor = "multi_thread")]
async fn lockout_answers_carry_retry_after_and_nothing_is_cached() {
    let env = env(|_| {}).await;
    let sub = "hal";
    let issued = env
        .api
        .issue(TENANT, sub, &env.scoped(sub, "issue"))
        .await
        .unwrap();
    assert_eq!(issued.headers[reqwest::header::CACHE_CONTROL], "no-store");
    let codes = backup_codes_harness::client::codes(&issued);
    let r = env
        .api
        .activate(TENANT, sub, &env.scoped(sub, "activate"), &codes[0])
        .await
        .unwrap();
    assert_eq!(r.headers[reqwest::header::CACHE_CONTROL], "no-store");
    let other = env
        .api
        .issue(TENANT, "ida", &env.scoped("ida", "issue"))
        .await
        .unwrap();
    let wrong = backup_codes_harness::client::codes(&other)[0].clone();
    let mut last = None;
    for _ in 0..8 {
        let r = env
            .api
            .verify(TENANT, sub, &env.scoped(sub, "verify"), &wrong)
            .await
            .unwrap();
        assert_eq!(r.headers[reqwest::header::CACHE_CONTROL], "no-store");
        if r.json["result"] == "locked" {
            last = Some(r);
            break;
        }
    }
    let locked = last.expect("locked within 8 wrong codes");
    let until = locked.json["locked_until"].as_u64().unwrap();
    let retry: u64 = locked.headers[reqwest::header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        retry >= 1 && retry <= until.saturating_sub(now()) + 1,
        "{retry}"
    );
    assert_eq!(locked.json["reason"], "locked");
    assert_eq!(locked.json["permanent"], false);
    assert!(
        locked.json["consecutive_failures"].as_u64().unwrap() >= 5,
        "{}",
        locked.text
    );
    for key in ["remaining", "low", "set_id"] {
        assert!(locked.json.get(key).is_some(), "{key}: {}", locked.text);
    }
    let status = env
        .api
        .status(TENANT, sub, &env.scoped(sub, "status"))
        .await
        .unwrap();
    assert_eq!(status.headers[reqwest::header::CACHE_CONTROL], "no-store");
}

/// Issue 10, item 6: the demo tenant's API, step and webhook secrets differ
/// (derived per purpose from its one stored secret), so its API token opens
/// no step, and its receiver takes only what the webhook secret signs.
#[tokio::test(flavor = "multi_thread")]
async fn the_demo_tenant_keeps_one_secret_per_purpose() {
    use base64::Engine as _;
    use secrecy::ExposeSecret as _;
    let db = TestDb::new(Backend::Sqlite).await.unwrap();
    let mut config = test_config(&db.url, BTreeMap::new());
    assert!(backup_codes_shim::server::with_demo_tenant(&mut config, db.dir.path()).unwrap());
    let demo = &config.tenants[backup_codes_shim::server::DEMO_TENANT];
    let (api, step) = (
        demo.hs256_secret
            .as_ref()
            .unwrap()
            .expose_secret()
            .to_owned(),
        demo.step_secret
            .as_ref()
            .unwrap()
            .expose_secret()
            .to_owned(),
    );
    assert_ne!(api, step);
    let shim = InProcess::start(&config).await.unwrap();
    let client = StepClient::new(
        &shim.url,
        backup_codes_shim::server::DEMO_TENANT,
        backup_codes_shim::server::DEMO_ISSUER,
        &api,
    )
    .unwrap();
    // A session token signed with the API secret: refused, no flow.
    let (page, _) = client.open("enroll", "alice").await.unwrap();
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.html);
    assert!(page.field("flow").is_none());
    let with_step = StepClient::new(
        &shim.url,
        backup_codes_shim::server::DEMO_TENANT,
        backup_codes_shim::server::DEMO_ISSUER,
        &step,
    )
    .unwrap();
    let (page, _) = with_step.open("enroll", "alice").await.unwrap();
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    // And the step secret signs no API token.
    let mut claims = json!({"iss": backup_codes_shim::server::DEMO_ISSUER, "aud": backup_codes_shim::server::DEMO_AUDIENCE,
        "sub": "alice", "iat": now(), "exp": now() + 60, "jti": random_id(), "scope": "issue"});
    let api_client = ShimClient::new(&shim.url).unwrap();
    let r = api_client
        .issue(
            backup_codes_shim::server::DEMO_TENANT,
            "alice",
            &sign_hs256(&claims, &step),
        )
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    claims["jti"] = json!(random_id());
    let r = api_client
        .issue(
            backup_codes_shim::server::DEMO_TENANT,
            "alice",
            &sign_hs256(&claims, &api),
        )
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::CREATED);

    // Issue 16: the demo's webhooks have a secret of their own, and the
    // demo's receiver takes only what that secret signs.
    let webhook = demo.webhooks.endpoints["demo"]
        .secret
        .expose_secret()
        .to_owned();
    assert!(webhook.starts_with("whsec_"));
    let key = backup_codes_shim::webhooks::sign::WebhookSecret::parse(&webhook).unwrap();
    for other in [&api, &step] {
        let derived = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(other)
            .unwrap();
        assert_ne!(key.expose_key(), derived.as_slice());
    }
    let http = reqwest::Client::new();
    let hook = format!("{}/demo/webhooks", shim.url);
    let body = br#"{"type":"backup_codes.used","timestamp":"2027-01-15T08:00:00Z","data":{"subject":"mallory","seq":1}}"#;
    let ts = i64::try_from(now()).unwrap();
    let post = |signature: String, id: &'static str| {
        http.post(&hook)
            .header("webhook-id", id)
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", signature)
            .body(body.to_vec())
            .send()
    };
    // Signed with the API or step secret (as whsec_), or with a bearer
    // token instead of a signature: refused, nothing kept.
    for other in [&api, &step] {
        let as_whsec = format!(
            "whsec_{}",
            base64::engine::general_purpose::STANDARD.encode(other.as_bytes())
        );
        let wrong = backup_codes_shim::webhooks::sign::WebhookSecret::parse(&as_whsec).unwrap();
        let sig = backup_codes_shim::webhooks::sign::signature_header("msg_x", ts, body, &[&wrong]);
        assert_eq!(
            post(sig, "msg_x").await.unwrap().status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let bearer = http
        .post(&hook)
        .bearer_auth(sign_hs256(&claims, &api))
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), StatusCode::BAD_REQUEST);
    // The real events (issued for alice) arrive, signed with the demo's secret.
    let sig = backup_codes_shim::webhooks::sign::signature_header("msg_ok", ts, body, &[&key]);
    assert_eq!(
        post(sig, "msg_ok").await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    let mut page = String::new();
    for _ in 0..100 {
        page = http
            .get(format!("{}/demo/events", shim.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if page.contains("backup_codes.issued") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(page.contains("backup_codes.issued"), "{page}");
    assert!(page.contains("msg_ok") && !page.contains("msg_x"));
    shim.stop().await;
}

/// The REST second factor as LemonLDAP::NG calls it: JSON booleans, a user
/// without codes answered as a wrong code, typed codes checked strictly, and
/// every bad request refused with nothing written.
#[tokio::test(flavor = "multi_thread")]
async fn the_rest_second_factor_answers_booleans_and_refuses_bad_requests() {
    use base64::Engine as _;
    let env = env(|_| {}).await;
    let sub = "dwho";
    let issued = env
        .api
        .issue(TENANT, sub, &env.scoped(sub, "issue"))
        .await
        .unwrap();
    let codes = backup_codes_harness::client::codes(&issued);
    env.api
        .activate(TENANT, sub, &env.scoped(sub, "activate"), &codes[0])
        .await
        .unwrap();
    let basic = |id: &str, secret: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
        )
    };
    let good = basic(REST2F_ID, &rest2f_secret(TENANT));
    let call = |auth: Option<String>, op: &'static str, body: RawBody| {
        let api = env.api.clone();
        async move {
            api.send_authorized(
                Method::POST,
                &format!("/rest2f/{TENANT}/{op}"),
                auth.as_deref(),
                Some(body),
            )
            .await
            .unwrap()
        }
    };
    let verify = |code: &str, user: &str| {
        RawBody::json(&json!({"user": user, "uid": user, "mail": "dwho@badwolf.org", "code": code}))
    };

    // Bad requests: refused, nothing written.
    let before = env.snapshot().await;
    for (auth, body, status) in [
        (None, verify(&codes[1], sub), StatusCode::UNAUTHORIZED),
        (
            Some(basic(REST2F_ID, "wrong")),
            verify(&codes[1], sub),
            StatusCode::UNAUTHORIZED,
        ),
        (
            Some(basic("someone-else", &rest2f_secret(TENANT))),
            verify(&codes[1], sub),
            StatusCode::UNAUTHORIZED,
        ),
        (
            Some(basic(REST2F_ID, &rest2f_secret(OTHER))),
            verify(&codes[1], sub),
            StatusCode::UNAUTHORIZED,
        ),
        (
            Some(format!("Bearer {}", env.scoped(sub, "verify"))),
            verify(&codes[1], sub),
            StatusCode::UNAUTHORIZED,
        ),
        (
            Some(good.clone()),
            RawBody::json(&json!({"user": sub})),
            StatusCode::BAD_REQUEST,
        ),
        (
            Some(good.clone()),
            RawBody::json(&json!({"code": codes[1]})),
            StatusCode::BAD_REQUEST,
        ),
        (
            Some(good.clone()),
            RawBody::json(&json!({"user": sub, "code": codes[1], "admin": true})),
            StatusCode::BAD_REQUEST,
        ),
        (
            Some(good.clone()),
            RawBody::json(&json!({"user": sub, "code": 1234})),
            StatusCode::BAD_REQUEST,
        ),
        (
            Some(good.clone()),
            RawBody::raw_json("not json"),
            StatusCode::BAD_REQUEST,
        ),
        (
            Some(good.clone()),
            RawBody::json(&json!([sub, codes[1]])),
            StatusCode::BAD_REQUEST,
        ),
        (
            Some(good.clone()),
            RawBody::json(&json!({"user": "", "code": codes[1]})),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let r = call(auth, "verify", body).await;
        assert_eq!(r.status, status, "{}", r.text);
        assert!(
            r.json.get("result").is_none(),
            "a refusal of the request is not an answer: {}",
            r.text
        );
    }
    let r = call(None, "verify", verify(&codes[1], sub)).await;
    assert!(r.headers.contains_key(reqwest::header::WWW_AUTHENTICATE));
    // Malformed codes: false, never counted (a 10 KB code, an expanded $mail,
    // a typo caught by the check symbol).
    let mut typo = codes[1].clone();
    let last = typo.pop().unwrap();
    typo.push(if last == '7' { '8' } else { '7' });
    for code in [
        "A".repeat(10 * 1024),
        "dwho@badwolf.org".to_owned(),
        typo,
        "$mail".to_owned(),
    ] {
        let r = call(Some(good.clone()), "verify", verify(&code, sub)).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.json, json!({"result": false, "reason": "invalid_code"}));
    }
    assert_eq!(env.snapshot().await, before, "nothing was written");

    // The right code: a JSON true with the details other callers read.
    let r = call(Some(good.clone()), "verify", verify(&codes[1], sub)).await;
    assert_eq!(
        r.json,
        json!({"result": true, "number": 2, "remaining": 9, "low": false}),
        "{}",
        r.text
    );
    assert!(r.json["result"].is_boolean());
    // Used, wrong, and a user without codes: the same shape, false.
    let r = call(Some(good.clone()), "verify", verify(&codes[1], sub)).await;
    assert_eq!(r.json, json!({"result": false, "reason": "already_used"}));
    let other = env
        .api
        .issue(TENANT, "msmith", &env.scoped("msmith", "issue"))
        .await
        .unwrap();
    let wrong = backup_codes_harness::client::codes(&other)[0].clone();
    let r = call(Some(good.clone()), "verify", verify(&wrong, sub)).await;
    assert_eq!(r.json, json!({"result": false, "reason": "mismatch"}));
    let r = call(Some(good.clone()), "verify", verify(&wrong, "nobody")).await;
    assert_eq!(
        r.json,
        json!({"result": false, "reason": "mismatch"}),
        "like a wrong code"
    );
    // init: true only for a user with codes to type.
    let init = |user: &str| RawBody::json(&json!({"user": user, "uid": user}));
    assert_eq!(
        call(Some(good.clone()), "init", init(sub)).await.json["result"],
        true
    );
    assert_eq!(
        call(Some(good.clone()), "init", init("nobody")).await.json["result"],
        false
    );
    // Locked: false with its reason, even for the right code.
    for _ in 0..10 {
        call(Some(good.clone()), "verify", verify(&wrong, sub)).await;
    }
    let r = call(Some(good.clone()), "verify", verify(&codes[2], sub)).await;
    assert_eq!(r.json, json!({"result": false, "reason": "locked"}));
}
