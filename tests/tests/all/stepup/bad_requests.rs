//! Every bad input of the step-up issue, refused with an OpenID error or a
//! page, and nothing changed.

use backup_codes_harness::db::{Backend, snapshot};
use backup_codes_harness::idp::{Alg, now};
use backup_codes_harness::stepup::{ENTRA_REDIRECT, authorize, form_action, param, with};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{Env, Request, USER, env_on, posted_error};

/// A bad request: its name, the request, and the error posted back (`None`:
/// a 400 page, no redirect).
type Case = (&'static str, Request, Option<&'static str>);

/// Every bad input of the issue, each refused, nothing changed.
#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_are_refused_and_change_nothing() {
    let env = env_on(Backend::Sqlite).await;
    env.enrol(USER).await;
    let claims = env.entra.hint_claims(USER);
    let good = env.entra.hint(&env.idp, USER);
    let base = env.entra.request(&good);
    let mut cases = hints_signed_wrongly(&env, &claims, &base);
    cases.extend(hints_with_wrong_claims(&env, &claims, &good, &base));
    cases.extend(bad_parameters(&base));
    cases.extend(bad_clients(&env, &base));
    let before = snapshot(&env.db.url).await.unwrap();
    for (name, request, expected) in &cases {
        is_refused(&env, name, request, *expected).await;
    }
    assert_eq!(
        snapshot(&env.db.url).await.unwrap(),
        before,
        "a refused request changed the store"
    );
    // Each of them with the good hint works (so the refusals above are theirs).
    let ok = authorize(&env.browser, &base).await.unwrap();
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.html);
}

/// `request` is refused: an OpenID error `expected` posted back to the
/// client with its state, or (`None`) a 400 page that sends nothing anywhere.
async fn is_refused(env: &Env, name: &str, request: &Request, expected: Option<&str>) {
    let page = authorize(&env.browser, request).await.unwrap();
    assert!(
        page.status.is_client_error(),
        "{name}: {} {}",
        page.status,
        page.html
    );
    assert!(!page.html.contains("name=\"flow\""), "{name} opened a flow");
    assert!(page.field("id_token").is_none(), "{name}");
    match expected {
        Some(code) => {
            let (error, state, action) = posted_error(&page);
            assert_eq!(error, code, "{name}");
            assert_eq!(state.as_deref(), Some(param(request, "state")), "{name}");
            assert_eq!(action, ENTRA_REDIRECT, "{name}");
        }
        None => {
            assert_eq!(page.status, StatusCode::BAD_REQUEST, "{name}");
            assert!(page.field("error").is_none(), "{name} posted somewhere");
            assert!(
                form_action(&page).is_none(),
                "{name} has a form: {}",
                page.html
            );
        }
    }
}

/// `claims` signed with the IdP's RSA key after `f` changed them.
fn signed(env: &Env, claims: &Value, f: &dyn Fn(&mut Value)) -> String {
    let mut c = claims.clone();
    f(&mut c);
    env.idp.sign(Alg::Rs256, &c)
}

/// `claims` signed with `key` under a header of `alg` and `kid`.
fn with_header(claims: &Value, alg: Algorithm, kid: Option<&str>, key: &EncodingKey) -> String {
    let mut h = Header::new(alg);
    h.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&h, claims, key).unwrap()
}

/// A JSON value as a token segment.
fn b64(v: &Value) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

/// Hints with the right claims, signed by a key or an algorithm the shim
/// must not take.
fn hints_signed_wrongly(env: &Env, claims: &Value, base: &Request) -> Vec<Case> {
    let idp = &env.idp;
    let foreign = rsa::RsaPrivateKey::new(&mut rand_core_06::OsRng, 2048).unwrap();
    let foreign = {
        use rsa::pkcs1::EncodeRsaPrivateKey as _;
        EncodingKey::from_rsa_der(foreign.to_pkcs1_der().unwrap().as_bytes())
    };
    vec![
        (
            "hint signed by an unknown key",
            with(
                base,
                "id_token_hint",
                Some(&with_header(
                    claims,
                    Algorithm::RS256,
                    Some("not-in-jwks"),
                    &foreign,
                )),
            ),
            Some("invalid_request"),
        ),
        (
            "hint with a real kid and a foreign key",
            with(
                base,
                "id_token_hint",
                Some(&with_header(
                    claims,
                    Algorithm::RS256,
                    Some("rsa-1"),
                    &foreign,
                )),
            ),
            Some("invalid_request"),
        ),
        (
            "hint without kid",
            with(
                base,
                "id_token_hint",
                Some(&with_header(claims, Algorithm::RS256, None, &foreign)),
            ),
            Some("invalid_request"),
        ),
        (
            "hint alg none",
            with(
                base,
                "id_token_hint",
                Some(&format!(
                    "{}.{}.",
                    b64(&json!({"alg":"none","typ":"JWT","kid":"rsa-1"})),
                    b64(claims)
                )),
            ),
            Some("invalid_request"),
        ),
        (
            "hint HS256 with a real kid",
            with(
                base,
                "id_token_hint",
                Some(&with_header(
                    claims,
                    Algorithm::HS256,
                    Some("rsa-1"),
                    &EncodingKey::from_secret(b"guessable"),
                )),
            ),
            Some("invalid_request"),
        ),
        (
            "hint ES256 (a key of the JWKS, another algorithm)",
            with(base, "id_token_hint", Some(&idp.sign(Alg::Es256, claims))),
            Some("invalid_request"),
        ),
    ]
}

