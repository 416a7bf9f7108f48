//! Signing requests to send: what `livecert call` and the tests use to talk to a livecert (or
//! Alibaba Cloud) endpoint, with the very canonicalisation the server verifies with ([`super::v1`],
//! [`super::v3`]).
//!
//! - V1: [`sign_v1`] adds the common signature parameters and `Signature` to a parameter list;
//!   [`encode_pairs`] turns the list into a query string or a form body.
//! - V3: [`sign_v3`] returns the headers to send, `Authorization` included; the query goes on the
//!   URL as [`encode_pairs`] writes it, the body as given.

use super::{percent_encode_into, v1, v3};
use crate::params::{Pair, Params};
use crate::secret::Secret;

/// Signs a V1 (HMAC-SHA1) request (spec/protocol.md §3).
///
/// `params` are the request's own parameters (`Action`, `Version`, `Format`, `SecurityToken` when
/// using a temporary credential, and the operation's parameters); a name given twice keeps its last
/// value, and a `Signature` among them is dropped. The function adds `AccessKeyId`,
/// `SignatureMethod=HMAC-SHA1`, `SignatureVersion=1.0`, `SignatureNonce=nonce` and
/// `Timestamp=timestamp` (UTC `yyyy-MM-ddTHH:mm:ssZ`; these replace any same-named entry of
/// `params`), signs them all for `method` (`GET` or `POST`) and returns every parameter, sorted by
/// name, with `Signature` last. Send them with [`encode_pairs`] in the query, or in a body with
/// `Content-Type: application/x-www-form-urlencoded` (or split between both: the server signs
/// their union). `nonce` must be unique per request, e.g. a random UUID.
pub fn sign_v1(
    method: &str,
    params: &[Pair],
    access_key_id: &str,
    secret: &Secret,
    nonce: &str,
    timestamp: &str,
) -> Vec<Pair> {
    let common = [
        ("AccessKeyId", access_key_id),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureVersion", "1.0"),
        ("SignatureNonce", nonce),
        ("Timestamp", timestamp),
    ];
    let all = Params::from_pairs(
        params
            .iter()
            .filter(|(name, _)| name != "Signature")
            .cloned()
            .chain(
                common
                    .iter()
                    .map(|(n, v)| ((*n).to_owned(), v.as_bytes().to_vec())),
            ),
    );
    let signature = v1::signature(&v1::string_to_sign(method, &all), secret);
    let mut out: Vec<Pair> = all
        .iter()
        .map(|(n, v)| (n.to_owned(), v.to_vec()))
        .collect();
    out.push(("Signature".to_owned(), signature.into_bytes()));
    out
}

/// Percent-encodes pairs as `name=value` joined by `&`, in the given order, with the encoding of
/// §3 (only `A–Z a–z 0–9 - _ . ~` stay; space is `%20`). The result is a valid query string
/// (without `?`) and a valid `application/x-www-form-urlencoded` body; the server decodes it back
/// to the same bytes.
pub fn encode_pairs(pairs: &[Pair]) -> String {
    let mut out = String::new();
    for (name, value) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        percent_encode_into(&mut out, name.as_bytes());
        out.push('=');
        percent_encode_into(&mut out, value);
    }
    out
}

/// What [`sign_v3`] signs: one V3 request.
#[derive(Debug, Clone, Copy)]
pub struct V3Request<'a> {
    /// `GET` or `POST`.
    pub method: &'a str,
    /// The `Host` header exactly as the HTTP client will send it, port included when it is not the
    /// scheme's default (the server signs the header it receives).
    pub host: &'a str,
    /// The operation, e.g. `DescribeLiveDomainCertificateInfo` (`x-acs-action`).
    pub action: &'a str,
    /// The API version, `2016-11-01` (`x-acs-version`).
    pub version: &'a str,
    /// The URL query's parameters, sent with [`encode_pairs`]; they are signed.
    pub query: &'a [Pair],
    /// The body, covered by `x-acs-content-sha256`.
    pub body: &'a [u8],
    /// The AccessKeyId (`Credential`).
    pub access_key_id: &'a str,
    /// A value unique per request, e.g. a random UUID (`x-acs-signature-nonce`).
    pub nonce: &'a str,
    /// UTC `yyyy-MM-ddTHH:mm:ssZ` (`x-acs-date`).
    pub date: &'a str,
    /// A temporary credential's SecurityToken (`x-acs-security-token`), when using one.
    pub security_token: Option<&'a str>,
}

