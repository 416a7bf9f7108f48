//! The client side of the edge tests: TLS handshakes that record the chain served (signatures
//! still checked), HTTP/1.1 and HTTP/2 requests through the edge.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::origins::{count_bytes, Synthetic};
use crate::harness::{raw_over, Reply};

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
    pub(super) stream: Result<TlsStream<TcpStream>, std::io::Error>,
    pub(super) chain: Option<Vec<CertificateDer<'static>>>,
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
    pub(super) fn assert_refused(&self) {
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

pub(super) async fn handshake_with(addr: SocketAddr, sni: &str, alpn: &[&[u8]]) -> Handshake {
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
pub(super) fn resuming_client() -> Arc<ClientConfig> {
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

pub(super) async fn connect_with(
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
pub(crate) struct Http1 {
    sender: hyper::client::conn::http1::SendRequest<Empty<Bytes>>,
}

impl Http1 {
    pub(crate) async fn open(stream: TlsStream<TcpStream>) -> Self {
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("HTTP/1.1 over TLS");
        tokio::spawn(connection);
        Self { sender }
    }

    /// GET / with `host`: (status, body).
    pub(crate) async fn get(&mut self, host: &str) -> (u16, String) {
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

/// Writes `bytes` on a new TLS connection to the edge at `addr` with SNI `sni` (ALPN
/// `http/1.1`) and reads one response.
pub(crate) async fn tls_exchange(addr: SocketAddr, sni: &str, bytes: &[u8]) -> Reply {
    let stream = handshake(addr, sni).await.into_stream();
    raw_over(stream, bytes).await
}

/// One request through the edge on a new connection with SNI `host`, over HTTP/2 (`h2`) or
/// HTTP/1.1: the response's head and the number of body bytes received.
pub(super) async fn through_edge(
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
