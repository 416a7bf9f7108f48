//! What a stored chain says beyond the facts kept for its record, read again on demand for the
//! rare reads that show it (CAS `GetUserCertificateDetail`: `CertChain`, `OrgName`, `Country`,
//! `Province`, `City`). Never on a hot path.

use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;
use x509_parser::x509::AttributeTypeAndValue;

use super::stored_chain_der;

/// One certificate of a chain, as CAS's `CertChain` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainEntry {
    /// The subject CN (empty when none).
    pub common_name: String,
    /// The issuer CN (empty when none).
    pub issuer_common_name: String,
    /// notBefore, Unix seconds.
    pub not_before: i64,
    /// notAfter, Unix seconds.
    pub not_after: i64,
}

/// The leaf's subject organisation and place (each `None` when the subject has none).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeafSubject {
    /// O.
    pub organization: Option<String>,
    /// C.
    pub country: Option<String>,
    /// ST.
    pub province: Option<String>,
    /// L.
    pub locality: Option<String>,
}

/// Every certificate of a stored chain (leaf first) and the leaf's subject details.
///
/// Errors: a chain that does not decode or a certificate that does not parse (data read back is
/// never trusted), with what is wrong.
pub fn chain_details(chain_pem: &str) -> Result<(Vec<ChainEntry>, LeafSubject), String> {
    let ders = stored_chain_der(chain_pem)?;
    if ders.is_empty() {
        return Err("the chain holds no certificate".into());
    }
    let mut entries = Vec::with_capacity(ders.len());
    let mut subject = LeafSubject::default();
    for (i, der) in ders.iter().enumerate() {
        let (_, cert) = X509Certificate::from_der(der)
            .map_err(|e| format!("certificate #{} of the chain does not parse: {e}", i + 1))?;
        let first =
            |it: &mut dyn Iterator<Item = &AttributeTypeAndValue<'_>>| it.next().and_then(text);
        if i == 0 {
            subject = LeafSubject {
                organization: first(&mut cert.subject().iter_organization()),
                country: first(&mut cert.subject().iter_country()),
                province: first(&mut cert.subject().iter_state_or_province()),
                locality: first(&mut cert.subject().iter_locality()),
            };
        }
        entries.push(ChainEntry {
            common_name: first(&mut cert.subject().iter_common_name()).unwrap_or_default(),
            issuer_common_name: first(&mut cert.issuer().iter_common_name()).unwrap_or_default(),
            not_before: cert.validity().not_before.timestamp(),
            not_after: cert.validity().not_after.timestamp(),
        });
    }
    Ok((entries, subject))
}

fn text(attr: &AttributeTypeAndValue<'_>) -> Option<String> {
    attr.as_str()
        .ok()
        .map(str::to_owned)
        .or_else(|| std::str::from_utf8(attr.as_slice()).ok().map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chain_lists_each_certificate_and_the_leafs_subject() {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.distinguished_name
            .push(rcgen::DnType::CommonName, "Test CA");
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::from_params(&ca, &ca_key);
        let key = rcgen::KeyPair::generate().unwrap();
        let mut leaf = rcgen::CertificateParams::new(vec!["a.example.com".to_owned()]).unwrap();
        leaf.distinguished_name
            .push(rcgen::DnType::CommonName, "a.example.com");
        leaf.distinguished_name
            .push(rcgen::DnType::OrganizationName, "Example Ltd");
        leaf.distinguished_name
            .push(rcgen::DnType::CountryName, "CN");
        let leaf = leaf.signed_by(&key, &issuer).unwrap();
        let chain = format!("{}{}", leaf.pem(), ca_cert.pem());
        let (entries, subject) = chain_details(&chain).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].common_name, "a.example.com");
        assert_eq!(entries[0].issuer_common_name, "Test CA");
        assert_eq!(entries[1].common_name, "Test CA");
        assert_eq!(subject.organization.as_deref(), Some("Example Ltd"));
        assert_eq!(subject.country.as_deref(), Some("CN"));
        assert_eq!(subject.province, None);
        assert!(chain_details("not pem").is_err());
    }
}
