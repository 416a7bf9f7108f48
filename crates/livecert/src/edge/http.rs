//! HTTP after TLS. This first cut answers every request itself: the proxy to origins
//! (spec/edge.md, "Proxies each request to the domain's origin") is not built yet, so a request
//! for a served domain is answered `502 Bad Gateway` naming the domain. A request whose Host
//! resolves to another map entry than the connection's SNI is answered `421 Misdirected Request`.

use std::convert::Infallible;

use bytes::Bytes;
use http::{header, Request, Response, StatusCode};
use http_body_util::Full;

use super::map::CertMap;

/// Answers one request on a connection whose SNI was `sni`, against the current `map`.
pub fn answer<B>(
    map: &CertMap,
    sni: Option<&str>,
    request: &Request<B>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let by_sni = sni.and_then(|s| map.lookup(s)).map(|(domain, _)| domain);
    let host = request_host(request);
    let by_host = match &host {
        Some(h) => map.lookup(h).map(|(domain, _)| domain),
        None => by_sni,
    };
    let response = match (by_sni, by_host) {
        (Some(served), Some(asked)) if served == asked => text(
            StatusCode::BAD_GATEWAY,
            format!("livecert edge: {served} has no origin configured (proxying to origins is not built yet)\n"),
        ),
        _ => text(
            StatusCode::MISDIRECTED_REQUEST,
            format!(
                "livecert edge: {} is not served on this connection; open a connection for it\n",
                host.as_deref().unwrap_or("this host")
            ),
        ),
    };
    Ok(response)
}

/// The request's host, port and trailing dot removed, lower case: the URI's authority (HTTP/2,
/// absolute-form) or the Host header.
fn request_host<B>(request: &Request<B>) -> Option<String> {
    let authority = match request.uri().authority() {
        Some(a) => a.clone(),
        None => request
            .headers()
            .get(header::HOST)?
            .to_str()
            .ok()?
            .parse::<http::uri::Authority>()
            .ok()?,
    };
    Some(super::map::normalise(authority.host()))
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
