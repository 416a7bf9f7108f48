//! SetLiveDomainCertificate with `SSLProtocol=on`, `CertType=free`: rows 36–37 of
//! spec/operations.md. The handler has already done rows 1–16 (parse, RAM, account, domain state,
//! function mutex) when it calls [`set_free`].
//!
//! Row 36: a wildcard domain, or a domain the issuer refuses, is `Certificate.StatusError` with
//! the reason. Row 37: the issuer ([`crate::issuer::Issuer`] in `AppState`) issues a certificate
//! for exactly the domain, and the store keeps it as a record of type `free`, status `success`,
//! under `CertName` or the name row 22 generates, applying rows 22–29 exactly as for an upload
//! (so `Certificate.Duplicated` for a taken name without `ForceSet=1`, and a forced replacement
//! must cover every domain bound to the record), then binds it, HTTPS on — one transaction.
//!
//! DryRun: the issuer's check, then the store's dry-run path with a rehearsal certificate (the
//! test CA issues without side effects), answering `DryRunOperation` when the real call would
//! succeed; nothing is written and nothing is kept.

use std::sync::Arc;

use livecert_core::error::{ApiError, ErrorCode};
use livecert_core::ops::set_live_domain_certificate::{
    effective_cert_name, not_effective_error, SetLiveDomainCertificateInput,
};
use livecert_store::{UploadOutcome, WriteError};
use serde_json::Map;

use crate::api::{AppState, Caller, Failure, OpResult};
use crate::issuer::IssueError;

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
    let issued = tokio::task::spawn_blocking(move || issuer.issue(&name, now))
        .await
        .map_err(|e| internal(format!("the issuing task failed: {e}")))?
        .map_err(issue_failure)?;
    let cert_name = effective_cert_name(input.cert_name.as_ref(), &issued);
    super::authorize_record_domains(state, caller, &cert_name).await?;
    let names = livecert_core::ops::set_live_domain_certificate::cert_names(&issued.facts);
    let (account, force) = (caller.account_id, input.force_set);
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
        Err(WriteError::Refused(e)) => Err(e.into()),
        Err(WriteError::Store(e)) => Err(Failure::storage(
            ErrorCode::CertStorageFailed,
            &e,
            "nothing was changed",
        )),
    }
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
