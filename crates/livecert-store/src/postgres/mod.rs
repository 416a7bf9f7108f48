//! The PostgreSQL backend: several `livecert serve` and `livecert edge` processes on one database
//! (tokio-postgres with a deadpool connection pool, no TLS: the database is expected on loopback
//! or a private network).
//!
//! The backend runs on a tokio runtime of its own (two worker threads, `livecert-pg`): every store
//! call is spawned there and awaited, so the store works the same from any runtime (or from the
//! audit flusher's plain thread) and a call, once started, runs to its end even if its caller
//! goes away — as SQLite's writer does.
//!
//! **Writes** are grouped ([`grouped`]): a node's write calls queue up, and one task runs what is
//! queued in one transaction, each call in a savepoint:
//!
//! ```text
//! BEGIN; SELECT pg_advisory_xact_lock(WRITE_LOCK)    -- READ COMMITTED
//!   SAVEPOINT call; <the call: reads, the decision-table rules, writes; triggers bump the
//!                    change counter>; RELEASE call    -- or ROLLBACK TO call: refusal, failure, dry run
//!   ...
//!   SELECT counter FROM changes                      -- the value this commit publishes
//! COMMIT                                             -- ROLLBACK if no call was kept
//! ```
//!
//! The advisory lock is PostgreSQL's counterpart of SQLite's single writer: write transactions of
//! every process on the database run one at a time, and because each statement of a READ COMMITTED
//! transaction sees everything committed before it started, every statement after the lock sees
//! every write committed before it (and those of the calls before it in its group). So the rules
//! re-checked inside the transaction (rows 7–12, 23–26, 31–35) decide on the state the write will
//! apply to, as with SERIALIZABLE, with no serialization failure to retry. The change counter is
//! one row that every write the edge sees updates, so those writes were serialized until their
//! commit anyway; grouping makes one lock and one commit serve many calls. A lock not granted
//! within [`LOCK_TIMEOUT_MS`] fails the group's calls with `Unavailable` (SQLite's busy timeout).
//! The audit log's inserts take no lock (audit rows decide nothing).
//!
//! A dry run is its savepoint rolled back; CertIds come from a one-row counter (`sequences`,
//! `UPDATE … RETURNING`), which a rolled-back call does not consume, unlike a PostgreSQL SEQUENCE.
//! After a COMMIT, the counter read just before it is published to [`crate::Store::subscribe_changes`]
//! (if it is above what was published) and, for calls that touch keys, the AccessKey cache is
//! cleared — both before the call is answered. The triggers also `pg_notify` the channel
//! [`NOTIFY_CHANNEL`] with the new counter, and a call that touches keys sends `NOTIFY`
//! [`KEYS_NOTIFY_CHANNEL`], both delivered at commit to the change feeds of other processes
//! ([`listen`]).
//!
//! **Reads** take a pooled connection; those that must see one state (the edge's snapshot and
//! changes, an AccessKey with its policies, listings joined in two queries) run in a `REPEATABLE
//! READ, READ ONLY` transaction.
//!
//! **Shared limits** (rate-limit buckets and nonces, [`limits`]): single statements in autocommit on
//! a pool of their own, whose connections run with `synchronous_commit = off` and a
//! [`LIMITS_STATEMENT_TIMEOUT_MS`] statement timeout. They take no write lock (the row lock of the
//! one row they touch orders concurrent checks), so a queue of writes never delays a check, and
//! a node's nonces are recorded in batches (one statement for the nonces of the calls that arrive
//! while the previous statement runs), and
//! they do not wait for a WAL flush: a committed row is visible to every node at once, and a crash
//! of the server loses at most its last ~0.6 s of them (three `wal_writer_delay`s). Every
//! [`PRUNE_EVERY`]th nonce a node records starts a bounded prune in the background (one at a
//! time per node).
//!
//! **Errors.** A connection that cannot be made or was lost, a pool that has no connection in
//! time, a lock not granted, a server shutting down or out of resources → `Unavailable`; a
//! statement or commit that fails (constraint, trigger, type) → `Failed`.
//!
//! - [`schema`]: migrations applied on open, under an advisory lock.
//! - [`listen`]: the change feed, on a connection of its own (`Store::listen_changes`).
//! - [`tx`]: the seam's implementation ([`PgTx`]): the store's statements (`crate::sql`) run on a
//!   connection of this backend.
//! - [`audit`](mod@audit): the audit flusher's batch insert.
//! - [`grouped`]: the write queue and its groups.

