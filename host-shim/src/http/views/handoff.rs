//! A signed answer posted back by the page that shows it: the login step's
//! result to the IdP's continue URL, or the step-up provider's answer to a
//! relying party's redirect URI.

use crate::http::layers::headers::Forms;

/// A signed answer ready to be posted back: to the IdP's continue URL (the
/// login step's `state` and `session_token`), or to a relying party's
/// redirect URI (the step-up provider's `id_token` or `error`, and `state`).
#[derive(Debug, Clone)]
pub struct Handoff {
    /// Where it is posted.
    pub url: String,
    /// The form's fields, in order.
    pub fields: Vec<Field>,
    /// The one origin the page's forms may post to (`form-action`), for
    /// answers of the step-up provider; `None` for the step's hand-back (see
    /// [`Forms::HandBack`]).
    pub form_action: Option<String>,
}

/// A hidden field of a hand-back form.
#[derive(Debug, Clone)]
pub struct Field {
    /// Its name.
    pub name: &'static str,
    /// Its value.
    pub value: String,
}

impl Handoff {
    /// The login step's answer: `state` and the signed result token.
    pub fn step(url: String, state: String, token: String) -> Self {
        Self {
            url,
            fields: vec![
                Field {
                    name: "state",
                    value: state,
                },
                Field {
                    name: "session_token",
                    value: token,
                },
            ],
            form_action: None,
        }
    }

    /// The forms policy of a page that posts it.
    pub fn forms(&self) -> Forms {
        match &self.form_action {
            Some(origin) => Forms::PostTo(origin.clone()),
            None => Forms::HandBack,
        }
    }
}
