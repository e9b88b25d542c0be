//! Codes typed in the login page: refusals that spend nothing, a signed
//! success, a new set from the low-codes notice, lockout, finished flows and
//! reloads, and a code of the replaced set.

use backup_codes_harness::step::Page;
use reqwest::StatusCode;
use serde_json::Value;

use super::{ISSUER, Shim, StepPage, TENANT, now, result_claims, session, start, way_back};

#[tokio::test]
async fn codes_in_the_pages_produce_signed_results() {
    let shim = start(4).await;
    let codes = shim.enrol("alice", "s-enrol").await;
    assert_eq!(
        codes.iter().map(|c| c.0).collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );
    let (cookie, flow) = open_accessible_login(&shim).await;
    refusals_spend_nothing(&shim, &cookie, &flow, &codes).await;
    let (page, set_id) = a_loose_right_code_signs_a_success(&shim, &cookie, &flow, &codes).await;
    let new_codes = a_new_set_from_the_notice(&shim, &page, &codes, &set_id).await;
    old_codes_are_replaced_and_new_ones_work_once(&shim, &codes, &new_codes).await;
}

/// Login page: an accessible code field. Its cookie and flow.
async fn open_accessible_login(shim: &Shim) -> (String, String) {
    let entry = shim
        .enter(
            "login",
            &session(shim, "alice", "s-login", "login"),
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
    (entry.cookie(), entry.field("flow").unwrap())
}

async fn refusals_spend_nothing(shim: &Shim, cookie: &str, flow: &str, codes: &[(u8, String)]) {
    // Without the flow cookie (CSRF): refused, nothing spent.
    shim.type_code(None, flow, &codes[1].1)
        .await
        .assert_clear(StatusCode::FORBIDDEN, "security check");
    shim.type_code(Some("bc_flow_x=y"), flow, &codes[1].1)
        .await
        .assert_clear(StatusCode::FORBIDDEN, "security check");
    // A forged flow token.
    shim.type_code(Some(cookie), &format!("{flow}x"), &codes[1].1)
        .await
        .assert_clear(StatusCode::FORBIDDEN, "expired");

    // A typo: caught by the check symbol, tied to the field, not counted.
    let typo = {
        let mut c = codes[1].1.clone();
        let last = c.pop().unwrap();
        c.push(if last == '7' { '8' } else { '7' });
        c
    };
    let page = shim.type_code(Some(cookie), flow, &typo).await;
    page.assert_clear(StatusCode::UNPROCESSABLE_ENTITY, "typo");
    assert!(
        page.html
            .contains("aria-describedby=\"code-hint code-error\"")
    );
    assert!(page.html.contains("aria-invalid=\"true\""));

    // A wrong code (another user's): counted, with the attempts left.
    let wrong = shim.foreign_code().await;
    shim.type_code(Some(cookie), flow, &wrong)
        .await
        .assert_clear(StatusCode::UNPROCESSABLE_ENTITY, "4 attempts left");
}

/// The right code, typed loosely: a signed success. Few codes are left, so
/// the notice offers a new set before continuing. The page, and the set's id.
async fn a_loose_right_code_signs_a_success(
    shim: &Shim,
    cookie: &str,
    flow: &str,
    codes: &[(u8, String)],
) -> (Page, Value) {
    let loose = format!(" {} ", codes[1].1.to_lowercase().replace('-', " "));
    let page = shim.type_code(Some(cookie), flow, &loose).await;
    page.assert_clear(StatusCode::OK, "Code #2 was accepted");
    let claims = result_claims(shim, &page, "s-login");
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["iss"], shim.base());
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
    for (_, c) in codes {
        assert!(!page.html.contains(c.as_str()));
    }

    // The flow cannot finish twice.
    shim.type_code(Some(cookie), flow, &codes[2].1)
        .await
        .assert_clear(StatusCode::FORBIDDEN, "expired");
    let set_id = result["set_id"].clone();
    (page, set_id)
}

/// Regenerate from the notice: a new set, confirmed; the result carries the
/// login and the new set. The new codes.
async fn a_new_set_from_the_notice(
    shim: &Shim,
    notice: &Page,
    codes: &[(u8, String)],
    set_id: &Value,
) -> Vec<(u8, String)> {
    let regen_cookie = notice.cookie();
    let regen_flow = notice.field("flow").unwrap();
    let shown = shim
        .post(
            &shim.step.path("enroll/issue"),
            Some(&regen_cookie),
            &[("flow", &regen_flow)],
        )
        .await;
    shown.assert_clear(StatusCode::OK, "not shown again once you leave this page");
    let new_codes = shown.numbered_codes();
    let flow2 = shown.field("flow").unwrap();
    // An old code does not confirm the new set.
    let activate = shim.step.path("enroll/activate");
    let page = shim
        .post(
            &activate,
            Some(&regen_cookie),
            &[("flow", &flow2), ("code", &codes[3].1)],
        )
        .await;
    page.assert_clear(StatusCode::UNPROCESSABLE_ENTITY, "not one of the new set");
    assert_eq!(
        page.numbered_codes(),
        new_codes,
        "the new codes stay on the page until the set is confirmed"
    );
    let done = shim
        .post(
            &activate,
            Some(&regen_cookie),
            &[("flow", &flow2), ("code", &new_codes[3].1)],
        )
        .await;
    let claims = result_claims(shim, &done, "s-login");
    assert_eq!(claims["result"]["action"], "verify");
    assert_eq!(claims["result"]["number"], 2);
    assert_eq!(claims["result"]["regenerated"]["action"], "enroll");
    assert_eq!(claims["result"]["regenerated"]["count"], 4);
    assert_ne!(claims["result"]["regenerated"]["set_id"], *set_id);
    new_codes
}

