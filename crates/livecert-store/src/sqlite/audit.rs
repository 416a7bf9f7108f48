//! The audit flusher's batch insert for SQLite (a write call of its own, queued by the audit
//! flusher, see `crate::audit`); the rest of the audit log's statements are `crate::sql::audit`.

use rusqlite::{params, Connection};

use crate::sql::audit::COLUMNS;
use crate::sqlite::sql_failed;
use crate::{AuditEntry, WriteError};

/// The audit flusher's write: moves the entries written in changes' transactions
/// (`audit_pending`) into `audit_log` when `move_pending`, in the order they were written, then
/// inserts the queued `entries` in order.
pub(crate) fn insert(
    conn: &Connection,
    entries: &[AuditEntry],
    move_pending: bool,
) -> Result<(), WriteError> {
    if move_pending {
        conn.execute_batch(&format!(
            "INSERT INTO audit_log ({COLUMNS}) SELECT {COLUMNS} FROM audit_pending ORDER BY id; \
             DELETE FROM audit_pending;"
        ))
        .map_err(sql_failed)?;
    }
    insert_into(conn, "audit_log", entries)
}

/// Inserts `entries` in order into `table` (`audit_log` or `audit_pending`).
fn insert_into(conn: &Connection, table: &str, entries: &[AuditEntry]) -> Result<(), WriteError> {
    if entries.is_empty() {
        return Ok(());
    }
    let mut stmt = conn
        .prepare_cached(&format!(
            "INSERT INTO {table} ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
        ))
        .map_err(sql_failed)?;
    for e in entries {
        stmt.execute(params![
            e.time,
            e.request_id,
            e.account_id,
            e.principal,
            e.access_key_id,
            e.source_ip,
            e.operation,
            e.domain,
            e.cert_name,
            e.cert_id,
            e.outcome,
        ])
        .map_err(sql_failed)?;
    }
    Ok(())
}
