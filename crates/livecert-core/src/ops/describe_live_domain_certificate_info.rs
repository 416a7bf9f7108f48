//! DescribeLiveDomainCertificateInfo: a domain's certificate binding (operations.md), and the
//! derived fields `CertDomainName` and `CertLife`.

use crate::cert::CertFacts;
use crate::error::ApiError;
use crate::names::DomainName;
use crate::params::Params;

/// The checked input: the domain whose binding to describe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeLiveDomainCertificateInfoInput {
    /// The domain (`DomainName`, required).
    pub domain: DomainName,
}

impl DescribeLiveDomainCertificateInfoInput {
    /// Parses the parameters. Errors: `MissingParameter` / `InvalidParameter` for `DomainName`.
    pub fn parse(params: &Params) -> Result<Self, ApiError> {
        Ok(Self {
            domain: super::required_domain(params)?,
        })
    }
}

/// `CertDomainName`: the first DNS SAN, else the subject CN, else empty.
pub fn cert_domain_name(facts: &CertFacts) -> String {
    facts
        .dns_sans
        .first()
        .cloned()
        .or_else(|| facts.subject_cn.clone())
        .unwrap_or_default()
}

/// `CertOrg`: the issuer's O, else the issuer's CN, else empty.
pub fn cert_org(facts: &CertFacts) -> String {
    facts
        .issuer_org
        .clone()
        .or_else(|| facts.issuer_cn.clone())
        .unwrap_or_default()
}

/// `CertLife` from notBefore and notAfter (Unix seconds): d = whole days between them;
/// d < 60 → `<d> days`; d < 365 → `<round(d/30.44)> months`; otherwise `<round(d/365.25)> year(s)`.
pub fn cert_life(not_before: i64, not_after: i64) -> String {
    let days = (not_after - not_before).max(0) / 86_400;
    if days < 60 {
        return format!("{days} days");
    }
    let d = days as f64;
    if days < 365 {
        let months = (d / 30.44).round() as i64;
        return format!("{months} months");
    }
    let years = (d / 365.25).round() as i64;
    if years == 1 {
        "1 year".to_owned()
    } else {
        format!("{years} years")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cert_life_follows_the_documented_examples() {
        let day = 86_400;
        assert_eq!(cert_life(0, 90 * day), "3 months");
        assert_eq!(cert_life(0, 397 * day), "1 year");
        assert_eq!(cert_life(0, 3650 * day), "10 years");
        assert_eq!(cert_life(0, 59 * day + 3600), "59 days");
        assert_eq!(cert_life(0, 364 * day), "12 months");
    }
}
