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
//! Code map:
//! - this file: the public types and [`Store`], whose methods seal secrets and hand each call to
//!   its backend;
//! - `access.rs`: accounts, RAM users, AccessKeys, policies and temporary credentials (the
//!   operator's side of spec/access.md), with their naming rules;
//! - `audit.rs`: the audit log — the bounded queue behind [`Store::record_audit`], the flusher
//!   thread that writes it in batches through the backend's sink, and the listing;
//! - `rules.rs`: the refusals both backends apply inside a write (rows 7–12, operator mistakes);
//! - `sqlite/`: the SQLite backend — `mod.rs` (connections, read pool, error mapping),
//!   `schema.rs` and `migrations/` (the schema), `group_commit.rs` (the writer thread), `write.rs`
//!   (write calls, with the decision-table rules re-checked inside the transaction), `read.rs`
//!   (queries and row mapping), `ram.rs` (users, keys, policies, STS), `audit.rs` (audit rows);
//! - `postgres/`: the PostgreSQL backend, the same files (`mod.rs`: its runtime, pool, write
//!   transactions and error mapping; no group commit), `limits.rs`: the rate-limit buckets and
//!   nonces every API node shares ([`SharedLimits`]), and `listen.rs`: the change feed of other
//!   nodes' commits ([`Store::listen_changes`]);
//! - `key_cache.rs`: the in-memory AccessKey cache;
//! - `random.rs`: generated ids and secrets.
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
//! - DryRun (spec/operations.md): the `*_dry_run` methods run the very same write — with SQLite
//!   inside the writer's transaction and in the call's own savepoint, with PostgreSQL in the call's
//!   own transaction — which is then rolled back whatever happened. They answer what the real call
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
mod audit;
mod key_cache;
pub mod migrate;
mod postgres;
mod random;
mod rules;
mod sqlite;

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use livecert_core::action::Action;
use livecert_core::cert::{CertFacts, CheckedUpload};
use livecert_core::error::ApiError;
use livecert_core::names::{CertName, DomainName};
use livecert_core::ops::set_live_domain_certificate::CertRef;
use livecert_core::ratelimit::{Quota, Verdict};
use livecert_core::secret::{MasterKey, Secret, AAD_ACCESS_KEY_SECRET, AAD_CERT_KEY};
use tokio::sync::watch;

pub use crate::access::{
    AccessKeyInfo, AccountInfo, PolicyInfo, StsCredentials, UserInfo, MAX_POLICY_DOCUMENT_BYTES,
    STS_MAX_DURATION_SECS, STS_MIN_DURATION_SECS,
};
pub use crate::audit::{
    AuditEntry, AuditFilter, CallAudit, BATCH_SIZE, FLUSH_INTERVAL, QUEUE_PER_ACCOUNT,
};

pub use crate::postgres::{redact_url, KEYS_NOTIFY_CHANNEL, NOTIFY_CHANNEL};

use crate::audit::AuditQueue;
use crate::key_cache::KeyCache;
use crate::postgres::PgBackend;
use crate::sqlite::group_commit::Writer;
use crate::sqlite::{read, sql_error, write, SqliteBackend};

/// An account id: a 16-digit number (spec/access.md).
pub type AccountId = u64;

/// A RAM user id: from one global sequence, never reused.
pub type UserId = u64;

/// A store failure. The binary maps `Unavailable` to `ServiceUnavailable` and `Failed` to the
/// operation's storage code (`CertStorage.failed`, `DeleteFailed`) or `InternalError`. The text is
/// for the log, never for the client.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or opened (busy beyond the timeout, I/O error on open).
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A statement or commit failed (constraint, trigger abort, disk full, corruption).
    #[error("store write failed: {0}")]
    Failed(String),
    /// A sealed secret could not be opened (wrong master key).
    #[error("secret could not be opened: {0}")]
    Secret(String),
}

/// The outcome of a call that the decision table may refuse inside the transaction.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Refused by a rule (nothing was written).
    #[error("{0}")]
    Refused(ApiError),
    /// The store failed (nothing was written).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A domain's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomainStatus {
    /// Serving.
    Online,
    /// Stopped by StopLiveDomain.
    Offline,
    /// Being configured.
    Configuring,
}

impl DomainStatus {
    /// The stored and wire name: `online`, `offline`, `configuring`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Online => "online",
            Self::Offline => "offline",
            Self::Configuring => "configuring",
        }
    }

    /// Inverse of [`DomainStatus::as_str`] (exact, lower case).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "online" => Some(Self::Online),
            "offline" => Some(Self::Offline),
            "configuring" => Some(Self::Configuring),
            _ => None,
        }
    }
}

/// A stored domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainRecord {
    /// The owning account.
    pub account_id: AccountId,
    /// The name, lower case.
    pub name: DomainName,
    /// Online, offline or configuring.
    pub status: DomainStatus,
    /// `LiveDomainType` as given to AddLiveDomain (`liveVideo`, `liveEdge`).
    pub live_domain_type: String,
    /// `Region` as given to AddLiveDomain.
    pub region: String,
    /// `Scope` as given to AddLiveDomain (`domestic`, `overseas`, `global`).
    pub scope: String,
    /// `CheckUrl`, if given.
    pub check_url: Option<String>,
    /// `TopLevelDomain`, if given.
    pub top_level_domain: Option<String>,
    /// `ResourceGroupId`, if given.
    pub resource_group_id: Option<String>,
    /// `Description` (empty unless an operator set one).
    pub description: String,
    /// HTTPS on (`SSLProtocol`).
    pub https: bool,
    /// The bound library record (`Some` exactly when `https`).
    pub cert_id: Option<u64>,
    /// Locked by the operator (row 8).
    pub locked: bool,
    /// Safe mode (row 9).
    pub safe_mode: bool,
    /// Protected mode (row 10).
    pub protected_mode: bool,
    /// HTTPS may not be turned off (row 12).
    pub https_required: bool,
    /// Operator-set functions (for FunctionMutex).
    pub functions: Vec<String>,
    /// Unix seconds.
    pub created: i64,
    /// Unix seconds.
    pub modified: i64,
    /// Where the edge forwards the domain's requests, `http://host:port` (`livecert admin domain
    /// set --origin`); `None`: the edge's default origin, if any.
    pub origin: Option<String>,
}

impl DomainRecord {
    /// What the domain rules of [`livecert_core::ops::domain_rules`] read of this domain.
    pub fn state(&self) -> livecert_core::ops::domain_rules::DomainState<'_> {
        livecert_core::ops::domain_rules::DomainState {
            name: &self.name,
            status: self.status.as_str(),
            online: self.status == DomainStatus::Online,
            locked: self.locked,
            safe_mode: self.safe_mode,
            protected_mode: self.protected_mode,
            https_required: self.https_required,
        }
    }
}

