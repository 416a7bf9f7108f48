//! HTTP after TLS (spec/edge.md, "Proxies each request to the domain's origin"): each request is
//! routed by its host against the connection's SNI, then forwarded to the domain's origin (or the
//! edge's default origin) over HTTP/1.1, whichever of HTTP/1.1 and HTTP/2 the client spoke.
//!
//! - A request without exactly one valid host ([`crate::host`]: RFC 9112 §3.2, RFC 9113 §8.3.1)
//!   is answered `400` and never forwarded, on both ports.
//! - A request whose host resolves to another map entry than the connection's SNI is answered
//!   `421 Misdirected Request` and never forwarded.
//! - Forwarded: the method, the path and query, the headers minus the hop-by-hop ones (RFC 9110
//!   §7.6.1: `Connection` and the headers it names, `Keep-Alive`, `Proxy-*`, `TE`, `Trailer`,
//!   `Transfer-Encoding`, `Upgrade`), `Host` set to the routed host in its canonical form
//!   ([`RequestHost::canonical`]: whatever the client sent, the origin sees the name the edge
//!   routed on), the peer's address appended to `X-Forwarded-For`, `X-Forwarded-Proto: https`.
//!   The origin's response comes back with its hop-by-hop headers removed.
//! - Bodies stream both ways (hyper's flow control, nothing buffered whole), so HTTP-FLV and HLS
//!   work.
//! - No origin: `502` naming the domain. An origin that does not accept within
//!   [`ORIGIN_CONNECT_TIMEOUT`] or fails before its response headers: `502`; one that accepts but
//!   sends no response headers within [`ORIGIN_HEADERS_TIMEOUT`]: `504`. The body is one short
//!   line; the cause, with the origin's address, goes to the log.
//! - A request body the client breaks (malformed chunks, an early end, a reset) is the client's
//!   error: `400`, or `408` when the origin's deadline passes while the edge still waits on the
//!   client's body; never logged as a warning nor counted as the origin's failure (`ClientBody`
//!   records how far the body got).
//! - The plain-HTTP port ([`Proxy::answer_plain`], [`plain_route`]) routes by Host alone: a Host
//!   no online domain serves is `404` (never the default origin), a domain that requires HTTPS is
//!   `308` to `https://<host><path-and-query>` (the host without its port: HTTPS is on 443), any
//!   other online domain — HTTPS on or off — is forwarded as above with `X-Forwarded-Proto: http`.
//! - ACME HTTP-01 challenges (RFC 8555 §8.3), `GET /.well-known/acme-challenge/<token>` on the
//!   plain-HTTP port, are never redirected: a challenge of livecert's own ACME issuer
//!   ([`super::challenges`]) is answered first, whatever valid Host the request names; else the
//!   file `<token>` of the operator's
//!   `--acme-webroot` (the layout certbot `--webroot`, lego `--http.webroot` and acme.sh
//!   `--webroot` write) is served whatever valid Host the request names; without one, the request
//!   goes to the domain's origin, where the domain's own ACME client answers; else `404`.

use std::convert::Infallible;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{header, HeaderMap, Request, Response, StatusCode, Version};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tracing::{debug, warn};

use super::challenges::ChallengeBook;
use super::map::CertMap;
use super::metrics::Metrics;
use super::origin::Origin;
use crate::host::{request_host, HostError, RequestHost};

/// How long the edge waits for an origin to accept a connection.
pub const ORIGIN_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long the edge waits for an origin's response headers (the body may then stream for as long
/// as it lasts: a live stream has no end).
pub const ORIGIN_HEADERS_TIMEOUT: Duration = Duration::from_secs(60);

/// The body of every answer: the origin's, streamed, or the edge's own short text.
pub type EdgeBody = BoxBody<Bytes, hyper::Error>;

/// The hop-by-hop headers (RFC 9110 §7.6.1), removed both ways.
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
];

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

/// Forwards requests to origins: one pooled HTTP/1.1 client shared by every connection.
#[derive(Debug)]
pub struct Proxy {
    client: Client<HttpConnector, ClientBody>,
    default_origin: Option<Origin>,
    acme_webroot: Option<PathBuf>,
    challenges: Option<Arc<ChallengeBook>>,
    origin_headers_timeout: Duration,
    metrics: Arc<Metrics>,
}

