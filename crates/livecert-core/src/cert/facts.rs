//! The facts kept for every record (certificates.md §6), whether a record covers a domain (§5),
//! and the generated CertName (operations.md row 22).
//!
//! Facts are derived once, at upload, from the leaf and the key; coverage and names are then
//! decided from the facts alone, so no hot path ever parses a certificate again.

use sha2::{Digest, Sha256};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::x509::AttributeTypeAndValue;

use super::key::PrivateKey;
use super::CertFacts;
use crate::names::DomainName;
use crate::timefmt::format_yyyymmdd;

/// Longest base of a generated CertName, in characters (operations.md row 22); with the
/// `-yyyymmdd-xxxxxxxx` suffix the name stays within the 128-character CertName limit.
pub const GENERATED_NAME_BASE_CHARS: usize = 110;

/// Whether a record with these facts covers `domain` (certificates.md §5).
///
/// The leaf's DNS SANs decide; only when it has none, its subject CN. Case-insensitive.
/// `*.example.com` covers `a.example.com`, not `example.com` nor `a.b.example.com`; a wildcard
/// domain is covered only by that same wildcard name. IP SANs are never among the names.
pub fn covers(facts: &CertFacts, domain: &DomainName) -> bool {
    let names: Vec<&str> = if facts.dns_sans.is_empty() {
        facts.subject_cn.iter().map(String::as_str).collect()
    } else {
        facts.dns_sans.iter().map(String::as_str).collect()
    };
    names.into_iter().any(|name| name_covers(name, domain))
}

/// The generated CertName of operations.md row 22: first DNS SAN, else CN, else `cert` (a leading
/// `*.` written `wildcard.`, control characters dropped), cut to 110 characters, then
/// `-<notAfter as yyyymmdd, UTC>-<first 8 lower-case hex of the leaf SHA-256>`.
pub fn generated_cert_name(facts: &CertFacts) -> String {
    let source = facts
        .dns_sans
        .first()
        .or(facts.subject_cn.as_ref())
        .map_or("", String::as_str);
    let cleaned: String = source.chars().filter(|c| !c.is_control()).collect();
    let cleaned = cleaned.trim();
    let base = if cleaned.is_empty() {
        String::from("cert")
    } else if let Some(parent) = cleaned.strip_prefix("*.") {
        format!("wildcard.{parent}")
    } else {
        cleaned.to_owned()
    };
    let base: String = base.chars().take(GENERATED_NAME_BASE_CHARS).collect();
    let fingerprint: String = facts.fingerprint_sha256.chars().take(8).collect();
    format!(
        "{base}-{}-{}",
        format_yyyymmdd(facts.not_after),
        fingerprint.to_ascii_lowercase()
    )
}