pub(crate) mod audit;
pub(crate) mod grouped;
pub(crate) mod limits;
pub(crate) mod listen;
pub(crate) mod schema;
pub(crate) mod tx;

pub(crate) use tx::PgTx;

use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use deadpool_postgres::{ClientWrapper, Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use tokio::sync::watch;
use tokio_postgres::types::{FromSql, ToSql};
use tokio_postgres::{NoTls, Row};

use crate::audit::AuditSink;
use crate::key_cache::KeyCache;
use crate::{AuditEntry, NonceCheck, Pruned, StoreError, Touches, WriteError};

/// A pooled connection with its statement cache.
pub(crate) type Conn = ClientWrapper;

/// A boxed future borrowing a connection for `'a`.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The key of the transaction-level advisory lock every write transaction takes first (`livecert`
/// in ASCII).
pub(crate) const WRITE_LOCK: i64 = 0x6c69_7665_6365_7274;
/// The key of the advisory lock under which migrations run (`livecmig` in ASCII).
pub(crate) const MIGRATION_LOCK: i64 = 0x6c69_7665_636d_6967;
/// The channel the change-counter triggers notify, with the new counter as payload.
pub const NOTIFY_CHANNEL: &str = "livecert_changes";
/// The channel every committed write that touches accounts, AccessKeys, RAM users or policies
/// notifies (no payload), so that the AccessKey caches of other nodes are cleared
/// ([`crate::Store::listen_changes`]).
pub const KEYS_NOTIFY_CHANNEL: &str = "livecert_keys";
/// How long a statement waits for a lock (the write lock included) before failing, in
/// milliseconds (set on every connection; a URL's own `options=-c lock_timeout=…` wins).
pub(crate) const LOCK_TIMEOUT_MS: u32 = 10_000;
/// Connections kept by one store at most.
const POOL_SIZE: usize = 16;
/// How long a call waits for a pooled connection, and for a new connection to be made.
const POOL_TIMEOUT: Duration = Duration::from_secs(10);
/// Worker threads of the backend's runtime.
const RUNTIME_THREADS: usize = 2;
/// Connections kept for the shared limits at most (beside [`POOL_SIZE`]).
const LIMITS_POOL_SIZE: usize = 8;
/// How long one statement on the limits pool may run, in milliseconds: a check never holds a
/// request longer (a URL's own `options=-c statement_timeout=…` wins).
pub(crate) const LIMITS_STATEMENT_TIMEOUT_MS: u32 = 5_000;
/// A node starts a background prune after every this many nonces it records.
pub(crate) const PRUNE_EVERY: u64 = 256;
/// Rows of each table one background prune deletes at most.
pub(crate) const PRUNE_MAX_ROWS: u32 = 1_000;

/// The backend: cheap to clone (one shared pool and runtime).
#[derive(Clone)]
pub(crate) struct PgBackend {
    shared: Arc<Shared>,
}

struct Shared {
    /// Dropped before the runtime: the connections close while their tasks can still run.
    pool: Pool,
    /// The shared limits' connections (`synchronous_commit = off`), made on first use.
    limits_pool: Pool,
    /// Nonces this node recorded: every [`PRUNE_EVERY`]th starts a prune.
    nonces_recorded: AtomicU64,
    /// A prune of this node is running (shared with it: the prune holds no handle on the store, so
    /// a store dropped meanwhile shuts its runtime down as usual).
    pruning: Arc<AtomicBool>,
    /// The connection settings, for the change feed's own connection.
    config: tokio_postgres::Config,
    keys: Arc<KeyCache>,
    changes: watch::Sender<u64>,
    /// The change feed's counters, once [`PgBackend::listen`] started it.
    listened: OnceLock<watch::Sender<u64>>,
    /// The queue of write calls ([`grouped::write_groups`] runs it).
    writes: tokio::sync::mpsc::UnboundedSender<grouped::Queued>,
    /// The queue of nonces to record ([`limits::nonce_batches`] runs it).
    nonces: tokio::sync::mpsc::UnboundedSender<limits::NonceAsk>,
    runtime: OwnRuntime,
}

/// The backend's runtime, shut down without waiting when the last handle goes (a `Drop` inside
/// another runtime may not block).
struct OwnRuntime {
    handle: tokio::runtime::Handle,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for OwnRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl PgBackend {
    /// Connects to `url`, applies the migrations and reads the change counter; returns the backend
    /// and the change channel it publishes on (starting at that counter). Blocks the calling thread
    /// (the work runs on the backend's own runtime, from a helper thread, so it may be called from
    /// inside another runtime).
    ///
    /// Errors: `Unavailable` if the URL does not parse, the server cannot be reached or refuses the
    /// connection, or the schema is newer than this binary; `Failed` if a migration does not
    /// apply.
    pub(crate) fn open(
        url: &str,
        keys: Arc<KeyCache>,
        now: i64,
    ) -> Result<(Self, watch::Sender<u64>), StoreError> {
        let config = connection_config(url)?;
        let limits_config = limits_connection_config(url)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(RUNTIME_THREADS)
            .thread_name("livecert-pg")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Unavailable(format!("cannot start the store runtime: {e}")))?;
        let handle = runtime.handle().clone();
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = build_pool(manager, POOL_SIZE)?;
        let limits_pool = build_pool(
            Manager::from_config(
                limits_config,
                NoTls,
                ManagerConfig {
                    recycling_method: RecyclingMethod::Fast,
                },
            ),
            LIMITS_POOL_SIZE,
        )?;
        let opening = {
            let pool = pool.clone();
            async move {
                let mut conn = Checkout::get(&pool).await?;
                schema::migrate(&mut conn, now).await?;
                let counter = crate::sql::read::change_counter(&PgTx::new(&conn)).await?;
                conn.release();
                Ok::<u64, StoreError>(counter)
            }
        };
        // `block_on` may not run on a thread that is inside a runtime: run it on a helper thread.
        let counter = std::thread::scope(|scope| {
            scope
                .spawn(|| handle.block_on(opening))
                .join()
                .unwrap_or_else(|_| Err(StoreError::Failed("opening the store panicked".into())))
        });
        let counter = match counter {
            Ok(counter) => counter,
            Err(e) => {
                runtime.shutdown_background();
                return Err(e);
            }
        };
        let (changes, _) = watch::channel(counter);
        let (writes, queue) = tokio::sync::mpsc::unbounded_channel();
        handle.spawn(grouped::write_groups(
            grouped::Writer {
                pool: pool.clone(),
                keys: Arc::clone(&keys),
                changes: changes.clone(),
            },
            queue,
        ));
        let (nonces, nonce_queue) = tokio::sync::mpsc::unbounded_channel();
        handle.spawn(limits::nonce_batches(limits_pool.clone(), nonce_queue));
        let backend = Self {
            shared: Arc::new(Shared {
                pool,
                limits_pool,
                nonces_recorded: AtomicU64::new(0),
                pruning: Arc::new(AtomicBool::new(false)),
                config,
                keys,
                changes: changes.clone(),
                listened: OnceLock::new(),
                writes,
                nonces,
                runtime: OwnRuntime {
                    handle,
                    runtime: Some(runtime),
                },
            }),
        };
        Ok((backend, changes))
    }

    /// Runs `work` in a write transaction, in a savepoint of its own within its node's group (see
    /// the module documentation), and returns its result once the group committed — or, with
    /// `dry_run`, whatever it returned, its savepoint rolled back. An `Err` from `work` rolls its
    /// savepoint back.
    pub(crate) async fn write<T, F>(
        &self,
        touches: Touches,
        dry_run: bool,
        work: F,
    ) -> Result<T, WriteError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c Conn) -> BoxFuture<'c, Result<T, WriteError>> + Send + 'static,
    {
        let (call, answered) = grouped::Call::new(touches, dry_run, work);
        self.shared
            .writes
            .send(Box::new(call))
            .map_err(|_| StoreError::Unavailable("the store's writer has stopped".into()))?;
        answered.await.map_err(|_| {
            WriteError::from(StoreError::Failed(
                "the store's writer dropped the call".into(),
            ))
        })?
    }

    /// Runs `work` on a pooled connection (outside any transaction: `work` opens one if it needs
    /// a snapshot, see [`snapshot`]).
    pub(crate) async fn read<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c Conn) -> BoxFuture<'c, Result<T, StoreError>> + Send + 'static,
    {
        let shared = Arc::clone(&self.shared);
        self.spawn(async move {
            let conn = Checkout::get(&shared.pool).await?;
            let result = work(&conn).await;
            if result.is_err() {
                // A read transaction left open by an error must not go back to the pool.
                if conn.batch_execute("ROLLBACK").await.is_err() {
                    return result;
                }
            }
            conn.release();
            result
        })
        .await?
    }

    /// Checks and counts one call against the shared bucket of (account, operation)
    /// ([`limits::check_rate`]).
    pub(crate) async fn check_rate(
        &self,
        account_id: crate::AccountId,
        action: livecert_core::action::Action,
        quota: livecert_core::ratelimit::Quota,
        now_ms: i64,
    ) -> Result<livecert_core::ratelimit::Verdict, StoreError> {
        self.on_limits_pool(move |c| {
            Box::pin(async move { limits::check_rate(c, account_id, action, quota, now_ms).await })
        })
        .await
    }

    /// Records a nonce or finds it used, in the node's next batch ([`limits::nonce_batches`]);
    /// every [`PRUNE_EVERY`]th recorded starts a background prune unless one is running.
    pub(crate) async fn record_nonce(
        &self,
        key: [u8; 32],
        forget_at: i64,
        now: i64,
    ) -> Result<NonceCheck, StoreError> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        self.shared
            .nonces
            .send(limits::NonceAsk {
                key,
                forget_at,
                now,
                answer,
            })
            .map_err(|_| {
                StoreError::Unavailable("the store's nonce recorder has stopped".into())
            })?;
        let check = answered.await.map_err(|_| {
            StoreError::Failed("the store's nonce recorder dropped the nonce".into())
        })??;
        let shared = &self.shared;
        if check == NonceCheck::Fresh
            && (shared.nonces_recorded.fetch_add(1, Ordering::Relaxed) + 1)
                .is_multiple_of(PRUNE_EVERY)
            && !shared.pruning.swap(true, Ordering::AcqRel)
        {
            let (pool, pruning) = (shared.limits_pool.clone(), Arc::clone(&shared.pruning));
            shared.runtime.handle.spawn(async move {
                let pruned = async {
                    let conn = Checkout::get(&pool).await?;
                    let pruned = limits::prune(&conn, now, PRUNE_MAX_ROWS).await?;
                    conn.release();
                    Ok::<_, StoreError>(pruned)
                };
                match pruned.await {
                    Ok(pruned) => tracing::debug!(?pruned, "pruned the shared limits"),
                    Err(e) => tracing::warn!(error = %e, "pruning the shared limits failed"),
                }
                pruning.store(false, Ordering::Release);
            });
        }
        Ok(check)
    }

    /// Deletes a nonce entry recorded with `forget_at` ([`limits::forget_nonce`]).
    pub(crate) async fn forget_nonce(
        &self,
        key: [u8; 32],
        forget_at: i64,
    ) -> Result<(), StoreError> {
        self.on_limits_pool(move |c| {
            Box::pin(async move { limits::forget_nonce(c, &key, forget_at).await })
        })
        .await
    }

    /// Deletes expired nonces and idle buckets, at most `max_rows` of each ([`limits::prune`]).
    pub(crate) async fn prune(&self, now: i64, max_rows: u32) -> Result<Pruned, StoreError> {
        self.on_limits_pool(move |c| Box::pin(async move { limits::prune(c, now, max_rows).await }))
            .await
    }

    /// The database server's clock, Unix milliseconds.
    pub(crate) async fn database_time_ms(&self) -> Result<i64, StoreError> {
        self.on_limits_pool(|c| Box::pin(async move { limits::database_time_ms(c).await }))
            .await
    }

    /// Runs `work` (autocommit statements) on a connection of the limits pool.
    async fn on_limits_pool<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c Conn) -> BoxFuture<'c, Result<T, StoreError>> + Send + 'static,
    {
        let shared = Arc::clone(&self.shared);
        self.spawn(async move {
            let conn = Checkout::get(&shared.limits_pool).await?;
            let result = work(&conn).await;
            // After a failure the connection is closed rather than reused (it may be broken).
            if result.is_ok() {
                conn.release();
            }
            result
        })
        .await?
    }

    /// The change feed (`listen.rs`): started on the first call, on the backend's runtime, and
    /// shared by every later one; each call gets a receiver of the counters it publishes, starting
    /// at the last one published (at first, this store's).
    pub(crate) fn listen(&self) -> watch::Receiver<u64> {
        self.shared
            .listened
            .get_or_init(|| {
                let (published, _) = watch::channel(*self.shared.changes.borrow());
                self.shared.runtime.handle.spawn(listen::run(
                    self.shared.config.clone(),
                    Arc::clone(&self.shared.keys),
                    published.clone(),
                ));
                published
            })
            .subscribe()
    }

    /// The audit flusher's sink: one multi-row insert per batch, blocking the flusher's thread.
    pub(crate) fn audit_sink(&self) -> AuditSink {
        let shared = Arc::clone(&self.shared);
        Box::new(move |batch: Arc<Vec<AuditEntry>>, move_pending: bool| {
            let pool = shared.pool.clone();
            shared.runtime.handle.block_on(async move {
                let conn = Checkout::get(&pool).await?;
                audit::insert(&conn, &batch, move_pending).await?;
                conn.release();
                Ok(())
            })
        })
    }

    async fn spawn<T, Fut>(&self, future: Fut) -> Result<T, StoreError>
    where
        T: Send + 'static,
        Fut: Future<Output = T> + Send + 'static,
    {
        self.shared
            .runtime
            .handle
            .spawn(future)
            .await
            .map_err(|e| StoreError::Failed(format!("store task failed: {e}")))
    }
}

