//! SetLiveDomainCertificate with `SSLProtocol=on`, `CertType=free`: rows 36–37 of
//! spec/operations.md. The handler has already done rows 1–16 (parse, RAM, account, domain state,
//! function mutex) when it calls [`set_free`].
//!
//! Row 36: a wildcard domain, or a domain the issuer refuses, is `Certificate.StatusError` with
//! the reason. Row 37 depends on the issuer ([`crate::issuer::Issuer`] in `AppState`):
//! - the built-in test CA issues at once, and the store keeps the certificate as a record of type
//!   `free`, status `success`, under `CertName` or the name row 22 generates, applying rows 22–29
//!   exactly as for an upload (so `Certificate.Duplicated` for a taken name without
//!   `ForceSet=1`, and a forced replacement must cover every domain bound to the record), then
//!   binds it, HTTPS on — one transaction;
//! - the ACME issuer ([`crate::acme`]) works asynchronously: the call reserves a record in status
//!   `applying` (named `CertName`, or `<DomainName>-<yyyymmdd>-<8 random hex>`) and queues its
//!   order, answers at once, and the domain's binding changes only when the certificate is issued
//!   (docs/acme.md).
//!
//! DryRun: the issuer's check, then the store's dry-run path (the test CA issues a rehearsal
//! certificate without side effects; ACME reserves nothing), answering `DryRunOperation` when the
//! real call would succeed; nothing is written and nothing is kept.

use std::sync::Arc;

use livecert_core::cert::CheckedUpload;
use livecert_core::error::{ApiError, ErrorCode};
use livecert_core::ops::set_live_domain_certificate::{
    applying_cert_name, effective_cert_name, not_effective_error, SetLiveDomainCertificateInput,
};
use livecert_store::{FreeRequested, UploadOutcome, WriteError};
use serde_json::Map;

use crate::api::{AppState, Caller, Failure, OpResult};
use crate::issuer::{Issuance, IssueError};

/// Rows 36–37 for `SSLProtocol=on`, `CertType=free`, after rows 1–16.
///
/// Errors: `Certificate.StatusError` with the reason (row 36); the refusals of rows 7–11 and
/// 23–26 re-checked in the store's transaction; `CertStorage.failed` (row 27);
/// `DryRunOperation` when `DryRun=true` and the call would succeed; `InternalError` when the
/// issuer fails.
pub async fn set_free(
    state: &AppState,
    caller: &Caller,
    input: &SetLiveDomainCertificateInput,
) -> OpResult {
    let domain = &input.domain;
    state.issuer.check(domain).map_err(issue_failure)?;
    let issuer = Arc::clone(&state.issuer);
    let (name, now) = (domain.clone(), caller.now);
    let started = tokio::task::spawn_blocking(move || issuer.start(&name, now))
        .await
        .map_err(|e| internal(format!("the issuing task failed: {e}")))?
        .map_err(issue_failure)?;
    match started {
        Issuance::Issued(issued) => store_issued(state, caller, input, *issued).await,
        Issuance::Pending => request_order(state, caller, input).await,
    }
}

/// Row 37 with a certificate issued at once: stored and bound like an upload, type `free`.
async fn store_issued(
    state: &AppState,
    caller: &Caller,
    input: &SetLiveDomainCertificateInput,
    issued: CheckedUpload,
) -> OpResult {
    let domain = &input.domain;
    let cert_name = effective_cert_name(input.cert_name.as_ref(), &issued);
    super::authorize_record_domains(state, caller, &cert_name).await?;
    let names = livecert_core::ops::set_live_domain_certificate::cert_names(&issued.facts);
    let (account, force, now) = (caller.account_id, input.force_set, caller.now);
    let store = super::store_for(state, input.dry_run);
    let written = store
        .set_free(account, domain, cert_name, force, issued, now)
        .await;
    match written {
        Ok(UploadOutcome::Bound { .. }) => super::answered(&store, Map::new()),
        // Cannot happen for a certificate issued for exactly the domain; answered as row 28.
        Ok(UploadOutcome::StoredNotEffective { cert_name, .. }) => {
            Err(not_effective_error(cert_name.as_str(), &names, domain).into())
        }
        Err(e) => Err(write_failure(e)),
    }
}

/// Row 37 with an asynchronous issuer (ACME): the record is reserved in status `applying` (or,
/// with `ForceSet=1`, the named record is to be filled anew) and its order queued, in one
/// transaction; the call answers at once and the issuer's worker takes the order up. An order
/// already in flight for the domain is answered as it is (a retried call queues nothing new).
async fn request_order(
    state: &AppState,
    caller: &Caller,
    input: &SetLiveDomainCertificateInput,
) -> OpResult {
    let domain = &input.domain;
    let suffix = random_suffix().map_err(internal)?;
    let cert_name = applying_cert_name(input.cert_name.as_ref(), domain, caller.now, &suffix);
    super::authorize_record_domains(state, caller, &cert_name).await?;
    let (account, force, now) = (caller.account_id, input.force_set, caller.now);
    let store = super::store_for(state, input.dry_run);
    match store
        .request_free(
            account,
            domain,
            cert_name,
            input.cert_name.is_some(),
            force,
            now,
        )
        .await
    {
        Ok(requested) => {
            if !input.dry_run {
                if let FreeRequested::Ordered { order_id, .. } = requested {
                    tracing::info!(order_id, domain = %domain, "free certificate ordered");
                }
                state.issuer.ordered();
            }
            super::answered(&store, Map::new())
        }
        Err(e) => Err(write_failure(e)),
    }
}

/// A refusal re-checked in the store's transaction, or `CertStorage.failed` (row 27).
fn write_failure(e: WriteError) -> Failure {
    match e {
        WriteError::Refused(e) => e.into(),
        WriteError::Store(e) => {
            Failure::storage(ErrorCode::CertStorageFailed, &e, "nothing was changed")
        }
    }
}

/// 8 random lower-case hex characters: the end of a generated name for a free certificate not
/// issued yet.
fn random_suffix() -> Result<String, String> {
    use aws_lc_rs::rand::{SecureRandom, SystemRandom};
    let mut bytes = [0u8; 4];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| "the system random generator failed".to_owned())?;
    Ok(hex::encode(bytes))
}

/// Row 36 (`Certificate.StatusError` with the reason), or `InternalError` for a broken issuer.
fn issue_failure(e: IssueError) -> Failure {
    match e {
        IssueError::Refused(reason) => {
            ApiError::new(ErrorCode::CertificateStatusError, reason).into()
        }
        IssueError::Failed(_) => internal(e.to_string()),
    }
}

fn internal(cause: String) -> Failure {
    Failure::with_cause(ApiError::bare(ErrorCode::InternalError), cause)
}
