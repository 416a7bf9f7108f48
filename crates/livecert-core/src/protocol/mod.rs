//! The Alibaba Cloud RPC ("POP") wire protocol: scheme detection, required common parameters,
//! V1 HMAC-SHA1 and V3 ACS3-HMAC-SHA256 signatures (verify and sign), clock window
//! (spec/protocol.md §2–§5, §8).
//!
//! A request goes through three steps, in the order of §8: [`prepare`] reads the parameters, the
//! scheme, the scheme's required parameters or headers, the action, the version, the response
//! format and the SecurityToken; the caller then looks the AccessKey up, calls [`check_timestamp`]
//! and finally [`verify`] with the AccessKey's secret. The client side ([`sign_v1`], [`sign_v3`],
//! [`encode_pairs`]) uses the very canonicalisation the server verifies with.
//!
//! Submodules: [`v1`] (HMAC-SHA1 canonical query and signature), [`v3`] (Authorization header,
//! canonical request and signature), [`client`] (signing requests to send).

pub mod client;
pub mod v1;
pub mod v3;

#[cfg(test)]
mod tests;

use crate::action::{Action, Product};
use crate::api_error;
use crate::error::{ApiError, ErrorCode};
use crate::params::{Pair, Params};
use crate::secret::Secret;
use crate::timefmt;

pub use client::{encode_pairs, sign_v1, sign_v3, V3Request};

/// Allowed distance between a request's timestamp and the server clock, in seconds (§5).
pub const CLOCK_WINDOW_SECS: i64 = 15 * 60;

/// The marker that precedes the server's StringToSign in `SignatureDoesNotMatch` and
/// `IncompleteSignature` details (§6); aliyun-python-sdk-core reads the text after the first `:`.
pub const STRING_TO_SIGN_MARKER: &str = "server string to sign is:";

/// The parts of an HTTP request the protocol reads. Header names are lower case.
#[derive(Debug, Clone)]
pub struct HttpRequest<'a> {
    /// `GET` or `POST` (checked before this layer).
    pub method: &'a str,
    /// The path of the request target, e.g. `/`.
    pub path: &'a str,
    /// The raw query string after `?` (empty when none).
    pub raw_query: &'a [u8],
    /// Headers in wire order, names lower case, values as sent.
    pub headers: &'a [(String, Vec<u8>)],
    /// The raw body (at most 1 MiB).
    pub body: &'a [u8],
}

/// The response format (§6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `application/json;charset=utf-8`.
    Json,
    /// `text/xml;charset=utf-8`.
    Xml,
}

/// Which signature scheme a request uses, with what the scheme carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scheme {
    /// V1 HMAC-SHA1: the `Signature` parameter.
    V1 {
        /// The `Signature` parameter as sent (base64).
        signature: String,
    },
    /// V3 ACS3-HMAC-SHA256: the parsed `Authorization` header.
    V3 {
        /// `SignedHeaders`, lower case, as listed.
        signed_headers: Vec<String>,
        /// `Signature`, lower-case hex.
        signature: String,
    },
}

/// A request whose scheme, required parameters, action and version were read (§8 up to "action and
/// version"); next the caller looks up the AccessKey, checks the timestamp, then the signature.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The scheme and its signature.
    pub scheme: Scheme,
    /// The operation.
    pub action: Action,
    /// AccessKeyId (V1 parameter, V3 `Credential`).
    pub access_key_id: String,
    /// The raw timestamp (`Timestamp` / `x-acs-date`), checked by [`check_timestamp`].
    pub timestamp: String,
    /// `SignatureNonce` / `x-acs-signature-nonce`.
    pub nonce: String,
    /// `SecurityToken` / `x-acs-security-token`, when sent (an empty value counts as absent).
    pub security_token: Option<String>,
    /// The union of query and form-body parameters.
    pub params: Params,
    /// The query's own pairs (V3 canonicalises these alone).
    pub query_pairs: Vec<Pair>,
    /// The response format.
    pub format: Format,
}

/// A refusal before or while preparing, with the format to answer it in.
#[derive(Debug, Clone)]
pub struct Rejected {
    /// What to answer.
    pub error: ApiError,
    /// The format to answer in.
    pub format: Format,
}

