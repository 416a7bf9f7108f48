//! The HTTPS edge (spec/edge.md) with a real rustls client: the certificate chosen by SNI is the
//! one bound through the API (its SHA-256 is the record's Fingerprint), refusals send no
//! certificate, changes take effect without a restart and without dropping connections, and a
//! separate `livecert edge` process follows the API's changes; requests are proxied to the
//! domain's origin (or the default one) over HTTP/2 and HTTP/1.1 with bodies streamed both ways,
//! and the metrics endpoint reports handshakes and certificates. One file per theme, the client
//! side in `client` and the test origins in `origins`; this one holds what the themes share: an
//! in-process edge, binding through the API, setting an origin, scraping the metrics.

mod client;
mod client_body;
mod default_cert;
mod hosts;
mod metrics;
mod origins;
mod plain_http;
mod proxy;
mod sni;

pub(crate) use client::{handshake, handshake_alpn, tls_exchange, Http1};
pub(crate) use origins::RecordingOrigin;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use livecert::edge::origin::Origin;
use livecert_core::names::DomainName;
use tokio::net::TcpStream;
use tokio::sync::oneshot;

use crate::certs::Generated;
use crate::harness::{Scheme, TestServer};

const DAY: i64 = 86_400;

/// An edge started in-process on the test server's store, with its metrics endpoint.
struct TestEdge {
    addr: SocketAddr,
    metrics: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl TestEdge {
    async fn start(server: &TestServer) -> Self {
        Self::start_with(server, None).await
    }

    /// An edge whose `--default-origin` is `default_origin`.
    async fn start_with(server: &TestServer, default_origin: Option<Origin>) -> Self {
        let edge = livecert::edge::Edge::load(server.store.clone())
            .await
            .expect("edge loads")
            .with_default_origin(default_origin);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let metrics_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind metrics");
        let metrics = metrics_listener.local_addr().expect("metrics addr");
        let (tx, rx) = oneshot::channel::<()>();
        let (metrics_tx, metrics_rx) = oneshot::channel::<()>();
        tokio::spawn(edge.clone().serve_metrics(metrics_listener, async move {
            let _ = metrics_rx.await;
        }));
        let task = tokio::spawn(edge.serve(listener, async move {
            let _ = rx.await;
            let _ = metrics_tx.send(());
        }));
        Self {
            addr,
            metrics,
            stop: Some(tx),
            task,
        }
    }

    async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let _ = self.task.await;
    }
}

/// Binds `g` to `domain` under `name` through the API (HTTPS on).
pub(crate) async fn bind(server: &TestServer, domain: &str, name: &str, g: &Generated) {
    server
        .call(
            Scheme::V3,
            "SetLiveDomainCertificate",
            &[
                ("DomainName", domain),
                ("SSLProtocol", "on"),
                ("CertType", "upload"),
                ("CertName", name),
                ("SSLPub", &g.chain_pem),
                ("SSLPri", &g.key_pem),
            ],
        )
        .await
        .ok();
}

/// Retries `check` every 20 ms until it holds, at most `bound`; returns whether it held.
async fn within<F, Fut>(bound: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + bound;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn header<'a>(parts: &'a http::response::Parts, name: &str) -> &'a str {
    parts
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no {name} in {:?}", parts.headers))
}

async fn set_origin(server: &TestServer, domain: &str, origin: &str) {
    server
        .store
        .set_domain_origin(
            &DomainName::parse(domain).expect("domain name"),
            Some(origin.to_owned()),
            server.clock_now(),
        )
        .await
        .expect("origin set");
}

/// GET /metrics on the metrics listener: (status, body).
async fn scrape(addr: SocketAddr) -> (u16, String) {
    let tcp = TcpStream::connect(addr).await.expect("connect metrics");
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .expect("HTTP/1.1");
    tokio::spawn(connection);
    let request = http::Request::get("/metrics")
        .header(http::header::HOST, addr.to_string())
        .body(Full::new(Bytes::new()))
        .expect("request");
    let response = sender.send_request(request).await.expect("response");
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// The value of the integer sample `name` (with its labels, as written) in a scrape.
fn sample(text: &str, name: &str) -> i64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no sample {name} in\n{text}"))
}
