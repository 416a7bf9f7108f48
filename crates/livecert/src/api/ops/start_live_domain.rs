//! StartLiveDomain: the domain goes back `online` and the edge serves it again, with the
//! certificate binding it kept. Starting an online domain succeeds and changes nothing.

use livecert_core::ops::start_live_domain::StartLiveDomainInput;
use livecert_core::params::Params;
use livecert_store::{DomainStatus, WriteError};
use serde_json::Map;

use crate::api::{AppState, Caller, Failure, OpResult};

/// Handles StartLiveDomain. Errors: the input's, `Forbidden.RAM`, `AuthenticationFailed`,
/// `IllegalOperationDomain`, `IllegalOperation`, `DomainInSafeMode`, `DomainInProtectedMode`.
pub async fn handle(state: &AppState, caller: &Caller, params: &Params) -> OpResult {
    let input = StartLiveDomainInput::parse(params)?;
    caller.authorize(Some(&input.domain))?;
    let store = super::store_for(state, input.dry_run);
    let (account, status) = (caller.account_id, DomainStatus::Online);
    let written = store
        .set_domain_status(account, &input.domain, status, caller.now)
        .await;
    match written {
        Ok(_) => super::answered(&store, Map::new()),
        Err(WriteError::Refused(e)) => Err(e.into()),
        Err(WriteError::Store(e)) => Err(Failure::store(&e)),
    }
}
