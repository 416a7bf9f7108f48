//! One handler per operation: each parses its typed input (core), calls `Caller::authorize` (RAM,
//! then the account status when the action table marks the operation state-changing), runs its
//! store transaction and builds its response fields.

pub mod add_live_domain;
pub mod cas;
pub mod delete_live_domain;
pub mod describe_live_certificate_detail;
pub mod describe_live_certificate_list;
pub mod describe_live_domain_certificate_info;
pub mod describe_live_domain_detail;
pub mod describe_live_user_domains;
pub mod free;
pub mod get_caller_identity;
pub mod set_live_domain_certificate;
pub mod start_live_domain;
pub mod stop_live_domain;

use livecert_core::error::{ApiError, ErrorCode};
use livecert_core::names::DomainName;
use livecert_store::{DomainRecord, Store, WriteMode};
use serde_json::{Map, Value};

use super::{AppState, Caller, Failure, OpResult};

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

/// `IllegalOperationDomain` for a domain that does not exist or is not the caller's (core's
/// `domain_rules::not_your_domain`).
pub fn illegal_domain(name: &DomainName) -> ApiError {
    livecert_core::ops::domain_rules::not_your_domain(name)
}

/// The store handle a state-changing call writes through: one that commits, or — for
/// `DryRun=true` — one whose writes run every check and statement and then roll back
/// (operations.md: "Every state-changing operation accepts DryRun").
pub fn store_for(state: &AppState, dry_run: bool) -> Store {
    state.store.in_mode(WriteMode::from_dry_run(dry_run))
}

/// The answer of a state-changing call whose write succeeded through `store`: its `fields`, or
/// `DryRunOperation` when the write was a dry run (every check passed, nothing was changed).
pub fn answered(store: &Store, fields: Map<String, Value>) -> OpResult {
    match store.mode() {
        WriteMode::Commit => Ok(fields),
        WriteMode::DryRun => Err(ApiError::new(
            ErrorCode::DryRunOperation,
            "Nothing was changed; send the call again without DryRun to apply it.",
        )
        .into()),
    }
}

/// The RAM rule for writing a library record (spec/access.md: a RAM user has only the permissions
/// its policies grant): replacing the record named `cert_name` changes what every domain bound to
/// it serves (spec/README.md, decision 3), so a RAM user needs the operation's permission on each
/// of those domains, not only on `DomainName`. Root credentials pass. The refusal never names the
/// other domains. A domain bound between this check and the write is the one race left: the write
/// itself re-checks nothing of RAM.
pub async fn authorize_record_domains(
    state: &AppState,
    caller: &Caller,
    cert_name: &livecert_core::names::CertName,
) -> Result<(), Failure> {
    if matches!(caller.principal, livecert_store::Principal::Root) {
        return Ok(());
    }
    let Some(record) = state
        .store
        .certificate_by_name(caller.account_id, cert_name)
        .await
        .map_err(|e| Failure::store(&e))?
    else {
        return Ok(());
    };
    let bound = state
        .store
        .domains_bound_to(record.cert_id)
        .await
        .map_err(|e| Failure::store(&e))?;
    for domain in &bound {
        if let Err(mut failure) = caller.authorize(Some(domain)) {
            failure.error.detail = format!(
                "CertName \"{cert_name}\" is bound to domains your policies do not cover; replacing it would change what they serve. Use another CertName."
            );
            return Err(failure);
        }
    }
    Ok(())
}

/// The `Problem` livecert adds to Describe answers for a free certificate whose latest ACME
/// attempt failed — `{"Type", "Detail", "Identifier"}`, the CA's problem document (RFC 8555 §6.7)
/// — or `None` when the order has none or ended with a certificate.
pub fn order_problem(order: &livecert_store::AcmeOrder) -> Option<Value> {
    if order.state == livecert_store::OrderState::Valid {
        return None;
    }
    order.problem.as_ref().map(|p| {
        serde_json::json!({
            "Type": p.problem_type,
            "Detail": p.detail,
            "Identifier": p.identifier.as_deref().unwrap_or_default(),
        })
    })
}
