//! The ACME issuer's store operations (issue 13): the request that reserves a free record and
//! queues its order, the leases that let exactly one node work on an order at a time, the
//! challenges every edge node answers, an order's end, the renewals that fall due, the ACME
//! account's sealed credentials, and the reads of Describe and `livecert admin acme status`.

use std::fmt;

use livecert_core::cert::CheckedUpload;
use livecert_core::names::{CertName, DomainName};
use livecert_core::secret::{Secret, AAD_ACME_ACCOUNT, AAD_CERT_KEY};

use crate::call::{read_call, write_call, Touches};
use crate::error::store_only;
use crate::sql;
use crate::{AccountId, Store, StoreError, WriteError};

/// One issuance or renewal of a free record by the ACME issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcmeOrder {
    /// The order's id in the store.
    pub id: u64,
    /// The account whose record it fills.
    pub account_id: AccountId,
    /// The record it fills (CertId).
    pub cert_id: u64,
    /// The record's name (empty when the record was deleted).
    pub cert_name: CertName,
    /// The one name the certificate is issued for.
    pub domain: DomainName,
    /// Issuance or renewal.
    pub purpose: OrderPurpose,
    /// Pending, valid or failed.
    pub state: OrderState,
    /// Attempts started so far (each lease taken counts one).
    pub attempts: u32,
    /// When a pending order is due (Unix seconds).
    pub next_attempt: i64,
    /// The node working on it, if any.
    pub lease_owner: Option<String>,
    /// Until when (Unix seconds) that node holds it.
    pub lease_until: Option<i64>,
    /// The ACME order URL of the latest attempt (RFC 8555 §7.4), once known.
    pub order_url: Option<String>,
    /// The challenge type of the latest attempt.
    pub challenge: Option<ChallengeKind>,
    /// The latest attempt's problem, if it failed.
    pub problem: Option<AcmeProblem>,
    /// Unix seconds.
    pub created: i64,
    /// Unix seconds: the last change.
    pub updated: i64,
}

/// Why an order exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderPurpose {
    /// A `CertType=free` request: the record is bound to its domain once issued.
    Issue,
    /// A renewal: the record's content is replaced; its bindings stay.
    Renew,
}

impl OrderPurpose {
    /// The stored name: `issue`, `renew`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Issue => "issue",
            Self::Renew => "renew",
        }
    }

    /// The purpose named `name`, if any.
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Issue, Self::Renew]
            .into_iter()
            .find(|p| p.as_str() == name)
    }
}

/// Where an order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderState {
    /// Waiting for its next attempt, or being worked on by the lease holder.
    Pending,
    /// Ended with a certificate.
    Valid,
    /// Ended without one.
    Failed,
}

impl OrderState {
    /// The stored name: `pending`, `valid`, `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Valid => "valid",
            Self::Failed => "failed",
        }
    }

    /// The state named `name`, if any.
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Pending, Self::Valid, Self::Failed]
            .into_iter()
            .find(|s| s.as_str() == name)
    }
}

/// An ACME challenge type livecert's edge answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChallengeKind {
    /// HTTP-01 (RFC 8555 §8.3): the key authorization at
    /// `http://<domain>/.well-known/acme-challenge/<token>`.
    Http01,
    /// TLS-ALPN-01 (RFC 8737): a self-signed certificate carrying the key authorization's
    /// SHA-256, presented for the domain's SNI under ALPN `acme-tls/1`.
    TlsAlpn01,
}

impl ChallengeKind {
    /// The ACME name: `http-01`, `tls-alpn-01`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http01 => "http-01",
            Self::TlsAlpn01 => "tls-alpn-01",
        }
    }

    /// The type named `name`, if any.
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Http01, Self::TlsAlpn01]
            .into_iter()
            .find(|k| k.as_str() == name)
    }
}

/// An ACME problem document (RFC 8555 §6.7, RFC 7807), as kept with an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcmeProblem {
    /// The problem type, e.g. `urn:ietf:params:acme:error:unauthorized` (or livecert's own
    /// `livecert:…` for a failure that is not the CA's answer).
    pub problem_type: String,
    /// The CA's explanation.
    pub detail: String,
    /// The identifier it concerns, e.g. `dns:live.example.com`, when the CA names one.
    pub identifier: Option<String>,
}

impl fmt::Display for AcmeProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.problem_type, self.detail)?;
        if let Some(identifier) = &self.identifier {
            write!(f, " ({identifier})")?;
        }
        Ok(())
    }
}

/// A challenge in flight, answered by every edge node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcmeChallenge {
    /// The challenge's token (base64url, RFC 8555 §8.1).
    pub token: String,
    /// The domain being validated, lower case.
    pub domain: String,
    /// HTTP-01 or TLS-ALPN-01.
    pub kind: ChallengeKind,
    /// `<token>.<account key thumbprint>` (RFC 8555 §8.1): public, not a key.
    pub key_authorization: String,
    /// The order it belongs to.
    pub order_id: u64,
    /// When the edge stops answering it (Unix seconds).
    pub expires: i64,
}

