//! The HTTPS edge (spec/edge.md) with a real rustls client: the certificate chosen by SNI is the
//! one bound through the API (its SHA-256 is the record's Fingerprint), refusals send no
//! certificate, changes take effect without a restart and without dropping connections, and a
//! separate `livecert edge` process follows the API's changes; requests are proxied to the
//! domain's origin (or the default one) over HTTP/2 and HTTP/1.1 with bodies streamed both ways,
//! and the metrics endpoint reports handshakes and certificates.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use livecert::edge::origin::Origin;
use livecert_core::names::DomainName;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::certs::{issued, self_signed, Alg, Generated};
use crate::harness::{raw_over, Reply, Scheme, TestServer};

const DAY: i64 = 86_400;

/// Accepts any chain and records the one presented (signatures are still checked).
#[derive(Debug)]
struct Recorder {
    seen: Mutex<Option<Vec<CertificateDer<'static>>>>,
    provider: CryptoProvider,
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let mut chain = vec![end_entity.clone().into_owned()];
        chain.extend(intermediates.iter().map(|c| c.clone().into_owned()));
        *self.seen.lock().expect("lock") = Some(chain);
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// One handshake's outcome: the stream (or the error) and the chain received, if any.
pub(crate) struct Handshake {
    stream: Result<TlsStream<TcpStream>, std::io::Error>,
    chain: Option<Vec<CertificateDer<'static>>>,
}

impl Handshake {
    /// The SHA-256 of the served leaf, lower-case hex, if the handshake succeeded.
    pub(crate) fn served_leaf(&self) -> Option<String> {
        let chain = self.chain.as_ref().filter(|_| self.stream.is_ok())?;
        chain
            .first()
            .map(|leaf| hex::encode(Sha256::digest(leaf.as_ref())))
    }

    /// The SHA-256 of the served leaf, lower-case hex; fails if the handshake failed.
    pub(crate) fn leaf_fingerprint(&self) -> String {
        assert!(
            self.stream.is_ok(),
            "handshake failed: {:?}",
            self.stream.as_ref().err()
        );
        let chain = self.chain.as_ref().expect("a chain was received");
        hex::encode(Sha256::digest(chain[0].as_ref()))
    }

    /// The TLS stream; fails if the handshake failed.
    pub(crate) fn into_stream(self) -> TlsStream<TcpStream> {
        self.stream.expect("handshake")
    }

