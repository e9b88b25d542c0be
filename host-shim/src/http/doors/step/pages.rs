//! The step's pages (askama templates under `templates/step/`) and the paths
//! their forms post to, under the request's base.

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;

use crate::http::layers::headers::Forms;
use crate::http::views::base::Base;
use crate::http::views::chrome::Chrome;
use crate::http::views::i18n::Arg;
use crate::http::views::pages::{Handoff, render_in};

/// The paths a flow's forms post to.
pub struct Actions {
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
            login: at("login"),
            issue: at("enroll/issue"),
            activate: at("enroll/activate"),
            done: at("enroll/done"),
            cancel: at("cancel"),
        }
    }
}

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

/// One code as shown; its plaintext is wiped when the page has been rendered.
#[derive(zeroize::ZeroizeOnDrop)]
pub struct CodeRow {
    /// Its number.
    pub number: u8,
    /// The code.
    pub code: String,
}

/// The codes of an issued set, as shown.
pub fn rows(issued: &crate::plugin::Issued) -> Vec<CodeRow> {
    use secrecy::ExposeSecret as _;
    issued
        .codes
        .iter()
        .map(|c| CodeRow {
            number: c.number,
            code: c.code.expose_secret().clone(),
        })
        .collect()
}

/// A new set, shown until confirmed, and its confirmation.
#[derive(Template)]
#[template(path = "step/codes.html")]
pub struct CodesPage<'a> {
    /// The frame.
    pub c: &'a Chrome,
    /// The title.
    pub title: String,
    /// Form paths.
    pub actions: &'a Actions,
    /// The codes (empty when they cannot be shown again).
    pub codes: Vec<CodeRow>,
    /// "These are your backup codes for …, set …", cut around the set's short
    /// form (which the page marks up).
    pub intro: (String, String),
    /// The set's short form.
    pub fingerprint: String,
    /// The list's heading.
    pub heading: String,
    /// The printout's line: service, account, issue time.
    pub print_note: String,
    /// The downloaded file's first line.
    pub txt_head: String,
    /// Its second line.
    pub txt_issued: String,
    /// Its name.
    pub filename: String,
    /// "Downloaded …" (for the status line).
    pub downloaded: String,
    /// Confirmation by typing a code back is required.
    pub pending: bool,
    /// The signed flow.
    pub flow: String,
    /// Why the last code was refused.
    pub error: Option<String>,
}

/// What a page about a set shows of it.
pub struct SetView {
    /// The codes (empty when they cannot be shown again).
    pub codes: Vec<CodeRow>,
    /// The set's short form.
    pub fingerprint: String,
    /// When it was issued (Unix seconds).
    pub issued_at: i64,
    /// Whether it waits for a code typed back.
    pub pending: bool,
}

impl<'a> CodesPage<'a> {
    /// The page of a set: shown (`view.codes`), or only its confirmation form.
    pub fn new(
        c: &'a Chrome,
        actions: &'a Actions,
        view: SetView,
        flow: String,
        error: Option<String>,
    ) -> Self {
        let t = &c.t;
        let account = c.account.clone().unwrap_or_default();
        let fp = Arg::Str(view.fingerprint.clone());
        let service = Arg::Str(c.service.clone());
        let issued = Arg::Time(view.issued_at);
        let (intro, head) = if c.branded {
            ("codes-intro", "txt-head")
        } else {
            ("codes-intro-plain", "txt-head-plain")
        };
        let filename = file_name(&[
            if c.branded { &c.service } else { "" },
            &t.msg("txt-filename-word"),
            &account,
            &view.fingerprint,
        ]);
        Self {
            c,
            title: t.msg(if error.is_some() {
                "codes-title-confirm"
            } else {
                "codes-title-new"
            }),
            actions,
            intro: t.around(intro, &[("service", service.clone())], "fingerprint"),
            heading: t.with(
                "codes-heading",
                &[
                    ("fingerprint", fp.clone()),
                    (
                        "count",
                        Arg::Num(i64::try_from(view.codes.len()).unwrap_or(0)),
                    ),
                ],
            ),
            print_note: t.with(
                "codes-print",
                &[
                    ("service", service.clone()),
                    ("account", Arg::Str(account.clone())),
                    ("issued", issued.clone()),
                ],
            ),
            txt_head: t.with(
                head,
                &[
                    ("service", service),
                    ("account", Arg::Str(account)),
                    ("fingerprint", fp),
                ],
            ),
            txt_issued: t.with("txt-issued", &[("issued", issued)]),
            downloaded: t.with("js-downloaded", &[("file", Arg::Str(filename.clone()))]),
            filename,
            fingerprint: view.fingerprint,
            codes: view.codes,
            pending: view.pending,
            flow,
            error,
        }
    }
}

/// A download's file name from its parts: each reduced to `[A-Za-z0-9._-]`
/// (others become `-`, runs collapsed; case kept, as codes and fingerprints
/// are written), joined with `-`, at most 96 characters before `.txt`.
pub fn file_name(parts: &[&str]) -> String {
    let mut name = String::new();
    for part in parts {
        let mut cleaned = String::new();
        for ch in part.chars() {
            let keep = ch.is_ascii_alphanumeric() || ch == '.' || ch == '_';
            let next = if keep { ch } else { '-' };
            if next == '-' && (cleaned.is_empty() || cleaned.ends_with('-')) {
                continue;
            }
            cleaned.push(next);
        }
        let cleaned = cleaned.trim_matches(['-', '.']);
        if cleaned.is_empty() {
            continue;
        }
        if !name.is_empty() {
            name.push('-');
        }
        name.push_str(cleaned);
    }
    name.truncate(96);
    let name = name.trim_end_matches(['-', '.']);
    if name.is_empty() {
        "backup-codes.txt".to_owned()
    } else {
        format!("{name}.txt")
    }
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

#[cfg(test)]
mod tests {
    use super::file_name;

    #[test]
    fn file_names_keep_to_safe_characters() {
        assert_eq!(
            file_name(&["ACME Corp", "backup-codes", "alice@example.com", "K7QF-2M"]),
            "ACME-Corp-backup-codes-alice-example.com-K7QF-2M.txt"
        );
        assert_eq!(file_name(&["../..", "", "é"]), "backup-codes.txt");
        assert!(file_name(&[&"x".repeat(200)]).len() <= 100);
    }
}
