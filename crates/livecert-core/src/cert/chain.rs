//! The chain (certificates.md §4): which certificate is the leaf, and in which order the others
//! follow it.
//!
//! The leaf is the certificate whose public key is the private key's, wherever it stands. The
//! others are ordered from the leaf towards the root by issuer name → subject name, checked with the
//! authority / subject key identifiers when both are present; signatures are not verified (the
//! client does that). A cross-signed variant — the same subject and key as a chain member, from
//! another issuer — links too, and variants follow each other, cross-signed before self-signed.
//! A certificate that links to nothing is refused, naming it, because it is either a mistake or a
//! sign that the wrong bundle was pasted.

use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::FromDer;
use x509_parser::x509::{SubjectPublicKeyInfo, X509Name};

use crate::timefmt::format_utc;

/// A certificate of SSLPub, parsed, with where it stood.
pub struct Cert<'a> {
    /// The certificate (its `as_raw` is the DER without OpenSSL trust settings).
    pub x509: X509Certificate<'a>,
    /// Its 1-based position among SSLPub's certificate blocks, for messages.
    pub position: usize,
}

/// Why no single leaf was found.
pub enum LeafError {
    /// No certificate has the key's public key.
    NoMatch,
    /// Two different certificates have it (positions in `certs`).
    Two(usize, usize),
}

/// Parses one certificate's DER. `trusted`: the block was OpenSSL's `TRUSTED CERTIFICATE`, whose
/// DER carries trust settings after the certificate; otherwise trailing bytes are an error.
///
/// The error is the reason, for a sentence that names the certificate.
pub fn parse(der: &[u8], trusted: bool) -> Result<X509Certificate<'_>, String> {
    match X509Certificate::from_der(der) {
        Ok((rest, cert)) if rest.is_empty() || trusted => Ok(cert),
        Ok((rest, _)) => Err(format!("{} bytes follow the certificate's DER", rest.len())),
        Err(x509_parser::nom::Err::Incomplete(_)) => {
            Err("its DER ends too early: the base64 was cut short".to_owned())
        }
        Err(_) => Err(
            "its DER is not the structure of an X.509 certificate: is it a key, a CSR or PKCS#7?"
                .to_owned(),
        ),
    }
}

