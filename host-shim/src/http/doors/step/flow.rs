//! The flow token: what travels between the step's pages (hidden form field),
//! signed with a key derived from the tenant's `step_secret` for this purpose
//! only, valid [`FLOW_TTL`](crate::http::doors::step::FLOW_TTL) seconds. Its
//! kind and stage ([`Stage`]) say what its next form may do; its methods are
//! the transitions from one page to the next. The checks of a posted flow
//! (expiry, CSRF cookie, finished) are in [`posted`](crate::http::doors::step::posted).

use hmac::Mac as _;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::http::doors::step::oidc_answer::OpAnswer;
use crate::http::doors::step::refusals::expired_flow;
use crate::http::doors::step::result::{Action, Enrolment, Proof, StepResult, Verified};
use crate::http::doors::step::session::Kind;
use crate::http::doors::step::{StepTenant, sha256_hex};
use crate::http::views::i18n::{Language, Tr};
use crate::http::views::refusal::{Reader, Refusal};
use crate::service::{IssueMode, SubjectId};

/// Longest flow token accepted from a form, bytes.
pub const MAX_FLOW_BYTES: usize = 8192;
/// Room a flow token keeps for what later pages add (the set issued, a login
/// result); a flow that would not have it is refused at the entry, before the
/// state or the session token is spent.
pub const FLOW_GROWTH: usize = 1024;
const _: () = assert!(MAX_FLOW_BYTES + 2048 <= crate::config::MIN_STEP_BODY_BYTES);
const FLOW_ISSUER: &str = "backup-codes-shim/flow";