/// What a `CertType=free` request to the ACME issuer did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FreeRequested {
    /// The record is reserved and its order queued.
    Ordered {
        /// The order.
        order_id: u64,
        /// The record it fills.
        cert_id: u64,
        /// The record's name.
        cert_name: CertName,
    },
    /// An order for the domain (or the named record) was already in flight: nothing new.
    AlreadyOrdered {
        /// The record that order fills.
        cert_id: u64,
        /// Its name.
        cert_name: CertName,
    },
}

/// How a valid order ended in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderCompletion {
    /// Issued and bound to its domain, HTTPS on.
    Bound,
    /// Issued, stored, not bound: the domain no longer allows the change (the reason).
    StoredNotBound(String),
    /// Renewed in place: every domain bound to the record is served the new certificate.
    Renewed,
    /// The record was deleted while the order ran: nothing stored, the order failed.
    RecordGone,
    /// The operator revoked the record while the order ran: nothing stored (a revoked record is
    /// never brought back by a new certificate), the order failed.
    RecordRevoked,
}

impl Store {
    /// Rows 7–11 and 22–26 of `CertType=free` when the issuer is ACME: reserves the record named
    /// `cert_name` (a new one in status `applying`, or, with `force_set`, the existing one) and
    /// queues its order, due at `now`, in one transaction. The domain's binding changes only when
    /// the order is valid. `name_given`: the caller sent `cert_name` (else it was generated); a
    /// call while the domain's order runs is answered by that order when it names no CertName or
    /// that order's.
    ///
    /// Refusals: rows 7–11 on the domain; `Certificate.Duplicated` (row 23);
    /// `SetDomainCertificate.ParameterError` (row 26, or another CertName while the domain's
    /// order runs) — core's `decide_free_request` and `free_already_ordered`.
    pub async fn request_free(
        &self,
        account_id: AccountId,
        domain: &DomainName,
        cert_name: CertName,
        name_given: bool,
        force_set: bool,
        now: i64,
    ) -> Result<FreeRequested, WriteError> {
        let domain = domain.clone();
        write_call!(self, Touches::Library, |tx| {
            sql::acme::request_free(
                tx, account_id, &domain, &cert_name, name_given, force_set, now,
            )
            .await
        })
    }

    /// Takes the lease of up to `limit` due orders for the node `owner` until `lease_until`
    /// (Unix seconds), at most `per_account` per account held by this node; each counts an
    /// attempt. An order whose lease ran out (its node died) is taken over.
    pub async fn claim_acme_orders(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
        limit: usize,
        per_account: usize,
    ) -> Result<Vec<AcmeOrder>, StoreError> {
        let owner = owner.to_owned();
        write_call!(self, Touches::Log, |tx| {
            sql::acme::claim_orders(tx, &owner, now, lease_until, limit, per_account).await
        })
        .map_err(store_only)
    }

    /// Extends `owner`'s lease on order `order_id` to `lease_until`, noting the ACME order URL
    /// and the challenge type when given. `false`: the lease is lost (another node holds the
    /// order) and this node must stop.
    #[allow(clippy::too_many_arguments)]
    pub async fn renew_acme_lease(
        &self,
        order_id: u64,
        owner: &str,
        lease_until: i64,
        order_url: Option<&str>,
        challenge: Option<ChallengeKind>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let (owner, order_url) = (owner.to_owned(), order_url.map(str::to_owned));
        write_call!(self, Touches::Log, |tx| {
            sql::acme::renew_lease(
                tx,
                order_id,
                &owner,
                lease_until,
                order_url.as_deref(),
                challenge,
                now,
            )
            .await
        })
        .map_err(store_only)
    }

    /// Gives back every lease the node `owner` holds (it stops cleanly): those orders are due
    /// again at once, for any node. Returns how many.
    pub async fn release_acme_leases(&self, owner: &str, now: i64) -> Result<u64, StoreError> {
        let owner = owner.to_owned();
        write_call!(self, Touches::Log, |tx| {
            sql::acme::release_leases(tx, &owner, now).await
        })
        .map_err(store_only)
    }

    /// Stores a challenge for every edge node to answer.
    pub async fn put_acme_challenge(&self, challenge: AcmeChallenge) -> Result<(), StoreError> {
        write_call!(self, Touches::Log, |tx| {
            sql::acme::put_challenge(tx, &challenge).await
        })
        .map_err(store_only)
    }

    /// The challenges in flight at `now`, at most `limit`.
    pub async fn acme_challenges(
        &self,
        now: i64,
        limit: usize,
    ) -> Result<Vec<AcmeChallenge>, StoreError> {
        read_call!(self, |tx| { sql::acme::challenges(tx, now, limit).await })
    }

