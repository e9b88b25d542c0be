//! The session token at the step's entry: forged, expired, misaddressed and
//! replayed tokens and reused states are refused, and a token opens only the
//! step it names.

use backup_codes_harness::step::sign_hs256;
use base64::Engine as _;
use reqwest::StatusCode;
use serde_json::json;

use super::{Shim, StepPage, TENANT, now, result_claims, session, start};

#[tokio::test]
async fn bad_session_tokens_and_reused_state_are_refused() {
    let shim = start(10).await;
    forged_tokens_are_refused_and_spend_nothing(&shim).await;
    the_idps_bad_tokens_fail_back_signed(&shim).await;
    continue_urls_and_parameters_are_checked(&shim).await;
    replays_and_reused_states_are_refused(&shim).await;

    // Logging in without codes: a clear page and a signed failure.
    let page = shim
        .enter(
            "login",
            &session(&shim, "nobody", "s-none", "login"),
            "s-none",
        )
        .await;
    page.assert_clear(StatusCode::CONFLICT, "no active backup codes");
    assert_eq!(
        result_claims(&shim, &page, "s-none")["result"]["reason"],
        "not_enrolled"
    );
}

/// Tampered: the payload changed after signing. Not the IdP's token, so
/// nothing is signed back to anyone; the state is not spent.
async fn forged_tokens_are_refused_and_spend_nothing(shim: &Shim) {
    let good = shim
        .step
        .sign(&session(shim, "alice", "s-tampered", "enroll"));
    let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    let forged = session(shim, "mallory", "s-tampered", "enroll");
    parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(&forged).unwrap());
    let tampered = parts.join(".");
    let page = shim
        .step
        .enter("enroll", "s-tampered", &tampered)
        .await
        .unwrap();
    page.assert_clear(StatusCode::FORBIDDEN, "not valid");
    assert!(page.field("session_token").is_none());
    // Signed with another secret: the same.
    let other = sign_hs256(
        &session(shim, "alice", "s-tampered", "enroll"),
        "another-secret-0123456789abcdef0123456789",
    );
    let page = shim
        .step
        .enter("enroll", "s-tampered", &other)
        .await
        .unwrap();
    page.assert_clear(StatusCode::FORBIDDEN, "not valid");
    assert!(page.field("session_token").is_none());
    // The state was not spent by those refusals.
    shim.enter(
        "enroll",
        &session(shim, "alice", "s-tampered", "enroll"),
        "s-tampered",
    )
    .await
    .assert_clear(StatusCode::OK, "Set up backup codes");
}

/// Expired, for another audience or issuer, for another state: the IdP's
/// token, so a signed failure goes back.
async fn the_idps_bad_tokens_fail_back_signed(shim: &Shim) {
    let mut expired = session(shim, "alice", "s-expired", "login");
    expired["iat"] = json!(now() - 4000);
    expired["exp"] = json!(now() - 3600);
    let page = shim.enter("login", &expired, "s-expired").await;
    page.assert_clear(StatusCode::FORBIDDEN, "expired");
    let claims = result_claims(shim, &page, "s-expired");
    assert_eq!(claims["sub"], "alice");
    assert_eq!(
        claims["result"],
        json!({"status": "failed", "method": "backup_code", "action": "verify", "reason": "expired_token"})
    );

    // Wrong audience.
    let mut wrong = session(shim, "alice", "s-aud", "login");
    wrong["aud"] = json!("https://another-service.test/step");
    let page = shim.enter("login", &wrong, "s-aud").await;
    page.assert_clear(StatusCode::FORBIDDEN, "wrong audience");
    let claims = result_claims(shim, &page, "s-aud");
    assert_eq!(claims["result"]["reason"], "wrong_audience");

    // Wrong issuer, and a state claim that is not the query's state.
    let mut iss = session(shim, "alice", "s-iss", "login");
    iss["iss"] = json!("https://other-idp.test");
    shim.enter("login", &iss, "s-iss")
        .await
        .assert_clear(StatusCode::FORBIDDEN, "not issued by the expected");
    let mismatch = session(shim, "alice", "s-one", "login");
    let page = shim.enter("login", &mismatch, "s-two").await;
    page.assert_clear(StatusCode::FORBIDDEN, "another sign-in attempt");
    assert_eq!(
        result_claims(shim, &page, "s-two")["result"]["reason"],
        "state_mismatch"
    );
}

async fn continue_urls_and_parameters_are_checked(shim: &Shim) {
    // A continue URL the tenant does not list: refused, nothing sent anywhere.
    let mut evil = session(shim, "alice", "s-evil", "login");
    evil["continue_uri"] = json!("https://evil.test/continue");
    let page = shim.enter("login", &evil, "s-evil").await;
    page.assert_clear(StatusCode::BAD_REQUEST, "not registered");
    assert!(page.field("session_token").is_none());
    // A listed prefix: the result goes there.
    let mut listed = session(shim, "alice", "s-listed", "login");
    listed["continue_uri"] = json!("https://idp.test/interaction/abc/continue");
    listed["exp"] = json!(now() - 3600);
    listed["iat"] = json!(now() - 3700);
    let page = shim.enter("login", &listed, "s-listed").await;
    assert_eq!(
        page.handoff_action().as_deref(),
        Some("https://idp.test/interaction/abc/continue")
    );

    // Missing parameters.
    shim.get(&shim.step.path("login"), &[("state", "x")], None)
        .await
        .assert_clear(StatusCode::BAD_REQUEST, "missing");
    // Unknown tenant.
    shim.get("/step/nobody/login", &[], None)
        .await
        .assert_clear(StatusCode::NOT_FOUND, "does not belong");
}

