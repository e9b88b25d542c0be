//! The pages about a set of codes, shared by the login step and
//! self-service: the codes shown once (with copy, download and print) and
//! their confirmation form, the paths those forms post to, and the file name
//! of the download. A code's plaintext is wiped once its page is rendered.

use askama::Template;

use crate::http::views::base::Base;
use crate::http::views::chrome::Chrome;
use crate::http::views::i18n::Arg;

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
