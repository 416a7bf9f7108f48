//! livecert-store: persistence behind one [`Store`] API.
//!
//! PLACEHOLDER CONTRACT — being implemented; the public items below are the interface the binary
//! codes against.
//!
//! SQLite is the embedded default (WAL, `synchronous=FULL`, migrations on open, concurrent writes
//! group-committed: calls share one transaction, each inside its own SAVEPOINT, and no call is
//! answered before its group's commit returns). PostgreSQL comes later behind the same API.
//! Private keys and AccessKey secrets are sealed with the [`MasterKey`] before they reach the
//! database and opened only on the way out.

use std::path::Path;
use std::sync::Arc;

use livecert_core::cert::{CertFacts, CheckedUpload};
use livecert_core::error::ApiError;
use livecert_core::names::{CertName, DomainName};
use livecert_core::secret::{MasterKey, Secret};

/// An account id: a 16-digit number (spec/access.md).
pub type AccountId = u64;

/// A store failure. The binary maps `Unavailable` to `ServiceUnavailable` and `Failed` to the
/// operation's storage code (`CertStorage.failed`, `DeleteFailed`) or `InternalError`.
#[derive(Debug, thiserror::Error)]
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

/// A stored domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainRecord {
    pub account_id: AccountId,
    pub name: DomainName,
    pub status: DomainStatus,
    pub live_domain_type: String,
    pub region: String,
    pub scope: String,
    pub check_url: Option<String>,
    pub top_level_domain: Option<String>,
    pub resource_group_id: Option<String>,
    pub description: String,
    /// HTTPS on (`SSLProtocol`).
    pub https: bool,
    /// The bound library record.
    pub cert_id: Option<u64>,
    pub locked: bool,
    pub safe_mode: bool,
    pub protected_mode: bool,
    pub https_required: bool,
    /// Operator-set functions (for FunctionMutex).
    pub functions: Vec<String>,
    /// Unix seconds.
    pub created: i64,
    /// Unix seconds.
    pub modified: i64,
}

/// A new domain (AddLiveDomain).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDomain {
    pub name: DomainName,
    pub live_domain_type: String,
    pub region: String,
    pub scope: String,
    pub check_url: Option<String>,
    pub top_level_domain: Option<String>,
    pub resource_group_id: Option<String>,
}

/// A certificate library record (never its private key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertRecord {
    pub cert_id: u64,
    pub account_id: AccountId,
    pub cert_name: CertName,
    /// `upload` or `free`.
    pub cert_type: String,
    /// `success`, `applying`, `failed`, `revoked`.
    pub status: String,
    /// The normalised chain PEM.
    pub chain_pem: String,
    pub facts: CertFacts,
    /// Unix seconds.
    pub created: i64,
    /// Unix seconds: the record's last change (`LastTime`).
    pub last_changed: i64,
}

/// An AccessKey with its opened secret, for signature checks.
#[derive(Debug, Clone)]
pub struct AccessKeyEntry {
    pub access_key_id: String,
    pub account_id: AccountId,
    pub secret: Secret,
    pub active: bool,
    pub account_active: bool,
}

/// Root credentials created on first start.
#[derive(Debug, Clone)]
pub struct NewCredentials {
    pub account_id: AccountId,
    pub access_key_id: String,
    pub access_key_secret: Secret,
}

/// What an upload did (rows 25, 28, 29).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadOutcome {
    /// Row 29 (or 25 + bind): the domain is bound to `cert_id`, HTTPS on.
    Bound { cert_id: u64, cert_name: CertName },
    /// Row 28: the record is committed, the domain's binding is unchanged.
    StoredNotEffective { cert_id: u64, cert_name: CertName },
}

/// What turning HTTPS off did (rows 13, 15).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffOutcome {
    /// Row 13.
    AlreadyOff,
    /// Row 15.
    TurnedOff,
}

/// The store.
#[derive(Clone)]
pub struct Store {
    _master_key: Arc<MasterKey>,
}

impl Store {
    /// Opens (creating if needed) the SQLite database at `path` and applies migrations.
    pub fn open_sqlite(path: &Path, master_key: Arc<MasterKey>) -> Result<Self, StoreError> {
        let _ = path;
        Ok(Self {
            _master_key: master_key,
        })
    }
}

