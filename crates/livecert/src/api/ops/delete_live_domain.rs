//! DeleteLiveDomain: removes the domain and its certificate binding; the library record stays
//! (it is listed, and can be bound again with `CertType=cas`). The edge stops serving the domain.

use livecert_core::ops::delete_live_domain::DeleteLiveDomainInput;
use livecert_core::params::Params;
use livecert_store::WriteError;
use serde_json::Map;

use crate::api::{AppState, Caller, Failure, OpResult};

/// Handles DeleteLiveDomain. Errors: the input's, `Forbidden.RAM`, `AuthenticationFailed`,
/// `IllegalOperationDomain`, `IllegalOperation`, `DomainInSafeMode`, `DomainInProtectedMode`.
pub async fn handle(state: &AppState, caller: &Caller, params: &Params) -> OpResult {
    let input = DeleteLiveDomainInput::parse(params)?;
    caller.authorize(Some(&input.domain))?;
    let store = super::store_for(state, input.dry_run);
    let written = store.delete_domain(caller.account_id, &input.domain).await;
    match written {
        Ok(()) => super::answered(&store, Map::new()),
        Err(WriteError::Refused(e)) => Err(e.into()),
        Err(WriteError::Store(e)) => Err(Failure::store(&e)),
    }
}
