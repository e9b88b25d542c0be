//! Importing a subject's set from another identity server: the component
//! turns the foreign set into a credential; the service stores it only for a
//! subject without one (so running an import again changes nothing), with its
//! `imported` event audited and sent like any other.

use super::{Service, ServiceError, check_subject};
use crate::plugin::{ForeignSet, Imported};

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
        set: ForeignSet,
    ) -> Result<ImportOutcome, ServiceError> {
        check_subject(subject)?;
        let tenant = self.tenant(tenant_id)?;
        if self.store.get(tenant_id, subject).await?.is_some() {
            return Ok(ImportOutcome::Skipped);
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
