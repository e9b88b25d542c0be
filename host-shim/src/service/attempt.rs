//! One typed code against a subject's credential (`verify`, `activate`): the
//! plugin's answer, stored by compare-and-swap, with what a door needs to
//! answer. A subject without codes is checked against its own copy of the
//! tenant's decoy credential (kept in the store's bounded unenrolled table), so
//! it costs the same and is locked out the same as a subject with codes.

use std::sync::Arc;

use secrecy::SecretString;

use super::replaced::replaces;
use super::{MAX_SWAP_ATTEMPTS, Service, ServiceError, check_subject, event_set_id, record_events};
use crate::plugin::{Event, FailureReason, Outcome, Verification};
use crate::store::{Record, UnenrolledWrite, unenrolled_key};

/// What `verify` and `activate` report.
#[derive(Debug)]
pub struct Attempt {
    /// What happened.
    pub outcome: Outcome,
    /// Unused codes in the active set.
    pub remaining: u8,
    /// The id of the set the attempt was checked against (when it was checked).
    pub set_id: Option<String>,
    /// Remaining is at or below the tenant's low-water mark.
    pub low: bool,
    /// Consecutive failures counted on the set after this attempt.
    pub consecutive_failures: u32,
    /// A wrong code at login was one of the set the active set replaced (within
    /// [`REPLACED_SET_MEMORY`](super::REPLACED_SET_MEMORY)): it is refused like any wrong code, and the
    /// user can be told why.
    pub replaced_set: bool,
    /// Events the plugin produced.
    pub events: Vec<Event>,
    /// The new code that replaced the one just used (the tenant's
    /// `replace_on_use`): show it once, then forget it.
    pub replacement: Option<crate::plugin::IssuedCode>,
}

/// How a door answers an attempt for a subject without codes. Either way the
/// attempt is checked against the subject's own copy of the tenant's decoy
/// credential, at the same cost and counted toward the same lockout as for a
/// subject with codes; only the answer differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WithoutCodes {
    /// [`ServiceError::NotEnrolled`], whatever was typed: for doors that tell
    /// the IdP about enrolment (the JSON API, the login step's result), whose
    /// callers authenticated the call for that subject and may read its status.
    NotEnrolled,
    /// Exactly as for a subject with codes (a wrong code, a typo, locked): for
    /// doors that promise not to tell them apart (the REST second factor).
    LikeEnrolled,
}

/// Where an attempt's credential lives: the subject's own, or the state of a
/// subject without codes (a copy of the decoy credential).
enum Holder {
    Enrolled(Record),
    Unenrolled { key: String, record: Option<Record> },
}

impl Service {
    /// Where `subject`'s attempt runs: its credential, or (without codes) its
    /// unenrolled state; `None` for an activation without codes.
    async fn holder(
        &self,
        tenant_id: &str,
        subject: &str,
        activation: bool,
    ) -> Result<Option<Holder>, ServiceError> {
        Ok(match self.store.get(tenant_id, subject).await? {
            Some(record) => Some(Holder::Enrolled(record)),
            None if activation => None,
            None => {
                let key = unenrolled_key(tenant_id, subject);
                let record = self.store.unenrolled(tenant_id, &key).await?;
                Some(Holder::Unenrolled { key, record })
            }
        })
    }

    /// Store an attempt's new credential where it was read from; `false` when
    /// another writer won.
    async fn store_attempt(
        &self,
        tenant_id: &str,
        subject: &str,
        holder: &Holder,
        v: &Verification,
        previous: &[u8],
    ) -> Result<bool, ServiceError> {
        if v.credential == previous {
            return Ok(true);
        }
        let written = match holder {
            Holder::Enrolled(record) => {
                let replaced = replaces(&v.events, Some(previous));
                self.write(
                    tenant_id,
                    subject,
                    Some(record.version),
                    &v.credential,
                    &v.events,
                    replaced.as_deref(),
                )
                .await?
            }
            Holder::Unenrolled { key, record } => {
                let failures = match v.outcome {
                    Outcome::Rejected(r) => r.consecutive_failures,
                    _ => 0,
                };
                let write = UnenrolledWrite {
                    expected: record.as_ref().map(|r| r.version),
                    credential: &v.credential,
                    failures,
                    now: self.now(),
                    capacity: self.tenant(tenant_id)?.unenrolled_capacity,
                };
                self.store.swap_unenrolled(tenant_id, key, &write).await?
            }
        };
        Ok(written.is_some())
    }

    /// An attempt answered as `without_codes` says for a subject without codes.
    async fn attempt(
        &self,
        tenant_id: &str,
        subject: &str,
        code: SecretString,
        activation: bool,
        without_codes: WithoutCodes,
    ) -> Result<Attempt, ServiceError> {
        let (enrolled, answer) = self.checked(tenant_id, subject, code, activation).await;
        if enrolled || without_codes == WithoutCodes::LikeEnrolled {
            return answer;
        }
        match answer {
            // The engine or the store failed: fail closed as for anyone.
            Err(
                e @ (ServiceError::Engine(_)
                | ServiceError::Store(_)
                | ServiceError::Contended
                | ServiceError::Random),
            ) => Err(e),
            _ => Err(ServiceError::NotEnrolled),
        }
    }