/// Rolls the transaction back and gives the connection back; if the rollback fails, the
/// connection is closed instead (whatever the transaction did is lost with it).
pub(crate) async fn rollback(conn: Checkout) {
    match conn.batch_execute("ROLLBACK").await {
        Ok(()) => conn.release(),
        Err(e) => tracing::warn!(error = %e, "a rollback failed; the connection is closed"),
    }
}

/// A pooled connection that goes back to the pool only when [`Checkout::release`]d: dropped any
/// other way (an error, a panic, mid-transaction) it is taken out of the pool and closed, so that
/// no connection returns with a transaction open.
pub(crate) struct Checkout {
    object: Option<Object>,
}

impl Checkout {
    /// A connection from `pool`.
    ///
    /// Errors: `Unavailable` if none could be had in time.
    pub(crate) async fn get(pool: &Pool) -> Result<Self, StoreError> {
        let object = pool
            .get()
            .await
            .map_err(|e| StoreError::Unavailable(format!("no database connection: {e}")))?;
        Ok(Self {
            object: Some(object),
        })
    }

    /// Gives the connection back to the pool (it must be outside any transaction).
    pub(crate) fn release(mut self) {
        drop(self.object.take());
    }
}

impl Deref for Checkout {
    type Target = Conn;

    fn deref(&self) -> &Conn {
        // `object` is `None` only after `release`, which consumes the checkout.
        self.object.as_deref().unwrap_or_else(|| unreachable!())
    }
}

