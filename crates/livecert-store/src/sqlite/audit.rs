//! The audit log's statements: one batch insert (a write call of its own, queued by the audit
//! flusher, see `crate::audit`) and the filtered listing, newest first.

use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection};

use crate::sqlite::sql_failed;
use crate::{AuditEntry, AuditFilter, WriteError};

const COLUMNS: &str = "time, request_id, account_id, principal, access_key_id, source_ip, \
     operation, domain, cert_name, cert_id, outcome";

/// A write call's `work`, followed — when it succeeds and the call carries its audit entry
/// (`crate::audit::CallAudit`) — by that entry, appended to `audit_pending` in the same savepoint
/// with the outcome `outcome` names for the result.
pub(crate) fn with_entry<T, F, O>(
    work: F,
    entry: Option<AuditEntry>,
    outcome: O,
) -> impl FnOnce(&Connection) -> Result<T, WriteError> + Send + 'static
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<T, WriteError> + Send + 'static,
    O: FnOnce(&T) -> &'static str + Send + 'static,
{
    move |conn| {
        let value = work(conn)?;
        if let Some(entry) = entry {
            insert_into(conn, "audit_pending", &[entry.answered(outcome(&value))])?;
        }
        Ok(value)
    }
}

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

/// The entries that pass `filter`, newest first (by time, then by insertion), at most
/// `filter.limit` of them (0: all).
pub(crate) fn entries(
    conn: &Connection,
    filter: &AuditFilter,
) -> rusqlite::Result<Vec<AuditEntry>> {
    let mut conditions = Vec::new();
    let mut values: Vec<Value> = Vec::new();
    if let Some(account) = filter.account {
        values.push(Value::Integer(account as i64));
        conditions.push(format!("account_id = ?{}", values.len()));
    }
    if let Some(since) = filter.since {
        values.push(Value::Integer(since));
        conditions.push(format!("time >= ?{}", values.len()));
    }
    if let Some(domain) = &filter.domain {
        values.push(Value::Text(domain.clone()));
        conditions.push(format!("domain = ?{}", values.len()));
    }
    let limit = if filter.limit == 0 {
        -1
    } else {
        i64::try_from(filter.limit).unwrap_or(i64::MAX)
    };
    values.push(Value::Integer(limit));
    let where_clause = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    // Both tables: an entry waiting in audit_pending was written after every entry of audit_log.
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM ( \
             SELECT {COLUMNS}, id, 0 AS pending FROM audit_log \
             UNION ALL SELECT {COLUMNS}, id, 1 AS pending FROM audit_pending) \
         {where_clause} ORDER BY time DESC, pending DESC, id DESC LIMIT ?{}",
        values.len()
    ))?;
    let rows = stmt.query_map(params_from_iter(values), |r| {
        Ok(AuditEntry {
            time: r.get(0)?,
            request_id: r.get(1)?,
            account_id: r.get(2)?,
            principal: r.get(3)?,
            access_key_id: r.get(4)?,
            source_ip: r.get(5)?,
            operation: r.get(6)?,
            domain: r.get(7)?,
            cert_name: r.get(8)?,
            cert_id: r.get(9)?,
            outcome: r.get(10)?,
        })
    })?;
    rows.collect()
}
