//! The step's pages (askama templates under `templates/step/`) and the paths
//! their forms post to, under the request's base.

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;

use crate::http::layers::headers::Forms;
use crate::http::views::chrome::Chrome;
use crate::http::views::codes::{Actions, CodeRow, CodesPage, SetView};
use crate::http::views::handoff::Handoff;
use crate::http::views::i18n::Arg;
use crate::http::views::pages::render_in;

/// A page whose forms post to the shim and, at most, the continue URL.
pub fn own(status: StatusCode, page: &impl Template, cont: &str, c: &Chrome) -> Response {
    let origin = url::Url::parse(cont)
        .ok()
        .map(|u| u.origin().ascii_serialization());
    render_in(status, page, Forms::Own(origin), c)
}

/// A page that posts `handoff` back to the IdP or the relying party.
pub fn hand_back(page: &impl Template, handoff: &Handoff, c: &Chrome) -> Response {
    render_in(StatusCode::OK, page, handoff.forms(), c)
}

/// Code entry.
#[derive(Template)]
#[template(path = "step/code.html")]
pub struct CodePage<'a> {
    /// The frame.
    pub c: &'a Chrome,
    /// The title.
    pub title: String,
    /// Form paths.
    pub actions: &'a Actions,
    /// The signed flow.
    pub flow: String,
    /// The field's label.
    pub label: String,
    /// The hint under it.
    pub hint: String,
    /// Why the last code was refused.
    pub error: Option<String>,
}

impl<'a> CodePage<'a> {
    /// Code entry; `next_number` for numbered sets.
    pub fn new(
        c: &'a Chrome,
        actions: &'a Actions,
        flow: String,
        next_number: Option<u8>,
        error: Option<String>,
    ) -> Self {
        let (label, hint) = match next_number {
            Some(n) => {
                let n = [("n", Arg::Num(i64::from(n)))];
                (
                    c.t.with("code-label-numbered", &n),
                    c.t.with("code-hint-numbered", &n),
                )
            }
            None => (c.msg("code-label"), c.msg("code-hint-any")),
        };
        Self {
            c,
            title: c.msg("code-title"),
            actions,
            flow,
            label,
            hint,
            error,
        }
    }
}

/// The start of an enrolment.
#[derive(Template)]
#[template(path = "step/enroll.html")]
pub struct EnrollPage<'a> {
    /// The frame.
    pub c: &'a Chrome,
    /// The title.
    pub title: String,
    /// Form paths.
    pub actions: &'a Actions,
    /// The signed flow.
    pub flow: String,
    /// A set exists and will be replaced.
    pub replacing: bool,
    /// Why the last request was refused.
    pub error: Option<String>,
}

/// "Few codes left": a new set now, or continue.
#[derive(Template)]
#[template(path = "step/low.html")]
pub struct LowPage<'a> {
    /// The frame.
    pub c: &'a Chrome,
    /// The title.
    pub title: String,
    /// Form paths.
    pub actions: &'a Actions,
    /// What was accepted and what is left.
    pub notice: String,
    /// The login's signed result.
    pub handoff: Handoff,
    /// The signed flow of the offered enrolment.
    pub flow: String,
}

/// A code was used and replaced (`replace_on_use`): the new code, shown once
/// with the same copy, download and print as a new set, then the hand-back
/// (not automatic: the user leaves when the code is saved).
#[derive(Template)]
#[template(path = "step/replaced.html")]
pub struct ReplacedPage<'a> {
    /// The frame.
    pub c: &'a Chrome,
    /// The title.
    pub title: String,
    /// What was accepted and what replaces it.
    pub accepted: String,
    /// Where to write the new code.
    pub advice: String,
    /// The new code (one row).
    pub codes: Vec<CodeRow>,
    /// The set's short form.
    pub fingerprint: String,
    /// The list's heading.
    pub heading: String,
    /// The printout's line.
    pub print_note: String,
    /// The downloaded file's first line.
    pub txt_head: String,
    /// Its second line.
    pub txt_issued: String,
    /// Its name.
    pub filename: String,
    /// "Downloaded …".
    pub downloaded: String,
    /// The login's signed result.
    pub handoff: Handoff,
}

impl<'a> ReplacedPage<'a> {
    /// The page for the new code `row` of set `fingerprint`, made `now`.
    pub fn new(
        c: &'a Chrome,
        actions: &'a Actions,
        row: CodeRow,
        fingerprint: String,
        now: i64,
        handoff: Handoff,
    ) -> Self {
        let number = Arg::Num(i64::from(row.number));
        let view = SetView {
            codes: vec![row],
            fingerprint,
            issued_at: now,
            pending: false,
        };
        // The same texts as a new set's page, for the same box.
        let set = CodesPage::new(c, actions, view, String::new(), None);
        Self {
            c,
            title: c.msg("replaced-title"),
            accepted: c.t.with("replaced-accepted", &[("number", number.clone())]),
            advice: c.t.with("replaced-advice", &[("number", number)]),
            codes: set.codes,
            fingerprint: set.fingerprint,
            heading: set.heading,
            print_note: set.print_note,
            txt_head: set.txt_head,
            txt_issued: set.txt_issued,
            filename: set.filename,
            downloaded: set.downloaded,
            handoff,
        }
    }
}

/// An auto-submitting hand-back.
#[derive(Template)]
#[template(path = "step/handoff.html")]
pub struct HandoffPage<'a> {
    /// The frame.
    pub c: &'a Chrome,
    /// The title.
    pub title: String,
    /// What happened.
    pub message: String,
    /// The signed result.
    pub handoff: Handoff,
}
