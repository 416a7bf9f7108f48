//! StopLiveDomain: the domain goes `offline` and the edge stops serving it; its certificate
//! binding stays. Stopping an offline domain succeeds and changes nothing.

use livecert_core::ops::stop_live_domain::StopLiveDomainInput;
use livecert_core::params::Params;
use livecert_store::{DomainStatus, WriteError};
use serde_json::Map;

use crate::api::{AppState, Caller, Failure, OpResult};

/// Handles StopLiveDomain. Errors: the input's, `Forbidden.RAM`, `AuthenticationFailed`,
/// `IllegalOperationDomain`, `IllegalOperation`, `DomainInSafeMode`, `DomainInProtectedMode`.
pub async fn handle(state: &AppState, caller: &Caller, params: &Params) -> OpResult {
    let input = StopLiveDomainInput::parse(params)?;
    caller.authorize(Some(&input.domain))?;
    let store = super::store_for(state, input.dry_run);
    let (account, status) = (caller.account_id, DomainStatus::Offline);
    let written = store
        .set_domain_status(account, &input.domain, status, caller.now)
        .await;
    match written {
        Ok(_) => super::answered(&store, Map::new()),
        Err(WriteError::Refused(e)) => Err(e.into()),
        Err(WriteError::Store(e)) => Err(Failure::store(&e)),
    }
}
