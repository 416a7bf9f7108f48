//! The audit flusher's batch insert for PostgreSQL: one multi-row insert per batch (the flusher's
//! sink, see `crate::audit`; its own transaction, no write lock). The rest of the audit log's
//! statements are `crate::sql::audit`.

use crate::db::db_id;
use crate::postgres::Conn;
use crate::sql::audit::COLUMNS;
use crate::{AuditEntry, StoreError};

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
