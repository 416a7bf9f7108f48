//! Property tests: no panic on any input, and sign → verify round trips for V1 and V3.

use proptest::prelude::*;

use super::*;
use crate::params::decode_form;

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

/// A form value decoded one byte at a time (`+` is a space, `%XY` a byte); `None` if a `%` is not
/// followed by two hex digits.
fn decode_by_bytes(raw: &[u8]) -> Option<Vec<u8>> {
    let hex = |b: Option<&u8>| b.and_then(|b| char::from(*b).to_digit(16));
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&b) = raw.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let value = hex(raw.get(i + 1))? * 16 + hex(raw.get(i + 2))?;
                out.push(u8::try_from(value).ok()?);
                i += 2;
            }
            _ => out.push(b),
        }
        i += 1;
    }
    Some(out)
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
    fn v1_string_to_sign_is_the_encoded_canonical_query(params in any_params(), signature in any_bytes(8)) {
        let mut pairs = params;
        pairs.push(("Signature".to_owned(), signature));
        let params = Params::from_pairs(pairs);
        prop_assert_eq!(
            v1::string_to_sign("POST", &params),
            format!("POST&%2F&{}", percent_encode(v1::canonical_query(&params).as_bytes()))
        );
    }

    #[test]
    fn form_values_decode_as_one_byte_at_a_time(
        raw in prop::collection::vec(prop::sample::select(b"ab%+2fG09".to_vec()), 0..40)
    ) {
        let decoded = decode_form(&[b"n=".as_slice(), &raw].concat());
        match decode_by_bytes(&raw) {
            Some(expected) => prop_assert_eq!(&decoded.unwrap()[0].1, &expected),
            None => prop_assert!(decoded.is_err()),
        }
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