impl Proxy {
    /// A proxy that forwards a domain without its own origin to `default_origin` (if any).
    pub fn new(default_origin: Option<Origin>, metrics: Arc<Metrics>) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(ORIGIN_CONNECT_TIMEOUT));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build(connector);
        Self {
            client,
            default_origin,
            acme_webroot: None,
            challenges: None,
            origin_headers_timeout: ORIGIN_HEADERS_TIMEOUT,
            metrics,
        }
    }

    /// The same proxy, waiting `timeout` instead of [`ORIGIN_HEADERS_TIMEOUT`] for an origin's
    /// response headers (tests lower it).
    #[must_use]
    pub fn with_origin_headers_timeout(mut self, timeout: Duration) -> Self {
        self.origin_headers_timeout = timeout;
        self
    }

    /// How long the proxy waits for an origin's response headers.
    pub fn origin_headers_timeout(&self) -> Duration {
        self.origin_headers_timeout
    }

    /// The same proxy, answering ACME HTTP-01 challenges on the plain-HTTP port from
    /// `<webroot>/.well-known/acme-challenge/<token>` (`--acme-webroot`); `None`: challenges go
    /// to the domain's origin.
    #[must_use]
    pub fn with_acme_webroot(mut self, webroot: Option<PathBuf>) -> Self {
        self.acme_webroot = webroot;
        self
    }

    /// The same proxy, answering the HTTP-01 challenges of livecert's own ACME issuer from
    /// `challenges` first (before the webroot and the domain's origin).
    #[must_use]
    pub fn with_challenges(mut self, challenges: Option<Arc<ChallengeBook>>) -> Self {
        self.challenges = challenges;
        self
    }

    /// The edge's default origin.
    pub fn default_origin(&self) -> Option<&Origin> {
        self.default_origin.as_ref()
    }

    /// The operator's ACME webroot (`--acme-webroot`), if any.
    pub fn acme_webroot(&self) -> Option<&Path> {
        self.acme_webroot.as_deref()
    }

    /// Answers one request from `peer` on a connection whose SNI was `sni`, against the current
    /// `map`: `400` without exactly one valid host ([`crate::host`]), `421`, the origin's
    /// response, or `502`/`504`.
    pub async fn answer(
        &self,
        map: &CertMap,
        sni: Option<&str>,
        peer: IpAddr,
        request: Request<Incoming>,
    ) -> Result<Response<EdgeBody>, Infallible> {
        let host = match request_host(&request) {
            Ok(host) => host,
            Err(e) => return Ok(bad_host(e)),
        };
        let (domain, origin) = match route(map, sni, &host) {
            Ok((domain, origin)) => (domain.to_owned(), origin.cloned()),
            Err(misdirected) => return Ok(misdirected.response()),
        };
        Ok(self
            .forward(&domain, origin, peer, Scheme::Https, &host, request)
            .await)
    }

    /// Answers one request from `peer` on the plain-HTTP port (`--edge-http-listen`), routed by
    /// its Host alone against the current `map`: `400` without exactly one valid Host
    /// ([`crate::host`]); an ACME HTTP-01 challenge is answered from the
    /// webroot, else forwarded to the domain's origin, else `404` ([`PlainRoute::AcmeChallenge`]);
    /// a Host no domain serves is `404`; a domain that requires HTTPS is `308` to
    /// `https://<host><path-and-query>`; any other domain is forwarded like the TLS side, with
    /// `X-Forwarded-Proto: http`.
    pub async fn answer_plain(
        &self,
        map: &CertMap,
        peer: IpAddr,
        request: Request<Incoming>,
    ) -> Result<Response<EdgeBody>, Infallible> {
        let host = match request_host(&request) {
            Ok(host) => host,
            Err(e) => {
                self.metrics.plain_request(PlainOutcome::BadRequest);
                return Ok(bad_host(e));
            }
        };
        let (outcome, response) = match plain_route(map, &host, &request) {
            PlainRoute::AcmeChallenge { token, forward_to } => {
                let own = match (&token, &self.challenges) {
                    (Some(token), Some(book)) => book.http_answer(token).map(Bytes::from),
                    _ => None,
                };
                let file = match (own, &token, self.acme_webroot()) {
                    (Some(own), _, _) => Some(own),
                    (None, Some(token), Some(webroot)) => acme_file(webroot, token).await,
                    _ => None,
                };
                match (file, forward_to) {
                    (Some(key_authorization), _) => (
                        PlainOutcome::AcmeChallenge,
                        acme_response(key_authorization),
                    ),
                    (None, Some((domain, origin))) if token.is_some() => {
                        return Ok(self
                            .forward_plain(domain, origin, peer, &host, request)
                            .await);
                    }
                    (None, _) => (
                        PlainOutcome::NotServed,
                        text(
                            StatusCode::NOT_FOUND,
                            "livecert edge: no ACME challenge with this token here\n".to_owned(),
                        ),
                    ),
                }
            }
            PlainRoute::NotServed => (
                PlainOutcome::NotServed,
                text(
                    StatusCode::NOT_FOUND,
                    "livecert edge: this host is not served here\n".to_owned(),
                ),
            ),
            PlainRoute::Redirect(location) => (PlainOutcome::Redirected, redirect(&location)),
            PlainRoute::Forward { domain, origin } => {
                return Ok(self
                    .forward_plain(domain, origin, peer, &host, request)
                    .await);
            }
        };
        self.metrics.plain_request(outcome);
        Ok(response)
    }

    /// Forwards a plain-HTTP request for `domain` (counted as `forwarded`) with
    /// `X-Forwarded-Proto: http`.
    async fn forward_plain(
        &self,
        domain: &str,
        origin: Option<&Origin>,
        peer: IpAddr,
        host: &RequestHost,
        request: Request<Incoming>,
    ) -> Response<EdgeBody> {
        let domain = domain.to_owned();
        let origin = origin.cloned();
        self.metrics.plain_request(PlainOutcome::Forwarded);
        self.forward(&domain, origin, peer, Scheme::Http, host, request)
            .await
    }

    /// Forwards `request` for `domain`, whose checked host is `host`, to `origin` (or the default
    /// origin) with `Host: <host, canonical>` and `X-Forwarded-Proto: <scheme>`: the origin's
    /// response; `502`/`504` when the origin fails; `400` for a target with no path; when the
    /// client's own body fails first, `400` (malformed or cut short) or `408` (still awaited when
    /// the time for the origin's headers ran out), never counted as the origin's failure
    /// ([`ClientBody`]).
    async fn forward(
        &self,
        domain: &str,
        origin: Option<Origin>,
        peer: IpAddr,
        scheme: Scheme,
        host: &RequestHost,
        request: Request<Incoming>,
    ) -> Response<EdgeBody> {
        let Some(origin) = origin.or_else(|| self.default_origin.clone()) else {
            return text(
                StatusCode::BAD_GATEWAY,
                format!("livecert edge: {domain} has no origin configured\n"),
            );
        };
        let Some(request) = upstream_request(request, &origin, peer, scheme, host) else {
            return text(
                StatusCode::BAD_REQUEST,
                "livecert edge: this request target cannot be forwarded\n".to_owned(),
            );
        };
        let progress = Arc::new(AtomicU8::new(BODY_READING));
        let request = request.map(|inner| ClientBody::new(inner, Arc::clone(&progress)));
        let started = Instant::now();
        let answer =
            tokio::time::timeout(self.origin_headers_timeout, self.client.request(request));
        match answer.await {
            Ok(Ok(mut response)) => {
                self.metrics.upstream_answered(started.elapsed());
                strip_hop_by_hop(response.headers_mut());
                response.map(BodyExt::boxed)
            }
            Ok(Err(e)) if progress.load(Ordering::Relaxed) == BODY_FAILED => {
                self.metrics.client_body_error();
                debug!(%domain, error = %error_chain(&e), "the client's request body failed; answered 400");
                text(
                    StatusCode::BAD_REQUEST,
                    "livecert edge: the request body is malformed or incomplete\n".to_owned(),
                )
            }
            Err(_) if progress.load(Ordering::Relaxed) == BODY_WAITING => {
                self.metrics.client_body_error();
                debug!(%domain, "the client's request body did not arrive in time; answered 408");
                text(
                    StatusCode::REQUEST_TIMEOUT,
                    "livecert edge: the request body did not arrive in time\n".to_owned(),
                )
            }
            Ok(Err(e)) => {
                self.metrics.upstream_failed();
                warn!(%domain, %origin, error = %error_chain(&e), "origin unreachable");
                text(
                    StatusCode::BAD_GATEWAY,
                    format!("livecert edge: the origin of {domain} is unreachable\n"),
                )
            }
            Err(_) => {
                self.metrics.upstream_failed();
                warn!(%domain, %origin, "origin sent no response headers in time");
                text(
                    StatusCode::GATEWAY_TIMEOUT,
                    format!("livecert edge: the origin of {domain} did not answer in time\n"),
                )
            }
        }
    }
}

