//! Schema migrations for PostgreSQL, applied when a store opens.
//!
//! Each migration is one SQL file in `migrations/`, numbered from 1 (PostgreSQL's numbering is its
//! own: its version 1 is the schema SQLite reached in five). The `schema_migrations` table records
//! each applied one with its name and time; the highest version is the schema's. Opening runs, in
//! one transaction, under the transaction-level advisory lock [`MIGRATION_LOCK`]: create
//! `schema_migrations` if missing, read the version, apply every migration above it in order
//! (PostgreSQL's DDL is transactional: a migration that fails leaves nothing), commit. So several
//! nodes starting together on a new database apply each migration exactly once: the others wait
//! for the lock, then find nothing to do. A database whose version is newer than this binary knows
//! is refused rather than guessed at.

use crate::postgres::{execute, pg_error, query_one, Conn, MIGRATION_LOCK};
use crate::random;
use crate::StoreError;

/// One migration: its number, its name and its SQL.
struct Migration {
    version: i32,
    name: &'static str,
    sql: &'static str,
}

/// Every migration, in order; the last one's number is the current schema version.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        sql: include_str!("migrations/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "shared_limits",
        sql: include_str!("migrations/0002_shared_limits.sql"),
    },
    Migration {
        version: 3,
        name: "audit_pending",
        sql: include_str!("migrations/0003_audit_pending.sql"),
    },
    Migration {
        version: 4,
        name: "acme",
        sql: include_str!("migrations/0004_acme.sql"),
    },
];

/// The schema version this binary writes.
pub(crate) const CURRENT_VERSION: i32 = 4;

/// Brings the database up to [`CURRENT_VERSION`].
///
/// Errors: `Unavailable` when the database is newer than this binary, or the lock or the server
/// cannot be had; `Failed` when a migration does not apply (nothing of it remains).
pub(crate) async fn migrate(conn: &mut Conn, now: i64) -> Result<(), StoreError> {
    conn.batch_execute(&format!(
        "BEGIN; SET LOCAL client_min_messages = warning; \
         SELECT pg_advisory_xact_lock({MIGRATION_LOCK}); \
         CREATE TABLE IF NOT EXISTS schema_migrations (\
             version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied BIGINT NOT NULL)"
    ))
    .await
    .map_err(pg_error)?;
    let result = apply(conn, now).await;
    match result {
        Ok(()) => conn.batch_execute("COMMIT").await.map_err(pg_error),
        Err(e) => {
            // Whatever the failure, nothing of this transaction stays.
            let _ = conn.batch_execute("ROLLBACK").await;
            Err(e)
        }
    }
}

async fn apply(conn: &Conn, now: i64) -> Result<(), StoreError> {
    let row = query_one(
        conn,
        "SELECT coalesce(max(version), 0) FROM schema_migrations",
        &[],
    )
    .await?;
    let version: i32 = crate::postgres::get(&row, 0)?;
    if version > CURRENT_VERSION {
        return Err(StoreError::Unavailable(format!(
            "the database has schema version {version}, newer than this binary's {CURRENT_VERSION}; run a newer livecert"
        )));
    }
    for migration in MIGRATIONS.iter().filter(|m| m.version > version) {
        conn.batch_execute(migration.sql).await.map_err(|e| {
            StoreError::Failed(format!(
                "migration {} ({}) failed: {}",
                migration.version,
                migration.name,
                pg_error(e)
            ))
        })?;
        if migration.version == 1 {
            execute(
                conn,
                "INSERT INTO sequences (name, next) VALUES ('cert_id', $1)",
                &[&random::cert_id_start()?],
            )
            .await?;
        }
        execute(
            conn,
            "INSERT INTO schema_migrations (version, name, applied) VALUES ($1, $2, $3)",
            &[&migration.version, &migration.name, &now],
        )
        .await?;
        tracing::info!(
            version = migration.version,
            name = migration.name,
            "applied schema migration (PostgreSQL)"
        );
    }
    Ok(())
}