/// Reads scheme, required parameters/headers, action and version (§2–§4, §8).
///
/// Steps, each refusing with the first error it finds:
/// 1. parameters: query ∪ form body (the body counts only with Content-Type
///    `application/x-www-form-urlencoded`); a decoding error is answered in JSON;
/// 2. scheme (§2): `IncompleteSignature` or `InvalidSignatureMethod`;
/// 3. the scheme's required parameters (V1) or headers (V3): `MissingParameter` naming it (an
///    empty value counts as absent);
/// 4. action (`InvalidAction.NotFound`), then version (`InvalidVersion`);
/// 5. `Format` (`InvalidParameter`), then the SecurityToken.
///
/// Errors after step 1 are answered in the requested `Format` when it is valid, else in the
/// scheme's default (XML for V1, JSON for V3 and when no scheme was found).
pub fn prepare(req: &HttpRequest<'_>) -> Result<Prepared, Rejected> {
    let body = is_form_body(req.headers).then_some(req.body);
    let (params, query_pairs) =
        Params::from_sources(req.raw_query, body).map_err(|error| Rejected {
            error,
            format: Format::Json,
        })?;
    let requested = requested_format(&params);

    let found = detect_scheme(req, &params, &query_pairs).map_err(|(error, default)| Rejected {
        error,
        format: requested.unwrap_or(default),
    })?;
    let default = match found {
        Found::V1 { .. } => Format::Xml,
        Found::V3(_) => Format::Json,
    };
    let reject = |error: ApiError| Rejected {
        error,
        format: requested.unwrap_or(default),
    };

    let common = match &found {
        Found::V1 { .. } => v1_common(&params),
        Found::V3(auth) => v3_common(req.headers, auth),
    }
    .map_err(reject)?;

    let action = Action::from_wire_name(&common.action).ok_or_else(|| {
        reject(api_error!(
            InvalidActionNotFound,
            "livecert answers {}.",
            supported_actions()
        ))
    })?;
    let product = action.product();
    if common.version != product.version() {
        return Err(reject(api_error!(
            InvalidVersion,
            "livecert implements {} of {} ({}); this listener answers {}.",
            action.wire_name(),
            product.code(),
            product.version(),
            supported_versions()
        )));
    }
    if let Some((host, named)) = host_product(req.headers) {
        if named != product {
            return Err(reject(api_error!(
                InvalidActionNotFound,
                "{host} answers {} {}; send {} ({} {}) to {}.aliyuncs.com.",
                named.code(),
                named.version(),
                action.wire_name(),
                product.code(),
                product.version(),
                product.code()
            )));
        }
    }
    let format = match params.non_empty_text("Format").map_err(reject)? {
        None => default,
        Some(text) => parse_format(text)
            .ok_or_else(|| reject(ApiError::invalid("Format", "Use JSON or XML.")))?,
    };
    let scheme = match found {
        Found::V1 { signature } => Scheme::V1 { signature },
        Found::V3(auth) => Scheme::V3 {
            signed_headers: auth.signed_headers,
            signature: auth.signature,
        },
    };
    Ok(Prepared {
        scheme,
        action,
        access_key_id: common.access_key_id,
        timestamp: common.timestamp,
        nonce: common.nonce,
        security_token: common.security_token,
        params,
        query_pairs,
        format,
    })
}

/// Checks a raw timestamp against `now` (Unix seconds): `InvalidTimeStamp.Format` / `.Expired`.
/// Returns the timestamp as Unix seconds.
///
/// The timestamp is accepted when it is at most [`CLOCK_WINDOW_SECS`] away from `now`, in either
/// direction (§5).
pub fn check_timestamp(raw: &str, now: i64) -> Result<i64, ApiError> {
    let Some(at) = timefmt::parse_utc(raw) else {
        return Err(api_error!(
            InvalidTimeStampFormat,
            "Send the time in UTC as yyyy-MM-ddTHH:mm:ssZ, e.g. {}.",
            timefmt::format_utc(now)
        ));
    };
    if at.abs_diff(now) > CLOCK_WINDOW_SECS.unsigned_abs() {
        return Err(api_error!(
            InvalidTimeStampExpired,
            "The request was signed at {} and the server time is {}; the two may differ by at most \
             15 minutes. Check the client's clock.",
            timefmt::format_utc(at),
            timefmt::format_utc(now)
        ));
    }
    Ok(at)
}

