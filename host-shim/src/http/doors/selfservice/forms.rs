//! The self-service forms: create or replace a set, confirm it by typing one
//! code back, delete it, leave, sign out. Each goes through
//! [`Posted`] first, which looks the tenant
//! up and checks the session and the form token ([`SelfForms`]).

use axum::response::Response;
use axum_extra::extract::cookie::CookieJar;

use crate::http::doors::answer::Fault;
use crate::http::doors::form::Posted;
use crate::http::doors::selfservice::ctx::{SelfForms, SelfPost, SignedIn};
use crate::http::doors::selfservice::home::{home_page, self_page, service_refusal};
use crate::http::doors::selfservice::login::start_login;
use crate::http::doors::selfservice::pages::{self, Notice};
use crate::http::doors::selfservice::session::{form_token_sealed, session_cookie_name};
use crate::http::doors::selfservice::tenant::self_path;
use crate::http::views::codes::{SetView, rows};
use crate::http::views::cookies::build as cookie;
use crate::http::views::refusal::{Refusal, bad_form};
use crate::http::views::sealed;
use crate::plugin::Outcome;
use crate::service::IssueMode;
use crate::store::Mark;

/// A new set: a first one after any login, a replacement only after a strong one.
pub(super) async fn issue(posted: Posted<SelfForms>) -> Result<(CookieJar, Response), Refusal> {
    let SelfPost { user, .. } = posted.ctx;
    let (t, session) = (&user.tenant, &user.session);
    let mode = if user.strong_enough() {
        IssueMode::Replace
    } else {
        IssueMode::First
    };
    let issued = match user.state.service.issue_as(&user.subject(), mode).await {
        Ok(i) => i,
        // Codes exist and this login may not replace them: a strong login first.
        Err(e) => match Fault::of(e) {
            Fault::AlreadyEnrolled => return start_login(t, &user.base, user.jar, true).await,
            fault => return Err(self_page(fault)),
        },
    };
    // While the set waits for a code typed back, its codes travel sealed in
    // the form token, so a typo while confirming shows them again.
    let issued_at = t.now;
    let sealed = if issued.pending() {
        t.keys().sealing_key().and_then(|key| {
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
    let token = form_token_sealed(t, session, Some(issued.set_id.clone()), sealed)?;
    let view = SetView {
        codes: rows(&issued),
        fingerprint: issued.fingerprint.clone(),
        issued_at,
        pending: issued.pending(),
    };
    let page = pages::codes(&user.chrome, &user.actions(), view, token, None);
    Ok((user.jar, page))
}

/// One code of the new set typed back.
pub(super) async fn activate(posted: Posted<SelfForms>) -> Result<(CookieJar, Response), Refusal> {
    let SelfPost { user, claims } = posted.ctx;
    let (t, session) = (&user.tenant, &user.session);
    let set = claims.set.clone().ok_or_else(bad_form)?;
    let code = posted.code.ok_or_else(bad_form)?;
    let who = user.subject();
    let home = |notice| home_page(&user, Some(notice));
    // Only the set this page issued may be confirmed from it, and only its
    // codes are shown again: a stale page (a set replaced or confirmed since)
    // is refused by the engine before any evaluation, and changes nothing.
    let again = |message: String, fingerprint: String| -> Result<(CookieJar, Response), Refusal> {
        let shown = claims
            .sealed
            .as_deref()
            .zip(t.keys().sealing_key())
            .and_then(|(s, key)| sealed::open(&key, &session.sid, &set, s));
        let token = form_token_sealed(t, session, Some(set.clone()), claims.sealed.clone())?;
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
        let page = pages::codes(&user.chrome, &user.actions(), view, token, Some(message));
        Ok((user.jar.clone(), page))
    };
    let attempt = match user.state.service.activate(&who, Some(&set), code).await {
        Ok(a) => a,
        Err(e) => match Fault::of(e) {
            Fault::InvalidCode(f) => {
                // A typo reached no engine: the set's short form is read for the page.
                let pending = match user.state.service.status(&who).await {
                    Ok(s) => s.pending.filter(|p| p.set_id == set),
                    Err(e) => match Fault::of(e) {
                        Fault::NotEnrolled => None,
                        fault => return Err(self_page(fault)),
                    },
                };
                let Some(pending) = pending else {
                    return Ok((user.jar.clone(), home(Notice::NothingToConfirm).await?));
                };
                let message = crate::http::views::text::format_message(&user.chrome.t, f);
                return again(message, pending.fingerprint);
            }
            Fault::NoPendingSet => {
                return Ok((user.jar.clone(), home(Notice::NothingToConfirm).await?));
            }
            fault => return Err(self_page(fault)),
        },
    };
    let fingerprint = attempt.fingerprint.clone().unwrap_or_default();
    match attempt.outcome {
        Outcome::Accepted(_) if attempt.set_id.as_deref() == Some(set.as_str()) => {
            Ok((user.jar.clone(), home(Notice::Active).await?))
        }
        Outcome::Accepted(_) | Outcome::Exhausted => Err(bad_form()),
        Outcome::Rejected(_) => again(user.chrome.msg("activate-mismatch"), fingerprint),
        Outcome::Locked(_) => Ok((user.jar.clone(), home(Notice::Locked).await?)),
    }
}

/// Without proof of saving: back to the home page, where the set shows as active.
pub(super) async fn done(posted: Posted<SelfForms>) -> Result<(CookieJar, Response), Refusal> {
    back_home(posted.ctx.user, Some(Notice::Active)).await
}

/// Delete the codes: only after a strong login.
pub(super) async fn delete(posted: Posted<SelfForms>) -> Result<(CookieJar, Response), Refusal> {
    let SelfPost { user, .. } = posted.ctx;
    if !user.strong_enough() {
        return start_login(&user.tenant, &user.base, user.jar, true).await;
    }
    if let Err(e) = user.state.service.delete(&user.subject()).await {
        match Fault::of(e) {
            Fault::NotEnrolled => {}
            fault => return Err(self_page(fault)),
        }
    }
    back_home(user, Some(Notice::Deleted)).await
}

/// Leave the codes page without confirming: home.
pub(super) async fn cancel(posted: Posted<SelfForms>) -> Result<(CookieJar, Response), Refusal> {
    back_home(posted.ctx.user, None).await
}

/// The home page for a posted form's session.
async fn back_home(
    user: SignedIn,
    notice: Option<Notice>,
) -> Result<(CookieJar, Response), Refusal> {
    let page = home_page(&user, notice).await?;
    Ok((user.jar, page))
}

/// End the session.
pub(super) async fn logout(posted: Posted<SelfForms>) -> Result<(CookieJar, Response), Refusal> {
    let SelfPost { user, .. } = posted.ctx;
    let (t, session) = (&user.tenant, &user.session);
    // Ended on the server, on every instance: the cookie alone no longer
    // opens anything, even if the browser (or a copy of it) keeps it.
    let sid_sha256 = session.sid_sha256();
    let ended = Mark::SelfSessionEnded {
        tenant: t.id(),
        sid_sha256: &sid_sha256,
    };
    if let Err(e) = user
        .state
        .service
        .spend(ended, session.exp.saturating_add(1))
        .await
    {
        return Err(service_refusal(e));
    }
    tracing::info!(tenant = t.id(), "self-service session ended");
    let jar = user.jar.clone().remove(cookie(
        &user.base,
        &self_path(t.id()),
        session_cookie_name(t.id()),
        String::new(),
        0,
    ));
    Ok((jar, pages::signed_out(&user.chrome, &user.base, t.id())))
}
