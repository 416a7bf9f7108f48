//! V1 signatures, HMAC-SHA1 over the parameters (spec/protocol.md §3).
//!
//! Every parameter except `Signature` (empty ones included), from the query and the form body
//! alike, sorted by name in byte order, percent-encoded as `name=value` and joined by `&`, forms
//! the canonical query; the StringToSign is `METHOD&%2F&` followed by the percent-encoded canonical
//! query, and the signature is base64 of HMAC-SHA1 keyed with the AccessKey secret followed by `&`.
//! The same functions sign on the client side ([`super::sign_v1`]) and verify on the server.

use aws_lc_rs::hmac;
use base64::Engine as _;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::{percent_encode_into, percent_encode_twice_into, signature_mismatch_detail};
use crate::api_error;
use crate::error::ApiError;
use crate::params::Params;
use crate::secret::Secret;

/// The canonical query (§3 steps 1–4): every parameter but `Signature`, sorted by name (byte
/// order), `pct(name)=pct(value)` joined by `&`.
pub fn canonical_query(params: &Params) -> String {
    let mut out = String::new();
    for (name, value) in params.iter().filter(|(name, _)| *name != "Signature") {
        if !out.is_empty() {
            out.push('&');
        }
        percent_encode_into(&mut out, name.as_bytes());
        out.push('=');
        percent_encode_into(&mut out, value);
    }
    out
}

/// The StringToSign (§3 step 5): `METHOD&%2F&pct(canonical query)`.
///
/// Written in one pass: `pct(canonical query)` is each name and value encoded twice, joined by
/// `%3D` (an encoded `=`) and `%26` (an encoded `&`).
pub fn string_to_sign(method: &str, params: &Params) -> String {
    let raw: usize = params.iter().map(|(n, v)| n.len() + v.len() + 2).sum();
    let mut out = String::with_capacity(method.len() + 5 + raw * 3 / 2);
    out.push_str(method);
    out.push_str("&%2F&");
    let mut first = true;
    for (name, value) in params.iter().filter(|(name, _)| *name != "Signature") {
        if !std::mem::take(&mut first) {
            out.push_str("%26");
        }
        percent_encode_twice_into(&mut out, name.as_bytes());
        out.push_str("%3D");
        percent_encode_twice_into(&mut out, value);
    }
    out
}

/// Parameters whose values never appear in an echoed StringToSign: the credentials a request
/// carries — a private key (`SSLPri`, spec/README.md decision 5) and a temporary credential's
/// `SecurityToken` (access.md) — sent back in an error message would end up in clients' logs.
pub const REDACTED_PARAMETERS: &[&str] = &["SSLPri", "SecurityToken"];

/// The StringToSign shown in `SignatureDoesNotMatch` / `IncompleteSignature` messages: the real one,
/// except that the values of [`REDACTED_PARAMETERS`] are replaced by `REDACTED`. It equals
/// [`string_to_sign`] whenever the request carries none of them.
pub fn shown_string_to_sign(method: &str, params: &Params) -> String {
    if REDACTED_PARAMETERS
        .iter()
        .all(|name| !params.contains(name))
    {
        return string_to_sign(method, params);
    }
    let shown = Params::from_pairs(params.iter().map(|(name, value)| {
        let value = if REDACTED_PARAMETERS.contains(&name) {
            b"REDACTED".to_vec()
        } else {
            value.to_vec()
        };
        (name.to_owned(), value)
    }));
    string_to_sign(method, &shown)
}

/// The signature (§3 step 6): base64(HMAC-SHA1(key = secret + `&`, StringToSign)).
pub fn signature(string_to_sign: &str, secret: &Secret) -> String {
    let mut key = Zeroizing::new(Vec::with_capacity(secret.expose().len() + 1));
    key.extend_from_slice(secret.expose());
    key.push(b'&');
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &key);
    let tag = hmac::sign(&key, string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(tag.as_ref())
}

