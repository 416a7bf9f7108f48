//! The certificate library: uploads and free certificates (rows 22–29, 37), binding a record
//! (rows 31–35), the record reads, the private key on its way out, and the operator's status
//! changes and deletions.

use livecert_core::cert::CheckedUpload;
use livecert_core::names::{CertName, DomainName};
use livecert_core::ops::set_live_domain_certificate::CertRef;
use livecert_core::secret::{Secret, AAD_CERT_KEY};

use crate::call::{read_call, write_call, Touches};
use crate::error::store_only;
use crate::sql;
use crate::{
    AccountId, CertDeletion, CertRecord, CertStatus, RecordType, Store, StoreError, UploadOutcome,
    WriteError, WriteMode,
};

impl Store {
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
        self.set_upload_call(account_id, domain, cert_name, force_set, upload, kind, now)
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
        self.set_upload_call(account_id, domain, cert_name, force_set, issued, kind, now)
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
    ) -> Result<UploadOutcome, WriteError> {
        let key_sealed = self.seal(AAD_CERT_KEY, upload.private_key_pem.expose())?;
        let domain = domain.clone();
        let (outcome, created) = write_call!(self, Touches::Library, |tx| { sql::write::set_upload(
                tx,
                account_id,
                &domain,
                &cert_name,
                force_set,
                &upload,
                &key_sealed,
                record_type,
                now,
            )
            .await }, outcome: |(outcome, _): &(UploadOutcome, bool)| match outcome {
            UploadOutcome::Bound { .. } => "OK",
            // Row 28: the record is committed, the call answers this code.
            UploadOutcome::StoredNotEffective { .. } => {
                livecert_core::error::ErrorCode::CertificateSettedNotEffect.code()
            }
        })?;
        Ok(if self.mode == WriteMode::DryRun && created {
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
        let (domain, cert) = (domain.clone(), cert.into());
        write_call!(self, Touches::Library, |tx| {
            sql::write::bind_certificate(tx, account_id, &domain, &cert, now).await
        })
    }

    /// A record of the account's library by id.
    pub async fn certificate(
        &self,
        account_id: AccountId,
        cert_id: u64,
    ) -> Result<Option<CertRecord>, StoreError> {
        read_call!(self, |tx| {
            sql::read::certificate(tx, account_id, cert_id).await
        })
    }

    /// A record of the account's library by name.
    pub async fn certificate_by_name(
        &self,
        account_id: AccountId,
        name: &CertName,
    ) -> Result<Option<CertRecord>, StoreError> {
        let name = name.clone();
        read_call!(self, |tx| {
            sql::read::certificate_by_name(tx, account_id, name.as_str()).await
        })
    }

    /// Operator read: a record whoever owns it (`livecert admin cert …`).
    pub async fn certificate_any(&self, cert_id: u64) -> Result<Option<CertRecord>, StoreError> {
        read_call!(self, |tx| { sql::read::certificate_any(tx, cert_id).await })
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
        read_call!(self, |tx| {
            match &domains {
                None => sql::read::library(tx, account_id).await,
                Some(d) => sql::read::library_bound_to(tx, account_id, d).await,
            }
        })
    }

    /// The opened private key PEM of a record (for the edge; never returned by the API).
    ///
    /// Errors: `Secret` if it does not open with this master key.
    pub async fn certificate_private_key(
        &self,
        cert_id: u64,
    ) -> Result<Option<Secret>, StoreError> {
        let sealed = read_call!(self, |tx| {
            sql::read::private_key_sealed(tx, cert_id).await
        })?;
        sealed
            .map(|s| {
                self.inner
                    .master_key
                    .open(AAD_CERT_KEY, &s)
                    .map_err(|e| StoreError::Secret(format!("private key of {cert_id}: {e}")))
            })
            .transpose()
    }

    /// The domains bound to a record (any account: CertIds are global), by name.
    pub async fn domains_bound_to(&self, cert_id: u64) -> Result<Vec<DomainName>, StoreError> {
        read_call!(self, |tx| {
            sql::read::domains_bound_to(tx, cert_id).await
        })
    }

    /// Operator action: sets a record's status, named as [`crate::CertStatus::as_str`] writes it (`revoked`: the edge
    /// stops serving it, its bindings stay), and its `last_changed` to `now`.
    ///
    /// Errors: `Failed` for another status or an unknown CertId.
    pub async fn set_certificate_status(
        &self,
        cert_id: u64,
        status: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let Some(status) = CertStatus::from_name(status) else {
            let names: Vec<&str> = CertStatus::ALL.iter().map(|s| s.as_str()).collect();
            return Err(StoreError::Failed(format!(
                "unknown certificate status {status:?}; use one of {}",
                names.join(", ")
            )));
        };
        write_call!(self, Touches::Library, |tx| {
            sql::write::set_certificate_status(tx, cert_id, status, now).await
        })
        .map_err(store_only)
    }

    /// Operator action: deletes a record from its account's library, unless a domain is bound to
    /// it; the check and the delete are one transaction. A deleted CertId is never reused.
    pub async fn delete_certificate(&self, cert_id: u64) -> Result<CertDeletion, StoreError> {
        write_call!(self, Touches::Library, |tx| {
            sql::write::delete_certificate(tx, None, cert_id).await
        })
        .map_err(store_only)
    }

    /// CAS `DeleteUserCertificate`: deletes record `cert_id` of `account_id`'s library, unless a
    /// domain is bound to it (`Bound` with those domains, by name); another account's record is
    /// `NotFound`. The check and the delete are one transaction; a deleted CertId is never reused.
    pub async fn delete_record(
        &self,
        account_id: AccountId,
        cert_id: u64,
    ) -> Result<CertDeletion, StoreError> {
        write_call!(self, Touches::Library, |tx| {
            sql::write::delete_certificate(tx, Some(account_id), cert_id).await
        })
        .map_err(store_only)
    }

    /// CAS `UploadUserCertificate`: adds `upload` to `account_id`'s library as a new `upload`
    /// record named `cert_name` (status `success`, bound to nothing) and returns its CertId. The
    /// private key is sealed before it reaches the database.
    ///
    /// Refusals: `InvalidParameter` naming `Name` when the library already has a record of that
    /// name (core's `cas::name_taken`). Errors: a store failure.
    pub async fn add_record(
        &self,
        account_id: AccountId,
        cert_name: CertName,
        upload: CheckedUpload,
        now: i64,
    ) -> Result<u64, WriteError> {
        let key_sealed = self.seal(AAD_CERT_KEY, upload.private_key_pem.expose())?;
        write_call!(self, Touches::Library, |tx| {
            sql::write::add_record(tx, account_id, &cert_name, &upload, &key_sealed, now).await
        })
    }
}
