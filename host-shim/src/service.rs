//! The operations identity providers use, over the plugin and the store.
//!
//! Each change reads the subject's credential, runs the plugin on it off the async
//! runtime, and writes the result with compare-and-swap; when another writer won,
//! it starts again from the fresh value. The plugin decides everything about codes;
//! this layer only keeps state and records events.
//!
//! Plugin calls wait for one of the instance slots in an async queue (a tokio
//! semaphore, [`PluginConfig::queue_timeout`](crate::plugin::PluginConfig)), so a
//! burst waits without holding threads of the blocking pool.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretSlice;
use serde_json::json;

use crate::plugin::{CallError, Clock, Event, Issued, Plugin, PluginError, Policy};
use crate::store::{AuditRecord, Effects, Mark, Store, StoreError};

mod attempt;
mod describe;
mod ids;
mod import;
mod lanes;
mod outbox;
mod rates;
mod replaced;

pub use self::attempt::{Attempt, WithoutCodes};
pub use self::describe::{audit_records, describe, reason_name, refusal_text, source_name};
pub use self::ids::{MAX_SUBJECT_BYTES, Subject, SubjectId, TenantId};
pub use self::import::ImportOutcome;

pub use self::outbox::{OutboxSignals, REQUEST_ID, Route, routes as webhook_routes};
pub use self::replaced::REPLACED_SET_MEMORY;
use self::replaced::replaces;

/// Compare-and-swap attempts before giving up with [`ServiceError::Contended`].
pub const MAX_SWAP_ATTEMPTS: usize = 64;

/// What a tenant's calls run with.
pub struct Tenant {
    /// The tenant's policy (the plugin's default with the tenant's overrides).
    pub policy: Policy,
    /// Optional pepper passed to argon2 as its secret.
    pub pepper: Option<SecretSlice<u8>>,
    /// A credential no subject owns, with the tenant's hashing: attempts for
    /// subjects without codes are checked against it, so they cost the same
    /// argon2 evaluation as real ones and timing does not tell them apart.
    pub decoy: Vec<u8>,
    /// The tenant's webhook endpoints and the kinds each receives.
    pub webhooks: Vec<Route>,
    /// Most subjects without codes whose attempts the store keeps counting
    /// (`limits.unenrolled_subjects_per_tenant`).
    pub unenrolled_capacity: u64,
}

impl std::fmt::Debug for Tenant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tenant")
            .field("policy", &self.policy)
            .field("pepper", &self.pepper.as_ref().map(|_| "[REDACTED]"))
            .field("webhooks", &self.webhooks)
            .finish_non_exhaustive()
    }
}

/// Why an operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// No such tenant is configured.
    #[error("unknown tenant")]
    UnknownTenant,
    /// The subject id is empty, too long or contains control characters.
    #[error("subject must be 1..=255 bytes without control characters")]
    InvalidSubject,
    /// The subject has no backup codes.
    #[error("no backup codes are enrolled for this subject")]
    NotEnrolled,
    /// A first enrolment was asked for, but the subject already has an active set
    /// (replacing it needs [`IssueMode::Replace`]).
    #[error("backup codes are already enrolled for this subject")]
    AlreadyEnrolled,
    /// The plugin refused the input (bad code format, no pending set, ...).
    #[error("{}", refusal_text(.0))]
    Refused(PluginError),
    /// The plugin failed (trap, timeout, limit): the step fails closed.
    #[error("the backup-code engine failed ({})", .0.kind())]
    Engine(CallError),
    /// Too many concurrent writers kept winning the compare-and-swap.
    #[error("too much contention on this subject; retry")]
    Contended,
    /// An imported set would cost more per attempt than this shim spends
    /// (argon2id memory or the whole verify's work); nothing was written.
    #[error("the set's hash parameters exceed what this shim spends per attempt: {0}")]
    ImportCost(String),
    /// The OS random source failed (an event id could not be made); nothing
    /// was written.
    #[error("the random source failed")]
    Random,
    /// Too many attempts for this subject (every door counts together);
    /// try again after the duration.
    #[error("too many attempts for this subject; retry later")]
    RateLimited(Duration),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Whether [`Service::issue_as`] may replace an active set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueMode {
    /// A first set only: refused with [`ServiceError::AlreadyEnrolled`] when an
    /// active set exists (decided on the same version the new set is written over).
    First,
    /// A new set, pending beside the active one when there is one (regeneration).
    Replace,
}

/// The backup-code service for all tenants.
pub struct Service {
    plugin: Arc<Plugin>,
    store: Store,
    tenants: BTreeMap<String, Tenant>,
    clock: Arc<dyn Clock>,
    /// One permit per instance slot.
    slots: Arc<tokio::sync::Semaphore>,
    /// One slot at a time per subject.
    lanes: Arc<lanes::SubjectLanes>,
    /// Attempts per minute per subject, whichever door.
    rates: rates::SubjectRates,
    queue_timeout: Duration,
    outbox: Arc<OutboxSignals>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("tenants", &self.tenants.keys().collect::<Vec<_>>())
            .field("backend", &self.store.backend())
            .finish_non_exhaustive()
    }
}