    /// Asserts that the edge refused the handshake before sending any certificate.
    fn assert_refused(&self) {
        let error = self
            .stream
            .as_ref()
            .expect_err("the handshake should be refused");
        assert!(self.chain.is_none(), "no certificate may be received");
        let alert = error
            .get_ref()
            .and_then(|e| e.downcast_ref::<rustls::Error>());
        assert_eq!(
            alert,
            Some(&rustls::Error::AlertReceived(
                rustls::AlertDescription::AccessDenied
            )),
            "refused with access_denied"
        );
    }
}

async fn handshake_with(addr: SocketAddr, sni: &str, alpn: &[&[u8]]) -> Handshake {
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    let recorder = Arc::new(Recorder {
        seen: Mutex::new(None),
        provider: provider.clone(),
    });
    let mut config = ClientConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .dangerous()
        .with_custom_certificate_verifier(recorder.clone())
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let name = ServerName::try_from(sni.to_owned()).expect("server name");
    let stream = TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await;
    let chain = recorder.seen.lock().expect("lock").take();
    Handshake { stream, chain }
}

/// A client configuration that keeps its sessions (tickets) across connections.
fn resuming_client() -> Arc<ClientConfig> {
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    let recorder = Arc::new(Recorder {
        seen: Mutex::new(None),
        provider: provider.clone(),
    });
    let mut config = ClientConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .dangerous()
        .with_custom_certificate_verifier(recorder)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

async fn connect_with(
    config: &Arc<ClientConfig>,
    addr: SocketAddr,
    sni: &str,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let name = ServerName::try_from(sni.to_owned()).expect("server name");
    TlsConnector::from(Arc::clone(config))
        .connect(name, tcp)
        .await
}

/// A handshake with SNI `sni` offering the ALPN protocols `alpn`.
pub(crate) async fn handshake_alpn(addr: SocketAddr, sni: &str, alpn: &[&[u8]]) -> Handshake {
    handshake_with(addr, sni, alpn).await
}

pub(crate) async fn handshake(addr: SocketAddr, sni: &str) -> Handshake {
    handshake_with(addr, sni, &[b"http/1.1"]).await
}

/// An HTTP/1.1 connection over an established TLS stream.
struct Http1 {
    sender: hyper::client::conn::http1::SendRequest<Empty<Bytes>>,
}

impl Http1 {
    async fn open(stream: TlsStream<TcpStream>) -> Self {
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("HTTP/1.1 over TLS");
        tokio::spawn(connection);
        Self { sender }
    }

    /// GET / with `host`: (status, body).
    async fn get(&mut self, host: &str) -> (u16, String) {
        let request = http::Request::get("/")
            .header(http::header::HOST, host)
            .body(Empty::new())
            .expect("request");
        self.sender.ready().await.expect("connection open");
        let response = self.sender.send_request(request).await.expect("response");
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }
}

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

/// The Fingerprint DescribeLiveCertificateList shows for the record named `name`.
async fn fingerprint(server: &TestServer, name: &str) -> String {
    let r = server
        .call(Scheme::V3, "DescribeLiveCertificateList", &[])
        .await;
    let certs = r.ok()["CertificateListModel"]["CertList"]["Cert"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    certs
        .iter()
        .find(|c| c["CertName"] == name)
        .and_then(|c| c["Fingerprint"].as_str())
        .unwrap_or_else(|| panic!("no record {name}"))
        .to_ascii_lowercase()
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

#[tokio::test(flavor = "multi_thread")]
async fn the_bound_certificate_is_served_by_exact_and_wildcard_sni() {
    let server = TestServer::start().await;
    let now = server.clock_now();
    server.add_domain("live.example.com").await;
    server.add_domain("*.wild.example.com").await;
    let exact = issued(&["live.example.com"], now - DAY, now + 90 * DAY, Alg::P256);
    let wild = self_signed(
        &["*.wild.example.com"],
        now - DAY,
        now + 90 * DAY,
        Alg::Rsa2048,
    );
    bind(&server, "live.example.com", "exact", &exact).await;
    bind(&server, "*.wild.example.com", "wild", &wild).await;
    let edge = TestEdge::start(&server).await;

    let served = handshake(edge.addr, "live.example.com").await;
    assert_eq!(
        served.leaf_fingerprint(),
        fingerprint(&server, "exact").await
    );
    assert_eq!(
        served.chain.as_ref().map(Vec::len),
        Some(2),
        "leaf and intermediate"
    );
    // SNI is compared lower case.
    let upper = handshake(edge.addr, "LIVE.Example.COM").await;
    assert_eq!(
        upper.leaf_fingerprint(),
        fingerprint(&server, "exact").await
    );
    let by_wildcard = handshake(edge.addr, "a.wild.example.com").await;
    assert_eq!(
        by_wildcard.leaf_fingerprint(),
        fingerprint(&server, "wild").await
    );
    // The wildcard covers one label only.
    handshake(edge.addr, "b.a.wild.example.com")
        .await
        .assert_refused();

    // ALPN: h2 is chosen when offered, a client offering neither protocol is refused.
    let h2 = handshake_with(edge.addr, "live.example.com", &[b"h2", b"http/1.1"]).await;
    let stream = h2.stream.expect("h2 handshake");
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    handshake_with(edge.addr, "live.example.com", &[b"spdy/3"])
        .await
        .stream
        .expect_err("no common application protocol");

    // HTTP after TLS: no origin yet (502), and Host must resolve to the SNI's entry (421).
    let stream = handshake(edge.addr, "a.wild.example.com")
        .await
        .stream
        .expect("handshake");
    let mut http = Http1::open(stream).await;
    let (status, body) = http.get("B.wild.example.com.:8443").await;
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("*.wild.example.com"), "{body}");
    let (status, _) = http.get("live.example.com").await;
    assert_eq!(status, 421);
    let (status, _) = http.get("unknown.example.org").await;
    assert_eq!(status, 421);
    edge.stop().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_offline_and_https_off_are_refused_without_a_certificate() {
    let server = TestServer::start().await;
    let now = server.clock_now();
    for d in ["stop.example.com", "off.example.com"] {
        server.add_domain(d).await;
        let g = self_signed(&[d], now - DAY, now + 90 * DAY, Alg::P256);
        bind(&server, d, d, &g).await;
    }
    // A domain without HTTPS whose name another tenant's certificate lists is not served either.
    server.add_domain("plain.example.com").await;
    let edge = TestEdge::start(&server).await;
    handshake(edge.addr, "nobody.example.com")
        .await
        .assert_refused();
    handshake(edge.addr, "plain.example.com")
        .await
        .assert_refused();
    handshake(edge.addr, "stop.example.com")
        .await
        .leaf_fingerprint();
    handshake(edge.addr, "off.example.com")
        .await
        .leaf_fingerprint();

    server
        .call(
            Scheme::V3,
            "StopLiveDomain",
            &[("DomainName", "stop.example.com")],
        )
        .await
        .ok();
    server
        .call(
            Scheme::V3,
            "SetLiveDomainCertificate",
            &[("DomainName", "off.example.com"), ("SSLProtocol", "off")],
        )
        .await
        .ok();
    for d in ["stop.example.com", "off.example.com"] {
        let refused = within(Duration::from_secs(1), || async {
            let h = handshake(edge.addr, d).await;
            h.stream.is_err()
        })
        .await;
        assert!(refused, "{d} is still served 1 s after the change");
        handshake(edge.addr, d).await.assert_refused();
    }
    edge.stop().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_certificate_is_served_without_restart_and_open_connections_keep_working() {
    let server = TestServer::start().await;
    let now = server.clock_now();
    server.add_domain("live.example.com").await;
    let old = self_signed(&["live.example.com"], now - DAY, now + 90 * DAY, Alg::P256);
    bind(&server, "live.example.com", "old", &old).await;
    let edge = TestEdge::start(&server).await;

    let before = handshake(edge.addr, "live.example.com").await;
    assert_eq!(before.leaf_fingerprint(), fingerprint(&server, "old").await);
    let mut open = Http1::open(before.stream.expect("handshake")).await;
    assert_eq!(open.get("live.example.com").await.0, 502);

    let new = issued(&["live.example.com"], now - DAY, now + 90 * DAY, Alg::P256);
    bind(&server, "live.example.com", "new", &new).await;
    let expected = fingerprint(&server, "new").await;
    let rotated = within(Duration::from_secs(1), || async {
        handshake(edge.addr, "live.example.com")
            .await
            .leaf_fingerprint()
            == expected
    })
    .await;
    assert!(
        rotated,
        "the new certificate is not served 1 s after the call"
    );
    // The connection opened before the change still answers.
    assert_eq!(open.get("live.example.com").await.0, 502);
    edge.stop().await;
    server.stop().await;
}

/// spec/edge.md, "Updates": rotations made through the API, one after the other, are each served
/// by the edge of the same process (told of the commit by the store, not by its poll), and once
/// the new leaf is served the old one is not served again.
#[tokio::test(flavor = "multi_thread")]
async fn rotations_through_the_api_are_served_by_the_in_process_edge() {
    let server = TestServer::start().await;
    let now = server.clock_now();
    for d in ["a.example.com", "b.example.com"] {
        server.add_domain(d).await;
        let g = self_signed(&[d], now - DAY, now + 90 * DAY, Alg::P256);
        bind(&server, d, &format!("{d}-0"), &g).await;
    }
    let edge = TestEdge::start(&server).await;
    for round in 1..=5 {
        for d in ["a.example.com", "b.example.com"] {
            let name = format!("{d}-{round}");
            let g = self_signed(&[d], now - DAY, now + 90 * DAY, Alg::P256);
            bind(&server, d, &name, &g).await;
            let expected = fingerprint(&server, &name).await;
            let served = within(Duration::from_secs(2), || async {
                handshake(edge.addr, d).await.leaf_fingerprint() == expected
            })
            .await;
            assert!(served, "{name} is not served 2 s after the call");
            for _ in 0..3 {
                assert_eq!(handshake(edge.addr, d).await.leaf_fingerprint(), expected);
            }
        }
    }
    edge.stop().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_of_a_stopped_domain_does_not_resume() {
    let server = TestServer::start().await;
    let now = server.clock_now();
    server.add_domain("live.example.com").await;
    let g = self_signed(&["live.example.com"], now - DAY, now + 90 * DAY, Alg::P256);
    bind(&server, "live.example.com", "live", &g).await;
    let edge = TestEdge::start(&server).await;
    let client = resuming_client();
    // A first connection and a request, so that the TLS 1.3 tickets are received.
    let first = connect_with(&client, edge.addr, "live.example.com")
        .await
        .expect("handshake");
    let mut http = Http1::open(first).await;
    assert_eq!(http.get("live.example.com").await.0, 502);
    let second = connect_with(&client, edge.addr, "live.example.com")
        .await
        .expect("resumed handshake");
    assert_eq!(
        second.get_ref().1.handshake_kind(),
        Some(rustls::HandshakeKind::Resumed),
        "sessions resume"
    );
    server
        .call(
            Scheme::V3,
            "StopLiveDomain",
            &[("DomainName", "live.example.com")],
        )
        .await
        .ok();
    let refused = within(Duration::from_secs(1), || async {
        handshake(edge.addr, "live.example.com")
            .await
            .stream
            .is_err()
    })
    .await;
    assert!(
        refused,
        "the stopped domain is still served 1 s after the call"
    );
    connect_with(&client, edge.addr, "live.example.com")
        .await
        .expect_err("a session of a stopped domain must not resume");
    edge.stop().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_separate_edge_process_follows_the_api_within_one_second() {
    let server = TestServer::start().await;
    let now = server.clock_now();
    server.add_domain("live.example.com").await;
    let first = self_signed(&["live.example.com"], now - DAY, now + 90 * DAY, Alg::P256);
    bind(&server, "live.example.com", "first", &first).await;

    // The real binary on the serve's own SQLite store, as an operator would start a second edge.
    let store = format!(
        "sqlite://{}",
        server.dir.path().join("livecert.db").display()
    );
    let (process, addr) = crate::postgres::start_edge(server.dir.path(), &store).await;

    assert_eq!(
        handshake(addr, "live.example.com").await.leaf_fingerprint(),
        fingerprint(&server, "first").await
    );
    let second = self_signed(&["live.example.com"], now - DAY, now + 90 * DAY, Alg::P256);
    bind(&server, "live.example.com", "second", &second).await;
    let expected = fingerprint(&server, "second").await;
    let followed = within(Duration::from_secs(1), || async {
        handshake(addr, "live.example.com").await.leaf_fingerprint() == expected
    })
    .await;
    assert!(
        followed,
        "the edge process does not serve the new certificate 1 s after the call"
    );
    drop(process);
    server.stop().await;
}

const LARGE: usize = 8 * 1024 * 1024;

/// A body of `left` bytes generated on the fly, 64 KiB at a time (never held whole).
struct Synthetic {
    left: usize,
}

static CHUNK: [u8; 64 * 1024] = [b'x'; 64 * 1024];

impl Body for Synthetic {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        let n = self.left.min(CHUNK.len());
        self.left -= n;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(&CHUNK[..n])))))
    }

    fn is_end_stream(&self) -> bool {
        self.left == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.left as u64)
    }
}

/// Counts a body's bytes frame by frame, without collecting it.
async fn count_bytes(mut body: Incoming) -> u64 {
    let mut n = 0;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.expect("body frame").into_data() {
            n += data.len() as u64;
        }
    }
    n
}

