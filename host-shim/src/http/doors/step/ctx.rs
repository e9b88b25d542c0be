//! The verified context of one request of a flow: its tenant, its flow, the
//! frame of its pages (the reader's language, the tenant's brand) and the
//! browser's cookies. A posted form gets it from [`Posted`](crate::http::doors::form::Posted)
//! once its flow and CSRF cookie are checked ([`posted`](crate::http::doors::step::posted));
//! the entry makes it once the IdP's session token is. Handlers take it
//! instead of passing the state, the tenant, the flow and the reader around.

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;
use axum_extra::extract::cookie::CookieJar;

use crate::http::AppState;
use crate::http::doors::step::flow::Flow;
use crate::http::doors::step::pages::own;
use crate::http::doors::step::{COOKIE_TTL, StepTenant};
use crate::http::views::base::Base;
use crate::http::views::chrome::Chrome;
use crate::http::views::codes::Actions;
use crate::http::views::cookies;
use crate::http::views::refusal::{Reader, Refusal};
use crate::service::Subject;

/// One request's flow, verified.
pub struct StepCtx {
    /// What every handler shares.
    pub state: AppState,
    /// The tenant of the path, its step configured.
    pub tenant: StepTenant,
    /// The flow, its signature (and for a posted form its CSRF cookie) checked.
    pub flow: Flow,
    /// The request's base.
    pub base: Base,
    /// The frame of the flow's pages: its reader's language, the tenant's brand.
    pub chrome: Chrome,
    /// The browser's cookies (the response adds to them).
    pub jar: CookieJar,
}

impl StepCtx {
    /// The context of `flow`, its pages framed for the flow's reader.
    pub fn new(
        state: &AppState,
        base: Base,
        tenant: StepTenant,
        flow: Flow,
        jar: CookieJar,
    ) -> Self {
        let reader = flow.reader();
        let chrome = Chrome::new(state, &base, Some(tenant.id()), reader.tr, reader.account);
        Self {
            state: state.clone(),
            tenant,
            flow,
            base,
            chrome,
            jar,
        }
    }

    /// Seconds since the Unix epoch, by the service's clock.
    pub fn now(&self) -> i64 {
        self.state.service.now()
    }

    /// The flow's subject.
    pub fn subject(&self) -> Subject {
        self.tenant.subject(&self.flow.sub)
    }

    /// Who the flow's pages are for.
    pub fn reader(&self) -> Reader {
        self.flow.reader()
    }

    /// The paths the step's forms post to.
    pub fn actions(&self) -> Actions {
        Actions::new(&self.base, self.tenant.id())
    }

    /// `flow` signed for the next page (this flow, or one it became).
    pub fn sign(&self, flow: &Flow) -> Result<String, Refusal> {
        flow.sign(&self.tenant)
    }

    /// A page of the flow whose forms post to the shim and, at most, the
    /// continue URL.
    pub fn page(&self, status: StatusCode, page: &impl Template) -> Response {
        own(status, page, &self.flow.cont, &self.chrome)
    }

    /// The browser's cookies with `flow`'s CSRF cookie (value `csrf`) added.
    pub fn cookies_with(&self, flow: &Flow, csrf: String) -> CookieJar {
        let cookie = cookies::flow(&self.base, self.tenant.id(), &flow.fid, csrf, COOKIE_TTL);
        self.jar.clone().add(cookie)
    }
}
