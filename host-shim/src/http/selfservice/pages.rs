//! The self-service pages (templates under `templates/self/`; the new set is
//! shown with the step's codes page, its forms pointing here).

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;

use crate::http::base::Base;
use crate::http::headers::Forms;
use crate::http::pages::render;
use crate::http::step::pages::{Actions, CodesPage};
use crate::http::step::text::format_time;
use crate::plugin::{CredentialStatus, Issued};

/// A note at the top of the home page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// The new set is active.
    Active,
    /// The codes were deleted.
    Deleted,
    /// Nothing waited for confirmation.
    NothingToConfirm,
    /// Too many wrong codes.
    Locked,
}

impl Notice {
    fn text(self) -> &'static str {
        match self {
            Self::Active => {
                "Your new backup codes are active. Your old codes, if you had any, no longer work."
            }
            Self::Deleted => "Your backup codes were deleted.",
            Self::NothingToConfirm => "There was no new set waiting to be confirmed.",
            Self::Locked => "Too many wrong codes: backup codes are locked for a while.",
        }
    }
}

/// One used code, for the list.
pub struct UsedRow {
    /// Its number.
    pub number: u8,
    /// When (UTC).
    pub at: String,
}

/// The user's codes and what they can do.
#[derive(Template)]
#[template(path = "self/home.html")]
pub struct Home<'a> {
    title: &'a str,
    base: String,
    actions: String,
    subject: &'a str,
    notice: Option<&'static str>,
    has_codes: bool,
    fingerprint: String,
    total: u8,
    remaining: u8,
    low: bool,
    locked: bool,
    used: Vec<UsedRow>,
    strong: bool,
    flow: String,
}

impl<'a> Home<'a> {
    /// The home page of `subject`.
    pub fn new(
        base: &Base,
        tenant: &str,
        subject: &'a str,
        status: Option<&CredentialStatus>,
        strong: bool,
        flow: String,
        notice: Option<Notice>,
    ) -> Self {
        let active = status.and_then(|s| s.active.as_ref());
        Self {
            title: "Your backup codes",
            base: base.path(""),
            actions: base.path(&format!("/self/{tenant}")),
            subject,
            notice: notice.map(Notice::text),
            has_codes: active.is_some(),
            fingerprint: active.map(|a| a.fingerprint.clone()).unwrap_or_default(),
            total: active.map_or(0, |a| a.total),
            remaining: active.map_or(0, |a| a.remaining),
            low: active.is_some_and(|a| a.low),
            locked: status.is_some_and(|s| s.locked_permanently || s.locked_until.is_some()),
            used: active
                .map(|a| {
                    a.used
                        .iter()
                        .map(|u| UsedRow {
                            number: u.number,
                            at: format_time(i64::try_from(u.at).unwrap_or(0)),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            strong,
            flow,
        }
    }
}

fn actions(base: &Base, tenant: &str) -> Actions {
    let at = |route: &str| base.path(&format!("/self/{tenant}/{route}"));
    Actions {
        base: base.path(""),
        login: at("login"),
        issue: at("issue"),
        activate: at("activate"),
        done: at("done"),
        cancel: at("cancel"),
    }
}

/// A new set, shown once, with its confirmation form.
pub fn codes(
    base: &Base,
    tenant: &str,
    subject: &str,
    issued: &Issued,
    flow: String,
    error: Option<String>,
) -> Response {
    let actions = actions(base, tenant);
    let page = CodesPage::new_set(&actions, issued, subject.to_owned(), flow, error);
    render(StatusCode::OK, &page, Forms::Own(None))
}

/// The confirmation again after a code that did not confirm the set.
pub fn confirm_again(
    base: &Base,
    tenant: &str,
    subject: &str,
    flow: String,
    error: String,
) -> Response {
    let actions = actions(base, tenant);
    let page = CodesPage {
        title: "Confirm your backup codes",
        base: &actions.base,
        actions: &actions,
        codes: Vec::new(),
        fingerprint: String::new(),
        subject: subject.to_owned(),
        issued: String::new(),
        pending: true,
        flow,
        error: Some(error),
    };
    render(StatusCode::UNPROCESSABLE_ENTITY, &page, Forms::Own(None))
}

#[derive(Template)]
#[template(path = "self/signed-out.html")]
struct SignedOut<'a> {
    title: &'a str,
    base: String,
    again: String,
}

/// After signing out.
pub fn signed_out(base: &Base, tenant: &str) -> Response {
    let page = SignedOut {
        title: "Signed out",
        base: base.path(""),
        again: base.path(&format!("/self/{tenant}/")),
    };
    render(StatusCode::OK, &page, Forms::Own(None))
}
