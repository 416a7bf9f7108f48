//! Rows 17–20 in order, and what is accepted: normalisation (§1), its facts, every supported key
//! and encoding.

use super::*;

// ---- Rows 17–20 ------------------------------------------------------------------------

#[test]
fn rows_17_to_19_come_first_and_in_order() {
    let u = upload();
    let chain = u.chain();
    let key = u.leaf_key_pem.as_bytes();
    let code = |p: Option<&[u8]>, k: Option<&[u8]>| check_upload(p, k, now()).unwrap_err().code;
    assert_eq!(code(None, None), ErrorCode::SslPubMissingParameter);
    assert_eq!(
        code(Some(b""), Some(key)),
        ErrorCode::SslPubMissingParameter
    );
    assert_eq!(
        code(Some(chain.as_bytes()), None),
        ErrorCode::SslPriMissingParameter
    );
    assert_eq!(code(Some(b"\xff"), None), ErrorCode::SslPriMissingParameter);
    assert_eq!(
        code(Some(chain.as_bytes()), Some(b"")),
        ErrorCode::CertificateKeyNull
    );
    assert_eq!(
        code(Some(chain.as_bytes()), Some(b" \r\n\t ")),
        ErrorCode::CertificateKeyNull
    );
}

#[test]
fn row_20_limits_say_which_and_the_limit() {
    let u = upload();
    let key = &u.leaf_key_pem;
    let big = format!("{}{}", u.chain(), " ".repeat(MAX_SSL_PUB_BYTES));
    let e = refused(&big, key, ErrorCode::InvalidCertificateTooLong);
    assert!(
        e.detail.contains("SSLPub") && e.detail.contains("65536"),
        "{}",
        e.detail
    );
    // Exactly at the limit passes row 20.
    let chain = u.chain();
    let at_limit = format!("{chain}{}", " ".repeat(MAX_SSL_PUB_BYTES - chain.len()));
    assert!(check(&at_limit, key).is_ok());

    let eleven = u.leaf.pem().repeat(11);
    let e = refused(&eleven, key, ErrorCode::InvalidCertificateTooLong);
    assert!(
        e.detail.contains("11 PEM blocks") && e.detail.contains("limit is 10"),
        "{}",
        e.detail
    );
    // Ten blocks, duplicates included, pass (and the duplicates are dropped).
    assert_eq!(
        check(&u.leaf.pem().repeat(10), key)
            .unwrap()
            .chain_der
            .len(),
        1
    );

    let big_key = format!("{key}{}", "\n".repeat(MAX_SSL_PRI_BYTES));
    let e = refused(&chain, &big_key, ErrorCode::InvalidCertificateTooLong);
    assert!(
        e.detail.contains("SSLPri") && e.detail.contains("16384"),
        "{}",
        e.detail
    );
}

// ---- Acceptance and normalisation --------------------------------------------------------

#[test]
fn a_stored_chain_altered_by_hand_is_an_error_not_a_panic() {
    assert_eq!(stored_chain_der(""), Ok(Vec::new()));
    let key = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
    assert!(stored_chain_der(key)
        .unwrap_err()
        .contains("not a certificate"));
    let bad = "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
    assert!(stored_chain_der(bad)
        .unwrap_err()
        .contains("does not decode"));
    assert!(stored_chain_der("-----BEGIN CERTIFICATE-----\nAAAA\n")
        .unwrap_err()
        .contains("not well-formed"));
}

