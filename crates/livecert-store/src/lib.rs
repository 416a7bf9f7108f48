//! livecert-store: persistence behind one [`Store`] API, over SQLite or PostgreSQL.
//!
//! SQLite is the embedded default (WAL, `synchronous=FULL`, migrations on open, concurrent writes
//! group-committed: calls share one transaction, each inside its own SAVEPOINT, and no call is
//! answered before its group's commit returns). PostgreSQL is the backend for several API and edge
//! processes on one database ([`Store::open_postgres`]: each write call is one transaction under a
//! cluster-wide write lock, see `postgres/mod.rs`). Both keep the same tables, constraints and
//! change-counter triggers, each with migrations of its own, and one conformance suite
//! (`tests/conformance/`) runs unchanged against both. Private keys and AccessKey secrets are
//! sealed with the [`MasterKey`] before they reach the database and opened only on the way out
//! ([`Store::access_key`], [`Store::certificate_private_key`]; the edge gets private keys still
//! sealed, with a [`CertKeyOpener`] to open each on its first handshake).
//!
//! Code map (the seam: `Store` methods → `call.rs` → `sql/` over `db::Tx` → a backend):
//! - this file: [`Store`] (opening, the write mode, sealing) and the re-exports;
//! - `model.rs`: the public types; `error.rs`: [`StoreError`], [`WriteError`];
//! - one file of `Store` methods per area — `accounts.rs` (bootstrap, accounts, the AccessKey
//!   lookup), `access.rs` (RAM users, AccessKeys, policies, STS, with their naming rules),
//!   `domains.rs`, `library.rs` (the certificate library), `edge.rs` (what the edge reads),
//!   `acme.rs` (the ACME issuer's orders, leases, challenges and account),
//!   `audit.rs` (the audit log: the bounded queue behind [`Store::record_audit`], the flusher
//!   thread, the listing); each method seals secrets and runs its operation through `call.rs`;
//! - `call.rs`: `read_call!` / `write_call!`, which run one operation on either backend;
//! - `db.rs`: **the backend seam** — the `Tx` trait (execute, query, batch, dialect), parameters,
//!   rows, snapshots;
//! - `sql/`: every store operation, written once over `Tx` — `read.rs` (queries, row mapping and
//!   the row types), `write.rs` (domains and library writes, the decision-table rules re-checked
//!   inside the transaction), `ram.rs` (users, keys, policies, STS), `audit.rs`;
//! - `rules.rs`: the refusals a write applies inside its transaction (rows 7–12 through core's
//!   `ops::domain_rules`, operator mistakes);
//! - `sqlite/`: the SQLite backend, below the seam — `mod.rs` (connections, read pool, error
//!   mapping), `tx.rs` (its `Tx`), `schema.rs` and `migrations/`, `group_commit.rs` (the writer
//!   thread), `audit.rs` (the flusher's batch insert);
//! - `postgres/`: the PostgreSQL backend, below the seam — `mod.rs` (its runtime, pool, write
//!   transactions and error mapping; no group commit), `tx.rs` (its `Tx`), `schema.rs`,
//!   `audit.rs` (the flusher's batch insert), `limits.rs` (the rate-limit buckets and nonces
//!   every API node shares, [`SharedLimits`] in `shared_limits.rs`) and `listen.rs` (the change
//!   feed of other nodes' commits, [`Store::listen_changes`]);
//! - `migrate.rs`: `livecert admin migrate`, a copy of a SQLite store into PostgreSQL;
//! - `key_cache.rs`: the in-memory AccessKey cache; `random.rs`: generated ids and secrets.
//!
//! A new store operation is written once: an `async fn` over `conn: &impl Tx` in `sql/`, called
//! by a `Store` method in its area's file through `read_call!` or `write_call!`.
//!
//! Invariants: a domain name exists once across all accounts; an AccessKey belongs to its
//! account's root credentials or to a user of the same account, and a policy is attached only to
//! users of its own account (composite foreign keys); a SecurityToken is stored only as its
//! SHA-256; a domain has HTTPS on exactly when
//! it is bound to a record, and only to a record of its own account (both are constraints of the
//! schema); CertIds come from one global sequence and are never reused; the change counter
//! ([`Store::change_counter`]) only increases and is bumped, by triggers, by every commit that
//! changes what the edge serves, and the same triggers record each domain concerned with the new
//! value (`edge_changes`, one row per domain name, kept when the domain is deleted), so that
//! [`Store::edge_changes_since`] lists exactly the domains changed after a counter value.
//!
//! Decisions where the spec is silent:
//! - Write calls re-check the domain rules that precede them (rows 7–11, and 12 for HTTPS off)
//!   inside the transaction, with the same codes, so that a concurrent operator change cannot slip
//!   between the handler's check and the write.
//! - Binding a domain to the record it is already bound to (HTTPS on) writes nothing: no
//!   GmtModified change, no change-counter bump (spec/README.md decision 4).
//! - A forced replacement makes the record an `upload` record in status `success`, whatever it was.
//! - If a group's COMMIT fails, every call of the group is answered `Failed`, refusals included
//!   (SQLite; with PostgreSQL a call is its own transaction).
//! - DryRun (spec/operations.md) is a mode of the store handle ([`Store::in_mode`] with
//!   [`WriteMode::DryRun`]): every write through it runs the very same write — with SQLite
//!   inside the writer's transaction and in the call's own savepoint, with PostgreSQL in the call's
//!   own transaction — which is then rolled back whatever happened. Such a write answers what the real call
//!   would have answered (the same outcome, or the same refusal or failure) with nothing written —
//!   not even row 28's library record, nor a CertId taken from the sequence — and no
//!   change-counter bump. With SQLite they are answered after their group's COMMIT, so a failed
//!   group answers them `Failed` too.
//! - An imported AccessKeyId is 1–128 visible ASCII characters (no space: it could not travel in
//!   a V3 `Credential`); re-importing an id keeps the key's status.
//! - Rate-limit buckets and nonces are in the store only with PostgreSQL ([`Store::shared_limits`]
//!   is `None` on SQLite): SQLite is served by one `serve` process, which keeps them in memory,
//!   exactly and without a write per call.