fn record_events(tenant: &str, events: &[Event]) {
    for event in events {
        let (kind, detail) = describe(event);
        tracing::info!(tenant, kind, %detail, "backup-code event");
        metrics::counter!("backup_codes_events_total", "kind" => kind).increment(1);
    }
}

impl Service {
    /// A service over a loaded plugin, a migrated store and configured tenants.
    pub fn new(
        plugin: Arc<Plugin>,
        store: Store,
        tenants: BTreeMap<String, Tenant>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let slots = usize::try_from(plugin.config().max_concurrent).unwrap_or(1);
        Self {
            outbox: outbox::signals(&tenants),
            queue_timeout: plugin.config().queue_timeout,
            slots: Arc::new(tokio::sync::Semaphore::new(slots)),
            lanes: Arc::default(),
            rates: rates::SubjectRates::new(u32::MAX),
            plugin,
            store,
            tenants,
            clock,
        }
    }

    /// The same service with `per_minute` attempts per subject (the
    /// configuration's `limits.per_subject_per_minute`; unlimited otherwise).
    #[must_use]
    pub fn with_subject_rate(mut self, per_minute: u32) -> Self {
        self.rates = rates::SubjectRates::new(per_minute);
        self
    }

    /// The store, for operator commands and white-box tests; doors go
    /// through the service's operations, marks and readiness instead.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Is the store reachable (`/readyz`)?
    pub async fn ready(&self) -> Result<(), ServiceError> {
        Ok(self.store.ping().await?)
    }

    /// Spend a single-use mark until `expires_at`: `true` the first time,
    /// `false` for a replay, on every instance sharing the store.
    pub async fn spend(&self, mark: Mark<'_>, expires_at: i64) -> Result<bool, ServiceError> {
        Ok(self.store.spend(mark, expires_at).await?)
    }

    /// Has a single-use mark been spent?
    pub async fn spent(&self, mark: Mark<'_>) -> Result<bool, ServiceError> {
        Ok(self.store.spent(mark).await?)
    }

    /// Forget per-subject allowances that are full again (bounds memory).
    pub fn shrink(&self) {
        self.rates.shrink();
    }

    /// Count an attempt (a typed code) for `subject`, whichever door.
    fn admit(&self, subject: &Subject) -> Result<(), ServiceError> {
        self.rates.check(subject).map_err(|wait| {
            metrics::counter!("backup_codes_rate_limited_total").increment(1);
            ServiceError::RateLimited(wait)
        })
    }

    /// The loaded plugin.
    pub fn plugin(&self) -> &Arc<Plugin> {
        &self.plugin
    }

    /// What the webhook delivery worker shares with the service.
    pub fn outbox_signals(&self) -> &Arc<OutboxSignals> {
        &self.outbox
    }

    /// Write a change: the credential by compare-and-swap, with its audit
    /// rows, the replaced set and its webhook rows in the same transaction.
    /// `None` when another writer won.
    async fn write(
        &self,
        tenant_id: &str,
        subject: &str,
        expected: Option<i64>,
        credential: &[u8],
        events: &[Event],
        replaced: Option<&[u8]>,
    ) -> Result<Option<i64>, ServiceError> {
        let tenant = self.tenant(tenant_id)?;
        let now = self.now();
        let audit = audit_records(events, now);
        let outbox = outbox::records(tenant_id, &tenant.webhooks, &self.outbox, events, now)?;
        let effects = Effects {
            audit: &audit,
            replaced,
            outbox: &outbox,
        };
        let written = self
            .store
            .swap_with(tenant_id, subject, expected, credential, now, &effects)
            .await?;
        if written.is_some() && !outbox.is_empty() {
            self.outbox.wake();
        }
        Ok(written)
    }

    /// A configured tenant.
    pub fn tenant(&self, id: &str) -> Result<&Tenant, ServiceError> {
        self.tenants.get(id).ok_or(ServiceError::UnknownTenant)
    }

    /// Is a tenant configured?
    pub fn has_tenant(&self, id: &str) -> bool {
        self.tenants.contains_key(id)
    }

    /// The tenant named `raw` ([`ServiceError::UnknownTenant`] unless configured).
    pub fn tenant_id(&self, raw: &str) -> Result<TenantId, ServiceError> {
        if self.tenants.contains_key(raw) {
            Ok(TenantId::known(raw))
        } else {
            Err(ServiceError::UnknownTenant)
        }
    }

    /// A subject of a configured tenant, both names checked once.
    pub fn subject(&self, tenant: &str, subject: &str) -> Result<Subject, ServiceError> {
        self.tenant_id(tenant)?.subject(subject)
    }

    /// The service's clock (Unix seconds): every `now` of every door, lockout
    /// answers and `Retry-After` included.
    pub fn now(&self) -> i64 {
        i64::try_from(self.clock.now()).unwrap_or(i64::MAX)
    }