/// The scheme a request arrived with, sent to the origin as `X-Forwarded-Proto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// The TLS port.
    Https,
    /// The plain-HTTP port.
    Http,
}

impl Scheme {
    fn header_value(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Self::Https => "https",
            Self::Http => "http",
        })
    }
}

/// [`ClientBody`]'s last poll returned a frame, or it was not polled yet.
const BODY_READING: u8 = 0;
/// [`ClientBody`]'s last poll found nothing from the client yet: the proxy waits on the client.
const BODY_WAITING: u8 = 1;
/// [`ClientBody`] ended (or was empty from the start).
const BODY_DONE: u8 = 2;
/// [`ClientBody`] failed: the client's framing was malformed, the connection or stream ended
/// before the body did, or the client reset the stream.
const BODY_FAILED: u8 = 3;

/// A client's request body on its way to the origin, recording how far it got (in `progress`,
/// one of the `BODY_*` values) so that a failed forward is laid at the right door: hyper's
/// client reports a broken request body as its own error, like an origin's, and the proxy must
/// not answer `502`, warn, or count an upstream failure for a client's malformed chunk or
/// early end. Frames pass through untouched.
struct ClientBody {
    inner: Incoming,
    progress: Arc<AtomicU8>,
}

impl ClientBody {
    fn new(inner: Incoming, progress: Arc<AtomicU8>) -> Self {
        if hyper::body::Body::is_end_stream(&inner) {
            progress.store(BODY_DONE, Ordering::Relaxed);
        }
        Self { inner, progress }
    }
}

