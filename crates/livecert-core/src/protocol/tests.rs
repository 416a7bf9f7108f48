//! Tests of the protocol as a whole: the recorded SDK requests (`shared/fixtures/sdk-requests`),
//! one crafted request per error of [`prepare`], [`check_timestamp`] and [`verify`], the response
//! format, and property tests (no panic on any input; sign → verify round trips).

use std::path::{Path, PathBuf};

use proptest::prelude::*;

use super::*;
use crate::error::ErrorCode;
use crate::params::decode_form;

/// The instant every fixture verifies at (fixtures README).
const NOW_TEXT: &str = "2026-11-29T22:37:30Z";

fn now() -> i64 {
    timefmt::parse_utc(NOW_TEXT).unwrap()
}

fn secret() -> Secret {
    Secret::new("testsecret")
}

/// An owned request, for building [`HttpRequest`]s in tests.
#[derive(Debug, Clone)]
struct Owned {
    method: String,
    path: String,
    raw_query: Vec<u8>,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

impl Owned {
    fn http(&self) -> HttpRequest<'_> {
        HttpRequest {
            method: &self.method,
            path: &self.path,
            raw_query: &self.raw_query,
            headers: &self.headers,
            body: &self.body,
        }
    }

    fn set_header(&mut self, name: &str, value: &str) {
        self.headers.retain(|(n, _)| n != name);
        self.headers
            .push((name.to_owned(), value.as_bytes().to_vec()));
    }

    fn remove_header(&mut self, name: &str) {
        self.headers.retain(|(n, _)| n != name);
    }

    /// Runs the server's pipeline up to the signature; the first error's code and name.
    fn outcome(&self) -> Result<Prepared, ApiError> {
        let prepared = prepare(&self.http()).map_err(|r| r.error)?;
        check_timestamp(&prepared.timestamp, now())?;
        verify(&self.http(), &prepared, &secret())?;
        Ok(prepared)
    }
}

/// Parses a recorded `.http` file: request line, CRLF headers, empty line, body.
fn parse_http(raw: &[u8]) -> Owned {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of head");
    let head = std::str::from_utf8(&raw[..split]).unwrap();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap().split(' ');
    let method = request_line.next().unwrap().to_owned();
    let target = request_line.next().unwrap();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let headers = lines
        .map(|line| {
            let (name, value) = line.split_once(':').unwrap();
            (name.to_ascii_lowercase(), value.trim().as_bytes().to_vec())
        })
        .collect();
    Owned {
        method,
        path: path.to_owned(),
        raw_query: query.as_bytes().to_vec(),
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/sdk-requests")
}

/// Changes the first byte of the `DomainName` value (signed in every fixture) from `l` to `m`.
fn flip_domain_name(req: &Owned) -> Owned {
    let mut out = req.clone();
    let needle = b"DomainName=";
    let source = if out.raw_query.windows(needle.len()).any(|w| w == needle) {
        &mut out.raw_query
    } else {
        &mut out.body
    };
    let at = source
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("a DomainName");
    let byte = &mut source[at + needle.len()];
    assert_eq!(*byte, b'l');
    *byte = b'm';
    out
}

fn assert_string_to_sign_marker(error: &ApiError) {
    let message = error.message();
    let at = message
        .find(STRING_TO_SIGN_MARKER)
        .expect("marker in the message");
    assert!(
        !message[..at].contains(':'),
        "a colon before the marker: {message}"
    );
}

// ---- Recorded SDK requests ----------------------------------------------------------------------

#[test]
fn every_recorded_http_request_verifies_and_a_flipped_byte_does_not() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .expect("shared/fixtures/sdk-requests beside the repository")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "http"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 26);
    for file in &files {
        let label = file.file_stem().unwrap().to_string_lossy().into_owned();
        let req = parse_http(&std::fs::read(file).unwrap());
        let prepared = req
            .outcome()
            .unwrap_or_else(|e| panic!("{label}: {}", e.message()));
        assert_eq!(prepared.access_key_id, "testid", "{label}");
        let expected_format = if label.contains("formatxml") {
            Format::Xml
        } else {
            Format::Json
        };
        assert_eq!(prepared.format, expected_format, "{label}");
        assert_eq!(
            matches!(prepared.scheme, Scheme::V3 { .. }),
            label.contains("-acs3-"),
            "{label}"
        );

        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(file.with_extension("json")).unwrap()).unwrap();
        assert_eq!(
            json["string_to_sign"].as_str().unwrap(),
            string_to_sign(&req.http(), &prepared),
            "{label}"
        );

        let flipped = flip_domain_name(&req);
        let error = flipped.outcome().unwrap_err();
        assert_eq!(error.code, ErrorCode::SignatureDoesNotMatch, "{label}");
        assert_string_to_sign_marker(&error);
    }
}

