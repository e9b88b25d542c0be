//! The step's answer to the IdP: the `result` claim ([`StepResult`]) of an HS256
//! token signed with the tenant's `step_secret`, posted back with `state`.
//!
//! Claims: `iss` = the shim's `public_url`, `aud` = the tenant's `issuer`,
//! `sub`, `state`, `iat`, `exp` ([`RESULT_TTL`]), `jti`, and `result`:
//!
//! | `result` | when |
//! |---|---|
//! | `{"status":"success","method":"backup_code","action":"verify","set_id","number","remaining","low"}` | a code was accepted (with `regenerated` if the user took a new set from the "few codes left" notice) |
//! | `{"status":"success","method":"backup_code","action":"enroll"\|"regenerate","set_id","fingerprint","count","confirmed_with"}` | a new set is active |
//! | `{"status":"failed","method":"backup_code","action":...,"reason":...}` | see [`Reason`]; `locked` adds `locked_until` or `permanent` |
//!
//! The IdP checks the signature, `iss`, `aud`, `exp`, that `state` is the one it
//! sent, `sub`, and that `result.action` is the step it asked for.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use crate::http::AppState;
use crate::http::doors::step::{StepTenant, now, random_token};
use crate::http::views::handoff::Handoff;

/// Lifetime of the result token sent back to the IdP, seconds.
pub const RESULT_TTL: i64 = 300;

/// The method every result names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// A backup code.
    BackupCode,
}

/// The step the IdP asked for, as results name it (`login` → `verify`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// A code was checked at login.
    Verify,
    /// A first set.
    Enroll,
    /// A set replacing the current one.
    Regenerate,
}

/// Why a step failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The session token expired.
    ExpiredToken,
    /// The session token names another audience.
    WrongAudience,
    /// The session token's issuer is not the tenant's.
    InvalidIssuer,
    /// The session token's times are unusable.
    InvalidToken,
    /// The session token names no valid subject.
    InvalidSubject,
    /// The session token names another step, or none.
    WrongStep,
    /// The session token's `state` is not the parameter's.
    StateMismatch,
    /// The `state` was used before.
    StateReused,
    /// The session token was used before.
    ReplayedToken,
    /// The subject has no active codes.
    NotEnrolled,
    /// A first enrolment for a subject who has codes.
    AlreadyEnrolled,
    /// Nothing waits for confirmation.
    NoPendingSet,
    /// Too many wrong codes.
    Locked,
    /// Every code is used.
    Exhausted,
    /// The user chose not to go on.
    Cancelled,
    /// The flow already issued as many sets as it may.
    TooManySets,
    /// The request cannot be handled (a flow that would be too large).
    InvalidRequest,
    /// The engine or the store is unavailable: nothing was checked.
    Unavailable,
    /// Anything else (logged).
    Error,
}

impl Reason {
    /// Its name in results (`expired_token`, ...), for logs.
    pub fn name(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }
}

/// A code accepted at login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verified {
    /// The set the code belongs to.
    pub set_id: Option<String>,
    /// The code's number.
    pub number: u8,
    /// Unused codes left.
    pub remaining: u8,
    /// At or below the tenant's low-water mark.
    pub low: bool,
    /// A new set the user took right after (the "few codes left" notice).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regenerated: Option<Box<StepResult>>,
}

/// A new active set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrolment {
    /// Its id.
    pub set_id: String,
    /// Its short form.
    pub fingerprint: String,
    /// Its codes.
    pub count: u8,
    /// The number of the code typed back to confirm it (none without proof of saving).
    pub confirmed_with: Option<u8>,
}

/// What a successful step proved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Proof {
    /// A code was accepted.
    Verify(Verified),
    /// A first set is active.
    Enroll(Enrolment),
    /// A replacing set is active.
    Regenerate(Enrolment),
}

/// A success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Success {
    /// Always `backup_code`.
    pub method: Method,
    /// What was proved.
    #[serde(flatten)]
    pub proof: Proof,
}

/// A failure: nothing was proved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// Always `backup_code`.
    pub method: Method,
    /// The step asked for.
    pub action: Action,
    /// Why it failed.
    pub reason: Reason,
    /// With `locked`: when codes can be tried again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locked_until: Option<i64>,
    /// With `locked`: until a new set is issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permanent: Option<bool>,
}

impl Failure {
    /// A failure of `action` for `reason`.
    pub fn new(action: Action, reason: Reason) -> Self {
        Self {
            method: Method::BackupCode,
            action,
            reason,
            locked_until: None,
            permanent: None,
        }
    }