/// Old codes are gone (and said to be of the replaced set); a used new code
/// is refused as already used; cancelling sends a signed failure.
async fn old_codes_are_replaced_and_new_ones_work_once(
    shim: &Shim,
    codes: &[(u8, String)],
    new_codes: &[(u8, String)],
) {
    let status = shim.service().status(&shim.who("alice")).await.unwrap();
    assert_eq!(status.active.unwrap().remaining, 4);
    let (_, cookie, flow) = shim.open_login("alice", "s-login-2").await;
    shim.type_code(Some(&cookie), &flow, &codes[3].1)
        .await
        .assert_clear(StatusCode::UNPROCESSABLE_ENTITY, "was replaced");
    let page = shim.type_code(Some(&cookie), &flow, &new_codes[0].1).await;
    assert_eq!(
        result_claims(shim, &page, "s-login-2")["result"]["number"],
        1
    );
    let (_, cookie, flow) = shim.open_login("alice", "s-login-3").await;
    shim.type_code(Some(&cookie), &flow, &new_codes[0].1)
        .await
        .assert_clear(StatusCode::UNPROCESSABLE_ENTITY, "already used");

    // Cancelling sends a signed failure.
    let page = shim
        .post(&shim.step.path("cancel"), Some(&cookie), &[("flow", &flow)])
        .await;
    page.assert_clear(StatusCode::OK, "Returning you");
    assert!(page.html.contains("data-autosubmit"));
    assert_eq!(
        result_claims(shim, &page, "s-login-3")["result"]["reason"],
        "cancelled"
    );
}

#[tokio::test]
async fn lockout_shows_the_time_then_fails_back_to_the_idp() {
    let shim = start(10).await;
    shim.enrol("carol", "s-carol").await;
    let wrong = shim.foreign_code().await;
    let (_, cookie, flow) = shim.open_login("carol", "s-lock").await;
    let free = shim.service().tenant(TENANT).unwrap().policy.free_failures;
    for _ in 1..free {
        shim.type_code(Some(&cookie), &flow, &wrong)
            .await
            .assert_clear(StatusCode::UNPROCESSABLE_ENTITY, "left");
    }
    // The failure that starts the lockout: the page tells until when.
    shim.type_code(Some(&cookie), &flow, &wrong)
        .await
        .assert_clear(StatusCode::UNPROCESSABLE_ENTITY, "try again after");
    // An attempt during the lockout: a clear page and a signed failure.
    let page = shim.type_code(Some(&cookie), &flow, &wrong).await;
    page.assert_clear(StatusCode::TOO_MANY_REQUESTS, "Too many wrong codes");
    assert!(page.headers.contains_key(reqwest::header::RETRY_AFTER));
    let claims = result_claims(&shim, &page, "s-lock");
    assert_eq!(claims["result"]["status"], "failed");
    assert_eq!(claims["result"]["reason"], "locked");
    assert!(claims["result"]["locked_until"].as_i64().unwrap() > now());
    // A new login while locked is refused at once, with the same failure.
    let page = shim
        .enter(
            "login",
            &session(&shim, "carol", "s-lock-2", "login"),
            "s-lock-2",
        )
        .await;
    page.assert_clear(StatusCode::TOO_MANY_REQUESTS, "Try again after");
    assert_eq!(
        result_claims(&shim, &page, "s-lock-2")["result"]["reason"],
        "locked"
    );
}

/// Issue 10, item 2: once a login flow has finished, posting its form again
/// (with the same cookie) is refused before the engine sees the code: no code
/// is consumed and no failure is counted.
#[tokio::test]
async fn a_finished_flow_is_refused_before_the_engine() {
    let shim = start(10).await;
    let codes = shim.enrol("erin", "s-erin").await;
    let (_, cookie, flow) = shim.open_login("erin", "s-finish").await;
    let page = shim.type_code(Some(&cookie), &flow, &codes[1].1).await;
    assert_eq!(
        result_claims(&shim, &page, "s-finish")["result"]["number"],
        2
    );
    let before = shim.stored("erin").await;
    let wrong = shim.foreign_code().await;
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
        shim.type_code(Some(&cookie), &flow, code)
            .await
            .assert_clear(StatusCode::FORBIDDEN, "expired");
    }
    assert_eq!(
        shim.stored("erin").await,
        before,
        "nothing reached the engine"
    );
    let status = shim.service().status(&shim.who("erin")).await.unwrap();
    assert_eq!(status.consecutive_failures, 0);
    assert_eq!(status.active.unwrap().remaining, 9);
    // Code 3 is still unused.
    let (_, cookie, flow) = shim.open_login("erin", "s-finish-2").await;
    let page = shim.type_code(Some(&cookie), &flow, &codes[2].1).await;
    assert_eq!(
        result_claims(&shim, &page, "s-finish-2")["result"]["number"],
        3
    );
}

