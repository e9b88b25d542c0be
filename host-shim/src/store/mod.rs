//! Credential storage on SQLite (the embedded default) or PostgreSQL, through `sqlx`.
//!
//! Every change is a compare-and-swap on the row's version inside a transaction,
//! together with the audit events it produced: either both land or neither does.

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Row};

mod marks;
mod migrations;
mod outbox;
mod unenrolled;

pub use self::marks::Mark;
pub use self::outbox::{Completion, OutboxCount, OutboxFilter, OutboxRecord, OutboxRow};
pub use self::unenrolled::{AttemptRows, UnenrolledWrite, unenrolled_key};

/// Why storage failed. Messages name no credential content.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL is not one this shim supports.
    #[error("unsupported database URL (use sqlite:// or postgres://)")]
    UnsupportedUrl,
    /// The database refused or failed a statement.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Applying the schema failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// A stored credential and the version the next compare-and-swap must name.
#[derive(Clone, PartialEq, Eq)]
pub struct Record {
    /// Row version, bumped on every change.
    pub version: i64,
    /// The plugin's opaque credential value.
    pub credential: Vec<u8>,
}

impl std::fmt::Debug for Record {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Record {{ version: {}, credential: {} bytes }}",
            self.version,
            self.credential.len()
        )
    }
}

/// One audit row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Unix seconds.
    pub at: i64,
    /// Event kind (`used`, `failed`, `trap`, ...).
    pub kind: String,
    /// JSON details (set id, numbers, reasons; never a code).
    pub detail: String,
    /// The credential version the event's change created, set by the store
    /// (`None` for events that changed no credential). Orders one subject's events.
    pub version: Option<i64>,
}

/// What a credential change writes beside the credential, in the same
/// transaction: all of it lands with the change, or none of it does.
#[derive(Debug, Clone, Copy, Default)]
pub struct Effects<'a> {
    /// The change's audit rows.
    pub audit: &'a [AuditRecord],
    /// The credential whose active set this change replaces, kept as the
    /// subject's replaced credential (see [`Store::replaced`]).
    pub replaced: Option<&'a [u8]>,
    /// The change's webhook events, one row per endpoint.
    pub outbox: &'a [OutboxRecord],
}

/// One stored signing key of the step-up provider. The private key is only
/// ever stored sealed.
#[derive(Clone, PartialEq, Eq)]
pub struct OpKeyRow {
    /// Its place in the tenant's order of keys (0, 1, ...).
    pub slot: i64,
    /// Its key id (the JWKS `kid`).
    pub kid: String,
    /// When it was made (Unix seconds).
    pub created_at: i64,
    /// From when it signs (Unix seconds); published before that.
    pub activates_at: i64,
    /// The sealed private key.
    pub sealed: Vec<u8>,
    /// Its self-signed certificate (DER).
    pub cert: Vec<u8>,
}

impl std::fmt::Debug for OpKeyRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpKeyRow")
            .field("slot", &self.slot)
            .field("kid", &self.kid)
            .field("activates_at", &self.activates_at)
            .finish_non_exhaustive()
    }
}

/// Which database engine is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite file.
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

/// The credential store.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

