//! A domain's origin (spec/edge.md, "Origin: per-domain setting, with a default upstream from
//! config"): where the edge forwards a domain's requests, `http://host:port`. Parsed once, when the
//! operator sets it (`livecert admin domain set --origin`, `--default-origin`) and when the map is
//! built; the proxy only reads the parsed form.
//!
//! Only `http` origins in this cut (the edge terminates TLS; the hop to the origin is plain HTTP/1.1
//! on the operator's network). No path, query or user information: the request's own path and
//! query are sent. A missing port is 80. The host is kept lower case.

use std::fmt;

use http::uri::{Authority, Scheme, Uri};

/// A checked origin: scheme `http`, a host and a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    authority: Authority,
}

/// Why a value is not an origin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("origin {value:?}: {reason}; use http://host:port")]
pub struct OriginError {
    value: String,
    reason: &'static str,
}

impl Origin {
    /// Parses `http://host[:port][/]`.
    /// Errors: another scheme, no host, a path, query, fragment or user information.
    pub fn parse(value: &str) -> Result<Self, OriginError> {
        let refuse = |reason| OriginError {
            value: value.to_owned(),
            reason,
        };
        if value.len() > 300 {
            return Err(refuse("longer than 300 characters"));
        }
        if value.contains('#') {
            return Err(refuse("a fragment is not allowed"));
        }
        let uri: Uri = value.parse().map_err(|_| refuse("not a URL"))?;
        match uri.scheme() {
            Some(s) if *s == Scheme::HTTP => {}
            Some(_) => return Err(refuse("only http:// origins are supported")),
            None => return Err(refuse("no scheme")),
        }
        let authority = uri.authority().ok_or_else(|| refuse("no host"))?;
        if authority.as_str().contains('@') {
            return Err(refuse("user information is not allowed"));
        }
        if authority.host().is_empty() {
            return Err(refuse("no host"));
        }
        if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
            return Err(refuse("a path or query is not allowed"));
        }
        let port = uri.port_u16().unwrap_or(80);
        if port == 0 {
            return Err(refuse("port 0"));
        }
        let host = authority.host().to_ascii_lowercase();
        let authority = format!("{host}:{port}")
            .parse()
            .map_err(|_| refuse("not a host and port"))?;
        Ok(Self { authority })
    }

    /// `host:port`.
    pub fn authority(&self) -> &Authority {
        &self.authority
    }

    /// The URI of `path_and_query` at this origin.
    /// Errors: never for a path and query taken from a parsed request.
    pub fn uri(&self, path_and_query: &str) -> Result<Uri, http::Error> {
        Uri::builder()
            .scheme(Scheme::HTTP)
            .authority(self.authority.clone())
            .path_and_query(path_and_query)
            .build()
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}", self.authority)
    }
}

impl std::str::FromStr for Origin {
    type Err = OriginError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_host_and_port_with_80_by_default() {
        assert_eq!(
            Origin::parse("http://Origin.Example.com:8081")
                .unwrap()
                .to_string(),
            "http://origin.example.com:8081"
        );
        assert_eq!(
            Origin::parse("http://127.0.0.1/").unwrap().to_string(),
            "http://127.0.0.1:80"
        );
        assert_eq!(
            Origin::parse("http://[::1]:9000").unwrap().to_string(),
            "http://[::1]:9000"
        );
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in [
            "",
            "none",
            "origin.example.com:80",
            "https://origin.example.com",
            "ftp://origin.example.com",
            "http://",
            "http://origin.example.com/live",
            "http://origin.example.com/?a=1",
            "http://user:pw@origin.example.com",
            "http://origin.example.com#x",
            "http://origin.example.com:0",
        ] {
            assert!(Origin::parse(bad).is_err(), "{bad:?}");
        }
    }
}