/// Checks the `Signature` parameter sent (`provided`) against the server's, in constant time.
/// Errors: `SignatureDoesNotMatch` with the server's StringToSign.
pub(super) fn verify(
    method: &str,
    params: &Params,
    provided: &str,
    secret: &Secret,
) -> Result<(), ApiError> {
    let sts = string_to_sign(method, params);
    let expected = signature(&sts, secret);
    if bool::from(expected.as_bytes().ct_eq(provided.as_bytes())) {
        Ok(())
    } else {
        Err(api_error!(
            SignatureDoesNotMatch,
            "{}",
            signature_mismatch_detail(&shown_string_to_sign(method, params))
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::from_pairs(
            pairs
                .iter()
                .map(|(n, v)| ((*n).to_owned(), v.as_bytes().to_vec())),
        )
    }

    #[test]
    fn a_mismatch_never_echoes_the_private_key() {
        let p = params(&[
            ("Action", "SetLiveDomainCertificate"),
            ("SSLPri", "-----BEGIN PRIVATE KEY-----\nMIIE"),
        ]);
        let e = verify("POST", &p, "wrong", &Secret::new(b"s".to_vec())).unwrap_err();
        assert!(!e.message().contains("PRIVATE"), "{}", e.message());
        assert!(e.message().contains("SSLPri%3DREDACTED"), "{}", e.message());
        let plain = params(&[("Action", "DescribeRegions")]);
        assert_eq!(
            shown_string_to_sign("GET", &plain),
            string_to_sign("GET", &plain)
        );
    }

    #[test]
    fn a_mismatch_never_echoes_the_security_token() {
        let token = "CAIS8QF1q6Ft5B2yfSjIr5bSEsj6gqNh0qefbFHlkG0";
        let p = params(&[
            ("AccessKeyId", "STS.NUgYrLnoC37mZZCNnAbez2BH5"),
            ("Action", "DescribeLiveUserDomains"),
            ("SecurityToken", token),
        ]);
        let e = verify("GET", &p, "wrong", &Secret::new(b"s".to_vec())).unwrap_err();
        assert!(!e.message().contains(&token[..12]), "{}", e.message());
        assert!(
            e.message().contains("SecurityToken%3DREDACTED"),
            "{}",
            e.message()
        );
    }

    #[test]
    fn only_the_credentials_are_redacted() {
        let plain = params(&[("Action", "DescribeRegions"), ("DomainName", "a.example")]);
        assert_eq!(
            shown_string_to_sign("GET", &plain),
            string_to_sign("GET", &plain)
        );
    }

    /// protocol.md §3, first vector: Alibaba's documented example.
    #[test]
    fn documented_example_signs_to_oleaids1() {
        let p = params(&[
            ("AccessKeyId", "testid"),
            ("Action", "DescribeRegions"),
            ("Format", "XML"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"),
            ("SignatureVersion", "1.0"),
            ("Timestamp", "2016-02-23T12:46:24Z"),
            ("Version", "2014-05-26"),
        ]);
        let sts = string_to_sign("GET", &p);
        assert!(sts.starts_with("GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions"));
        assert!(sts.contains("Timestamp%3D2016-02-23T12%253A46%253A24Z"));
        assert_eq!(
            signature(&sts, &Secret::new("testsecret")),
            "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
        );
    }

    fn empty_values_and_a_space() -> Vec<(&'static str, &'static str)> {
        vec![
            ("AccessKeyId", "accessKeyId"),
            ("Action", ""),
            ("Format", "JSON"),
            ("RegionId", "regionId"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", "MOCK_UUID"),
            ("SignatureType", ""),
            ("SignatureVersion", "1.0"),
            ("Timestamp", "mock date"),
            ("Version", ""),
        ]
    }

    /// protocol.md §3, second vector: empty values are signed, a space is `%20`.
    #[test]
    fn empty_values_and_a_space_sign_to_7lopmfjv() {
        let p = params(&empty_values_and_a_space());
        let sts = string_to_sign("GET", &p);
        assert!(sts.contains("Action%3D%26"), "{sts}");
        assert!(sts.contains("Timestamp%3Dmock%2520date"), "{sts}");
        assert_eq!(
            signature(&sts, &Secret::new("accessKeySecret")),
            "7loPmFjvDnzOVnQeQNj85S6nFGY="
        );
    }

    /// protocol.md §3, third vector: the same plus a SecurityToken.
    #[test]
    fn with_security_token_signs_to_5nxdcler() {
        let mut pairs = empty_values_and_a_space();
        pairs.push(("SecurityToken", "accessKeyStsToken"));
        let sts = string_to_sign("GET", &params(&pairs));
        assert_eq!(
            signature(&sts, &Secret::new("accessKeySecret")),
            "5Nxdcler+ihqWqv0Hr2On4PsBf4="
        );
    }

    #[test]
    fn the_signature_parameter_is_never_signed() {
        let without = params(&[("A", "1")]);
        let with = params(&[("A", "1"), ("Signature", "whatever")]);
        assert_eq!(
            string_to_sign("POST", &without),
            string_to_sign("POST", &with)
        );
        assert_eq!(
            canonical_query(&params(&[("b", "x*y"), ("a", "~ /")])),
            "a=~%20%2F&b=x%2Ay"
        );
    }

    #[test]
    fn verify_compares_and_reports_the_string_to_sign() {
        let p = params(&empty_values_and_a_space());
        let secret = Secret::new("accessKeySecret");
        assert!(verify("GET", &p, "7loPmFjvDnzOVnQeQNj85S6nFGY=", &secret).is_ok());
        let err = verify("GET", &p, "7loPmFjvDnzOVnQeQNj85S6nFGZ=", &secret).unwrap_err();
        assert_eq!(err.code, crate::ErrorCode::SignatureDoesNotMatch);
        assert!(
            err.detail.ends_with(&format!(
                "server string to sign is:{}",
                string_to_sign("GET", &p)
            )),
            "{}",
            err.detail
        );
        assert!(verify("POST", &p, "7loPmFjvDnzOVnQeQNj85S6nFGY=", &secret).is_err());
    }
}
