//! The response format (§6), security tokens from either scheme, and percent-encoding (§3).

use super::*;
use crate::error::ErrorCode;

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