/// Verifies the signature of a prepared request with the AccessKey's secret (constant time).
/// Errors: `SignatureDoesNotMatch` (message ends with ` server string to sign is:<sts>`),
/// `IncompleteSignature` for an unsigned `host` / `x-acs-*` header.
///
/// V1 (§3) signs the union of query and form-body parameters; V3 (§4) signs the query pairs, the
/// headers listed in `SignedHeaders` and the body's SHA-256, which must equal
/// `x-acs-content-sha256`.
pub fn verify(req: &HttpRequest<'_>, prepared: &Prepared, secret: &Secret) -> Result<(), ApiError> {
    match &prepared.scheme {
        Scheme::V1 { signature } => v1::verify(req.method, &prepared.params, signature, secret),
        Scheme::V3 {
            signed_headers,
            signature,
        } => v3::verify(
            req,
            &prepared.query_pairs,
            signed_headers,
            signature,
            secret,
        ),
    }
}

/// The server's StringToSign for a prepared request: what [`verify`] signs, and what the
/// `SignatureDoesNotMatch` detail shows.
pub fn string_to_sign(req: &HttpRequest<'_>, prepared: &Prepared) -> String {
    match &prepared.scheme {
        Scheme::V1 { .. } => v1::string_to_sign(req.method, &prepared.params),
        Scheme::V3 { signed_headers, .. } => {
            let body_hash = v3::body_hash(req.body);
            let canonical = v3::canonical_request(
                req.method,
                &prepared.query_pairs,
                req.headers,
                signed_headers,
                &body_hash,
            );
            v3::string_to_sign(&canonical)
        }
    }
}

/// Percent-encodes bytes per §3 step 3: `A–Z a–z 0–9 - _ . ~` stay, every other byte becomes `%XY`
/// with upper-case hex (space → `%20`, `*` → `%2A`, `/` → `%2F`).
pub fn percent_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + bytes.len() / 2);
    percent_encode_into(&mut out, bytes);
    out
}

/// [`percent_encode`] appended to `out`. Runs of bytes that stay are copied whole, so a
/// certificate's base64 costs little more than a copy.
pub fn percent_encode_into(out: &mut String, bytes: &[u8]) {
    encode_runs(out, bytes, b"%");
}

/// [`percent_encode`] applied twice, appended to `out` in one pass: a byte that stays stays, and any
/// other becomes `%25XY` (its `%XY`, whose `%` is encoded again and whose hex digits stay). V1's
/// StringToSign encodes the canonical query, itself made of encoded values (§3 step 5).
pub(crate) fn percent_encode_twice_into(out: &mut String, bytes: &[u8]) {
    encode_runs(out, bytes, b"%25");
}

/// Appends `bytes` to `out`: runs of bytes that stay copied whole, every other byte as `escape`
/// followed by its two upper-case hex digits.
fn encode_runs(out: &mut String, bytes: &[u8], escape: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut buf = std::mem::take(out).into_bytes();
    buf.reserve(bytes.len());
    let mut rest = bytes;
    loop {
        let run = rest
            .iter()
            .position(|&b| !UNRESERVED[usize::from(b)])
            .unwrap_or(rest.len());
        buf.extend_from_slice(&rest[..run]);
        let Some((&b, tail)) = rest[run..].split_first() else {
            break;
        };
        buf.extend_from_slice(escape);
        buf.extend_from_slice(&[HEX[usize::from(b >> 4)], HEX[usize::from(b & 0x0f)]]);
        rest = tail;
    }
    // Only ASCII was added to what was a `String`, so this is always valid UTF-8.
    *out = String::from_utf8(buf)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
}

/// The bytes §3 step 3 leaves as they are: `A–Z a–z 0–9 - _ . ~`.
const UNRESERVED: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b'~');
        b += 1;
    }
    table
};

/// The `SignatureDoesNotMatch` / `IncompleteSignature` detail: the marker, then the server's
/// StringToSign (§6).
pub(crate) fn string_to_sign_detail(sts: &str) -> String {
    format!("{STRING_TO_SIGN_MARKER}{sts}")
}

/// The `SignatureDoesNotMatch` detail when the signature itself differs: a hint at the usual
/// cause for a self-hosted endpoint (the wrong secret for the AccessKeyId), then the marker and
/// the server's StringToSign, which a client compares with its own. No `:` before the marker
/// (aliyun-python-sdk-core splits the message there).
pub(crate) fn signature_mismatch_detail(sts: &str) -> String {
    format!(
        "Check ALIBABA_CLOUD_ACCESS_KEY_SECRET, which must be the secret livecert issued with this \
         AccessKeyId. If it is, the request was not signed as it was sent; the {STRING_TO_SIGN_MARKER}{sts}"
    )
}

