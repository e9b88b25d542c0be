//! One typed code against a subject's credential (`verify`, `activate`): one
//! read of the store (the credential and the set it replaced), one component
//! call (one argon2 evaluation), one compare-and-swap, and everything a door
//! answers with taken from the component's answer. A subject without codes
//! is checked against its own copy of the tenant's decoy credential (kept in
//! the store's bounded unenrolled table): the same cost, the same lockout. A
//! check the engine's deadline stopped is counted as a failure
//! (`interrupted`), so an attempt too costly to finish is never free.

use std::sync::Arc;

use secrecy::SecretString;

use super::replaced::{REPLACED_SET_MEMORY, replaces};
use super::{MAX_SWAP_ATTEMPTS, Service, ServiceError, Subject, Tenant, record_events};
use crate::plugin::{CallError, Event, IssuedCode, Lock, Outcome, Verification};
use crate::store::{Record, UnenrolledWrite, unenrolled_key};

/// What `verify` and `activate` report: the component's answer, as a door
/// renders it.
#[derive(Debug)]
pub struct Attempt {
    /// What happened.
    pub outcome: Outcome,
    /// Unused codes in the active set.
    pub remaining: u8,
    /// The id of the set the attempt was checked against (`None` for a
    /// subject without codes).
    pub set_id: Option<String>,
    /// Its short form, shown beside codes (`None` for a subject without codes).
    pub fingerprint: Option<String>,
    /// Remaining is at or below the tenant's low-water mark.
    pub low: bool,
    /// No code of the active set remains.
    pub exhausted: bool,
    /// The code number to ask for next, when codes are used in order.
    pub next_number: Option<u8>,
    /// Consecutive failures counted on the set after this attempt.
    pub consecutive_failures: u32,
    /// Whether the set takes attempts after this one.
    pub lock: Lock,
    /// Seconds until attempts are taken again (`Retry-After`), from the
    /// service's clock; `None` when open or locked until a new set.
    pub retry_after: Option<u64>,
    /// A wrong code at login was one of the set the active set replaced (within
    /// [`REPLACED_SET_MEMORY`]), told from the same evaluation: it is refused
    /// like any wrong code, and the user can be told why.
    pub replaced_set: bool,
    /// Events the plugin produced.
    pub events: Vec<Event>,
    /// The new code that replaced the one just used (the tenant's
    /// `replace_on_use`): show it once, then forget it.
    pub replacement: Option<IssuedCode>,
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

/// Which call checks the code (an activation names the set the user was shown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call<'a> {
    Verify,
    Activate(Option<&'a str>),
}

/// Where an attempt's credential lives: the subject's own (with the set it
/// replaced, when kept), or the state of a subject without codes.
enum Holder {
    Enrolled {
        record: Record,
        replaced: Option<Vec<u8>>,
    },
    Unenrolled {
        key: String,
        record: Option<Record>,
    },
}

impl Holder {
    fn enrolled(&self) -> bool {
        matches!(self, Self::Enrolled { .. })
    }

    /// The credential to check (a subject without codes yet: the decoy).
    fn credential<'a>(&'a self, tenant: &'a Tenant) -> &'a [u8] {
        match self {
            Self::Enrolled { record, .. } => &record.credential,
            Self::Unenrolled { record, .. } => record
                .as_ref()
                .map_or(tenant.decoy.as_slice(), |r| r.credential.as_slice()),
        }
    }

