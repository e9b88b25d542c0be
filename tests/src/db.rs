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
