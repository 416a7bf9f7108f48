//! The one host a request names, by HTTP's own rules, for every listener: the API (whose
//! `HostId` and V3 `host` it is), the edge's TLS and plain-HTTP ports (which route on it) and the
//! metrics port.
//!
//! - HTTP/1.x (RFC 9112 §3.2): exactly one `Host` header line whose value is a valid
//!   `uri-host [ ":" port ]` — a registered name, an IPv4 address or a bracketed IPv6 literal, no
//!   userinfo, no path — else the request is refused with `400`. HTTP/1.0 requests too: livecert
//!   routes and answers by host, and every client sends one. With an absolute-form target
//!   (`GET http://host/ HTTP/1.1`) the target's authority is the host (RFC 9112 §3.2.2); the Host
//!   line must still be there and valid.
//! - HTTP/2 (RFC 9113 §8.3.1): `:authority`, else the one `Host` header; when both are present they
//!   must name the same host and port (names compared lower case without a trailing dot, a missing
//!   port read as the scheme's default), else the request is malformed: `400`. Two `Host` lines,
//!   or userinfo in `:authority`, are refused as above.
//!
//! [`RequestHost::canonical`] is the form the edge sends to an origin: the name lower case with
//! one trailing dot removed, and the port when the client gave one.

use http::{header, Request, Version};

/// The host of a request, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHost {
    /// The value as the client sent it (`host[:port]`).
    raw: String,
    /// Where the name ends in `raw`.
    name_len: usize,
    /// The port, when the client gave one.
    port: Option<u16>,
}

/// Why a request has no usable host: each is answered `400`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    /// No Host header (and, in HTTP/2, no `:authority`).
    #[error("the request has no Host header")]
    Missing,
    /// More than one Host header line.
    #[error("the request has more than one Host header line")]
    Duplicate,
    /// A Host value that is not `host[:port]` (empty, userinfo, a path, a bad port, other bytes).
    #[error("the Host header is not a valid host[:port]")]
    Invalid,
    /// A request target's authority (HTTP/1.1 absolute-form, HTTP/2 `:authority`) that is not a
    /// valid `host[:port]` (userinfo, most often).
    #[error("the request target's authority is not a valid host[:port]")]
    InvalidAuthority,
    /// HTTP/2: a Host header that names another host or port than `:authority`.
    #[error("the Host header names another host than :authority")]
    Mismatch,
}

impl RequestHost {
    /// Parses a Host value or an authority: `uri-host [ ":" port ]` (RFC 3986 §3.2.2, §3.2.3),
    /// where `uri-host` is a registered name (unreserved, percent-encoded and sub-delimiter
    /// characters), an IPv4 address, or an IPv6 literal in brackets; an empty port counts as none.
    /// `None`: anything else, userinfo and paths included.
    pub fn parse(value: &[u8]) -> Option<Self> {
        let (name_len, port) = if value.first() == Some(&b'[') {
            let close = value.iter().position(|&b| b == b']')?;
            let literal = &value[1..close];
            let valid_literal = !literal.is_empty()
                && literal.contains(&b':')
                && literal
                    .iter()
                    .all(|b| b.is_ascii_hexdigit() || *b == b':' || *b == b'.');
            if !valid_literal {
                return None;
            }
            (close + 1, &value[close + 1..])
        } else {
            let end = value.iter().position(|&b| b == b':').unwrap_or(value.len());
            if end == 0 || !reg_name(&value[..end]) {
                return None;
            }
            (end, &value[end..])
        };
        let port = match port {
            [] | [b':'] => None,
            [b':', digits @ ..] => {
                if digits.len() > 5 || !digits.iter().all(u8::is_ascii_digit) {
                    return None;
                }
                Some(std::str::from_utf8(digits).ok()?.parse::<u16>().ok()?)
            }
            _ => return None,
        };
        Some(Self {
            raw: String::from_utf8(value.to_vec()).ok()?,
            name_len,
            port,
        })
    }

