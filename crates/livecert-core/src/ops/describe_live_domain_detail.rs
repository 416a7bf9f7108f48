//! DescribeLiveDomainDetail: one domain's configuration (operations.md, Domains).

use crate::error::ApiError;
use crate::names::DomainName;
use crate::params::Params;

/// The checked input: the domain to describe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeLiveDomainDetailInput {
    /// The domain (`DomainName`, required).
    pub domain: DomainName,
}

impl DescribeLiveDomainDetailInput {
    /// Parses the parameters. Errors: `MissingParameter` / `InvalidParameter` for `DomainName`.
    pub fn parse(params: &Params) -> Result<Self, ApiError> {
        Ok(Self {
            domain: super::required_domain(params)?,
        })
    }
}