/// Hints signed by the IdP whose claims are not the ones of a good hint.
fn hints_with_wrong_claims(env: &Env, claims: &Value, good: &str, base: &Request) -> Vec<Case> {
    let rp = &env.entra;
    let now = now() as i64;
    vec![
        (
            "hint for another audience",
            with(
                base,
                "id_token_hint",
                Some(&signed(env, claims, &|c| c["aud"] = json!("someone-else"))),
            ),
            Some("invalid_request"),
        ),
        (
            "hint for the client id instead of the app id",
            with(
                base,
                "id_token_hint",
                Some(&signed(env, claims, &|c| c["aud"] = json!(rp.client_id))),
            ),
            Some("invalid_request"),
        ),
        (
            "hint from another issuer",
            with(
                base,
                "id_token_hint",
                Some(&signed(env, claims, &|c| {
                    c["iss"] = json!("https://evil.test/v2.0")
                })),
            ),
            Some("invalid_request"),
        ),
        (
            "hint of a tenant not allowed",
            with(
                base,
                "id_token_hint",
                Some(&signed(env, claims, &|c| {
                    c["tid"] = json!("other-tenant");
                    c["iss"] = json!("https://login.microsoftonline.com/other-tenant/v2.0");
                })),
            ),
            Some("invalid_request"),
        ),
        (
            "hint without the user's oid",
            with(
                base,
                "id_token_hint",
                Some(&signed(env, claims, &|c| {
                    c.as_object_mut().unwrap().remove("oid");
                })),
            ),
            Some("invalid_request"),
        ),
        (
            "hint older than the window",
            with(
                base,
                "id_token_hint",
                Some(&signed(env, claims, &|c| {
                    c["iat"] = json!(now - 700);
                    c["nbf"] = json!(now - 700);
                    c["exp"] = json!(now - 701);
                })),
            ),
            Some("login_required"),
        ),
        (
            "hint from the future",
            with(
                base,
                "id_token_hint",
                Some(&signed(env, claims, &|c| c["iat"] = json!(now + 600))),
            ),
            Some("login_required"),
        ),
        (
            "tampered hint",
            with(
                base,
                "id_token_hint",
                Some(&{
                    let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
                    let mut c = claims.clone();
                    c["oid"] = json!("someone-else");
                    parts[1] = b64(&c);
                    parts.join(".")
                }),
            ),
            Some("invalid_request"),
        ),
    ]
}

/// A good hint in a request whose other parameters are wrong.
fn bad_parameters(base: &Request) -> Vec<Case> {
    vec![
        (
            "no hint",
            with(base, "id_token_hint", None),
            Some("invalid_request"),
        ),
        (
            "no nonce",
            with(base, "nonce", None),
            Some("invalid_request"),
        ),
        (
            "response_type code",
            with(base, "response_type", Some("code")),
            Some("unsupported_response_type"),
        ),
        (
            "response_mode query",
            with(base, "response_mode", Some("query")),
            Some("invalid_request"),
        ),
        (
            "scope without openid",
            with(base, "scope", Some("profile")),
            Some("invalid_scope"),
        ),
        (
            "prompt=none",
            with(base, "prompt", Some("none")),
            Some("login_required"),
        ),
        (
            "claims asking an acr a backup code cannot meet",
            with(
                base,
                "claims",
                Some(
                    r#"{"id_token":{"acr":{"essential":true,"values":["knowledgeorinherence"]}}}"#,
                ),
            ),
            Some("access_denied"),
        ),
        (
            "claims asking an amr a backup code cannot meet",
            with(
                base,
                "claims",
                Some(r#"{"id_token":{"amr":{"essential":true,"values":["face","fido"]}}}"#),
            ),
            Some("access_denied"),
        ),
        (
            "claims asking another sub",
            with(
                base,
                "claims",
                Some(r#"{"id_token":{"sub":{"value":"someone-else"}}}"#),
            ),
            Some("access_denied"),
        ),
        (
            "malformed claims",
            with(base, "claims", Some("{\"id_token\": [")),
            Some("invalid_request"),
        ),
    ]
}

/// An unknown or missing client or redirect URI: a page, no redirect.
fn bad_clients(env: &Env, base: &Request) -> Vec<Case> {
    let mut cases = vec![
        (
            "unknown client",
            with(base, "client_id", Some("someone")),
            None,
        ),
        ("no client", with(base, "client_id", None), None),
        ("no redirect_uri", with(base, "redirect_uri", None), None),
    ];
    for bad in [
        format!("{ENTRA_REDIRECT}/"),
        ENTRA_REDIRECT.replace("login.", "LOGIN."),
        ENTRA_REDIRECT.replace("https:", "http:"),
        ENTRA_REDIRECT.replace("microsoftonline.com", "microsoftonline.com.evil.test"),
        format!("{ENTRA_REDIRECT}?next=x"),
        // Another client's registered URI is not this client's.
        env.other_rp.redirect.clone(),
    ] {
        cases.push((
            "unregistered redirect_uri",
            with(base, "redirect_uri", Some(&bad)),
            None,
        ));
    }
    cases
}