/// Signs a V3 (ACS3-HMAC-SHA256) request (spec/protocol.md §4) and returns the headers to send, in
/// this order: `host`, `x-acs-action`, `x-acs-version`, `x-acs-date`, `x-acs-signature-nonce`,
/// `x-acs-content-sha256`, `x-acs-security-token` (when given), then `Authorization` (every header
/// before it is signed).
///
/// The caller sends `req.query` with [`encode_pairs`] after `/?`, and `req.body` as the body; for a
/// form body it adds `Content-Type: application/x-www-form-urlencoded` (not signed: the body hash
/// covers the body). Any other header it adds must not be `host` or `x-acs-*`, which the server
/// requires to be signed.
pub fn sign_v3(req: &V3Request<'_>, secret: &Secret) -> Vec<(String, String)> {
    let body_hash = v3::body_hash(req.body);
    let mut headers: Vec<(String, String)> = vec![
        ("host".to_owned(), req.host.to_owned()),
        ("x-acs-action".to_owned(), req.action.to_owned()),
        ("x-acs-version".to_owned(), req.version.to_owned()),
        ("x-acs-date".to_owned(), req.date.to_owned()),
        ("x-acs-signature-nonce".to_owned(), req.nonce.to_owned()),
        ("x-acs-content-sha256".to_owned(), body_hash.clone()),
    ];
    if let Some(token) = req.security_token {
        headers.push(("x-acs-security-token".to_owned(), token.to_owned()));
    }
    let mut signed: Vec<String> = headers.iter().map(|(name, _)| name.clone()).collect();
    signed.sort_unstable();
    let raw: Vec<(String, Vec<u8>)> = headers
        .iter()
        .map(|(n, v)| (n.clone(), v.as_bytes().to_vec()))
        .collect();
    let canonical = v3::canonical_request(req.method, req.query, &raw, &signed, &body_hash);
    let signature = v3::signature(&v3::string_to_sign(&canonical), secret);
    headers.push((
        "Authorization".to_owned(),
        format!(
            "{} Credential={},SignedHeaders={},Signature={signature}",
            v3::ALGORITHM,
            req.access_key_id,
            signed.join(";")
        ),
    ));
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_v1_adds_the_common_parameters_and_signs_them() {
        let params = vec![
            ("Action".to_owned(), b"DescribeRegions".to_vec()),
            ("Format".to_owned(), b"XML".to_vec()),
            ("Version".to_owned(), b"2014-05-26".to_vec()),
            ("Signature".to_owned(), b"stale".to_vec()),
        ];
        let out = sign_v1(
            "GET",
            &params,
            "testid",
            &Secret::new("testsecret"),
            "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
            "2016-02-23T12:46:24Z",
        );
        let names: Vec<&str> = out.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "AccessKeyId",
                "Action",
                "Format",
                "SignatureMethod",
                "SignatureNonce",
                "SignatureVersion",
                "Timestamp",
                "Version",
                "Signature"
            ]
        );
        // protocol.md §3's documented example, produced by the client side.
        assert_eq!(out.last().unwrap().1, b"OLeaidS1JvxuMvnyHOwuJ+uX5qY=");
    }

    #[test]
    fn encode_pairs_uses_percent_20_and_decodes_back() {
        let pairs = vec![
            ("a b".to_owned(), b"x y/*~+".to_vec()),
            ("c".to_owned(), Vec::new()),
        ];
        let text = encode_pairs(&pairs);
        assert_eq!(text, "a%20b=x%20y%2F%2A~%2B&c=");
        assert_eq!(crate::params::decode_form(text.as_bytes()).unwrap(), pairs);
    }

    #[test]
    fn sign_v3_reproduces_the_documented_example() {
        let query = vec![
            (
                "ImageId".to_owned(),
                b"win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd".to_vec(),
            ),
            ("RegionId".to_owned(), b"cn-shanghai".to_vec()),
        ];
        let req = V3Request {
            method: "POST",
            host: "ecs.cn-shanghai.aliyuncs.com",
            action: "RunInstances",
            version: "2014-05-26",
            query: &query,
            body: b"",
            access_key_id: "YourAccessKeyId",
            nonce: "3156853299f313e23d1673dc12e1703d",
            date: "2023-10-26T10:22:32Z",
            security_token: None,
        };
        let headers = sign_v3(&req, &Secret::new("YourAccessKeySecret"));
        let (name, auth) = headers.last().unwrap();
        assert_eq!(name, "Authorization");
        assert_eq!(
            auth,
            "ACS3-HMAC-SHA256 Credential=YourAccessKeyId,SignedHeaders=host;x-acs-action;\
             x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,\
             Signature=06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"
        );
    }
}