    /// The credential its active set replaced, to compare a wrong code with.
    fn replaced(&self) -> Option<&[u8]> {
        match self {
            Self::Enrolled { replaced, .. } => replaced.as_deref(),
            Self::Unenrolled { .. } => None,
        }
    }
}

impl Service {
    /// Where `subject`'s attempt runs (one read); `None` for an activation
    /// without codes.
    async fn holder(
        &self,
        tenant_id: &str,
        subject: &str,
        call: Call<'_>,
    ) -> Result<Option<Holder>, ServiceError> {
        // One round trip whether or not the subject has codes: the same
        // work, and the same time, for both.
        let since = self.now().saturating_sub(REPLACED_SET_MEMORY);
        let key = unenrolled_key(tenant_id, subject);
        let rows = self
            .store
            .attempt_rows(tenant_id, subject, since, &key)
            .await?;
        Ok(match rows.credential {
            Some((record, replaced)) => Some(Holder::Enrolled { record, replaced }),
            None if matches!(call, Call::Activate(_)) => None,
            None => Some(Holder::Unenrolled {
                key,
                record: rows.unenrolled,
            }),
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
            Holder::Enrolled { record, .. } => {
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
                let write = UnenrolledWrite {
                    expected: record.as_ref().map(|r| r.version),
                    credential: &v.credential,
                    failures: v.consecutive_failures,
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
        who: &Subject,
        code: SecretString,
        call: Call<'_>,
        without_codes: WithoutCodes,
    ) -> Result<Attempt, ServiceError> {
        self.admit(who)?;
        let (tenant_id, subject) = who.names();
        let tenant = self.tenant(tenant_id)?;
        let code = Arc::new(code);
        for _ in 0..MAX_SWAP_ATTEMPTS {
            let Some(holder) = self.holder(tenant_id, subject, call).await? else {
                // An activation without codes: the cost of one, then refused.
                let (decoy, code, policy) =
                    (tenant.decoy.clone(), Arc::clone(&code), tenant.policy);
                let pepper = tenant.pepper.clone();
                let _ = self
                    .run(tenant_id, subject, move |p| {
                        p.verify(&decoy, None, &code, &policy, pepper.as_ref())
                    })
                    .await;
                return Err(ServiceError::NotEnrolled);
            };
            let enrolled = holder.enrolled();
            let told = |answer: Result<Attempt, ServiceError>| {
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
            };
            let v = match self.check(tenant_id, subject, &code, call, &holder).await {
                Ok(v) => v,
                Err(ServiceError::Engine(CallError::Timeout)) if call == Call::Verify => {
                    self.count_interrupted(tenant_id, subject).await;
                    return told(Err(ServiceError::Engine(CallError::Timeout)));
                }
                Err(e) => return told(Err(e)),
            };
            if self
                .store_attempt(tenant_id, subject, &holder, &v, holder.credential(tenant))
                .await?
            {
                if enrolled {
                    record_events(tenant_id, &v.events);
                }
                count_attempt(&v.outcome, call);
                return told(Ok(self.answered(v, enrolled)));
            }
            metrics::counter!("backup_codes_store_conflicts_total").increment(1);
        }
        Err(ServiceError::Contended)
    }

    /// The one component call of an attempt.
    async fn check(
        &self,
        tenant_id: &str,
        subject: &str,
        code: &Arc<SecretString>,
        call: Call<'_>,
        holder: &Holder,
    ) -> Result<Verification, ServiceError> {
        let tenant = self.tenant(tenant_id)?;
        let (policy, pepper) = (tenant.policy, tenant.pepper.clone());
        let (input, typed) = (holder.credential(tenant).to_vec(), Arc::clone(code));
        let replaced = holder.replaced().map(<[u8]>::to_vec);
        // Owned for the blocking call: `Some(set)` activates, `None` verifies.
        let activation = match call {
            Call::Activate(set) => Some(set.map(str::to_owned)),
            Call::Verify => None,
        };
        self.run(tenant_id, subject, move |p| match activation {
            Some(set_id) => p.activate(&input, set_id.as_deref(), &typed, &policy, pepper.as_ref()),
            None => p.verify(
                &input,
                replaced.as_deref(),
                &typed,
                &policy,
                pepper.as_ref(),
            ),
        })
        .await
    }

    /// Count a verify the engine's deadline stopped as a failure of the set
    /// it was checking (no evaluation), so it cannot be repeated for free.
    /// Best effort: a store or engine failure here is logged, the attempt
    /// already failed closed.
    async fn count_interrupted(&self, tenant_id: &str, subject: &str) {
        let Ok(tenant) = self.tenant(tenant_id) else {
            return;
        };
        for _ in 0..MAX_SWAP_ATTEMPTS {
            let holder = match self.holder(tenant_id, subject, Call::Verify).await {
                Ok(Some(h)) => h,
                Ok(None) => return,
                Err(e) => {
                    tracing::error!(error = %e, "could not count an interrupted attempt");
                    return;
                }
            };
            let (input, policy) = (holder.credential(tenant).to_vec(), tenant.policy);
            let counted = self
                .run(tenant_id, subject, move |p| p.interrupted(&input, &policy))
                .await;
            let v = match counted {
                Ok(v) => v,
                Err(e) => {
                    tracing::error!(error = %e, "could not count an interrupted attempt");
                    return;
                }
            };
            match self
                .store_attempt(tenant_id, subject, &holder, &v, holder.credential(tenant))
                .await
            {
                Ok(true) => {
                    if holder.enrolled() {
                        record_events(tenant_id, &v.events);
                    }
                    count_attempt(&v.outcome, Call::Verify);
                    return;
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::error!(error = %e, "could not count an interrupted attempt");
                    return;
                }
            }
        }
    }

    /// The door's view of the component's answer (a subject without codes
    /// shows nothing of its decoy).
    fn answered(&self, v: Verification, enrolled: bool) -> Attempt {
        let now = u64::try_from(self.now()).unwrap_or(0);
        Attempt {
            outcome: v.outcome,
            remaining: v.remaining,
            set_id: enrolled.then_some(v.set_id),
            fingerprint: enrolled.then_some(v.fingerprint),
            low: v.low && enrolled,
            exhausted: v.exhausted,
            next_number: v.next_number,
            consecutive_failures: v.consecutive_failures,
            lock: v.lock,
            retry_after: match v.lock {
                Lock::Until(until) => Some(until.saturating_sub(now).max(1)),
                Lock::Open | Lock::Permanent => None,
            },
            replaced_set: v.replaced_set && enrolled,
            events: if enrolled { v.events } else { Vec::new() },
            replacement: v.replacement,
        }
    }

    /// Check a code typed at login; a subject without codes is answered
    /// [`ServiceError::NotEnrolled`] (after the same check and lockout count).
    pub async fn verify(&self, who: &Subject, code: SecretString) -> Result<Attempt, ServiceError> {
        self.attempt(who, code, Call::Verify, WithoutCodes::NotEnrolled)
            .await
    }

    /// Check a code typed at login, answering a subject without codes
    /// exactly as a subject with codes ([`WithoutCodes::LikeEnrolled`]).
    pub async fn verify_like_enrolled(
        &self,
        who: &Subject,
        code: SecretString,
    ) -> Result<Attempt, ServiceError> {
        self.attempt(who, code, Call::Verify, WithoutCodes::LikeEnrolled)
            .await
    }

    /// Check a code of the pending set, which then becomes active; with
    /// `set_id`, only the pending set of that id (the one a page showed: a
    /// stale page is `no-pending-set`, before any evaluation).
    pub async fn activate(
        &self,
        who: &Subject,
        set_id: Option<&str>,
        code: SecretString,
    ) -> Result<Attempt, ServiceError> {
        self.attempt(who, code, Call::Activate(set_id), WithoutCodes::NotEnrolled)
            .await
    }
}

fn count_attempt(outcome: &Outcome, call: Call<'_>) {
    let kind = match outcome {
        Outcome::Accepted(_) => "accepted",
        Outcome::Rejected(_) => "rejected",
        Outcome::Locked(_) => "locked",
        Outcome::Exhausted => "exhausted",
    };
    let activation = if matches!(call, Call::Activate(_)) {
        "true"
    } else {
        "false"
    };
    metrics::counter!("backup_codes_attempts_total", "outcome" => kind, "activation" => activation)
        .increment(1);
}
