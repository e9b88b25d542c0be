//! Issue 10, item 6, and issue 16: the demo tenant's secrets, one per purpose.

use std::collections::BTreeMap;
use std::time::Duration;

use backup_codes_harness::client::ShimClient;
use backup_codes_harness::db::{Backend, TestDb};
use backup_codes_harness::idp::{now, random_id};
use backup_codes_harness::shim::{InProcess, test_config};
use backup_codes_harness::step::{StepClient, sign_hs256};
use backup_codes_shim::demo::{
    AUDIENCE as DEMO_AUDIENCE, ISSUER as DEMO_ISSUER, TENANT as DEMO_TENANT,
};
use backup_codes_shim::webhooks::sign::{WebhookSecret, signature_header};
use base64::Engine as _;
use reqwest::StatusCode;
use secrecy::ExposeSecret as _;
use serde_json::{Value, json};

/// Issue 10, item 6: the demo tenant's API, step and webhook secrets differ
/// (derived per purpose from its one stored secret), so its API token opens
/// no step, and its receiver takes only what the webhook secret signs.
#[tokio::test(flavor = "multi_thread")]
async fn the_demo_tenant_keeps_one_secret_per_purpose() {
    let db = TestDb::new(Backend::Sqlite).await.unwrap();
    let mut config = test_config(&db.url, BTreeMap::new());
    assert!(backup_codes_shim::demo::add_to(&mut config, db.dir.path()).unwrap());
    let demo = &config.tenants[DEMO_TENANT];
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
    let claims = the_api_and_step_secrets_open_only_their_doors(&shim, &api, &step).await;

    // Issue 16: the demo's webhooks have a secret of their own, and the
    // demo's receiver takes only what that secret signs.
    let webhook = demo.webhooks.endpoints["demo"]
        .secret
        .expose_secret()
        .to_owned();
    assert!(webhook.starts_with("whsec_"));
    let key = WebhookSecret::parse(&webhook).unwrap();
    for other in [&api, &step] {
        let derived = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(other)
            .unwrap();
        assert_ne!(key.expose_key(), derived.as_slice());
    }
    the_receiver_takes_only_what_the_webhook_secret_signs(&shim, &key, [&api, &step], &claims)
        .await;
    shim.stop().await;
}

/// A session token signed with the API secret opens no step, and the step
/// secret signs no API token. The claims of the API token that worked.
async fn the_api_and_step_secrets_open_only_their_doors(
    shim: &InProcess,
    api: &str,
    step: &str,
) -> Value {
    let client = StepClient::new(&shim.url, DEMO_TENANT, DEMO_ISSUER, api).unwrap();
    // A session token signed with the API secret: refused, no flow.
    let (page, _) = client.open("enroll", "alice").await.unwrap();
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.html);
    assert!(page.field("flow").is_none());
    let with_step = StepClient::new(&shim.url, DEMO_TENANT, DEMO_ISSUER, step).unwrap();
    let (page, _) = with_step.open("enroll", "alice").await.unwrap();
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    // And the step secret signs no API token.
    let mut claims = json!({"iss": DEMO_ISSUER, "aud": DEMO_AUDIENCE,
        "sub": "alice", "iat": now(), "exp": now() + 60, "jti": random_id(), "scope": "issue"});
    let api_client = ShimClient::new(&shim.url).unwrap();
    let r = api_client
        .issue(DEMO_TENANT, "alice", &sign_hs256(&claims, step))
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    claims["jti"] = json!(random_id());
    let r = api_client
        .issue(DEMO_TENANT, "alice", &sign_hs256(&claims, api))
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::CREATED);
    claims
}

/// The demo's receiver refuses what the API or step secret signs and a
/// bearer token (`claims` signed with the API secret), keeps what the
/// webhook secret `key` signs, and shows the real events.
async fn the_receiver_takes_only_what_the_webhook_secret_signs(
    shim: &InProcess,
    key: &WebhookSecret,
    others: [&str; 2],
    claims: &Value,
) {
    let api = others[0];
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
    for other in others {
        let as_whsec = format!(
            "whsec_{}",
            base64::engine::general_purpose::STANDARD.encode(other.as_bytes())
        );
        let wrong = WebhookSecret::parse(&as_whsec).unwrap();
        let sig = signature_header("msg_x", ts, body, &[&wrong]);
        assert_eq!(
            post(sig, "msg_x").await.unwrap().status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let bearer = http
        .post(&hook)
        .bearer_auth(sign_hs256(claims, api))
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), StatusCode::BAD_REQUEST);
    // The real events (issued for alice) arrive, signed with the demo's secret.
    let sig = signature_header("msg_ok", ts, body, &[key]);
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
}