/// A test origin on 127.0.0.1 (HTTP/1.1) that records the Host of every request it receives
/// (its values joined with ` | `, `<none>` without one) and answers `200` with
/// `x-echo-host`, after reading the body.
pub(crate) struct RecordingOrigin {
    pub(crate) addr: SocketAddr,
    hosts: Arc<Mutex<Vec<String>>>,
}

impl RecordingOrigin {
    pub(crate) async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind origin");
        let addr = listener.local_addr().expect("origin addr");
        let hosts = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&hosts);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let recorded = Arc::clone(&recorded);
                let service = service_fn(move |request: http::Request<Incoming>| {
                    let recorded = Arc::clone(&recorded);
                    async move {
                        let values: Vec<String> = request
                            .headers()
                            .get_all(http::header::HOST)
                            .iter()
                            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                            .collect();
                        let host = if values.is_empty() {
                            "<none>".to_owned()
                        } else {
                            values.join(" | ")
                        };
                        recorded.lock().expect("lock").push(host.clone());
                        let _ = request.into_body().collect().await;
                        let response = http::Response::builder()
                            .header("x-echo-host", host)
                            .body(Full::new(Bytes::from_static(b"origin\n")))
                            .expect("origin response");
                        Ok::<_, Infallible>(response)
                    }
                });
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { addr, hosts }
    }

    /// The Host of every request received so far, in order.
    pub(crate) fn hosts(&self) -> Vec<String> {
        self.hosts.lock().expect("lock").clone()
    }
}

/// Writes `bytes` on a new TLS connection to the edge at `addr` with SNI `sni` (ALPN
/// `http/1.1`) and reads one response.
pub(crate) async fn tls_exchange(addr: SocketAddr, sni: &str, bytes: &[u8]) -> Reply {
    let stream = handshake(addr, sni).await.into_stream();
    raw_over(stream, bytes).await
}

/// A test origin on 127.0.0.1 (HTTP/1.1): counts the request body it receives (`x-received-bytes`)
/// and echoes the method, path and query, Host, X-Forwarded-For and -Proto in `x-echo-*` headers;
/// answers `?bytes=N` with N generated bytes.
async fn start_origin() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind origin");
    let addr = listener.local_addr().expect("origin addr");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service_fn(origin_answer))
                    .await;
            });
        }
    });
    addr
}

async fn origin_answer(
    request: http::Request<Incoming>,
) -> Result<http::Response<BoxBody<Bytes, Infallible>>, Infallible> {
    let echo = |name: &str| {
        request
            .headers()
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap_or("?").to_owned())
            .collect::<Vec<_>>()
            .join(" | ")
    };
    let (host, xff, xfp, connection) = (
        echo("host"),
        echo("x-forwarded-for"),
        echo("x-forwarded-proto"),
        echo("x-private"),
    );
    let method = request.method().to_string();
    let path = request
        .uri()
        .path_and_query()
        .map(ToString::to_string)
        .unwrap_or_default();
    let size = request
        .uri()
        .query()
        .and_then(|q| q.split('&').find_map(|p| p.strip_prefix("bytes=")))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let received = count_bytes(request.into_body()).await;
    let response = http::Response::builder()
        .header("x-echo-method", method)
        .header("x-echo-path", path)
        .header("x-echo-host", host)
        .header("x-echo-xff", xff)
        .header("x-echo-xfp", xfp)
        .header("x-echo-private", connection)
        .header("x-received-bytes", received.to_string())
        .body(Synthetic { left: size }.boxed())
        .expect("origin response");
    Ok(response)
}

