//! Crafted requests: one per error of [`prepare`], [`check_timestamp`] and [`verify`], and the
//! string to sign shown when a signature does not match.

use super::*;
use crate::error::ErrorCode;

#[test]
fn the_crafted_requests_are_valid_before_being_broken() {
    let prepared = v1(|_| {}).outcome().unwrap();
    assert_eq!(prepared.action, Action::DescribeLiveDomainCertificateInfo);
    assert_eq!(
        (prepared.nonce.as_str(), prepared.format),
        ("nonce-1", Format::Xml)
    );
    let prepared = v3(|_| {}).outcome().unwrap();
    assert_eq!(prepared.action, Action::DescribeLiveCertificateDetail);
    assert_eq!(
        (prepared.nonce.as_str(), prepared.format),
        ("nonce-3", Format::Json)
    );
    assert_eq!(prepared.params.text("CertName").unwrap(), Some("mycert"));
    assert_eq!(prepared.query_pairs.len(), 1);
    // Another kind of Authorization header does not hide a V1 signature.
    let mut req = v1(|_| {});
    req.set_header("authorization", "Basic dGVzdGlkOnRlc3RzZWNyZXQ=");
    assert!(req.outcome().is_ok());
    // At the edge of the window, both ways.
    assert!(v1_at(&shift(CLOCK_WINDOW_SECS), |_| {}).outcome().is_ok());
    assert!(v3_at(&shift(-CLOCK_WINDOW_SECS), &[]).outcome().is_ok());
}