    /// The value as the client sent it.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The name as the client sent it, without the port.
    pub fn name(&self) -> &str {
        &self.raw[..self.name_len]
    }

    /// The port, when the client gave one.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The name lower case with one trailing dot removed (the edge's name rule, spec/edge.md).
    pub fn normalised_name(&self) -> String {
        let name = self.name();
        name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
    }

    /// [`Self::normalised_name`], then `:port` when the client gave one: what the edge sends to
    /// an origin as Host.
    pub fn canonical(&self) -> String {
        match self.port {
            Some(port) => format!("{}:{port}", self.normalised_name()),
            None => self.normalised_name(),
        }
    }

    /// Whether `self` and `other` name the same host (normalised names) on the same port, a
    /// missing port read as `default_port`.
    fn same_as(&self, other: &Self, default_port: u16) -> bool {
        self.normalised_name() == other.normalised_name()
            && self.port.unwrap_or(default_port) == other.port.unwrap_or(default_port)
    }
}

/// The host of `request` by the rules of this module.
/// Errors: [`HostError`], each to be answered `400`.
pub fn request_host<B>(request: &Request<B>) -> Result<RequestHost, HostError> {
    let mut lines = request.headers().get_all(header::HOST).iter();
    let host = match (lines.next(), lines.next()) {
        (_, Some(_)) => return Err(HostError::Duplicate),
        (Some(value), None) => {
            Some(RequestHost::parse(value.as_bytes()).ok_or(HostError::Invalid)?)
        }
        (None, None) => None,
    };
    let authority = request
        .uri()
        .authority()
        .map(|a| RequestHost::parse(a.as_str().as_bytes()).ok_or(HostError::InvalidAuthority))
        .transpose()?;
    if request.version() == Version::HTTP_2 {
        return match (authority, host) {
            (Some(authority), Some(host)) => {
                let default_port = if request.uri().scheme() == Some(&http::uri::Scheme::HTTP) {
                    80
                } else {
                    443
                };
                if authority.same_as(&host, default_port) {
                    Ok(authority)
                } else {
                    Err(HostError::Mismatch)
                }
            }
            (Some(one), None) | (None, Some(one)) => Ok(one),
            (None, None) => Err(HostError::Missing),
        };
    }
    // HTTP/1.x: the Host line is required; an absolute-form target's authority wins over it.
    let host = host.ok_or(HostError::Missing)?;
    Ok(authority.unwrap_or(host))
}

