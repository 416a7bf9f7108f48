//! DeleteLiveDomain: removes a domain and its certificate binding; the library record stays
//! (operations.md, Domains). The name is free to be added again, by any account.

use crate::error::ApiError;
use crate::names::DomainName;
use crate::params::Params;

/// The checked input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteLiveDomainInput {
    /// `DomainName`, required.
    pub domain: DomainName,
    /// `DryRun`.
    pub dry_run: bool,
}

impl DeleteLiveDomainInput {
    /// Parses the parameters. Errors: `MissingParameter` / `InvalidParameter` for `DomainName`,
    /// `InvalidParameter` for `DryRun`.
    pub fn parse(params: &Params) -> Result<Self, ApiError> {
        Ok(Self {
            domain: super::required_domain(params)?,
            dry_run: super::optional_bool(params, "DryRun")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn parse(pairs: &[(&str, &str)]) -> Result<DeleteLiveDomainInput, ApiError> {
        DeleteLiveDomainInput::parse(&Params::from_pairs(
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
