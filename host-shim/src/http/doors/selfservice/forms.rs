//! The self-service forms: create or replace a set, confirm it by typing one
//! code back, delete it, leave, sign out. Each goes through [`Post`] first.

use axum::extract::State;
use axum::response::Response;
use axum_extra::extract::cookie::CookieJar;

use crate::http::AppState;
use crate::http::doors::selfservice::home::{home_page, service_refusal};
use crate::http::doors::selfservice::login::start_login;
use crate::http::doors::selfservice::pages::{self, Notice};
use crate::http::doors::selfservice::session::{Post, form_token_sealed, session_cookie_name};
use crate::http::doors::selfservice::tenant::{self_path, tenant};
use crate::http::views::codes::{SetView, rows};
use crate::http::views::cookies::build as cookie;
use crate::http::views::refusal::{Refusal, bad_form};
use crate::http::views::sealed;
use crate::plugin::{Outcome, PluginError};
use crate::service::{IssueMode, ServiceError};
use crate::store::Mark;

/// A new set: a first one after any login, a replacement only after a strong one.
pub(super) async fn issue(
    State(state): State<AppState>,
    post: Post,
) -> Result<(CookieJar, Response), Refusal> {
    let Post {
        tenant: id,
        base,
        chrome,
        jar,
        session,
        ..
    } = post;
    let t = tenant(&state, &id)?;
    let mode = if session.strong_enough(&t) {
        IssueMode::Replace
    } else {
        IssueMode::First
    };
    let issued = match state.service.issue_as(&t.subject(&session.sub), mode).await {
        Ok(i) => i,
        // Codes exist and this login may not replace them: a strong login first.
        Err(ServiceError::AlreadyEnrolled) => return start_login(&t, &base, jar, true).await,
        Err(e) => return Err(service_refusal(e)),
    };
    // While the set waits for a code typed back, its codes travel sealed in
    // the form token, so a typo while confirming shows them again.
    let issued_at = t.now;
    let sealed = if issued.pending() {
        t.keys.sealing_key().and_then(|key| {
            sealed::seal(
                &key,
                &session.sid,
                &issued.set_id,
                issued_at,
                &rows(&issued),
            )
        })
    } else {
        None
    };
    let token = form_token_sealed(&t, &session, Some(issued.set_id.clone()), sealed)?;
    let page = pages::codes(&chrome, &base, t.id, &issued, issued_at, token, None);
    Ok((jar, page))
}

/// One code of the new set typed back.
pub(super) async fn activate(
    State(state): State<AppState>,
    post: Post,
) -> Result<(CookieJar, Response), Refusal> {
    let Post {
        tenant: id,
        base,
        chrome,
        jar,
        form,
        session,
        claims,
        ..
    } = post;
    let t = tenant(&state, &id)?;
    let set = claims.set.clone().ok_or_else(bad_form)?;
    let code = form.code.ok_or_else(bad_form)?;
    let who = t.subject(&session.sub);
    let home = |notice| home_page(&state, &t, &base, &chrome, &session, Some(notice));
    // Only the set this page issued may be confirmed from it, and only its
    // codes are shown again: a stale page (a set replaced or confirmed since)
    // is refused by the engine before any evaluation, and changes nothing.
    let again = |message: String, fingerprint: String| -> Result<(CookieJar, Response), Refusal> {
        let shown = claims
            .sealed
            .as_deref()
            .zip(t.keys.sealing_key())
            .and_then(|(s, key)| sealed::open(&key, &session.sid, &set, s));
        let token = form_token_sealed(&t, &session, Some(set.clone()), claims.sealed.clone())?;
        let view = match shown {
            Some((issued_at, codes)) => SetView {
                codes,
                fingerprint,
                issued_at,
                pending: true,
            },
            None => SetView {
                codes: Vec::new(),
                fingerprint: String::new(),
                issued_at: 0,
                pending: true,
            },
        };
        Ok((
            jar.clone(),
            pages::confirm_again(&chrome, &base, t.id, token, message, view),
        ))
    };
    let attempt = match state.service.activate(&who, Some(&set), code).await {
        Ok(a) => a,
        Err(ServiceError::Refused(PluginError::InvalidCode(f))) => {
            // A typo reached no engine: the set's short form is read for the page.
            let pending = match state.service.status(&who).await {
                Ok(s) => s.pending.filter(|p| p.set_id == set),
                Err(ServiceError::NotEnrolled) => None,
                Err(e) => return Err(service_refusal(e)),
            };
            let Some(pending) = pending else {
                return Ok((jar.clone(), home(Notice::NothingToConfirm).await?));
            };
            let message = crate::http::views::text::format_message(&chrome.t, f);
            return again(message, pending.fingerprint);
        }
        Err(ServiceError::Refused(PluginError::NoPendingSet)) => {
            return Ok((jar.clone(), home(Notice::NothingToConfirm).await?));
        }
        Err(e) => return Err(service_refusal(e)),
    };
    let fingerprint = attempt.fingerprint.clone().unwrap_or_default();
    match attempt.outcome {
        Outcome::Accepted(_) if attempt.set_id.as_deref() == Some(set.as_str()) => {
            Ok((jar.clone(), home(Notice::Active).await?))
        }
        Outcome::Accepted(_) | Outcome::Exhausted => Err(bad_form()),
        Outcome::Rejected(_) => again(chrome.msg("activate-mismatch"), fingerprint),
        Outcome::Locked(_) => Ok((jar.clone(), home(Notice::Locked).await?)),
    }
}