/// A registered name or an IPv4 address (RFC 3986 §3.2.2): unreserved and sub-delimiter
/// characters and `%XX`.
fn reg_name(name: &[u8]) -> bool {
    let mut i = 0;
    while i < name.len() {
        let b = name[i];
        if b == b'%' {
            let hex = name.get(i + 1..i + 3);
            if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                return false;
            }
            i += 3;
            continue;
        }
        let allowed = b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=".contains(&b);
        if !allowed {
            return false;
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(version: Version, uri: &str, hosts: &[&str]) -> Request<()> {
        let mut builder = Request::get(uri).version(version);
        for host in hosts {
            builder = builder.header(header::HOST, *host);
        }
        builder.body(()).expect("request")
    }

    #[test]
    fn host_values_are_host_and_optional_port_and_nothing_else() {
        for (value, name, port) in [
            ("live.example.com", "live.example.com", None),
            ("Live.Example.COM.:8443", "Live.Example.COM.", Some(8443)),
            ("live.example.com:", "live.example.com", None),
            ("127.0.0.1:8080", "127.0.0.1", Some(8080)),
            ("[::1]:443", "[::1]", Some(443)),
            ("[2001:db8::1]", "[2001:db8::1]", None),
            ("xn--bcher-kva.example", "xn--bcher-kva.example", None),
            ("a%2Db.example", "a%2Db.example", None),
        ] {
            let host = RequestHost::parse(value.as_bytes()).expect(value);
            assert_eq!((host.name(), host.port()), (name, port), "{value}");
            assert_eq!(host.as_str(), value);
        }
        for bad in [
            "",
            ":80",
            "a@live.example.com",
            "live.example.com/x",
            "live.example.com:https",
            "live.example.com:1:2",
            "live.example.com:65536",
            "live.example.com:123456",
            "live example.com",
            "<b>x</b>",
            "[::1",
            "[]",
            "[v1.x]",
            "[::1]x",
            "a%zz",
            "a%2",
            "caf\u{e9}.example",
        ] {
            assert_eq!(RequestHost::parse(bad.as_bytes()), None, "{bad:?}");
        }
    }

    #[test]
    fn the_canonical_host_is_lower_case_without_a_trailing_dot_with_the_clients_port() {
        let host = RequestHost::parse(b"Live.Example.COM.:8443").expect("host");
        assert_eq!(host.normalised_name(), "live.example.com");
        assert_eq!(host.canonical(), "live.example.com:8443");
        let host = RequestHost::parse(b"LIVE.example.com").expect("host");
        assert_eq!(host.canonical(), "live.example.com");
    }

    #[test]
    fn http1_needs_exactly_one_valid_host_line() {
        let v11 = Version::HTTP_11;
        let one = request_host(&request(v11, "/", &["live.example.com"])).expect("one");
        assert_eq!(one.as_str(), "live.example.com");
        let dup = request(v11, "/", &["live.example.com", "live.example.com"]);
        assert_eq!(request_host(&dup), Err(HostError::Duplicate));
        assert_eq!(
            request_host(&request(v11, "/", &[])),
            Err(HostError::Missing)
        );
        assert_eq!(
            request_host(&request(Version::HTTP_10, "/", &[])),
            Err(HostError::Missing)
        );
        assert_eq!(
            request_host(&request(v11, "/", &[""])),
            Err(HostError::Invalid)
        );
        // RFC 9112 §3.2.2: an absolute-form target's authority is the host; the line must still
        // be valid.
        let absolute = request(v11, "http://live.example.com/x", &["other.example.com"]);
        assert_eq!(
            request_host(&absolute).expect("absolute").as_str(),
            "live.example.com"
        );
        let no_line = request(v11, "http://live.example.com/x", &[]);
        assert_eq!(request_host(&no_line), Err(HostError::Missing));
        let userinfo = request(v11, "http://a@live.example.com/x", &["live.example.com"]);
        assert_eq!(request_host(&userinfo), Err(HostError::InvalidAuthority));
    }

    #[test]
    fn http2_authority_and_host_must_agree() {
        let v2 = Version::HTTP_2;
        let authority = request_host(&request(v2, "https://live.example.com/", &[])).expect("a");
        assert_eq!(authority.as_str(), "live.example.com");
        let host_only = request_host(&request(v2, "/", &["live.example.com"])).expect("host");
        assert_eq!(host_only.as_str(), "live.example.com");
        for agreeing in [
            "live.example.com",
            "LIVE.example.com.",
            "live.example.com:443",
        ] {
            let r = request(v2, "https://live.example.com/", &[agreeing]);
            assert_eq!(
                request_host(&r).expect(agreeing).as_str(),
                "live.example.com"
            );
        }
        for other in ["other.example.com", "live.example.com:8443"] {
            let r = request(v2, "https://live.example.com/", &[other]);
            assert_eq!(request_host(&r), Err(HostError::Mismatch), "{other}");
        }
        let r = request(v2, "http://live.example.com/", &["live.example.com:80"]);
        assert!(request_host(&r).is_ok());
        let r = request(v2, "https://a@live.example.com/", &[]);
        assert_eq!(request_host(&r), Err(HostError::InvalidAuthority));
        assert_eq!(
            request_host(&request(v2, "/", &[])),
            Err(HostError::Missing)
        );
        let two = request(
            v2,
            "https://live.example.com/",
            &["live.example.com", "x.example"],
        );
        assert_eq!(request_host(&two), Err(HostError::Duplicate));
    }
}