/// The index in `certs` of the one certificate whose public key is `key_spki`'s.
pub fn find_leaf(certs: &[Cert<'_>], key_spki: &[u8]) -> Result<usize, LeafError> {
    let Ok((_, key_spki)) = SubjectPublicKeyInfo::from_der(key_spki) else {
        return Err(LeafError::NoMatch);
    };
    let mut matching = certs
        .iter()
        .enumerate()
        .filter(|(_, c)| same_public_key(c.x509.public_key(), &key_spki))
        .map(|(i, _)| i);
    match (matching.next(), matching.next()) {
        (Some(a), Some(b)) => Err(LeafError::Two(a, b)),
        (Some(leaf), None) => Ok(leaf),
        (None, _) => Err(LeafError::NoMatch),
    }
}

/// Orders `certs` (distinct certificates) from `leaf` towards the root; returns indices into
/// `certs`, leaf first. The error is the refusal sentence naming the certificate that links to
/// nothing.
pub fn order(certs: &[Cert<'_>], leaf: usize) -> Result<Vec<usize>, String> {
    let mut chain: Vec<usize> = vec![leaf];
    let mut remaining: Vec<usize> = (0..certs.len()).filter(|&i| i != leaf).collect();
    let get = |i: usize| certs.get(i).map(|c| &c.x509);
    while !remaining.is_empty() {
        let Some(next) = pick_next(certs, &chain, &remaining) else {
            let stray = remaining.first().and_then(|&i| certs.get(i));
            let leaf_name = get(leaf).map(describe).unwrap_or_default();
            return Err(match stray {
                Some(stray) => format!(
                    "Certificate #{} in SSLPub (\"{}\", issued by \"{}\") is not part of the \
                     chain of the leaf \"{}\": it issued no certificate of the chain and is no \
                     cross-signed copy of one. Remove it, or add the intermediate certificates \
                     that connect it.",
                    stray.position,
                    describe(&stray.x509),
                    stray.x509.issuer(),
                    leaf_name
                ),
                None => format!("The chain of the leaf \"{leaf_name}\" cannot be ordered."),
            });
        };
        remaining.retain(|&i| i != next);
        chain.push(next);
    }
    Ok(chain)
}

/// A name for messages: the subject, or the serial when the subject is empty.
pub fn describe(cert: &X509Certificate<'_>) -> String {
    let subject = cert.subject().to_string();
    if subject.is_empty() {
        format!("empty subject, serial {}", cert.raw_serial_as_string())
    } else {
        subject
    }
}

/// A longer name for telling two certificates of the same subject apart.
pub fn describe_long(cert: &X509Certificate<'_>) -> String {
    format!(
        "\"{}\" (serial {}, notAfter {})",
        describe(cert),
        cert.raw_serial_as_string(),
        format_utc(cert.validity().not_after.timestamp())
    )
}

/// The next certificate to append, by priority: a variant of the last member, an issuer of the
/// last member, then an issuer or variant of any member (the latest first). Among candidates of
/// the same priority a certificate that is not self-signed comes first, then input order.
fn pick_next(certs: &[Cert<'_>], chain: &[usize], remaining: &[usize]) -> Option<usize> {
    let x509 = |i: usize| certs.get(i).map(|c| &c.x509);
    let last = x509(*chain.last()?)?;
    let members: Vec<&X509Certificate<'_>> = chain.iter().rev().filter_map(|&i| x509(i)).collect();
    let best = |links: &dyn Fn(&X509Certificate<'_>) -> bool| -> Option<usize> {
        let candidates: Vec<(usize, &X509Certificate<'_>)> = remaining
            .iter()
            .filter_map(|&i| x509(i).map(|c| (i, c)))
            .filter(|(_, c)| links(c))
            .collect();
        candidates
            .iter()
            .find(|(_, c)| !is_self_signed(c))
            .or_else(|| candidates.first())
            .map(|(i, _)| *i)
    };
    best(&|c| is_variant(c, last))
        .or_else(|| best(&|c| issued(last, c)))
        .or_else(|| best(&|c| members.iter().any(|m| is_variant(c, m) || issued(m, c))))
}

/// Whether `parent` issued `child` by name, and by key identifier where both are present.
fn issued(child: &X509Certificate<'_>, parent: &X509Certificate<'_>) -> bool {
    names_equal(child.issuer(), parent.subject())
        && match (authority_key_id(child), subject_key_id(parent)) {
            (Some(aki), Some(ski)) => aki == ski,
            _ => true,
        }
}

/// Whether `a` and `b` are variants of one CA certificate: the same subject and public key.
fn is_variant(a: &X509Certificate<'_>, b: &X509Certificate<'_>) -> bool {
    names_equal(a.subject(), b.subject()) && a.public_key().raw == b.public_key().raw
}

/// Whether the certificate names itself as issuer (signatures are not verified).
fn is_self_signed(cert: &X509Certificate<'_>) -> bool {
    issued(cert, cert)
}

/// Name equality: the same DER, or the same attributes rendered, ignoring ASCII case (string
/// types differ between CAs: PrintableString in one certificate, UTF8String in the next).
fn names_equal(a: &X509Name<'_>, b: &X509Name<'_>) -> bool {
    if a.as_raw() == b.as_raw() {
        return true;
    }
    let (a, b) = (a.to_string(), b.to_string());
    !a.is_empty() && a.eq_ignore_ascii_case(&b)
}

/// Whether two SubjectPublicKeyInfos hold the same key.
fn same_public_key(a: &SubjectPublicKeyInfo<'_>, b: &SubjectPublicKeyInfo<'_>) -> bool {
    a.algorithm.algorithm == b.algorithm.algorithm
        && a.subject_public_key.data == b.subject_public_key.data
}

fn subject_key_id<'a>(cert: &'a X509Certificate<'_>) -> Option<&'a [u8]> {
    cert.iter_extensions()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(id) => Some(id.0),
            _ => None,
        })
}

fn authority_key_id<'a>(cert: &'a X509Certificate<'_>) -> Option<&'a [u8]> {
    cert.iter_extensions()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                aki.key_identifier.as_ref().map(|id| id.0)
            }
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use rcgen::{KeyPair, PublicKeyData as _};

    use super::super::testutil::{p256, self_signed_leaf, Ca};
    use super::*;

    /// A hierarchy: root → intermediate → leaf, a second root that cross-signs the first, and an
    /// unrelated CA.
    struct Pki {
        root: Ca,
        inter: Ca,
        other_root: Ca,
        root_cross: Vec<u8>,
        unrelated: Ca,
        leaf_key: KeyPair,
        leaf: Vec<u8>,
    }

    fn pki() -> &'static Pki {
        static PKI: OnceLock<Pki> = OnceLock::new();
        PKI.get_or_init(|| {
            let root = Ca::root("Test Root");
            let inter = root.intermediate("Test Intermediate");
            let other_root = Ca::root("Other Root");
            let root_cross = other_root.cross_sign(&root).der().to_vec();
            let unrelated = Ca::root("Unrelated CA");
            let (leaf_key, _) = p256();
            let leaf = inter
                .leaf(&leaf_key, Some("www.example.com"), &["www.example.com"])
                .der()
                .to_vec();
            Pki {
                root,
                inter,
                other_root,
                root_cross,
                unrelated,
                leaf_key,
                leaf,
            }
        })
    }

    /// Parses `ders` and returns the subjects' CNs in chain order.
    fn ordered(ders: &[&[u8]], key_spki: &[u8]) -> Result<Vec<String>, String> {
        let certs: Vec<Cert<'_>> = ders
            .iter()
            .enumerate()
            .map(|(i, der)| Cert {
                x509: parse(der, false).unwrap(),
                position: i + 1,
            })
            .collect();
        let leaf = find_leaf(&certs, key_spki).map_err(|_| "no single leaf".to_owned())?;
        let chain = order(&certs, leaf)?;
        Ok(chain
            .into_iter()
            .map(|i| {
                let c = &certs[i].x509;
                let cn = c
                    .subject()
                    .iter_common_name()
                    .next()
                    .unwrap()
                    .as_str()
                    .unwrap();
                let issuer = c
                    .issuer()
                    .iter_common_name()
                    .next()
                    .unwrap()
                    .as_str()
                    .unwrap();
                if cn == issuer {
                    cn.to_owned()
                } else {
                    format!("{cn} <- {issuer}")
                }
            })
            .collect())
    }

    fn spki(key: &KeyPair) -> Vec<u8> {
        key.subject_public_key_info()
    }

    #[test]
    fn any_input_order_gives_leaf_then_towards_the_root() {
        let p = pki();
        let (leaf, inter, root) = (
            &p.leaf[..],
            p.inter.cert.der().as_ref(),
            p.root.cert.der().as_ref(),
        );
        let expected = [
            "www.example.com <- Test Intermediate",
            "Test Intermediate <- Test Root",
            "Test Root",
        ];
        for ders in [
            [leaf, inter, root],
            [root, inter, leaf],
            [inter, leaf, root],
            [root, leaf, inter],
        ] {
            assert_eq!(ordered(&ders, &spki(&p.leaf_key)).unwrap(), expected);
        }
    }

    /// §4: variants follow each other, cross-signed before self-signed, and the cross-signer
    /// follows them.
    #[test]
    fn cross_signed_variants_follow_each_other() {
        let p = pki();
        let ders: [&[u8]; 5] = [
            p.root.cert.der(),
            p.other_root.cert.der(),
            &p.leaf,
            &p.root_cross,
            p.inter.cert.der(),
        ];
        assert_eq!(
            ordered(&ders, &spki(&p.leaf_key)).unwrap(),
            [
                "www.example.com <- Test Intermediate",
                "Test Intermediate <- Test Root",
                "Test Root <- Other Root",
                "Test Root",
                "Other Root",
            ]
        );
    }

    #[test]
    fn a_certificate_that_links_to_nothing_is_named() {
        let p = pki();
        let ders: [&[u8]; 3] = [&p.leaf, p.unrelated.cert.der(), p.inter.cert.der()];
        let err = ordered(&ders, &spki(&p.leaf_key)).unwrap_err();
        assert!(
            err.contains("Certificate #2") && err.contains("Unrelated CA"),
            "{err}"
        );
        // A second leaf issued by the same intermediate is not on the path to the root either.
        let (other_key, _) = p256();
        let sibling = p.inter.leaf(
            &other_key,
            Some("other.example.com"),
            &["other.example.com"],
        );
        let ders: [&[u8]; 3] = [&p.leaf, p.inter.cert.der(), sibling.der()];
        let err = ordered(&ders, &spki(&p.leaf_key)).unwrap_err();
        assert!(err.contains("other.example.com"), "{err}");
    }

    /// Authority / subject key identifiers decide between two CAs of the same name.
    #[test]
    fn key_identifiers_tell_same_named_issuers_apart() {
        let p = pki();
        let impostor = Ca::root("Test Intermediate");
        // The impostor has the intermediate's name but another key: with the key identifiers it
        // issued nothing in the chain, so it links to nothing.
        let ders: [&[u8]; 3] = [&p.leaf, impostor.cert.der(), p.inter.cert.der()];
        let err = ordered(&ders, &spki(&p.leaf_key)).unwrap_err();
        assert!(err.contains("Certificate #2"), "{err}");
    }

    #[test]
    fn a_self_signed_leaf_stands_alone() {
        let (key, _) = p256();
        let leaf = self_signed_leaf(&key, Some("self.example.com"), &["self.example.com"]);
        assert_eq!(
            ordered(&[leaf.der()], &spki(&key)).unwrap(),
            ["self.example.com"]
        );
    }

    #[test]
    fn two_certificates_for_one_key_are_reported() {
        let p = pki();
        let start = time::OffsetDateTime::now_utc();
        let renewed = p.inter.leaf_valid(
            &p.leaf_key,
            Some("www.example.com"),
            &["www.example.com"],
            start,
            start + time::Duration::days(200),
        );
        let certs: Vec<Cert<'_>> = [&p.leaf[..], renewed.der()]
            .iter()
            .enumerate()
            .map(|(i, der)| Cert {
                x509: parse(der, false).unwrap(),
                position: i + 1,
            })
            .collect();
        assert!(matches!(
            find_leaf(&certs, &spki(&p.leaf_key)),
            Err(LeafError::Two(0, 1))
        ));
        assert!(matches!(
            find_leaf(&certs, &spki(&p.unrelated.key)),
            Err(LeafError::NoMatch)
        ));
    }

    #[test]
    fn trailing_bytes_are_refused_unless_trusted() {
        let mut der = pki().leaf.clone();
        der.extend_from_slice(&[0x30, 0x00]);
        assert!(parse(&der, false).unwrap_err().contains("2 bytes follow"));
        assert!(parse(&der, true).is_ok());
        assert!(parse(b"\x30\x03\x02\x01\x01", false).is_err());
    }
}