impl std::ops::DerefMut for Checkout {
    fn deref_mut(&mut self) -> &mut Conn {
        self.object.as_deref_mut().unwrap_or_else(|| unreachable!())
    }
}

impl Drop for Checkout {
    fn drop(&mut self) {
        if let Some(object) = self.object.take() {
            drop(Object::take(object));
        }
    }
}

/// A pool of at most `size` connections made by `manager`, with livecert's timeouts.
///
/// Errors: `Unavailable` if the pool cannot be built.
fn build_pool(manager: Manager, size: usize) -> Result<Pool, StoreError> {
    Pool::builder(manager)
        .max_size(size)
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .wait_timeout(Some(POOL_TIMEOUT))
        .create_timeout(Some(POOL_TIMEOUT))
        .build()
        .map_err(|e| StoreError::Unavailable(format!("cannot build the connection pool: {e}")))
}

/// The connection settings from `url` (`postgres://` or `postgresql://`, libpq's URL form), with
/// livecert's defaults where the URL says nothing: a connect timeout, the application name, and a
/// lock timeout.
///
/// Errors: `Unavailable` if the URL does not parse.
pub(crate) fn connection_config(url: &str) -> Result<tokio_postgres::Config, StoreError> {
    config_with(url, &format!("-c lock_timeout={LOCK_TIMEOUT_MS}"))
}

