//! The layers of §3 (the layer table, blocks that do not belong) and the early refusals of §2.

use super::*;

// ---- Layers of §3 ----------------------------------------------------------------------

/// Each layer with the "SSLPub fails", "SSLPri fails" and "both" columns.
#[test]
fn the_layer_table() {
    let u = upload();
    let (good_pub, good_pri) = (u.chain(), u.leaf_key_pem.clone());
    let bytes = |p: &[u8], k: &[u8]| check_upload(Some(p), Some(k), now()).unwrap_err();
    // Not UTF-8 / NUL.
    assert_eq!(
        bytes(b"\xff\xfe-", good_pri.as_bytes()).code,
        ErrorCode::SslPubError
    );
    assert_eq!(
        bytes(good_pub.as_bytes(), b"key\0").code,
        ErrorCode::SslPriError
    );
    let both = bytes(b"\xc3", b"\0");
    assert_eq!(both.code, ErrorCode::SslPubError);
    assert!(
        both.detail.contains("SSLPub") && both.detail.contains("SSLPri"),
        "{}",
        both.detail
    );
    assert!(bytes(b"a\0b\0c\0", good_pri.as_bytes())
        .detail
        .contains("UTF-16"));

    // No PEM block of a recognised kind.
    let no_block = "just some text";
    refused(no_block, &good_pri, ErrorCode::InvalidSslPub);
    refused(&good_pub, no_block, ErrorCode::InvalidSslPri);
    refused(no_block, no_block, ErrorCode::InvalidSslPubOrInvalidSslPri);
    let truncated = &good_pub[..good_pub.len() / 2];
    let e = refused(truncated, &good_pri, ErrorCode::InvalidSslPub);
    assert!(e.detail.contains("not well-formed PEM"), "{}", e.detail);

    // Base64 that does not decode.
    let bad_cert = "-----BEGIN CERTIFICATE-----\nMIIB!!!!\n-----END CERTIFICATE-----\n";
    let bad_key = "-----BEGIN PRIVATE KEY-----\nMIIB*\n-----END PRIVATE KEY-----\n";
    let e = refused(bad_cert, &good_pri, ErrorCode::DecodeError);
    assert!(e.detail.contains("certificate #1"), "{}", e.detail);
    refused(&good_pub, bad_key, ErrorCode::DecodeError);
    refused(bad_cert, bad_key, ErrorCode::DecodeError);

    // DER that is not a certificate / a key that is not supported.
    let not_cert = "-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n";
    let not_key = "-----BEGIN PRIVATE KEY-----\nMAMCAQE=\n-----END PRIVATE KEY-----\n";
    let e = refused(not_cert, &good_pri, ErrorCode::CertificateFormatError);
    assert!(
        e.detail.contains("not an X.509 certificate"),
        "{}",
        e.detail
    );
    refused(&good_pub, not_key, ErrorCode::KeyMalformed);
    let e = refused(not_cert, not_key, ErrorCode::CertificateFormatError);
    assert!(e.detail.contains("SSLPri"), "{}", e.detail);

    // The first failing layer decides, whichever parameter fails it.
    refused(not_cert, no_block, ErrorCode::InvalidSslPri);
    refused(bad_cert, not_key, ErrorCode::DecodeError);
    assert_eq!(
        bytes(bad_cert.as_bytes(), b"\xff").code,
        ErrorCode::SslPriError
    );
}

#[test]
fn blocks_that_do_not_belong_are_refused() {
    let u = upload();
    let chain = u.chain();
    let e = refused(
        &format!("{chain}{}", u.other_key_pem),
        &u.leaf_key_pem,
        ErrorCode::InvalidSslPub,
    );
    assert!(e.detail.contains("not the one in SSLPri"), "{}", e.detail);
    let csr = "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n";
    let e = refused(
        &format!("{chain}{csr}"),
        &u.leaf_key_pem,
        ErrorCode::InvalidSslPub,
    );
    assert!(e.detail.contains("signing request"), "{}", e.detail);
    let e = refused(
        &chain,
        &format!("{}{}", u.leaf_key_pem, u.other_root.cert.pem()),
        ErrorCode::InvalidSslPri,
    );
    assert!(e.detail.contains("not in SSLPub"), "{}", e.detail);
    let public = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
    refused(&chain, public, ErrorCode::InvalidSslPri);
    let e = refused(&u.leaf_key_pem, &u.leaf_key_pem, ErrorCode::InvalidSslPub);
    assert!(
        e.detail.contains("a private key but no certificate"),
        "{}",
        e.detail
    );
}

// ---- Early refusals of §2 --------------------------------------------------------------

#[test]
fn double_percent_encoding_is_named() {
    let u = upload();
    let encoded = u
        .chain()
        .replace('\n', "%0A")
        .replace('+', "%2B")
        .replace(' ', "%20");
    let e = refused(&encoded, &u.leaf_key_pem, ErrorCode::DecodeError);
    assert!(e.detail.contains("encoded twice"), "{}", e.detail);
    let fully = u.chain().replace('-', "%2D").replace('\n', "%0A");
    refused(&u.chain(), &fully, ErrorCode::DecodeError);
}

#[test]
fn spaces_in_base64_name_both_causes() {
    let u = upload();
    let chain = u.chain();
    assert!(
        chain.contains('+') || chain.contains('/'),
        "fixture has base64 punctuation"
    );
    for form in [
        chain.replace('+', " "),
        chain.replace('\n', " "),
        chain.replacen("\nMII", "\nMI I", 1),
    ] {
        let e = refused(&form, &u.leaf_key_pem, ErrorCode::DecodeError);
        assert!(
            e.detail.contains("%2B") && e.detail.contains("line breaks"),
            "{}",
            e.detail
        );
    }
    let e = refused(
        &chain,
        &u.leaf_key_pem.replace('\n', " "),
        ErrorCode::DecodeError,
    );
    assert!(e.detail.contains("SSLPri"), "{}", e.detail);
}

#[test]
fn swapped_values_are_named() {
    let u = upload();
    let e = refused(
        &u.leaf_key_pem,
        &u.chain(),
        ErrorCode::InvalidSslPubOrInvalidSslPri,
    );
    assert!(e.detail.contains("swapped"), "{}", e.detail);
}

#[test]
fn several_keys_in_sslpri_are_refused() {
    let u = upload();
    let e = refused(
        &u.chain(),
        &format!("{}{}", u.leaf_key_pem, u.other_key_pem),
        ErrorCode::InvalidSslPri,
    );
    assert!(e.detail.contains("exactly one key"), "{}", e.detail);
}
