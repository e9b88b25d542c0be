//! The home page: the user's codes (set, remaining, used codes and when) and
//! what this session may do with them.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum_extra::extract::cookie::CookieJar;

use crate::http::AppState;
use crate::http::doors::answer::{Fault, Pages};
use crate::http::doors::selfservice::ctx::SignedIn;
use crate::http::doors::selfservice::login::start_login;
use crate::http::doors::selfservice::pages::{Home, HomeView, Notice};
use crate::http::doors::selfservice::session::{form_token, session};
use crate::http::doors::selfservice::tenant::tenant;
use crate::http::layers::headers::Forms;
use crate::http::views::base::Base;
use crate::http::views::chrome::Chrome;
use crate::http::views::pages::render_in;
use crate::http::views::refusal::Refusal;
use crate::service::ServiceError;

/// The home page: the user's codes, or a login first.
pub(super) async fn home(
    State(state): State<AppState>,
    Path(tenant_id): Path<String>,
    base: Base,
    chrome: Chrome,
    jar: CookieJar,
) -> Result<(CookieJar, Response), Refusal> {
    let t = tenant(&state, &tenant_id)?;
    let Some(session) = session(&state, &t, &jar).await? else {
        return start_login(&t, &base, jar, false).await;
    };
    let chrome = Chrome {
        account: Some(session.sub.as_str().to_owned()),
        ..chrome
    };
    let user = SignedIn {
        state,
        tenant: t,
        base,
        chrome,
        jar,
        session,
    };
    let page = home_page(&user, None).await?;
    Ok((user.jar, page))
}

/// The home page of a signed-in user, with a note at the top.
pub(super) async fn home_page(
    user: &SignedIn,
    notice: Option<Notice>,
) -> Result<Response, Refusal> {
    let status = match user.state.service.status(&user.subject()).await {
        Ok(s) => Some(s),
        Err(e) => match Fault::of(e) {
            Fault::NotEnrolled => None,
            fault => return Err(self_page(fault)),
        },
    };
    let (t, session) = (&user.tenant, &user.session);
    let view = HomeView {
        subject: session.sub.as_str(),
        status: status.as_ref(),
        strong: user.strong_enough(),
        flow: form_token(t, session, None)?,
        notice,
    };
    let page = Home::new(&user.chrome, &user.base, t.id(), view);
    // Replacing or deleting codes after a weak login sends the browser on to
    // the IdP; `form-action` applies to that redirect too.
    let idp = t.provider.authorization_origin().await.ok();
    Ok(render_in(
        StatusCode::OK,
        &page,
        Forms::Own(idp),
        &user.chrome,
    ))
}

/// The self-service page for a service error (the doors' one reading of it).
pub(super) fn service_refusal(e: ServiceError) -> Refusal {
    self_page(Fault::of(e))
}

/// The self-service page for a fault.
pub(super) fn self_page(fault: Fault) -> Refusal {
    fault.page(Pages::SelfService)
}
