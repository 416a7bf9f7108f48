//! The refusals both backends apply inside a write transaction, with their codes and texts, so
//! that SQLite and PostgreSQL answer a refused call with the very same `ApiError`: the domain
//! rules that precede every state change (rows 7–11 of the decision table and Domains in
//! spec/operations.md), row 12, and the operator's `InvalidParameter` refusals of `access.rs`.
//!
//! Everything here is pure: the backends read the rows, these functions decide.

use livecert_core::error::{ApiError, ErrorCode};
use livecert_core::names::DomainName;

use crate::{DomainRecord, DomainStatus, WriteError};

/// Rows 7–10: the domain, if the account owns it (`domain` is the row read for `name` and the
/// account, `None` when missing or foreign) and it accepts a state change (not locked, not in safe
/// or protected mode).
pub(crate) fn domain_for_change(
    domain: Option<DomainRecord>,
    name: &DomainName,
) -> Result<DomainRecord, WriteError> {
    let Some(domain) = domain else {
        return Err(not_your_domain(name));
    };
    let refuse = |code, detail: String| Err(WriteError::Refused(ApiError::new(code, detail)));
    if domain.locked {
        return refuse(
            ErrorCode::IllegalOperation,
            format!("{name} is locked by the operator."),
        );
    }
    if domain.safe_mode {
        return refuse(
            ErrorCode::DomainInSafeMode,
            format!("{name} is in safe mode."),
        );
    }
    if domain.protected_mode {
        return refuse(
            ErrorCode::DomainInProtectedMode,
            format!("{name} is in protected mode."),
        );
    }
    Ok(domain)
}

/// Row 11: SetLiveDomainCertificate needs an online domain.
pub(crate) fn require_online(domain: &DomainRecord) -> Result<(), WriteError> {
    if domain.status == DomainStatus::Online {
        return Ok(());
    }
    Err(WriteError::Refused(ApiError::new(
        ErrorCode::InvalidDomainNotOnline,
        format!(
            "{} is {}; start it with StartLiveDomain first.",
            domain.name,
            domain.status.as_str()
        ),
    )))
}

/// Row 12: a domain whose operator requires HTTPS may not turn it off.
pub(crate) fn allow_https_off(domain: &DomainRecord) -> Result<(), WriteError> {
    if domain.https_required {
        return Err(WriteError::Refused(ApiError::new(
            ErrorCode::CertificateNotPermittedOff,
            format!(
                "{} is required to serve HTTPS by the operator.",
                domain.name
            ),
        )));
    }
    Ok(())
}

/// Row 7: the same answer for a missing and a foreign domain.
pub(crate) fn not_your_domain(name: &DomainName) -> WriteError {
    WriteError::Refused(ApiError::new(
        ErrorCode::IllegalOperationDomain,
        format!("{name} is not a domain of your account."),
    ))
}

/// AddLiveDomain: the name is taken (by any account).
pub(crate) fn domain_already_exists(name: &DomainName) -> WriteError {
    WriteError::Refused(ApiError::new(
        ErrorCode::DomainAlreadyExist,
        format!("{name} has already been added."),
    ))
}

/// An `InvalidParameter` refusal naming `parameter` (operator mistakes in `access.rs`).
pub(crate) fn refused(parameter: &str, detail: String) -> WriteError {
    WriteError::Refused(ApiError::invalid(parameter, detail))
}