async fn replays_and_reused_states_are_refused(shim: &Shim) {
    // Replayed: the same token and state a second time.
    let first = session(shim, "alice", "s-replay", "enroll");
    shim.enter("enroll", &first, "s-replay")
        .await
        .assert_clear(StatusCode::OK, "Set up backup codes");
    let page = shim.enter("enroll", &first, "s-replay").await;
    page.assert_clear(StatusCode::CONFLICT, "already used");
    assert_eq!(
        result_claims(shim, &page, "s-replay")["result"]["reason"],
        "state_reused"
    );
    // The same token (no state claim) with a fresh state: a replayed token.
    let mut no_state = session(shim, "alice", "unused", "enroll");
    no_state.as_object_mut().unwrap().remove("state");
    no_state["jti"] = json!("jti-no-state");
    shim.enter("enroll", &no_state, "s-fresh-1")
        .await
        .assert_clear(StatusCode::OK, "Set up backup codes");
    let page = shim.enter("enroll", &no_state, "s-fresh-2").await;
    page.assert_clear(StatusCode::CONFLICT, "replay");
    assert_eq!(
        result_claims(shim, &page, "s-fresh-2")["result"]["reason"],
        "replayed_token"
    );
    // Reused state with a new, valid token.
    let mut again = session(shim, "alice", "s-replay", "enroll");
    again["jti"] = json!("another-jti");
    let page = shim.enter("enroll", &again, "s-replay").await;
    page.assert_clear(StatusCode::CONFLICT, "already used");
    assert_eq!(
        result_claims(shim, &page, "s-replay")["result"]["reason"],
        "state_reused"
    );
}

/// Issue 10, item 1: a session token minted for the login step must not open
/// enrolment (the second-factor bypass), a token must name its step, and a
/// first enrolment never replaces codes.
#[tokio::test]
async fn a_session_token_opens_only_the_step_it_names() {
    let shim = start(4).await;
    let codes = shim.enrol("victim", "s-victim").await;
    let before = shim.stored("victim").await;

    // A login token at the enrolment and regeneration steps, with `aud` the
    // login URL (as an IdP mints it) or the tenant's audience: refused, with a
    // signed failure naming the step that was asked for.
    for (path, action) in [("enroll", "enroll"), ("regenerate", "regenerate")] {
        for aud in [
            json!(format!("{}/step/{TENANT}/login", shim.base())),
            json!("backup-codes"),
        ] {
            let state = format!("s-cross-{path}-{}", aud.as_str().unwrap().len());
            let mut claims = session(&shim, "victim", &state, "login");
            claims["aud"] = aud;
            let page = shim.enter(path, &claims, &state).await;
            page.assert_clear(StatusCode::FORBIDDEN, "another step");
            assert!(page.field("flow").is_none(), "no flow was opened");
            let result = result_claims(&shim, &page, &state)["result"].clone();
            assert_eq!(result["reason"], "wrong_step");
            assert_eq!(result["action"], action);
        }
    }
    // A token naming no step, at any step.
    for path in ["login", "enroll", "regenerate"] {
        let state = format!("s-bare-{path}");
        let mut claims = session(&shim, "victim", &state, path);
        claims.as_object_mut().unwrap().remove("step");
        let page = shim.enter(path, &claims, &state).await;
        page.assert_clear(StatusCode::FORBIDDEN, "another step");
        assert!(page.field("flow").is_none());
    }
    // `aud` naming another step's URL, with the right `step` claim.
    let mut claims = session(&shim, "victim", "s-aud-other", "login");
    claims["aud"] = json!(format!("{}/step/{TENANT}/enroll", shim.base()));
    shim.enter("login", &claims, "s-aud-other")
        .await
        .assert_clear(StatusCode::FORBIDDEN, "wrong audience");
    // A first enrolment for a subject who has codes: refused before the state
    // is spent, with a signed failure.
    let page = shim
        .enter(
            "enroll",
            &session(&shim, "victim", "s-first", "enroll"),
            "s-first",
        )
        .await;
    page.assert_clear(StatusCode::CONFLICT, "already has backup codes");
    assert_eq!(
        result_claims(&shim, &page, "s-first")["result"]["reason"],
        "already_enrolled"
    );
    assert_eq!(shim.stored("victim").await, before, "nothing changed");

    // The victim's codes still work.
    let (_, cookie, flow) = shim.open_login("victim", "s-still").await;
    let page = shim
        .post(
            &shim.step.path("login"),
            Some(&cookie),
            &[("flow", &flow), ("code", &codes[0].1)],
        )
        .await;
    assert_eq!(
        result_claims(&shim, &page, "s-still")["result"]["action"],
        "verify"
    );

    // The IdP says explicitly that codes may be replaced: `regenerate`. The
    // state refused above as a first enrolment was not spent.
    let mut regen = session(&shim, "victim", "s-first", "regenerate");
    regen["jti"] = json!("jti-regenerate");
    let entry = shim.enter("regenerate", &regen, "s-first").await;
    entry.assert_clear(StatusCode::OK, "Replace your backup codes");
    entry.cookie(); // its attributes
    let done = shim.step.finish_enrolment(&entry).await.unwrap().done;
    let result = result_claims(&shim, &done, "s-first")["result"].clone();
    assert_eq!(result["status"], "success");
    assert_eq!(result["action"], "regenerate");
}
