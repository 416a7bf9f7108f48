//! The state every API node shares (migration 2): GCRA buckets and nonces, one statement per
//! check, run in autocommit on the backend's limits pool (`synchronous_commit = off`), outside the
//! write lock.
//!
//! **Rate limits.** One upsert decides and counts a call atomically: the row of
//! (account, operation) is locked by `ON CONFLICT … DO UPDATE`, whose `WHERE` is the GCRA rule of
//! `livecert_core::ratelimit` (`max(tat, now) + T − now ≤ burst · T`) evaluated on the row's
//! latest committed version, so concurrent checks from any number of nodes are applied one after
//! the other and never over-admit. An idle bucket (no row) admits: its first TAT is `now + T`. A
//! refused call updates nothing; the same statement reads the bucket's TAT for its retry-after
//! (from the statement's snapshot: when an admission raced in between, the retry-after is short
//! by that admission's interval, and the retried call is simply refused again).
//!
//! **Nonces.** One upsert inserts the entry, or takes over one past its forget time (the row lock
//! makes two takeovers of one entry serialize: the second sees the first's new forget time), and
//! returns a row exactly when the nonce was fresh.
//!
//! **Pruning.** Nonces and buckets expired for [`PRUNE_MARGIN_SECS`] by both the pruning node's
//! clock and the database's are deleted, at most `max_rows` per table per call, oldest first,
//! skipping rows another node is deleting or checking (`SKIP LOCKED`); a row taken over meanwhile
//! is re-checked and kept. The database's clock bounds what a node whose clock runs ahead may
//! delete, and the margin protects nodes whose clock runs behind: a nonce entry is gone only when
//! no node within the margin of the database's clock still accepts its request's timestamp.

use livecert_core::action::Action;
use livecert_core::ratelimit::{Quota, Verdict};

use crate::db::db_id;
use deadpool_postgres::Pool;
use tokio::sync::{mpsc, oneshot};

use crate::postgres::{execute, get, query, query_one, Checkout, Conn};
use crate::{AccountId, NonceCheck, Pruned, StoreError};

/// How long past its forget time a nonce entry, and past its TAT a bucket, is kept before [`prune`]
/// deletes it, in seconds: the clock difference between a node and the database that pruning
/// tolerates (an entry deleted too early would let a node whose clock is behind accept a replay,
/// a bucket deleted too early would give it a fresh burst).
pub(crate) const PRUNE_MARGIN_SECS: i64 = 60;

/// Checks and counts one call of `action` by `account_id` at `now_ms` (the node's clock, Unix
/// milliseconds) against `quota`.
///
/// Errors: the statement failed (`Unavailable` or `Failed` as [`crate::postgres::pg_error`]).
pub(crate) async fn check_rate(
    conn: &Conn,
    account_id: AccountId,
    action: Action,
    quota: Quota,
    now_ms: i64,
) -> Result<Verdict, StoreError> {
    let now_us = now_ms.saturating_mul(1000);
    let rows = query(
        conn,
        "WITH admitted AS ( \
             INSERT INTO rate_limits AS r (account_id, action, tat_us) \
             VALUES ($1::bigint, $2::text, $3::bigint + $4::bigint) \
             ON CONFLICT (account_id, action) DO UPDATE \
                 SET tat_us = greatest(r.tat_us, $3) + $4 \
                 WHERE greatest(r.tat_us, $3) + $4 - $3 <= $5::bigint \
             RETURNING tat_us \
         ) \
         SELECT true, tat_us FROM admitted \
         UNION ALL \
         SELECT false, tat_us FROM rate_limits \
          WHERE account_id = $1 AND action = $2 AND NOT EXISTS (SELECT 1 FROM admitted)",
        &[
            &db_id(account_id)?,
            &action.wire_name(),
            &now_us,
            &quota.interval_us(),
            &quota.limit_us(),
        ],
    )
    .await?;
    let Some(row) = rows.first() else {
        // Refused against a bucket created after this statement's snapshot: it was at least one
        // interval ahead.
        return Ok(Verdict::Throttled {
            retry_after_ms: quota.retry_after_ms(now_us.saturating_add(quota.limit_us()), now_ms),
        });
    };
    let allowed: bool = get(row, 0)?;
    let tat: i64 = get(row, 1)?;
    Ok(if allowed {
        Verdict::Allowed { tat }
    } else {
        Verdict::Throttled {
            retry_after_ms: quota.retry_after_ms(tat, now_ms),
        }
    })
}

/// A nonce to record: its key (SHA-256 of AccessKeyId and nonce), its forget time and its
/// caller's clock (Unix seconds), and where the answer goes.
pub(crate) struct NonceAsk {
    pub(crate) key: [u8; 32],
    pub(crate) forget_at: i64,
    pub(crate) now: i64,
    pub(crate) answer: oneshot::Sender<Result<NonceCheck, StoreError>>,
}

/// Most nonces in one statement.
const MAX_NONCE_BATCH: usize = 512;

