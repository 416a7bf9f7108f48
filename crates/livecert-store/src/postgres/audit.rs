//! The audit log's statements for PostgreSQL: one multi-row insert per batch (the flusher's sink,
//! see `crate::audit`; its own transaction, no write lock) and the filtered listing, newest first.

use tokio_postgres::types::ToSql;

use crate::postgres::{db_id, get, get_opt_u64, get_u64, pg_error, BoxFuture, Conn};
use crate::{AuditEntry, AuditFilter, StoreError, WriteError};

const COLUMNS: &str = "time, request_id, account_id, principal, access_key_id, source_ip, \
     operation, domain, cert_name, cert_id, outcome";

/// A write call's `work`, followed — when it succeeds and the call carries its audit entry
/// (`crate::audit::CallAudit`) — by that entry, appended to `audit_pending` in the same
/// transaction with the outcome `outcome` names for the result.
pub(crate) fn with_entry<T, F, O>(
    work: F,
    entry: Option<AuditEntry>,
    outcome: O,
) -> impl for<'c> FnOnce(&'c Conn) -> BoxFuture<'c, Result<T, WriteError>> + Send + 'static
where
    T: Send + 'static,
    F: for<'c> FnOnce(&'c Conn) -> BoxFuture<'c, Result<T, WriteError>> + Send + 'static,
    O: FnOnce(&T) -> &'static str + Send + 'static,
{
    move |conn| {
        Box::pin(async move {
            let value = work(conn).await?;
            if let Some(entry) = entry {
                insert_into(conn, "audit_pending", &[entry.answered(outcome(&value))]).await?;
            }
            Ok(value)
        })
    }
}

/// The audit flusher's write: moves the entries written in changes' transactions
/// (`audit_pending`) into `audit_log` when `move_pending` — one statement, `DELETE … RETURNING`,
/// so that two nodes moving at once never move a row twice — then inserts the queued `entries`.
pub(crate) async fn insert(
    conn: &Conn,
    entries: &[AuditEntry],
    move_pending: bool,
) -> Result<(), StoreError> {
    if move_pending {
        crate::postgres::execute(
            conn,
            &format!(
                "WITH moved AS (DELETE FROM audit_pending RETURNING id, {COLUMNS}) \
                 INSERT INTO audit_log ({COLUMNS}) SELECT {COLUMNS} FROM moved ORDER BY id"
            ),
            &[],
        )
        .await?;
    }
    insert_into(conn, "audit_log", entries).await
}

/// Inserts `entries` in order into `table` (`audit_log` or `audit_pending`; one statement: the ids
/// follow the order of the batch).
async fn insert_into(conn: &Conn, table: &str, entries: &[AuditEntry]) -> Result<(), StoreError> {
    if entries.is_empty() {
        return Ok(());
    }
    let mut time = Vec::with_capacity(entries.len());
    let mut request_id = Vec::with_capacity(entries.len());
    let mut account_id = Vec::with_capacity(entries.len());
    let mut principal = Vec::with_capacity(entries.len());
    let mut access_key_id = Vec::with_capacity(entries.len());
    let mut source_ip = Vec::with_capacity(entries.len());
    let mut operation = Vec::with_capacity(entries.len());
    let mut domain = Vec::with_capacity(entries.len());
    let mut cert_name = Vec::with_capacity(entries.len());
    let mut cert_id = Vec::with_capacity(entries.len());
    let mut outcome = Vec::with_capacity(entries.len());
    for e in entries {
        time.push(e.time);
        request_id.push(e.request_id.as_str());
        account_id.push(db_id(e.account_id)?);
        principal.push(e.principal.as_str());
        access_key_id.push(e.access_key_id.as_str());
        source_ip.push(e.source_ip.as_str());
        operation.push(e.operation.as_str());
        domain.push(e.domain.as_deref());
        cert_name.push(e.cert_name.as_deref());
        cert_id.push(e.cert_id.map(db_id).transpose()?);
        outcome.push(e.outcome.as_str());
    }
    crate::postgres::execute(
        conn,
        &format!(
            "INSERT INTO {table} ({COLUMNS}) \
             SELECT t, r, a, p, k, s, o, d, n, c, x FROM unnest(\
             $1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], \
             $7::text[], $8::text[], $9::text[], $10::bigint[], $11::text[]) \
             WITH ORDINALITY AS u (t, r, a, p, k, s, o, d, n, c, x, i) ORDER BY i"
        ),
        &[
            &time,
            &request_id,
            &account_id,
            &principal,
            &access_key_id,
            &source_ip,
            &operation,
            &domain,
            &cert_name,
            &cert_id,
            &outcome,
        ],
    )
    .await?;
    Ok(())
}

/// The entries that pass `filter`, newest first (by time, then by insertion), at most
/// `filter.limit` of them (0: all).
pub(crate) async fn entries(
    conn: &Conn,
    filter: &AuditFilter,
) -> Result<Vec<AuditEntry>, StoreError> {
    let account = filter.account.map(db_id).transpose()?;
    let limit = if filter.limit == 0 {
        None
    } else {
        Some(i64::try_from(filter.limit).unwrap_or(i64::MAX))
    };
    let mut conditions = Vec::new();
    let mut values: Vec<&(dyn ToSql + Sync)> = Vec::new();
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
        conditions.push(format!("lower(domain) = lower(${})", values.len()));
    }
    values.push(&limit);
    let where_clause = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    // Both tables: an entry waiting in audit_pending was written after every entry of audit_log.
    let sql = format!(
        "SELECT {COLUMNS} FROM ( \
             SELECT {COLUMNS}, id, 0 AS pending FROM audit_log \
             UNION ALL SELECT {COLUMNS}, id, 1 AS pending FROM audit_pending) AS a \
         {where_clause} ORDER BY time DESC, pending DESC, id DESC LIMIT ${}",
        values.len()
    );
    let statement = conn.prepare_cached(&sql).await.map_err(pg_error)?;
    let rows = conn.query(&statement, &values).await.map_err(pg_error)?;
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