#[test]
fn every_line_of_all_requests_jsonl_verifies() {
    // `verify_sig.py all-requests.jsonl` reports MATCH for all 70 lines (error probes included:
    // they differ in what the recording server answered, not in their signatures).
    let text = std::fs::read_to_string(fixtures_dir().join("all-requests.jsonl")).unwrap();
    let mut count = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let rec: serde_json::Value = serde_json::from_str(line).unwrap();
        let label = rec["label"].as_str().unwrap_or_default();
        let headers = rec["headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                let name = h[0].as_str().unwrap().to_ascii_lowercase();
                (name, h[1].as_str().unwrap().as_bytes().to_vec())
            })
            .collect();
        let req = Owned {
            method: rec["method"].as_str().unwrap().to_owned(),
            path: rec["path"].as_str().unwrap().to_owned(),
            raw_query: rec["query"].as_str().unwrap().as_bytes().to_vec(),
            headers,
            body: rec["body"].as_str().unwrap().as_bytes().to_vec(),
        };
        let prepared = prepare(&req.http()).unwrap_or_else(|r| panic!("{label}: {:?}", r.error));
        verify(&req.http(), &prepared, &secret())
            .unwrap_or_else(|e| panic!("{label}: {}", e.message()));
        count += 1;
    }
    assert_eq!(count, 70);
}

// ---- Crafted requests: one per error ------------------------------------------------------------

fn pairs(list: &[(&str, &str)]) -> Vec<Pair> {
    list.iter()
        .map(|(n, v)| ((*n).to_owned(), v.as_bytes().to_vec()))
        .collect()
}

/// A V1 GET, signed at `timestamp`, whose signed pairs `edit` may change before they are sent.
fn v1_at(timestamp: &str, edit: impl FnOnce(&mut Vec<Pair>)) -> Owned {
    let params = pairs(&[
        ("Action", "DescribeLiveDomainCertificateInfo"),
        ("Version", "2016-11-01"),
        ("DomainName", "live.example.com"),
    ]);
    let mut signed = sign_v1("GET", &params, "testid", &secret(), "nonce-1", timestamp);
    edit(&mut signed);
    Owned {
        method: "GET".to_owned(),
        path: "/".to_owned(),
        raw_query: encode_pairs(&signed).into_bytes(),
        headers: vec![("host".to_owned(), b"127.0.0.1:8080".to_vec())],
        body: Vec::new(),
    }
}

fn v1(edit: impl FnOnce(&mut Vec<Pair>)) -> Owned {
    v1_at(NOW_TEXT, edit)
}

fn set_pair(pairs: &mut Vec<Pair>, name: &str, value: &str) {
    pairs.retain(|(n, _)| n != name);
    pairs.push((name.to_owned(), value.as_bytes().to_vec()));
}

fn remove_pair(pairs: &mut Vec<Pair>, name: &str) {
    pairs.retain(|(n, _)| n != name);
}

/// A V3 POST with a form body, signed at `date`, with `extra` query pairs.
fn v3_at(date: &str, extra: &[(&str, &str)]) -> Owned {
    let mut query = pairs(&[("DomainName", "live.example.com")]);
    query.extend(pairs(extra));
    let body = b"CertName=mycert".to_vec();
    let headers = sign_v3(
        &V3Request {
            method: "POST",
            host: "127.0.0.1:8080",
            action: "DescribeLiveCertificateDetail",
            version: "2016-11-01",
            query: &query,
            body: &body,
            access_key_id: "testid",
            nonce: "nonce-3",
            date,
            security_token: None,
        },
        &secret(),
    );
    let mut headers: Vec<(String, Vec<u8>)> = headers
        .into_iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.into_bytes()))
        .collect();
    headers.push((
        "content-type".to_owned(),
        b"application/x-www-form-urlencoded".to_vec(),
    ));
    Owned {
        method: "POST".to_owned(),
        path: "/".to_owned(),
        raw_query: encode_pairs(&query).into_bytes(),
        headers,
        body,
    }
}