    /// A lockout: until `until`, or for good (`None`).
    pub fn locked(action: Action, until: Option<i64>) -> Self {
        Self {
            locked_until: until,
            permanent: until.is_none().then_some(true),
            ..Self::new(action, Reason::Locked)
        }
    }
}

/// The `result` claim of the token the step posts back to the IdP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum StepResult {
    /// The step succeeded.
    Success(Success),
    /// The step failed.
    Failed(Failure),
}

impl StepResult {
    /// A success proving `proof`.
    pub fn success(proof: Proof) -> Self {
        Self::Success(Success {
            method: Method::BackupCode,
            proof,
        })
    }
}

/// The claims of the result token.
#[derive(Debug, Serialize, Deserialize)]
pub struct ResultClaims {
    /// The shim's `public_url`.
    pub iss: String,
    /// The tenant's `issuer`.
    pub aud: String,
    /// The subject, when the session token named a valid one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// The IdP's `state`.
    pub state: String,
    /// Issued at.
    pub iat: i64,
    /// Expires at ([`RESULT_TTL`] later).
    pub exp: i64,
    /// Random id (the IdP accepts each result once).
    pub jti: String,
    /// What happened.
    pub result: StepResult,
}

/// Signing a result failed (the OS random source or the JWT encoder); the
/// caller fails closed.
#[derive(Debug, thiserror::Error)]
#[error("signing the step's result failed")]
pub struct SigningError;

/// Where a result goes back: the continue URL, with the IdP's `state`, about
/// the subject when the session token named a valid one.
#[derive(Debug, Clone, Copy)]
pub struct Destination<'a> {
    /// The continue URL.
    pub cont: &'a str,
    /// The IdP's `state`.
    pub state: &'a str,
    /// The subject.
    pub sub: Option<&'a str>,
}

/// Sign a result into what the page posts back.
pub struct Signed;

impl Signed {
    /// Sign `result` for `to`.
    pub fn handoff(
        state: &AppState,
        t: &StepTenant,
        to: Destination<'_>,
        result: StepResult,
    ) -> Result<Handoff, SigningError> {
        let iat = now(state);
        let claims = ResultClaims {
            iss: state.config.public_base().to_owned(),
            aud: t.config.issuer.clone(),
            sub: to.sub.map(str::to_owned),
            state: to.state.to_owned(),
            iat,
            exp: iat + RESULT_TTL,
            jti: random_token(16).ok_or(SigningError)?,
            result,
        };
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(t.secret.expose_secret().as_bytes()),
        )
        .map_err(|_| SigningError)?;
        Ok(Handoff::step(
            to.cont.to_owned(),
            to.state.to_owned(),
            token,
        ))
    }

    /// A signed failure of `action` for `reason` (`None` when signing failed:
    /// the refusal page still shows).
    pub fn failure(
        state: &AppState,
        t: &StepTenant,
        to: Destination<'_>,
        action: Action,
        reason: Reason,
    ) -> Option<Handoff> {
        let result = StepResult::Failed(Failure::new(action, reason));
        Self::handoff(state, t, to, result).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The documented shapes, field for field.
    #[test]
    fn results_serialize_to_the_documented_shapes() {
        let failed = StepResult::Failed(Failure::new(Action::Verify, Reason::ExpiredToken));
        assert_eq!(
            serde_json::to_value(&failed).unwrap(),
            serde_json::json!({"status": "failed", "method": "backup_code", "action": "verify", "reason": "expired_token"})
        );
        let locked = StepResult::Failed(Failure::locked(Action::Verify, None));
        assert_eq!(serde_json::to_value(&locked).unwrap()["permanent"], true);
        let enrolled = StepResult::success(Proof::Enroll(Enrolment {
            set_id: "s".into(),
            fingerprint: "F".into(),
            count: 10,
            confirmed_with: Some(1),
        }));
        let verified = StepResult::success(Proof::Verify(Verified {
            set_id: Some("s".into()),
            number: 2,
            remaining: 3,
            low: true,
            regenerated: Some(Box::new(enrolled)),
        }));
        let v = serde_json::to_value(&verified).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"status": "success", "method": "backup_code", "action": "verify",
                "set_id": "s", "number": 2, "remaining": 3, "low": true,
                "regenerated": {"status": "success", "method": "backup_code", "action": "enroll",
                    "set_id": "s", "fingerprint": "F", "count": 10, "confirmed_with": 1}})
        );
        let back: StepResult = serde_json::from_value(v).unwrap();
        assert_eq!(back, verified);
    }
}
