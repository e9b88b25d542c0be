//! The step-up provider's answers, form-posted to the relying party's
//! registered redirect URI (OAuth 2.0 Form Post Response Mode): an RS256
//! `id_token` and `state` on success, `error`, `error_description` and
//! `state` otherwise.
//!
//! The ID token: `iss` (this tenant's issuer), `sub` (the hint's `sub`), `aud`
//! (the request's `client_id`), `iat`, `exp` (`id_token_ttl_seconds`),
//! `auth_time` (when the code was accepted), `nonce`, exactly one `acr` (a
//! string) and `amr` (an array of exactly one value); the header names the
//! signing key's `kid`.

use serde::{Deserialize, Serialize};

use crate::http::doors::step::ctx::StepCtx;
use crate::http::doors::step::result::{Failure, Proof, Reason, StepResult};
use crate::http::views::handoff::{Field, Handoff};

/// What a step-up flow answers with, carried in the signed flow token from the
/// authorization request to the code page's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpAnswer {
    /// The tenant's issuer, as the request reached it.
    pub iss: String,
    /// The relying party (the ID token's `aud`).
    pub client_id: String,
    /// The request's `nonce`.
    pub nonce: String,
    /// The hint's `sub`: the ID token's `sub`.
    pub sub: String,
    /// The `acr` to answer with.
    pub acr: String,
    /// The `amr` value to answer with.
    pub amr: String,
    /// Whether the request carried `state` (the flow holds its value).
    pub has_state: bool,
    /// The redirect URI's origin (the answer page's `form-action`).
    pub origin: String,
}

/// The claims of the ID token.
#[derive(Debug, Serialize, Deserialize)]
pub struct IdTokenClaims {
    /// The issuer.
    pub iss: String,
    /// The hint's `sub`.
    pub sub: String,
    /// The client id.
    pub aud: String,
    /// Issued at.
    pub iat: i64,
    /// Expires at.
    pub exp: i64,
    /// When the code was accepted.
    pub auth_time: i64,
    /// The request's nonce.
    pub nonce: String,
    /// The one authentication context class.
    pub acr: String,
    /// The one method.
    pub amr: [String; 1],
}

/// An OAuth error code and its description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpError {
    /// `error` (RFC 6749 §4.2.2.1, OpenID Connect Core §3.1.2.6).
    pub code: &'static str,
    /// `error_description` (printable ASCII without `"` and `\`).
    pub description: &'static str,
}

impl OpError {
    /// An error `code` with `description`.
    pub const fn new(code: &'static str, description: &'static str) -> Self {
        Self { code, description }
    }
}

/// The error a failed flow answers with.
pub fn flow_error(f: &Failure) -> OpError {
    match f.reason {
        Reason::Cancelled => OpError::new("access_denied", "the user did not enter a backup code"),
        Reason::NotEnrolled => OpError::new("access_denied", "the user has no backup codes"),
        Reason::Locked => OpError::new(
            "access_denied",
            "backup codes are locked after too many wrong codes",
        ),
        Reason::Exhausted => OpError::new("access_denied", "every backup code of the user is used"),
        Reason::Unavailable => OpError::new(
            "temporarily_unavailable",
            "the backup code check is unavailable",
        ),
        Reason::InvalidRequest => OpError::new("invalid_request", "the request cannot be handled"),
        _ => OpError::new("server_error", "the step-up sign-in failed"),
    }
}

/// The form posting `error` to `redirect`.
pub fn error_handoff(redirect: &str, origin: &str, state: Option<&str>, error: OpError) -> Handoff {
    let mut fields = vec![
        Field {
            name: "error",
            value: error.code.to_owned(),
        },
        Field {
            name: "error_description",
            value: error.description.to_owned(),
        },
    ];
    if let Some(s) = state {
        fields.push(Field {
            name: "state",
            value: s.to_owned(),
        });
    }
    Handoff {
        url: redirect.to_owned(),
        fields,
        form_action: Some(origin.to_owned()),
    }
}

/// Signing the ID token failed (no key, or the encoder); the caller fails closed.
#[derive(Debug, thiserror::Error)]
#[error("signing the ID token failed")]
pub struct SigningFailed;

/// The answer of a finished step-up flow (`answer`, the flow's), to the
/// relying party's redirect URI (the flow's continue URL).
pub(crate) fn handoff(
    ctx: &StepCtx,
    answer: &OpAnswer,
    result: StepResult,
) -> Result<Handoff, SigningFailed> {
    let (state, tenant) = (&ctx.state, ctx.tenant.id());
    let (redirect, flow_state) = (ctx.flow.cont.as_str(), ctx.flow.state.as_str());
    let sent_state = answer.has_state.then_some(flow_state);
    let proof = match result {
        StepResult::Success(s) => s.proof,
        StepResult::Failed(f) => {
            return Ok(error_handoff(
                redirect,
                &answer.origin,
                sent_state,
                flow_error(&f),
            ));
        }
    };
    if !matches!(proof, Proof::Verify(_)) {
        // Only a login ends a step-up flow; anything else is a defect.
        tracing::error!(tenant, "a step-up flow ended in an enrolment");
        return Ok(error_handoff(
            redirect,
            &answer.origin,
            sent_state,
            OpError::new("server_error", "the step-up sign-in failed"),
        ));
    }
    let provider = state.stepup.get(tenant).ok_or(SigningFailed)?;
    let ttl = state
        .config
        .tenants
        .get(tenant)
        .and_then(|t| t.stepup.as_ref())
        .map_or(300, |s| {
            i64::try_from(s.id_token_ttl_seconds).unwrap_or(300)
        });
    let key = provider.ring.signer().map_err(|e| {
        tracing::error!(tenant, error = %e, "no step-up signing key");
        SigningFailed
    })?;
    let now = state.service.now();
    let claims = IdTokenClaims {
        iss: answer.iss.clone(),
        sub: answer.sub.clone(),
        aud: answer.client_id.clone(),
        iat: now,
        exp: now.saturating_add(ttl),
        auth_time: now,
        nonce: answer.nonce.clone(),
        acr: answer.acr.clone(),
        amr: [answer.amr.clone()],
    };
    let token = key.sign(&claims).map_err(|_| SigningFailed)?;
    let mut fields = vec![Field {
        name: "id_token",
        value: token,
    }];
    if let Some(s) = sent_state {
        fields.push(Field {
            name: "state",
            value: s.to_owned(),
        });
    }
    tracing::info!(tenant, client = %answer.client_id, kid = %key.kid, "step-up ID token issued");
    Ok(Handoff {
        url: redirect.to_owned(),
        fields,
        form_action: Some(answer.origin.clone()),
    })
}