/// One request through the edge on a new connection with SNI `host`, over HTTP/2 (`h2`) or
/// HTTP/1.1: the response's head and the number of body bytes received.
async fn through_edge(
    edge: SocketAddr,
    host: &str,
    h2: bool,
    method: &str,
    path: &str,
    upload: usize,
) -> (http::response::Parts, u64) {
    let alpn: &[&[u8]] = if h2 { &[b"h2"] } else { &[b"http/1.1"] };
    let stream = handshake_with(edge, host, alpn)
        .await
        .stream
        .expect("handshake");
    let builder = http::Request::builder()
        .method(method)
        .header("x-forwarded-for", "203.0.113.7")
        .header("connection", "x-private")
        .header("x-private", "hop");
    let response = if h2 {
        let (mut sender, connection) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
                .await
                .expect("HTTP/2 over TLS");
        tokio::spawn(connection);
        let request = builder
            .uri(format!("https://{host}{path}"))
            .body(Synthetic { left: upload })
            .expect("request");
        sender.send_request(request).await.expect("response")
    } else {
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("HTTP/1.1 over TLS");
        tokio::spawn(connection);
        let request = builder
            .uri(path)
            .header(http::header::HOST, host)
            .body(Synthetic { left: upload })
            .expect("request");
        sender.send_request(request).await.expect("response")
    };
    let (parts, body) = response.into_parts();
    let n = count_bytes(body).await;
    (parts, n)
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

/// spec/edge.md: "Proxies each request to the domain's origin (HTTP/1.1 and HTTP/2; streaming
/// bodies, so HTTP-FLV and HLS work), adding X-Forwarded-For / X-Forwarded-Proto."
#[tokio::test(flavor = "multi_thread")]
async fn requests_over_http2_and_http1_reach_the_origin_and_stream_large_bodies_both_ways() {
    let server = TestServer::start().await;
    let now = server.clock_now();
    server.add_domain("live.example.com").await;
    let g = self_signed(&["live.example.com"], now - DAY, now + 90 * DAY, Alg::P256);
    bind(&server, "live.example.com", "live", &g).await;
    let origin = start_origin().await;
    set_origin(&server, "live.example.com", &format!("http://{origin}")).await;
    let edge = TestEdge::start(&server).await;

    for h2 in [true, false] {
        let protocol = if h2 { "HTTP/2" } else { "HTTP/1.1" };
        // Download: 8 MiB generated by the origin.
        let path = format!("/live/stream.flv?bytes={LARGE}&token=a%20b");
        let (parts, received) =
            through_edge(edge.addr, "live.example.com", h2, "GET", &path, 0).await;
        assert_eq!(parts.status, 200, "{protocol}");
        assert_eq!(received, LARGE as u64, "{protocol}: bytes downloaded");
        assert_eq!(header(&parts, "x-echo-method"), "GET");
        assert_eq!(header(&parts, "x-echo-path"), path);
        assert_eq!(header(&parts, "x-echo-host"), "live.example.com");
        assert_eq!(header(&parts, "x-echo-xff"), "203.0.113.7, 127.0.0.1");
        assert_eq!(header(&parts, "x-echo-xfp"), "https");
        assert_eq!(
            header(&parts, "x-echo-private"),
            "",
            "{protocol}: a header named by Connection is hop-by-hop"
        );
        // Upload: 8 MiB generated by the client, counted by the origin.
        let (parts, received) =
            through_edge(edge.addr, "live.example.com", h2, "POST", "/upload", LARGE).await;
        assert_eq!(parts.status, 200, "{protocol}");
        assert_eq!(header(&parts, "x-echo-method"), "POST");
        assert_eq!(
            header(&parts, "x-received-bytes"),
            LARGE.to_string(),
            "{protocol}: bytes uploaded"
        );
        assert_eq!(received, 0);
    }
    edge.stop().await;
    server.stop().await;
}

/// A domain without an origin of its own goes to the default origin; an origin that refuses
/// connections is a 502 with a short body, and the edge keeps serving.
#[tokio::test(flavor = "multi_thread")]
async fn the_default_origin_serves_domains_without_one_and_an_unreachable_origin_is_502() {
    let server = TestServer::start().await;
    let now = server.clock_now();
    for d in ["dead.example.com", "plain.example.com"] {
        server.add_domain(d).await;
        let g = self_signed(&[d], now - DAY, now + 90 * DAY, Alg::P256);
        bind(&server, d, d, &g).await;
    }
    // A port that was open a moment ago and is closed now.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    set_origin(&server, "dead.example.com", &format!("http://{closed}")).await;
    let origin = start_origin().await;
    let default = Origin::parse(&format!("http://{origin}")).expect("origin");
    let edge = TestEdge::start_with(&server, Some(default)).await;

    for h2 in [true, false] {
        let (parts, _) =
            through_edge(edge.addr, "plain.example.com", h2, "GET", "/?bytes=10", 0).await;
        assert_eq!(parts.status, 200);
        assert_eq!(header(&parts, "x-echo-host"), "plain.example.com");
        let stream = handshake_with(
            edge.addr,
            "dead.example.com",
            if h2 { &[b"h2"] } else { &[b"http/1.1"] },
        )
        .await
        .stream
        .expect("handshake");
        if h2 {
            let (mut sender, connection) =
                hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
                    .await
                    .expect("HTTP/2");
            tokio::spawn(connection);
            let request = http::Request::get("https://dead.example.com/")
                .body(Empty::<Bytes>::new())
                .expect("request");
            let response = sender.send_request(request).await.expect("response");
            assert_eq!(response.status(), 502);
            let body = response
                .into_body()
                .collect()
                .await
                .expect("body")
                .to_bytes();
            let body = String::from_utf8_lossy(&body);
            assert!(body.contains("dead.example.com"), "{body}");
            assert!(
                !body.contains(&closed.to_string()),
                "the origin is not shown: {body}"
            );
        } else {
            let (status, body) = Http1::open(stream).await.get("dead.example.com").await;
            assert_eq!(status, 502, "{body}");
            assert!(body.len() < 200, "a short body: {body}");
        }
    }
    edge.stop().await;
    server.stop().await;
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

/// spec/edge.md: "Exposes metrics (Prometheus text) on --metrics-listen: handshakes by outcome,
/// the gauge livecert_edge_certificate_not_after_timestamp_seconds{domain}, map size, last update
/// time, upstream latency."
#[tokio::test(flavor = "multi_thread")]
async fn the_metrics_list_each_domains_not_after_and_count_handshakes_and_upstream_latency() {
    let server = TestServer::start().await;
    let now = server.clock_now();
    server.add_domain("live.example.com").await;
    let not_after = now + 90 * DAY;
    let g = self_signed(&["live.example.com"], now - DAY, not_after, Alg::P256);
    bind(&server, "live.example.com", "live", &g).await;
    let origin = start_origin().await;
    set_origin(&server, "live.example.com", &format!("http://{origin}")).await;
    let edge = TestEdge::start(&server).await;

    let (status, before) = scrape(edge.metrics).await;
    assert_eq!(status, 200, "{before}");
    // RFC 9112 §3.2 on the metrics port too: two Host lines are 400.
    let two_hosts = crate::harness::raw_exchange(
        edge.metrics,
        b"GET /metrics HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(two_hosts.status, 400, "{}", two_hosts.body);
    assert_eq!(
        sample(
            &before,
            "livecert_edge_certificate_not_after_timestamp_seconds{domain=\"live.example.com\"}"
        ),
        not_after
    );
    assert_eq!(sample(&before, "livecert_edge_map_domains"), 1);
    let built = sample(&before, "livecert_edge_map_last_update_timestamp_seconds");
    assert!(built > 1_600_000_000, "{built}");

    let (parts, _) = through_edge(edge.addr, "live.example.com", true, "GET", "/", 0).await;
    assert_eq!(parts.status, 200);
    handshake(edge.addr, "nobody.example.com")
        .await
        .assert_refused();
    handshake_with(edge.addr, "live.example.com", &[b"spdy/3"])
        .await
        .stream
        .expect_err("no common application protocol");

    let (_, after) = scrape(edge.metrics).await;
    let moved = |name: &str| sample(&after, name) - sample(&before, name);
    assert_eq!(moved("livecert_edge_handshakes_total{outcome=\"ok\"}"), 1);
    assert_eq!(
        moved("livecert_edge_handshakes_total{outcome=\"refused\"}"),
        1
    );
    assert_eq!(
        moved("livecert_edge_handshakes_total{outcome=\"error\"}"),
        1
    );
    assert_eq!(moved("livecert_edge_upstream_duration_seconds_count"), 1);
    assert_eq!(
        sample(
            &after,
            "livecert_edge_upstream_duration_seconds_bucket{le=\"+Inf\"}"
        ),
        1
    );
    edge.stop().await;
    server.stop().await;
}

/// spec/edge.md: "No SNI, unknown name, …: refused, unless an operator-configured default
/// certificate exists. Never serve another tenant's certificate as a fallback."
#[tokio::test(flavor = "multi_thread")]
async fn an_operator_default_certificate_answers_unknown_names_and_never_a_bound_domain() {
    let server = TestServer::start().await;
    let now = server.clock_now();
    server.add_domain("a.example.com").await;
    // The tenant's certificate also lists the name asked for below: it must not be chosen.
    let a = self_signed(
        &["a.example.com", "nobody.example.com"],
        now - DAY,
        now + 90 * DAY,
        Alg::P256,
    );
    bind(&server, "a.example.com", "a", &a).await;
    let operator = self_signed(&["edge.invalid"], now - DAY, now + 90 * DAY, Alg::P256);
    let cert = server.dir.path().join("default-chain.pem");
    let key = server.dir.path().join("default-key.pem");
    std::fs::write(&cert, &operator.chain_pem).expect("write chain");
    std::fs::write(&key, &operator.key_pem).expect("write key");
    let default = livecert::edge::default_certificate(Some(&(cert, key))).expect("default loads");
    let edge = livecert::edge::Edge::load(server.store.clone())
        .await
        .expect("edge loads")
        .with_default_certificate(default)
        .expect("TLS config");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(edge.serve(listener, async move {
        let _ = rx.await;
    }));

    let fingerprint_of = |g: &Generated| {
        rustls::pki_types::pem::PemObject::from_pem_slice(g.chain_pem.as_bytes())
            .map(|c: CertificateDer<'static>| hex::encode(Sha256::digest(c.as_ref())))
            .expect("PEM")
    };
    let (a_fp, operator_fp) = (fingerprint_of(&a), fingerprint_of(&operator));
    assert_eq!(
        handshake(addr, "a.example.com").await.leaf_fingerprint(),
        a_fp
    );
    // An unknown name, and no SNI at all (an IP address is not sent as SNI).
    for sni in ["nobody.example.com", "127.0.0.1"] {
        let h = handshake(addr, sni).await;
        assert_eq!(h.leaf_fingerprint(), operator_fp, "{sni}");
        // The connection serves no domain: its requests are misdirected.
        let mut http = Http1::open(h.stream.expect("handshake")).await;
        assert_eq!(http.get("a.example.com").await.0, 421);
    }
    let _ = tx.send(());
    let _ = task.await;

    // Without the option, the same names are refused.
    let edge = TestEdge::start(&server).await;
    handshake(edge.addr, "nobody.example.com")
        .await
        .assert_refused();
    handshake(edge.addr, "127.0.0.1").await.assert_refused();
    edge.stop().await;
    server.stop().await;
}

/// Adds `secure.example.com` and `plain.example.com`, each bound to a certificate of its own.
async fn bind_plain_test_domains(server: &TestServer) {
    let now = server.clock_now();
    for d in ["secure.example.com", "plain.example.com"] {
        server.add_domain(d).await;
        let g = self_signed(&[d], now - DAY, now + 90 * DAY, Alg::P256);
        bind(server, d, d, &g).await;
    }
}

/// Turns `https_required` on for `domain` (`livecert admin domain set --https-required on`).
async fn require_https(server: &TestServer, domain: &str) {
    server
        .store
        .set_domain_flags(
            &DomainName::parse(domain).expect("domain name"),
            livecert_store::DomainFlags {
                https_required: true,
                ..livecert_store::DomainFlags::default()
            },
            server.clock_now(),
        )
        .await
        .expect("flags set");
}

/// One plain-HTTP/1.1 GET of `path` with `host` on a new connection to `addr`: the response's
/// head and body.
async fn plain_get(addr: SocketAddr, host: &str, path: &str) -> (http::response::Parts, String) {
    let tcp = TcpStream::connect(addr).await.expect("connect plain HTTP");
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .expect("HTTP/1.1");
    tokio::spawn(connection);
    let request = http::Request::get(path)
        .header(http::header::HOST, host)
        .body(Empty::<Bytes>::new())
        .expect("request");
    let response = sender.send_request(request).await.expect("response");
    let (parts, body) = response.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    (parts, String::from_utf8_lossy(&body).into_owned())
}

/// spec/edge.md: "when --edge-http-listen is given (off by default), a plain HTTP port that
/// redirects to HTTPS when the domain requires it and will serve ACME HTTP-01 challenges": a
/// domain that requires HTTPS is 308 to https (the change reaches a running edge), another is
/// forwarded to its origin with X-Forwarded-Proto: http (HTTPS on or off), and an unknown Host or
/// a stopped domain (even under a wildcard) is 404 and never reaches anyone's origin. ACME
/// challenges: the next test.
#[tokio::test(flavor = "multi_thread")]
async fn the_plain_http_port_redirects_required_domains_forwards_others_and_404s_the_rest() {
    let server = TestServer::start().await;
    bind_plain_test_domains(&server).await;
    server.add_domain("off.example.com").await;
    // A wildcard domain, and a stopped domain under it: the stopped name must not fall through.
    let now = server.clock_now();
    for d in ["*.wild.example.com", "stopped.wild.example.com"] {
        server.add_domain(d).await;
        let g = self_signed(&[d], now - DAY, now + 90 * DAY, Alg::P256);
        bind(&server, d, d, &g).await;
    }
    server
        .call(
            Scheme::V3,
            "StopLiveDomain",
            &[("DomainName", "stopped.wild.example.com")],
        )
        .await
        .ok();
    let origin = start_origin().await;
    for d in ["secure.example.com", "plain.example.com", "off.example.com"] {
        set_origin(&server, d, &format!("http://{origin}")).await;
    }
    // The default origin would take any domain without its own: unknown hosts must not reach it.
    let default = Origin::parse(&format!("http://{origin}")).expect("origin");
    let edge = livecert::edge::Edge::load(server.store.clone())
        .await
        .expect("edge loads")
        .with_default_origin(Some(default));
    let tls = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let tls_addr = tls.local_addr().expect("tls addr");
    let plain = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind plain");
    let plain_addr = plain.local_addr().expect("plain addr");
    let metrics = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind metrics");
    let metrics_addr = metrics.local_addr().expect("metrics addr");
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let until_stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let tasks = [
        tokio::spawn(
            edge.clone()
                .serve_metrics(metrics, until_stopped(stopped.clone())),
        ),
        tokio::spawn(
            edge.clone()
                .serve_http(plain, until_stopped(stopped.clone())),
        ),
        tokio::spawn(async move {
            let _ = edge.serve(tls, until_stopped(stopped)).await;
        }),
    ];

    // Not required yet: forwarded, X-Forwarded-Proto http.
    let (parts, _) = plain_get(plain_addr, "secure.example.com", "/live/a.flv?t=1").await;
    assert_eq!(parts.status, 200);
    assert_eq!(header(&parts, "x-echo-xfp"), "http");

    require_https(&server, "secure.example.com").await;
    let redirected = within(Duration::from_secs(2), || async {
        plain_get(plain_addr, "secure.example.com", "/")
            .await
            .0
            .status
            == 308
    })
    .await;
    assert!(redirected, "the running edge follows https_required");
    let (parts, body) = plain_get(
        plain_addr,
        "Secure.Example.COM.:8080",
        "/live/a.flv?token=x&t=1",
    )
    .await;
    assert_eq!(parts.status, 308, "{body}");
    assert_eq!(
        header(&parts, "location"),
        "https://secure.example.com/live/a.flv?token=x&t=1"
    );
    assert!(parts.headers.get("x-echo-xfp").is_none(), "not forwarded");

    // Not required: forwarded like the TLS side, with X-Forwarded-Proto: http.
    let (parts, _) = plain_get(plain_addr, "PLAIN.example.com:80", "/live/b.m3u8?x=1").await;
    assert_eq!(parts.status, 200);
    assert_eq!(header(&parts, "x-echo-xfp"), "http");
    assert_eq!(header(&parts, "x-echo-path"), "/live/b.m3u8?x=1");
    // The origin gets the Host the edge routed on: lower case, the client's port kept.
    assert_eq!(header(&parts, "x-echo-host"), "plain.example.com:80");
    assert_eq!(header(&parts, "x-echo-xff"), "127.0.0.1");

    // HTTPS off: plain HTTP is still served (a live domain without a certificate yet), and the
    // wildcard domain's other names too.
    for host in ["off.example.com", "any.wild.example.com"] {
        let (parts, body) = plain_get(plain_addr, host, "/live/c.flv").await;
        assert_eq!(parts.status, 200, "{host}: {body}");
        assert_eq!(header(&parts, "x-echo-host"), host);
        assert_eq!(header(&parts, "x-echo-xfp"), "http");
    }

    // An unknown Host and a stopped domain (not its wildcard's either): 404, short, never
    // forwarded (the default origin would echo), and no certificate over TLS for the stopped one.
    for (host, path) in [
        ("nobody.example.com", "/"),
        ("stopped.wild.example.com", "/"),
    ] {
        let (parts, body) = plain_get(plain_addr, host, path).await;
        assert_eq!(parts.status, 404, "{host}{path}: {body}");
        assert!(body.len() < 100, "a short body: {body}");
        assert!(
            parts.headers.get("x-echo-host").is_none(),
            "{host}{path} reached an origin"
        );
    }

    handshake(tls_addr, "stopped.wild.example.com")
        .await
        .assert_refused();
    handshake(tls_addr, "any.wild.example.com")
        .await
        .leaf_fingerprint();

    // Exact for the 404s; the redirect poll above may have been forwarded or redirected more
    // than once before the map moved.
    let (_, text) = scrape(metrics_addr).await;
    let count = |outcome: &str| {
        sample(
            &text,
            &format!("livecert_edge_http_requests_total{{outcome=\"{outcome}\"}}"),
        )
    };
    assert_eq!(count("not_served"), 2);
    assert_eq!(count("acme_challenge"), 0);
    assert!(count("forwarded") >= 4, "{text}");
    assert!(count("redirected") >= 2, "{text}");

    let _ = stop.send(true);
    for task in tasks {
        let _ = task.await;
    }
    server.stop().await;
}

/// spec/edge.md: the plain-HTTP port "will serve ACME HTTP-01 challenges" (RFC 8555 §8.3): a key
/// authorization the ACME client left in the operator's `--acme-webroot` is served for any Host;
/// a token the webroot does not have goes to the domain's origin (where the domain's own ACME
/// client answers), even for a domain that requires HTTPS (never redirected); a path whose last
/// part is not a base64url token, or an unknown Host without a file, is 404 and reaches no origin.
#[tokio::test(flavor = "multi_thread")]
async fn acme_challenges_come_from_the_webroot_or_the_domains_origin_and_are_never_redirected() {
    let server = TestServer::start().await;
    bind_plain_test_domains(&server).await;
    server.add_domain("off.example.com").await;
    let origin = start_origin().await;
    for d in ["secure.example.com", "plain.example.com", "off.example.com"] {
        set_origin(&server, d, &format!("http://{origin}")).await;
    }
    require_https(&server, "secure.example.com").await;

    // What certbot --webroot -w <webroot> leaves: <webroot>/.well-known/acme-challenge/<token>.
    let webroot = tempfile::tempdir().expect("webroot");
    let challenges = webroot.path().join(".well-known/acme-challenge");
    std::fs::create_dir_all(&challenges).expect("challenge dir");
    let token = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0";
    let key_authorization = format!("{token}.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI");
    std::fs::write(challenges.join(token), &key_authorization).expect("token file");
    std::fs::write(webroot.path().join("secret.txt"), "operator's file").expect("other file");
    std::fs::create_dir(challenges.join("adirectory")).expect("a directory");
    std::fs::write(challenges.join("toolarge"), vec![b'a'; 5000]).expect("large file");

    let edge = livecert::edge::Edge::load(server.store.clone())
        .await
        .expect("edge loads")
        .with_acme_webroot(Some(webroot.path().to_path_buf()));
    let plain = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind plain");
    let plain_addr = plain.local_addr().expect("plain addr");
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(edge.serve_http(plain, async move {
        let _ = stopped.wait_for(|s| *s).await;
    }));

    let path = format!("/.well-known/acme-challenge/{token}");
    for host in [
        "plain.example.com",
        "secure.example.com",
        "nobody.example.com",
    ] {
        let (parts, body) = plain_get(plain_addr, host, &path).await;
        assert_eq!(parts.status, 200, "{host}: {body}");
        assert_eq!(body, key_authorization, "{host}");
        assert!(
            parts.headers.get("x-echo-host").is_none(),
            "{host}: from the webroot"
        );
    }

    // Not in the webroot: the domain's origin answers, with no redirect for the HTTPS-required
    // one, and for a domain with HTTPS off (its first certificate is what the challenge is for).
    for host in ["plain.example.com", "secure.example.com", "off.example.com"] {
        let (parts, body) = plain_get(
            plain_addr,
            host,
            "/.well-known/acme-challenge/other-Token_1",
        )
        .await;
        assert_eq!(parts.status, 200, "{host}: {body}");
        assert_eq!(
            header(&parts, "x-echo-path"),
            "/.well-known/acme-challenge/other-Token_1"
        );
        assert_eq!(header(&parts, "x-echo-xfp"), "http");
    }

    // Not tokens, or nobody to ask: 404, short, no origin reached.
    for (host, path) in [
        (
            "nobody.example.com",
            "/.well-known/acme-challenge/other-Token_1",
        ),
        (
            "plain.example.com",
            "/.well-known/acme-challenge/../../secret.txt",
        ),
        (
            "plain.example.com",
            "/.well-known/acme-challenge/..%2f..%2fsecret.txt",
        ),
        ("plain.example.com", "/.well-known/acme-challenge/"),
        ("plain.example.com", "/.well-known/acme-challenge/a/b"),
        (
            "nobody.example.com",
            "/.well-known/acme-challenge/adirectory",
        ),
        ("nobody.example.com", "/.well-known/acme-challenge/toolarge"),
    ] {
        let (parts, body) = plain_get(plain_addr, host, path).await;
        assert_eq!(parts.status, 404, "{host}{path}: {body}");
        assert!(body.len() < 100, "a short body: {body}");
        assert!(!body.contains("operator"), "{host}{path}: {body}");
        assert!(
            parts.headers.get("x-echo-host").is_none(),
            "{host}{path} reached an origin"
        );
    }

    let _ = stop.send(true);
    let _ = task.await;
    server.stop().await;
}

/// One HTTP/2 request on a new TLS connection with SNI `sni`: `uri` gives `:authority` (when it
/// is absolute) and `hosts` are sent as Host header lines; the status, or `None` when the stream
/// was reset.
async fn h2_status(addr: SocketAddr, sni: &str, uri: &str, hosts: &[&str]) -> Option<u16> {
    let stream = handshake_with(addr, sni, &[b"h2"])
        .await
        .stream
        .expect("handshake");
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .expect("HTTP/2 over TLS");
    tokio::spawn(connection);
    let mut request = http::Request::get(uri)
        .body(Empty::<Bytes>::new())
        .expect("request");
    for host in hosts {
        request.headers_mut().append(
            http::header::HOST,
            http::HeaderValue::from_str(host).expect("host value"),
        );
    }
    let response = sender.send_request(request).await.ok()?;
    Some(response.status().as_u16())
}

/// Issue 10, item 4; RFC 9112 §3.2: "A server MUST respond with a 400 (Bad Request) status code
/// to any HTTP/1.1 request message that lacks a Host header field and to any request message that
/// contains more than one Host header field line or a Host header field with an invalid field
/// value"; RFC 9113 §8.3.1: an HTTP/2 request whose Host names another entity than its
/// `:authority` is malformed. On the TLS port and on the plain-HTTP port such a request is `400`
/// and reaches no origin, whichever of the two Hosts is the served domain; the origin only ever
/// receives the domain the edge routed on (lower case, no trailing dot, the client's port kept).
#[tokio::test(flavor = "multi_thread")]
async fn a_request_without_exactly_one_valid_host_is_400_and_never_reaches_the_origin() {
    let server = TestServer::start().await;
    let now = server.clock_now();
    let origin = RecordingOrigin::start().await;
    for d in ["live.example.com", "other.example.com"] {
        server.add_domain(d).await;
        let g = self_signed(&[d], now - DAY, now + 90 * DAY, Alg::P256);
        bind(&server, d, d, &g).await;
        set_origin(&server, d, &format!("http://{}", origin.addr)).await;
    }
    let edge = livecert::edge::Edge::load(server.store.clone())
        .await
        .expect("edge loads");
    let tls = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let tls_addr = tls.local_addr().expect("tls addr");
    let plain = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind plain");
    let plain_addr = plain.local_addr().expect("plain addr");
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let until_stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let tasks = [
        tokio::spawn(
            edge.clone()
                .serve_http(plain, until_stopped(stopped.clone())),
        ),
        tokio::spawn(async move {
            let _ = edge.serve(tls, until_stopped(stopped)).await;
        }),
    ];

    let malformed = [
        (
            "two Host lines, the served domain first",
            "GET / HTTP/1.1\r\nHost: live.example.com\r\nHost: other.example.com\r\n",
        ),
        (
            "two Host lines, the served domain second",
            "GET / HTTP/1.1\r\nHost: other.example.com\r\nHost: live.example.com\r\n",
        ),
        (
            "two identical Host lines",
            "GET / HTTP/1.1\r\nHost: live.example.com\r\nHost: live.example.com\r\n",
        ),
        ("no Host", "GET / HTTP/1.1\r\n"),
        ("no Host in HTTP/1.0", "GET / HTTP/1.0\r\n"),
        ("an empty Host", "GET / HTTP/1.1\r\nHost: \r\n"),
        ("userinfo in Host", "GET / HTTP/1.1\r\nHost: a@live.example.com\r\n"),
        ("a path in Host", "GET / HTTP/1.1\r\nHost: live.example.com/x\r\n"),
        ("a port that is not a number", "GET / HTTP/1.1\r\nHost: live.example.com:https\r\n"),
        ("two ports", "GET / HTTP/1.1\r\nHost: live.example.com:1:2\r\n"),
        (
            "userinfo in an absolute-form target",
            "GET http://a@live.example.com/ HTTP/1.1\r\nHost: live.example.com\r\n",
        ),
        (
            "an ACME challenge with two Host lines",
            "GET /.well-known/acme-challenge/abc HTTP/1.1\r\nHost: live.example.com\r\nHost: other.example.com\r\n",
        ),
    ];
    for (case, head) in malformed {
        let request = format!("{head}Connection: close\r\n\r\n");
        let over_tls = tls_exchange(tls_addr, "live.example.com", request.as_bytes()).await;
        assert_eq!(over_tls.status, 400, "TLS, {case}: {}", over_tls.body);
        let over_plain = crate::harness::raw_exchange(plain_addr, request.as_bytes()).await;
        assert_eq!(
            over_plain.status, 400,
            "plain HTTP, {case}: {}",
            over_plain.body
        );
        assert!(
            origin.hosts().is_empty(),
            "{case} reached the origin: {:?}",
            origin.hosts()
        );
    }
    // HTTP/2: userinfo in :authority, a Host naming another domain than :authority, two Hosts.
    for (case, uri, hosts) in [
        (
            "userinfo in :authority",
            "https://a@live.example.com/",
            &[][..],
        ),
        (
            "Host differs from :authority",
            "https://live.example.com/",
            &["other.example.com"][..],
        ),
        (
            "two Hosts beside :authority",
            "https://live.example.com/",
            &["live.example.com", "other.example.com"][..],
        ),
    ] {
        let status = h2_status(tls_addr, "live.example.com", uri, hosts).await;
        assert!(
            matches!(status, Some(400) | None),
            "HTTP/2, {case}: {status:?}"
        );
        assert!(
            origin.hosts().is_empty(),
            "HTTP/2, {case} reached the origin: {:?}",
            origin.hosts()
        );
    }

    // Well-formed: forwarded, and the origin gets the served domain.
    let ok = |head: &str| format!("{head}Connection: close\r\n\r\n");
    let reply = tls_exchange(
        tls_addr,
        "live.example.com",
        ok("GET / HTTP/1.1\r\nHost: LIVE.Example.COM.:443\r\n").as_bytes(),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    // RFC 9112 §3.2.2: with an absolute-form target the Host line is ignored, the target's
    // authority routes, and it is what the origin gets.
    let reply = tls_exchange(
        tls_addr,
        "live.example.com",
        ok("GET https://live.example.com/ HTTP/1.1\r\nHost: other.example.com\r\n").as_bytes(),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let reply = crate::harness::raw_exchange(
        plain_addr,
        ok("GET / HTTP/1.1\r\nHost: live.example.com\r\n").as_bytes(),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    for hosts in [&[][..], &["live.example.com:443"][..]] {
        let status = h2_status(
            tls_addr,
            "live.example.com",
            "https://live.example.com/",
            hosts,
        )
        .await;
        assert_eq!(status, Some(200), "HTTP/2 with Host {hosts:?}");
    }
    assert_eq!(
        origin.hosts(),
        [
            "live.example.com:443",
            "live.example.com",
            "live.example.com",
            "live.example.com",
            "live.example.com",
        ]
    );

    let _ = stop.send(true);
    for task in tasks {
        let _ = task.await;
    }
    server.stop().await;
}

/// Issue 10, item 5, the slow kind: a client that declares a body and does not send it is the
/// client's problem too. When the time for the origin's response headers runs out while the
/// edge still waits for the client's body, the answer is `408` and no upstream failure is
/// counted (`livecert_edge_client_body_errors_total` is); an origin that has the whole request
/// and does not answer in time is still `504`, counted as the origin's failure.
#[tokio::test(flavor = "multi_thread")]
async fn a_body_the_client_does_not_send_is_408_and_an_origin_that_does_not_answer_is_504() {
    let server = TestServer::start().await;
    let now = server.clock_now();
    let origin = RecordingOrigin::start().await;
    // An origin that accepts connections and never answers.
    let mute = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind mute origin");
    let mute_addr = mute.local_addr().expect("mute addr");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = mute.accept().await {
            held.push(stream);
        }
    });
    for (d, o) in [
        ("live.example.com", origin.addr),
        ("mute.example.com", mute_addr),
    ] {
        server.add_domain(d).await;
        let g = self_signed(&[d], now - DAY, now + 90 * DAY, Alg::P256);
        bind(&server, d, d, &g).await;
        set_origin(&server, d, &format!("http://{o}")).await;
    }
    let edge = livecert::edge::Edge::load(server.store.clone())
        .await
        .expect("edge loads")
        .with_origin_headers_timeout(Duration::from_secs(1));
    let tls = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let tls_addr = tls.local_addr().expect("tls addr");
    let metrics = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind metrics");
    let metrics_addr = metrics.local_addr().expect("metrics addr");
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let until_stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let tasks = [
        tokio::spawn(
            edge.clone()
                .serve_metrics(metrics, until_stopped(stopped.clone())),
        ),
        tokio::spawn(async move {
            let _ = edge.serve(tls, until_stopped(stopped)).await;
        }),
    ];

    // 10 of 100 bytes, and then nothing: the connection stays open, waiting.
    let late = tls_exchange(
        tls_addr,
        "live.example.com",
        b"POST /upload HTTP/1.1\r\nHost: live.example.com\r\nContent-Length: 100\r\n\r\n0123456789",
    )
    .await;
    assert_eq!(late.status, 408, "{}", late.body);
    let mute_reply = tls_exchange(
        tls_addr,
        "mute.example.com",
        b"GET / HTTP/1.1\r\nHost: mute.example.com\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(mute_reply.status, 504, "{}", mute_reply.body);

    let (_, text) = scrape(metrics_addr).await;
    assert_eq!(
        sample(&text, "livecert_edge_upstream_failures_total"),
        1,
        "{text}"
    );
    assert_eq!(
        sample(&text, "livecert_edge_client_body_errors_total"),
        1,
        "{text}"
    );
    assert_eq!(
        origin.hosts(),
        ["live.example.com"],
        "the late request reached its origin"
    );

    let _ = stop.send(true);
    for task in tasks {
        let _ = task.await;
    }
    server.stop().await;
}