/// Without proof of saving: back to the home page, where the set shows as active.
pub(super) async fn done(
    State(state): State<AppState>,
    post: Post,
) -> Result<(CookieJar, Response), Refusal> {
    back_home(&state, post, Some(Notice::Active)).await
}

/// Delete the codes: only after a strong login.
pub(super) async fn delete(
    State(state): State<AppState>,
    post: Post,
) -> Result<(CookieJar, Response), Refusal> {
    let Post {
        tenant: id,
        base,
        chrome,
        jar,
        session,
        ..
    } = post;
    let t = tenant(&state, &id)?;
    if !session.strong_enough(&t) {
        return start_login(&t, &base, jar, true).await;
    }
    match state.service.delete(&t.subject(&session.sub)).await {
        Ok(()) | Err(ServiceError::NotEnrolled) => {}
        Err(e) => return Err(service_refusal(e)),
    }
    Ok((
        jar,
        home_page(&state, &t, &base, &chrome, &session, Some(Notice::Deleted)).await?,
    ))
}

/// Leave the codes page without confirming: home.
pub(super) async fn cancel(
    State(state): State<AppState>,
    post: Post,
) -> Result<(CookieJar, Response), Refusal> {
    back_home(&state, post, None).await
}

/// The home page for a posted form's session.
async fn back_home(
    state: &AppState,
    post: Post,
    notice: Option<Notice>,
) -> Result<(CookieJar, Response), Refusal> {
    let t = tenant(state, &post.tenant)?;
    let page = home_page(state, &t, &post.base, &post.chrome, &post.session, notice).await?;
    Ok((post.jar, page))
}

/// End the session.
pub(super) async fn logout(
    State(state): State<AppState>,
    post: Post,
) -> Result<(CookieJar, Response), Refusal> {
    let Post {
        tenant: id,
        base,
        chrome,
        jar,
        session,
        ..
    } = post;
    let t = tenant(&state, &id)?;
    // Ended on the server, on every instance: the cookie alone no longer
    // opens anything, even if the browser (or a copy of it) keeps it.
    let sid_sha256 = session.sid_sha256();
    let ended = Mark::SelfSessionEnded {
        tenant: t.id,
        sid_sha256: &sid_sha256,
    };
    if let Err(e) = state
        .service
        .spend(ended, session.exp.saturating_add(1))
        .await
    {
        tracing::error!(error = %e, "the single-use store is unavailable");
        return Err(crate::http::views::refusal::unavailable());
    }
    tracing::info!(tenant = t.id, "self-service session ended");
    let jar = jar.remove(cookie(
        &base,
        &self_path(t.id),
        session_cookie_name(t.id),
        String::new(),
        0,
    ));
    Ok((jar, pages::signed_out(&chrome, &base, t.id)))
}