fn v3(edit: impl FnOnce(&mut Owned)) -> Owned {
    let mut req = v3_at(NOW_TEXT, &[]);
    edit(&mut req);
    req
}

fn raw(query: &str) -> Owned {
    Owned {
        method: "GET".to_owned(),
        path: "/".to_owned(),
        raw_query: query.as_bytes().to_vec(),
        headers: Vec::new(),
        body: Vec::new(),
    }
}

fn authorization(req: &Owned) -> String {
    let (_, value) = req
        .headers
        .iter()
        .find(|(n, _)| n == "authorization")
        .unwrap();
    String::from_utf8(value.clone()).unwrap()
}

fn shift(seconds: i64) -> String {
    timefmt::format_utc(now() + seconds)
}

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

// ---- Response format (§6) -----------------------------------------------------------------------

#[test]
fn the_format_follows_the_parameter_then_the_scheme() {
    let format = |req: Owned| match prepare(&req.http()) {
        Ok(p) => p.format,
        Err(r) => r.format,
    };
    assert_eq!(format(v1(|_| {})), Format::Xml);
    assert_eq!(format(v1(|p| set_pair(p, "Format", "json"))), Format::Json);
    assert_eq!(format(v1(|p| set_pair(p, "Format", ""))), Format::Xml);
    assert_eq!(format(v3(|_| {})), Format::Json);
    assert_eq!(format(v3_at(NOW_TEXT, &[("Format", "xMl")])), Format::Xml);
    // Errors: before the parameters are read, JSON; after, the parameter or the scheme's default.
    assert_eq!(format(raw("Format=XML&a=%zz")), Format::Json);
    assert_eq!(format(raw("")), Format::Json);
    assert_eq!(format(raw("Format=XML")), Format::Xml);
    assert_eq!(format(v1(|p| remove_pair(p, "Timestamp"))), Format::Xml);
    assert_eq!(format(v1(|p| set_pair(p, "Format", "YAML"))), Format::Xml);
    assert_eq!(
        format(v1(|p| {
            set_pair(p, "Format", "JSON");
            remove_pair(p, "Action");
        })),
        Format::Json
    );
    assert_eq!(format(v3(|r| r.remove_header("x-acs-date"))), Format::Json);
}

#[test]
fn a_body_counts_only_as_a_form() {
    let mut req = v1(|_| {});
    req.body = b"Extra=1".to_vec();
    assert!(
        req.outcome().is_ok(),
        "a body without Content-Type is not read"
    );
    req.headers
        .push(("content-type".to_owned(), b"text/plain".to_vec()));
    assert!(req.outcome().is_ok(), "a text/plain body is not read");
    req.set_header(
        "content-type",
        "Application/X-WWW-Form-Urlencoded ; charset=utf-8",
    );
    assert_eq!(
        req.outcome().unwrap_err().code,
        ErrorCode::SignatureDoesNotMatch
    );
}

#[test]
fn security_tokens_are_read_from_either_scheme() {
    let params = pairs(&[
        ("Action", "AddLiveDomain"),
        ("Version", "2016-11-01"),
        ("SecurityToken", "sts-token"),
    ]);
    let signed = sign_v1("POST", &params, "STS.id", &secret(), "n", NOW_TEXT);
    let req = Owned {
        method: "POST".to_owned(),
        path: "/".to_owned(),
        raw_query: Vec::new(),
        headers: vec![(
            "content-type".to_owned(),
            b"application/x-www-form-urlencoded".to_vec(),
        )],
        body: encode_pairs(&signed).into_bytes(),
    };
    let prepared = req.outcome().unwrap();
    assert_eq!(prepared.security_token.as_deref(), Some("sts-token"));
    assert_eq!(prepared.access_key_id, "STS.id");

    let headers = sign_v3(
        &V3Request {
            method: "GET",
            host: "h",
            action: "AddLiveDomain",
            version: "2016-11-01",
            query: &[],
            body: b"",
            access_key_id: "STS.id",
            nonce: "n",
            date: NOW_TEXT,
            security_token: Some("sts-token"),
        },
        &secret(),
    );
    let req = Owned {
        method: "GET".to_owned(),
        path: "/".to_owned(),
        raw_query: Vec::new(),
        headers: headers
            .into_iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), v.into_bytes()))
            .collect(),
        body: Vec::new(),
    };
    let prepared = req.outcome().unwrap();
    assert_eq!(prepared.security_token.as_deref(), Some("sts-token"));
    assert_eq!(prepared.action, Action::AddLiveDomain);
}

