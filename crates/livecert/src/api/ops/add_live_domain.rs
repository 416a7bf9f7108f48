//! AddLiveDomain: the domain is `online` at once with HTTPS off (spec/README.md, decision 1).

use livecert_core::ops::add_live_domain::AddLiveDomainInput;
use livecert_core::params::Params;
use livecert_store::{NewDomain, WriteError};
use serde_json::Map;

use crate::api::{AppState, Caller, Failure, OpResult};

/// Handles AddLiveDomain. Errors: the input's, `AuthenticationFailed`, `DomainAlreadyExist`.
pub async fn handle(state: &AppState, caller: &Caller, params: &Params) -> OpResult {
    let input = AddLiveDomainInput::parse(params)?;
    caller.authorize(Some(&input.domain))?;
    let domain = NewDomain {
        name: input.domain.clone(),
        live_domain_type: input.live_domain_type.clone(),
        region: input.region.clone(),
        scope: input.scope.clone(),
        check_url: input.check_url.clone(),
        top_level_domain: input.top_level_domain.clone(),
        resource_group_id: input.resource_group_id.clone(),
    };
    let store = super::store_for(state, input.dry_run);
    let written = store
        .add_domain(caller.account_id, domain, caller.now)
        .await;
    match written {
        Ok(()) => super::answered(&store, Map::new()),
        Err(WriteError::Refused(e)) => Err(e.into()),
        Err(WriteError::Store(e)) => Err(Failure::store(&e)),
    }
}