#[tokio::test]
async fn a_reload_goes_on_and_a_finished_flow_offers_the_way_back() {
    let shim = start(10).await;
    let codes = shim.enrol("rita", "s-rita").await;
    let claims = session(&shim, "rita", "s-reload", "login");
    let token = shim.step.sign(&claims);
    let query = [("state", "s-reload"), ("session_token", token.as_str())];
    let path = shim.step.path("login");
    let entry = shim.get(&path, &query, None).await;
    let cookie = entry.cookie();
    assert!(entry.field("flow").is_some());
    entry.assert_clear(StatusCode::OK, "Enter a backup code");
    // Reload in the same browser: the same flow goes on.
    let again = shim.get(&path, &query, Some(&cookie)).await;
    again.assert_clear(StatusCode::OK, "Enter a backup code");
    let flow = again.field("flow").unwrap();
    // Another browser with the same link: the state is spent; a way back.
    let other = shim.get(&path, &query, None).await;
    other.assert_clear(StatusCode::CONFLICT, "used before");
    assert_eq!(
        way_back(&shim, &other, "s-reload")["reason"],
        "state_reused"
    );
    // Nor does a cookie of the right name with a value of the sender's choosing.
    let name = cookie.split('=').next().unwrap();
    let forged = shim
        .get(&path, &query, Some(&format!("{name}=chosen")))
        .await;
    forged.assert_clear(StatusCode::CONFLICT, "used before");
    // Nor the same token with another state, in the browser that opened it.
    let query2 = [("state", "s-other"), ("session_token", token.as_str())];
    let replay = shim.get(&path, &query2, Some(&cookie)).await;
    assert!(replay.status.is_client_error(), "{}", replay.status);
    assert!(!replay.html.contains("name=\"code\""));
    // The reloaded page's form works, once.
    let done = shim.type_code(Some(&cookie), &flow, &codes[1].1).await;
    assert_eq!(
        result_claims(&shim, &done, "s-reload")["result"]["number"],
        2
    );
    // Back to the entry after signing in: finished, a way back to the IdP.
    let back = shim.get(&path, &query, Some(&cookie)).await;
    back.assert_clear(StatusCode::FORBIDDEN, "already completed");
    assert_eq!(way_back(&shim, &back, "s-reload")["reason"], "state_reused");
    // The finished flow's form again: nothing checked, a signed `cancelled`.
    let resent = shim.type_code(Some(&cookie), &flow, &codes[2].1).await;
    resent.assert_clear(StatusCode::FORBIDDEN, "already completed");
    assert_eq!(way_back(&shim, &resent, "s-reload")["reason"], "cancelled");
    assert_eq!(
        shim.service()
            .status(&shim.who("rita"))
            .await
            .unwrap()
            .active
            .unwrap()
            .remaining,
        9
    );
    // A forged flow still gets no way back.
    let forged = shim.type_code(Some(&cookie), "x.y.z", &codes[2].1).await;
    forged.assert_clear(StatusCode::FORBIDDEN, "expired");
    assert!(!forged.html.contains("session_token"));
}

#[tokio::test]
async fn a_code_of_the_replaced_set_gets_its_own_message() {
    let shim = start(10).await;
    let old = shim.enrol("una", "s-una").await;
    // A new set, confirmed: the old codes stop working.
    let entry = shim
        .enter(
            "regenerate",
            &session(&shim, "una", "s-una-2", "regenerate"),
            "s-una-2",
        )
        .await;
    entry.cookie(); // its attributes
    let done = shim.step.finish_enrolment(&entry).await.unwrap().done;
    assert_eq!(
        result_claims(&shim, &done, "s-una-2")["result"]["action"],
        "regenerate"
    );
    let (_, cookie, flow) = shim.open_login("una", "s-una-3").await;
    let page = shim.type_code(Some(&cookie), &flow, &old[3].1).await;
    page.assert_clear(StatusCode::UNPROCESSABLE_ENTITY, "was replaced");
    // Refused like any wrong code: it counted, and signs nobody in.
    let status = shim.service().status(&shim.who("una")).await.unwrap();
    assert_eq!(status.consecutive_failures, 1);
    let flow = page.field("flow").unwrap();
    let wrong = shim.foreign_code().await;
    let page = shim.type_code(Some(&cookie), &flow, &wrong).await;
    page.assert_clear(StatusCode::UNPROCESSABLE_ENTITY, "That code is not right.");
    assert!(!page.html.contains("was replaced"));
    // After the user deletes the codes, nothing of the old set is kept.
    shim.service().delete(&shim.who("una")).await.unwrap();
    let since = now() - 3600;
    assert!(
        shim.service()
            .store()
            .replaced(TENANT, "una", since)
            .await
            .unwrap()
            .is_none()
    );
}