/// The settings of the limits pool's connections: [`connection_config`]'s, with
/// `synchronous_commit = off` and a statement timeout of [`LIMITS_STATEMENT_TIMEOUT_MS`] (a URL's
/// own options still win).
///
/// Errors: `Unavailable` if the URL does not parse.
pub(crate) fn limits_connection_config(url: &str) -> Result<tokio_postgres::Config, StoreError> {
    config_with(
        url,
        &format!(
            "-c lock_timeout={LOCK_TIMEOUT_MS} -c synchronous_commit=off \
             -c statement_timeout={LIMITS_STATEMENT_TIMEOUT_MS}"
        ),
    )
}

/// `url`'s settings with livecert's defaults and the server options `settings` before the URL's
/// own.
fn config_with(url: &str, settings: &str) -> Result<tokio_postgres::Config, StoreError> {
    let mut config: tokio_postgres::Config = url.parse().map_err(|e| {
        StoreError::Unavailable(format!("not a PostgreSQL URL ({}): {e}", redact_url(url)))
    })?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(POOL_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name("livecert");
    }
    let options = match config.get_options() {
        Some(own) => format!("{settings} {own}"),
        None => settings.to_owned(),
    };
    config.options(&options);
    Ok(config)
}

/// `url` with its password, if any, replaced by `***` (for messages and logs).
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return url.to_owned();
    };
    let userinfo = &authority[..at];
    match userinfo.find(':') {
        Some(colon) => format!(
            "{}{}:***{}",
            &url[..scheme_end + 3],
            &userinfo[..colon],
            &url[scheme_end + 3 + at..]
        ),
        None => url.to_owned(),
    }
}

