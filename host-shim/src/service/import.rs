//! Importing a subject's set from another identity server: the component
//! turns the foreign set into a credential; the service stores it only for a
//! subject without one (so running an import again changes nothing), with its
//! `imported` event audited and sent like any other.

use super::{Service, ServiceError, Subject};
use crate::plugin::{CALL_HEADROOM_BYTES, ForeignSet, Imported, PhcCode, wipe_foreign};

/// A legacy set's whole verify (every unused code's argon2id evaluated) may
/// cost at most this many passes over the store's memory limit: about 0.7 s
/// at the default 64 MiB (BENCHMARKS.md), far inside the call timeout.
pub const LEGACY_VERIFY_PASSES: u64 = 16;

/// Whether a set that keeps another system's argon2id digests (Supabase) fits
/// what this shim spends per attempt: each code's memory within the store's
/// limit less [`CALL_HEADROOM_BYTES`], and all unused codes' evaluations
/// together within [`LEGACY_VERIFY_PASSES`] passes over that limit. The
/// component checks the parameters' own ranges; this is the host's budget.
/// The reason names the parameters, never a digest.
pub fn check_import_cost(set: &ForeignSet, memory_limit: usize) -> Result<(), String> {
    let ForeignSet::Supabase(codes) = set else {
        return Ok(());
    };
    let limit_kib = u64::try_from(memory_limit >> 10).unwrap_or(u64::MAX);
    let memory_kib =
        u64::try_from(memory_limit.saturating_sub(CALL_HEADROOM_BYTES) >> 10).unwrap_or(u64::MAX);
    let budget = limit_kib.saturating_mul(LEGACY_VERIFY_PASSES);
    let mut work: u64 = 0;
    for (i, code) in codes.iter().enumerate() {
        let Some((m, t)) = phc_cost(code) else {
            // Not a PHC string with m and t: the component refuses it, naming why.
            continue;
        };
        if m > memory_kib {
            return Err(format!(
                "code {}: argon2id memory m={m} KiB exceeds the {memory_kib} KiB this shim gives \
                 one call (plugin.memory_limit_mib less {} MiB)",
                i + 1,
                CALL_HEADROOM_BYTES >> 20
            ));
        }
        if code.used_at.is_none() {
            work = work.saturating_add(m.saturating_mul(t));
        }
    }
    if work > budget {
        return Err(format!(
            "checking one typed code would cost {work} KiB-passes of argon2id (every unused \
             code is evaluated), more than the {budget} this shim allows one attempt \
             ({LEGACY_VERIFY_PASSES} passes over plugin.memory_limit_mib)"
        ));
    }
    Ok(())
}

/// A PHC string's memory (KiB) and passes, when it has them.
fn phc_cost(code: &PhcCode) -> Option<(u64, u64)> {
    let parsed = phc::PasswordHash::new(&code.phc).ok()?;
    let m = parsed.params.get_decimal("m")?;
    let t = parsed.params.get_decimal("t")?;
    Some((u64::from(m), u64::from(t)))
}

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
        who: &Subject,
        mut set: ForeignSet,
    ) -> Result<ImportOutcome, ServiceError> {
        let (tenant_id, subject) = who.names();
        let tenant = match self.tenant(tenant_id) {
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
        if let Err(reason) = check_import_cost(&set, self.plugin.config().memory_limit) {
            wipe_foreign(&mut set);
            return Err(ServiceError::ImportCost(reason));
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