/// A new domain (AddLiveDomain).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDomain {
    /// The name.
    pub name: DomainName,
    /// `LiveDomainType`.
    pub live_domain_type: String,
    /// `Region`.
    pub region: String,
    /// `Scope`.
    pub scope: String,
    /// `CheckUrl`.
    pub check_url: Option<String>,
    /// `TopLevelDomain`.
    pub top_level_domain: Option<String>,
    /// `ResourceGroupId`.
    pub resource_group_id: Option<String>,
}

/// The operator flags of a domain (`livecert admin`; rows 8–10, 12, 16).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DomainFlags {
    /// Locked: every state change is refused with `IllegalOperation`.
    pub locked: bool,
    /// Safe mode: refused with `DomainInSafeMode`.
    pub safe_mode: bool,
    /// Protected mode: refused with `DomainInProtectedMode`.
    pub protected_mode: bool,
    /// HTTPS may not be turned off (`Certificate.NotPermittedOff`).
    pub https_required: bool,
    /// Functions configured on the domain (checked against the FunctionMutex table).
    pub functions: Vec<String>,
}

/// A certificate library record (never its private key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertRecord {
    /// `CertId`, from the global sequence.
    pub cert_id: u64,
    /// The owning account.
    pub account_id: AccountId,
    /// `CertName`, unique in the account's library.
    pub cert_name: CertName,
    /// `upload` or `free`.
    pub cert_type: String,
    /// `success`, `applying`, `failed`, `revoked`.
    pub status: String,
    /// The normalised chain PEM.
    pub chain_pem: String,
    /// The leaf's facts.
    pub facts: CertFacts,
    /// Unix seconds.
    pub created: i64,
    /// Unix seconds: the record's last change (`LastTime`).
    pub last_changed: i64,
}

/// A record's type (spec/certificates.md §6): where its certificate came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordType {
    /// Uploaded with `CertType=upload`.
    Upload,
    /// Issued by livecert's issuer for `CertType=free`.
    Free,
}

impl RecordType {
    /// The stored and wire name (`CertType` in DescribeLiveDomainCertificateInfo): `upload`,
    /// `free`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Upload => "upload",
            Self::Free => "free",
        }
    }
}

/// What [`Store::delete_certificate`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertDeletion {
    /// The record is gone.
    Deleted,
    /// Nothing deleted: these domains are bound to it (unbind or rebind them first).
    Bound(Vec<DomainName>),
    /// There is no record with that CertId.
    NotFound,
}

/// The record statuses [`Store::set_certificate_status`] accepts.
pub const CERT_STATUSES: &[&str] = &["success", "applying", "failed", "revoked"];

/// An AccessKey with its opened secret, for signature checks and authorization.
#[derive(Debug, Clone)]
pub struct AccessKeyEntry {
    /// The AccessKeyId.
    pub access_key_id: String,
    /// The account it acts for.
    pub account_id: AccountId,
    /// The opened secret.
    pub secret: Secret,
    /// The key's status is `active`.
    pub active: bool,
    /// The account's status is `active` (not suspended).
    pub account_active: bool,
    /// Who the key acts as: the account itself (root credentials) or one of its RAM users.
    pub principal: Principal,
    /// The documents of the policies attached to the user when the key was looked up, by policy
    /// name; empty for root credentials (which bypass policies on their own account).
    pub policies: Vec<String>,
    /// For temporary credentials: expiry, token hash and session policy; `None` for long-term
    /// keys.
    pub sts: Option<StsInfo>,
}

/// Who an AccessKey acts as (spec/access.md, Principals).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The account itself: every permission on its own resources.
    Root,
    /// A RAM user of the account: only what its policies grant.
    User {
        /// The user's id (never reused).
        user_id: UserId,
        /// The user's name as created.
        user_name: String,
    },
}

impl Principal {
    /// `root`, or the user's name (as the audit log records it; no user may be named `root`).
    pub fn name(&self) -> &str {
        match self {
            Self::Root => "root",
            Self::User { user_name, .. } => user_name,
        }
    }
}

/// What makes an AccessKey temporary credentials (`livecert admin sts issue`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StsInfo {
    /// Unix seconds after which the credentials are refused.
    pub expires_at: i64,
    /// SHA-256 of the SecurityToken (the token itself is not stored): compare the request's
    /// `SecurityToken` hashed, in constant time.
    pub token_sha256: [u8; 32],
    /// The policy the credentials were issued with, narrowing the user's own; `None`: the user's
    /// policies alone.
    pub session_policy: Option<String>,
}

/// Root credentials created on first start.
#[derive(Debug, Clone)]
pub struct NewCredentials {
    /// The new account.
    pub account_id: AccountId,
    /// `LTAI` + 20 letters and digits.
    pub access_key_id: String,
    /// 30 letters and digits; shown once, stored sealed.
    pub access_key_secret: Secret,
}

/// Everything the edge serves, as of one value of the change counter
/// ([`Store::edge_snapshot`]).
#[derive(Debug, Clone)]
pub struct EdgeSnapshot {
    /// The change counter this snapshot reflects: ask [`Store::edge_changes_since`] for what
    /// changed after it.
    pub change_counter: u64,
    /// Every domain of every account, whatever its status, HTTPS on or off, by name.
    pub bindings: Vec<EdgeBinding>,
}

/// What changed for the edge after one value of the change counter
/// ([`Store::edge_changes_since`]): the domains whose last edge-relevant change came after it, each
/// as it is now.
#[derive(Debug, Clone)]
pub struct EdgeDelta {
    /// The change counter this delta brings the edge to (the counter when it was read). Below the
    /// counter asked for: the database was replaced or restored, so reload the whole
    /// [`EdgeSnapshot`].
    pub change_counter: u64,
    /// Domains added or changed (certificate, the bound record's content or status, HTTPS switch,
    /// status, origin, `https_required`), each as it is now, by name.
    pub changed: Vec<EdgeBinding>,
    /// Domains deleted, by name.
    pub removed: Vec<DomainName>,
}

/// One domain as the edge sees it: its status and settings, and its record if HTTPS is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeBinding {
    /// The domain (a wildcard domain is `*.parent`).
    pub domain: DomainName,
    /// Its status: the edge serves only `Online` domains.
    pub domain_status: DomainStatus,
    /// The domain's origin, `http://host:port`; `None`: the edge's default.
    pub origin: Option<String>,
    /// HTTPS is required (`https_required`): the edge's plain-HTTP port redirects to HTTPS.
    pub https_required: bool,
    /// The bound record when HTTPS is on; `None`: HTTPS off.
    pub record: Option<EdgeRecord>,
}