/// Maps a tokio-postgres error: a lost or refused connection, a server shutting down or out of
/// resources, a lock not granted → `Unavailable`; anything else (a statement, constraint, trigger
/// or conversion error) → `Failed`. (By value, for `map_err`.)
#[allow(clippy::needless_pass_by_value)]
pub(crate) fn pg_error(e: tokio_postgres::Error) -> StoreError {
    if let Some(db) = e.as_db_error() {
        let code = db.code().code();
        let unavailable = code.starts_with("08")
            || code.starts_with("53")
            || code.starts_with("57P")
            || code == "55P03";
        let text = db.to_string();
        return if unavailable {
            StoreError::Unavailable(text)
        } else {
            StoreError::Failed(text)
        };
    }
    let io =
        std::error::Error::source(&e).is_some_and(<dyn std::error::Error>::is::<std::io::Error>);
    if e.is_closed() || io {
        StoreError::Unavailable(e.to_string())
    } else {
        StoreError::Failed(e.to_string())
    }
}

/// A parameter list.
pub(crate) type Params<'a> = [&'a (dyn ToSql + Sync)];

/// Runs a statement (prepared through the connection's cache); returns the rows it changed.
pub(crate) async fn execute(
    conn: &Conn,
    sql: &str,
    params: &Params<'_>,
) -> Result<u64, StoreError> {
    let statement = conn.prepare_cached(sql).await.map_err(pg_error)?;
    conn.execute(&statement, params).await.map_err(pg_error)
}

