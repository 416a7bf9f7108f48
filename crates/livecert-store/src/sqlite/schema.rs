//! Schema migrations for SQLite, applied when a store opens.
//!
//! Each migration is one SQL file in `migrations/`, numbered from 1. The database's
//! `PRAGMA user_version` is the highest applied number, and the `schema_migrations` table records
//! each one with its name and time. Opening runs every migration above `user_version` in order,
//! each in its own `BEGIN IMMEDIATE` transaction that re-reads `user_version` first, so that two
//! processes opening the same new database at once apply each migration exactly once. A database
//! whose version is newer than this binary knows is refused rather than guessed at.

use rusqlite::{params, Connection, TransactionBehavior};

use crate::random;
use crate::sqlite::{sql_failed, sql_unavailable};
use crate::StoreError;

/// One migration: its number, its name and its SQL.
struct Migration {
    version: i64,
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
        name: "ram_sts_audit",
        sql: include_str!("migrations/0002_ram_sts_audit.sql"),
    },
    Migration {
        version: 3,
        name: "domain_origin",
        sql: include_str!("migrations/0003_domain_origin.sql"),
    },
    Migration {
        version: 4,
        name: "edge_https_required",
        sql: include_str!("migrations/0004_edge_https_required.sql"),
    },
    Migration {
        version: 5,
        name: "edge_changes",
        sql: include_str!("migrations/0005_edge_changes.sql"),
    },
    Migration {
        version: 6,
        name: "audit_pending",
        sql: include_str!("migrations/0006_audit_pending.sql"),
    },
    Migration {
        version: 7,
        name: "acme",
        sql: include_str!("migrations/0007_acme.sql"),
    },
];

/// The schema version this binary writes.
pub(crate) const CURRENT_VERSION: i64 = 7;

/// Brings the database up to [`CURRENT_VERSION`].
///
/// Errors: `Unavailable` when the database is newer than this binary or busy beyond the timeout;
/// `Failed` when a migration does not apply (nothing of that migration remains).
pub(crate) fn migrate(conn: &mut Connection, now: i64) -> Result<(), StoreError> {
    for migration in MIGRATIONS {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_unavailable)?;
        let version: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(sql_unavailable)?;
        if version > CURRENT_VERSION {
            return Err(StoreError::Unavailable(format!(
                "the database has schema version {version}, newer than this binary's {CURRENT_VERSION}; run a newer livecert"
            )));
        }
        if version >= migration.version {
            continue;
        }
        tx.execute_batch(migration.sql).map_err(|e| {
            StoreError::Failed(format!(
                "migration {} ({}) failed: {e}",
                migration.version, migration.name
            ))
        })?;
        if migration.version == 1 {
            tx.execute(
                "INSERT INTO sequences (name, next) VALUES ('cert_id', ?1)",
                params![random::cert_id_start()?],
            )
            .map_err(sql_failed)?;
        }
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied) VALUES (?1, ?2, ?3)",
            params![migration.version, migration.name, now],
        )
        .map_err(sql_failed)?;
        // PRAGMA does not take bound parameters; the version is a constant of this file.
        tx.execute_batch(&format!("PRAGMA user_version = {}", migration.version))
            .map_err(sql_failed)?;
        tx.commit().map_err(sql_failed)?;
        tracing::info!(
            version = migration.version,
            name = migration.name,
            "applied schema migration"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_apply_once_and_a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let mut conn = crate::sqlite::open_writer(&path).unwrap();
        migrate(&mut conn, 1).unwrap();
        let start: i64 = conn
            .query_row(
                "SELECT next FROM sequences WHERE name = 'cert_id'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(start.to_string().len(), 7);
        migrate(&mut conn, 2).unwrap();
        let applied: Vec<(i64, i64)> = conn
            .prepare("SELECT version, applied FROM schema_migrations")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let each_once: Vec<(i64, i64)> = (1..=CURRENT_VERSION).map(|v| (v, 1)).collect();
        assert_eq!(applied, each_once);
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, CURRENT_VERSION);

        conn.execute_batch(&format!("PRAGMA user_version = {}", CURRENT_VERSION + 1))
            .unwrap();
        assert!(matches!(
            migrate(&mut conn, 3),
            Err(StoreError::Unavailable(_))
        ));
    }

    /// A version-1 database (keys without principals) migrates to version 2 with its keys kept
    /// as root credentials, statuses and sealed secrets unchanged.
    #[test]
    fn version_1_keys_become_root_credentials() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let mut conn = crate::sqlite::open_writer(&path).unwrap();
        conn.execute_batch(MIGRATIONS[0].sql).unwrap();
        conn.execute_batch(
            "INSERT INTO sequences (name, next) VALUES ('cert_id', 1000000);
             INSERT INTO schema_migrations (version, name, applied) VALUES (1, 'initial', 1);
             PRAGMA user_version = 1;
             INSERT INTO accounts (id, status, created) VALUES (1234567890123456, 'active', 5);
             INSERT INTO access_keys (id, account_id, secret_sealed, status, created)
                 VALUES ('testid', 1234567890123456, x'0102', 'inactive', 6);",
        )
        .unwrap();
        migrate(&mut conn, 7).unwrap();
        let row: (String, i64, Option<i64>, Vec<u8>, String, i64, Option<i64>) = conn
            .query_row(
                "SELECT id, account_id, user_id, secret_sealed, status, created, sts_expires_at \
                 FROM access_keys",
                [],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                    ))
                },
            )
            .unwrap();
        assert_eq!(
            row,
            (
                "testid".to_owned(),
                1_234_567_890_123_456,
                None,
                vec![1, 2],
                "inactive".to_owned(),
                6,
                None
            )
        );
        let fk_errors: i64 = conn
            .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(fk_errors, 0);
    }

    /// A version-4 database keeps its domains through migration 5, and from then on each change
    /// the edge must see records its domain with the counter value it moved to; a deletion keeps
    /// the row.
    #[test]
    fn version_5_records_each_changed_domain_with_its_counter() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let mut conn = crate::sqlite::open_writer(&path).unwrap();
        for m in &MIGRATIONS[..4] {
            conn.execute_batch(m.sql).unwrap();
        }
        conn.execute_batch(
            "INSERT INTO sequences (name, next) VALUES ('cert_id', 1000000);
             PRAGMA user_version = 4;
             INSERT INTO accounts (id, status, created) VALUES (1234567890123456, 'active', 5);
             INSERT INTO domains (name, account_id, status, live_domain_type, region, scope,
                 created, modified)
                 VALUES ('live.example.com', 1234567890123456, 'online', 'liveVideo', 'r', 's', 5, 5);",
        )
        .unwrap();
        migrate(&mut conn, 7).unwrap();
        let rows = |conn: &Connection| -> Vec<(String, i64)> {
            conn.prepare("SELECT domain, counter FROM edge_changes ORDER BY domain")
                .unwrap()
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        };
        let counter = |conn: &Connection| -> i64 {
            conn.query_row("SELECT counter FROM changes WHERE id = 1", [], |r| r.get(0))
                .unwrap()
        };
        assert!(rows(&conn).is_empty());
        conn.execute_batch("UPDATE domains SET status = 'offline'")
            .unwrap();
        assert_eq!(
            rows(&conn),
            vec![("live.example.com".to_owned(), counter(&conn))]
        );
        conn.execute_batch("DELETE FROM domains").unwrap();
        assert_eq!(
            rows(&conn),
            vec![("live.example.com".to_owned(), counter(&conn))]
        );
        // The insert under version 4, the update and the delete.
        assert_eq!(counter(&conn), 3);
    }
}
