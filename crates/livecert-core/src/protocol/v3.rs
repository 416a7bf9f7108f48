//! V3 signatures, ACS3-HMAC-SHA256 over a canonical request (spec/protocol.md §4).
//!
//! The `Authorization` header names the AccessKeyId (`Credential`), the headers the client signed
//! (`SignedHeaders`) and the signature (lower-case hex). The canonical request is the method, `/`,
//! the canonical query (the URL query's pairs only: form-body parameters are covered by the body
//! hash), one `name:value` line per signed header taken from the request's own `SignedHeaders`
//! list (the SDKs disagree on which headers they sign), that list, and the body's SHA-256. The
//! StringToSign is `ACS3-HMAC-SHA256`, a newline and the hex SHA-256 of the canonical request; the
//! signature is hex HMAC-SHA256 keyed with the AccessKey secret itself (no `&`). The same functions
//! sign on the client side ([`super::sign_v3`]) and verify on the server.

use aws_lc_rs::{digest, hmac};
use subtle::ConstantTimeEq;

use super::{
    header_values, percent_encode_into, signature_mismatch_detail, string_to_sign_detail, trim_ows,
    HttpRequest,
};
use crate::api_error;
use crate::error::{ApiError, ErrorCode};
use crate::params::Pair;
use crate::secret::Secret;

/// The one V3 algorithm livecert accepts.
pub const ALGORITHM: &str = "ACS3-HMAC-SHA256";

/// A parsed `Authorization: ACS3-HMAC-SHA256 Credential=…,SignedHeaders=…,Signature=…` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// `Credential`: the AccessKeyId.
    pub credential: String,
    /// `SignedHeaders`, lower-cased, in the order listed.
    pub signed_headers: Vec<String>,
    /// `Signature`, lower-cased.
    pub signature: String,
}

impl Authorization {
    /// Parses an `Authorization` header value (surrounding white space ignored).
    ///
    /// Errors: `InvalidSignatureMethod` when the algorithm is not `ACS3-HMAC-SHA256`;
    /// `IncompleteSignature` (no detail) when the value is not UTF-8, a field is not `key=value`,
    /// `Credential`, `SignedHeaders` or `Signature` is missing, empty or repeated, another field is
    /// present, or `SignedHeaders` lists an empty name.
    pub fn parse(value: &[u8]) -> Result<Self, ApiError> {
        let incomplete = || ApiError::bare(ErrorCode::IncompleteSignature);
        let text = std::str::from_utf8(trim_ows(value)).map_err(|_| incomplete())?;
        let (algorithm, rest) = text.split_once(' ').unwrap_or((text, ""));
        if algorithm != ALGORITHM {
            return Err(api_error!(
                InvalidSignatureMethod,
                "livecert accepts {ALGORITHM} in the Authorization header, or HMAC-SHA1 in \
                 parameters."
            ));
        }
        let (mut credential, mut signed_headers, mut signature) = (None, None, None);
        for field in rest.split(',') {
            let (key, value) = field.trim().split_once('=').ok_or_else(incomplete)?;
            let slot = match key.trim() {
                "Credential" => &mut credential,
                "SignedHeaders" => &mut signed_headers,
                "Signature" => &mut signature,
                _ => return Err(incomplete()),
            };
            let value = value.trim();
            if slot.is_some() || value.is_empty() {
                return Err(incomplete());
            }
            *slot = Some(value);
        }
        let (Some(credential), Some(signed_headers), Some(signature)) =
            (credential, signed_headers, signature)
        else {
            return Err(incomplete());
        };
        let signed_headers: Vec<String> = signed_headers
            .split(';')
            .map(|name| name.trim().to_ascii_lowercase())
            .collect();
        if signed_headers.iter().any(String::is_empty) {
            return Err(incomplete());
        }
        Ok(Self {
            credential: credential.to_owned(),
            signed_headers,
            signature: signature.to_ascii_lowercase(),
        })
    }
}

/// The canonical query (§4): the query's pairs sorted by name (byte order, then value),
/// `pct(name)=pct(value)` joined by `&`; an empty value gives `name=`.
pub fn canonical_query(query: &[Pair]) -> String {
    let mut sorted: Vec<&Pair> = query.iter().collect();
    sorted.sort_unstable();
    let mut out = String::new();
    for (name, value) in sorted {
        if !out.is_empty() {
            out.push('&');
        }
        percent_encode_into(&mut out, name.as_bytes());
        out.push('=');
        percent_encode_into(&mut out, value);
    }
    out
}

