//! Malformed, nested, oversized, invalid UTF-8, look-alike and wrong-type
//! bodies, unknown tenants and over-long subjects: 4xx, never 5xx, and
//! nothing written.

use backup_codes_harness::client::{RawBody, ShimClient};
use backup_codes_harness::db::Backend;
use backup_codes_harness::idp::Alg;
use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{Env, TENANT};

async fn bad_input(backend: Backend) {
    let env = Env::new(backend, Alg::Hs256).await;
    let subject = "erin";
    env.enroll(subject).await;
    let before = env.stored(subject).await;
    let verify = format!("{}/verify", ShimClient::codes_path(TENANT, subject));
    let bodies: Vec<(&str, RawBody)> = vec![
        ("malformed json", RawBody::raw_json("{\"code\": ")),
        ("not an object", RawBody::raw_json("[1,2,3]")),
        ("wrong type", RawBody::json(&json!({"code": 12345}))),
        ("missing field", RawBody::json(&json!({}))),
        (
            "unknown field",
            RawBody::json(&json!({"code": "ABCDE", "admin": true})),
        ),
        (
            "invalid utf-8",
            RawBody::raw_json(b"{\"code\": \"\xff\xfe\"}".to_vec()),
        ),
        (
            "deeply nested",
            RawBody::raw_json(format!("{}{}", "[".repeat(5000), "]".repeat(5000))),
        ),
        (
            "oversized",
            RawBody::json(&json!({"code": "A".repeat(64 * 1024)})),
        ),
        (
            "code of 10 KB",
            RawBody::json(&json!({"code": "A".repeat(10 * 1024)})),
        ),
        ("empty code", RawBody::json(&json!({"code": ""}))),
        (
            "look-alike",
            RawBody::json(&json!({"code": "АВСDE-FGHJK-MNPQ"})),
        ),
        (
            "wrong content type",
            RawBody {
                content_type: "text/plain",
                bytes: b"{\"code\":\"x\"}".to_vec(),
            },
        ),
    ];
    for (name, body) in bodies {
        let r = env
            .client
            .send(Method::POST, &verify, Some(&env.token(subject)), Some(body))
            .await
            .unwrap();
        assert!(
            r.status.is_client_error(),
            "{name}: {} {}",
            r.status,
            r.text
        );
        assert!(
            !r.text.is_empty() && r.json["error"].is_string(),
            "{name}: clear message, got {}",
            r.text
        );
    }
    let long_subject = "x".repeat(256);
    let r = env
        .client
        .issue(TENANT, &long_subject, &env.token(&long_subject))
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.json["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_subject"))
    );
    let r = env
        .client
        .issue("no-such-tenant", subject, &env.token(subject))
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.json["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_tenant"))
    );
    let r = env
        .client
        .issue(TENANT, "ctl\u{7}char", &env.token("ctl\u{7}char"))
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = env
        .client
        .activate(TENANT, subject, &env.token(subject), "ABCDE")
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::CONFLICT, "no pending set: {}", r.text);
    let r = env
        .client
        .verify(TENANT, "nobody", &env.token("nobody"), "ABCDE")
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(env.stored(subject).await, before, "nothing written");
    assert_eq!(env.stored(&long_subject[..255]).await, (None, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_is_4xx_and_writes_nothing_on_sqlite() {
    bad_input(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_is_4xx_and_writes_nothing_on_postgres() {
    bad_input(Backend::Postgres).await;
}
