//! Issue 24, items 2 and 3: the time claims of the ID tokens self-service
//! accepts. The real shim signs users in at a test OpenID provider whose ID
//! tokens carry the claims each test chooses (`/self/{tenant}/login` → the
//! provider → `/self/{tenant}/callback`). An ID token without `iat`, with
//! `iat`, `nbf` or `auth_time` in the future beyond the leeway, expired, or a
//! strong login without `auth_time` opens no session and changes nothing in
//! the store; a future `auth_time` never replaces codes, not even in a session
//! cookie signed with the tenant's secret.

use std::collections::BTreeMap;

use backup_codes_harness::client::ShimClient;
use backup_codes_harness::db::{Backend, TestDb, snapshot};
use backup_codes_harness::idp::{Alg, TestIdp, now};
use backup_codes_harness::oidc_idp::{OidcIdp, SUBJECT};
use backup_codes_harness::selfservice::{
    Login, SelfBrowser, forged_form, forged_session, session_secret,
};
use backup_codes_harness::shim::{InProcess, cheap_policy, test_config};
use backup_codes_harness::step::Page;
use backup_codes_shim::config::{ClientAuth, SelfServiceConfig, TenantConfig};
use reqwest::StatusCode;
use reqwest::header::LOCATION;
use secrecy::SecretString;
use serde_json::{Value, json};

const TENANT: &str = "acme";
const CLIENT: &str = "backup-codes-self";
/// The `acr` that may replace codes.
const MFA: &str = "urn:test:mfa";
/// `limits.leeway_seconds` of the test configuration (the default).
const LEEWAY: i64 = 30;

/// A shim whose tenant `acme` has self-service at an [`OidcIdp`] (its client
/// authenticating with `auth`) and the JSON API for a [`TestIdp`] (HS256).
struct Env {
    shim: InProcess,
    api_idp: TestIdp,
    oidc: OidcIdp,
    api: ShimClient,
    browser: SelfBrowser,
    db: TestDb,
}

async fn env(auth: ClientAuth) -> Env {
    let api_idp = TestIdp::start().await.unwrap();
    let oidc = OidcIdp::start(CLIENT, "client-secret-of-the-shim")
        .await
        .unwrap();
    let db = TestDb::new(Backend::Sqlite).await.unwrap();
    let tenant = TenantConfig {
        selfservice: Some(SelfServiceConfig {
            issuer: Some(oidc.issuer.parse().unwrap()),
            client: oidc.client(auth),
            replace_acr: vec![MFA.into()],
            max_age_seconds: 300,
            session_secret: Some(SecretString::from(session_secret(TENANT))),
            ..SelfServiceConfig::default()
        }),
        policy: cheap_policy(),
        ..api_idp.tenant(Alg::Hs256)
    };
    let config = test_config(&db.url, BTreeMap::from([(TENANT.to_owned(), tenant)]));
    assert_eq!(config.limits.leeway_seconds, LEEWAY as u64);
    let shim = InProcess::start(&config).await.unwrap();
    let api = ShimClient::new(&shim.url).unwrap();
    let browser = SelfBrowser::new(&shim.url, TENANT).unwrap();
    Env {
        shim,
        api_idp,
        oidc,
        api,
        browser,
        db,
    }
}

impl Env {
    /// Give `sub` an active set through the JSON API; its codes.
    async fn enrol(&self, sub: &str) -> Vec<String> {
        self.api
            .enroll_for(&self.api_idp, Alg::Hs256, TENANT, sub)
            .await
            .unwrap()
    }

    /// The store, but for spent login transactions: every callback spends
    /// its transaction, refused or not (a login is tried once).
    async fn snapshot(&self) -> Vec<String> {
        let mut all = snapshot(&self.db.url).await.unwrap();
        all.retain(|row| !row.starts_with("used selflogin:"));
        all
    }

    /// Sign in (the strong login when `strong`) with the next ID token's
    /// claims changed by `changes` (`null` removes a claim).
    async fn login(&self, strong: bool, changes: Value) -> Login {
        self.oidc.next_token(changes);
        self.browser.login(strong).await.unwrap()
    }

    /// The home page of a session cookie.
    async fn home(&self, session: &str) -> Page {
        self.browser
            .get(&self.browser.path(""), session)
            .await
            .unwrap()
    }
}

/// The callback refused the login: a 403 page and no session.
fn assert_refused(name: &str, login: &Login) {
    assert_eq!(
        login.callback.status,
        StatusCode::FORBIDDEN,
        "{name}: {}",
        login.callback.html
    );
    assert!(login.session.is_none(), "{name} opened a session");
}

/// Where a redirect goes.
fn location(page: &Page) -> &str {
    page.headers
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn id_tokens_with_bad_time_claims_open_no_session_and_change_nothing() {
    let env = env(ClientAuth::ClientSecretBasic).await;
    env.enrol(SUBJECT).await;
    let now = now() as i64;
    let beyond = LEEWAY + 60;
    let cases = [
        ("no iat", false, json!({"iat": null})),
        ("iat a day ahead", false, json!({"iat": now + 86_400})),
        ("iat beyond the leeway", false, json!({"iat": now + beyond})),
        ("iat as text", false, json!({"iat": now.to_string()})),
        ("nbf a day ahead", false, json!({"nbf": now + 86_400})),
        ("nbf beyond the leeway", false, json!({"nbf": now + beyond})),
        (
            "auth_time a day ahead",
            false,
            json!({"auth_time": now + 86_400}),
        ),
        (
            "auth_time beyond the leeway",
            false,
            json!({"auth_time": now + beyond}),
        ),
        (
            "strong login, auth_time a day ahead",
            true,
            json!({"auth_time": now + 86_400, "acr": MFA}),
        ),
        (
            "strong login without auth_time",
            true,
            json!({"auth_time": null, "acr": MFA}),
        ),
        ("no exp", false, json!({"exp": null})),
        (
            "expired",
            false,
            json!({"iat": now - 900, "exp": now - beyond}),
        ),
    ];
    let before = env.snapshot().await;
    for (i, (name, strong, changes)) in cases.into_iter().enumerate() {
        let login = env.login(strong, changes).await;
        assert_refused(name, &login);
        // The provider handed out this token: the shim refused the ID token
        // itself, not an earlier step.
        assert_eq!(env.oidc.tokens_issued(), i + 1, "{name}");
    }
    assert_eq!(
        env.snapshot().await,
        before,
        "a refused login changed the store"
    );

    // The same provider's good token opens the session.
    let good = env.login(false, json!({})).await;
    assert_eq!(good.callback.status, StatusCode::SEE_OTHER);
    assert_eq!(location(&good.callback), env.browser.path(""));
    let home = env.home(&good.session.unwrap()).await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.html.contains(SUBJECT), "{}", home.html);
    env.shim.stop().await;
}