#[allow(clippy::unused_async)]
impl Store {
    /// On an empty store (no accounts): creates one account with root credentials (a generated
    /// `LTAI…` AccessKeyId of 24 characters and a 30-character secret) and returns them; otherwise `None`.
    pub async fn bootstrap(&self, now: i64) -> Result<Option<NewCredentials>, StoreError> {
        let _ = now;
        Err(StoreError::Unavailable("not implemented".into()))
    }

    /// Creates an account (random 16-digit id, `active`).
    pub async fn create_account(&self, now: i64) -> Result<AccountId, StoreError> {
        let _ = now;
        Err(StoreError::Unavailable("not implemented".into()))
    }

    /// Imports a root AccessKey with a given id and secret for an account (tests use `testid`/`testsecret`).
    /// Replaces the secret if the id exists for the same account.
    pub async fn import_access_key(
        &self,
        account_id: AccountId,
        access_key_id: &str,
        secret: &Secret,
        now: i64,
    ) -> Result<(), StoreError> {
        let _ = (account_id, access_key_id, secret, now);
        Err(StoreError::Unavailable("not implemented".into()))
    }

    /// Looks an AccessKey up, with its opened secret.
    pub async fn access_key(
        &self,
        access_key_id: &str,
    ) -> Result<Option<AccessKeyEntry>, StoreError> {
        let _ = access_key_id;
        Err(StoreError::Unavailable("not implemented".into()))
    }

    /// AddLiveDomain. Refused with `DomainAlreadyExist` if any account has the name.
    pub async fn add_domain(
        &self,
        account_id: AccountId,
        domain: NewDomain,
        now: i64,
    ) -> Result<(), WriteError> {
        let _ = (account_id, domain, now);
        Err(StoreError::Unavailable("not implemented".into()).into())
    }

    /// The domain if it exists and belongs to `account_id`.
    pub async fn domain(
        &self,
        account_id: AccountId,
        name: &DomainName,
    ) -> Result<Option<DomainRecord>, StoreError> {
        let _ = (account_id, name);
        Err(StoreError::Unavailable("not implemented".into()))
    }

    /// Rows 13–15: HTTPS off, certificate binding set to none (the record stays).
    pub async fn set_https_off(
        &self,
        account_id: AccountId,
        name: &DomainName,
        now: i64,
    ) -> Result<OffOutcome, WriteError> {
        let _ = (account_id, name, now);
        Err(StoreError::Unavailable("not implemented".into()).into())
    }

    /// Rows 22–29 for `CertType=upload` in one transaction.
    pub async fn set_upload(
        &self,
        account_id: AccountId,
        domain: &DomainName,
        cert_name: CertName,
        force_set: bool,
        upload: CheckedUpload,
        now: i64,
    ) -> Result<UploadOutcome, WriteError> {
        let _ = (account_id, domain, cert_name, force_set, upload, now);
        Err(StoreError::Unavailable("not implemented".into()).into())
    }

    /// A record of the account's library by id.
    pub async fn certificate(
        &self,
        account_id: AccountId,
        cert_id: u64,
    ) -> Result<Option<CertRecord>, StoreError> {
        let _ = (account_id, cert_id);
        Err(StoreError::Unavailable("not implemented".into()))
    }

    /// A record of the account's library by name.
    pub async fn certificate_by_name(
        &self,
        account_id: AccountId,
        name: &CertName,
    ) -> Result<Option<CertRecord>, StoreError> {
        let _ = (account_id, name);
        Err(StoreError::Unavailable("not implemented".into()))
    }

    /// The account's whole library (`None`) or the records bound to the given domains, ordered by CertId.
    pub async fn list_certificates(
        &self,
        account_id: AccountId,
        domains: Option<&[DomainName]>,
    ) -> Result<Vec<CertRecord>, StoreError> {
        let _ = (account_id, domains);
        Err(StoreError::Unavailable("not implemented".into()))
    }

    /// The opened private key PEM of a record (for the edge; never returned by the API).
    pub async fn certificate_private_key(
        &self,
        cert_id: u64,
    ) -> Result<Option<Secret>, StoreError> {
        let _ = cert_id;
        Err(StoreError::Unavailable("not implemented".into()))
    }
}
