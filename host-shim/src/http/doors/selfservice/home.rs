//! The home page: the user's codes (set, remaining, used codes and when) and
//! what this session may do with them.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum_extra::extract::cookie::CookieJar;

use crate::http::AppState;
use crate::http::doors::selfservice::login::start_login;
use crate::http::doors::selfservice::pages::{Home, Notice};
use crate::http::doors::selfservice::session::{SessionClaims, form_token, session};
use crate::http::doors::selfservice::tenant::{Tenant, tenant};
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
    let page = home_page(&state, &t, &base, &chrome, &session, None).await?;
    Ok((jar, page))
}

pub(super) async fn home_page(
    state: &AppState,
    t: &Tenant<'_>,
    base: &Base,
    chrome: &Chrome,
    session: &SessionClaims,
    notice: Option<Notice>,
) -> Result<Response, Refusal> {
    let status = match state.service.status(&t.subject(&session.sub)).await {
        Ok(s) => Some(s),
        Err(ServiceError::NotEnrolled) => None,
        Err(e) => return Err(service_refusal(e)),
    };
    let page = Home::new(
        chrome,
        base,
        t.id,
        session.sub.as_str(),
        status.as_ref(),
        session.strong_enough(t),
        form_token(t, session, None)?,
        notice,
    );
    // Replacing or deleting codes after a weak login sends the browser on to
    // the IdP; `form-action` applies to that redirect too.
    let idp = t.provider.authorization_origin().await.ok();
    Ok(render_in(StatusCode::OK, &page, Forms::Own(idp), chrome))
}

pub(super) fn service_refusal(e: ServiceError) -> Refusal {
    match e {
        ServiceError::RateLimited(_) => Refusal::new(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            "refusal-self-too-many-attempts",
        )
        .retry_after(60),
        ServiceError::Engine(_) | ServiceError::Contended | ServiceError::Store(_) => {
            Refusal::new(StatusCode::SERVICE_UNAVAILABLE, "refusal-self-unavailable").retry_after(5)
        }
        other => {
            tracing::warn!(error = %other, "self-service request failed");
            Refusal::internal()
        }
    }
}
