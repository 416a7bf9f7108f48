//! [`SharedLimits`]: the rate-limit buckets and nonces every API node of a PostgreSQL store
//! shares (the statements are `postgres/limits.rs`).

use livecert_core::action::Action;
use livecert_core::ratelimit::{Quota, Verdict};

use crate::postgres::PgBackend;
use crate::{AccountId, NonceCheck, Pruned, StoreError};

/// The rate-limit buckets and nonces that every API node on one PostgreSQL store shares
/// (spec/access.md, "Rate limits"; spec/protocol.md §5), from [`Store::shared_limits`](crate::Store::shared_limits). Cheap to
/// clone.
///
/// Each check is one statement, atomic across nodes (see `postgres/limits.rs`), on connections
/// of its own that do not wait for the WAL flush (`synchronous_commit = off`): a row is seen by
/// every node at its commit, and a crash of the database server may forget its last fraction of
/// a second. Times are the calling node's clock, passed in; how far nodes' clocks may differ is
/// in docs/decisions.md.
#[derive(Clone)]
pub struct SharedLimits {
    pub(crate) backend: PgBackend,
}

impl SharedLimits {
    /// Checks and counts one call of `action` by `account_id` at `now_ms` (Unix milliseconds)
    /// against `quota`, with the GCRA rule of [`Quota::check`] applied to the bucket in the
    /// database. `Allowed { tat }`: counted, the bucket is now at `tat` (Unix µs). `Throttled`:
    /// nothing changed; `retry_after_ms` is when the call would be allowed (at least 1; short by
    /// one interval per admission that raced with this check, which then simply refuses again).
    ///
    /// Every node must pass the same quota for an operation: the bucket keeps only its TAT.
    ///
    /// Errors: `Unavailable` (no connection, lock or statement timeout) or `Failed` (the table is
    /// missing or the statement failed): never an admission.
    pub async fn check_rate(
        &self,
        account_id: AccountId,
        action: Action,
        quota: Quota,
        now_ms: i64,
    ) -> Result<Verdict, StoreError> {
        self.backend
            .check_rate(account_id, action, quota, now_ms)
            .await
    }

    /// Records a nonce: `key` is a fixed-size hash of (AccessKeyId, nonce) (the API's SHA-256),
    /// `forget_at` the Unix second from which the entry may be forgotten (the request's
    /// timestamp plus the clock window), `now` the caller's clock in Unix seconds. `Used` while an
    /// entry for `key` has `forget_at ≥ now`; otherwise the entry is written (or an expired one
    /// taken over) and the answer is `Fresh`. One statement: of two nodes recording the same key
    /// at once, exactly one gets `Fresh`.
    ///
    /// Every 256th nonce a store records starts a background [`SharedLimits::prune`] of at most
    /// 1,000 rows per table (one at a time per store).
    ///
    /// Errors: as [`SharedLimits::check_rate`]: never `Fresh` on a failure.
    pub async fn record_nonce(
        &self,
        key: &[u8; 32],
        forget_at: i64,
        now: i64,
    ) -> Result<NonceCheck, StoreError> {
        self.backend.record_nonce(*key, forget_at, now).await
    }

    /// Forgets a nonce recorded with [`SharedLimits::record_nonce`] whose call was then refused
    /// before it could change anything (throttled): the entry `key` is deleted if its forget time
    /// is still `forget_at`, so the request may be sent again. One statement.
    ///
    /// Errors: as [`SharedLimits::check_rate`]; the entry then stays (the request stays refused as
    /// a replay, never runs twice).
    pub async fn forget_nonce(&self, key: &[u8; 32], forget_at: i64) -> Result<(), StoreError> {
        self.backend.forget_nonce(*key, forget_at).await
    }

    /// Deletes at most `max_rows` nonces and at most `max_rows` buckets that expired (a nonce's
    /// forget time, a bucket's TAT) more than a minute before both `now` (the caller's clock, Unix
    /// seconds) and the database's clock, oldest first, skipping rows another node holds. The
    /// database's clock keeps a node whose clock runs ahead from deleting what other nodes still
    /// need; the minute covers nodes whose clock runs behind. Bounded work: call again while it
    /// deletes `max_rows`.
    ///
    /// Errors: a statement failed (rows already deleted stay deleted).
    pub async fn prune(&self, now: i64, max_rows: u32) -> Result<Pruned, StoreError> {
        self.backend.prune(now, max_rows).await
    }

    /// The database server's clock (`clock_timestamp()`), Unix milliseconds: for a node to
    /// measure how far its own clock is from it (`serve` warns at start).
    ///
    /// Errors: the query failed.
    pub async fn database_time_ms(&self) -> Result<i64, StoreError> {
        self.backend.database_time_ms().await
    }
}

impl std::fmt::Debug for SharedLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedLimits(PostgreSQL)")
    }
}