    /// Run a plugin call on the blocking pool, in the subject's lane (one
    /// slot per subject at a time); engine failures are audited.
    async fn run<R: Send + 'static>(
        &self,
        tenant: &str,
        subject: &str,
        f: impl FnOnce(&Plugin) -> Result<R, CallError> + Send + 'static,
    ) -> Result<R, ServiceError> {
        let plugin = Arc::clone(&self.plugin);
        // The subject's turn first, then a slot: a subject waiting for its
        // own earlier call holds no slot. Both waits share the queue timeout.
        let admitted = async {
            let turn = self.lanes.turn(tenant, subject).await;
            let permit = Arc::clone(&self.slots).acquire_owned().await;
            permit.map(|p| (turn, p))
        };
        let result = match tokio::time::timeout(self.queue_timeout, admitted).await {
            Ok(Ok((turn, permit))) => tokio::task::spawn_blocking(move || {
                // Held until the call ends, even if the caller goes away.
                let _admitted = (turn, permit);
                f(&plugin)
            })
            .await
            .unwrap_or(Err(CallError::Trap)),
            _ => Err(CallError::Busy),
        };
        match result {
            Ok(r) => Ok(r),
            Err(CallError::Plugin(e)) => Err(ServiceError::Refused(e)),
            Err(e) => {
                let kind = e.kind();
                tracing::error!(tenant, kind, "plugin call failed; failing closed");
                metrics::counter!("backup_codes_plugin_failures_total", "kind" => kind)
                    .increment(1);
                let audit = AuditRecord {
                    at: self.now(),
                    kind: "engine_failure".into(),
                    detail: json!({ "kind": kind }).to_string(),
                    version: None,
                };
                if let Err(err) = self.store.audit(tenant, subject, &[audit]).await {
                    tracing::error!(error = %err, "could not record the engine failure");
                }
                Err(ServiceError::Engine(e))
            }
        }
    }

    /// Issue a new set (or a pending replacement for the current one).
    pub async fn issue(&self, who: &Subject) -> Result<Issued, ServiceError> {
        self.issue_as(who, IssueMode::Replace).await
    }

    /// Issue a new set; with [`IssueMode::First`] only when no set is active.
    /// Not an attempt: it does not count toward the subject's allowance (the
    /// IdP authorises each issue; the step allows a few per flow).
    pub async fn issue_as(&self, who: &Subject, mode: IssueMode) -> Result<Issued, ServiceError> {
        let (tenant_id, subject) = who.names();
        let tenant = self.tenant(tenant_id)?;
        for _ in 0..MAX_SWAP_ATTEMPTS {
            let current = self.store.get(tenant_id, subject).await?;
            let policy = tenant.policy;
            let pepper = tenant.pepper.clone();
            let bytes = current.as_ref().map(|r| r.credential.clone());
            if let (IssueMode::First, Some(existing)) = (mode, bytes.clone()) {
                let status = self
                    .run(tenant_id, subject, move |p| p.status(&existing, &policy))
                    .await?;
                if status.active.is_some() {
                    return Err(ServiceError::AlreadyEnrolled);
                }
            }
            let issued = self
                .run(tenant_id, subject, move |p| {
                    p.issue(bytes.as_deref(), &policy, pepper.as_ref())
                })
                .await?;
            let version = current.as_ref().map(|r| r.version);
            let replaced = replaces(
                &issued.events,
                current.as_ref().map(|r| r.credential.as_slice()),
            );
            if self
                .write(
                    tenant_id,
                    subject,
                    version,
                    &issued.credential,
                    &issued.events,
                    replaced.as_deref(),
                )
                .await?
                .is_some()
            {
                record_events(tenant_id, &issued.events);
                return Ok(issued);
            }
            metrics::counter!("backup_codes_store_conflicts_total").increment(1);
        }
        Err(ServiceError::Contended)
    }

    /// Describe a subject's credential.
    pub async fn status(
        &self,
        who: &Subject,
    ) -> Result<crate::plugin::CredentialStatus, ServiceError> {
        let (tenant_id, subject) = who.names();
        let tenant = self.tenant(tenant_id)?;
        let record = self
            .store
            .get(tenant_id, subject)
            .await?
            .ok_or(ServiceError::NotEnrolled)?;
        let policy = tenant.policy;
        self.run(tenant_id, subject, move |p| {
            p.status(&record.credential, &policy)
        })
        .await
    }

    /// Remove a subject's backup codes.
    pub async fn delete(&self, who: &Subject) -> Result<(), ServiceError> {
        let (tenant_id, subject) = who.names();
        let audit = AuditRecord {
            at: self.now(),
            kind: "deleted".into(),
            detail: "{}".into(),
            version: None,
        };
        if self.store.delete(tenant_id, subject, &[audit]).await? {
            Ok(())
        } else {
            Err(ServiceError::NotEnrolled)
        }
    }
}