/// The canonical request (§4):
/// `METHOD \n / \n CanonicalQuery \n CanonicalHeaders \n SignedHeaders \n BodyHash`.
///
/// CanonicalHeaders has one `name:value\n` line per entry of `signed_headers`, in the order given:
/// the value is the header's trimmed value, or, for a header sent more than once, its trimmed
/// values sorted and joined by `,`; a signed header that is absent gives `name:`. Header names in
/// `headers` match case-insensitively. Bytes, since header values need not be UTF-8.
pub fn canonical_request(
    method: &str,
    query: &[Pair],
    headers: &[(String, Vec<u8>)],
    signed_headers: &[String],
    body_hash: &str,
) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(method.as_bytes());
    out.extend_from_slice(b"\n/\n");
    out.extend_from_slice(canonical_query(query).as_bytes());
    out.push(b'\n');
    for name in signed_headers {
        let mut values: Vec<&[u8]> = header_values(headers, name).map(trim_ows).collect();
        values.sort_unstable();
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        out.extend_from_slice(&values.join(&b","[..]));
        out.push(b'\n');
    }
    out.push(b'\n');
    out.extend_from_slice(signed_headers.join(";").as_bytes());
    out.push(b'\n');
    out.extend_from_slice(body_hash.as_bytes());
    out
}

/// The StringToSign (§4): `ACS3-HMAC-SHA256 \n hex(sha256(CanonicalRequest))`.
pub fn string_to_sign(canonical_request: &[u8]) -> String {
    format!(
        "{ALGORITHM}\n{}",
        hex::encode(digest::digest(&digest::SHA256, canonical_request))
    )
}

/// The signature (§4): hex(HMAC-SHA256(key = secret, StringToSign)).
pub fn signature(string_to_sign: &str, secret: &Secret) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.expose());
    hex::encode(hmac::sign(&key, string_to_sign.as_bytes()))
}

/// Lower-case hex SHA-256 of a body: the value `x-acs-content-sha256` must carry.
pub fn body_hash(body: &[u8]) -> String {
    hex::encode(digest::digest(&digest::SHA256, body))
}

/// What a minimal client signs: `host` and every `x-acs-*` header present, lower case, sorted,
/// each once. Used for the StringToSign shown when the Authorization header is unusable.
pub fn default_signed_headers(headers: &[(String, Vec<u8>)]) -> Vec<String> {
    let mut names: Vec<String> = headers
        .iter()
        .map(|(name, _)| name.to_ascii_lowercase())
        .filter(|name| must_be_signed(name))
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// Checks a V3 request (§4), in this order: every `host` / `x-acs-*` header present is signed
/// (`IncompleteSignature`), the body's SHA-256 equals `x-acs-content-sha256`
/// (`SignatureDoesNotMatch`), the signature matches in constant time (`SignatureDoesNotMatch`).
/// Each error's detail carries the server's StringToSign.
pub(super) fn verify(
    req: &HttpRequest<'_>,
    query: &[Pair],
    signed_headers: &[String],
    provided: &str,
    secret: &Secret,
) -> Result<(), ApiError> {
    let hash = body_hash(req.body);
    let sts = string_to_sign(&canonical_request(
        req.method,
        query,
        req.headers,
        signed_headers,
        &hash,
    ));
    let unsigned = req.headers.iter().any(|(name, _)| {
        let name = name.to_ascii_lowercase();
        must_be_signed(&name) && !signed_headers.contains(&name)
    });
    if unsigned {
        return Err(ApiError::new(
            ErrorCode::IncompleteSignature,
            string_to_sign_detail(&sts),
        ));
    }
    let claimed = header_values(req.headers, "x-acs-content-sha256")
        .next()
        .map(trim_ows);
    if claimed != Some(hash.as_bytes()) {
        return Err(ApiError::new(
            ErrorCode::SignatureDoesNotMatch,
            string_to_sign_detail(&sts),
        ));
    }
    let expected = signature(&sts, secret);
    let provided = provided.to_ascii_lowercase();
    if bool::from(expected.as_bytes().ct_eq(provided.as_bytes())) {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::SignatureDoesNotMatch,
            signature_mismatch_detail(&sts),
        ))
    }
}