/// The product an official hostname names (`live.aliyuncs.com`, `cas.cn-shanghai.aliyuncs.com`,
/// `sts.aliyuncs.com`: the first label of a name under `aliyuncs.com`), with the host as sent
/// (lower case, without its port); `None` for any other host (an IP address, the operator's own
/// name), which names no product.
fn host_product(headers: &[(String, Vec<u8>)]) -> Option<(String, Product)> {
    let raw = header_values(headers, "host").next()?;
    let host = std::str::from_utf8(trim_ows(raw))
        .ok()?
        .to_ascii_lowercase();
    let name = host.split(':').next()?.trim_end_matches('.').to_owned();
    if !name.ends_with(".aliyuncs.com") {
        return None;
    }
    let first = name.split('.').next()?;
    Product::ALL
        .into_iter()
        .find(|p| p.code() == first)
        .map(|p| (name.clone(), p))
}

/// The values of every header named `name` (ASCII case-insensitive), in wire order.
pub(crate) fn header_values<'h>(
    headers: &'h [(String, Vec<u8>)],
    name: &'h str,
) -> impl Iterator<Item = &'h [u8]> + 'h {
    headers
        .iter()
        .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_slice())
}

/// Removes leading and trailing spaces and tabs (HTTP optional white space).
pub(crate) fn trim_ows(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(start, |i| i + 1);
    bytes.get(start..end).unwrap_or_default()
}

/// The scheme found by step 2 of [`prepare`].
enum Found {
    V1 { signature: String },
    V3(v3::Authorization),
}

/// What step 3 of [`prepare`] reads: the common parameters both schemes carry.
struct Common {
    access_key_id: String,
    timestamp: String,
    nonce: String,
    action: String,
    version: String,
    security_token: Option<String>,
}

/// §2. On error, also returns the format the scheme defaults to (JSON when no scheme was found).
///
/// An `IncompleteSignature` detail carries the StringToSign the server would have checked: for V3,
/// with `host` and every `x-acs-*` header signed; with no signature at all, V1's.
fn detect_scheme(
    req: &HttpRequest<'_>,
    params: &Params,
    query_pairs: &[Pair],
) -> Result<Found, (ApiError, Format)> {
    let authorizations: Vec<&[u8]> = header_values(req.headers, "authorization").collect();
    if authorizations
        .iter()
        .any(|value| trim_ows(value).starts_with(b"ACS3-"))
    {
        let auth = match authorizations.as_slice() {
            [only] => v3::Authorization::parse(only),
            _ => Err(ApiError::bare(ErrorCode::IncompleteSignature)),
        };
        return auth.map(Found::V3).map_err(|mut error| {
            if error.code == ErrorCode::IncompleteSignature {
                let signed = v3::default_signed_headers(req.headers);
                let hash = v3::body_hash(req.body);
                let canonical =
                    v3::canonical_request(req.method, query_pairs, req.headers, &signed, &hash);
                error.detail = string_to_sign_detail(&v3::string_to_sign(&canonical));
            }
            (error, Format::Json)
        });
    }
    match params.text("Signature").map_err(|e| (e, Format::Xml))? {
        Some(signature) if !signature.is_empty() => {
            for (name, expected) in [
                ("SignatureMethod", "HMAC-SHA1"),
                ("SignatureVersion", "1.0"),
            ] {
                if params
                    .bytes(name)
                    .is_some_and(|v| !v.is_empty() && v != expected.as_bytes())
                {
                    let error = api_error!(
                        InvalidSignatureMethod,
                        "livecert accepts {name}={expected} for signatures in parameters, or \
                         ACS3-HMAC-SHA256 in the Authorization header."
                    );
                    return Err((error, Format::Xml));
                }
            }
            Ok(Found::V1 {
                signature: signature.to_owned(),
            })
        }
        _ => {
            let sts = v1::shown_string_to_sign(req.method, params);
            let error = ApiError::new(ErrorCode::IncompleteSignature, string_to_sign_detail(&sts));
            Err((error, Format::Json))
        }
    }
}