#![warn(missing_docs)]

mod access;
mod accounts;
mod acme;
mod audit;
mod call;
mod db;
mod domains;
mod edge;
mod error;
mod key_cache;
mod library;
pub mod migrate;
mod model;
mod postgres;
mod random;
mod rules;
mod shared_limits;
mod sql;
mod sqlite;

use std::path::Path;
use std::sync::Arc;

use livecert_core::secret::{MasterKey, AAD_ACCESS_KEY_SECRET, AAD_CERT_KEY};
use tokio::sync::watch;

pub use crate::access::{
    AccessKeyInfo, AccountInfo, PolicyInfo, StsCredentials, UserInfo, MAX_POLICY_DOCUMENT_BYTES,
    STS_MAX_DURATION_SECS, STS_MIN_DURATION_SECS,
};
pub use crate::acme::{
    AcmeChallenge, AcmeOrder, AcmeProblem, ChallengeKind, FreeRequested, OrderCompletion,
    OrderPurpose, OrderState,
};
pub use crate::audit::{
    AuditEntry, AuditFilter, CallAudit, BATCH_SIZE, FLUSH_INTERVAL, QUEUE_PER_ACCOUNT,
};
pub use crate::error::{StoreError, WriteError};
pub use crate::model::*;
pub use crate::postgres::{redact_url, KEYS_NOTIFY_CHANNEL, NOTIFY_CHANNEL};
pub use crate::shared_limits::SharedLimits;

use crate::audit::AuditQueue;
use crate::call::{read_call, Backend, Touches};
use crate::error::store_only;
use crate::key_cache::KeyCache;
use crate::postgres::PgBackend;
use crate::sqlite::group_commit::Writer;
use crate::sqlite::SqliteBackend;

