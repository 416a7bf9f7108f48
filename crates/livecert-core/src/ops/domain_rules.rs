//! The domain rules that precede a state change (spec/operations.md, rows 7–12 of
//! SetLiveDomainCertificate's decision table, and "Domains"), decided once: the API's handlers
//! check them on the domain they read, and the store re-checks them inside the write's
//! transaction with these same functions, so a client gets the same code and message whichever
//! of the two refuses.

use crate::error::{ApiError, ErrorCode};
use crate::names::DomainName;

/// What the rules read of a domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DomainState<'a> {
    /// The domain.
    pub name: &'a DomainName,
    /// Its status as the API names it (`online`, `offline`, …).
    pub status: &'a str,
    /// Whether it is `online`.
    pub online: bool,
    /// Locked by the operator (row 8).
    pub locked: bool,
    /// In safe mode (row 9).
    pub safe_mode: bool,
    /// In protected mode (row 10).
    pub protected_mode: bool,
    /// The operator requires HTTPS (row 12).
    pub https_required: bool,
}

/// Row 7: a domain the account does not have — missing or another account's; the same answer for
/// both, so that no account learns of another's domains. `IllegalOperationDomain`.
pub fn not_your_domain(name: &DomainName) -> ApiError {
    ApiError::new(
        ErrorCode::IllegalOperationDomain,
        format!("{name} is not a domain of your account; add it with AddLiveDomain first."),
    )
}

/// AddLiveDomain: the name is taken, by any account. `DomainAlreadyExist`.
pub fn already_exists(name: &DomainName) -> ApiError {
    ApiError::new(
        ErrorCode::DomainAlreadyExist,
        format!("{name} has already been added."),
    )
}

/// Rows 8–10: the operator's holds that refuse any state change.
/// Errors: `IllegalOperation` (locked), `DomainInSafeMode`, `DomainInProtectedMode`.
pub fn check_changeable(domain: &DomainState<'_>) -> Result<(), ApiError> {
    let name = domain.name;
    if domain.locked {
        return Err(ApiError::new(
            ErrorCode::IllegalOperation,
            format!("{name} is locked by the operator."),
        ));
    }
    if domain.safe_mode {
        return Err(ApiError::new(
            ErrorCode::DomainInSafeMode,
            format!("{name} is in safe mode; ask the operator to lift it."),
        ));
    }
    if domain.protected_mode {
        return Err(ApiError::new(
            ErrorCode::DomainInProtectedMode,
            format!("{name} is in protected mode; ask the operator to lift it."),
        ));
    }
    Ok(())
}

/// Row 11: SetLiveDomainCertificate needs an online domain. Errors: `InvalidDomain.notOnline`.
pub fn check_online(domain: &DomainState<'_>) -> Result<(), ApiError> {
    if domain.online {
        return Ok(());
    }
    Err(ApiError::new(
        ErrorCode::InvalidDomainNotOnline,
        format!(
            "{} is {}; start it with StartLiveDomain, then try again.",
            domain.name, domain.status
        ),
    ))
}

/// Row 12: a domain whose operator requires HTTPS may not turn it off.
/// Errors: `Certificate.NotPermittedOff`.
pub fn check_https_off(domain: &DomainState<'_>) -> Result<(), ApiError> {
    if domain.https_required {
        return Err(ApiError::new(
            ErrorCode::CertificateNotPermittedOff,
            format!(
                "{} is required to serve HTTPS by the operator.",
                domain.name
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(name: &DomainName) -> DomainState<'_> {
        DomainState {
            name,
            status: "online",
            online: true,
            locked: false,
            safe_mode: false,
            protected_mode: false,
            https_required: false,
        }
    }

    #[test]
    fn the_holds_are_checked_in_the_order_of_the_decision_table() {
        let name = DomainName::parse("a.example.com").unwrap();
        let all = DomainState {
            locked: true,
            safe_mode: true,
            protected_mode: true,
            ..state(&name)
        };
        assert_eq!(
            check_changeable(&all).unwrap_err().code,
            ErrorCode::IllegalOperation
        );
        let safe = DomainState {
            safe_mode: true,
            protected_mode: true,
            ..state(&name)
        };
        assert_eq!(
            check_changeable(&safe).unwrap_err().code,
            ErrorCode::DomainInSafeMode
        );
        let protected = DomainState {
            protected_mode: true,
            ..state(&name)
        };
        assert_eq!(
            check_changeable(&protected).unwrap_err().code,
            ErrorCode::DomainInProtectedMode
        );
        assert!(check_changeable(&state(&name)).is_ok());
        let offline = DomainState {
            online: false,
            status: "offline",
            ..state(&name)
        };
        let e = check_online(&offline).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidDomainNotOnline);
        assert!(
            e.message().contains("a.example.com is offline"),
            "{}",
            e.message()
        );
        let required = DomainState {
            https_required: true,
            ..state(&name)
        };
        assert_eq!(
            check_https_off(&required).unwrap_err().code,
            ErrorCode::CertificateNotPermittedOff
        );
    }
}
