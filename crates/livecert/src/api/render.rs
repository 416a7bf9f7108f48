//! Rendering of every response in one place (spec/protocol.md §6): success bodies as flat JSON
//! objects or `<ActionResponse>` XML, and the error envelope `RequestId`, `HostId`, `Code`,
//! `Message`, `Recommend` in the requested format.
//!
//! A success body is a `serde_json::Map` built by the handler (field order kept); XML repeats an
//! array's key once per item, which gives Alibaba's list shape
//! (`{"CertInfos":{"CertInfo":[…]}}` → `<CertInfos><CertInfo>…</CertInfo>…</CertInfos>`).

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::Full;
use livecert_core::error::ApiError;
use livecert_core::protocol::Format;
use serde_json::{Map, Value};

/// `Content-Type` of JSON responses.
pub const JSON_CONTENT_TYPE: &str = "application/json;charset=utf-8";
/// `Content-Type` of XML responses (exactly this: the Python Tea SDK matches it).
pub const XML_CONTENT_TYPE: &str = "text/xml;charset=utf-8";

/// The path at which the API serves its error reference (docs/errors.md, built into the binary).
pub const ERRORS_DOC_PATH: &str = "/docs/errors.md";

/// docs/errors.md as built into this binary: what `GET` [`ERRORS_DOC_PATH`] answers.
pub const ERRORS_DOC: &str = include_str!("../../../../docs/errors.md");

/// Where the error codes are documented; `Recommend` is that URL with the code's anchor.
#[derive(Debug, Clone, Default)]
pub struct ErrorDocs {
    /// Base URL of docs/errors.md (`--errors-doc-url`); `None`: the API's own copy,
    /// `<scheme>://<the request's host>/docs/errors.md`.
    pub base_url: Option<String>,
}

impl ErrorDocs {
    /// The base URL for a request that arrived at `host` (`host[:port]`, checked), over TLS when
    /// `secure`: the configured one, else this API's own [`ERRORS_DOC_PATH`]. Empty `host` (a
    /// request refused for its host) gives a path alone.
    pub fn base_for(&self, host: &str, secure: bool) -> String {
        match &self.base_url {
            Some(base) => base.clone(),
            None if host.is_empty() => ERRORS_DOC_PATH.to_owned(),
            None => {
                let scheme = if secure { "https" } else { "http" };
                format!("{scheme}://{host}{ERRORS_DOC_PATH}")
            }
        }
    }

    /// `Recommend` for an error: `<base>#<anchor>`.
    pub fn recommend(base: &str, error: &ApiError) -> String {
        format!("{base}#{}", error.code.doc_anchor())
    }
}

/// A success response: `RequestId` first, then the handler's fields.
pub fn success(
    action: &str,
    request_id: &str,
    fields: Map<String, Value>,
    format: Format,
) -> Response<Full<Bytes>> {
    let mut body = Map::with_capacity(fields.len() + 1);
    body.insert("RequestId".into(), Value::String(request_id.to_owned()));
    body.extend(fields);
    let root = format!("{action}Response");
    respond(StatusCode::OK, &root, &body, format, request_id)
}

/// An error response with the envelope, in `format`. `access_denied_detail` is the object of a
/// `Forbidden.RAM` answer (access.md), rendered after the five string fields.
pub fn error(
    error: &ApiError,
    request_id: &str,
    host_id: &str,
    docs_base: &str,
    format: Format,
    access_denied_detail: Option<&Map<String, Value>>,
) -> Response<Full<Bytes>> {
    let mut body = Map::new();
    body.insert("RequestId".into(), Value::String(request_id.to_owned()));
    body.insert("HostId".into(), Value::String(host_id.to_owned()));
    body.insert("Code".into(), Value::String(error.code.code().to_owned()));
    body.insert("Message".into(), Value::String(error.message()));
    body.insert(
        "Recommend".into(),
        Value::String(ErrorDocs::recommend(docs_base, error)),
    );
    if let Some(detail) = access_denied_detail {
        body.insert("AccessDeniedDetail".into(), Value::Object(detail.clone()));
    }
    let status =
        StatusCode::from_u16(error.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    respond(status, "Error", &body, format, request_id)
}

fn respond(
    status: StatusCode,
    xml_root: &str,
    body: &Map<String, Value>,
    format: Format,
    request_id: &str,
) -> Response<Full<Bytes>> {
    let (bytes, content_type) = match format {
        Format::Json => (
            serde_json::to_vec(body).unwrap_or_default(),
            JSON_CONTENT_TYPE,
        ),
        Format::Xml => (to_xml(xml_root, body).into_bytes(), XML_CONTENT_TYPE),
    };
    let mut response = Response::new(Full::new(Bytes::from(bytes)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert("x-acs-request-id", v);
    }
    response
}

/// Renders an object as an XML document with the given root element.
pub fn to_xml(root: &str, body: &Map<String, Value>) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    out.push('<');
    out.push_str(root);
    out.push('>');
    write_fields(&mut out, body);
    out.push_str("</");
    out.push_str(root);
    out.push('>');
    out
}

fn write_fields(out: &mut String, map: &Map<String, Value>) {
    for (key, value) in map {
        match value {
            Value::Array(items) => {
                for item in items {
                    write_element(out, key, item);
                }
            }
            other => write_element(out, key, other),
        }
    }
}

fn write_element(out: &mut String, name: &str, value: &Value) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    match value {
        Value::Null => {}
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => escape_into(out, s),
        Value::Object(map) => write_fields(out, map),
        Value::Array(items) => {
            for item in items {
                write_element(out, name, item);
            }
        }
    }
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Not XML 1.0 characters (XML 1.0 §2.2): dropped rather than breaking the document.
            c if ((c as u32) < 0x20 && c != '\n' && c != '\r' && c != '\t')
                || c == '\u{FFFE}'
                || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn characters_xml_cannot_carry_are_dropped() {
        let Value::Object(body) = json!({"CertName": "a\u{FFFE}b\u{1}c\u{FFFF}"}) else {
            unreachable!()
        };
        assert!(to_xml("R", &body).contains("<CertName>abc</CertName>"));
    }

    #[test]
    fn lists_repeat_their_item_element() {
        let Value::Object(body) = json!({"RequestId": "R", "CertInfos": {"CertInfo": [{"DomainName": "a<b"}, {"DomainName": "c"}]}})
        else {
            unreachable!()
        };
        assert_eq!(
            to_xml("XResponse", &body),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><XResponse><RequestId>R</RequestId><CertInfos><CertInfo><DomainName>a&lt;b</DomainName></CertInfo><CertInfo><DomainName>c</DomainName></CertInfo></CertInfos></XResponse>"
        );
    }
}