/// How a [`Store`] handle's writes end (spec/operations.md, DryRun).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum WriteMode {
    /// Each write commits (the default).
    #[default]
    Commit,
    /// Each write runs every check and statement of the real call, then rolls back: it answers
    /// what the real call would have answered (the same outcome, refusal or failure) with
    /// nothing written, no CertId taken and the change counter unmoved. A record the real call
    /// would have created is reported with CertId 0.
    DryRun,
}

impl WriteMode {
    /// `DryRun` when the call's `DryRun` parameter is true, else `Commit`.
    pub fn from_dry_run(dry_run: bool) -> Self {
        if dry_run {
            Self::DryRun
        } else {
            Self::Commit
        }
    }
}

/// The store: cheap to clone (one shared backend). Every method is async and must run inside a
/// tokio runtime. With SQLite, writes are group-committed on a dedicated thread and reads run on
/// tokio's blocking pool; with PostgreSQL, calls run on the store's own small runtime over a
/// connection pool. Either way the store works beside other processes on the same database
/// (`livecert admin`, more `serve` and `edge` nodes on PostgreSQL).
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
    /// How this handle's writes end.
    mode: WriteMode,
}

struct Inner {
    master_key: Arc<MasterKey>,
    backend: Backend,
    keys: Arc<KeyCache>,
    /// The change counter as of this store's last commit that moved it (published by the writer).
    changes: watch::Sender<u64>,
    /// Dropped last: its drop waits for the queued audit entries to be written (its sink holds
    /// what it needs of the backend).
    audit: AuditQueue,
}