    /// Ends order `order_id`, held by `owner`, with the certificate `issued`: the record is filled
    /// in place (status `success`, its key sealed here) and, for an issuance, bound to its domain;
    /// its next renewal is `renew_at`. One transaction, with its audit entry.
    ///
    /// Errors: `Failed` when `owner` no longer holds the order; a store failure.
    pub async fn complete_acme_order(
        &self,
        order_id: u64,
        owner: &str,
        issued: CheckedUpload,
        renew_at: i64,
        now: i64,
    ) -> Result<OrderCompletion, StoreError> {
        let key_sealed = self.seal(AAD_CERT_KEY, issued.private_key_pem.expose())?;
        let owner = owner.to_owned();
        write_call!(self, Touches::Library, |tx| {
            sql::acme::complete_order(tx, order_id, &owner, &issued, &key_sealed, renew_at, now)
                .await
        })
        .map_err(store_only)
    }

    /// An attempt of order `order_id`, held by `owner`, that did not end in a certificate:
    /// retried at `retry_at`, or (`None`) failed for good — a record still `applying` becomes
    /// `failed`. One transaction, with its audit entry.
    ///
    /// Errors: `Failed` when `owner` no longer holds the order; a store failure.
    pub async fn fail_acme_order(
        &self,
        order_id: u64,
        owner: &str,
        problem: AcmeProblem,
        retry_at: Option<i64>,
        now: i64,
    ) -> Result<(), StoreError> {
        let owner = owner.to_owned();
        write_call!(self, Touches::Library, |tx| {
            sql::acme::fail_order(tx, order_id, &owner, &problem, retry_at, now).await
        })
        .map_err(store_only)
    }

    /// Queues a renewal for each bound free record whose renewal time has come (at most `limit`);
    /// returns how many were queued.
    pub async fn schedule_acme_renewals(&self, now: i64, limit: usize) -> Result<u64, StoreError> {
        write_call!(self, Touches::Log, |tx| {
            sql::acme::schedule_renewals(tx, now, limit).await
        })
        .map_err(store_only)
    }

    /// Deletes ended orders last changed before `before` (Unix seconds), keeping each record's
    /// latest; at most `limit`. Returns how many.
    pub async fn prune_acme_orders(&self, before: i64, limit: usize) -> Result<u64, StoreError> {
        write_call!(self, Touches::Log, |tx| {
            sql::acme::prune_orders(tx, before, limit).await
        })
        .map_err(store_only)
    }

    /// Each domain bound to a free record, with the record's next renewal (Unix seconds).
    pub async fn acme_renewal_times(&self) -> Result<Vec<(String, i64)>, StoreError> {
        read_call!(self, |tx| { sql::acme::renewal_times(tx).await })
    }

    /// Every pending order, then those that failed at or after `failed_since`, newest first, at
    /// most `limit` (0: all): `livecert admin acme status`.
    pub async fn acme_orders_for_status(
        &self,
        failed_since: i64,
        limit: usize,
    ) -> Result<Vec<AcmeOrder>, StoreError> {
        read_call!(self, |tx| {
            sql::acme::orders_for_status(tx, failed_since, limit).await
        })
    }

    /// The latest order of `account_id` for `domain`, if any (Describe shows its state and
    /// problem).
    pub async fn latest_acme_order_for_domain(
        &self,
        account_id: AccountId,
        domain: &DomainName,
    ) -> Result<Option<AcmeOrder>, StoreError> {
        let domain = domain.clone();
        read_call!(self, |tx| {
            sql::acme::latest_order_for_domain(tx, account_id, domain.as_str()).await
        })
    }

    /// The latest order of record `cert_id`, if any.
    pub async fn latest_acme_order_for_record(
        &self,
        cert_id: u64,
    ) -> Result<Option<AcmeOrder>, StoreError> {
        read_call!(self, |tx| {
            sql::acme::latest_order_for_record(tx, cert_id).await
        })
    }

    /// The ACME account credentials kept for `directory`, opened (they hold the account key).
    ///
    /// Errors: `Secret` if they do not open with this master key; a store failure.
    pub async fn acme_account(&self, directory: &str) -> Result<Option<Secret>, StoreError> {
        let directory = directory.to_owned();
        let sealed = read_call!(self, |tx| { sql::acme::acme_account(tx, &directory).await })?;
        sealed
            .map(|s| {
                self.inner
                    .master_key
                    .open(AAD_ACME_ACCOUNT, &s)
                    .map_err(|e| StoreError::Secret(format!("ACME account credentials: {e}")))
            })
            .transpose()
    }

    /// Keeps ACME account credentials for `directory`, sealed here, unless another node kept
    /// some first; returns whether these were kept (if not, read the kept ones with
    /// [`Store::acme_account`] and use those).
    pub async fn put_acme_account(
        &self,
        directory: &str,
        credentials: &[u8],
        now: i64,
    ) -> Result<bool, StoreError> {
        let sealed = self.seal(AAD_ACME_ACCOUNT, credentials)?;
        let directory = directory.to_owned();
        write_call!(self, Touches::Log, |tx| {
            sql::acme::put_acme_account(tx, &directory, &sealed, now).await
        })
        .map_err(store_only)
    }
}
