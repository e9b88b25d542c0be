//! The step's pages (askama templates under `templates/step/`) and the paths
//! their forms post to, under the request's base.

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;

use crate::http::base::Base;
use crate::http::headers::Forms;
use crate::http::pages::{Handoff, render};

/// The paths a flow's forms post to.
pub struct Actions {
    /// Where the stylesheet and script are (the base path).
    pub base: String,
    /// Code entry at login.
    pub login: String,
    /// Issue a new set.
    pub issue: String,
    /// Confirm the new set with one of its codes.
    pub activate: String,
    /// Confirm without proof of saving.
    pub done: String,
    /// Give up (a signed `cancelled`).
    pub cancel: String,
}

impl Actions {
    /// The actions of `tenant`'s step under `base`.
    pub fn new(base: &Base, tenant: &str) -> Self {
        let at = |route: &str| base.path(&format!("/step/{tenant}/{route}"));
        Self {
            base: base.path(""),
            login: at("login"),
            issue: at("enroll/issue"),
            activate: at("enroll/activate"),
            done: at("enroll/done"),
            cancel: at("cancel"),
        }
    }
}

/// A page whose forms post to the shim and, at most, the continue URL.
pub fn own(status: StatusCode, page: &impl Template, cont: &str) -> Response {
    let origin = url::Url::parse(cont)
        .ok()
        .map(|u| u.origin().ascii_serialization());
    render(status, page, Forms::Own(origin))
}

/// A page that posts `handoff` back to the IdP or the relying party.
pub fn hand_back(page: &impl Template, handoff: &Handoff) -> Response {
    render(StatusCode::OK, page, handoff.forms())
}

/// Code entry.
#[derive(Template)]
#[template(path = "step/code.html")]
pub struct CodePage<'a> {
    /// The title.
    pub title: &'a str,
    /// Where the stylesheet and script are (the base path).
    pub base: &'a str,
    /// Form paths.
    pub actions: &'a Actions,
    /// The signed flow.
    pub flow: String,
    /// The number the next code must have (numbered sets).
    pub next_number: Option<u8>,
    /// Why the last code was refused.
    pub error: Option<String>,
}

/// The start of an enrolment.
#[derive(Template)]
#[template(path = "step/enroll.html")]
pub struct EnrollPage<'a> {
    /// The title.
    pub title: &'a str,
    /// Where the stylesheet and script are (the base path).
    pub base: &'a str,
    /// Form paths.
    pub actions: &'a Actions,
    /// The signed flow.
    pub flow: String,
    /// A set exists and will be replaced.
    pub replacing: bool,
    /// Why the last request was refused.
    pub error: Option<String>,
}

/// One code as shown; its plaintext is wiped when the page has been rendered.
#[derive(zeroize::ZeroizeOnDrop)]
pub struct CodeRow {
    /// Its number.
    pub number: u8,
    /// The code.
    pub code: String,
}

/// A new set, shown once, and its confirmation.
#[derive(Template)]
#[template(path = "step/codes.html")]
pub struct CodesPage<'a> {
    /// The title.
    pub title: &'a str,
    /// Where the stylesheet and script are (the base path).
    pub base: &'a str,
    /// Form paths.
    pub actions: &'a Actions,
    /// The codes (empty when shown again after a refused confirmation).
    pub codes: Vec<CodeRow>,
    /// The set's short form.
    pub fingerprint: String,
    /// The subject, printed with the codes.
    pub subject: String,
    /// When the set was issued (UTC), printed with the codes.
    pub issued: String,
    /// Confirmation by typing a code back is required.
    pub pending: bool,
    /// The signed flow.
    pub flow: String,
    /// Why the last code was refused.
    pub error: Option<String>,
}

impl<'a> CodesPage<'a> {
    /// The page that shows a just-issued set once, issued now, for `subject`.
    pub fn new_set(
        actions: &'a Actions,
        issued: &crate::plugin::Issued,
        subject: String,
        flow: String,
        error: Option<String>,
    ) -> Self {
        use secrecy::ExposeSecret as _;
        let now = i64::try_from(jsonwebtoken::get_current_timestamp()).unwrap_or(0);
        Self {
            title: "Save your backup codes",
            base: &actions.base,
            actions,
            codes: issued
                .codes
                .iter()
                .map(|c| CodeRow {
                    number: c.number,
                    code: c.code.expose_secret().clone(),
                })
                .collect(),
            fingerprint: issued.fingerprint.clone(),
            subject,
            issued: super::text::format_time(now),
            pending: issued.pending(),
            flow,
            error,
        }
    }
}

/// "Few codes left": a new set now, or continue.
#[derive(Template)]
#[template(path = "step/low.html")]
pub struct LowPage<'a> {
    /// The title.
    pub title: &'a str,
    /// Where the stylesheet and script are (the base path).
    pub base: &'a str,
    /// Form paths.
    pub actions: &'a Actions,
    /// Codes left.
    pub remaining: u8,
    /// The number of the code just used.
    pub number: u8,
    /// The set's short form.
    pub fingerprint: String,
    /// The login's signed result.
    pub handoff: Handoff,
    /// The signed flow of the offered enrolment.
    pub flow: String,
}

/// An auto-submitting hand-back.
#[derive(Template)]
#[template(path = "step/handoff.html")]
pub struct HandoffPage<'a> {
    /// The title.
    pub title: &'a str,
    /// Where the stylesheet and script are.
    pub base: &'a str,
    /// What happened.
    pub message: String,
    /// The signed result.
    pub handoff: Handoff,
}
