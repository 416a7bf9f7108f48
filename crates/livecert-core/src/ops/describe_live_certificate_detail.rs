//! DescribeLiveCertificateDetail: one library record by CertName (never its private key).

use crate::error::ApiError;
use crate::names::CertName;
use crate::params::Params;

/// The checked input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeLiveCertificateDetailInput {
    /// `CertName`, required.
    pub cert_name: CertName,
}

impl DescribeLiveCertificateDetailInput {
    /// Parses the parameters. Errors: `MissingParameter` for an absent or empty `CertName`;
    /// `InvalidParameter` for one with control characters or over 128 characters.
    pub fn parse(params: &Params) -> Result<Self, ApiError> {
        let raw = params
            .non_empty_text("CertName")?
            .ok_or_else(|| ApiError::missing("CertName"))?;
        let cert_name =
            CertName::parse(raw).map_err(|e| ApiError::invalid("CertName", e.detail))?;
        Ok(Self { cert_name })
    }
}