impl std::fmt::Debug for ClientBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBody")
            .field("progress", &self.progress.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl hyper::body::Body for ClientBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        let progress = match &polled {
            Poll::Pending => BODY_WAITING,
            Poll::Ready(Some(Ok(_))) => BODY_READING,
            Poll::Ready(None) => BODY_DONE,
            Poll::Ready(Some(Err(_))) => BODY_FAILED,
        };
        self.progress.store(progress, Ordering::Relaxed);
        polled
    }

    fn is_end_stream(&self) -> bool {
        hyper::body::Body::is_end_stream(&self.inner)
    }

    fn size_hint(&self) -> SizeHint {
        hyper::body::Body::size_hint(&self.inner)
    }
}

/// What the plain-HTTP port did with a request (the metrics' `outcome`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlainOutcome {
    /// Forwarded to the domain's origin (whatever the origin then answered).
    Forwarded,
    /// Redirected to HTTPS (`308`): the domain requires HTTPS.
    Redirected,
    /// `404`: the Host is not a domain the edge serves, or an ACME HTTP-01 challenge that neither
    /// the webroot nor a domain's origin can answer.
    NotServed,
    /// `200`: an ACME HTTP-01 challenge answered from the operator's `--acme-webroot`.
    AcmeChallenge,
    /// `400`: the request has no Host, more than one, or an invalid one ([`crate::host`]).
    BadRequest,
}

/// Where the plain-HTTP port sends a request.
#[derive(Debug, PartialEq, Eq)]
pub enum PlainRoute<'m> {
    /// A path under `/.well-known/acme-challenge/`, whatever the Host: never redirected.
    AcmeChallenge {
        /// The token, if the rest of the path is one (RFC 8555 §8.3: base64url, here 1 to
        /// [`MAX_ACME_TOKEN_LEN`] characters of `A–Z a–z 0–9 - _`); `None`: answered `404`.
        token: Option<String>,
        /// The domain the Host resolves to and its own origin (`None`: the edge's default), where
        /// the challenge goes when the webroot has no such file; `None`: no domain serves the Host.
        forward_to: Option<(&'m str, Option<&'m Origin>)>,
    },
    /// A Host no online domain serves.
    NotServed,
    /// The domain requires HTTPS: this `Location`.
    Redirect(String),
    /// The bound domain and its own origin.
    Forward {
        /// The bound domain (a wildcard is `*.parent`).
        domain: &'m str,
        /// Its origin; `None`: the edge's default.
        origin: Option<&'m Origin>,
    },
}

/// The path prefix of ACME HTTP-01 challenges (RFC 8555 §8.3).
pub const ACME_CHALLENGE_PREFIX: &str = "/.well-known/acme-challenge/";

/// The longest ACME token the plain-HTTP port looks up (RFC 8555 §8.3 asks for at least 128 bits
/// of entropy, 22 base64url characters; Let's Encrypt sends 43).
pub const MAX_ACME_TOKEN_LEN: usize = 256;

