//! The regressions of the independent attack run (issue 10): JWKS refetches
//! that stalled a tenant, slow clients, flows that could never finish,
//! operations not bound to tokens, lockout answers and caching.

use std::collections::BTreeMap;
use std::time::Duration;

use backup_codes_harness::client::ShimClient;
use backup_codes_harness::db::{Backend, TestDb};
use backup_codes_harness::idp::{Alg, TestIdp, now, random_id};
use backup_codes_harness::shim::{InProcess, cheap_policy, test_config};
use backup_codes_harness::step::sign_hs256;
use reqwest::StatusCode;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{TENANT, env};

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
    tokio::time::sleep(backup_codes_shim::JWKS_REFETCH_INTERVAL + Duration::from_millis(200)).await;
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
    let metrics = backup_codes_shim::http_client()
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
