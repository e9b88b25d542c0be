//! Showing and confirming a new set: a typo keeps the codes on the page, a
//! stale page confirms nothing, and `replace_on_use` shows a used code's
//! replacement before handing back.

use backup_codes_shim::config::PolicyOverrides;
use reqwest::StatusCode;

use super::{StepPage, result_claims, session, start, start_with};

#[tokio::test]
async fn a_typo_while_confirming_keeps_the_new_codes_on_the_page() {
    let shim = start(10).await;
    let entry = shim
        .enter("enroll", &session(&shim, "tom", "s-tom", "enroll"), "s-tom")
        .await;
    let cookie = entry.cookie();
    let flow = entry.field("flow").unwrap();
    let issue = shim.step.path("enroll/issue");
    let shown = shim.post(&issue, Some(&cookie), &[("flow", &flow)]).await;
    let codes = shown.numbered_codes();
    assert_eq!(codes.len(), 10);
    let flow = shown.field("flow").unwrap();
    assert!(!flow.contains(&codes[0].1), "the codes travel sealed");
    let activate = shim.step.path("enroll/activate");
    let typo = shim
        .post(
            &activate,
            Some(&cookie),
            &[("flow", &flow), ("code", "not-a-code")],
        )
        .await;
    typo.assert_clear(StatusCode::UNPROCESSABLE_ENTITY, "role=\"alert\"");
    assert_eq!(typo.numbered_codes(), codes, "the same codes, shown again");
    let flow = typo.field("flow").unwrap();
    let done = shim
        .post(
            &activate,
            Some(&cookie),
            &[("flow", &flow), ("code", &codes[4].1)],
        )
        .await;
    assert_eq!(
        result_claims(&shim, &done, "s-tom")["result"]["action"],
        "enroll"
    );
}

#[tokio::test]
async fn a_stale_page_never_shows_or_confirms_another_set() {
    let shim = start(10).await;
    let entry = shim
        .enter("enroll", &session(&shim, "vic", "s-vic", "enroll"), "s-vic")
        .await;
    let cookie = entry.cookie();
    let first_flow = entry.field("flow").unwrap();
    let issue = shim.step.path("enroll/issue");
    let activate = shim.step.path("enroll/activate");
    let a = shim
        .post(&issue, Some(&cookie), &[("flow", &first_flow)])
        .await;
    let flow_a = a.field("flow").unwrap();
    // A second set from the same entry page (another tab): B now waits.
    let b = shim
        .post(&issue, Some(&cookie), &[("flow", &first_flow)])
        .await;
    let codes_b = b.numbered_codes();
    // A's page cannot show A's codes again, nor confirm B: refused before
    // the engine, B still waits, nothing counted.
    for code in ["x", codes_b[0].1.as_str()] {
        let page = shim
            .post(
                &activate,
                Some(&cookie),
                &[("flow", &flow_a), ("code", code)],
            )
            .await;
        page.assert_clear(StatusCode::CONFLICT, "Nothing to confirm");
        assert!(page.numbered_codes().is_empty());
    }
    let status = shim.service().status(&shim.who("vic")).await.unwrap();
    assert!(status.active.is_none() && status.pending.is_some());
    assert_eq!(status.consecutive_failures, 0);
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
    let codes = shim.enrol("alice", "s-enrol").await;
    let (_, cookie, flow) = shim.open_login("alice", "s-r1").await;
    let page = shim.type_code(Some(&cookie), &flow, &codes[1].1).await;
    page.assert_clear(StatusCode::OK, "Save your new backup code");
    let shown = page.numbered_codes();
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
    let claims = result_claims(&shim, &page, "s-r1");
    assert_eq!(claims["result"]["status"], "success");
    assert_eq!(claims["result"]["number"], 2);
    assert_eq!(claims["result"]["remaining"], 4, "the set keeps its size");
    // The finished flow posted again changes nothing: no second replacement.
    let again = shim.type_code(Some(&cookie), &flow, &shown[0].1).await;
    assert!(again.numbered_codes().is_empty());
    // At the next login the old code is refused and the new one works.
    let (_, cookie, flow) = shim.open_login("alice", "s-r2").await;
    let old = shim.type_code(Some(&cookie), &flow, &codes[1].1).await;
    old.assert_clear(StatusCode::UNPROCESSABLE_ENTITY, "");
    let flow = old.field("flow").unwrap();
    let new = shim.type_code(Some(&cookie), &flow, &shown[0].1).await;
    new.assert_clear(StatusCode::OK, "Save your new backup code");
    assert_ne!(new.numbered_codes()[0].1, shown[0].1);
}