/// Derives the facts of §6 from the leaf and its private key.
pub fn derive(leaf: &X509Certificate<'_>, key: &PrivateKey) -> CertFacts {
    let dns_sans = leaf
        .subject_alternative_name()
        .ok()
        .flatten()
        .map(|san| {
            san.value
                .general_names
                .iter()
                .filter_map(|name| match name {
                    GeneralName::DNSName(dns) => Some(dns.to_ascii_lowercase()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let serial = hex::encode(leaf.raw_serial());
    let serial = serial.trim_start_matches('0');
    CertFacts {
        fingerprint_sha256: hex::encode(Sha256::digest(leaf.as_raw())),
        spki_sha256: hex::encode(Sha256::digest(leaf.public_key().raw)),
        subject_cn: leaf
            .subject()
            .iter_common_name()
            .next()
            .and_then(attribute_text),
        dns_sans,
        issuer_cn: leaf
            .issuer()
            .iter_common_name()
            .next()
            .and_then(attribute_text),
        issuer_org: leaf
            .issuer()
            .iter_organization()
            .next()
            .and_then(attribute_text),
        serial_hex: if serial.is_empty() {
            String::from("0")
        } else {
            serial.to_owned()
        },
        not_before: leaf.validity().not_before.timestamp(),
        not_after: leaf.validity().not_after.timestamp(),
        key_algorithm: key.algorithm,
        key_bits: key.bits,
    }
}

/// The text of a name attribute: the usual string types, else UTF-8 bytes, else nothing.
fn attribute_text(attr: &AttributeTypeAndValue<'_>) -> Option<String> {
    attr.as_str()
        .ok()
        .map(str::to_owned)
        .or_else(|| std::str::from_utf8(attr.as_slice()).ok().map(str::to_owned))
}

/// Whether one certificate name covers `domain`.
fn name_covers(name: &str, domain: &DomainName) -> bool {
    let target = domain.as_str();
    if name.eq_ignore_ascii_case(target) {
        return true;
    }
    if domain.is_wildcard() {
        return false;
    }
    let Some(parent) = name.strip_prefix("*.") else {
        return false;
    };
    let Some((label, rest)) = target.split_once('.') else {
        return false;
    };
    !label.is_empty() && !parent.is_empty() && rest.eq_ignore_ascii_case(parent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cert::KeyAlgorithm;

    fn facts(sans: &[&str], cn: Option<&str>) -> CertFacts {
        CertFacts {
            fingerprint_sha256: "ABCDEF0123456789".repeat(4),
            spki_sha256: "00".repeat(32),
            subject_cn: cn.map(str::to_owned),
            dns_sans: sans.iter().map(|s| (*s).to_owned()).collect(),
            issuer_cn: None,
            issuer_org: None,
            serial_hex: "1".into(),
            not_before: 0,
            not_after: 1_795_000_000, // 2026-11-18
            key_algorithm: KeyAlgorithm::EcdsaP256,
            key_bits: 256,
        }
    }

    fn d(name: &str) -> DomainName {
        DomainName::parse(name).unwrap()
    }

    /// §5, one row per rule.
    #[test]
    fn coverage_rules() {
        let wildcard = facts(&["*.example.com"], None);
        assert!(covers(&wildcard, &d("a.example.com")));
        assert!(covers(&wildcard, &d("A.Example.COM")));
        assert!(!covers(&wildcard, &d("example.com")));
        assert!(!covers(&wildcard, &d("a.b.example.com")));
        assert!(covers(&wildcard, &d("*.example.com")));
        assert!(!covers(&wildcard, &d("*.other.com")));

        let exact = facts(&["Live.Example.com", "a.example.com"], None);
        assert!(covers(&exact, &d("live.example.com")));
        assert!(covers(&exact, &d("a.example.com")));
        assert!(!covers(&exact, &d("b.example.com")));
        // A wildcard domain is covered only by the wildcard SAN itself, not by its members.
        assert!(!covers(&exact, &d("*.example.com")));
        let both = facts(&["a.example.com", "*.b.example.com"], None);
        assert!(!covers(&both, &d("*.example.com")));
        assert!(covers(&both, &d("*.b.example.com")));
    }

    #[test]
    fn cn_counts_only_without_dns_sans() {
        assert!(covers(
            &facts(&[], Some("cn.example.com")),
            &d("cn.example.com")
        ));
        assert!(covers(
            &facts(&[], Some("*.example.com")),
            &d("x.example.com")
        ));
        assert!(!covers(
            &facts(&["san.example.com"], Some("cn.example.com")),
            &d("cn.example.com")
        ));
        assert!(!covers(&facts(&[], None), &d("example.com")));
    }

    /// Row 22: first DNS SAN, else CN, else `cert`; `*.` written `wildcard.`; 110 characters.
    #[test]
    fn generated_names() {
        let f = facts(&["*.example.com", "example.com"], Some("cn.example.com"));
        assert_eq!(
            generated_cert_name(&f),
            "wildcard.example.com-20261118-abcdef01"
        );
        assert_eq!(
            generated_cert_name(&facts(&[], Some("CN Name"))),
            "CN Name-20261118-abcdef01"
        );
        assert_eq!(
            generated_cert_name(&facts(&[], None)),
            "cert-20261118-abcdef01"
        );
        assert_eq!(
            generated_cert_name(&facts(&[], Some("\u{7}"))),
            "cert-20261118-abcdef01"
        );
        let long = format!("{}.example.com", "a".repeat(200));
        let name = generated_cert_name(&facts(&[&long], None));
        assert_eq!(name.chars().count(), 110 + 18);
        assert!(name.starts_with(&"a".repeat(110)));
        assert!(crate::names::CertName::parse(&name).is_ok());
        let unicode = "é".repeat(150);
        let name = generated_cert_name(&facts(&[], Some(&unicode)));
        assert_eq!(name.chars().count(), 128);
    }
}
