//! A fresh database per test: a SQLite file in a temporary directory, or a new
//! PostgreSQL database on the server named by `BACKUP_CODES_TEST_POSTGRES_URL`.

use sqlx::Connection as _;

use crate::HarnessError;
use crate::idp::random_id;

/// Environment variable with an admin URL of a PostgreSQL server for tests.
pub const POSTGRES_ENV: &str = "BACKUP_CODES_TEST_POSTGRES_URL";

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file.
    Sqlite,
    /// A PostgreSQL database.
    Postgres,
}

/// A database for one test; the SQLite directory lives as long as this value.
#[derive(Debug)]
pub struct TestDb {
    /// The `database_url` to configure.
    pub url: String,
    /// The directory holding the SQLite file (and anything else the test writes).
    pub dir: tempfile::TempDir,
}

impl TestDb {
    /// Create a database. PostgreSQL tests fail (never skip) without a server.
    pub async fn new(backend: Backend) -> Result<Self, HarnessError> {
        let dir = tempfile::tempdir()?;
        let url = match backend {
            Backend::Sqlite => format!("sqlite://{}/shim.db", dir.path().display()),
            Backend::Postgres => {
                let admin = std::env::var(POSTGRES_ENV).map_err(|_| {
                    HarnessError(format!(
                        "{POSTGRES_ENV} is not set: run scripts/test, which starts PostgreSQL, or point it at a server"
                    ))
                })?;
                let name = format!("backup_codes_test_{}", &random_id()[..16]);
                let mut conn = sqlx::PgConnection::connect(&admin).await?;
                // `name` is made here from hex digits only.
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await?;
                conn.close().await?;
                replace_database(&admin, &name)
            }
        };
        Ok(Self { url, dir })
    }
}

/// The admin URL with its database name replaced.
fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{name}", &base[..path_start]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// What `store` holds for one subject, for "nothing was written" checks: the
/// credential's bytes, if any, and the audit trail as `kind:detail`, oldest
/// first.
pub async fn stored(
    store: &backup_codes_shim::store::Store,
    tenant: &str,
    subject: &str,
) -> Result<(Option<Vec<u8>>, Vec<String>), HarnessError> {
    let record = store.get(tenant, subject).await?;
    let trail = store
        .audit_trail(tenant, subject)
        .await?
        .into_iter()
        .map(|a| format!("{}:{}", a.kind, a.detail))
        .collect();
    Ok((record.map(|r| r.credential), trail))
}

/// Everything a shim's store holds, in a stable order, for "nothing changed"
/// checks: credentials, audit rows, spent single-use ids, signing keys,
/// webhook outbox rows, replaced credentials and the attempt state of
/// subjects without codes.
pub async fn snapshot(url: &str) -> Result<Vec<String>, HarnessError> {
    use sqlx::Row as _;
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await?;
    let mut out = Vec::new();
    for row in sqlx::query(
        "SELECT tenant, subject, version, credential FROM credentials ORDER BY tenant, subject",
    )
    .fetch_all(&pool)
    .await?
    {
        let credential: Vec<u8> = row.try_get(3)?;
        out.push(format!(
            "credential {} {} v{} {}",
            row.try_get::<String, _>(0)?,
            row.try_get::<String, _>(1)?,
            row.try_get::<i64, _>(2)?,
            hex::encode(credential)
        ));
    }
    for row in sqlx::query(
        "SELECT tenant, subject, kind, detail FROM audit_events ORDER BY tenant, subject, at, kind, detail",
    )
    .fetch_all(&pool)
    .await?
    {
        out.push(format!(
            "audit {} {} {} {}",
            row.try_get::<String, _>(0)?,
            row.try_get::<String, _>(1)?,
            row.try_get::<String, _>(2)?,
            row.try_get::<String, _>(3)?
        ));
    }
    for row in sqlx::query("SELECT id FROM used_tokens ORDER BY id")
        .fetch_all(&pool)
        .await?
    {
        out.push(format!("used {}", row.try_get::<String, _>(0)?));
    }
    for row in sqlx::query("SELECT tenant, slot, kid FROM op_keys ORDER BY tenant, slot")
        .fetch_all(&pool)
        .await?
    {
        out.push(format!(
            "key {} {} {}",
            row.try_get::<String, _>(0)?,
            row.try_get::<i64, _>(1)?,
            row.try_get::<String, _>(2)?
        ));
    }
    for row in sqlx::query(
        "SELECT endpoint, tenant, subject, seq, kind, state FROM webhook_outbox \
         ORDER BY endpoint, tenant, subject, seq",
    )
    .fetch_all(&pool)
    .await?
    {
        out.push(format!(
            "webhook {} {} {} #{} {} {}",
            row.try_get::<String, _>(0)?,
            row.try_get::<String, _>(1)?,
            row.try_get::<String, _>(2)?,
            row.try_get::<i64, _>(3)?,
            row.try_get::<String, _>(4)?,
            row.try_get::<String, _>(5)?
        ));
    }
    for row in sqlx::query(
        "SELECT tenant, subject, credential FROM replaced_credentials ORDER BY tenant, subject",
    )
    .fetch_all(&pool)
    .await?
    {
        let credential: Vec<u8> = row.try_get(2)?;
        out.push(format!(
            "replaced {} {} {}",
            row.try_get::<String, _>(0)?,
            row.try_get::<String, _>(1)?,
            hex::encode(credential)
        ));
    }
    for row in sqlx::query(
        "SELECT tenant, subject_key, version, failures FROM unenrolled_attempts \
         ORDER BY tenant, subject_key",
    )
    .fetch_all(&pool)
    .await?
    {
        out.push(format!(
            "unenrolled {} {} v{} failures {}",
            row.try_get::<String, _>(0)?,
            row.try_get::<String, _>(1)?,
            row.try_get::<i64, _>(2)?,
            row.try_get::<i64, _>(3)?
        ));
    }
    pool.close().await;
    Ok(out)
}