#[test]
fn percent_encoding_follows_section_3() {
    assert_eq!(percent_encode(b"AZaz09-_.~"), "AZaz09-_.~");
    assert_eq!(percent_encode(b" */+=&:%\n"), "%20%2A%2F%2B%3D%26%3A%25%0A");
    assert_eq!(percent_encode("你".as_bytes()), "%E4%BD%A0");
    assert_eq!(percent_encode(&[0x00, 0xff]), "%00%FF");
}

// ---- Property tests -----------------------------------------------------------------------------

/// Parameter names the round trips leave to the signer or the server.
const RESERVED: [&str; 11] = [
    "AccessKeyId",
    "Action",
    "Format",
    "SecurityToken",
    "Signature",
    "SignatureMethod",
    "SignatureNonce",
    "SignatureVersion",
    "Timestamp",
    "Version",
    "",
];

fn any_name() -> impl Strategy<Value = String> {
    prop::collection::vec(any::<char>(), 0..10)
        .prop_map(String::from_iter)
        .prop_filter("reserved", |n| !RESERVED.contains(&n.as_str()))
}

fn any_params() -> impl Strategy<Value = Vec<Pair>> {
    prop::collection::btree_map(any_name(), prop::collection::vec(any::<u8>(), 0..24), 0..6)
        .prop_map(|m| m.into_iter().collect())
}

fn any_header_name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("authorization".to_owned()),
        Just("content-type".to_owned()),
        Just("host".to_owned()),
        Just("x-acs-action".to_owned()),
        Just("x-acs-version".to_owned()),
        Just("x-acs-date".to_owned()),
        Just("x-acs-signature-nonce".to_owned()),
        Just("x-acs-content-sha256".to_owned()),
        Just("x-acs-security-token".to_owned()),
        "[a-z-]{1,12}",
    ]
}

fn any_header_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..40),
        Just(b"ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host;x-acs-date,Signature=00".to_vec()),
        Just(b"application/x-www-form-urlencoded".to_vec()),
        Just(b"DescribeLiveDomainDetail".to_vec()),
        Just(b"2016-11-01".to_vec()),
        Just(NOW_TEXT.as_bytes().to_vec()),
        "ACS3-[ -~]{0,60}".prop_map(String::into_bytes),
    ]
}

fn any_request() -> impl Strategy<Value = Owned> {
    (
        prop_oneof![Just("GET".to_owned()), Just("POST".to_owned()), ".{0,6}"],
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..80),
            "([A-Za-z%+=&0-9]{0,8}){0,8}".prop_map(String::into_bytes),
        ],
        prop::collection::vec((any_header_name(), any_header_value()), 0..10),
        prop::collection::vec(any::<u8>(), 0..80),
    )
        .prop_map(|(method, raw_query, headers, body)| Owned {
            method,
            path: "/".to_owned(),
            raw_query,
            headers,
            body,
        })
}

/// Changes one byte of the query, the body or a header value of a request.
fn mutate(req: &mut Owned, at: usize, byte: u8) {
    let mut targets: Vec<&mut Vec<u8>> = vec![&mut req.raw_query, &mut req.body];
    targets.extend(req.headers.iter_mut().map(|(_, v)| v));
    let target_count = targets.len();
    if let Some(target) = targets.into_iter().nth(at % target_count) {
        if !target.is_empty() {
            let i = (at / target_count) % target.len();
            target[i] = byte;
        }
    }
}

fn pipeline_never_panics(req: &Owned, now: i64) {
    let http = req.http();
    if let Ok(prepared) = prepare(&http) {
        let _ = check_timestamp(&prepared.timestamp, now);
        let _ = string_to_sign(&http, &prepared);
        let _ = verify(&http, &prepared, &secret());
    }
}

fn canonicalisers_never_panic(
    method: &str,
    params: &[Pair],
    headers: &[(String, Vec<u8>)],
    signed: &[String],
    body: &[u8],
) {
    let _ = v1::string_to_sign(method, &Params::from_pairs(params.to_vec()));
    let canonical = v3::canonical_request(method, params, headers, signed, &v3::body_hash(body));
    let _ = v3::string_to_sign(&canonical);
    let _ = v3::default_signed_headers(headers);
    for (_, value) in headers {
        let _ = v3::Authorization::parse(value);
    }
}

