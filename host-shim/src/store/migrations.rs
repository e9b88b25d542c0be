//! The store's schema migrations, embedded in the binary.
//!
//! They are listed here rather than found by `sqlx::migrate!`: that macro needs
//! sqlx's `macros` feature, whose compile-time query checking builds both
//! database drivers and SQLite's C source a second time, for the compiler
//! (about 90 s of CPU in every clean build), and this store checks no query at
//! compile time. Versions, descriptions and checksums are the ones sqlx's own
//! resolver gives the files in `migrations/` (the test below compares them), so
//! a database migrated by a build that used the macro stays valid.

use std::borrow::Cow;
use std::sync::LazyLock;

use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

/// One row of [`FILES`]: a file in `migrations/` with its version and
/// description (the file name's, `_` read as a space).
macro_rules! file {
    ($version:literal, $description:literal, $name:literal) => {
        (
            $version,
            $description,
            include_str!(concat!("../../migrations/", $name)),
        )
    };
}

/// Version, description and SQL of every file in `migrations/`, oldest first.
/// A new migration is a new file and a new row here.
const FILES: &[(i64, &str, &str)] = &[
    file!(1, "initial", "0001_initial.sql"),
    file!(2, "op keys", "0002_op_keys.sql"),
    file!(3, "replaced sets", "0003_replaced_sets.sql"),
    file!(4, "webhook outbox", "0004_webhook_outbox.sql"),
    file!(5, "unenrolled attempts", "0005_unenrolled_attempts.sql"),
];

/// How a migration file opts out of running in a transaction (sqlx's marker).
const NO_TRANSACTION: &str = "-- no-transaction";

/// The migrator every store runs at start.
pub(super) static MIGRATOR: LazyLock<Migrator> = LazyLock::new(|| {
    Migrator::with_migrations(
        FILES
            .iter()
            .map(|&(version, description, sql)| {
                Migration::new(
                    version,
                    Cow::Borrowed(description),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    sql.starts_with(NO_TRANSACTION),
                )
            })
            .collect(),
    )
});

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::MIGRATOR;

    /// Every file in `migrations/` is embedded, as sqlx's resolver reads it.
    #[tokio::test]
    async fn embedded_migrations_are_the_files_as_sqlx_reads_them() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let resolved = sqlx::migrate::Migrator::new(dir)
            .await
            .expect("resolve migrations/");
        let ours: Vec<_> = MIGRATOR.iter().collect();
        let theirs: Vec<_> = resolved.iter().collect();
        assert_eq!(
            ours.len(),
            theirs.len(),
            "a file in migrations/ is missing from FILES"
        );
        for (a, b) in ours.iter().zip(&theirs) {
            assert_eq!(a.version, b.version);
            assert_eq!(a.description, b.description, "migration {}", b.version);
            assert_eq!(
                a.migration_type, b.migration_type,
                "migration {}",
                b.version
            );
            assert_eq!(a.checksum, b.checksum, "migration {}", b.version);
            assert_eq!(a.no_tx, b.no_tx, "migration {}", b.version);
            assert_eq!(a.sql.as_str(), b.sql.as_str(), "migration {}", b.version);
        }
    }
}