/// A record as the edge loads it: the chain as DER and the private key still sealed (spec/edge.md:
/// the map holds "the DER chain and the still-encrypted key"; [`CertKeyOpener`] opens it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeRecord {
    /// The record's CertId.
    pub cert_id: u64,
    /// The record's status: the edge does not serve `revoked` records.
    pub status: String,
    /// The leaf's notAfter, Unix seconds.
    pub not_after: i64,
    /// The DER of each certificate of the chain, leaf first. Empty when the stored chain does not
    /// decode (altered by hand; logged): such a record cannot be served.
    pub chain_der: Vec<Vec<u8>>,
    /// The private key PEM, sealed with the master key.
    pub key_sealed: SealedKey,
}

/// A private key PEM sealed with the master key (AES-256-GCM, label
/// [`AAD_CERT_KEY`]): `nonce ‖ ciphertext ‖ tag`, as stored. `Debug` shows only its length.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedKey(Vec<u8>);

impl SealedKey {
    /// Wraps sealed bytes as read from the store.
    pub fn new(sealed: Vec<u8>) -> Self {
        Self(sealed)
    }

    /// The sealed bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for SealedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SealedKey(<{} bytes>)", self.0.len())
    }
}

/// Opens the [`SealedKey`]s of [`EdgeRecord`]s, and nothing else: a handle on the store's master
/// key for the edge ([`Store::cert_key_opener`]), which opens a record's key on its first
/// handshake. Cheap to clone; `Debug` is redacted.
#[derive(Clone)]
pub struct CertKeyOpener {
    master_key: Arc<MasterKey>,
}

impl CertKeyOpener {
    /// An opener with `master_key` (the store's: [`Store::cert_key_opener`]).
    pub fn new(master_key: Arc<MasterKey>) -> Self {
        Self { master_key }
    }

    /// The private key PEM of a record.
    ///
    /// Errors: `Secret` if it does not open with this store's master key (another key, or bytes
    /// altered).
    pub fn open(&self, sealed: &SealedKey) -> Result<Secret, StoreError> {
        self.master_key
            .open(AAD_CERT_KEY, sealed.as_bytes())
            .map_err(|e| StoreError::Secret(format!("a certificate private key: {e}")))
    }
}

impl std::fmt::Debug for CertKeyOpener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CertKeyOpener(<redacted>)")
    }
}

/// What an upload did (rows 25, 28, 29).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadOutcome {
    /// Row 29 (or 25 + bind): the domain is bound to `cert_id`, HTTPS on.
    Bound {
        /// The record bound.
        cert_id: u64,
        /// Its name.
        cert_name: CertName,
    },
    /// Row 28: the record is committed, the domain's binding is unchanged.
    StoredNotEffective {
        /// The record stored.
        cert_id: u64,
        /// Its name.
        cert_name: CertName,
    },
}

/// What turning HTTPS off did (rows 13, 15).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffOutcome {
    /// Row 13.
    AlreadyOff,
    /// Row 15.
    TurnedOff,
}

/// Whether a nonce was new ([`SharedLimits::record_nonce`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceCheck {
    /// Not seen inside its window (or only an entry past its forget time, now taken over): it is
    /// recorded.
    Fresh,
    /// Seen before, and the entry is still inside its window: a replay (`SignatureNonceUsed`).
    Used,
}

/// What one [`SharedLimits::prune`] deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Nonces over a minute past their forget time.
    pub nonces: u64,
    /// Rate-limit buckets idle for over a minute.
    pub buckets: u64,
}

/// The rate-limit buckets and nonces that every API node on one PostgreSQL store shares
/// (spec/access.md, "Rate limits"; spec/protocol.md §5), from [`Store::shared_limits`]. Cheap to
/// clone.
///
/// Each check is one statement, atomic across nodes (see `postgres/limits.rs`), on connections
/// of its own that do not wait for the WAL flush (`synchronous_commit = off`): a row is seen by
/// every node at its commit, and a crash of the database server may forget its last fraction of
/// a second. Times are the calling node's clock, passed in; how far nodes' clocks may differ is
/// in docs/decisions.md.
#[derive(Clone)]
pub struct SharedLimits {
    backend: PgBackend,
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

/// The store: cheap to clone (one shared backend). Every method is async and must run inside a
/// tokio runtime. With SQLite, writes are group-committed on a dedicated thread and reads run on
/// tokio's blocking pool; with PostgreSQL, calls run on the store's own small runtime over a
/// connection pool. Either way the store works beside other processes on the same database
/// (`livecert admin`, more `serve` and `edge` nodes on PostgreSQL).
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
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

/// Where a store keeps its data.
pub(crate) enum Backend {
    /// SQLite: the writer thread and the read pool.
    Sqlite(SqliteBackend),
    /// PostgreSQL: the pool and the runtime it runs on.
    Postgres(PgBackend),
}

/// What a write call touches beyond its own answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Touches {
    /// Domains or certificates only.
    Library,
    /// Accounts, AccessKeys, RAM users or policies: the key cache is cleared after the commit.
    Keys,
    /// The audit log only: nothing that is cached.
    Log,
}

/// Runs a write call on the store's backend: `$sqlite` is a closure over a SQLite connection (run
/// by the writer in its savepoint), `$pg` a closure over a PostgreSQL connection returning a boxed
/// future (run in the call's own transaction). Inside an API call's [`CallAudit`] scope, the first
/// write that is not a DryRun also inserts the call's audit entry in the same transaction, with
/// the outcome `outcome:` names for the result (`OK` when not given), and marks it written once
/// committed.
macro_rules! write_call {
    ($store:expr, $touches:expr, $dry_run:expr, $sqlite:expr, $pg:expr $(,)?) => {
        write_call!($store, $touches, $dry_run, $sqlite, $pg, outcome: |_| "OK")
    };
    ($store:expr, $touches:expr, $dry_run:expr, $sqlite:expr, $pg:expr, outcome: $outcome:expr $(,)?) => {{
        let dry_run: bool = $dry_run;
        let audit = $crate::audit::CallAudit::for_write(dry_run);
        let entry = audit.as_ref().map(|(_, entry)| entry.clone());
        let result = match &$store.inner.backend {
            $crate::Backend::Sqlite(s) => {
                let work = $crate::sqlite::audit::with_entry($sqlite, entry, $outcome);
                s.writer.call_with($touches, dry_run, work).await
            }
            $crate::Backend::Postgres(p) => {
                let work = $crate::postgres::audit::with_entry($pg, entry, $outcome);
                p.write($touches, dry_run, work).await
            }
        };
        if let (Some((call, _)), Ok(_)) = (&audit, &result) {
            call.mark_written();
            $store.inner.audit.note_pending();
        }
        result
    }};
}

