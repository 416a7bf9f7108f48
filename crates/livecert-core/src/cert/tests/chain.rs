//! Key match, the leaf and the order of the chain (§4), validity, and the names a chain covers (§5,
//! row 22).

use super::*;

// ---- Key match, chain, validity ----------------------------------------------------------

#[test]
fn a_key_of_no_certificate_is_a_mismatch_with_both_fingerprints() {
    let u = upload();
    let e = refused(
        &u.chain(),
        &u.other_key_pem,
        ErrorCode::CertificateMissMatchKey,
    );
    assert!(e
        .message()
        .starts_with("The certificate is not match the private key. "));
    let other = KeyPair::from_pem(&u.other_key_pem).unwrap();
    let key_sha = hex::encode(Sha256::digest(
        rcgen::PublicKeyData::subject_public_key_info(&other),
    ));
    let leaf = x509_parser::parse_x509_certificate(u.leaf.der()).unwrap().1;
    let first_sha = hex::encode(Sha256::digest(leaf.public_key().raw));
    assert!(
        e.detail.contains(&key_sha) && e.detail.contains(&first_sha),
        "{}",
        e.detail
    );
    // An RSA key against an ECDSA certificate too.
    refused(
        &u.chain(),
        &fixtures().rsa2048_pkcs8,
        ErrorCode::CertificateMissMatchKey,
    );
}

#[test]
fn the_leaf_is_found_wherever_it_stands_and_two_leaves_are_named() {
    let u = upload();
    let middle = format!(
        "{}{}{}",
        u.inter.cert.pem(),
        u.leaf.pem(),
        u.root.cert.pem()
    );
    assert_eq!(
        check(&middle, &u.leaf_key_pem).unwrap().chain_der[0],
        u.leaf.der().to_vec()
    );

    let start = OffsetDateTime::now_utc() - Duration::hours(1);
    let renewed = u.inter.leaf_valid(
        &u.leaf_key,
        Some("www.example.com"),
        &["www.example.com"],
        start,
        start + Duration::days(120),
    );
    let both = format!("{}{}{}", u.leaf.pem(), renewed.pem(), u.inter.cert.pem());
    let e = refused(&both, &u.leaf_key_pem, ErrorCode::CertificateFormatError);
    assert!(
        e.detail.contains("certificate #1") && e.detail.contains("certificate #2"),
        "{}",
        e.detail
    );
}

#[test]
fn a_stray_certificate_is_named() {
    let u = upload();
    let stray = format!("{}{}", u.chain(), u.other_root.cert.pem());
    let e = refused(&stray, &u.leaf_key_pem, ErrorCode::CertificateFormatError);
    assert!(
        e.detail.contains("Other Root") && e.detail.contains("#4"),
        "{}",
        e.detail
    );
}

#[test]
fn a_cross_signed_variant_links() {
    let u = upload();
    let cross = u.other_root.cross_sign(&u.root);
    let text = format!(
        "{}{}{}{}",
        u.root.cert.pem(),
        cross.pem(),
        u.inter.cert.pem(),
        u.leaf.pem()
    );
    let checked = check(&text, &u.leaf_key_pem).unwrap();
    let expected: Vec<Vec<u8>> = [
        u.leaf.der(),
        u.inter.cert.der(),
        cross.der(),
        u.root.cert.der(),
    ]
    .iter()
    .map(|d| d.to_vec())
    .collect();
    assert_eq!(checked.chain_der, expected);
}

