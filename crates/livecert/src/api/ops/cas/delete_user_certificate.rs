//! CAS `DeleteUserCertificate`: removes a record from the library unless a domain still serves
//! it (refused with the domains named). A deleted CertId is never reused.

use livecert_core::error::ErrorCode;
use livecert_core::ops::cas::{self, DeleteUserCertificateInput};
use livecert_core::params::Params;
use livecert_store::CertDeletion;
use serde_json::Map;

use crate::api::{AppState, Caller, Failure, OpResult};

/// Handles DeleteUserCertificate. Errors: `MissingParameter` / `InvalidParameter` (CertId),
/// `Forbidden.RAM`, `AuthenticationFailed` (a suspended account), `Certificate.NotFind`,
/// `DeleteFailed` (bound to domains, named; or a store failure).
pub async fn handle(state: &AppState, caller: &Caller, params: &Params) -> OpResult {
    let input = DeleteUserCertificateInput::parse(params)?;
    caller.authorize(None)?;
    let deletion = state
        .store
        .delete_record(caller.account_id, input.cert_id)
        .await
        .map_err(|e| Failure::storage(ErrorCode::DeleteFailed, &e, "the certificate is kept"))?;
    match deletion {
        CertDeletion::Deleted => Ok(Map::new()),
        CertDeletion::NotFound => Err(cas::not_found(input.cert_id).into()),
        CertDeletion::Bound(domains) => Err(cas::still_bound(input.cert_id, &domains).into()),
    }
}
