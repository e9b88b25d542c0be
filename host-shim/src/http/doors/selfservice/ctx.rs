//! The verified context of a signed-in user's request ([`SignedIn`]) and what
//! self-service forms accept ([`SelfForms`], for the shared
//! [`Posted`](crate::http::doors::form::Posted) extractor): the tenant looked
//! up once, the session of the browser, and the form token made for it
//! (CSRF), before any handler runs.

use std::future::Future;

use axum::http::StatusCode;
use axum_extra::extract::cookie::CookieJar;
use subtle::ConstantTimeEq;

use crate::http::AppState;
use crate::http::doors::form::{Accepts, Posting};
use crate::http::doors::selfservice::pages;
use crate::http::doors::selfservice::session::{FormClaims, SessionClaims, session};
use crate::http::doors::selfservice::tenant::{Tenant, self_path, tenant};
use crate::http::doors::selfservice::tokens::Purpose;
use crate::http::views::base::Base;
use crate::http::views::chrome::Chrome;
use crate::http::views::codes::Actions;
use crate::http::views::refusal::{Refusal, bad_form};
use crate::service::Subject;

/// A signed-in user's request: its tenant, its session, the frame of its
/// pages (the browser's language, the tenant's brand, the account).
pub(super) struct SignedIn {
    pub(super) state: AppState,
    pub(super) tenant: Tenant,
    pub(super) base: Base,
    pub(super) chrome: Chrome,
    pub(super) jar: CookieJar,
    pub(super) session: SessionClaims,
}

impl SignedIn {
    /// The session's subject.
    pub(super) fn subject(&self) -> Subject {
        self.tenant.subject(&self.session.sub)
    }

    /// May this session replace or delete codes?
    pub(super) fn strong_enough(&self) -> bool {
        self.session.strong_enough(&self.tenant)
    }

    /// The paths the self-service forms post to.
    pub(super) fn actions(&self) -> Actions {
        pages::actions(&self.base, self.tenant.id())
    }
}

/// A posted self-service form: the signed-in user's context and the form's
/// token, made for this session.
pub(super) struct SelfPost {
    pub(super) user: SignedIn,
    pub(super) claims: FormClaims,
}

/// Forms of self-service (nothing else is ever accepted).
pub(super) struct SelfForms;

impl Accepts for SelfForms {
    type Context = SelfPost;

    fn no_tenant() -> Refusal {
        bad_form()
    }

    fn admit(
        state: &AppState,
        p: Posting,
    ) -> impl Future<Output = Result<SelfPost, Refusal>> + Send {
        admit(state, p)
    }
}

async fn admit(state: &AppState, p: Posting) -> Result<SelfPost, Refusal> {
    let t = tenant(state, &p.tenant)?;
    let (session, claims) = posted(state, &t, &p.jar, p.token.as_deref()).await?;
    // The frame of the path's tenant for the browser's languages, naming the
    // session's account.
    let chrome = Chrome {
        account: Some(session.sub.as_str().to_owned()),
        ..Chrome::negotiated(state, &p.base, Some(t.id()), &p.headers)
    };
    let user = SignedIn {
        state: state.clone(),
        tenant: t,
        base: p.base,
        chrome,
        jar: p.jar,
        session,
    };
    Ok(SelfPost { user, claims })
}

/// A posted form of this session: the form token must be one made for it.
async fn posted(
    state: &AppState,
    t: &Tenant,
    jar: &CookieJar,
    token: Option<&str>,
) -> Result<(SessionClaims, FormClaims), Refusal> {
    let expired = || {
        Refusal::new(StatusCode::FORBIDDEN, "refusal-self-expired")
            .link(self_path(t.id()), "link-open-self")
    };
    let session = session(state, t, jar).await?.ok_or_else(expired)?;
    let token = token.ok_or_else(bad_form)?;
    let claims: FormClaims = t.keys().open(Purpose::Form, token).ok_or_else(expired)?;
    if !bool::from(claims.sid.as_bytes().ct_eq(session.sid.as_bytes())) {
        return Err(expired());
    }
    Ok((session, claims))
}
