//! The self-service pages (templates under `templates/self/`; the new set is
//! shown with the step's codes page, its forms pointing here).

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;

use crate::http::layers::headers::Forms;
use crate::http::views::base::Base;
use crate::http::views::chrome::Chrome;
use crate::http::views::codes::{Actions, CodesPage, SetView};
use crate::http::views::i18n::Arg;
use crate::http::views::pages::render_in;
use crate::plugin::CredentialStatus;

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
    fn id(self) -> &'static str {
        match self {
            Self::Active => "self-notice-active",
            Self::Deleted => "self-notice-deleted",
            Self::NothingToConfirm => "self-notice-nothing",
            Self::Locked => "self-notice-locked",
        }
    }
}

/// The user's codes and what they can do.
#[derive(Template)]
#[template(path = "self/home.html")]
pub struct Home<'a> {
    c: &'a Chrome,
    title: String,
    actions: String,
    signed_in: String,
    notice: Option<&'static str>,
    has_codes: bool,
    set_heading: (String, String),
    fingerprint: String,
    remaining_line: String,
    low: bool,
    locked: bool,
    used: Vec<String>,
    strong: bool,
    flow: String,
}

/// What the home page shows of the signed-in user.
pub struct HomeView<'a> {
    /// The subject signed in.
    pub subject: &'a str,
    /// Their codes' status (`None`: no codes).
    pub status: Option<&'a CredentialStatus>,
    /// Whether the session may replace or delete codes.
    pub strong: bool,
    /// The home page's form token.
    pub flow: String,
    /// The note at the top.
    pub notice: Option<Notice>,
}

impl<'a> Home<'a> {
    /// The home page of `tenant` for the user `view` shows.
    pub fn new(c: &'a Chrome, base: &Base, tenant: &str, view: HomeView<'_>) -> Self {
        let HomeView {
            subject,
            status,
            strong,
            flow,
            notice,
        } = view;
        let t = &c.t;
        let active = status.and_then(|s| s.active.as_ref());
        let num = |n: u8| Arg::Num(i64::from(n));
        Self {
            c,
            title: t.msg("self-title"),
            actions: base.path(&format!("/self/{tenant}")),
            signed_in: t.with(
                "self-signed-in-as",
                &[("subject", Arg::Str(subject.to_owned()))],
            ),
            notice: notice.map(Notice::id),
            has_codes: active.is_some(),
            set_heading: t.around("self-set-heading", &[], "fingerprint"),
            fingerprint: active.map(|a| a.fingerprint.clone()).unwrap_or_default(),
            remaining_line: t.with(
                "self-remaining",
                &[
                    ("remaining", num(active.map_or(0, |a| a.remaining))),
                    ("total", num(active.map_or(0, |a| a.total))),
                ],
            ),
            low: active.is_some_and(|a| a.low),
            locked: status.is_some_and(|s| s.locked_permanently || s.locked_until.is_some()),
            used: active
                .map(|a| {
                    a.used
                        .iter()
                        .map(|u| {
                            t.with(
                                "self-used",
                                &[
                                    ("number", num(u.number)),
                                    ("at", Arg::Time(i64::try_from(u.at).unwrap_or(0))),
                                ],
                            )
                        })
                        .collect()
                })
                .unwrap_or_default(),
            strong,
            flow,
        }
    }
}

/// The paths of the self-service forms.
pub(super) fn actions(base: &Base, tenant: &str) -> Actions {
    let at = |route: &str| base.path(&format!("/self/{tenant}/{route}"));
    Actions {
        login: at("login"),
        issue: at("issue"),
        activate: at("activate"),
        done: at("done"),
        cancel: at("cancel"),
    }
}

/// A set's codes with its confirmation form: a new set, shown once, or
/// (`error` set) the confirmation again after a code that did not confirm
/// it, with the set's codes when the form carried them.
pub fn codes(
    c: &Chrome,
    actions: &Actions,
    view: SetView,
    flow: String,
    error: Option<String>,
) -> Response {
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = CodesPage::new(c, actions, view, flow, error);
    render_in(status, &page, Forms::Own(None), c)
}

#[derive(Template)]
#[template(path = "self/signed-out.html")]
struct SignedOut<'a> {
    c: &'a Chrome,
    title: String,
    again: String,
}

/// After signing out.
pub fn signed_out(c: &Chrome, base: &Base, tenant: &str) -> Response {
    let page = SignedOut {
        c,
        title: c.msg("self-signed-out-title"),
        again: base.path(&format!("/self/{tenant}/")),
    };
    render_in(StatusCode::OK, &page, Forms::Own(None), c)
}