#[test]
fn a_good_upload_is_normalised_with_its_facts() {
    let u = upload();
    let checked = check(&u.chain(), &u.leaf_key_pem).unwrap();
    let expected = normalised(&[&u.leaf.pem(), &u.inter.cert.pem(), &u.root.cert.pem()]);
    assert_eq!(checked.chain_pem, expected);
    assert_eq!(checked.chain_der.len(), 3);
    assert_eq!(checked.chain_der[0], u.leaf.der().to_vec());
    for line in checked
        .chain_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
    {
        assert!(line.len() <= pem::PEM_LINE_LEN);
    }
    assert!(!checked.chain_pem.contains('\r'));
    // The stored chain decodes back to the same DER, in order.
    assert_eq!(
        stored_chain_der(&checked.chain_pem),
        Ok(checked.chain_der.clone())
    );
    assert!(checked
        .private_key_pem
        .expose_str()
        .unwrap()
        .starts_with("-----BEGIN PRIVATE KEY-----\n"));

    let f = &checked.facts;
    let leaf = x509_parser::parse_x509_certificate(u.leaf.der()).unwrap().1;
    assert_eq!(
        f.fingerprint_sha256,
        hex::encode(Sha256::digest(u.leaf.der()))
    );
    assert_eq!(
        f.spki_sha256,
        hex::encode(Sha256::digest(leaf.public_key().raw))
    );
    assert_eq!(f.subject_cn.as_deref(), Some("www.example.com"));
    assert_eq!(f.dns_sans, ["www.example.com", "example.com"]);
    assert_eq!(f.issuer_cn.as_deref(), Some("Test Intermediate"));
    assert_eq!(f.issuer_org.as_deref(), Some("Livecert Test"));
    assert!(!f.serial_hex.starts_with('0') && f.serial_hex.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(f.not_after, leaf.validity().not_after.timestamp());
    assert_eq!(f.not_before, leaf.validity().not_before.timestamp());
    assert_eq!(
        (f.key_algorithm, f.key_bits),
        (KeyAlgorithm::EcdsaP256, 256)
    );
    assert_eq!(
        generated_cert_name(f),
        format!(
            "www.example.com-{}-{}",
            crate::timefmt::format_yyyymmdd(f.not_after),
            &f.fingerprint_sha256[..8]
        )
    );
    assert!(covers(f, &DomainName::parse("example.com").unwrap()));
    assert!(!covers(f, &DomainName::parse("other.example.com").unwrap()));
}

/// §1: every difference of form gives the same normalised chain.
#[test]
fn forms_that_differ_only_in_form_are_accepted() {
    let u = upload();
    let (leaf, inter, root) = (u.leaf.pem(), u.inter.cert.pem(), u.root.cert.pem());
    let chain = u.chain();
    let expected = check(&chain, &u.leaf_key_pem).unwrap().chain_pem;
    let one_line = |p: &str| p.replace(['\n', '\r'], "");
    let forms = [
        ("CRLF", chain.replace('\n', "\r\n")),
        ("CR", chain.replace('\n', "\r")),
        ("BOM", format!("\u{feff}{chain}")),
        ("no final newline", chain.trim_end().to_owned()),
        ("escaped \\n", chain.replace('\n', "\\n")),
        (
            "preamble and comments",
            format!(
                "Bag Attributes\n    friendlyName: www\nsubject=/CN=www.example.com\n{leaf}# \
                 intermediate\n{inter}\n\n{root}trailer"
            ),
        ),
        (
            "indented, trailing tabs",
            chain.lines().flat_map(|l| ["    ", l, " \t\n"]).collect(),
        ),
        (
            "one line per block",
            format!(
                "{}\n{}\n{}",
                one_line(&leaf),
                one_line(&inter),
                one_line(&root)
            ),
        ),
        ("whole PEM on one line", one_line(&chain)),
        ("reversed", format!("{root}{inter}{leaf}")),
        ("shuffled", format!("{inter}{root}{leaf}")),
        ("duplicated", format!("{leaf}{leaf}{inter}{inter}{root}")),
        ("key pasted too", format!("{chain}{}", u.leaf_key_pem)),
        (
            "X509 CERTIFICATE label",
            chain.replace(" CERTIFICATE-----", "X509 CERTIFICATE-----"),
        ),
        (
            "TRUSTED CERTIFICATE label",
            chain.replace(" CERTIFICATE-----", "TRUSTED CERTIFICATE-----"),
        ),
    ];
    for (what, form) in forms {
        let checked =
            check(&form, &u.leaf_key_pem).unwrap_or_else(|e| panic!("{what}: {}", e.message()));
        assert_eq!(checked.chain_pem, expected, "{what}");
    }
    let key_forms = [
        ("CRLF key", u.leaf_key_pem.replace('\n', "\r\n")),
        ("escaped key", u.leaf_key_pem.replace('\n', "\\n")),
        ("one-line key", one_line(&u.leaf_key_pem)),
        ("key twice", u.leaf_key_pem.repeat(2)),
        (
            "key with its certificate",
            format!("{}{leaf}", u.leaf_key_pem),
        ),
    ];
    for (what, key) in key_forms {
        assert!(check(&chain, &key).is_ok(), "{what}");
    }
}

/// §1: `openssl ecparam -genkey` prints EC PARAMETERS before the key; it is skipped.
#[test]
fn ec_parameters_before_the_key_are_skipped() {
    let u = upload();
    let key_text = openssl(&["ecparam", "-name", "prime256v1", "-genkey"]);
    assert!(key_text.contains("EC PARAMETERS"));
    let leaf = u.inter.leaf(
        &rcgen_key(&key_text),
        Some("ec.example.com"),
        &["ec.example.com"],
    );
    let checked = check(&format!("{}{}", leaf.pem(), u.inter.cert.pem()), &key_text).unwrap();
    assert!(checked
        .private_key_pem
        .expose_str()
        .unwrap()
        .starts_with("-----BEGIN EC PRIVATE KEY-----"));
}

/// §3: every supported key in every encoding, end to end.
#[test]
fn every_supported_key_and_encoding_is_accepted() {
    let f = fixtures();
    let u = upload();
    let cases: [(&str, &str, KeyAlgorithm, u32); 7] = [
        ("RSA PKCS#8", &f.rsa2048_pkcs8, KeyAlgorithm::Rsa, 2048),
        ("RSA PKCS#1", &f.rsa2048_pkcs1, KeyAlgorithm::Rsa, 2048),
        ("P-256 PKCS#8", &f.p256_pkcs8, KeyAlgorithm::EcdsaP256, 256),
        ("P-256 SEC1", &f.p256_sec1, KeyAlgorithm::EcdsaP256, 256),
        ("P-384 PKCS#8", &f.p384_pkcs8, KeyAlgorithm::EcdsaP384, 384),
        ("P-384 SEC1", &f.p384_sec1, KeyAlgorithm::EcdsaP384, 384),
        ("Ed25519", &f.ed25519_pkcs8, KeyAlgorithm::Ed25519, 256),
    ];
    for (what, key_pem, algorithm, bits) in cases {
        let leaf = u.inter.leaf(
            &rcgen_key(key_pem),
            Some("k.example.com"),
            &["k.example.com"],
        );
        let checked = check(&format!("{}{}", leaf.pem(), u.inter.cert.pem()), key_pem)
            .unwrap_or_else(|e| panic!("{what}: {}", e.message()));
        assert_eq!(
            (checked.facts.key_algorithm, checked.facts.key_bits),
            (algorithm, bits),
            "{what}"
        );
    }
}

#[test]
fn refused_keys_answer_key_malformed_with_the_fix() {
    let f = fixtures();
    let chain = upload().chain();
    let cases = [
        (
            &f.p256_encrypted_pkcs8,
            "openssl pkey -in key.pem -out key-plain.pem",
        ),
        (
            &f.p256_encrypted_sec1,
            "openssl pkey -in key.pem -out key-plain.pem",
        ),
        (&f.rsa1024, "1024 bits"),
        (&f.dsa_traditional, "DSA"),
    ];
    for (key_pem, needle) in cases {
        let e = refused(&chain, key_pem, ErrorCode::KeyMalformed);
        assert!(e.detail.contains(needle), "{}", e.detail);
        assert!(e.message().starts_with("The private key format is error. "));
    }
}
