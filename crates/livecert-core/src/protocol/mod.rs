//! The Alibaba Cloud RPC ("POP") wire protocol: scheme detection, required common parameters,
//! V1 HMAC-SHA1 and V3 ACS3-HMAC-SHA256 signatures (verify and sign), clock window
//! (spec/protocol.md §2–§5, §8).
//!
//! PLACEHOLDER CONTRACT — being implemented; the public items below are the interface.

use crate::action::Action;
use crate::error::ApiError;
use crate::params::{Pair, Params};
use crate::secret::Secret;

/// Allowed distance between a request's timestamp and the server clock, in seconds (§5).
pub const CLOCK_WINDOW_SECS: i64 = 15 * 60;

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
    /// `SecurityToken` / `x-acs-security-token`, when sent.
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
pub fn prepare(req: &HttpRequest<'_>) -> Result<Prepared, Rejected> {
    let _ = req;
    Err(Rejected { error: ApiError::bare(crate::error::ErrorCode::InternalError), format: Format::Json })
}

/// Checks a raw timestamp against `now` (Unix seconds): `InvalidTimeStamp.Format` / `.Expired`.
/// Returns the timestamp as Unix seconds.
pub fn check_timestamp(raw: &str, now: i64) -> Result<i64, ApiError> {
    let _ = (raw, now);
    Err(ApiError::bare(crate::error::ErrorCode::InternalError))
}

/// Verifies the signature of a prepared request with the AccessKey's secret (constant time).
/// Errors: `SignatureDoesNotMatch` (message ends with ` server string to sign is:<sts>`),
/// `IncompleteSignature` for an unsigned `host` / `x-acs-*` header.
pub fn verify(req: &HttpRequest<'_>, prepared: &Prepared, secret: &Secret) -> Result<(), ApiError> {
    let _ = (req, prepared, secret);
    Err(ApiError::bare(crate::error::ErrorCode::InternalError))
}