/// The largest webroot file served as a key authorization (RFC 8555 §8.1: the token, a dot and
/// the base64url SHA-256 thumbprint of the account key: under 300 bytes).
pub const MAX_KEY_AUTHORIZATION_BYTES: u64 = 4096;

/// The token of an ACME challenge path: the rest of the path after [`ACME_CHALLENGE_PREFIX`] when
/// it is 1 to [`MAX_ACME_TOKEN_LEN`] base64url characters (so it can never name another file).
pub fn acme_token(path: &str) -> Option<&str> {
    let token = path.strip_prefix(ACME_CHALLENGE_PREFIX)?;
    let well_formed = !token.is_empty()
        && token.len() <= MAX_ACME_TOKEN_LEN
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    well_formed.then_some(token)
}

/// The key authorization the ACME client left for `token` in `webroot`
/// (`<webroot>/.well-known/acme-challenge/<token>`): `None` if there is no such regular file, it
/// cannot be read, or it is larger than [`MAX_KEY_AUTHORIZATION_BYTES`].
async fn acme_file(webroot: &Path, token: &str) -> Option<Bytes> {
    let path = webroot.join(".well-known/acme-challenge").join(token);
    let metadata = tokio::fs::metadata(&path).await.ok()?;
    if !metadata.is_file() || metadata.len() > MAX_KEY_AUTHORIZATION_BYTES {
        return None;
    }
    match tokio::fs::read(&path).await {
        Ok(bytes) => Some(Bytes::from(bytes)),
        Err(e) => {
            warn!(path = %path.display(), error = %e, "ACME challenge file cannot be read");
            None
        }
    }
}

/// `200` with the key authorization as the body (`application/octet-stream`, as RFC 8555 §8.3's
/// example response has no type of its own to follow: the validator reads the body only).
fn acme_response(key_authorization: Bytes) -> Response<EdgeBody> {
    let mut response = Response::new(
        Full::new(key_authorization)
            .map_err(|never| match never {})
            .boxed(),
    );
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    response
}

/// Routes a plain-HTTP request by its checked `host` (port and one trailing dot removed, lower
/// case; the exact domain, then `*.<parent>`).
pub fn plain_route<'m, B>(
    map: &'m CertMap,
    host: &RequestHost,
    request: &Request<B>,
) -> PlainRoute<'m> {
    let name = host.normalised_name();
    // Every online domain, HTTPS on or off; a stopped one is not served (nor its wildcard's).
    let served = map.lookup(&name).filter(|(_, e)| e.online);
    if request.uri().path().starts_with(ACME_CHALLENGE_PREFIX) {
        return PlainRoute::AcmeChallenge {
            token: acme_token(request.uri().path()).map(str::to_owned),
            forward_to: served.map(|(domain, entry)| (domain, entry.origin.as_ref())),
        };
    }
    let Some((domain, entry)) = served else {
        return PlainRoute::NotServed;
    };
    if entry.https_required {
        let path = request
            .uri()
            .path_and_query()
            .map(http::uri::PathAndQuery::as_str)
            .filter(|p| p.starts_with('/'))
            .unwrap_or("/");
        return PlainRoute::Redirect(format!("https://{name}{path}"));
    }
    PlainRoute::Forward {
        domain,
        origin: entry.origin.as_ref(),
    }
}

fn redirect(location: &str) -> Response<EdgeBody> {
    let mut response = text(
        StatusCode::PERMANENT_REDIRECT,
        format!("livecert edge: this domain requires HTTPS: {location}\n"),
    );
    match HeaderValue::from_str(location) {
        Ok(value) => {
            response.headers_mut().insert(header::LOCATION, value);
            response
        }
        Err(_) => text(
            StatusCode::BAD_REQUEST,
            "livecert edge: this request target cannot be redirected\n".to_owned(),
        ),
    }
}

/// A request whose Host is not served on its connection: answered `421`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Misdirected {
    /// The request's host name, normalised.
    pub host: String,
}

impl Misdirected {
    /// The `421 Misdirected Request` answer.
    pub fn response(&self) -> Response<EdgeBody> {
        text(
            StatusCode::MISDIRECTED_REQUEST,
            format!(
                "livecert edge: {} is not served on this connection; open a connection for it\n",
                self.host
            ),
        )
    }
}