    /// Check a typed code where the subject's attempts are kept; whether the
    /// subject has codes, and the answer.
    async fn checked(
        &self,
        tenant_id: &str,
        subject: &str,
        code: SecretString,
        activation: bool,
    ) -> (bool, Result<Attempt, ServiceError>) {
        let mut enrolled = true;
        let answer = self
            .check(tenant_id, subject, code, activation, &mut enrolled)
            .await;
        (enrolled, answer)
    }

    async fn check(
        &self,
        tenant_id: &str,
        subject: &str,
        code: SecretString,
        activation: bool,
        enrolled_out: &mut bool,
    ) -> Result<Attempt, ServiceError> {
        check_subject(subject)?;
        let tenant = self.tenant(tenant_id)?;
        let code = Arc::new(code);
        for _ in 0..MAX_SWAP_ATTEMPTS {
            let policy = tenant.policy;
            let pepper = tenant.pepper.clone();
            let Some(holder) = self.holder(tenant_id, subject, activation).await? else {
                let (decoy, code) = (tenant.decoy.clone(), Arc::clone(&code));
                // Same cost as a wrong code of a real subject (its check, then
                // the replaced set's); the results are thrown away.
                let _ = self
                    .run(tenant_id, subject, move |p| {
                        p.verify(&decoy, &code, &policy, pepper.as_ref())?;
                        p.verify(&decoy, &code, &policy, pepper.as_ref())
                    })
                    .await;
                return Err(ServiceError::NotEnrolled);
            };
            *enrolled_out = matches!(holder, Holder::Enrolled(_));
            let (credential, enrolled) = match &holder {
                Holder::Enrolled(r) => (r.credential.clone(), true),
                Holder::Unenrolled { record, .. } => (
                    record
                        .as_ref()
                        .map_or_else(|| tenant.decoy.clone(), |r| r.credential.clone()),
                    false,
                ),
            };
            let typed = Arc::clone(&code);
            let input = credential.clone();
            let v = self
                .run(tenant_id, subject, move |p| {
                    if activation {
                        p.activate(&input, &typed, &policy, pepper.as_ref())
                    } else {
                        p.verify(&input, &typed, &policy, pepper.as_ref())
                    }
                })
                .await?;
            let now = self.now();
            if self
                .store_attempt(tenant_id, subject, &holder, &v, &credential)
                .await?
            {
                if enrolled {
                    record_events(tenant_id, &v.events);
                }
                let outcome_kind = match v.outcome {
                    Outcome::Accepted(_) => "accepted",
                    Outcome::Rejected(_) => "rejected",
                    Outcome::Locked(_) => "locked",
                    Outcome::Exhausted => "exhausted",
                };
                metrics::counter!("backup_codes_attempts_total", "outcome" => outcome_kind, "activation" => if activation { "true" } else { "false" }).increment(1);
                let consecutive_failures = match v.outcome {
                    Outcome::Rejected(r) => r.consecutive_failures,
                    Outcome::Accepted(_) => 0,
                    // Nothing was checked: the count is the stored one.
                    Outcome::Locked(_) | Outcome::Exhausted => {
                        let stored = v.credential.clone();
                        self.run(tenant_id, subject, move |p| p.status(&stored, &policy))
                            .await
                            .map_or(0, |s| s.consecutive_failures)
                    }
                };
                // A subject without codes has no replaced set: the decoy is
                // checked instead, at the same cost (and a read of the same table).
                let replaced_set = match v.outcome {
                    Outcome::Rejected(r) if !activation && r.reason == FailureReason::Mismatch => {
                        self.of_replaced_set(tenant_id, subject, tenant, &code, now)
                            .await
                            && enrolled
                    }
                    _ => false,
                };
                return Ok(Attempt {
                    outcome: v.outcome,
                    remaining: v.remaining,
                    set_id: event_set_id(&v.events).filter(|_| enrolled),
                    low: v.remaining <= tenant.policy.low_water,
                    consecutive_failures,
                    replaced_set,
                    events: if enrolled { v.events } else { Vec::new() },
                    replacement: v.replacement,
                });
            }
            metrics::counter!("backup_codes_store_conflicts_total").increment(1);
        }
        Err(ServiceError::Contended)
    }

    /// Check a code typed at login; a subject without codes is answered
    /// [`ServiceError::NotEnrolled`] (after the same check and lockout count).
    pub async fn verify(
        &self,
        tenant: &str,
        subject: &str,
        code: SecretString,
    ) -> Result<Attempt, ServiceError> {
        self.attempt(tenant, subject, code, false, WithoutCodes::NotEnrolled)
            .await
    }

    /// Check a code typed at login, answering a subject without codes
    /// exactly as a subject with codes ([`WithoutCodes::LikeEnrolled`]).
    pub async fn verify_like_enrolled(
        &self,
        tenant: &str,
        subject: &str,
        code: SecretString,
    ) -> Result<Attempt, ServiceError> {
        self.attempt(tenant, subject, code, false, WithoutCodes::LikeEnrolled)
            .await
    }

    /// Check a code of the pending set, which then becomes active.
    pub async fn activate(
        &self,
        tenant: &str,
        subject: &str,
        code: SecretString,
    ) -> Result<Attempt, ServiceError> {
        self.attempt(tenant, subject, code, true, WithoutCodes::NotEnrolled)
            .await
    }
}