/// Runs a query (prepared through the connection's cache); returns its rows.
pub(crate) async fn query(
    conn: &Conn,
    sql: &str,
    params: &Params<'_>,
) -> Result<Vec<Row>, StoreError> {
    let statement = conn.prepare_cached(sql).await.map_err(pg_error)?;
    conn.query(&statement, params).await.map_err(pg_error)
}

/// Runs a query that returns exactly one row.
pub(crate) async fn query_one(
    conn: &Conn,
    sql: &str,
    params: &Params<'_>,
) -> Result<Row, StoreError> {
    let statement = conn.prepare_cached(sql).await.map_err(pg_error)?;
    conn.query_one(&statement, params).await.map_err(pg_error)
}

/// Column `idx` of `row`; a value that does not convert is `Failed` (data read back is never
/// trusted to be well formed).
pub(crate) fn get<'a, T: FromSql<'a>>(row: &'a Row, idx: usize) -> Result<T, StoreError> {
    row.try_get(idx)
        .map_err(|e| StoreError::Failed(format!("column {idx}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted_from_urls() {
        assert_eq!(
            redact_url("postgres://u:secret@db.example:5432/livecert?sslmode=disable"),
            "postgres://u:***@db.example:5432/livecert?sslmode=disable"
        );
        assert_eq!(
            redact_url("postgresql://u@127.0.0.1/x"),
            "postgresql://u@127.0.0.1/x"
        );
        assert_eq!(
            redact_url("postgres://127.0.0.1/x"),
            "postgres://127.0.0.1/x"
        );
        assert_eq!(redact_url("not a url"), "not a url");
    }

    #[test]
    fn the_lock_timeout_is_set_and_a_urls_own_options_win() {
        let config = connection_config("postgres://u@127.0.0.1/x").unwrap();
        assert_eq!(config.get_options(), Some("-c lock_timeout=10000"));
        assert_eq!(config.get_application_name(), Some("livecert"));
        let config =
            connection_config("postgres://u@127.0.0.1/x?options=-c%20lock_timeout%3D1").unwrap();
        assert_eq!(
            config.get_options(),
            Some("-c lock_timeout=10000 -c lock_timeout=1")
        );
        let limits = limits_connection_config("postgres://u@127.0.0.1/x").unwrap();
        assert_eq!(
            limits.get_options(),
            Some("-c lock_timeout=10000 -c synchronous_commit=off -c statement_timeout=5000")
        );
        assert!(matches!(
            connection_config("postgres://u@127.0.0.1:notaport/x"),
            Err(StoreError::Unavailable(_))
        ));
    }
}
