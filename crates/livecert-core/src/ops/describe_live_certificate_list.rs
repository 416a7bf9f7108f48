//! DescribeLiveCertificateList: the caller's library, or the records bound to some domains.

use crate::error::ApiError;
use crate::names::DomainName;
use crate::params::Params;

/// The checked input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeLiveCertificateListInput {
    /// `DomainName`: comma-separated domains whose bound records to list; `None` for the whole
    /// library.
    pub domains: Option<Vec<DomainName>>,
}

impl DescribeLiveCertificateListInput {
    /// Parses the parameters. Errors: `InvalidParameter` naming `DomainName` for a bad entry.
    pub fn parse(params: &Params) -> Result<Self, ApiError> {
        let Some(raw) = params.non_empty_text("DomainName")? else {
            return Ok(Self { domains: None });
        };
        let mut domains = Vec::new();
        for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let d = DomainName::parse(part)?;
            if !domains.contains(&d) {
                domains.push(d);
            }
        }
        if domains.is_empty() {
            return Err(ApiError::invalid(
                "DomainName",
                "It lists no domain: give one or more domains separated by commas, or omit it for the whole library.",
            ));
        }
        Ok(Self {
            domains: Some(domains),
        })
    }
}