/// Where a flow is, as its next form sees it ([`Flow::stage`]); the flow's
/// methods are its transitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage<'a> {
    /// A login: a code to type.
    Login,
    /// An enrolment whose set is not issued yet.
    Enrolling,
    /// An enrolment whose set waits for one of its codes typed back.
    Confirming(&'a str),
    /// An enrolment whose set is active: the user's word is enough.
    Saved(&'a str),
}

/// What the shim's own flow token carries between pages.
#[derive(Serialize, Deserialize, Clone)]
pub struct Flow {
    /// Always the flow issuer: the token is the shim's own.
    pub iss: String,
    /// The tenant id.
    pub aud: String,
    /// Expiry (Unix seconds).
    pub exp: i64,
    /// The step the IdP's session token opened (also the new-set flow
    /// offered after a login with few codes left): in the token by its name,
    /// so a token of no known kind does not decode.
    pub kind: Kind,
    /// The subject (checked as the token is read).
    pub sub: SubjectId,
    /// The IdP's `state`.
    pub state: String,
    /// The continue URL (checked against the tenant's list when the flow began).
    pub cont: String,
    /// Flow id (random).
    pub fid: String,
    /// SHA-256 (hex) of the flow's CSRF cookie value.
    pub csrf: String,
    /// Set id issued in this flow (enrolment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set: Option<String>,
    /// Whether that set waits for activation.
    #[serde(default)]
    pub pending: bool,
    /// The login this enrolment follows (regeneration after "few codes left").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Verified>,
    /// A step-up flow's answer: its result goes to the relying party's
    /// redirect URI (`cont`) as an ID token or an OpenID error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<OpAnswer>,
    /// The pages' language (its tag), chosen when the flow began.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    /// The reader's IANA time zone, when the IdP named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tz: Option<String>,
    /// The account name shown on the pages, when it is not `sub`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acct: Option<String>,
    /// The new set's codes, sealed for this flow alone (see [`crate::http::views::sealed`]),
    /// so they stay on the page until the set is confirmed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed: Option<String>,
}

impl Flow {
    /// A new flow of `kind` for `sub`; returns it with its CSRF cookie value.
    pub fn start(
        tenant: &str,
        kind: Kind,
        sub: &SubjectId,
        state: &str,
        cont: &str,
        now: i64,
    ) -> Result<(Self, String), Refusal> {
        let csrf = crate::http::doors::step::random_token(32).ok_or_else(Refusal::internal)?;
        let flow = Self {
            iss: FLOW_ISSUER.into(),
            aud: tenant.into(),
            exp: now.saturating_add(crate::http::doors::step::FLOW_TTL),
            kind,
            sub: sub.clone(),
            state: state.into(),
            cont: cont.into(),
            fid: crate::http::doors::step::random_token(16).ok_or_else(Refusal::internal)?,
            csrf: sha256_hex(csrf.as_bytes()),
            set: None,
            pending: false,
            after: None,
            answer: None,
            lang: None,
            tz: None,
            acct: None,
            sealed: None,
        };
        Ok((flow, csrf))
    }

    /// This flow, its pages written for `reader`.
    #[must_use]
    pub fn for_reader(mut self, reader: &Reader) -> Self {
        self.lang = Some(reader.tr.tag().to_owned());
        self.tz = reader.tr.zone().map(str::to_owned);
        self.acct = reader.account.clone().filter(|a| a != self.sub.as_str());
        self
    }

    /// Who the flow's pages are for.
    pub fn reader(&self) -> Reader {
        let lang = self
            .lang
            .as_deref()
            .and_then(Language::from_tag)
            .unwrap_or_default();
        Reader {
            tr: Tr::new(lang, self.tz.as_deref()),
            account: Some(
                self.acct
                    .clone()
                    .unwrap_or_else(|| self.sub.as_str().to_owned()),
            ),
        }
    }

    /// The flow's reader's language and zone.
    pub fn tr(&self) -> Tr {
        self.reader().tr
    }

    /// The `action` its results name: the step the IdP asked for.
    pub fn action(&self) -> Action {
        match self.after {
            // A new set taken after a login: the IdP asked for a login.
            Some(_) => Action::Verify,
            None => self.kind.action(),
        }
    }

    /// Where the flow is: what its next form may do.
    pub fn stage(&self) -> Stage<'_> {
        match (self.kind, self.set.as_deref()) {
            (Kind::Login, _) => Stage::Login,
            (_, None) => Stage::Enrolling,
            (_, Some(set)) if self.pending => Stage::Confirming(set),
            (_, Some(set)) => Stage::Saved(set),
        }
    }

    /// How its set is issued: a first enrolment never replaces codes,
    /// whatever happened since its entry page.
    pub fn issue_mode(&self) -> IssueMode {
        match self.kind {
            Kind::Enroll => IssueMode::First,
            Kind::Login | Kind::Regenerate => IssueMode::Replace,
        }
    }

    /// Enrolling → Confirming or Saved: the flow once `set` is issued
    /// (`pending`: it waits for a code typed back), its codes not sealed yet.
    #[must_use]
    pub fn issued(self, set: String, pending: bool) -> Self {
        Self {
            set: Some(set),
            pending,
            sealed: None,
            ..self
        }
    }

    /// Login → Enrolling: the new-set flow offered after a login with few
    /// codes left, carrying that login's result; with its CSRF cookie value.
    pub fn offer_new_set(&self, login: Verified, now: i64) -> Result<(Self, String), Refusal> {
        let (mut next, csrf) = Self::start(
            &self.aud,
            Kind::Regenerate,
            &self.sub,
            &self.state,
            &self.cont,
            now,
        )?;
        next.after = Some(login);
        Ok((next.for_reader(&self.reader()), csrf))
    }

    /// Confirming or Saved → the result: the signed success of the
    /// enrolment (after a login: the login's result with the new set).
    pub fn enrolled(&self, enrolment: Enrolment) -> StepResult {
        match (&self.after, self.kind) {
            (Some(login), _) => {
                let mut login = login.clone();
                login.regenerated = Some(Box::new(StepResult::success(Proof::Enroll(enrolment))));
                StepResult::success(Proof::Verify(login))
            }
            (None, Kind::Regenerate) => StepResult::success(Proof::Regenerate(enrolment)),
            (None, _) => StepResult::success(Proof::Enroll(enrolment)),
        }
    }

    /// Sign this flow for the next page.
    pub fn sign(&self, t: &StepTenant) -> Result<String, Refusal> {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            self,
            &EncodingKey::from_secret(&key(t)?),
        )
        .map_err(|_| Refusal::internal())
    }
}