/// §3: V1's required parameters, in the order they are checked.
fn v1_common(params: &Params) -> Result<Common, ApiError> {
    let require = |name: &str| -> Result<String, ApiError> {
        let value = params
            .non_empty_text(name)?
            .ok_or_else(|| ApiError::missing(name))?;
        Ok(value.to_owned())
    };
    let access_key_id = require("AccessKeyId")?;
    let nonce = require("SignatureNonce")?;
    let timestamp = require("Timestamp")?;
    require("SignatureMethod")?;
    require("SignatureVersion")?;
    let action = require("Action")?;
    let version = require("Version")?;
    let security_token = params.non_empty_text("SecurityToken")?.map(str::to_owned);
    Ok(Common {
        access_key_id,
        timestamp,
        nonce,
        action,
        version,
        security_token,
    })
}

/// §4: V3's required headers, in the order they are checked; the AccessKeyId is the
/// Authorization's `Credential`.
fn v3_common(headers: &[(String, Vec<u8>)], auth: &v3::Authorization) -> Result<Common, ApiError> {
    let require = |name: &'static str| -> Result<String, ApiError> {
        let value = single_header(headers, name)?.ok_or_else(|| ApiError::missing(name))?;
        Ok(value.to_owned())
    };
    require("host")?;
    let action = require("x-acs-action")?;
    let version = require("x-acs-version")?;
    let timestamp = require("x-acs-date")?;
    let nonce = require("x-acs-signature-nonce")?;
    require("x-acs-content-sha256")?;
    let security_token = single_header(headers, "x-acs-security-token")?.map(str::to_owned);
    Ok(Common {
        access_key_id: auth.credential.clone(),
        timestamp,
        nonce,
        action,
        version,
        security_token,
    })
}

/// A header that may be sent at most once, trimmed, as text; an empty value counts as absent.
/// Errors: `InvalidParameter` naming the header when it is sent twice or is not UTF-8 without NUL.
fn single_header<'h>(
    headers: &'h [(String, Vec<u8>)],
    name: &'h str,
) -> Result<Option<&'h str>, ApiError> {
    let mut values = header_values(headers, name);
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ApiError::invalid(
            name,
            "The header appears more than once; send it once.",
        ));
    }
    match std::str::from_utf8(trim_ows(first)) {
        Ok("") => Ok(None),
        Ok(text) if !text.contains('\0') => Ok(Some(text)),
        _ => Err(ApiError::invalid(
            name,
            "The value must be UTF-8 text without NUL characters.",
        )),
    }
}

/// Whether the first Content-Type header names `application/x-www-form-urlencoded` (§1).
fn is_form_body(headers: &[(String, Vec<u8>)]) -> bool {
    header_values(headers, "content-type")
        .next()
        .is_some_and(|value| {
            let media_type = value.split(|&b| b == b';').next().unwrap_or_default();
            trim_ows(media_type).eq_ignore_ascii_case(b"application/x-www-form-urlencoded")
        })
}

/// The `Format` parameter when present and valid, for answering errors found before it is checked.
fn requested_format(params: &Params) -> Option<Format> {
    params
        .non_empty_text("Format")
        .ok()
        .flatten()
        .and_then(parse_format)
}

/// `JSON` / `XML`, case-insensitive (§6).
fn parse_format(text: &str) -> Option<Format> {
    if text.eq_ignore_ascii_case("JSON") {
        Some(Format::Json)
    } else if text.eq_ignore_ascii_case("XML") {
        Some(Format::Xml)
    } else {
        None
    }
}

/// The wire names of every action, for `InvalidAction.NotFound`'s detail.
/// `live 2016-11-01: AddLiveDomain, …; cas 2020-04-07: …; sts 2015-04-01: GetCallerIdentity`.
fn supported_actions() -> String {
    Product::ALL
        .iter()
        .map(|&product| {
            let names: Vec<&str> = Action::ALL
                .iter()
                .filter(|a| a.product() == product)
                .map(|a| a.wire_name())
                .collect();
            format!(
                "{} {}: {}",
                product.code(),
                product.version(),
                names.join(", ")
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// `live 2016-11-01, cas 2020-04-07 and sts 2015-04-01`.
fn supported_versions() -> String {
    let all: Vec<String> = Product::ALL
        .iter()
        .map(|p| format!("{} {}", p.code(), p.version()))
        .collect();
    match all.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => all.join(""),
    }
}
