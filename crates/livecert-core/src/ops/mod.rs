//! Typed inputs of each operation (one file per operation): parameters become checked types
//! before a handler sees them (spec/operations.md), plus the pure decisions a handler or the store
//! applies inside a transaction.

pub mod add_live_domain;
pub mod cas;
pub mod delete_live_domain;
pub mod describe_live_certificate_detail;
pub mod describe_live_certificate_list;
pub mod describe_live_domain_certificate_info;
pub mod describe_live_domain_detail;
pub mod describe_live_user_domains;
pub mod domain_rules;
pub mod set_live_domain_certificate;
pub mod start_live_domain;
pub mod stop_live_domain;

use crate::error::ApiError;
use crate::names::DomainName;
use crate::params::Params;

/// Reads a required `DomainName` (an empty value counts as absent).
/// Errors: `MissingParameter`, `InvalidParameter` naming `DomainName` with what is wrong.
pub fn required_domain(params: &Params) -> Result<DomainName, ApiError> {
    let raw = params
        .non_empty_text("DomainName")?
        .ok_or_else(|| ApiError::missing("DomainName"))?;
    Ok(DomainName::parse(raw)?)
}

/// Reads an optional boolean parameter such as `DryRun`: `true` / `false`, case-insensitive.
/// Errors: `InvalidParameter` naming it for anything else.
pub fn optional_bool(params: &Params, name: &str) -> Result<bool, ApiError> {
    match params.non_empty_text(name)? {
        None => Ok(false),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(_) => Err(ApiError::invalid(name, "Use true or false.")),
    }
}

/// Reads an optional enumerated parameter; `allowed` lists the exact accepted values.
/// Errors: `InvalidParameter` naming it and listing the accepted values.
pub fn optional_enum<'a>(
    params: &'a Params,
    name: &str,
    allowed: &[&str],
) -> Result<Option<&'a str>, ApiError> {
    match params.non_empty_text(name)? {
        None => Ok(None),
        Some(v) if allowed.contains(&v) => Ok(Some(v)),
        Some(_) => Err(ApiError::invalid(
            name,
            format!("Use one of: {}.", allowed.join(", ")),
        )),
    }
}

/// Reads an optional page number or size: a whole number from 1 to `max`, digits only (no sign).
/// Errors: `InvalidParameter` naming it, with the range.
pub fn page_param(params: &Params, name: &str, max: u32) -> Result<Option<u32>, ApiError> {
    let Some(raw) = params.non_empty_text(name)? else {
        return Ok(None);
    };
    match raw.parse::<u32>() {
        Ok(n) if (1..=max).contains(&n) && raw.bytes().all(|b| b.is_ascii_digit()) => Ok(Some(n)),
        _ => Err(ApiError::invalid(
            name,
            format!("Use an integer from 1 to {max}."),
        )),
    }
}

/// The input of the operations that change one domain and take nothing else (DeleteLiveDomain,
/// StartLiveDomain, StopLiveDomain): `DomainName` and `DryRun`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainChangeInput {
    /// `DomainName`, required.
    pub domain: DomainName,
    /// `DryRun`.
    pub dry_run: bool,
}

impl DomainChangeInput {
    /// Parses the parameters. Errors: `MissingParameter` / `InvalidParameter` for `DomainName`,
    /// `InvalidParameter` for `DryRun`.
    pub fn parse(params: &Params) -> Result<Self, ApiError> {
        Ok(Self {
            domain: required_domain(params)?,
            dry_run: optional_bool(params, "DryRun")?,
        })
    }
}

#[cfg(test)]
mod domain_change_tests {
    use super::*;
    use crate::error::ErrorCode;

    fn parse(pairs: &[(&str, &str)]) -> Result<DomainChangeInput, ApiError> {
        DomainChangeInput::parse(&Params::from_pairs(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec())),
        ))
    }

    #[test]
    fn domain_is_required_and_checked() {
        assert_eq!(parse(&[]).unwrap_err().code, ErrorCode::MissingParameter);
        assert_eq!(
            parse(&[("DomainName", "")]).unwrap_err().code,
            ErrorCode::MissingParameter
        );
        assert_eq!(
            parse(&[("DomainName", "bad_name")]).unwrap_err().code,
            ErrorCode::InvalidParameter
        );
        let input = parse(&[("DomainName", "Live.Example.COM")]).unwrap();
        assert_eq!(input.domain.as_str(), "live.example.com");
        assert!(!input.dry_run);
    }

    #[test]
    fn dry_run_is_a_case_insensitive_boolean() {
        let input = parse(&[("DomainName", "a.com"), ("DryRun", "True")]).unwrap();
        assert!(input.dry_run);
        let e = parse(&[("DomainName", "a.com"), ("DryRun", "yes")]).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidParameter);
        assert_eq!(e.name.as_deref(), Some("DryRun"));
    }
}
