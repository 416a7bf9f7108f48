//! One handler per operation: each parses its typed input (core), checks the account status when
//! it changes state, runs its store transaction and builds its response fields.

pub mod add_live_domain;
pub mod delete_live_domain;
pub mod describe_live_certificate_detail;
pub mod describe_live_certificate_list;
pub mod describe_live_domain_certificate_info;
pub mod describe_live_domain_detail;
pub mod describe_live_user_domains;
pub mod free;
pub mod set_live_domain_certificate;
pub mod start_live_domain;
pub mod stop_live_domain;

use livecert_core::error::{ApiError, ErrorCode};
use livecert_core::names::DomainName;
use livecert_store::DomainRecord;

use super::{AppState, Caller, Failure};

/// The caller's own domain, or `IllegalOperationDomain` (also for another account's domain: never
/// reveal which).
pub async fn owned_domain(
    state: &AppState,
    caller: &Caller,
    name: &DomainName,
) -> Result<DomainRecord, Failure> {
    state
        .store
        .domain(caller.account_id, name)
        .await
        .map_err(|e| Failure::store(&e))?
        .ok_or_else(|| illegal_domain(name).into())
}

/// `IllegalOperationDomain` for a domain that does not exist or is not the caller's.
pub fn illegal_domain(name: &DomainName) -> ApiError {
    ApiError::new(
        ErrorCode::IllegalOperationDomain,
        format!("{name} is not a domain of your account; add it with AddLiveDomain first."),
    )
}

/// `DryRunOperation`: every check of a `DryRun=true` call passed and nothing was changed
/// (operations.md: "Every state-changing operation accepts DryRun").
pub fn dry_run_passed() -> Failure {
    ApiError::new(
        ErrorCode::DryRunOperation,
        "Nothing was changed; send the call again without DryRun to apply it.",
    )
    .into()
}