#[test]
fn each_error_is_reached_by_a_crafted_request() {
    use ErrorCode as C;
    let v1_missing = |name: &'static str| v1(move |p| remove_pair(p, name));
    let v3_missing = |name: &'static str| v3(move |r| r.remove_header(name));
    let table: Vec<(&str, Owned, ErrorCode, Option<&str>)> = vec![
        // prepare: parameters
        (
            "malformed percent",
            raw("a=%zz"),
            C::InvalidParameter,
            Some("a"),
        ),
        ("name twice", raw("a=1&a=2"), C::InvalidParameter, Some("a")),
        // prepare: scheme
        (
            "no signature",
            v1(|p| remove_pair(p, "Signature")),
            C::IncompleteSignature,
            None,
        ),
        (
            "empty signature",
            v1(|p| set_pair(p, "Signature", "")),
            C::IncompleteSignature,
            None,
        ),
        ("nothing at all", raw(""), C::IncompleteSignature, None),
        (
            "V1 HMAC-SHA256",
            v1(|p| set_pair(p, "SignatureMethod", "HMAC-SHA256")),
            C::InvalidSignatureMethod,
            None,
        ),
        (
            "V1 version 2.0",
            v1(|p| set_pair(p, "SignatureVersion", "2.0")),
            C::InvalidSignatureMethod,
            None,
        ),
        (
            "ACS3-HMAC-SM3",
            v3(|r| {
                let auth = authorization(r).replace("ACS3-HMAC-SHA256", "ACS3-HMAC-SM3");
                r.set_header("authorization", &auth);
            }),
            C::InvalidSignatureMethod,
            None,
        ),
        (
            "unparsable Authorization",
            v3(|r| r.set_header("authorization", "ACS3-HMAC-SHA256 Credential=testid")),
            C::IncompleteSignature,
            None,
        ),
        (
            "two Authorization headers",
            v3(|r| {
                let auth = authorization(r);
                r.headers
                    .push(("authorization".to_owned(), auth.into_bytes()));
            }),
            C::IncompleteSignature,
            None,
        ),
        // prepare: required parameters and headers
        (
            "V1 no AccessKeyId",
            v1_missing("AccessKeyId"),
            C::MissingParameter,
            Some("AccessKeyId"),
        ),
        (
            "V1 no SignatureNonce",
            v1_missing("SignatureNonce"),
            C::MissingParameter,
            Some("SignatureNonce"),
        ),
        (
            "V1 no Timestamp",
            v1_missing("Timestamp"),
            C::MissingParameter,
            Some("Timestamp"),
        ),
        (
            "V1 no SignatureMethod",
            v1_missing("SignatureMethod"),
            C::MissingParameter,
            Some("SignatureMethod"),
        ),
        (
            "V1 no SignatureVersion",
            v1_missing("SignatureVersion"),
            C::MissingParameter,
            Some("SignatureVersion"),
        ),
        (
            "V1 no Action",
            v1_missing("Action"),
            C::MissingParameter,
            Some("Action"),
        ),
        (
            "V1 no Version",
            v1_missing("Version"),
            C::MissingParameter,
            Some("Version"),
        ),
        (
            "V1 empty AccessKeyId",
            v1(|p| set_pair(p, "AccessKeyId", "")),
            C::MissingParameter,
            Some("AccessKeyId"),
        ),
        (
            "V1 binary AccessKeyId",
            v1(|p| set_pair(p, "AccessKeyId", "\0")),
            C::InvalidParameter,
            Some("AccessKeyId"),
        ),
        (
            "V3 no host",
            v3_missing("host"),
            C::MissingParameter,
            Some("host"),
        ),
        (
            "V3 no x-acs-action",
            v3_missing("x-acs-action"),
            C::MissingParameter,
            Some("x-acs-action"),
        ),
        (
            "V3 no x-acs-version",
            v3_missing("x-acs-version"),
            C::MissingParameter,
            Some("x-acs-version"),
        ),
        (
            "V3 no x-acs-date",
            v3_missing("x-acs-date"),
            C::MissingParameter,
            Some("x-acs-date"),
        ),
        (
            "V3 no nonce",
            v3_missing("x-acs-signature-nonce"),
            C::MissingParameter,
            Some("x-acs-signature-nonce"),
        ),
        (
            "V3 no body hash",
            v3_missing("x-acs-content-sha256"),
            C::MissingParameter,
            Some("x-acs-content-sha256"),
        ),
        (
            "V3 x-acs-action twice",
            v3(|r| {
                r.headers
                    .push(("x-acs-action".to_owned(), b"AddLiveDomain".to_vec()));
            }),
            C::InvalidParameter,
            Some("x-acs-action"),
        ),
        // prepare: action, version, format
        (
            "V1 unknown action",
            v1(|p| set_pair(p, "Action", "DescribeRegions")),
            C::InvalidActionNotFound,
            None,
        ),
        (
            "V1 lower-case action",
            v1(|p| set_pair(p, "Action", "addlivedomain")),
            C::InvalidActionNotFound,
            None,
        ),
        (
            "V1 other version",
            v1(|p| set_pair(p, "Version", "2014-05-26")),
            C::InvalidVersion,
            None,
        ),
        (
            "V3 unknown action",
            v3(|r| r.set_header("x-acs-action", "RunInstances")),
            C::InvalidActionNotFound,
            None,
        ),
        (
            "V3 other version",
            v3(|r| r.set_header("x-acs-version", "2014-05-26")),
            C::InvalidVersion,
            None,
        ),
        (
            "V3 a Live action sent to cas.aliyuncs.com",
            v3(|r| r.set_header("host", "cas.aliyuncs.com")),
            C::InvalidActionNotFound,
            None,
        ),
        (
            "V3 a Live action sent to sts.cn-hangzhou.aliyuncs.com:443",
            v3(|r| r.set_header("host", "sts.cn-hangzhou.aliyuncs.com:443")),
            C::InvalidActionNotFound,
            None,
        ),
        (
            "V1 Format=YAML",
            v1(|p| set_pair(p, "Format", "YAML")),
            C::InvalidParameter,
            Some("Format"),
        ),
        (
            "V3 Format=yaml",
            v3_at(NOW_TEXT, &[("Format", "yaml")]),
            C::InvalidParameter,
            Some("Format"),
        ),
        // check_timestamp
        (
            "V1 mock date",
            v1_at("mock date", |_| {}),
            C::InvalidTimeStampFormat,
            None,
        ),
        (
            "V3 no seconds",
            v3_at("2026-11-29T22:37Z", &[]),
            C::InvalidTimeStampFormat,
            None,
        ),
        (
            "V1 16 minutes old",
            v1_at(&shift(-CLOCK_WINDOW_SECS - 1), |_| {}),
            C::InvalidTimeStampExpired,
            None,
        ),
        (
            "V3 16 minutes ahead",
            v3_at(&shift(CLOCK_WINDOW_SECS + 1), &[]),
            C::InvalidTimeStampExpired,
            None,
        ),
        // verify
        (
            "V1 tampered value",
            v1(|p| set_pair(p, "DomainName", "live.example.org")),
            C::SignatureDoesNotMatch,
            None,
        ),
        (
            "V1 added parameter",
            v1(|p| set_pair(p, "RegionId", "cn-shanghai")),
            C::SignatureDoesNotMatch,
            None,
        ),
        (
            "V1 in a form body",
            {
                let mut req = v1(|_| {});
                req.method = "POST".to_owned();
                req.body = std::mem::take(&mut req.raw_query);
                req.headers.push((
                    "content-type".to_owned(),
                    b"application/x-www-form-urlencoded; charset=UTF-8".to_vec(),
                ));
                req
            },
            C::SignatureDoesNotMatch,
            None,
        ),
        (
            "V3 tampered query",
            v3(|r| r.raw_query = b"DomainName=live.example.org".to_vec()),
            C::SignatureDoesNotMatch,
            None,
        ),
        (
            "V3 tampered body",
            v3(|r| r.body = b"CertName=other".to_vec()),
            C::SignatureDoesNotMatch,
            None,
        ),
        (
            "V3 tampered method",
            v3(|r| r.method = "GET".to_owned()),
            C::SignatureDoesNotMatch,
            None,
        ),
        (
            "V3 body hash of another body",
            v3(|r| r.set_header("x-acs-content-sha256", &v3::body_hash(b""))),
            C::SignatureDoesNotMatch,
            None,
        ),
        (
            "V3 unsigned x-acs header",
            v3(|r| r.headers.push(("x-acs-extra".to_owned(), b"1".to_vec()))),
            C::IncompleteSignature,
            None,
        ),
        (
            "V3 unsigned host",
            v3(|r| {
                let auth = authorization(r).replace("SignedHeaders=host;", "SignedHeaders=");
                r.set_header("authorization", &auth);
            }),
            C::IncompleteSignature,
            None,
        ),
        (
            "V3 unsigned security token",
            v3(|r| {
                r.headers
                    .push(("x-acs-security-token".to_owned(), b"token".to_vec()));
            }),
            C::IncompleteSignature,
            None,
        ),
    ];
    for (label, req, code, name) in table {
        let Err(error) = req.outcome() else {
            panic!("{label}: accepted");
        };
        assert_eq!(error.code, code, "{label}: {}", error.message());
        assert_eq!(error.name.as_deref(), name, "{label}");
        if matches!(code, C::SignatureDoesNotMatch | C::IncompleteSignature) {
            assert_string_to_sign_marker(&error);
        }
    }
}