/// Runs a read on the store's backend, as [`write_call!`] does a write.
macro_rules! read_call {
    ($store:expr, $sqlite:expr, $pg:expr $(,)?) => {
        match &$store.inner.backend {
            $crate::Backend::Sqlite(s) => s.read($sqlite).await,
            $crate::Backend::Postgres(p) => p.read($pg).await,
        }
    };
}

pub(crate) use read_call;
pub(crate) use write_call;

impl Store {
    /// Opens (creating if needed) the SQLite database at `path` and applies migrations. The
    /// parent directory must exist. Starts the writer thread and the audit flusher.
    ///
    /// Errors: `Unavailable` if the file cannot be opened, WAL cannot be turned on, or the schema
    /// is newer than this binary; `Failed` if a migration does not apply.
    pub fn open_sqlite(path: &Path, master_key: Arc<MasterKey>) -> Result<Self, StoreError> {
        let mut conn = sqlite::open_writer(path)?;
        sqlite::schema::migrate(&mut conn, unix_now())?;
        sqlite::sync_parent_dir(path);
        let counter = read::change_counter(&conn).map_err(sql_error)?;
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

    /// On an empty store (no accounts): creates one account with root credentials (a generated
    /// `LTAI…` AccessKeyId of 24 characters and a 30-character secret) and returns them; otherwise `None`.
    pub async fn bootstrap(&self, now: i64) -> Result<Option<NewCredentials>, StoreError> {
        let access_key_id = random::access_key_id()?;
        let secret = random::access_key_secret()?;
        let sealed = self.seal(AAD_ACCESS_KEY_SECRET, &secret)?;
        let key_id = access_key_id.clone();
        let account = write_call!(
            self,
            Touches::Keys,
            false,
            move |c| write::bootstrap(c, &key_id, &sealed, now),
            move |c| Box::pin(
                async move { postgres::write::bootstrap(c, &key_id, &sealed, now).await }
            ),
        )
        .map_err(store_only)?;
        Ok(account.map(|account_id| NewCredentials {
            account_id,
            access_key_id,
            access_key_secret: Secret::new(secret.to_vec()),
        }))
    }

    /// Creates an account (random 16-digit id, `active`).
    pub async fn create_account(&self, now: i64) -> Result<AccountId, StoreError> {
        write_call!(
            self,
            Touches::Keys,
            false,
            move |c| write::create_account(c, now),
            move |c| Box::pin(async move { postgres::write::create_account(c, now).await }),
        )
        .map_err(store_only)
    }

    /// Imports a root AccessKey with a given id and secret for an account (tests use `testid`/`testsecret`).
    /// Replaces the secret if the id exists as root credentials of the same account; the key's
    /// status is kept (a new key is `active`).
    ///
    /// Errors: `Failed` if the id is not 1–128 printable ASCII characters or begins with `STS.`,
    /// belongs to another account or to a user of this one, or the account does not exist.
    pub async fn import_access_key(
        &self,
        account_id: AccountId,
        access_key_id: &str,
        secret: &Secret,
        now: i64,
    ) -> Result<(), StoreError> {
        self.import_root_access_key(account_id, access_key_id, secret, now)
            .await
    }

    /// Looks an AccessKey up, with its opened secret, its principal, the documents of the
    /// policies attached to its user and, for temporary credentials, their expiry, token hash and
    /// session policy. An expired temporary credential is still returned (the caller compares
    /// `sts.expires_at` with its clock and answers accordingly). Served from an in-memory cache
    /// that a write through this store clears and that trusts an entry at most one second (so a
    /// change by another process — a key, a user, a policy, an attachment — is seen within a
    /// second).
    ///
    /// Errors: `Secret` if the stored secret does not open with this master key.
    pub async fn access_key(
        &self,
        access_key_id: &str,
    ) -> Result<Option<AccessKeyEntry>, StoreError> {
        if let Some(entry) = self.inner.keys.get(access_key_id) {
            return Ok(Some(entry));
        }
        let generation = self.inner.keys.generation();
        let loaded = Instant::now();
        let id = access_key_id.to_owned();
        let row = read_call!(
            self,
            move |c| read::access_key(c, &id).map_err(sql_error),
            move |c| Box::pin(async move { postgres::read::access_key(c, &id).await }),
        )?;
        let Some(row) = row else {
            return Ok(None);
        };
        let secret = self
            .inner
            .master_key
            .open(AAD_ACCESS_KEY_SECRET, &row.secret_sealed)
            .map_err(|e| StoreError::Secret(format!("AccessKey {access_key_id}: {e}")))?;
        let entry = AccessKeyEntry {
            access_key_id: access_key_id.to_owned(),
            account_id: row.account_id,
            secret,
            active: row.active,
            account_active: row.account_active,
            principal: row.principal,
            policies: row.policies,
            sts: row.sts,
        };
        self.inner.keys.put(generation, loaded, entry.clone());
        Ok(Some(entry))
    }

    /// AddLiveDomain: the domain is `online`, HTTPS off. Refused with `DomainAlreadyExist` if any
    /// account has the name.
    pub async fn add_domain(
        &self,
        account_id: AccountId,
        domain: NewDomain,
        now: i64,
    ) -> Result<(), WriteError> {
        self.add_domain_call(account_id, domain, now, false).await
    }

    /// DryRun of [`Store::add_domain`]: the same checks and write, rolled back; answers what
    /// `add_domain` would have answered (`Ok(())`, or `DomainAlreadyExist`, or a store failure),
    /// nothing written, change counter unmoved.
    pub async fn add_domain_dry_run(
        &self,
        account_id: AccountId,
        domain: NewDomain,
        now: i64,
    ) -> Result<(), WriteError> {
        self.add_domain_call(account_id, domain, now, true).await
    }

    async fn add_domain_call(
        &self,
        account_id: AccountId,
        domain: NewDomain,
        now: i64,
        dry_run: bool,
    ) -> Result<(), WriteError> {
        write_call!(
            self,
            Touches::Library,
            dry_run,
            move |c| write::add_domain(c, account_id, &domain, now),
            move |c| Box::pin(async move {
                postgres::write::add_domain(c, account_id, &domain, now).await
            }),
        )
    }

    /// The domain if it exists and belongs to `account_id` (a foreign domain is `None`, as if it
    /// did not exist).
    pub async fn domain(
        &self,
        account_id: AccountId,
        name: &DomainName,
    ) -> Result<Option<DomainRecord>, StoreError> {
        let name = name.clone();
        read_call!(
            self,
            move |c| read::domain(c, account_id, name.as_str()).map_err(sql_error),
            move |c| Box::pin(
                async move { postgres::read::domain(c, account_id, name.as_str()).await }
            ),
        )
    }

    /// Rows 7–15: HTTPS off, certificate binding set to none (the record stays).
    ///
    /// Rows 7–12 are re-checked in the transaction and refused with their codes
    /// (`IllegalOperationDomain`, `IllegalOperation`, `DomainInSafeMode`,
    /// `DomainInProtectedMode`, `InvalidDomain.notOnline`, `Certificate.NotPermittedOff`).
    pub async fn set_https_off(
        &self,
        account_id: AccountId,
        name: &DomainName,
        now: i64,
    ) -> Result<OffOutcome, WriteError> {
        self.set_https_off_call(account_id, name, now, false).await
    }

    /// DryRun of [`Store::set_https_off`]: the same checks and write, rolled back; answers what
    /// `set_https_off` would have answered (`TurnedOff`, `AlreadyOff` or the refusal of rows
    /// 7–12), nothing written, change counter unmoved.
    pub async fn set_https_off_dry_run(
        &self,
        account_id: AccountId,
        name: &DomainName,
        now: i64,
    ) -> Result<OffOutcome, WriteError> {
        self.set_https_off_call(account_id, name, now, true).await
    }

    async fn set_https_off_call(
        &self,
        account_id: AccountId,
        name: &DomainName,
        now: i64,
        dry_run: bool,
    ) -> Result<OffOutcome, WriteError> {
        let name = name.clone();
        write_call!(
            self,
            Touches::Library,
            dry_run,
            move |c| write::set_https_off(c, account_id, &name, now),
            move |c| Box::pin(async move {
                postgres::write::set_https_off(c, account_id, &name, now).await
            }),
        )
    }

    /// Rows 22–29 for `CertType=upload` in one transaction.
    ///
    /// Re-checks rows 7–11 on the domain, then applies
    /// [`decide_upload`](livecert_core::ops::set_live_domain_certificate::decide_upload) to the
    /// library as the transaction sees it: refusals of rows 23, 24 and 26 are
    /// `WriteError::Refused` with nothing written; row 27 is `WriteError::Store` with nothing
    /// written; row 28 commits the record and answers `StoredNotEffective`; row 29 commits the
    /// record and the binding and answers `Bound`. Creating takes a new CertId; replacing keeps
    /// it and sets `last_changed = now`; identical content changes nothing in the library.
    pub async fn set_upload(
        &self,
        account_id: AccountId,
        domain: &DomainName,
        cert_name: CertName,
        force_set: bool,
        upload: CheckedUpload,
        now: i64,
    ) -> Result<UploadOutcome, WriteError> {
        let kind = RecordType::Upload;
        self.set_upload_call(
            account_id, domain, cert_name, force_set, upload, kind, now, false,
        )
        .await
    }

    /// DryRun of [`Store::set_upload`]: the same checks and writes, rolled back; answers what
    /// `set_upload` would have answered — `Bound`, `StoredNotEffective` (row 28, though nothing
    /// is stored), the refusal of rows 7–11, 23, 24 or 26, or row 27's store failure — with
    /// nothing written, no CertId taken from the sequence and the change counter unmoved.
    ///
    /// When the real call would have created a record, the outcome's `cert_id` is 0 (no CertId
    /// is reserved by a dry run); when it would have reused or replaced a record, it is that
    /// record's CertId.
    pub async fn set_upload_dry_run(
        &self,
        account_id: AccountId,
        domain: &DomainName,
        cert_name: CertName,
        force_set: bool,
        upload: CheckedUpload,
        now: i64,
    ) -> Result<UploadOutcome, WriteError> {
        let kind = RecordType::Upload;
        self.set_upload_call(
            account_id, domain, cert_name, force_set, upload, kind, now, true,
        )
        .await
    }

    /// Row 37 for `CertType=free` once the issuer has issued at once (the built-in test CA):
    /// exactly [`Store::set_upload`] — rows 7–11 re-checked, rows 22–29 applied the same way —
    /// except that a created or replaced record is of type `free` (status `success`). `issued` is
    /// what the issuer returned, checked by `check_upload`.
    pub async fn set_free(
        &self,
        account_id: AccountId,
        domain: &DomainName,
        cert_name: CertName,
        force_set: bool,
        issued: CheckedUpload,
        now: i64,
    ) -> Result<UploadOutcome, WriteError> {
        let kind = RecordType::Free;
        self.set_upload_call(
            account_id, domain, cert_name, force_set, issued, kind, now, false,
        )
        .await
    }

    /// DryRun of [`Store::set_free`], as [`Store::set_upload_dry_run`] is of
    /// [`Store::set_upload`]: nothing written, no CertId taken, change counter unmoved.
    pub async fn set_free_dry_run(
        &self,
        account_id: AccountId,
        domain: &DomainName,
        cert_name: CertName,
        force_set: bool,
        issued: CheckedUpload,
        now: i64,
    ) -> Result<UploadOutcome, WriteError> {
        let kind = RecordType::Free;
        self.set_upload_call(
            account_id, domain, cert_name, force_set, issued, kind, now, true,
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn set_upload_call(
        &self,
        account_id: AccountId,
        domain: &DomainName,
        cert_name: CertName,
        force_set: bool,
        upload: CheckedUpload,
        record_type: RecordType,
        now: i64,
        dry_run: bool,
    ) -> Result<UploadOutcome, WriteError> {
        let key_sealed = self.seal(AAD_CERT_KEY, upload.private_key_pem.expose())?;
        let domain = domain.clone();
        let (outcome, created) = write_call!(
            self,
            Touches::Library,
            dry_run,
            move |c| write::set_upload(
                c,
                account_id,
                &domain,
                &cert_name,
                force_set,
                &upload,
                &key_sealed,
                record_type,
                now,
            ),
            move |c| Box::pin(async move {
                postgres::write::set_upload(
                    c,
                    account_id,
                    &domain,
                    &cert_name,
                    force_set,
                    &upload,
                    &key_sealed,
                    record_type,
                    now,
                )
                .await
            }),
            outcome: |(outcome, _): &(UploadOutcome, bool)| match outcome {
                UploadOutcome::Bound { .. } => "OK",
                // Row 28: the record is committed, the call answers this code.
                UploadOutcome::StoredNotEffective { .. } => {
                    livecert_core::error::ErrorCode::CertificateSettedNotEffect.code()
                }
            },
        )?;
        Ok(if dry_run && created {
            match outcome {
                UploadOutcome::Bound { cert_name, .. } => UploadOutcome::Bound {
                    cert_id: 0,
                    cert_name,
                },
                UploadOutcome::StoredNotEffective { cert_name, .. } => {
                    UploadOutcome::StoredNotEffective {
                        cert_id: 0,
                        cert_name,
                    }
                }
            }
        } else {
            outcome
        })
    }

    /// Binds a record of the account's library to a domain, HTTPS on (rows 7–11 and 31–35 for
    /// `CertType=cas`). `cert` names the record by CertName, CertId or both (a bare `u64` is a
    /// CertId); it is resolved inside the transaction, so that a concurrent replacement or
    /// status change cannot slip between the lookup and the binding.
    ///
    /// Refusals: `IllegalOperationDomain` … `InvalidDomain.notOnline` (rows 7–11),
    /// `Certificate.NotFind` (not in the account's library), `SetDomainCertificate.ParameterError`
    /// (CertName and CertId name different records), `Certificate.Expired` (notAfter before
    /// `now`), `Certificate.StatusError` with the cas message (status not `success`),
    /// `Certificate.SettedNotEffect` (the record does not cover the domain) — core's
    /// `decide_cas`.
    pub async fn bind_certificate(
        &self,
        account_id: AccountId,
        domain: &DomainName,
        cert: impl Into<CertRef>,
        now: i64,
    ) -> Result<(), WriteError> {
        self.bind_certificate_call(account_id, domain, cert.into(), now, false)
            .await
    }

    /// DryRun of [`Store::bind_certificate`]: the same checks and write, rolled back; answers what
    /// `bind_certificate` would have answered (`Ok(())` or its refusal), nothing written, change
    /// counter unmoved.
    pub async fn bind_certificate_dry_run(
        &self,
        account_id: AccountId,
        domain: &DomainName,
        cert: impl Into<CertRef>,
        now: i64,
    ) -> Result<(), WriteError> {
        self.bind_certificate_call(account_id, domain, cert.into(), now, true)
            .await
    }

    async fn bind_certificate_call(
        &self,
        account_id: AccountId,
        domain: &DomainName,
        cert: CertRef,
        now: i64,
        dry_run: bool,
    ) -> Result<(), WriteError> {
        let domain = domain.clone();
        write_call!(
            self,
            Touches::Library,
            dry_run,
            move |c| write::bind_certificate(c, account_id, &domain, &cert, now),
            move |c| Box::pin(async move {
                postgres::write::bind_certificate(c, account_id, &domain, &cert, now).await
            }),
        )
    }

    /// A record of the account's library by id.
    pub async fn certificate(
        &self,
        account_id: AccountId,
        cert_id: u64,
    ) -> Result<Option<CertRecord>, StoreError> {
        read_call!(
            self,
            move |c| read::certificate(c, account_id, cert_id).map_err(sql_error),
            move |c| Box::pin(
                async move { postgres::read::certificate(c, account_id, cert_id).await }
            ),
        )
    }

    /// A record of the account's library by name.
    pub async fn certificate_by_name(
        &self,
        account_id: AccountId,
        name: &CertName,
    ) -> Result<Option<CertRecord>, StoreError> {
        let name = name.clone();
        read_call!(
            self,
            move |c| read::certificate_by_name(c, account_id, name.as_str()).map_err(sql_error),
            move |c| Box::pin(async move {
                postgres::read::certificate_by_name(c, account_id, name.as_str()).await
            }),
        )
    }

    /// The account's whole library (`None`) or the records bound to the given domains, ordered by
    /// CertId, each once. Domains that are unknown, foreign or not bound contribute nothing (the
    /// binary refuses unknown and foreign names before calling this).
    pub async fn list_certificates(
        &self,
        account_id: AccountId,
        domains: Option<&[DomainName]>,
    ) -> Result<Vec<CertRecord>, StoreError> {
        let domains = domains.map(<[DomainName]>::to_vec);
        read_call!(
            self,
            move |c| {
                match &domains {
                    None => read::library(c, account_id),
                    Some(d) => read::library_bound_to(c, account_id, d),
                }
                .map_err(sql_error)
            },
            move |c| Box::pin(async move {
                match &domains {
                    None => postgres::read::library(c, account_id).await,
                    Some(d) => postgres::read::library_bound_to(c, account_id, d).await,
                }
            }),
        )
    }

    /// The opened private key PEM of a record (for the edge; never returned by the API).
    ///
    /// Errors: `Secret` if it does not open with this master key.
    pub async fn certificate_private_key(
        &self,
        cert_id: u64,
    ) -> Result<Option<Secret>, StoreError> {
        let sealed = read_call!(
            self,
            move |c| read::private_key_sealed(c, cert_id).map_err(sql_error),
            move |c| Box::pin(async move { postgres::read::private_key_sealed(c, cert_id).await }),
        )?;
        sealed
            .map(|s| {
                self.inner
                    .master_key
                    .open(AAD_CERT_KEY, &s)
                    .map_err(|e| StoreError::Secret(format!("private key of {cert_id}: {e}")))
            })
            .transpose()
    }

    /// Everything the edge serves: every domain of every account (any status, HTTPS on or off)
    /// with its record if HTTPS is on — the chain as DER, the private key still sealed (open it
    /// with [`Store::cert_key_opener`]) — read in one transaction together with the change
    /// counter.
    pub async fn edge_snapshot(&self) -> Result<EdgeSnapshot, StoreError> {
        let (change_counter, bindings) =
            read_call!(self, |c| read::edge_snapshot(c).map_err(sql_error), |c| {
                Box::pin(async move { postgres::read::edge_snapshot(c).await })
            },)?;
        Ok(EdgeSnapshot {
            change_counter,
            bindings,
        })
    }

    /// What changed for the edge after the change counter was `counter` (an earlier
    /// [`EdgeSnapshot::change_counter`] or [`EdgeDelta::change_counter`]): every domain whose last
    /// edge-relevant change came later, as in [`Store::edge_snapshot`], and the names of the
    /// domains deleted since, read in one transaction together with the counter. A change to a
    /// record's content or status lists every domain bound to it. Applying the delta to the state
    /// as of `counter` gives the state as of [`EdgeDelta::change_counter`].
    pub async fn edge_changes_since(&self, counter: u64) -> Result<EdgeDelta, StoreError> {
        let (change_counter, changed, removed) = read_call!(
            self,
            move |c| read::edge_changes_since(c, counter).map_err(sql_error),
            move |c| Box::pin(async move { postgres::read::edge_changes_since(c, counter).await }),
        )?;
        Ok(EdgeDelta {
            change_counter,
            changed,
            removed,
        })
    }

    /// The handle the edge opens the records' sealed private keys with ([`EdgeRecord::key_sealed`]).
    pub fn cert_key_opener(&self) -> CertKeyOpener {
        CertKeyOpener {
            master_key: Arc::clone(&self.inner.master_key),
        }
    }

    /// Every account id, oldest first.
    pub async fn account_ids(&self) -> Result<Vec<AccountId>, StoreError> {
        read_call!(self, |c| read::account_ids(c).map_err(sql_error), |c| {
            Box::pin(async move { postgres::read::account_ids(c).await })
        },)
    }

    /// Whether the store has no account at all (a fresh database: a missing master key may be
    /// generated, since nothing sealed with another key can exist).
    pub async fn is_empty(&self) -> Result<bool, StoreError> {
        read_call!(self, |c| read::no_accounts(c).map_err(sql_error), |c| {
            Box::pin(async move { postgres::read::no_accounts(c).await })
        },)
    }

    /// Checks that this store's [`MasterKey`] is the one its secrets were sealed with, by opening
    /// one sealed secret: an AccessKey secret if there is any, else a certificate private key if
    /// there is any; a store with neither passes. For `serve`, to refuse to start with the wrong
    /// master key rather than fail every signature check.
    ///
    /// Errors: `Secret` if that secret does not open with this master key.
    pub async fn verify_master_key(&self) -> Result<(), StoreError> {
        let sealed = read_call!(
            self,
            |c| read::any_sealed_secret(c).map_err(sql_error),
            |c| Box::pin(async move { postgres::read::any_sealed_secret(c).await }),
        )?;
        let (label, what, sealed) = match sealed {
            None => return Ok(()),
            Some(read::SealedSecret::AccessKey { id, sealed }) => {
                (AAD_ACCESS_KEY_SECRET, format!("AccessKey {id}"), sealed)
            }
            Some(read::SealedSecret::CertKey { cert_id, sealed }) => {
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

    /// The change counter: it only increases, and every commit that adds or removes a domain,
    /// changes a domain's certificate, HTTPS switch, status, origin or `https_required`, or changes
    /// the content or status of a record bound to a domain, increases it (by at least one). Writes
    /// that change nothing the edge serves leave it alone. The edge learns of this process's
    /// commits from [`Store::subscribe_changes`], of other processes' from
    /// [`Store::listen_changes`] on PostgreSQL, and polls this for them (`livecert admin`, a `serve`
    /// beside a `livecert edge`, other nodes: every 50 ms on SQLite, as a slow safety net on
    /// PostgreSQL), then asks [`Store::edge_changes_since`].
    pub async fn change_counter(&self) -> Result<u64, StoreError> {
        read_call!(self, |c| read::change_counter(c).map_err(sql_error), |c| {
            Box::pin(async move { postgres::read::change_counter(c).await })
        },)
    }

    /// The change counter as published by this store after each commit that moved it, before the
    /// calls of that commit are answered; starts at the counter when the store was opened. Dry
    /// runs and failed writes publish nothing. Only this process's writes are seen here: another
    /// process's show in [`Store::change_counter`] and, with PostgreSQL, in
    /// [`Store::listen_changes`].
    pub fn subscribe_changes(&self) -> watch::Receiver<u64> {
        self.inner.changes.subscribe()
    }

    /// PostgreSQL: the change feed of every node's commits, for edges and API caches on other
    /// nodes. Started on the first call (one connection of its own, outside the pool, that
    /// `LISTEN`s on [`NOTIFY_CHANNEL`] and [`KEYS_NOTIFY_CHANNEL`]) and shared by later ones; it
    /// runs until the store is dropped, whether or not a receiver is left. The receiver gets each
    /// change counter a commit notifies; on every (re)connect the feed reads the counter and
    /// publishes it, so a notification lost while it was disconnected cannot leave a follower
    /// stale. The feed also clears the AccessKey cache when another node changes keys, users or
    /// policies, and on every (re)connect, so [`Store::access_key`] sees such changes at once
    /// rather than after its one-second trust (which stays the bound while the feed is down).
    /// It reconnects by itself (backoff from 100 ms to 5 s), and logs a lost connection once.
    ///
    /// SQLite: `None` — one `serve` writes, and other processes poll [`Store::change_counter`].
    pub fn listen_changes(&self) -> Option<watch::Receiver<u64>> {
        match &self.inner.backend {
            Backend::Sqlite(_) => None,
            Backend::Postgres(p) => Some(p.listen()),
        }
    }

    /// The domains bound to a record (any account: CertIds are global), by name.
    pub async fn domains_bound_to(&self, cert_id: u64) -> Result<Vec<DomainName>, StoreError> {
        read_call!(
            self,
            move |c| read::domains_bound_to(c, cert_id).map_err(sql_error),
            move |c| Box::pin(async move { postgres::read::domains_bound_to(c, cert_id).await }),
        )
    }

    /// Every domain of the account, newest `created` first, then by name
    /// (DescribeLiveUserDomains filters and pages this list).
    pub async fn domains(&self, account_id: AccountId) -> Result<Vec<DomainRecord>, StoreError> {
        read_call!(
            self,
            move |c| read::domains_of(c, account_id).map_err(sql_error),
            move |c| Box::pin(async move { postgres::read::domains_of(c, account_id).await }),
        )
    }

    /// DeleteLiveDomain: removes the domain and its binding; the record stays in the library.
    ///
    /// Refusals: `IllegalOperationDomain` (unknown or foreign), `IllegalOperation`,
    /// `DomainInSafeMode`, `DomainInProtectedMode` (rows 8–10 apply to every state change).
    pub async fn delete_domain(
        &self,
        account_id: AccountId,
        name: &DomainName,
    ) -> Result<(), WriteError> {
        self.delete_domain_call(account_id, name, false).await
    }

    /// DryRun of [`Store::delete_domain`]: the same checks and delete, rolled back; answers what
    /// `delete_domain` would have answered (`Ok(())` or its refusal), nothing written, change
    /// counter unmoved.
    pub async fn delete_domain_dry_run(
        &self,
        account_id: AccountId,
        name: &DomainName,
    ) -> Result<(), WriteError> {
        self.delete_domain_call(account_id, name, true).await
    }

    async fn delete_domain_call(
        &self,
        account_id: AccountId,
        name: &DomainName,
        dry_run: bool,
    ) -> Result<(), WriteError> {
        let name = name.clone();
        write_call!(
            self,
            Touches::Library,
            dry_run,
            move |c| write::delete_domain(c, account_id, &name),
            move |c| Box::pin(
                async move { postgres::write::delete_domain(c, account_id, &name).await }
            ),
        )
    }

    /// StartLiveDomain (`Online`) / StopLiveDomain (`Offline`). Returns whether the status
    /// changed (`false`: it already was `status`; nothing is written).
    ///
    /// Refusals: as [`Store::delete_domain`].
    pub async fn set_domain_status(
        &self,
        account_id: AccountId,
        name: &DomainName,
        status: DomainStatus,
        now: i64,
    ) -> Result<bool, WriteError> {
        self.set_domain_status_call(account_id, name, status, now, false)
            .await
    }

    /// DryRun of [`Store::set_domain_status`]: the same checks and write, rolled back; answers
    /// what `set_domain_status` would have answered (whether the status would change, or its
    /// refusal), nothing written, change counter unmoved.
    pub async fn set_domain_status_dry_run(
        &self,
        account_id: AccountId,
        name: &DomainName,
        status: DomainStatus,
        now: i64,
    ) -> Result<bool, WriteError> {
        self.set_domain_status_call(account_id, name, status, now, true)
            .await
    }

    async fn set_domain_status_call(
        &self,
        account_id: AccountId,
        name: &DomainName,
        status: DomainStatus,
        now: i64,
        dry_run: bool,
    ) -> Result<bool, WriteError> {
        let name = name.clone();
        write_call!(
            self,
            Touches::Library,
            dry_run,
            move |c| write::set_domain_status(c, account_id, &name, status, now),
            move |c| Box::pin(async move {
                postgres::write::set_domain_status(c, account_id, &name, status, now).await
            }),
        )
    }

    /// Operator action: sets a domain's flags, whoever owns it (`livecert admin`).
    ///
    /// Refusals: `IllegalOperationDomain` if there is no such domain.
    pub async fn set_domain_flags(
        &self,
        name: &DomainName,
        flags: DomainFlags,
        now: i64,
    ) -> Result<(), WriteError> {
        let name = name.clone();
        write_call!(
            self,
            Touches::Library,
            false,
            move |c| write::set_domain_flags(c, &name, &flags, now),
            move |c| Box::pin(async move {
                postgres::write::set_domain_flags(c, &name, &flags, now).await
            }),
        )
    }

    /// Operator action: sets (or, with `None`, clears) a domain's origin, whoever owns it
    /// (`livecert admin domain set --origin`). The caller checks the form (`http://host:port`);
    /// the edge sees the change like any other (the change counter moves).
    ///
    /// Refusals: `IllegalOperationDomain` if there is no such domain.
    pub async fn set_domain_origin(
        &self,
        name: &DomainName,
        origin: Option<String>,
        now: i64,
    ) -> Result<(), WriteError> {
        let name = name.clone();
        write_call!(
            self,
            Touches::Library,
            false,
            move |c| write::set_domain_origin(c, &name, origin.as_deref(), now),
            move |c| Box::pin(async move {
                postgres::write::set_domain_origin(c, &name, origin.as_deref(), now).await
            }),
        )
    }

    /// Operator action: suspends (`false`) or reactivates (`true`) an account.
    ///
    /// Errors: `Failed` if there is no such account.
    pub async fn set_account_active(
        &self,
        account_id: AccountId,
        active: bool,
    ) -> Result<(), StoreError> {
        write_call!(
            self,
            Touches::Keys,
            false,
            move |c| write::set_account_active(c, account_id, active),
            move |c| Box::pin(async move {
                postgres::write::set_account_active(c, account_id, active).await
            }),
        )
        .map_err(store_only)
    }

    /// Operator action: deactivates (`false`) or reactivates (`true`) an AccessKey.
    ///
    /// Errors: `Failed` if there is no such key.
    pub async fn set_access_key_active(
        &self,
        access_key_id: &str,
        active: bool,
    ) -> Result<(), StoreError> {
        let id = access_key_id.to_owned();
        write_call!(
            self,
            Touches::Keys,
            false,
            move |c| write::set_access_key_active(c, &id, active),
            move |c| Box::pin(async move {
                postgres::write::set_access_key_active(c, &id, active).await
            }),
        )
        .map_err(store_only)
    }

    /// Operator action: sets a record's status, one of [`CERT_STATUSES`] (`revoked`: the edge
    /// stops serving it, its bindings stay), and its `last_changed` to `now`.
    ///
    /// Errors: `Failed` for another status or an unknown CertId.
    pub async fn set_certificate_status(
        &self,
        cert_id: u64,
        status: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        if !CERT_STATUSES.contains(&status) {
            return Err(StoreError::Failed(format!(
                "unknown certificate status {status:?}; use one of {}",
                CERT_STATUSES.join(", ")
            )));
        }
        let status = status.to_owned();
        write_call!(
            self,
            Touches::Library,
            false,
            move |c| write::set_certificate_status(c, cert_id, &status, now),
            move |c| Box::pin(async move {
                postgres::write::set_certificate_status(c, cert_id, &status, now).await
            }),
        )
        .map_err(store_only)
    }

    /// Operator read: a domain whoever owns it (`livecert admin domain show|set`).
    pub async fn domain_any(&self, name: &DomainName) -> Result<Option<DomainRecord>, StoreError> {
        let name = name.clone();
        read_call!(
            self,
            move |c| read::domain_any(c, name.as_str()).map_err(sql_error),
            move |c| Box::pin(async move { postgres::read::domain_any(c, name.as_str()).await }),
        )
    }

    /// Operator read: a record whoever owns it (`livecert admin cert …`).
    pub async fn certificate_any(&self, cert_id: u64) -> Result<Option<CertRecord>, StoreError> {
        read_call!(
            self,
            move |c| read::certificate_any(c, cert_id).map_err(sql_error),
            move |c| Box::pin(async move { postgres::read::certificate_any(c, cert_id).await }),
        )
    }

    /// Operator action: deletes a record from its account's library, unless a domain is bound to
    /// it; the check and the delete are one transaction. A deleted CertId is never reused.
    pub async fn delete_certificate(&self, cert_id: u64) -> Result<CertDeletion, StoreError> {
        write_call!(
            self,
            Touches::Library,
            false,
            move |c| write::delete_certificate(c, cert_id),
            move |c| Box::pin(async move { postgres::write::delete_certificate(c, cert_id).await }),
        )
        .map_err(store_only)
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

/// For calls that the rules never refuse: a refusal would be a bug, reported as `Failed`.
fn store_only(e: WriteError) -> StoreError {
    match e {
        WriteError::Store(e) => e,
        WriteError::Refused(api) => StoreError::Failed(format!("unexpected refusal: {api}")),
    }
}

/// Unix seconds now (only for the `applied` time of migrations; operations take `now`).
fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