/// Signs `params` with [`sign_v1`], sends them in the query or a form body, and runs the server.
fn v1_round_trip(params: Vec<Pair>, in_body: bool, method: &str) -> Result<Prepared, ApiError> {
    let mut all = pairs(&[
        ("Action", "DescribeLiveCertificateList"),
        ("Version", "2016-11-01"),
    ]);
    all.extend(params);
    let signed = sign_v1(method, &all, "testid", &secret(), "nonce", NOW_TEXT);
    let encoded = encode_pairs(&signed).into_bytes();
    let mut req = Owned {
        method: method.to_owned(),
        path: "/".to_owned(),
        raw_query: Vec::new(),
        headers: Vec::new(),
        body: Vec::new(),
    };
    if in_body {
        req.body = encoded;
        req.set_header("content-type", "application/x-www-form-urlencoded");
    } else {
        req.raw_query = encoded;
    }
    req.outcome()
}

/// Signs a request with [`sign_v3`] and runs the server.
fn v3_round_trip(
    query: &[Pair],
    body: Vec<u8>,
    token: Option<&str>,
    method: &str,
) -> Result<Prepared, ApiError> {
    let headers = sign_v3(
        &V3Request {
            method,
            host: "live.example.com:443",
            action: "DescribeLiveDomainDetail",
            version: "2016-11-01",
            query,
            body: &body,
            access_key_id: "testid",
            nonce: "nonce",
            date: NOW_TEXT,
            security_token: token,
        },
        &secret(),
    );
    let req = Owned {
        method: method.to_owned(),
        path: "/".to_owned(),
        raw_query: encode_pairs(query).into_bytes(),
        headers: headers
            .into_iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), v.into_bytes()))
            .collect(),
        body,
    };
    req.outcome()
}

fn any_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..max)
}

fn any_headers(max: usize) -> impl Strategy<Value = Vec<(String, Vec<u8>)>> {
    prop::collection::vec((any_header_name(), any_header_value()), 0..max)
}

fn any_method() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just("GET"), Just("POST")]
}

proptest! {
    #[test]
    fn decoding_never_panics(query in any_bytes(200), body in any_bytes(200)) {
        let _ = decode_form(&query);
        let _ = Params::from_sources(&query, Some(&body));
    }

    #[test]
    fn percent_encoding_decodes_back(bytes in any_bytes(64)) {
        let encoded = percent_encode(&bytes);
        prop_assert!(encoded.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.~%".contains(&b)));
        let pairs = decode_form(format!("n={encoded}").as_bytes()).unwrap();
        prop_assert_eq!(&pairs[0].1, &bytes);
    }

    #[test]
    fn the_canonicalisers_never_panic(
        method in ".{0,8}",
        params in any_params(),
        headers in any_headers(8),
        signed in prop::collection::vec(any_header_name(), 0..6),
        body in any_bytes(64),
    ) {
        canonicalisers_never_panic(&method, &params, &headers, &signed, &body);
    }

    #[test]
    fn the_pipeline_never_panics(req in any_request(), now in any::<i64>()) {
        pipeline_never_panics(&req, now);
    }

    #[test]
    fn a_mutated_signed_request_never_panics(
        at in any::<usize>(),
        byte in any::<u8>(),
        v3_scheme in any::<bool>(),
    ) {
        let mut req = if v3_scheme { v3(|_| {}) } else { v1(|_| {}) };
        mutate(&mut req, at, byte);
        pipeline_never_panics(&req, now());
    }

    #[test]
    fn v1_sign_then_verify_round_trips(
        params in any_params(),
        in_body in any::<bool>(),
        method in any_method(),
    ) {
        let outcome = v1_round_trip(params, in_body, method);
        prop_assert!(outcome.is_ok(), "{:?}", outcome.err().map(|e| e.message()));
    }

    #[test]
    fn v3_sign_then_verify_round_trips(
        query in any_params(),
        body in any_bytes(64),
        token in proptest::option::of("[A-Za-z0-9+/=]{1,40}"),
        method in any_method(),
    ) {
        let outcome = v3_round_trip(&query, body, token.as_deref(), method);
        prop_assert!(outcome.is_ok(), "{:?}", outcome.as_ref().err().map(ApiError::message));
        prop_assert_eq!(outcome.unwrap().security_token, token);
    }
}