/// The flow key of a tenant: HMAC-SHA-256 of the tenant id under the step
/// secret with a label of its own, so no other token verifies as a flow.
fn key(t: &StepTenant) -> Result<[u8; 32], Refusal> {
    flow_key(t.id(), &t.secret)
}

fn flow_key(tenant: &str, secret: &SecretString) -> Result<[u8; 32], Refusal> {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.expose_secret().as_bytes())
        .map_err(|_| Refusal::internal())?;
    mac.update(b"backup-codes-shim flow key v2\0");
    mac.update(tenant.as_bytes());
    Ok(mac.finalize().into_bytes().into())
}

/// A flow token of this tenant, its signature, issuer and audience checked;
/// its expiry is not (a flow past it still gets a way back to the IdP).
pub fn open(token: &str, t: &StepTenant) -> Result<Flow, Refusal> {
    if token.len() > MAX_FLOW_BYTES {
        return Err(expired_flow());
    }
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 0;
    validation.validate_exp = false;
    validation.set_issuer(&[FLOW_ISSUER]);
    validation.set_audience(&[t.id()]);
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    jsonwebtoken::decode::<Flow>(token, &DecodingKey::from_secret(&key(t)?), &validation)
        .map(|d| d.claims)
        .map_err(|_| expired_flow())
}

/// The flow id of a flow the IdP's session token `session_id` opened: the
/// same on every reload of the entry, so the browser holding that flow's
/// cookie goes on with it. Derived under the step secret: nobody else can
/// name the cookie.
pub fn entry_fid(t: &StepTenant, session_id: &str) -> Result<String, Refusal> {
    use base64::Engine as _;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(t.secret.expose_secret().as_bytes())
        .map_err(|_| Refusal::internal())?;
    mac.update(b"backup-codes-shim entry flow id v1\0");
    mac.update(t.id().as_bytes());
    mac.update(b"\0");
    mac.update(session_id.as_bytes());
    let digest = mac.finalize().into_bytes();
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16]))
}

/// Is the flow small enough to travel through every page of the step?
pub fn fits(signed: &str) -> bool {
    signed.len() <= MAX_FLOW_BYTES - FLOW_GROWTH
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TenantConfig;

    /// What later pages add to a flow fits in [`FLOW_GROWTH`], so a flow admitted
    /// at the entry can always be posted back.
    #[test]
    fn a_flow_admitted_at_the_entry_can_grow_through_every_page() {
        let config = TenantConfig::default();
        let secret = SecretString::from("s".repeat(32));
        let t = StepTenant {
            tenant: crate::service::TenantId::known("t"),
            config: std::sync::Arc::new(config),
            secret,
        };
        let state = "s".repeat(crate::http::doors::step::session::MAX_STATE_BYTES);
        let (base, _) = Flow::start(
            "t",
            Kind::Regenerate,
            &SubjectId::parse(&"u".repeat(255)).unwrap(),
            &state,
            "https://idp.example/continue",
            0,
        )
        .ok()
        .unwrap();
        let grown = Flow {
            set: Some("9".repeat(64)),
            pending: true,
            after: Some(Verified {
                set_id: Some("9".repeat(64)),
                number: 64,
                remaining: 255,
                low: true,
                regenerated: None,
            }),
            ..base.clone()
        };
        let (small, large) = (base.sign(&t).ok().unwrap(), grown.sign(&t).ok().unwrap());
        assert!(
            large.len() - small.len() <= FLOW_GROWTH,
            "{}",
            large.len() - small.len()
        );
    }
}