/// Clocks differ: times up to the leeway ahead are accepted, with the client
/// authenticating in the form this time.
#[tokio::test(flavor = "multi_thread")]
async fn times_within_the_leeway_are_accepted() {
    let env = env(ClientAuth::ClientSecretPost).await;
    let now = now() as i64;
    let within = LEEWAY - 10;
    let cases = [
        ("no nbf, no auth_time", json!({"auth_time": null})),
        (
            "iat, nbf and auth_time just ahead",
            json!({"iat": now + within, "nbf": now + within, "auth_time": now + within}),
        ),
        (
            "fractional times",
            json!({"iat": now as f64 + 0.5, "nbf": now as f64 - 0.5, "exp": now as f64 + 60.5}),
        ),
        ("expired within the leeway", json!({"exp": now - within})),
    ];
    for (name, changes) in cases {
        let login = env.login(false, changes).await;
        assert_eq!(
            login.callback.status,
            StatusCode::SEE_OTHER,
            "{name}: {}",
            login.callback.html
        );
        let home = env.home(&login.session.unwrap()).await;
        assert_eq!(home.status, StatusCode::OK, "{name}");
    }
    env.shim.stop().await;
}

/// Issue 24, item 3: with the right `acr`, a future `auth_time` counted as a
/// fresh login and replaced a user's codes.
#[tokio::test(flavor = "multi_thread")]
async fn a_future_auth_time_never_replaces_codes() {
    let env = env(ClientAuth::ClientSecretBasic).await;
    env.enrol(SUBJECT).await;
    let before = env.snapshot().await;
    let now = now() as i64;

    // At the callback: the strong login asked for a fresh login with the acr,
    // and its ID token is refused.
    let login = env
        .login(true, json!({"auth_time": now + 86_400, "acr": MFA}))
        .await;
    assert_refused("strong login with auth_time a day ahead", &login);
    let asked = env.oidc.requests().pop().unwrap();
    assert_eq!(asked.get("max_age").map(String::as_str), Some("0"));
    assert_eq!(asked.get("acr_values").map(String::as_str), Some(MFA));

    // Defence in depth: a session cookie signed with the tenant's secret,
    // strong, with the acr, but an auth_time a day ahead, may neither replace
    // nor delete: the shim sends the browser to the strong login instead.
    let secret = session_secret(TENANT);
    let sid = "forged-session";
    let session =
        |auth_time| forged_session(TENANT, &secret, sid, SUBJECT, auth_time, MFA, true).unwrap();
    let flow = forged_form(TENANT, &secret, sid).unwrap();
    for route in ["issue", "delete"] {
        let page = env
            .browser
            .post(
                &env.browser.path(route),
                &session(now + 86_400),
                &[("flow", &flow)],
            )
            .await
            .unwrap();
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{route}: {}", page.html);
        let to = location(&page);
        assert!(
            to.starts_with(&format!("{}/authorize", env.oidc.issuer)),
            "{to}"
        );
        assert!(page.codes().is_empty(), "{route} showed codes");
    }
    assert_eq!(env.snapshot().await, before, "the codes changed");

    // The same cookie with auth_time now may replace them: the refusals above
    // were the auth_time's doing.
    let page = env
        .browser
        .post(
            &env.browser.path("issue"),
            &session(now),
            &[("flow", &flow)],
        )
        .await
        .unwrap();
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(!page.codes().is_empty(), "{}", page.html);
    env.shim.stop().await;
}

/// A strong login whose `auth_time` is ahead of the shim's clock within the
/// leeway counts as a login now: it may replace codes (the callback records
/// it as the time of the callback, so the session is fresh, not future).
#[tokio::test(flavor = "multi_thread")]
async fn a_strong_login_slightly_ahead_replaces_codes() {
    let env = env(ClientAuth::ClientSecretBasic).await;
    let codes = env.enrol(SUBJECT).await;
    let before = env.snapshot().await;
    let ahead = now() as i64 + LEEWAY - 10;
    let login = env
        .login(true, json!({"auth_time": ahead, "acr": MFA}))
        .await;
    assert_eq!(
        login.callback.status,
        StatusCode::SEE_OTHER,
        "{}",
        login.callback.html
    );
    let session = login.session.unwrap();
    let home = env.home(&session).await;
    let flow = home.field("flow").expect("a form token on the home page");
    let page = env
        .browser
        .post(&env.browser.path("issue"), &session, &[("flow", &flow)])
        .await
        .unwrap();
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    let new = page.codes();
    assert!(!new.is_empty() && new != codes, "{}", page.html);
    assert_ne!(env.snapshot().await, before, "a replacement set is pending");
    env.shim.stop().await;
}
