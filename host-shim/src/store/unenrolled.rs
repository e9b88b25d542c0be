//! The attempt state of subjects without codes (migration 0005): one decoy
//! credential per such subject, written by compare-and-swap like a real one,
//! in a table bounded per tenant.

use sha2::{Digest, Sha256};
use sqlx::Row;

use super::{Record, Store, StoreError};

/// How a subject without codes is keyed: a SHA-256 of the tenant and the
/// name, so names no one enrolled are not kept as sent.
pub fn unenrolled_key(tenant: &str, subject: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"backup-codes-shim/unenrolled\0");
    h.update(tenant.as_bytes());
    h.update(b"\0");
    h.update(subject.as_bytes());
    hex::encode(h.finalize())
}

/// A change to a subject's unenrolled attempt state.
#[derive(Debug, Clone, Copy)]
pub struct UnenrolledWrite<'a> {
    /// The version read (`None`: no row yet).
    pub expected: Option<i64>,
    /// The new decoy credential.
    pub credential: &'a [u8],
    /// Consecutive failures it now counts (rows with the fewest are evicted first).
    pub failures: u32,
    /// Unix seconds.
    pub now: i64,
    /// Most rows the tenant may keep.
    pub capacity: u64,
}

/// What one attempt reads, in one query: the subject's credential with the
/// credential its active set last replaced (if recent enough), and the
/// attempt state kept for the subject while it has no codes.
#[derive(Debug, Default)]
pub struct AttemptRows {
    /// The credential and the replaced one, when the subject has codes.
    pub credential: Option<(Record, Option<Vec<u8>>)>,
    /// The unenrolled attempt state (read either way, so that both cases
    /// cost the same round trip).
    pub unenrolled: Option<Record>,
}

impl Store {
    /// Everything one attempt of `subject` reads, in one round trip (see
    /// [`AttemptRows`]); `replaced_since` bounds how old a replaced set may be,
    /// `key` is the subject's [`unenrolled_key`].
    pub async fn attempt_rows(
        &self,
        tenant: &str,
        subject: &str,
        replaced_since: i64,
        key: &str,
    ) -> Result<AttemptRows, StoreError> {
        let row = sqlx::query(
            "SELECT c.version, c.credential, r.credential, u.version, u.credential \
             FROM (SELECT 1 AS one) k \
             LEFT JOIN credentials c ON c.tenant = $1 AND c.subject = $2 \
             LEFT JOIN replaced_credentials r ON r.tenant = $1 AND r.subject = $2 \
             AND r.replaced_at >= $3 \
             LEFT JOIN unenrolled_attempts u ON u.tenant = $1 AND u.subject_key = $4",
        )
        .bind(tenant)
        .bind(subject)
        .bind(replaced_since)
        .bind(key)
        .fetch_one(&self.pool)
        .await?;
        let record = |version: Option<i64>, credential: Option<Vec<u8>>| {
            version.zip(credential).map(|(version, credential)| Record {
                version,
                credential,
            })
        };
        let credential = record(row.try_get(0)?, row.try_get(1)?);
        let replaced: Option<Vec<u8>> = row.try_get(2)?;
        Ok(AttemptRows {
            credential: credential.map(|c| (c, replaced)),
            unenrolled: record(row.try_get(3)?, row.try_get(4)?),
        })
    }

    /// The attempt state of the subject keyed `key` (see [`unenrolled_key`]).
    pub async fn unenrolled(&self, tenant: &str, key: &str) -> Result<Option<Record>, StoreError> {
        let row = sqlx::query(
            "SELECT version, credential FROM unenrolled_attempts \
             WHERE tenant = $1 AND subject_key = $2",
        )
        .bind(tenant)
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(Record {
                version: r.try_get(0)?,
                credential: r.try_get(1)?,
            })
        })
        .transpose()
    }

    /// Write a subject's attempt state if its version is still the one read;
    /// a new row past the tenant's capacity first evicts the rows with the
    /// fewest failures, oldest first. `None` when another writer won.
    pub async fn swap_unenrolled(
        &self,
        tenant: &str,
        key: &str,
        write: &UnenrolledWrite<'_>,
    ) -> Result<Option<i64>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let changed = match write.expected {
            Some(version) => sqlx::query(
                "UPDATE unenrolled_attempts SET credential = $1, failures = $2, \
                 updated_at = $3, version = version + 1 \
                 WHERE tenant = $4 AND subject_key = $5 AND version = $6",
            )
            .bind(write.credential)
            .bind(i64::from(write.failures))
            .bind(write.now)
            .bind(tenant)
            .bind(key)
            .bind(version)
            .execute(&mut *tx)
            .await?
            .rows_affected(),
            None => {
                let rows: i64 =
                    sqlx::query("SELECT COUNT(*) FROM unenrolled_attempts WHERE tenant = $1")
                        .bind(tenant)
                        .fetch_one(&mut *tx)
                        .await?
                        .try_get(0)?;
                let capacity = i64::try_from(write.capacity).unwrap_or(i64::MAX);
                let excess = rows.saturating_sub(capacity).saturating_add(1);
                if excess > 0 {
                    let evicted = sqlx::query(
                        "DELETE FROM unenrolled_attempts WHERE tenant = $1 AND subject_key IN \
                         (SELECT subject_key FROM unenrolled_attempts WHERE tenant = $1 \
                          ORDER BY failures, updated_at LIMIT $2)",
                    )
                    .bind(tenant)
                    .bind(excess)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    metrics::counter!("backup_codes_unenrolled_evictions_total").increment(evicted);
                }
                sqlx::query(
                    "INSERT INTO unenrolled_attempts \
                     (tenant, subject_key, version, credential, failures, updated_at) \
                     VALUES ($1, $2, 1, $3, $4, $5) ON CONFLICT (tenant, subject_key) DO NOTHING",
                )
                .bind(tenant)
                .bind(key)
                .bind(write.credential)
                .bind(i64::from(write.failures))
                .bind(write.now)
                .execute(&mut *tx)
                .await?
                .rows_affected()
            }
        };
        if changed != 1 {
            tx.rollback().await?;
            return Ok(None);
        }
        tx.commit().await?;
        Ok(Some(write.expected.map_or(1, |v| v + 1)))
    }

    /// Rows of unenrolled attempt state a tenant keeps.
    pub async fn unenrolled_count(&self, tenant: &str) -> Result<i64, StoreError> {
        Ok(
            sqlx::query("SELECT COUNT(*) FROM unenrolled_attempts WHERE tenant = $1")
                .bind(tenant)
                .fetch_one(&self.pool)
                .await?
                .try_get(0)?,
        )
    }
}
