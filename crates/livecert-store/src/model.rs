//! The store's model: the records it keeps and returns (domains, certificate records, AccessKeys,
//! principals, the edge's view) and the outcomes of its writes. Row mapping is `crate::sql::read`;
//! these types belong to neither backend.

use std::sync::Arc;

use livecert_core::cert::CertFacts;
use livecert_core::names::{CertName, DomainName};
use livecert_core::secret::{MasterKey, Secret, AAD_CERT_KEY};

use crate::StoreError;

/// An account id: a 16-digit number (spec/access.md).
pub type AccountId = u64;

/// A RAM user id: from one global sequence, never reused.
pub type UserId = u64;

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
    /// Where its certificate came from.
    pub cert_type: RecordType,
    /// Its status.
    pub status: CertStatus,
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

    /// The type named `name` (as [`RecordType::as_str`] writes it), if any.
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Upload, Self::Free]
            .into_iter()
            .find(|t| t.as_str() == name)
    }
}

/// A record's status (spec/certificates.md §6; the `Status` of DescribeLiveCertificateDetail).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertStatus {
    /// Usable: it may be bound.
    Success,
    /// A free certificate being issued.
    Applying,
    /// A free certificate whose issuance failed.
    Failed,
    /// Revoked by the operator: never bound, never served.
    Revoked,
}

impl CertStatus {
    /// Every status, in the order operators read them.
    pub const ALL: [Self; 4] = [Self::Success, Self::Applying, Self::Failed, Self::Revoked];

    /// The stored and wire name: `success`, `applying`, `failed`, `revoked`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Applying => "applying",
            Self::Failed => "failed",
            Self::Revoked => "revoked",
        }
    }

    /// The status named `name` (as [`CertStatus::as_str`] writes it), if any.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// What [`Store::delete_certificate`](crate::Store::delete_certificate) did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertDeletion {
    /// The record is gone.
    Deleted,
    /// Nothing deleted: these domains are bound to it (unbind or rebind them first).
    Bound(Vec<DomainName>),
    /// There is no record with that CertId.
    NotFound,
}

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
/// ([`Store::edge_snapshot`](crate::Store::edge_snapshot)).
#[derive(Debug, Clone)]
pub struct EdgeSnapshot {
    /// The change counter this snapshot reflects: ask [`Store::edge_changes_since`](crate::Store::edge_changes_since) for what
    /// changed after it.
    pub change_counter: u64,
    /// Every domain of every account, whatever its status, HTTPS on or off, by name.
    pub bindings: Vec<EdgeBinding>,
}

/// What changed for the edge after one value of the change counter
/// ([`Store::edge_changes_since`](crate::Store::edge_changes_since)): the domains whose last edge-relevant change came after it, each
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
/// key for the edge ([`Store::cert_key_opener`](crate::Store::cert_key_opener)), which opens a record's key on its first
/// handshake. Cheap to clone; `Debug` is redacted.
#[derive(Clone)]
pub struct CertKeyOpener {
    master_key: Arc<MasterKey>,
}

impl CertKeyOpener {
    /// An opener with `master_key` (the store's: [`Store::cert_key_opener`](crate::Store::cert_key_opener)).
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

/// Whether a nonce was new ([`SharedLimits::record_nonce`](crate::SharedLimits::record_nonce)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceCheck {
    /// Not seen inside its window (or only an entry past its forget time, now taken over): it is
    /// recorded.
    Fresh,
    /// Seen before, and the entry is still inside its window: a replay (`SignatureNonceUsed`).
    Used,
}

/// What one [`SharedLimits::prune`](crate::SharedLimits::prune) deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Nonces over a minute past their forget time.
    pub nonces: u64,
    /// Rate-limit buckets idle for over a minute.
    pub buckets: u64,
}