#[test]
fn the_wrong_secret_does_not_match() {
    for req in [v1(|_| {}), v3(|_| {})] {
        let prepared = prepare(&req.http()).unwrap();
        let error = verify(&req.http(), &prepared, &Secret::new("testsecreT")).unwrap_err();
        assert_eq!(error.code, ErrorCode::SignatureDoesNotMatch);
        // Alibaba's text, the hint at the secret (no ':' before the marker: aliyun-python-sdk-core
        // splits there), then the StringToSign a client compares with its own.
        let message = error.message();
        assert!(
            message.starts_with(
                "Specified signature is not matched with our calculation. \
                 Check ALIBABA_CLOUD_ACCESS_KEY_SECRET"
            ),
            "{message}"
        );
        assert!(
            message.ends_with(&format!(
                "server string to sign is:{}",
                string_to_sign(&req.http(), &prepared)
            )),
            "{message}"
        );
        let (before, _) = message
            .split_once(STRING_TO_SIGN_MARKER)
            .expect("the marker");
        assert!(!before.contains(':'), "{message}");
    }
}

#[test]
fn an_unusable_authorization_shows_what_to_sign() {
    // v3() signs exactly host and the x-acs-* headers: what the detail assumes.
    let signed = v3(|_| {});
    let prepared = prepare(&signed.http()).unwrap();
    let expected = format!(
        "server string to sign is:{}",
        string_to_sign(&signed.http(), &prepared)
    );
    let garbled = v3(|r| r.set_header("authorization", "ACS3-HMAC-SHA256 Signature"));
    assert_eq!(prepare(&garbled.http()).unwrap_err().error.detail, expected);
    let basic_first = v3(|r| {
        let auth = authorization(r);
        r.set_header("authorization", "Basic x");
        r.headers
            .push(("authorization".to_owned(), auth.into_bytes()));
    });
    let rejected = prepare(&basic_first.http()).unwrap_err();
    assert_eq!(rejected.error.code, ErrorCode::IncompleteSignature);
    assert_eq!(rejected.error.detail, expected);
}

#[test]
fn a_missing_signature_shows_what_to_sign() {
    // The detail of IncompleteSignature is the StringToSign a V1 client would have signed.
    let signed = v1(|_| {});
    let prepared = prepare(&signed.http()).unwrap();
    let unsigned = v1(|p| remove_pair(p, "Signature"));
    let rejected = prepare(&unsigned.http()).unwrap_err();
    assert_eq!(
        rejected.error.detail,
        format!(
            "server string to sign is:{}",
            string_to_sign(&signed.http(), &prepared)
        )
    );
}

#[test]
fn check_timestamp_accepts_the_window_and_offsets() {
    assert_eq!(check_timestamp(NOW_TEXT, now()), Ok(now()));
    assert_eq!(
        check_timestamp("2026-11-29T23:37:30+01:00", now()),
        Ok(now())
    );
    assert_eq!(
        check_timestamp("", now()).unwrap_err().code,
        ErrorCode::InvalidTimeStampFormat
    );
    assert_eq!(
        check_timestamp(NOW_TEXT, i64::MIN).unwrap_err().code,
        ErrorCode::InvalidTimeStampExpired
    );
}