/// What `openssl req -x509` makes: a self-signed leaf, even with CA:TRUE.
#[test]
fn a_self_signed_leaf_is_accepted() {
    let (key, key_pem) = p256();
    let plain = self_signed_leaf(&key, Some("self.example.com"), &["self.example.com"]);
    assert_eq!(check(&plain.pem(), &key_pem).unwrap().chain_der.len(), 1);
    let mut params = CertificateParams::new(vec!["ca.example.com".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "ca.example.com");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_leaf = params.self_signed(&key).unwrap();
    assert!(check(&ca_leaf.pem(), &key_pem).is_ok());
}

#[test]
fn expiry_and_the_five_minute_grace() {
    let u = upload();
    let leaf = x509_parser::parse_x509_certificate(u.leaf.der()).unwrap().1;
    let (not_before, not_after) = (
        leaf.validity().not_before.timestamp(),
        leaf.validity().not_after.timestamp(),
    );
    let (chain, key) = (u.chain(), u.leaf_key_pem.as_bytes());
    let at = |t: i64| check_upload(Some(chain.as_bytes()), Some(key), t);

    assert!(at(not_after).is_ok());
    let e = at(not_after + 1).unwrap_err();
    assert_eq!(e.code, ErrorCode::CertificateExpired);
    assert!(e.detail.contains(&format_utc(not_after)), "{}", e.detail);
    assert!(e.message().starts_with("The certificate is expired. "));

    assert!(at(not_before - NOT_BEFORE_GRACE_SECS).is_ok());
    let e = at(not_before - NOT_BEFORE_GRACE_SECS - 1).unwrap_err();
    assert_eq!(e.code, ErrorCode::CertificateStatusError);
    assert!(e.detail.contains(&format_utc(not_before)), "{}", e.detail);
    assert!(e.message().starts_with("The certificate status is error. "));
}

/// Expired intermediates are accepted: the leaf's validity decides (§4).
#[test]
fn an_expired_leaf_is_refused_but_an_expired_intermediate_is_not() {
    let u = upload();
    let past = OffsetDateTime::now_utc() - Duration::days(30);
    let expired = u.inter.leaf_valid(
        &u.leaf_key,
        Some("old.example.com"),
        &["old.example.com"],
        past,
        past + Duration::days(10),
    );
    refused(
        &format!("{}{}", expired.pem(), u.inter.cert.pem()),
        &u.leaf_key_pem,
        ErrorCode::CertificateExpired,
    );
    let future = OffsetDateTime::now_utc() + Duration::days(2);
    let early = u.inter.leaf_valid(
        &u.leaf_key,
        Some("new.example.com"),
        &["new.example.com"],
        future,
        future + Duration::days(10),
    );
    refused(
        &early.pem(),
        &u.leaf_key_pem,
        ErrorCode::CertificateStatusError,
    );

    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "Old Intermediate");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.not_before = past;
    params.not_after = past + Duration::days(1);
    let (old_key, _) = p256();
    let old_inter = params
        .signed_by(
            &old_key,
            &rcgen::Issuer::from_params(&u.root.params, &u.root.key),
        )
        .unwrap();
    let old_issuer = rcgen::Issuer::from_params(&params, &old_key);
    let mut leaf_params = CertificateParams::new(vec!["x.example.com".to_owned()]).unwrap();
    leaf_params.not_before = OffsetDateTime::now_utc() - Duration::days(1);
    leaf_params.not_after = OffsetDateTime::now_utc() + Duration::days(1);
    let leaf = leaf_params.signed_by(&u.leaf_key, &old_issuer).unwrap();
    assert!(check(
        &format!("{}{}", leaf.pem(), old_inter.pem()),
        &u.leaf_key_pem
    )
    .is_ok());
}

// ---- Names (§5, row 22) ----------------------------------------------------------------

#[test]
fn ip_sans_never_cover_and_cn_counts_only_without_dns_sans() {
    let u = upload();
    let ip_only = u.inter.leaf(&u.leaf_key, None, &["192.0.2.1"]);
    let facts = check(&ip_only.pem(), &u.leaf_key_pem).unwrap().facts;
    assert!(facts.dns_sans.is_empty());
    assert!(!covers(&facts, &DomainName::parse("192.0.2.1").unwrap()));
    assert_eq!(generated_cert_name(&facts).split('-').next(), Some("cert"));

    let cn_only = u.inter.leaf(&u.leaf_key, Some("cn.example.com"), &[]);
    let facts = check(&cn_only.pem(), &u.leaf_key_pem).unwrap().facts;
    assert!(covers(
        &facts,
        &DomainName::parse("cn.example.com").unwrap()
    ));
    assert!(generated_cert_name(&facts).starts_with("cn.example.com-"));

    let san_and_cn = u.inter.leaf(
        &u.leaf_key,
        Some("cn.other.com"),
        &["*.example.com", "192.0.2.1"],
    );
    let facts = check(&san_and_cn.pem(), &u.leaf_key_pem).unwrap().facts;
    assert_eq!(facts.dns_sans, ["*.example.com"]);
    assert!(!covers(&facts, &DomainName::parse("cn.other.com").unwrap()));
    assert!(covers(&facts, &DomainName::parse("a.example.com").unwrap()));
    assert!(generated_cert_name(&facts).starts_with("wildcard.example.com-"));
}
