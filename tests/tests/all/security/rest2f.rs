//! The REST second factor as LemonLDAP::NG calls it.

use backup_codes_harness::client::{RawBody, Reply, basic_auth};
use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{Env, OTHER, REST2F_ID, TENANT, env, rest2f_basic, rest2f_secret};

/// The REST second factor as LemonLDAP::NG calls it: JSON booleans, a user
/// without codes answered as a wrong code, typed codes checked strictly, and
/// every bad request refused with nothing written.
#[tokio::test(flavor = "multi_thread")]
async fn the_rest_second_factor_answers_booleans_and_refuses_bad_requests() {
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

    // Bad requests: refused, nothing written.
    let before = env.snapshot().await;
    bad_requests_are_refused(&env, &codes, sub).await;
    malformed_codes_are_false_and_not_counted(&env, &codes, sub).await;
    assert_eq!(env.snapshot().await, before, "nothing was written");

    answers_are_booleans(&env, &codes, sub).await;
}

/// POST `body` to the tenant's REST second factor `op`, with `auth` as the
/// `Authorization` header.
async fn call(env: &Env, auth: Option<String>, op: &'static str, body: RawBody) -> Reply {
    env.api
        .send_authorized(
            Method::POST,
            &format!("/rest2f/{TENANT}/{op}"),
            auth.as_deref(),
            Some(body),
        )
        .await
        .unwrap()
}

/// A verify request as LemonLDAP::NG sends it.
fn verify_body(code: &str, user: &str) -> RawBody {
    RawBody::json(&json!({"user": user, "uid": user, "mail": "dwho@badwolf.org", "code": code}))
}

/// Unauthenticated or malformed requests: an HTTP error, not an answer.
async fn bad_requests_are_refused(env: &Env, codes: &[String], sub: &str) {
    let good = rest2f_basic(TENANT);
    for (auth, body, status) in [
        (None, verify_body(&codes[1], sub), StatusCode::UNAUTHORIZED),
        (
            Some(basic_auth(REST2F_ID, "wrong")),
            verify_body(&codes[1], sub),
            StatusCode::UNAUTHORIZED,
        ),
        (
            Some(basic_auth("someone-else", &rest2f_secret(TENANT))),
            verify_body(&codes[1], sub),
            StatusCode::UNAUTHORIZED,
        ),
        (
            Some(basic_auth(REST2F_ID, &rest2f_secret(OTHER))),
            verify_body(&codes[1], sub),
            StatusCode::UNAUTHORIZED,
        ),
        (
            Some(format!("Bearer {}", env.scoped(sub, "verify"))),
            verify_body(&codes[1], sub),
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
        let r = call(env, auth, "verify", body).await;
        assert_eq!(r.status, status, "{}", r.text);
        assert!(
            r.json.get("result").is_none(),
            "a refusal of the request is not an answer: {}",
            r.text
        );
    }
    let r = call(env, None, "verify", verify_body(&codes[1], sub)).await;
    assert!(r.headers.contains_key(reqwest::header::WWW_AUTHENTICATE));
}

async fn malformed_codes_are_false_and_not_counted(env: &Env, codes: &[String], sub: &str) {
    let good = rest2f_basic(TENANT);
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
        let r = call(env, Some(good.clone()), "verify", verify_body(&code, sub)).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.json, json!({"result": false, "reason": "invalid_code"}));
    }
}

/// Right, used and wrong codes, a user without codes, `init`, and a locked
/// set: each a JSON boolean with its reason.
async fn answers_are_booleans(env: &Env, codes: &[String], sub: &str) {
    let good = rest2f_basic(TENANT);
    // The right code: a JSON true with the details other callers read.
    let r = call(
        env,
        Some(good.clone()),
        "verify",
        verify_body(&codes[1], sub),
    )
    .await;
    assert_eq!(
        r.json,
        json!({"result": true, "number": 2, "remaining": 9, "low": false}),
        "{}",
        r.text
    );
    assert!(r.json["result"].is_boolean());
    // Used, wrong, and a user without codes: the same shape, false.
    let r = call(
        env,
        Some(good.clone()),
        "verify",
        verify_body(&codes[1], sub),
    )
    .await;
    assert_eq!(r.json, json!({"result": false, "reason": "already_used"}));
    let other = env
        .api
        .issue(TENANT, "msmith", &env.scoped("msmith", "issue"))
        .await
        .unwrap();
    let wrong = backup_codes_harness::client::codes(&other)[0].clone();
    let r = call(env, Some(good.clone()), "verify", verify_body(&wrong, sub)).await;
    assert_eq!(r.json, json!({"result": false, "reason": "mismatch"}));
    let r = call(
        env,
        Some(good.clone()),
        "verify",
        verify_body(&wrong, "nobody"),
    )
    .await;
    assert_eq!(
        r.json,
        json!({"result": false, "reason": "mismatch"}),
        "like a wrong code"
    );
    // init: true only for a user with codes to type.
    let init = |user: &str| RawBody::json(&json!({"user": user, "uid": user}));
    assert_eq!(
        call(env, Some(good.clone()), "init", init(sub)).await.json["result"],
        true
    );
    assert_eq!(
        call(env, Some(good.clone()), "init", init("nobody"))
            .await
            .json["result"],
        false
    );
    // Locked: false with its reason, even for the right code.
    for _ in 0..10 {
        call(env, Some(good.clone()), "verify", verify_body(&wrong, sub)).await;
    }
    let r = call(
        env,
        Some(good.clone()),
        "verify",
        verify_body(&codes[2], sub),
    )
    .await;
    assert_eq!(r.json, json!({"result": false, "reason": "locked"}));
}
