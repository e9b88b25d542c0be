//! The pages around the step: static assets, the demo's tiny identity
//! provider, and the language a page speaks.

use std::collections::BTreeMap;

use backup_codes_harness::db::{Backend, TestDb};
use backup_codes_harness::shim::{InProcess, test_config};
use backup_codes_harness::step::{Page, StepClient};
use backup_codes_shim::demo::{self, ISSUER as DEMO_ISSUER, TENANT as DEMO_TENANT};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_LANGUAGE, CONTENT_TYPE, LOCATION, SET_COOKIE};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use super::{Shim, StepPage, session, start};

#[tokio::test]
async fn static_assets_are_served_and_demo_is_off_with_tenants() {
    let shim = start(10).await;
    let css = shim.get("/static/step.css", &[], None).await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(
        css.headers[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    let js = shim.get("/static/step.js", &[], None).await;
    assert_eq!(js.status, StatusCode::OK);
    let demo = shim.get("/demo", &[], None).await;
    assert_eq!(demo.status, StatusCode::NOT_FOUND);
}

/// A shim in demo mode: no tenant configured, the demo tenant added for the
/// address it listens on.
async fn start_demo() -> Shim {
    let db = TestDb::new(Backend::Sqlite).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut config = test_config(&db.url, BTreeMap::new());
    config.public_url = base.parse().unwrap();
    assert!(demo::add_to(&mut config, db.dir.path()).unwrap());
    assert!(config.demo);
    let shim = InProcess::start_on(listener, &config).await.unwrap();
    let step_secret = config.tenants[DEMO_TENANT].step_secret.as_ref().unwrap();
    let step = StepClient::new(
        &shim.url,
        DEMO_TENANT,
        DEMO_ISSUER,
        step_secret.expose_secret(),
    )
    .unwrap();
    Shim {
        shim,
        step,
        _db: db,
    }
}

#[tokio::test]
async fn demo_mode_plays_a_tiny_idp() {
    let shim = start_demo().await;
    shim.get("/demo", &[], None)
        .await
        .assert_clear(StatusCode::OK, "tiny identity provider");
    let start = shim
        .get(
            "/demo/start",
            &[("user", "dora"), ("action", "enroll")],
            None,
        )
        .await;
    assert_eq!(start.status, StatusCode::SEE_OTHER);
    let demo_cookie = start.headers[SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let location = start.headers[LOCATION].to_str().unwrap();
    assert!(location.starts_with(&format!("{}/step/demo/enroll?", shim.base())));
    let entry = shim.get(&location[shim.base().len()..], &[], None).await;
    entry.assert_clear(StatusCode::OK, "Set up backup codes");
    let cookie = entry.cookie();
    let shown = shim
        .post(
            "/step/demo/enroll/issue",
            Some(&cookie),
            &[("flow", &entry.field("flow").unwrap())],
        )
        .await;
    let codes = shown.numbered_codes();
    assert_eq!(codes.len(), 10);
    let done = shim
        .post(
            "/step/demo/enroll/activate",
            Some(&cookie),
            &[
                ("flow", &shown.field("flow").unwrap()),
                ("code", &codes[4].1),
            ],
        )
        .await;
    assert_eq!(
        done.handoff_action().as_deref(),
        Some(format!("{}/demo/continue", shim.base()).as_str())
    );
    let handed_back = [
        ("state", done.field("state").unwrap()),
        ("session_token", done.field("session_token").unwrap()),
    ];
    let handed_back: Vec<(&str, &str)> =
        handed_back.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let result = shim
        .post("/demo/continue", Some(&demo_cookie), &handed_back)
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
    let refused = shim.post("/demo/continue", None, &handed_back).await;
    refused.assert_clear(StatusCode::FORBIDDEN, "not the one this demo sent");
}

#[tokio::test]
async fn pages_speak_the_language_the_idp_or_the_browser_asks_for() {
    let shim = start(10).await;
    shim.enrol("lea", "s-lea").await;
    let path = shim.step.path("login");
    let open = |state: &'static str, extra: Value, accept: Option<&'static str>| {
        let mut claims = session(&shim, "lea", state, "login");
        claims
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let token = shim.step.sign(&claims);
        let (step, path) = (&shim.step, &path);
        async move {
            let headers: Vec<(&str, &str)> =
                accept.map(|a| ("accept-language", a)).into_iter().collect();
            step.get_with_headers(
                path,
                &[("state", state), ("session_token", token.as_str())],
                &headers,
            )
            .await
            .unwrap()
        }
    };
    let lang = |p: &Page| p.headers[CONTENT_LANGUAGE].to_str().unwrap().to_owned();
    let r = open("s-l1", json!({}), Some("fr-CH, de;q=0.5")).await;
    assert_eq!(lang(&r), "fr");
    assert!(r.html.contains("<html lang=\"fr\""), "{}", r.html);
    assert!(r.html.contains("Saisissez un code de secours"));
    let r = open("s-l2", json!({"ui_locales": "es de"}), Some("fr")).await;
    assert_eq!(lang(&r), "de");
    let r = open("s-l3", json!({"locale": "fr"}), Some("de")).await;
    assert_eq!(lang(&r), "fr");
    let r = open("s-l4", json!({}), Some("es, fr;q=0")).await;
    assert_eq!(lang(&r), "en");
    // The language is carried by the flow: a refusal later in it is in German.
    let r = open(
        "s-l5",
        json!({"ui_locales": "de", "zoneinfo": "Europe/Berlin"}),
        None,
    )
    .await;
    let cookie = r.flow_cookie().unwrap();
    let flow = r.field("flow").unwrap();
    let page = shim.type_code(Some(&cookie), &flow, "x").await;
    assert_eq!(page.headers[CONTENT_LANGUAGE], "de");
    assert!(page.html.contains("<html lang=\"de\""));
}
