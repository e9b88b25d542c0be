//! The flow token: what travels between the step's pages (hidden form field),
//! signed with a key derived from the tenant's `step_secret` for this purpose
//! only, valid [`FLOW_TTL`](crate::http::doors::step::FLOW_TTL) seconds, and bound to the flow's
//! cookie (CSRF, compared in constant time). [`posted`] is the prelude of every
//! posted form: a finished or expired flow is refused there, before anything
//! reaches the engine.

use std::marker::PhantomData;

use axum::extract::{Form, FromRequest, FromRequestParts, Path, Request};
use axum_extra::extract::cookie::CookieJar;
use hmac::Mac as _;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::http::AppState;
use crate::http::doors::step::oidc_answer::OpAnswer;
use crate::http::doors::step::refusals::{self, expired_flow, foreign_form};
use crate::http::doors::step::result::{Action, Failure, Reason, Signed, StepResult, Verified};
use crate::http::doors::step::session::Kind;
use crate::http::doors::step::{StepTenant, sha256_hex, spend, step_tenant};
use crate::http::views::cookies;
use crate::http::views::handoff::Handoff;
use crate::http::views::i18n::{Language, Tr};
use crate::http::views::refusal::{self, Reader, Refusal, bad_form};
use crate::http::views::text::attempts_note;
use crate::plugin::{PluginError, Rejection};
use crate::service::{ServiceError, SubjectId};

/// Longest flow token accepted from a form, bytes.
pub const MAX_FLOW_BYTES: usize = 8192;
/// Room a flow token keeps for what later pages add (the set issued, a login
/// result); a flow that would not have it is refused at the entry, before the
/// state or the session token is spent.
pub const FLOW_GROWTH: usize = 1024;
const _: () = assert!(MAX_FLOW_BYTES + 2048 <= crate::config::MIN_STEP_BODY_BYTES);
const FLOW_ISSUER: &str = "backup-codes-shim/flow";

/// What the shim's own flow token carries between pages.
#[derive(Serialize, Deserialize, Clone)]
pub struct Flow {
    /// Always the flow issuer: the token is the shim's own.
    pub iss: String,
    /// The tenant id.
    pub aud: String,
    /// Expiry (Unix seconds).
    pub exp: i64,
    /// The step the IdP's session token opened: `login`, `enroll` or
    /// `regenerate` (also the new-set flow offered after a login with few codes left).
    pub kind: String,
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
            kind: kind.name().into(),
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

    /// The kind of the flow.
    pub fn kind(&self) -> Option<Kind> {
        Kind::parse(&self.kind)
    }

