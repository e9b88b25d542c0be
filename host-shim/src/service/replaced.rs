//! Codes of a replaced set: the credential whose active set a write
//! replaces is kept (see the store's `replaced_credentials`), so a wrong code
//! at login can be recognised as one of that set and the user told why it no
//! longer works. Such a code is refused like any wrong code.

use std::sync::Arc;

use secrecy::SecretString;

use super::{Service, Tenant};
use crate::plugin::{Event, FailureReason, Outcome, Rejection};

/// How long a replaced set is remembered to recognise its codes, seconds.
pub const REPLACED_SET_MEMORY: i64 = 30 * 24 * 3600;

/// Does a write with these `events` replace the active set of `previous`?
pub(super) fn replaces(events: &[Event], previous: Option<&[u8]>) -> Option<Vec<u8>> {
    let replacing = events.iter().any(|e| match e {
        Event::Activated(_) => true,
        Event::Issued(i) => !i.pending,
        _ => false,
    });
    previous.filter(|_| replacing).map(<[u8]>::to_vec)
}

impl Service {
    /// Was a wrong code one of the set the active set replaced? The plugin
    /// checks it against the replaced credential (nothing is written; such a
    /// code never signs anyone in). Without a remembered set the decoy is
    /// checked instead, so every wrong code costs the same.
    pub(super) async fn of_replaced_set(
        &self,
        tenant_id: &str,
        subject: &str,
        tenant: &Tenant,
        code: &Arc<SecretString>,
        now: i64,
    ) -> bool {
        let since = now.saturating_sub(REPLACED_SET_MEMORY);
        let remembered = match self.store.replaced(tenant_id, subject, since).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the replaced set");
                None
            }
        };
        let known = remembered.is_some();
        let decoy = tenant.decoy.clone();
        let old = remembered.unwrap_or_else(|| decoy.clone());
        let (policy, pepper, code) = (tenant.policy, tenant.pepper.clone(), Arc::clone(code));
        let outcome = self
            .run(tenant_id, subject, move |p| {
                let checked = p
                    .verify(&old, &code, &policy, pepper.as_ref())
                    .ok()
                    .map(|v| v.outcome);
                // A remembered credential that hashed nothing (no active set,
                // locked) costs what a wrong code costs all the same.
                if !matches!(checked, Some(Outcome::Accepted(_) | Outcome::Rejected(_))) {
                    let _ = p.verify(&decoy, &code, &policy, pepper.as_ref());
                }
                Ok(checked)
            })
            .await;
        known
            && matches!(
                outcome,
                Ok(Some(
                    Outcome::Accepted(_)
                        | Outcome::Rejected(Rejection {
                            reason: FailureReason::AlreadyUsed | FailureReason::WrongNumber,
                            ..
                        })
                ))
            )
    }
}