/// Records the nonces of `queue` until every sender is gone: whatever is queued when a statement
/// ends goes into the next one ([`record_nonces`]), so that a node sends one statement per batch
/// of concurrent calls rather than one per call. Each call is answered from its batch; a failed
/// statement answers the whole batch with its error, and the connection is not reused.
pub(crate) async fn nonce_batches(pool: Pool, mut queue: mpsc::UnboundedReceiver<NonceAsk>) {
    let mut batch: Vec<NonceAsk> = Vec::with_capacity(MAX_NONCE_BATCH);
    // Waits for one nonce, then takes whatever else is queued; 0 once every sender is gone.
    while queue.recv_many(&mut batch, MAX_NONCE_BATCH).await > 0 {
        let checked = async {
            let conn = Checkout::get(&pool).await?;
            let checks = record_nonces(&conn, &batch).await?;
            conn.release();
            Ok::<_, StoreError>(checks)
        }
        .await;
        match checked {
            Ok(checks) => {
                for (ask, check) in batch.drain(..).zip(checks) {
                    let _ = ask.answer.send(Ok(check));
                }
            }
            Err(e) => {
                for ask in batch.drain(..) {
                    let _ = ask.answer.send(Err(e.clone()));
                }
            }
        }
    }
}

/// Records each nonce of `batch` with its forget time, or finds it used, in one statement:
/// [`NonceCheck::Used`] while an entry's `forget_at ≥ now` (Unix seconds; the batch's earliest
/// `now`, so an entry is never taken over early); an older entry is taken over. A key given twice
/// in the batch is recorded once: the later asks are `Used`. The answers are in `batch`'s order.
///
/// Errors: the statement failed.
pub(crate) async fn record_nonces(
    conn: &Conn,
    batch: &[NonceAsk],
) -> Result<Vec<NonceCheck>, StoreError> {
    let mut first = std::collections::HashSet::with_capacity(batch.len());
    let unique: Vec<&NonceAsk> = batch.iter().filter(|a| first.insert(a.key)).collect();
    let keys: Vec<&[u8]> = unique.iter().map(|a| a.key.as_slice()).collect();
    let forget_at: Vec<i64> = unique.iter().map(|a| a.forget_at).collect();
    let now = batch.iter().map(|a| a.now).min().unwrap_or_default();
    let rows = query(
        conn,
        "INSERT INTO nonces AS n (key, forget_at) \
         SELECT k, f FROM unnest($1::bytea[], $2::bigint[]) AS t(k, f) \
         ON CONFLICT (key) DO UPDATE SET forget_at = excluded.forget_at \
             WHERE n.forget_at < $3 \
         RETURNING n.key",
        &[&keys, &forget_at, &now],
    )
    .await?;
    let mut fresh = std::collections::HashSet::with_capacity(rows.len());
    for row in &rows {
        fresh.insert(get::<Vec<u8>>(row, 0)?);
    }
    let mut answered = std::collections::HashSet::with_capacity(batch.len());
    Ok(batch
        .iter()
        .map(|a| {
            if answered.insert(a.key) && fresh.contains(a.key.as_slice()) {
                NonceCheck::Fresh
            } else {
                NonceCheck::Used
            }
        })
        .collect())
}

/// Deletes the nonce entry `key` if its forget time is still `forget_at` (the one its caller
/// recorded: an entry taken over since by a later request stays).
///
/// Errors: the statement failed.
pub(crate) async fn forget_nonce(
    conn: &Conn,
    key: &[u8; 32],
    forget_at: i64,
) -> Result<(), StoreError> {
    execute(
        conn,
        "DELETE FROM nonces WHERE key = $1 AND forget_at = $2",
        &[&key.as_slice(), &forget_at],
    )
    .await?;
    Ok(())
}

/// Deletes at most `max_rows` nonces and at most `max_rows` buckets expired for
/// [`PRUNE_MARGIN_SECS`] by both `now` (the node's clock, Unix seconds) and the database's clock,
/// oldest first.
///
/// Errors: a statement failed (what the first deleted stays deleted).
pub(crate) async fn prune(conn: &Conn, now: i64, max_rows: u32) -> Result<Pruned, StoreError> {
    let limit = i64::from(max_rows);
    let database_now = database_time_ms(conn).await?.div_euclid(1000);
    let cutoff = now.min(database_now).saturating_sub(PRUNE_MARGIN_SECS);
    let nonces = execute(
        conn,
        "DELETE FROM nonces WHERE forget_at < $1 AND key IN ( \
             SELECT key FROM nonces WHERE forget_at < $1 \
             ORDER BY forget_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
        &[&cutoff, &limit],
    )
    .await?;
    let idle_us = cutoff.saturating_mul(1_000_000);
    let buckets = execute(
        conn,
        "DELETE FROM rate_limits WHERE tat_us < $1 AND (account_id, action) IN ( \
             SELECT account_id, action FROM rate_limits WHERE tat_us < $1 \
             ORDER BY tat_us LIMIT $2 FOR UPDATE SKIP LOCKED)",
        &[&idle_us, &limit],
    )
    .await?;
    Ok(Pruned { nonces, buckets })
}

/// The database server's clock (`clock_timestamp()`), in Unix milliseconds.
///
/// Errors: the statement failed.
pub(crate) async fn database_time_ms(conn: &Conn) -> Result<i64, StoreError> {
    let row = query_one(
        conn,
        "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint",
        &[],
    )
    .await?;
    get(&row, 0)
}