impl Store {
    /// Connect to `url` (`sqlite://path` creates the file; `postgres://...`).
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let (backend, url) = if let Some(path) = url.strip_prefix("sqlite://") {
            let path = path.split('?').next().unwrap_or(path);
            if let Some(dir) = std::path::Path::new(path).parent()
                && !dir.as_os_str().is_empty()
            {
                std::fs::create_dir_all(dir).map_err(|e| StoreError::Database(e.into()))?;
            }
            (Backend::Sqlite, format!("sqlite://{path}?mode=rwc"))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Backend::Postgres, url.to_owned())
        } else {
            return Err(StoreError::UnsupportedUrl);
        };
        let options = AnyConnectOptions::from_str(&url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        for pragma in [
                            "PRAGMA journal_mode = WAL",
                            "PRAGMA synchronous = FULL",
                            "PRAGMA busy_timeout = 10000",
                            "PRAGMA foreign_keys = ON",
                        ] {
                            sqlx::query(pragma).execute(&mut *conn).await?;
                        }
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        Ok(Self { pool, backend })
    }

    /// Which engine this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Create or update the schema.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        migrations::MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    /// Is the database reachable?
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Read a subject's credential.
    pub async fn get(&self, tenant: &str, subject: &str) -> Result<Option<Record>, StoreError> {
        let row = sqlx::query(
            "SELECT version, credential FROM credentials WHERE tenant = $1 AND subject = $2",
        )
        .bind(tenant)
        .bind(subject)
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

    /// Write `credential` if the stored version is still `expected` (`None`: no row
    /// yet), together with `audit`. Returns the new version, or `None` when another
    /// writer got there first (nothing was written).
    pub async fn swap(
        &self,
        tenant: &str,
        subject: &str,
        expected: Option<i64>,
        credential: &[u8],
        now: i64,
        audit: &[AuditRecord],
    ) -> Result<Option<i64>, StoreError> {
        let effects = Effects {
            audit,
            ..Effects::default()
        };
        self.swap_with(tenant, subject, expected, credential, now, &effects)
            .await
    }

    /// [`Store::swap`] with all of a change's [`Effects`] in its transaction.
    pub async fn swap_with(
        &self,
        tenant: &str,
        subject: &str,
        expected: Option<i64>,
        credential: &[u8],
        now: i64,
        effects: &Effects<'_>,
    ) -> Result<Option<i64>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let changed = match expected {
            Some(version) => sqlx::query(
                "UPDATE credentials SET credential = $1, version = version + 1, updated_at = $2 \
                 WHERE tenant = $3 AND subject = $4 AND version = $5",
            )
            .bind(credential)
            .bind(now)
            .bind(tenant)
            .bind(subject)
            .bind(version)
            .execute(&mut *tx)
            .await?
            .rows_affected(),
            None => sqlx::query(
                "INSERT INTO credentials (tenant, subject, version, credential, updated_at) \
                 VALUES ($1, $2, 1, $3, $4) ON CONFLICT (tenant, subject) DO NOTHING",
            )
            .bind(tenant)
            .bind(subject)
            .bind(credential)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected(),
        };
        if changed != 1 {
            tx.rollback().await?;
            return Ok(None);
        }
        let version = expected.map_or(1, |v| v + 1);
        insert_audit(&mut tx, tenant, subject, Some(version), effects.audit).await?;
        outbox::insert(&mut tx, tenant, subject, now_ms(), effects.outbox).await?;
        if let Some(old) = effects.replaced {
            sqlx::query(
                "INSERT INTO replaced_credentials (tenant, subject, credential, replaced_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (tenant, subject) \
                 DO UPDATE SET credential = excluded.credential, replaced_at = excluded.replaced_at",
            )
            .bind(tenant)
            .bind(subject)
            .bind(old)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(Some(version))
    }

    /// The credential whose active set was last replaced, if that was at
    /// `since` or later.
    pub async fn replaced(
        &self,
        tenant: &str,
        subject: &str,
        since: i64,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let row = sqlx::query(
            "SELECT credential FROM replaced_credentials \
             WHERE tenant = $1 AND subject = $2 AND replaced_at >= $3",
        )
        .bind(tenant)
        .bind(subject)
        .bind(since)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| r.try_get(0)).transpose().map_err(Into::into)
    }

    /// Delete a subject's credential, with its audit rows. Returns whether one existed.
    pub async fn delete(
        &self,
        tenant: &str,
        subject: &str,
        audit: &[AuditRecord],
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query("DELETE FROM credentials WHERE tenant = $1 AND subject = $2")
            .bind(tenant)
            .bind(subject)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("DELETE FROM replaced_credentials WHERE tenant = $1 AND subject = $2")
            .bind(tenant)
            .bind(subject)
            .execute(&mut *tx)
            .await?;
        if n == 1 {
            insert_audit(&mut tx, tenant, subject, None, audit).await?;
        }
        tx.commit().await?;
        Ok(n == 1)
    }

    /// Record audit rows that change no credential (refusals, traps).
    pub async fn audit(
        &self,
        tenant: &str,
        subject: &str,
        audit: &[AuditRecord],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        insert_audit(&mut tx, tenant, subject, None, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Audit rows of a subject, oldest first.
    pub async fn audit_trail(
        &self,
        tenant: &str,
        subject: &str,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT at, kind, detail, version FROM audit_events WHERE tenant = $1 AND subject = $2 ORDER BY at",
        )
        .bind(tenant)
        .bind(subject)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(AuditRecord {
                    at: r.try_get(0)?,
                    kind: r.try_get(1)?,
                    detail: r.try_get(2)?,
                    version: r.try_get(3)?,
                })
            })
            .collect()
    }

    /// Remember a single-use token id until `expires_at`. Returns false when it was
    /// already used (a replay). Callers name a typed [`Mark`] ([`Store::spend`]).
    async fn use_token(&self, id: &str, expires_at: i64) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "INSERT INTO used_tokens (id, expires_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(expires_at)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Has this single-use id been spent (and not yet purged)?
    async fn token_used(&self, id: &str) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT 1 FROM used_tokens WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// Forget replaced credentials kept since before `before`.
    pub async fn purge_replaced(&self, before: i64) -> Result<u64, StoreError> {
        Ok(
            sqlx::query("DELETE FROM replaced_credentials WHERE replaced_at < $1")
                .bind(before)
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }

    /// Forget token ids that expired before `now`.
    pub async fn purge_tokens(&self, now: i64) -> Result<u64, StoreError> {
        Ok(sqlx::query("DELETE FROM used_tokens WHERE expires_at < $1")
            .bind(now)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }

    /// The step-up provider's signing keys of `tenant`, by slot.
    pub async fn op_keys(&self, tenant: &str) -> Result<Vec<OpKeyRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT slot, kid, created_at, activates_at, sealed, cert FROM op_keys \
             WHERE tenant = $1 ORDER BY slot",
        )
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(OpKeyRow {
                    slot: r.try_get(0)?,
                    kid: r.try_get(1)?,
                    created_at: r.try_get(2)?,
                    activates_at: r.try_get(3)?,
                    sealed: r.try_get(4)?,
                    cert: r.try_get(5)?,
                })
            })
            .collect()
    }

    /// Store a new signing key of `tenant` unless its slot is taken (another
    /// instance made that key first). Returns whether this one was stored.
    pub async fn insert_op_key(&self, tenant: &str, key: &OpKeyRow) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "INSERT INTO op_keys (tenant, slot, kid, created_at, activates_at, sealed, cert) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (tenant, slot) DO NOTHING",
        )
        .bind(tenant)
        .bind(key.slot)
        .bind(&key.kid)
        .bind(key.created_at)
        .bind(key.activates_at)
        .bind(&key.sealed)
        .bind(&key.cert)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Remove a retired signing key of `tenant`.
    pub async fn delete_op_key(&self, tenant: &str, slot: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM op_keys WHERE tenant = $1 AND slot = $2")
            .bind(tenant)
            .bind(slot)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Close the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// The wall clock in Unix milliseconds, for the outbox's operational times.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

async fn insert_audit(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    tenant: &str,
    subject: &str,
    version: Option<i64>,
    audit: &[AuditRecord],
) -> Result<(), StoreError> {
    for a in audit {
        sqlx::query(
            "INSERT INTO audit_events (at, version, tenant, subject, kind, detail) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(a.at)
        .bind(version)
        .bind(tenant)
        .bind(subject)
        .bind(&a.kind)
        .bind(&a.detail)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
