//! Importing a subject's set from another identity server: the component
//! turns the foreign set into a credential; the service stores it only for a
//! subject without one (so running an import again changes nothing), with its
//! `imported` event audited and sent like any other.

use super::{Service, ServiceError, check_subject};
use crate::plugin::{ForeignSet, Imported, wipe_foreign};

/// How one subject's import ended.
#[derive(Debug)]
pub enum ImportOutcome {
    /// Stored: the subject's codes from the other system now work here.
    Imported(Imported),
    /// The subject already has codes here; nothing changed.
    Skipped,
}

impl Service {
    /// Import `set` as `subject`'s codes, unless the subject has codes here
    /// already ([`ImportOutcome::Skipped`]).
    pub async fn import(
        &self,
        tenant_id: &str,
        subject: &str,
        mut set: ForeignSet,
    ) -> Result<ImportOutcome, ServiceError> {
        let tenant = match check_subject(subject).and_then(|()| self.tenant(tenant_id)) {
            Ok(t) => t,
            Err(e) => {
                wipe_foreign(&mut set);
                return Err(e);
            }
        };
        match self.store.get(tenant_id, subject).await {
            Ok(None) => {}
            // Codes here already, or no answer: the set goes no further.
            Ok(Some(_)) => {
                wipe_foreign(&mut set);
                return Ok(ImportOutcome::Skipped);
            }
            Err(e) => {
                wipe_foreign(&mut set);
                return Err(e.into());
            }
        }
        let policy = tenant.policy;
        let pepper = tenant.pepper.clone();
        let imported = self
            .run(tenant_id, subject, move |p| {
                p.import_set(set, &policy, pepper.as_ref())
            })
            .await?;
        // A first write: it loses to any other writer, and then changes nothing.
        match self
            .write(
                tenant_id,
                subject,
                None,
                &imported.credential,
                &imported.events,
                None,
            )
            .await?
        {
            Some(_) => {
                super::record_events(tenant_id, &imported.events);
                Ok(ImportOutcome::Imported(imported))
            }
            None => Ok(ImportOutcome::Skipped),
        }
    }
}
