//! The redirect step over real HTTP on 127.0.0.1 with a temporary SQLite
//! database: the IdP's session token is checked (tampered, expired, replayed,
//! wrong audience, reused state are refused with a clear page and, when the
//! token is the IdP's, a signed failure back), and codes typed in the pages
//! produce signed results that bind sub, state and the result.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use backup_codes_shim::config::JwtAlgorithm;
use backup_codes_shim::config::{Config, PolicyOverrides, TenantConfig};
use backup_codes_shim::http::{self as api, AppState};
use backup_codes_shim::server;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

const TENANT: &str = "acme";
const ISSUER: &str = "https://idp.test";
const STEP_SECRET: &str = "step-secret-for-tests-0123456789abcdef";
const CONTINUE: &str = "https://idp.test/continue";

struct Shim {
    base: String,
    http: reqwest::Client,
    state: AppState,
    _dir: tempfile::TempDir,
}

impl Shim {
    /// A subject of the test tenant.
    fn who(&self, subject: &str) -> backup_codes_shim::service::Subject {
        self.state.service.subject(TENANT, subject).unwrap()
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
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut config = Config {
        public_url: base.parse().unwrap(),
        database_url: format!("sqlite://{}/shim.db", dir.path().display()),
        ..Config::default()
    };
    config.plugin.cache_dir = None;
    let mut tenants = BTreeMap::new();
    tenants.insert(
        TENANT.to_owned(),
        TenantConfig {
            issuer: ISSUER.into(),
            audience: "backup-codes".into(),
            algorithms: vec![JwtAlgorithm::HS256],
            hs256_secret: Some(SecretString::from("api-secret-for-tests-0123456789abcdef")),
            step_secret: Some(SecretString::from(STEP_SECRET)),
            continue_urls: vec![
                CONTINUE.parse().unwrap(),
                "https://idp.test/interaction/".parse().unwrap(),
            ],
            policy: PolicyOverrides {
                hash_memory_kib: Some(1024),
                hash_iterations: Some(1),
                ..policy
            },
            ..TenantConfig::default()
        },
    );
    config.tenants = tenants;
    config.validate().unwrap();
    let state = server::build(&config).await.unwrap();
    let app = api::app(state.clone());
    let limits = config.limits.clone();
    tokio::spawn(
        async move { server::serve(listener, app, &limits, std::future::pending()).await },
    );
    let http = backup_codes_shim::auth::client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Shim {
        base,
        http,
        state,
        _dir: dir,
    }
}

fn now() -> i64 {
    i64::try_from(jsonwebtoken::get_current_timestamp()).unwrap()
}

fn sign(claims: &Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

/// A session token as Auth0 makes it (aud = the redirect URL, state claim).
fn session(shim: &Shim, sub: &str, state: &str, kind: &str) -> Value {
    json!({
        "iss": ISSUER,
        "sub": sub,
        "aud": format!("{}/step/{TENANT}/{kind}", shim.base),
        "step": kind,
        "iat": now(),
        "exp": now() + 300,
        "state": state,
        "jti": format!("jti-{state}"),
    })
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let end = tail.find(';').unwrap();
        let entity = &tail[1..end];
        let c = match entity {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            e if e.starts_with("#x") => {
                char::from_u32(u32::from_str_radix(&e[2..], 16).unwrap()).unwrap()
            }
            e if e.starts_with('#') => char::from_u32(e[1..].parse().unwrap()).unwrap(),
            other => panic!("unknown entity {other}"),
        };
        out.push(c);
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    out
}

/// The value of the hidden field `name` (the first one).
fn field(html: &str, name: &str) -> Option<String> {
    let start = html.find(&format!("name=\"{name}\" value=\""))? + name.len() + 15;
    let end = start + html[start..].find('"')?;
    Some(unescape(&html[start..end]))
}

/// The `action` of the form holding the hidden field `session_token`.
fn handoff_action(html: &str) -> Option<String> {
    let at = html.find("name=\"session_token\"")?;
    let form = html[..at].rfind("<form")?;
    let start = form + html[form..].find("action=\"")? + 8;
    let end = start + html[start..].find('"')?;
    Some(unescape(&html[start..end]))
}

/// The codes shown on a new-set page, in number order.
fn codes(html: &str) -> Vec<(u8, String)> {
    html.split("<code data-number=\"")
        .skip(1)
        .map(|part| {
            let (n, rest) = part.split_once("\">").unwrap();
            let code = rest.split_once("</code>").unwrap().0;
            (n.parse().unwrap(), unescape(code))
        })
        .collect()
}

/// The result token of a page, checked the way an IdP must check it.
fn result_claims(shim: &Shim, html: &str, state: &str) -> Value {
    assert_eq!(handoff_action(html).as_deref(), Some(CONTINUE));
    assert_eq!(field(html, "state").as_deref(), Some(state));
    let token = field(html, "session_token").expect("a signed result");
    let mut v = Validation::new(Algorithm::HS256);
    v.set_issuer(&[shim.base.as_str()]);
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

struct Page {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    html: String,
}

impl Page {
    fn cookie(&self) -> String {
        let set = self
            .headers
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap())
            .find(|v| v.starts_with("bc_flow_"))
            .expect("a flow cookie");
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"));
        set.split(';').next().unwrap().to_owned()
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

async fn get(shim: &Shim, path: &str, query: &[(&str, &str)]) -> Page {
    get_with_cookie(shim, path, query, None).await
}

async fn post(shim: &Shim, path: &str, cookie: Option<&str>, form: &[(&str, &str)]) -> Page {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let mut req = shim
        .http
        .post(format!("{}{path}", shim.base))
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(body);
    if let Some(c) = cookie {
        req = req.header(reqwest::header::COOKIE, c);
    }
    let r = req.send().await.unwrap();
    Page {
        status: r.status(),
        headers: r.headers().clone(),
        html: r.text().await.unwrap(),
    }
}

async fn enter(shim: &Shim, kind: &str, claims: &Value, state: &str) -> Page {
    let token = sign(claims, STEP_SECRET);
    get(
        shim,
        &format!("/step/{TENANT}/{kind}"),
        &[("state", state), ("session_token", &token)],
    )
    .await
}

/// Enrol `sub` through the pages; returns the codes.
/// Open the login step for `sub` with a fresh session: the entry page, its
/// cookie and its flow token.
async fn open_login(shim: &Shim, sub: &str, state: &str) -> (Page, String, String) {
    let entry = enter(shim, "login", &session(shim, sub, state, "login"), state).await;
    let cookie = entry.cookie();
    let flow = field(&entry.html, "flow").unwrap();
    (entry, cookie, flow)
}

async fn enrol(shim: &Shim, sub: &str, state: &str) -> Vec<(u8, String)> {
    let entry = enter(shim, "enroll", &session(shim, sub, state, "enroll"), state).await;
    entry.assert_clear(StatusCode::OK, "Set up backup codes");
    let cookie = entry.cookie();
    let flow = field(&entry.html, "flow").unwrap();
    let shown = post(
        shim,
        &format!("/step/{TENANT}/enroll/issue"),
        Some(&cookie),
        &[("flow", &flow)],
    )
    .await;
    shown.assert_clear(StatusCode::OK, "not shown again once you leave this page");
    let codes = codes(&shown.html);
    let flow = field(&shown.html, "flow").unwrap();
    let done = post(
        shim,
        &format!("/step/{TENANT}/enroll/activate"),
        Some(&cookie),
        &[("flow", &flow), ("code", &codes[0].1)],
    )
    .await;
    done.assert_clear(StatusCode::OK, "are active");
    let claims = result_claims(shim, &done.html, state);
    assert_eq!(claims["result"]["status"], "success");
    assert_eq!(claims["result"]["action"], "enroll");
    codes
}

#[tokio::test]
async fn bad_session_tokens_and_reused_state_are_refused() {
    let shim = start(10).await;

    // Tampered: the payload changed after signing. Not the IdP's token, so
    // nothing is signed back to anyone; the state is not spent.
    let good = sign(
        &session(&shim, "alice", "s-tampered", "enroll"),
        STEP_SECRET,
    );
    let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    let forged = session(&shim, "mallory", "s-tampered", "enroll");
    parts[1] = base64_url(&serde_json::to_vec(&forged).unwrap());
    let tampered = parts.join(".");
    let page = get(
        &shim,
        &format!("/step/{TENANT}/enroll"),
        &[("state", "s-tampered"), ("session_token", &tampered)],
    )
    .await;
    page.assert_clear(StatusCode::FORBIDDEN, "not valid");
    assert!(field(&page.html, "session_token").is_none());
    // Signed with another secret: the same.
    let other = sign(
        &session(&shim, "alice", "s-tampered", "enroll"),
        "another-secret-0123456789abcdef0123456789",
    );
    let page = get(
        &shim,
        &format!("/step/{TENANT}/enroll"),
        &[("state", "s-tampered"), ("session_token", &other)],
    )
    .await;
    page.assert_clear(StatusCode::FORBIDDEN, "not valid");
    assert!(field(&page.html, "session_token").is_none());
    // The state was not spent by those refusals.
    enter(
        &shim,
        "enroll",
        &session(&shim, "alice", "s-tampered", "enroll"),
        "s-tampered",
    )
    .await
    .assert_clear(StatusCode::OK, "Set up backup codes");

    // Expired: the IdP's token, so a signed failure goes back.
    let mut expired = session(&shim, "alice", "s-expired", "login");
    expired["iat"] = json!(now() - 4000);
    expired["exp"] = json!(now() - 3600);
    let page = enter(&shim, "login", &expired, "s-expired").await;
    page.assert_clear(StatusCode::FORBIDDEN, "expired");
    let claims = result_claims(&shim, &page.html, "s-expired");
    assert_eq!(claims["sub"], "alice");
    assert_eq!(
        claims["result"],
        json!({"status": "failed", "method": "backup_code", "action": "verify", "reason": "expired_token"})
    );

    // Wrong audience.
    let mut wrong = session(&shim, "alice", "s-aud", "login");
    wrong["aud"] = json!("https://another-service.test/step");
    let page = enter(&shim, "login", &wrong, "s-aud").await;
    page.assert_clear(StatusCode::FORBIDDEN, "wrong audience");
    let claims = result_claims(&shim, &page.html, "s-aud");
    assert_eq!(claims["result"]["reason"], "wrong_audience");

    // Wrong issuer, and a state claim that is not the query's state.
    let mut iss = session(&shim, "alice", "s-iss", "login");
    iss["iss"] = json!("https://other-idp.test");
    enter(&shim, "login", &iss, "s-iss")
        .await
        .assert_clear(StatusCode::FORBIDDEN, "not issued by the expected");
    let mismatch = session(&shim, "alice", "s-one", "login");
    let page = enter(&shim, "login", &mismatch, "s-two").await;
    page.assert_clear(StatusCode::FORBIDDEN, "another sign-in attempt");
    assert_eq!(
        result_claims(&shim, &page.html, "s-two")["result"]["reason"],
        "state_mismatch"
    );

    // A continue URL the tenant does not list: refused, nothing sent anywhere.
    let mut evil = session(&shim, "alice", "s-evil", "login");
    evil["continue_uri"] = json!("https://evil.test/continue");
    let page = enter(&shim, "login", &evil, "s-evil").await;
    page.assert_clear(StatusCode::BAD_REQUEST, "not registered");
    assert!(field(&page.html, "session_token").is_none());
    // A listed prefix: the result goes there.
    let mut listed = session(&shim, "alice", "s-listed", "login");
    listed["continue_uri"] = json!("https://idp.test/interaction/abc/continue");
    listed["exp"] = json!(now() - 3600);
    listed["iat"] = json!(now() - 3700);
    let page = enter(&shim, "login", &listed, "s-listed").await;
    assert_eq!(
        handoff_action(&page.html).as_deref(),
        Some("https://idp.test/interaction/abc/continue")
    );

    // Missing parameters.
    get(&shim, &format!("/step/{TENANT}/login"), &[("state", "x")])
        .await
        .assert_clear(StatusCode::BAD_REQUEST, "missing");
    // Unknown tenant.
    get(&shim, "/step/nobody/login", &[])
        .await
        .assert_clear(StatusCode::NOT_FOUND, "does not belong");

    // Replayed: the same token and state a second time.
    let first = session(&shim, "alice", "s-replay", "enroll");
    enter(&shim, "enroll", &first, "s-replay")
        .await
        .assert_clear(StatusCode::OK, "Set up backup codes");
    let page = enter(&shim, "enroll", &first, "s-replay").await;
    page.assert_clear(StatusCode::CONFLICT, "already used");
    assert_eq!(
        result_claims(&shim, &page.html, "s-replay")["result"]["reason"],
        "state_reused"
    );
    // The same token (no state claim) with a fresh state: a replayed token.
    let mut no_state = session(&shim, "alice", "unused", "enroll");
    no_state.as_object_mut().unwrap().remove("state");
    no_state["jti"] = json!("jti-no-state");
    enter(&shim, "enroll", &no_state, "s-fresh-1")
        .await
        .assert_clear(StatusCode::OK, "Set up backup codes");
    let page = enter(&shim, "enroll", &no_state, "s-fresh-2").await;
    page.assert_clear(StatusCode::CONFLICT, "replay");
    assert_eq!(
        result_claims(&shim, &page.html, "s-fresh-2")["result"]["reason"],
        "replayed_token"
    );
    // Reused state with a new, valid token.
    let mut again = session(&shim, "alice", "s-replay", "enroll");
    again["jti"] = json!("another-jti");
    let page = enter(&shim, "enroll", &again, "s-replay").await;
    page.assert_clear(StatusCode::CONFLICT, "already used");
    assert_eq!(
        result_claims(&shim, &page.html, "s-replay")["result"]["reason"],
        "state_reused"
    );

    // Logging in without codes: a clear page and a signed failure.
    let page = enter(
        &shim,
        "login",
        &session(&shim, "nobody", "s-none", "login"),
        "s-none",
    )
    .await;
    page.assert_clear(StatusCode::CONFLICT, "no active backup codes");
    assert_eq!(
        result_claims(&shim, &page.html, "s-none")["result"]["reason"],
        "not_enrolled"
    );
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[tokio::test]
async fn codes_in_the_pages_produce_signed_results() {
    let shim = start(4).await;
    let codes = enrol(&shim, "alice", "s-enrol").await;
    assert_eq!(
        codes.iter().map(|c| c.0).collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );

    // Login page: an accessible code field.
    let entry = enter(
        &shim,
        "login",
        &session(&shim, "alice", "s-login", "login"),
        "s-login",
    )
    .await;
    entry.assert_clear(StatusCode::OK, "Enter a backup code");
    for attr in [
        "autocomplete=\"one-time-code\"",
        "inputmode=\"text\"",
        "autocapitalize=\"characters\"",
        "spellcheck=\"false\"",
        "<label for=\"code\">",
        "aria-describedby=\"code-hint\"",
        "<html lang=\"en\" dir=\"ltr\">",
    ] {
        assert!(entry.html.contains(attr), "{attr}");
    }
    assert!(!entry.html.contains("<script>"), "no inline script");
    let cookie = entry.cookie();
    let flow = field(&entry.html, "flow").unwrap();
    let path = format!("/step/{TENANT}/login");

    // Without the flow cookie (CSRF): refused, nothing spent.
    post(
        &shim,
        &path,
        None,
        &[("flow", &flow), ("code", &codes[1].1)],
    )
    .await
    .assert_clear(StatusCode::FORBIDDEN, "security check");
    post(
        &shim,
        &path,
        Some("bc_flow_x=y"),
        &[("flow", &flow), ("code", &codes[1].1)],
    )
    .await
    .assert_clear(StatusCode::FORBIDDEN, "security check");
    // A forged flow token.
    post(
        &shim,
        &path,
        Some(&cookie),
        &[("flow", &format!("{flow}x")), ("code", &codes[1].1)],
    )
    .await
    .assert_clear(StatusCode::FORBIDDEN, "expired");

    // A typo: caught by the check symbol, tied to the field, not counted.
    let typo = {
        let mut c = codes[1].1.clone();
        let last = c.pop().unwrap();
        c.push(if last == '7' { '8' } else { '7' });
        c
    };
    let page = post(
        &shim,
        &path,
        Some(&cookie),
        &[("flow", &flow), ("code", &typo)],
    )
    .await;
    page.assert_clear(StatusCode::UNPROCESSABLE_ENTITY, "typo");
    assert!(
        page.html
            .contains("aria-describedby=\"code-hint code-error\"")
    );
    assert!(page.html.contains("aria-invalid=\"true\""));

    // A wrong code (another user's): counted, with the attempts left.
    let bob = shim.state.service.issue(&shim.who("bob")).await.unwrap();
    let wrong = bob.codes[0].code.expose_secret().clone();
    let page = post(
        &shim,
        &path,
        Some(&cookie),
        &[("flow", &flow), ("code", &wrong)],
    )
    .await;
    page.assert_clear(StatusCode::UNPROCESSABLE_ENTITY, "4 attempts left");

    // The right code, typed loosely: a signed success. Few codes are left, so
    // the notice offers a new set before continuing.
    let loose = format!(" {} ", codes[1].1.to_lowercase().replace('-', " "));
    let page = post(
        &shim,
        &path,
        Some(&cookie),
        &[("flow", &flow), ("code", &loose)],
    )
    .await;
    page.assert_clear(StatusCode::OK, "Code #2 was accepted");
    let claims = result_claims(&shim, &page.html, "s-login");
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["iss"], shim.base.as_str());
    assert_eq!(claims["aud"], ISSUER);
    let result = &claims["result"];
    assert_eq!(result["status"], "success");
    assert_eq!(result["method"], "backup_code");
    assert_eq!(result["action"], "verify");
    assert_eq!(result["number"], 2);
    assert_eq!(result["remaining"], 3);
    assert_eq!(result["low"], true);
    assert!(result["set_id"].as_str().is_some_and(|s| !s.is_empty()));
    // No code in the result or anywhere on the page.
    for (_, c) in &codes {
        assert!(!page.html.contains(c.as_str()));
    }

    // The flow cannot finish twice.
    post(
        &shim,
        &path,
        Some(&cookie),
        &[("flow", &flow), ("code", &codes[2].1)],
    )
    .await
    .assert_clear(StatusCode::FORBIDDEN, "expired");

    // Regenerate from the notice: a new set, confirmed; the result carries the
    // login and the new set.
    let regen_cookie = page.cookie();
    let regen_flow = field(&page.html, "flow").unwrap();
    let shown = post(
        &shim,
        &format!("/step/{TENANT}/enroll/issue"),
        Some(&regen_cookie),
        &[("flow", &regen_flow)],
    )
    .await;
    shown.assert_clear(StatusCode::OK, "not shown again once you leave this page");
    let new_codes = codes_of(&shown.html);
    let flow2 = field(&shown.html, "flow").unwrap();
    // An old code does not confirm the new set.
    let page = post(
        &shim,
        &format!("/step/{TENANT}/enroll/activate"),
        Some(&regen_cookie),
        &[("flow", &flow2), ("code", &codes[3].1)],
    )
    .await;
    page.assert_clear(StatusCode::UNPROCESSABLE_ENTITY, "not one of the new set");
    assert_eq!(
        codes_of(&page.html),
        new_codes,
        "the new codes stay on the page until the set is confirmed"
    );
    let done = post(
        &shim,
        &format!("/step/{TENANT}/enroll/activate"),
        Some(&regen_cookie),
        &[("flow", &flow2), ("code", &new_codes[3].1)],
    )
    .await;
    let claims = result_claims(&shim, &done.html, "s-login");
    assert_eq!(claims["result"]["action"], "verify");
    assert_eq!(claims["result"]["number"], 2);
    assert_eq!(claims["result"]["regenerated"]["action"], "enroll");
    assert_eq!(claims["result"]["regenerated"]["count"], 4);
    assert_ne!(claims["result"]["regenerated"]["set_id"], result["set_id"]);

    // Old codes are gone (and said to be of the replaced set); a used new
    // code is refused as already used.
    let status = shim.state.service.status(&shim.who("alice")).await.unwrap();
    assert_eq!(status.active.unwrap().remaining, 4);
    let (_, cookie, flow) = open_login(&shim, "alice", "s-login-2").await;
    let page = post(
        &shim,
        &path,
        Some(&cookie),
        &[("flow", &flow), ("code", &codes[3].1)],
    )
    .await;
    page.assert_clear(StatusCode::UNPROCESSABLE_ENTITY, "was replaced");
    let page = post(
        &shim,
        &path,
        Some(&cookie),
        &[("flow", &flow), ("code", &new_codes[0].1)],
    )
    .await;
    assert_eq!(
        result_claims(&shim, &page.html, "s-login-2")["result"]["number"],
        1
    );
    let (_, cookie, flow) = open_login(&shim, "alice", "s-login-3").await;
    let page = post(
        &shim,
        &path,
        Some(&cookie),
        &[("flow", &flow), ("code", &new_codes[0].1)],
    )
    .await;
    page.assert_clear(StatusCode::UNPROCESSABLE_ENTITY, "already used");

    // Cancelling sends a signed failure.
    let page = post(
        &shim,
        &format!("/step/{TENANT}/cancel"),
        Some(&cookie),
        &[("flow", &flow)],
    )
    .await;
    page.assert_clear(StatusCode::OK, "Returning you");
    assert!(page.html.contains("data-autosubmit"));
    assert_eq!(
        result_claims(&shim, &page.html, "s-login-3")["result"]["reason"],
        "cancelled"
    );
}

fn codes_of(html: &str) -> Vec<(u8, String)> {
    codes(html)
}

#[tokio::test]
async fn lockout_shows_the_time_then_fails_back_to_the_idp() {
    let shim = start(10).await;
    enrol(&shim, "carol", "s-carol").await;
    let bob = shim.state.service.issue(&shim.who("bob")).await.unwrap();
    let wrong = bob.codes[0].code.expose_secret().clone();
    let (_, cookie, flow) = open_login(&shim, "carol", "s-lock").await;
    let path = format!("/step/{TENANT}/login");
    let free = shim
        .state
        .service
        .tenant(TENANT)
        .unwrap()
        .policy
        .free_failures;
    for _ in 1..free {
        post(
            &shim,
            &path,
            Some(&cookie),
            &[("flow", &flow), ("code", &wrong)],
        )
        .await
        .assert_clear(StatusCode::UNPROCESSABLE_ENTITY, "left");
    }
    // The failure that starts the lockout: the page tells until when.
    post(
        &shim,
        &path,
        Some(&cookie),
        &[("flow", &flow), ("code", &wrong)],
    )
    .await
    .assert_clear(StatusCode::UNPROCESSABLE_ENTITY, "try again after");
    // An attempt during the lockout: a clear page and a signed failure.
    let page = post(
        &shim,
        &path,
        Some(&cookie),
        &[("flow", &flow), ("code", &wrong)],
    )
    .await;
    page.assert_clear(StatusCode::TOO_MANY_REQUESTS, "Too many wrong codes");
    assert!(page.headers.contains_key(reqwest::header::RETRY_AFTER));
    let claims = result_claims(&shim, &page.html, "s-lock");
    assert_eq!(claims["result"]["status"], "failed");
    assert_eq!(claims["result"]["reason"], "locked");
    assert!(claims["result"]["locked_until"].as_i64().unwrap() > now());
    // A new login while locked is refused at once, with the same failure.
    let page = enter(
        &shim,
        "login",
        &session(&shim, "carol", "s-lock-2", "login"),
        "s-lock-2",
    )
    .await;
    page.assert_clear(StatusCode::TOO_MANY_REQUESTS, "Try again after");
    assert_eq!(
        result_claims(&shim, &page.html, "s-lock-2")["result"]["reason"],
        "locked"
    );
}

#[tokio::test]
async fn static_assets_are_served_and_demo_is_off_with_tenants() {
    let shim = start(10).await;
    let css = shim
        .http
        .get(format!("{}/static/step.css", shim.base))
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), StatusCode::OK);
    assert!(
        css.headers()[reqwest::header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    let js = shim
        .http
        .get(format!("{}/static/step.js", shim.base))
        .send()
        .await
        .unwrap();
    assert_eq!(js.status(), StatusCode::OK);
    let demo = shim
        .http
        .get(format!("{}/demo", shim.base))
        .send()
        .await
        .unwrap();
    assert_eq!(demo.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn demo_mode_plays_a_tiny_idp() {
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut config = Config {
        public_url: base.parse().unwrap(),
        database_url: format!("sqlite://{}/shim.db", dir.path().display()),
        ..Config::default()
    };
    config.plugin.cache_dir = None;
    assert!(server::with_demo_tenant(&mut config, dir.path()).unwrap());
    assert!(config.demo);
    let state = server::build(&config).await.unwrap();
    let app = api::app(state.clone());
    let limits = config.limits.clone();
    tokio::spawn(
        async move { server::serve(listener, app, &limits, std::future::pending()).await },
    );
    let shim = Shim {
        base,
        http: backup_codes_shim::auth::client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        state,
        _dir: dir,
    };
    get(&shim, "/demo", &[])
        .await
        .assert_clear(StatusCode::OK, "tiny identity provider");
    let start = get(
        &shim,
        "/demo/start",
        &[("user", "dora"), ("action", "enroll")],
    )
    .await;
    assert_eq!(start.status, StatusCode::SEE_OTHER);
    let demo_cookie = start.headers[reqwest::header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let location = start.headers[reqwest::header::LOCATION].to_str().unwrap();
    assert!(location.starts_with(&format!("{}/step/demo/enroll?", shim.base)));
    let r = shim.http.get(location).send().await.unwrap();
    let entry = Page {
        status: r.status(),
        headers: r.headers().clone(),
        html: r.text().await.unwrap(),
    };
    entry.assert_clear(StatusCode::OK, "Set up backup codes");
    let cookie = entry.cookie();
    let shown = post(
        &shim,
        "/step/demo/enroll/issue",
        Some(&cookie),
        &[("flow", &field(&entry.html, "flow").unwrap())],
    )
    .await;
    let codes = codes(&shown.html);
    assert_eq!(codes.len(), 10);
    let done = post(
        &shim,
        "/step/demo/enroll/activate",
        Some(&cookie),
        &[
            ("flow", &field(&shown.html, "flow").unwrap()),
            ("code", &codes[4].1),
        ],
    )
    .await;
    assert_eq!(
        handoff_action(&done.html).as_deref(),
        Some(format!("{}/demo/continue", shim.base).as_str())
    );
    let result = post(
        &shim,
        "/demo/continue",
        Some(&demo_cookie),
        &[
            ("state", &field(&done.html, "state").unwrap()),
            (
                "session_token",
                &field(&done.html, "session_token").unwrap(),
            ),
        ],
    )
    .await;
    result.assert_clear(StatusCode::OK, "Enrolled: set");
    assert!(
        result.html.contains("&#34;action&#34;: &#34;enroll&#34;")
            || result
                .html
                .contains("&quot;action&quot;: &quot;enroll&quot;"),
        "{}",
        result.html
    );
    // Without the demo's state cookie the result is refused.
    let refused = post(
        &shim,
        "/demo/continue",
        None,
        &[
            ("state", &field(&done.html, "state").unwrap()),
            (
                "session_token",
                &field(&done.html, "session_token").unwrap(),
            ),
        ],
    )
    .await;
    refused.assert_clear(StatusCode::FORBIDDEN, "not the one this demo sent");
}

/// What the store holds for a subject: the credential row and the audit trail.
async fn stored(shim: &Shim, sub: &str) -> (Option<Vec<u8>>, Vec<String>) {
    let store = shim.state.service.store();
    let record = store.get(TENANT, sub).await.unwrap();
    let trail = store
        .audit_trail(TENANT, sub)
        .await
        .unwrap()
        .into_iter()
        .map(|a| format!("{}:{}", a.kind, a.detail))
        .collect();
    (record.map(|r| r.credential), trail)
}

/// Issue 10, item 1: a session token minted for the login step must not open
/// enrolment (the second-factor bypass), a token must name its step, and a
/// first enrolment never replaces codes.
#[tokio::test]
async fn a_session_token_opens_only_the_step_it_names() {
    let shim = start(4).await;
    let codes = enrol(&shim, "victim", "s-victim").await;
    let before = stored(&shim, "victim").await;

    // A login token at the enrolment and regeneration steps, with `aud` the
    // login URL (as an IdP mints it) or the tenant's audience: refused, with a
    // signed failure naming the step that was asked for.
    for (path, action) in [("enroll", "enroll"), ("regenerate", "regenerate")] {
        for aud in [
            json!(format!("{}/step/{TENANT}/login", shim.base)),
            json!("backup-codes"),
        ] {
            let state = format!("s-cross-{path}-{}", aud.as_str().unwrap().len());
            let mut claims = session(&shim, "victim", &state, "login");
            claims["aud"] = aud;
            let page = enter(&shim, path, &claims, &state).await;
            page.assert_clear(StatusCode::FORBIDDEN, "another step");
            assert!(field(&page.html, "flow").is_none(), "no flow was opened");
            let result = result_claims(&shim, &page.html, &state)["result"].clone();
            assert_eq!(result["reason"], "wrong_step");
            assert_eq!(result["action"], action);
        }
    }
    // A token naming no step, at any step.
    for path in ["login", "enroll", "regenerate"] {
        let state = format!("s-bare-{path}");
        let mut claims = session(&shim, "victim", &state, path);
        claims.as_object_mut().unwrap().remove("step");
        let page = enter(&shim, path, &claims, &state).await;
        page.assert_clear(StatusCode::FORBIDDEN, "another step");
        assert!(field(&page.html, "flow").is_none());
    }
    // `aud` naming another step's URL, with the right `step` claim.
    let mut claims = session(&shim, "victim", "s-aud-other", "login");
    claims["aud"] = json!(format!("{}/step/{TENANT}/enroll", shim.base));
    enter(&shim, "login", &claims, "s-aud-other")
        .await
        .assert_clear(StatusCode::FORBIDDEN, "wrong audience");
    // A first enrolment for a subject who has codes: refused before the state
    // is spent, with a signed failure.
    let page = enter(
        &shim,
        "enroll",
        &session(&shim, "victim", "s-first", "enroll"),
        "s-first",
    )
    .await;
    page.assert_clear(StatusCode::CONFLICT, "already has backup codes");
    assert_eq!(
        result_claims(&shim, &page.html, "s-first")["result"]["reason"],
        "already_enrolled"
    );
    assert_eq!(stored(&shim, "victim").await, before, "nothing changed");

    // The victim's codes still work.
    let (_, cookie, flow) = open_login(&shim, "victim", "s-still").await;
    let page = post(
        &shim,
        &format!("/step/{TENANT}/login"),
        Some(&cookie),
        &[("flow", &flow), ("code", &codes[0].1)],
    )
    .await;
    assert_eq!(
        result_claims(&shim, &page.html, "s-still")["result"]["action"],
        "verify"
    );

    // The IdP says explicitly that codes may be replaced: `regenerate`. The
    // state refused above as a first enrolment was not spent.
    let mut regen = session(&shim, "victim", "s-first", "regenerate");
    regen["jti"] = json!("jti-regenerate");
    let entry = enter(&shim, "regenerate", &regen, "s-first").await;
    entry.assert_clear(StatusCode::OK, "Replace your backup codes");
    let cookie = entry.cookie();
    let shown = post(
        &shim,
        &format!("/step/{TENANT}/enroll/issue"),
        Some(&cookie),
        &[("flow", &field(&entry.html, "flow").unwrap())],
    )
    .await;
    let new_codes = codes_of(&shown.html);
    let done = post(
        &shim,
        &format!("/step/{TENANT}/enroll/activate"),
        Some(&cookie),
        &[
            ("flow", &field(&shown.html, "flow").unwrap()),
            ("code", &new_codes[0].1),
        ],
    )
    .await;
    let result = result_claims(&shim, &done.html, "s-first")["result"].clone();
    assert_eq!(result["status"], "success");
    assert_eq!(result["action"], "regenerate");
}

/// Issue 10, item 2: once a login flow has finished, posting its form again
/// (with the same cookie) is refused before the engine sees the code: no code
/// is consumed and no failure is counted.
#[tokio::test]
async fn a_finished_flow_is_refused_before_the_engine() {
    let shim = start(10).await;
    let codes = enrol(&shim, "erin", "s-erin").await;
    let (_, cookie, flow) = open_login(&shim, "erin", "s-finish").await;
    let path = format!("/step/{TENANT}/login");
    let page = post(
        &shim,
        &path,
        Some(&cookie),
        &[("flow", &flow), ("code", &codes[1].1)],
    )
    .await;
    assert_eq!(
        result_claims(&shim, &page.html, "s-finish")["result"]["number"],
        2
    );
    let before = stored(&shim, "erin").await;
    let bob = shim.state.service.issue(&shim.who("bob")).await.unwrap();
    let wrong = bob.codes[0].code.expose_secret().clone();
    // Right codes and wrong codes alike, more than the lockout allows.
    for code in [
        &codes[2].1,
        &codes[3].1,
        &wrong,
        &wrong,
        &wrong,
        &wrong,
        &wrong,
        &wrong,
    ] {
        post(
            &shim,
            &path,
            Some(&cookie),
            &[("flow", &flow), ("code", code)],
        )
        .await
        .assert_clear(StatusCode::FORBIDDEN, "expired");
    }
    assert_eq!(
        stored(&shim, "erin").await,
        before,
        "nothing reached the engine"
    );
    let status = shim.state.service.status(&shim.who("erin")).await.unwrap();
    assert_eq!(status.consecutive_failures, 0);
    assert_eq!(status.active.unwrap().remaining, 9);
    // Code 3 is still unused.
    let (_, cookie, flow) = open_login(&shim, "erin", "s-finish-2").await;
    let page = post(
        &shim,
        &path,
        Some(&cookie),
        &[("flow", &flow), ("code", &codes[2].1)],
    )
    .await;
    assert_eq!(
        result_claims(&shim, &page.html, "s-finish-2")["result"]["number"],
        3
    );
}

/// The posted result on a refusal page's "Return to sign-in" form.
fn way_back(shim: &Shim, page: &Page, state: &str) -> Value {
    assert!(
        page.html
            .contains("<form method=\"post\" action=\"https://idp.test/continue\"")
    );
    result_claims(shim, &page.html, state)["result"].clone()
}

#[tokio::test]
async fn a_reload_goes_on_and_a_finished_flow_offers_the_way_back() {
    let shim = start(10).await;
    let codes = enrol(&shim, "rita", "s-rita").await;
    let claims = session(&shim, "rita", "s-reload", "login");
    let token = sign(&claims, STEP_SECRET);
    let query = [("state", "s-reload"), ("session_token", token.as_str())];
    let path = format!("/step/{TENANT}/login");
    let (entry, cookie, _) = open_login_with(&shim, &path, &query).await;
    entry.assert_clear(StatusCode::OK, "Enter a backup code");
    // Reload in the same browser: the same flow goes on.
    let again = get_with_cookie(&shim, &path, &query, Some(&cookie)).await;
    again.assert_clear(StatusCode::OK, "Enter a backup code");
    let flow = field(&again.html, "flow").unwrap();
    // Another browser with the same link: the state is spent; a way back.
    let other = get_with_cookie(&shim, &path, &query, None).await;
    other.assert_clear(StatusCode::CONFLICT, "used before");
    assert_eq!(
        way_back(&shim, &other, "s-reload")["reason"],
        "state_reused"
    );
    // Nor does a cookie of the right name with a value of the sender's choosing.
    let name = cookie.split('=').next().unwrap();
    let forged = get_with_cookie(&shim, &path, &query, Some(&format!("{name}=chosen"))).await;
    forged.assert_clear(StatusCode::CONFLICT, "used before");
    // Nor the same token with another state, in the browser that opened it.
    let query2 = [("state", "s-other"), ("session_token", token.as_str())];
    let replay = get_with_cookie(&shim, &path, &query2, Some(&cookie)).await;
    assert!(replay.status.is_client_error(), "{}", replay.status);
    assert!(!replay.html.contains("name=\"code\""));
    // The reloaded page's form works, once.
    let done = post(
        &shim,
        &path,
        Some(&cookie),
        &[("flow", &flow), ("code", &codes[1].1)],
    )
    .await;
    assert_eq!(
        result_claims(&shim, &done.html, "s-reload")["result"]["number"],
        2
    );
    // Back to the entry after signing in: finished, a way back to the IdP.
    let back = get_with_cookie(&shim, &path, &query, Some(&cookie)).await;
    back.assert_clear(StatusCode::FORBIDDEN, "already completed");
    assert_eq!(way_back(&shim, &back, "s-reload")["reason"], "state_reused");
    // The finished flow's form again: nothing checked, a signed `cancelled`.
    let resent = post(
        &shim,
        &path,
        Some(&cookie),
        &[("flow", &flow), ("code", &codes[2].1)],
    )
    .await;
    resent.assert_clear(StatusCode::FORBIDDEN, "already completed");
    assert_eq!(way_back(&shim, &resent, "s-reload")["reason"], "cancelled");
    assert_eq!(
        shim.state
            .service
            .status(&shim.who("rita"))
            .await
            .unwrap()
            .active
            .unwrap()
            .remaining,
        9
    );
    // A forged flow still gets no way back.
    let forged = post(
        &shim,
        &path,
        Some(&cookie),
        &[("flow", "x.y.z"), ("code", &codes[2].1)],
    )
    .await;
    forged.assert_clear(StatusCode::FORBIDDEN, "expired");
    assert!(!forged.html.contains("session_token"));
}

async fn get_with_cookie(
    shim: &Shim,
    path: &str,
    query: &[(&str, &str)],
    cookie: Option<&str>,
) -> Page {
    let url = url::Url::parse_with_params(&format!("{}{path}", shim.base), query).unwrap();
    let mut req = shim.http.get(url);
    if let Some(c) = cookie {
        req = req.header(reqwest::header::COOKIE, c);
    }
    let r = req.send().await.unwrap();
    Page {
        status: r.status(),
        headers: r.headers().clone(),
        html: r.text().await.unwrap(),
    }
}

async fn open_login_with(
    shim: &Shim,
    path: &str,
    query: &[(&str, &str)],
) -> (Page, String, String) {
    let entry = get_with_cookie(shim, path, query, None).await;
    let cookie = entry.cookie();
    let flow = field(&entry.html, "flow").unwrap();
    (entry, cookie, flow)
}

#[tokio::test]
async fn a_typo_while_confirming_keeps_the_new_codes_on_the_page() {
    let shim = start(10).await;
    let entry = enter(
        &shim,
        "enroll",
        &session(&shim, "tom", "s-tom", "enroll"),
        "s-tom",
    )
    .await;
    let cookie = entry.cookie();
    let flow = field(&entry.html, "flow").unwrap();
    let issue = format!("/step/{TENANT}/enroll/issue");
    let shown = post(&shim, &issue, Some(&cookie), &[("flow", &flow)]).await;
    let codes = codes(&shown.html);
    assert_eq!(codes.len(), 10);
    let flow = field(&shown.html, "flow").unwrap();
    assert!(!flow.contains(&codes[0].1), "the codes travel sealed");
    let activate = format!("/step/{TENANT}/enroll/activate");
    let typo = post(
        &shim,
        &activate,
        Some(&cookie),
        &[("flow", &flow), ("code", "not-a-code")],
    )
    .await;
    typo.assert_clear(StatusCode::UNPROCESSABLE_ENTITY, "role=\"alert\"");
    assert_eq!(codes_of(&typo.html), codes, "the same codes, shown again");
    let flow = field(&typo.html, "flow").unwrap();
    let done = post(
        &shim,
        &activate,
        Some(&cookie),
        &[("flow", &flow), ("code", &codes[4].1)],
    )
    .await;
    assert_eq!(
        result_claims(&shim, &done.html, "s-tom")["result"]["action"],
        "enroll"
    );
}

#[tokio::test]
async fn a_stale_page_never_shows_or_confirms_another_set() {
    let shim = start(10).await;
    let entry = enter(
        &shim,
        "enroll",
        &session(&shim, "vic", "s-vic", "enroll"),
        "s-vic",
    )
    .await;
    let cookie = entry.cookie();
    let first_flow = field(&entry.html, "flow").unwrap();
    let issue = format!("/step/{TENANT}/enroll/issue");
    let activate = format!("/step/{TENANT}/enroll/activate");
    let a = post(&shim, &issue, Some(&cookie), &[("flow", &first_flow)]).await;
    let flow_a = field(&a.html, "flow").unwrap();
    // A second set from the same entry page (another tab): B now waits.
    let b = post(&shim, &issue, Some(&cookie), &[("flow", &first_flow)]).await;
    let codes_b = codes(&b.html);
    // A's page cannot show A's codes again, nor confirm B: refused before
    // the engine, B still waits, nothing counted.
    for code in ["x", codes_b[0].1.as_str()] {
        let page = post(
            &shim,
            &activate,
            Some(&cookie),
            &[("flow", &flow_a), ("code", code)],
        )
        .await;
        page.assert_clear(StatusCode::CONFLICT, "Nothing to confirm");
        assert!(codes_of(&page.html).is_empty());
    }
    let status = shim.state.service.status(&shim.who("vic")).await.unwrap();
    assert!(status.active.is_none() && status.pending.is_some());
    assert_eq!(status.consecutive_failures, 0);
}

#[tokio::test]
async fn a_code_of_the_replaced_set_gets_its_own_message() {
    let shim = start(10).await;
    let old = enrol(&shim, "una", "s-una").await;
    // A new set, confirmed: the old codes stop working.
    let entry = enter(
        &shim,
        "regenerate",
        &session(&shim, "una", "s-una-2", "regenerate"),
        "s-una-2",
    )
    .await;
    let cookie = entry.cookie();
    let flow = field(&entry.html, "flow").unwrap();
    let shown = post(
        &shim,
        &format!("/step/{TENANT}/enroll/issue"),
        Some(&cookie),
        &[("flow", &flow)],
    )
    .await;
    let new = codes(&shown.html);
    let flow = field(&shown.html, "flow").unwrap();
    let done = post(
        &shim,
        &format!("/step/{TENANT}/enroll/activate"),
        Some(&cookie),
        &[("flow", &flow), ("code", &new[0].1)],
    )
    .await;
    assert_eq!(
        result_claims(&shim, &done.html, "s-una-2")["result"]["action"],
        "regenerate"
    );
    let (_, cookie, flow) = open_login(&shim, "una", "s-una-3").await;
    let path = format!("/step/{TENANT}/login");
    let page = post(
        &shim,
        &path,
        Some(&cookie),
        &[("flow", &flow), ("code", &old[3].1)],
    )
    .await;
    page.assert_clear(StatusCode::UNPROCESSABLE_ENTITY, "was replaced");
    // Refused like any wrong code: it counted, and signs nobody in.
    let status = shim.state.service.status(&shim.who("una")).await.unwrap();
    assert_eq!(status.consecutive_failures, 1);
    let flow = field(&page.html, "flow").unwrap();
    let bob = shim.state.service.issue(&shim.who("bob")).await.unwrap();
    let wrong = bob.codes[0].code.expose_secret().clone();
    let page = post(
        &shim,
        &path,
        Some(&cookie),
        &[("flow", &flow), ("code", &wrong)],
    )
    .await;
    page.assert_clear(StatusCode::UNPROCESSABLE_ENTITY, "That code is not right.");
    assert!(!page.html.contains("was replaced"));
    // After the user deletes the codes, nothing of the old set is kept.
    shim.state.service.delete(&shim.who("una")).await.unwrap();
    let since = now() - 3600;
    assert!(
        shim.state
            .service
            .store()
            .replaced(TENANT, "una", since)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn pages_speak_the_language_the_idp_or_the_browser_asks_for() {
    let shim = start(10).await;
    enrol(&shim, "lea", "s-lea").await;
    let path = format!("/step/{TENANT}/login");
    let open = |state: &'static str, extra: Value, accept: Option<&'static str>| {
        let mut claims = session(&shim, "lea", state, "login");
        claims
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let token = sign(&claims, STEP_SECRET);
        let url = url::Url::parse_with_params(
            &format!("{}{path}", shim.base),
            &[("state", state), ("session_token", token.as_str())],
        )
        .unwrap();
        let mut req = shim.http.get(url);
        if let Some(a) = accept {
            req = req.header(reqwest::header::ACCEPT_LANGUAGE, a);
        }
        req.send()
    };
    let lang = |r: &reqwest::Response| {
        r.headers()[reqwest::header::CONTENT_LANGUAGE]
            .to_str()
            .unwrap()
            .to_owned()
    };
    let r = open("s-l1", json!({}), Some("fr-CH, de;q=0.5"))
        .await
        .unwrap();
    assert_eq!(lang(&r), "fr");
    let html = r.text().await.unwrap();
    assert!(html.contains("<html lang=\"fr\""), "{html}");
    assert!(html.contains("Saisissez un code de secours"));
    let r = open("s-l2", json!({"ui_locales": "es de"}), Some("fr"))
        .await
        .unwrap();
    assert_eq!(lang(&r), "de");
    let r = open("s-l3", json!({"locale": "fr"}), Some("de"))
        .await
        .unwrap();
    assert_eq!(lang(&r), "fr");
    let r = open("s-l4", json!({}), Some("es, fr;q=0")).await.unwrap();
    assert_eq!(lang(&r), "en");
    // The language is carried by the flow: a refusal later in it is in German.
    let r = open(
        "s-l5",
        json!({"ui_locales": "de", "zoneinfo": "Europe/Berlin"}),
        None,
    )
    .await
    .unwrap();
    let cookie = r
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|v| v.starts_with("bc_flow_"))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let flow = field(&r.text().await.unwrap(), "flow").unwrap();
    let page = post(
        &shim,
        &path,
        Some(&cookie),
        &[("flow", &flow), ("code", "x")],
    )
    .await;
    assert_eq!(page.headers[reqwest::header::CONTENT_LANGUAGE], "de");
    assert!(page.html.contains("<html lang=\"de\""));
}

/// Issue 17: with `replace_on_use`, a right code's replacement is shown once
/// (with copy, download and print) before the signed success goes back; the
/// old code no longer works and the new one does.
#[tokio::test]
async fn replace_on_use_shows_the_new_code_before_handing_back() {
    let shim = start_with(PolicyOverrides {
        count: Some(4),
        replace_on_use: Some(true),
        ..PolicyOverrides::default()
    })
    .await;
    let codes = enrol(&shim, "alice", "s-enrol").await;
    let path = format!("/step/{TENANT}/login");
    let (_, cookie, flow) = open_login(&shim, "alice", "s-r1").await;
    let page = post(
        &shim,
        &path,
        Some(&cookie),
        &[("flow", &flow), ("code", &codes[1].1)],
    )
    .await;
    page.assert_clear(StatusCode::OK, "Save your new backup code");
    let shown = codes_of(&page.html);
    assert_eq!(shown.len(), 1);
    assert_eq!(shown[0].0, 2, "the same number");
    assert_ne!(shown[0].1, codes[1].1);
    for part in [
        "id=\"copy-codes\"",
        "id=\"download-codes\"",
        "id=\"print-codes\"",
    ] {
        assert!(page.html.contains(part), "{part}");
    }
    assert!(
        !page.html.contains("data-autosubmit"),
        "the user goes back once the code is saved"
    );
    let claims = result_claims(&shim, &page.html, "s-r1");
    assert_eq!(claims["result"]["status"], "success");
    assert_eq!(claims["result"]["number"], 2);
    assert_eq!(claims["result"]["remaining"], 4, "the set keeps its size");
    // The finished flow posted again changes nothing: no second replacement.
    let again = post(
        &shim,
        &path,
        Some(&cookie),
        &[("flow", &flow), ("code", &shown[0].1)],
    )
    .await;
    assert!(codes_of(&again.html).is_empty());
    // At the next login the old code is refused and the new one works.
    let (_, cookie, flow) = open_login(&shim, "alice", "s-r2").await;
    let old = post(
        &shim,
        &path,
        Some(&cookie),
        &[("flow", &flow), ("code", &codes[1].1)],
    )
    .await;
    old.assert_clear(StatusCode::UNPROCESSABLE_ENTITY, "");
    let flow = field(&old.html, "flow").unwrap();
    let new = post(
        &shim,
        &path,
        Some(&cookie),
        &[("flow", &flow), ("code", &shown[0].1)],
    )
    .await;
    new.assert_clear(StatusCode::OK, "Save your new backup code");
    assert_ne!(codes_of(&new.html)[0].1, shown[0].1);
}