/// The bound domain a request is for, with its own origin: the entry its checked `host` resolves
/// to, which must be the entry the connection's SNI resolved to, and be served over TLS (have a
/// record).
/// Errors: [`Misdirected`] otherwise.
pub fn route<'m>(
    map: &'m CertMap,
    sni: Option<&str>,
    host: &RequestHost,
) -> Result<(&'m str, Option<&'m Origin>), Misdirected> {
    let name = host.normalised_name();
    let by_sni = sni.and_then(|s| map.lookup(s));
    match (by_sni, map.lookup(&name)) {
        (Some((served, entry)), Some((asked, _))) if served == asked && entry.record.is_some() => {
            Ok((served, entry.origin.as_ref()))
        }
        _ => Err(Misdirected { host: name }),
    }
}

/// The `400` for a request without exactly one valid host, naming what is wrong (never the
/// value).
fn bad_host(error: HostError) -> Response<EdgeBody> {
    text(
        StatusCode::BAD_REQUEST,
        format!("livecert edge: {error} (RFC 9112 §3.2)\n"),
    )
}

/// The request to send to `origin`: HTTP/1.1, the same method, path and query, headers minus the
/// hop-by-hop ones, `Host` the checked `host` in its canonical form (whatever Host lines or
/// `:authority` the client sent: the origin only ever sees the name the edge routed on), the
/// X-Forwarded headers set (`-Proto` from `scheme`). `None` if the target has no path
/// (`OPTIONS *`, `CONNECT`).
fn upstream_request(
    request: Request<Incoming>,
    origin: &Origin,
    peer: IpAddr,
    scheme: Scheme,
    host: &RequestHost,
) -> Option<Request<Incoming>> {
    let (mut parts, body) = request.into_parts();
    let path_and_query = parts.uri.path_and_query()?.as_str();
    if !path_and_query.starts_with('/') {
        return None;
    }
    let uri = origin.uri(path_and_query).ok()?;
    parts
        .headers
        .insert(header::HOST, HeaderValue::from_str(&host.canonical()).ok()?);
    parts.uri = uri;
    parts.version = Version::HTTP_11;
    strip_hop_by_hop(&mut parts.headers);
    let forwarded_for = {
        let earlier: Vec<&str> = parts
            .headers
            .get_all(&X_FORWARDED_FOR)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        let peer = peer.to_canonical().to_string();
        if earlier.is_empty() {
            peer
        } else {
            format!("{}, {peer}", earlier.join(", "))
        }
    };
    if let Ok(value) = HeaderValue::from_str(&forwarded_for) {
        parts.headers.insert(X_FORWARDED_FOR, value);
    }
    parts
        .headers
        .insert(X_FORWARDED_PROTO, scheme.header_value());
    Some(Request::from_parts(parts, body))
}

/// Removes the hop-by-hop headers and those `Connection` names.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect();
    for name in named.iter().chain(HOP_BY_HOP.iter()) {
        headers.remove(name);
    }
    headers.remove(header::UPGRADE);
}

/// An error and its sources, for the log.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn text(status: StatusCode, body: String) -> Response<EdgeBody> {
    let body = Full::new(Bytes::from(body))
        .map_err(|never| match never {})
        .boxed();
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acme_tokens_are_base64url_and_nothing_else() {
        let ok = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0";
        assert_eq!(
            acme_token(&format!("{ACME_CHALLENGE_PREFIX}{ok}")),
            Some(ok)
        );
        assert_eq!(
            acme_token(&format!("{ACME_CHALLENGE_PREFIX}a-_Z9")),
            Some("a-_Z9")
        );
        let long = "a".repeat(MAX_ACME_TOKEN_LEN + 1);
        for bad in ["", "..", "a/b", "a.b", "%2e", "a b", "é", long.as_str()] {
            assert_eq!(
                acme_token(&format!("{ACME_CHALLENGE_PREFIX}{bad}")),
                None,
                "{bad}"
            );
        }
        assert_eq!(acme_token("/other/path"), None);
    }

    #[test]
    fn hop_by_hop_headers_and_those_connection_names_are_removed() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("connection", "keep-alive, x-private"),
            ("keep-alive", "timeout=5"),
            ("x-private", "1"),
            ("transfer-encoding", "chunked"),
            ("te", "trailers"),
            ("upgrade", "websocket"),
            ("proxy-authorization", "Basic x"),
            ("content-type", "video/x-flv"),
            ("content-length", "12"),
        ] {
            headers.append(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        strip_hop_by_hop(&mut headers);
        let mut left: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
        left.sort_unstable();
        assert_eq!(left, ["content-length", "content-type"]);
    }
}