impl Store {
    /// A handle on the same store whose writes end as `mode` says (reads are unchanged). The
    /// handles of [`Store::open_sqlite`] and [`Store::open_postgres`] commit.
    #[must_use]
    pub fn in_mode(&self, mode: WriteMode) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            mode,
        }
    }

    /// How this handle's writes end.
    pub fn mode(&self) -> WriteMode {
        self.mode
    }

    /// Opens (creating if needed) the SQLite database at `path` and applies migrations. The
    /// parent directory must exist. Starts the writer thread and the audit flusher.
    ///
    /// Errors: `Unavailable` if the file cannot be opened, WAL cannot be turned on, or the schema
    /// is newer than this binary; `Failed` if a migration does not apply.
    pub fn open_sqlite(path: &Path, master_key: Arc<MasterKey>) -> Result<Self, StoreError> {
        let mut conn = sqlite::open_writer(path)?;
        sqlite::schema::migrate(&mut conn, unix_now())?;
        sqlite::sync_parent_dir(path);
        let counter = db::now_or_fail(sql::read::change_counter(&sqlite::SqliteTx::new(&conn)))?;
        let (changes, _) = watch::channel(counter);
        let keys = Arc::new(KeyCache::default());
        let writer = Writer::start(conn, keys.clone(), changes.clone())?;
        let sink_writer = writer.clone();
        let audit = AuditQueue::start(Box::new(move |batch, move_pending| {
            sink_writer
                .call_blocking(Touches::Log, move |c| {
                    sqlite::audit::insert(c, &batch, move_pending)
                })
                .map_err(store_only)
        }))?;
        Ok(Self {
            mode: WriteMode::Commit,
            inner: Arc::new(Inner {
                master_key,
                backend: Backend::Sqlite(SqliteBackend::new(writer, path)),
                keys,
                changes,
                audit,
            }),
        })
    }

    /// Opens the PostgreSQL database at `url` (`postgres://` or `postgresql://`, libpq's URL form:
    /// `postgres://user[:password]@host[:port]/database[?options]`), applies its migrations (once,
    /// under an advisory lock, whatever the number of nodes opening it together) and starts the
    /// audit flusher. No TLS: the database must be reached over loopback or a private network.
    ///
    /// Synchronous, like [`Store::open_sqlite`]: it blocks the calling thread while it connects
    /// and migrates, and may be called from inside a tokio runtime (the store runs its calls on a
    /// runtime of its own, two threads named `livecert-pg`).
    ///
    /// Errors: `Unavailable` if the URL does not parse, the server cannot be reached or refuses
    /// the connection, or the schema is newer than this binary; `Failed` if a migration does not
    /// apply.
    pub fn open_postgres(url: &str, master_key: Arc<MasterKey>) -> Result<Self, StoreError> {
        let keys = Arc::new(KeyCache::default());
        let (backend, changes) = PgBackend::open(url, keys.clone(), unix_now())?;
        let audit = AuditQueue::start(backend.audit_sink())?;
        Ok(Self {
            mode: WriteMode::Commit,
            inner: Arc::new(Inner {
                master_key,
                backend: Backend::Postgres(backend),
                keys,
                changes,
                audit,
            }),
        })
    }

    /// The rate-limit buckets and nonces shared by every API node on this store: `Some` on
    /// PostgreSQL, `None` on SQLite, where one `serve` process holds the database (a lock in the
    /// data directory) and keeps them in memory.
    pub fn shared_limits(&self) -> Option<SharedLimits> {
        match &self.inner.backend {
            Backend::Sqlite(_) => None,
            Backend::Postgres(backend) => Some(SharedLimits {
                backend: backend.clone(),
            }),
        }
    }

    /// Whether the store has no account at all (a fresh database: a missing master key may be
    /// generated, since nothing sealed with another key can exist).
    pub async fn is_empty(&self) -> Result<bool, StoreError> {
        read_call!(self, |tx| { sql::read::no_accounts(tx).await })
    }

    /// Checks that this store's [`MasterKey`] is the one its secrets were sealed with, by opening
    /// one sealed secret: an AccessKey secret if there is any, else a certificate private key if
    /// there is any; a store with neither passes. For `serve`, to refuse to start with the wrong
    /// master key rather than fail every signature check.
    ///
    /// Errors: `Secret` if that secret does not open with this master key.
    pub async fn verify_master_key(&self) -> Result<(), StoreError> {
        let sealed = read_call!(self, |tx| { sql::read::any_sealed_secret(tx).await })?;
        let (label, what, sealed) = match sealed {
            None => return Ok(()),
            Some(sql::read::SealedSecret::AccessKey { id, sealed }) => {
                (AAD_ACCESS_KEY_SECRET, format!("AccessKey {id}"), sealed)
            }
            Some(sql::read::SealedSecret::CertKey { cert_id, sealed }) => {
                (AAD_CERT_KEY, format!("private key of {cert_id}"), sealed)
            }
        };
        self.inner
            .master_key
            .open(label, &sealed)
            .map(drop)
            .map_err(|e| {
                StoreError::Secret(format!(
                    "{what} does not open with this master key (is it the key this database was \
                     created with?): {e}"
                ))
            })
    }

    /// SQLite: copies the WAL into the database file and truncates it (`PRAGMA
    /// wal_checkpoint(TRUNCATE)`), between write groups. SQLite checkpoints on its own; this is for
    /// operators (before a file copy backup) and tests. PostgreSQL: nothing to do (the server
    /// checkpoints on its own, and a file copy is not how it is backed up: use `pg_dump`).
    ///
    /// Errors: `Unavailable` if readers kept the checkpoint from finishing (retry).
    pub async fn checkpoint(&self) -> Result<(), StoreError> {
        match &self.inner.backend {
            Backend::Sqlite(s) => s.writer.checkpoint().await,
            Backend::Postgres(_) => Ok(()),
        }
    }

    fn seal(&self, label: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, StoreError> {
        self.inner
            .master_key
            .seal(label, plaintext)
            .map_err(|e| StoreError::Failed(format!("sealing a secret: {e}")))
    }
}

/// Unix seconds now (only for the `applied` time of migrations; operations take `now`).
fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
