//! The refusals both backends apply inside a write transaction, with their codes and texts, so
//! that SQLite and PostgreSQL answer a refused call with the very same `ApiError`: the domain
//! rules that precede every state change (rows 7–11 of the decision table and Domains in
//! spec/operations.md), row 12, and the operator's `InvalidParameter` refusals of `access.rs`.
//!
//! Everything here is pure: the backends read the rows, core's `ops::domain_rules` decides (the
//! API's handlers call the same functions), and these wrap its answer as a refused write.

use livecert_core::error::ApiError;
use livecert_core::names::DomainName;
use livecert_core::ops::domain_rules;

use crate::{DomainRecord, WriteError};

/// Rows 7–10: the domain, if the account owns it (`domain` is the row read for `name` and the
/// account, `None` when missing or foreign) and it accepts a state change (core's
/// [`domain_rules::check_changeable`]).
pub(crate) fn domain_for_change(
    domain: Option<DomainRecord>,
    name: &DomainName,
) -> Result<DomainRecord, WriteError> {
    let Some(domain) = domain else {
        return Err(not_your_domain(name));
    };
    domain_rules::check_changeable(&domain.state()).map_err(WriteError::Refused)?;
    Ok(domain)
}

/// Row 11: SetLiveDomainCertificate needs an online domain ([`domain_rules::check_online`]).
pub(crate) fn require_online(domain: &DomainRecord) -> Result<(), WriteError> {
    domain_rules::check_online(&domain.state()).map_err(WriteError::Refused)
}

/// Row 12: a domain whose operator requires HTTPS may not turn it off
/// ([`domain_rules::check_https_off`]).
pub(crate) fn allow_https_off(domain: &DomainRecord) -> Result<(), WriteError> {
    domain_rules::check_https_off(&domain.state()).map_err(WriteError::Refused)
}

/// Row 7: the same answer for a missing and a foreign domain.
pub(crate) fn not_your_domain(name: &DomainName) -> WriteError {
    WriteError::Refused(domain_rules::not_your_domain(name))
}

/// AddLiveDomain: the name is taken (by any account).
pub(crate) fn domain_already_exists(name: &DomainName) -> WriteError {
    WriteError::Refused(domain_rules::already_exists(name))
}

/// An `InvalidParameter` refusal naming `parameter` (operator mistakes in `access.rs`).
pub(crate) fn refused(parameter: &str, detail: String) -> WriteError {
    WriteError::Refused(ApiError::invalid(parameter, detail))
}