    /// The `action` its results name: the step the IdP asked for.
    pub fn action(&self) -> Action {
        match (&self.after, self.kind()) {
            // A new set taken after a login: the IdP asked for a login.
            (Some(_), _) | (None, None | Some(Kind::Login)) => Action::Verify,
            (None, Some(k)) => k.action(),
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

    /// A signed result of this flow, ready to post back.
    pub fn hand_back(
        &self,
        state: &AppState,
        t: &StepTenant,
        result: StepResult,
    ) -> Result<Handoff, Refusal> {
        if let Some(answer) = &self.answer {
            return crate::http::doors::step::oidc_answer::handoff(
                state,
                t.id(),
                answer,
                &self.cont,
                &self.state,
                result,
            )
            .map_err(|_| Refusal::internal());
        }
        Signed::handoff(
            state,
            t,
            &self.cont,
            &self.state,
            Some(self.sub.as_str()),
            result,
        )
        .map_err(|_| Refusal::internal())
    }

    /// The signed failure of this flow.
    pub fn failure(&self, state: &AppState, t: &StepTenant, reason: Reason) -> Option<Handoff> {
        self.hand_back(
            state,
            t,
            StepResult::Failed(Failure::new(self.action(), reason)),
        )
        .ok()
    }

    /// The page for a posted form of a flow that has expired or finished: a
    /// way back to the IdP (a signed `cancelled`), nothing changed.
    pub fn ended(&self, state: &AppState, t: &StepTenant) -> Refusal {
        refusals::finished_flow()
            .back(self.failure(state, t, Reason::Cancelled))
            .for_reader(self.reader())
    }

    /// A lockout page with its signed failure.
    pub fn locked(&self, state: &AppState, t: &StepTenant, until: Option<i64>) -> Refusal {
        let failure = Failure::locked(self.action(), until);
        let handoff = self.hand_back(state, t, StepResult::Failed(failure)).ok();
        refusals::locked(until, crate::http::doors::step::now(state), handoff)
            .for_reader(self.reader())
    }

    /// The page for a service error, with the signed failure where one applies.
    pub fn refusal(&self, state: &AppState, t: &StepTenant, e: ServiceError) -> Refusal {
        self.refusal_page(state, t, e).for_reader(self.reader())
    }

    fn refusal_page(&self, state: &AppState, t: &StepTenant, e: ServiceError) -> Refusal {
        match e {
            ServiceError::NotEnrolled | ServiceError::Refused(PluginError::NoActiveSet) => {
                refusals::not_enrolled().back(self.failure(state, t, Reason::NotEnrolled))
            }
            ServiceError::AlreadyEnrolled => {
                refusals::already_enrolled().back(self.failure(state, t, Reason::AlreadyEnrolled))
            }
            ServiceError::Refused(PluginError::NoPendingSet) => {
                refusals::no_pending_set().back(self.failure(state, t, Reason::NoPendingSet))
            }
            ServiceError::InvalidSubject | ServiceError::UnknownTenant => {
                refusals::invalid_subject()
            }
            ServiceError::RateLimited(_) => refusals::too_many_attempts(),
            ServiceError::Engine(_)
            | ServiceError::Contended
            | ServiceError::Store(_)
            | ServiceError::Random
            // Only the import command imports; a step never meets this.
            | ServiceError::ImportCost(_) => {
                if let ServiceError::Store(err) = &e {
                    tracing::error!(error = %err, "store failed during a step");
                }
                refusals::engine_unavailable().back(self.failure(state, t, Reason::Unavailable))
            }
            ServiceError::Refused(other) => {
                tracing::warn!(error = ?other, "the plugin refused a step request");
                Refusal::internal().back(self.failure(state, t, Reason::Error))
            }
        }
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

/// The fields every form of a flow posts.
#[derive(Deserialize)]
pub struct FlowForm {
    /// The flow token.
    pub flow: Option<String>,
    /// A typed code, for the forms that take one.
    pub code: Option<SecretString>,
}

/// Which flows a form takes.
pub trait Accepts {
    /// Does the form take a flow of `kind`?
    fn accepts(kind: Kind) -> bool;
}

/// Forms of the login step.
pub struct LoginForms;
/// Forms of an enrolment (first set or regeneration).
pub struct EnrolForms;
/// Forms every flow has (cancel).
pub struct AnyForms;

impl Accepts for LoginForms {
    fn accepts(kind: Kind) -> bool {
        kind == Kind::Login
    }
}

impl Accepts for EnrolForms {
    fn accepts(kind: Kind) -> bool {
        kind.enrols()
    }
}

impl Accepts for AnyForms {
    fn accepts(_: Kind) -> bool {
        true
    }
}

/// A posted step form with its checked flow: the prelude of every posted form,
/// as an extractor. The flow's signature, expiry and kind (one `A` accepts) and
/// its CSRF cookie are checked, and a finished flow is refused, before any
/// handler runs; anything else is a refusal page.
pub struct Posted<A> {
    /// The tenant of the path (its step configured), looked up once.
    pub tenant: StepTenant,
    /// The form.
    pub form: FlowForm,
    /// Its flow.
    pub flow: Flow,
    /// The browser's cookies (the response adds to them).
    pub jar: CookieJar,
    accepts: PhantomData<A>,
}

impl<A: Accepts + Send> FromRequest<AppState> for Posted<A> {
    type Rejection = Refusal;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Refusal> {
        let (mut parts, body) = req.into_parts();
        let Path(tenant) = Path::<String>::from_request_parts(&mut parts, state)
            .await
            .map_err(|_| refusals::unknown_step())?;
        let jar = CookieJar::from_headers(&parts.headers);
        let Form(form) = Form::<FlowForm>::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|_| bad_form())?;
        let t = step_tenant(state, &tenant)?;
        let flow = check(state, &t, &jar, &form, A::accepts).await?;
        Ok(Self {
            tenant: t,
            form,
            flow,
            jar,
            accepts: PhantomData,
        })
    }
}

async fn check(
    state: &AppState,
    t: &StepTenant,
    jar: &CookieJar,
    form: &FlowForm,
    accepts: fn(Kind) -> bool,
) -> Result<Flow, Refusal> {
    let token = form
        .flow
        .as_deref()
        .filter(|f| f.len() <= MAX_FLOW_BYTES)
        .ok_or_else(expired_flow)?;
    // The signature is checked first and the expiry apart: a page of this
    // step that has expired or finished (a reload, Back, a second tab) gets a
    // way back to the IdP, a signed `cancelled`; anything else is refused flat.
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 0;
    validation.validate_exp = false;
    validation.set_issuer(&[FLOW_ISSUER]);
    validation.set_audience(&[t.id()]);
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    let flow =
        jsonwebtoken::decode::<Flow>(token, &DecodingKey::from_secret(&key(t)?), &validation)
            .map_err(|_| expired_flow())?
            .claims;
    if !flow.kind().is_some_and(accepts) {
        return Err(expired_flow());
    }
    let now = crate::http::doors::step::now(state);
    // Past its grace period an expired flow gets no signed answer at all.
    if now
        >= flow.exp.saturating_add(
            crate::http::doors::step::COOKIE_TTL - crate::http::doors::step::FLOW_TTL,
        )
    {
        return Err(expired_flow());
    }
    let presented = cookies::value(jar, &cookies::name(&flow.fid)).unwrap_or("");
    let digest = sha256_hex(presented.as_bytes());
    if presented.is_empty() || !bool::from(digest.as_bytes().ct_eq(flow.csrf.as_bytes())) {
        return Err(foreign_form());
    }
    if flow.exp <= now || finished(state, t, &flow).await? {
        return Err(flow.ended(state, t));
    }
    Ok(flow)
}

/// Has the flow finished (its result was handed back)?
pub async fn finished(state: &AppState, t: &StepTenant, flow: &Flow) -> Result<bool, Refusal> {
    state
        .service
        .spent(finished_id(t, flow))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "the single-use store is unavailable");
            refusal::unavailable()
        })
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

/// The single-use mark of a finished flow.
fn finished_id<'a>(t: &'a StepTenant, flow: &'a Flow) -> crate::store::Mark<'a> {
    crate::store::Mark::StepFinished {
        tenant: t.id(),
        fid: &flow.fid,
    }
}

/// Until when a flow's single-use marks (finished, sets issued) are kept: past
/// every flow sharing its id. Reloads of one entry link reopen the flow, each
/// with a fresh expiry, for as long as the IdP's session token is valid.
pub fn marks_until(state: &AppState, flow: &Flow) -> i64 {
    let leeway = i64::try_from(state.limits.leeway_seconds).unwrap_or(i64::MAX);
    flow.exp
        .saturating_add(crate::http::doors::step::session::MAX_SESSION_LIFETIME)
        .saturating_add(leeway.saturating_mul(3))
        .saturating_add(60)
}

/// Mark the flow finished; refused when it already was.
pub async fn finish(state: &AppState, t: &StepTenant, flow: &Flow) -> Result<(), Refusal> {
    if spend(state, finished_id(t, flow), marks_until(state, flow)).await? {
        Ok(())
    } else {
        Err(expired_flow())
    }
}

/// Is the flow small enough to travel through every page of the step?
pub fn fits(signed: &str) -> bool {
    signed.len() <= MAX_FLOW_BYTES - FLOW_GROWTH
}

/// A wrong code: the note on attempts left for the page shown again, or, when
/// it locked the set for good, the end of the flow.
pub async fn rejected(
    state: &AppState,
    t: &StepTenant,
    flow: &Flow,
    r: Rejection,
) -> Result<String, Refusal> {
    if r.permanent {
        finish(state, t, flow).await?;
        return Err(flow.locked(state, t, None));
    }
    let free = state
        .service
        .tenant(t.id())
        .map_or(0, |x| x.policy.free_failures);
    let until = r.locked_until.and_then(|u| i64::try_from(u).ok());
    Ok(attempts_note(
        &flow.tr(),
        free,
        r.consecutive_failures,
        until,
        crate::http::doors::step::now(state),
    ))
}

/// Attempts are locked: the flow ends with a signed `locked`.
pub async fn lock(state: &AppState, t: &StepTenant, flow: &Flow, until: Option<u64>) -> Refusal {
    if let Err(refusal) = finish(state, t, flow).await {
        return refusal;
    }
    flow.locked(state, t, until.and_then(|u| i64::try_from(u).ok()))
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