/// Whether a lower-case header name must appear in `SignedHeaders` when present.
fn must_be_signed(name: &str) -> bool {
    name == "host" || name.starts_with("x-acs-")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(name: &str, value: &str) -> (String, Vec<u8>) {
        (name.to_owned(), value.as_bytes().to_vec())
    }

    /// protocol.md §4: Alibaba's documented example.
    #[test]
    fn documented_example_hashes_to_7ea06492_and_signs_to_06563a9e() {
        let query = vec![
            ("RegionId".to_owned(), b"cn-shanghai".to_vec()),
            (
                "ImageId".to_owned(),
                b"win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd".to_vec(),
            ),
        ];
        let headers = vec![
            header("host", "ecs.cn-shanghai.aliyuncs.com"),
            header("x-acs-action", "RunInstances"),
            header("x-acs-version", "2014-05-26"),
            header("x-acs-date", "2023-10-26T10:22:32Z"),
            header("x-acs-signature-nonce", "3156853299f313e23d1673dc12e1703d"),
            header("x-acs-content-sha256", &body_hash(b"")),
        ];
        let signed: Vec<String> =
            "host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version"
                .split(';')
                .map(str::to_owned)
                .collect();
        assert_eq!(signed, default_signed_headers(&headers));
        let canonical = canonical_request("POST", &query, &headers, &signed, &body_hash(b""));
        let sts = string_to_sign(&canonical);
        assert_eq!(
            sts,
            "ACS3-HMAC-SHA256\n7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259"
        );
        assert_eq!(
            signature(&sts, &Secret::new("YourAccessKeySecret")),
            "06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"
        );
    }

    #[test]
    fn repeated_headers_are_sorted_and_joined_and_absent_ones_are_empty() {
        let headers = vec![
            header("x-acs-b", " 2 "),
            header("X-Acs-B", "1"),
            header("host", "h"),
        ];
        let signed = vec![
            "host".to_owned(),
            "x-acs-b".to_owned(),
            "x-acs-c".to_owned(),
        ];
        let canonical = canonical_request("GET", &[], &headers, &signed, "H");
        assert_eq!(
            String::from_utf8(canonical).unwrap(),
            "GET\n/\n\nhost:h\nx-acs-b:1,2\nx-acs-c:\n\nhost;x-acs-b;x-acs-c\nH"
        );
    }

    #[test]
    fn canonical_query_encodes_names_and_values_and_keeps_empty_values() {
        let query = vec![
            ("b".to_owned(), b"x y+z".to_vec()),
            ("a".to_owned(), Vec::new()),
            ("\u{4f60}".to_owned(), b"~*".to_vec()),
        ];
        assert_eq!(canonical_query(&query), "a=&b=x%20y%2Bz&%E4%BD%A0=~%2A");
    }

    #[test]
    fn authorization_parses_and_refuses_what_it_cannot_read() {
        let auth = Authorization::parse(
            b" ACS3-HMAC-SHA256 Credential=testid, SignedHeaders=Host;x-acs-date,Signature=ABC ",
        )
        .unwrap();
        assert_eq!(auth.credential, "testid");
        assert_eq!(auth.signed_headers, ["host", "x-acs-date"]);
        assert_eq!(auth.signature, "abc");

        let code = |v: &[u8]| Authorization::parse(v).unwrap_err().code;
        assert_eq!(
            code(b"ACS3-HMAC-SM3 Credential=a,SignedHeaders=host,Signature=x"),
            ErrorCode::InvalidSignatureMethod
        );
        for bad in [
            &b"ACS3-HMAC-SHA256"[..],
            b"ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host",
            b"ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host,Signature=",
            b"ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host;;x,Signature=x",
            b"ACS3-HMAC-SHA256 Credential=a,Credential=b,SignedHeaders=host,Signature=x",
            b"ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host,Signature=x,Extra=y",
            b"ACS3-HMAC-SHA256 Credential=a SignedHeaders=host Signature=x",
            b"ACS3-HMAC-SHA256 Credential=\xff,SignedHeaders=host,Signature=x",
        ] {
            assert_eq!(
                code(bad),
                ErrorCode::IncompleteSignature,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
