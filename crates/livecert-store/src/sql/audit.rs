//! The audit log's statements written once for both backends: the entry a change appends to
//! `audit_pending` in its own transaction, and the filtered listing, newest first. The flusher's
//! batch insert stays in each backend (`crate::sqlite::audit`, `crate::postgres::audit`): it is
//! where the dialects differ (one multi-row `unnest` insert in PostgreSQL).

use std::future::Future;

use crate::db::{db_id, execute, get, get_opt_u64, get_u64, query, Dialect, SqlParam, Tx};
use crate::{AuditEntry, AuditFilter, StoreError, WriteError};

/// The columns of `audit_log` and `audit_pending`, in the order [`entries`] reads them.
pub(crate) const COLUMNS: &str = "time, request_id, account_id, principal, access_key_id, \
     source_ip, operation, domain, cert_name, cert_id, outcome";

/// Runs a write call's `work`, followed — when it succeeds and the call carries its audit entry
/// (`crate::audit::CallAudit`) — by that entry, appended to `audit_pending` in the same
/// transaction with the outcome `outcome` names for the result.
pub(crate) async fn with_entry<T>(
    conn: &impl Tx,
    work: impl Future<Output = Result<T, WriteError>>,
    entry: Option<AuditEntry>,
    outcome: impl FnOnce(&T) -> &'static str,
) -> Result<T, WriteError> {
    let value = work.await?;
    if let Some(entry) = entry {
        insert_entry(conn, &entry.answered(outcome(&value))).await?;
    }
    Ok(value)
}

/// Appends `e` to `audit_pending` (the flusher moves it into `audit_log`).
pub(crate) async fn insert_entry(conn: &impl Tx, e: &AuditEntry) -> Result<(), WriteError> {
    execute(
        conn,
        &format!(
            "INSERT INTO audit_pending ({COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ),
        &[
            &e.time,
            &e.request_id,
            &db_id(e.account_id)?,
            &e.principal,
            &e.access_key_id,
            &e.source_ip,
            &e.operation,
            &e.domain,
            &e.cert_name,
            &e.cert_id.map(db_id).transpose()?,
            &e.outcome,
        ],
    )
    .await?;
    Ok(())
}

/// The entries that pass `filter`, newest first (by time, then by insertion), at most
/// `filter.limit` of them (0: all). The domain is compared without regard to ASCII case.
pub(crate) async fn entries(
    conn: &impl Tx,
    filter: &AuditFilter,
) -> Result<Vec<AuditEntry>, StoreError> {
    let account = filter.account.map(db_id).transpose()?;
    let limit = (filter.limit != 0).then(|| i64::try_from(filter.limit).unwrap_or(i64::MAX));
    let mut conditions = Vec::new();
    let mut values: Vec<&dyn SqlParam> = Vec::new();
    if let Some(account) = &account {
        values.push(account);
        conditions.push(format!("account_id = ${}", values.len()));
    }
    if let Some(since) = &filter.since {
        values.push(since);
        conditions.push(format!("time >= ${}", values.len()));
    }
    if let Some(domain) = &filter.domain {
        values.push(domain);
        let n = values.len();
        // Both compare without regard to ASCII case, each through its index on the column:
        // SQLite's column is COLLATE NOCASE, PostgreSQL's index is on lower(domain).
        conditions.push(match conn.dialect() {
            Dialect::Sqlite => format!("domain = ${n}"),
            Dialect::Postgres => format!("lower(domain) = lower(${n})"),
        });
    }
    let where_clause = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    let limit_clause = match &limit {
        Some(limit) => {
            values.push(limit);
            format!("LIMIT ${}", values.len())
        }
        None => String::new(),
    };
    // Both tables: an entry waiting in audit_pending was written after every entry of audit_log.
    let sql = format!(
        "SELECT {COLUMNS} FROM ( \
             SELECT {COLUMNS}, id, 0 AS pending FROM audit_log \
             UNION ALL SELECT {COLUMNS}, id, 1 AS pending FROM audit_pending) AS a \
         {where_clause} ORDER BY time DESC, pending DESC, id DESC {limit_clause}"
    );
    let rows = query(conn, &sql, &values).await?;
    rows.iter()
        .map(|r| {
            Ok(AuditEntry {
                time: get(r, 0)?,
                request_id: get(r, 1)?,
                account_id: get_u64(r, 2)?,
                principal: get(r, 3)?,
                access_key_id: get(r, 4)?,
                source_ip: get(r, 5)?,
                operation: get(r, 6)?,
                domain: get(r, 7)?,
                cert_name: get(r, 8)?,
                cert_id: get_opt_u64(r, 9)?,
                outcome: get(r, 10)?,
            })
        })
        .collect()
}
