//! What the benchmarks that drive real `livecert` processes share (`multinode`, `acme`): a signed
//! API client (the signing functions of `livecert call`, core's `protocol::client`), child
//! processes stopped on drop, free ports, and full TLS handshakes that return the served leaf.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use livecert::clock::{Clock, SystemClock};
use livecert_core::action::API_VERSION;
use livecert_core::params::Pair;
use livecert_core::protocol::client::{encode_pairs, sign_v3, V3Request};
use livecert_core::secret::Secret;
use livecert_core::timefmt::format_utc;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::Resumption;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// The benchmarks' client runtime: two worker threads, as many as the machine's cores.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// The `q` quantile of sorted samples.
pub fn pct(sorted: &[Duration], q: f64) -> Duration {
    sorted
        .get(((sorted.len() as f64 * q) as usize).min(sorted.len().saturating_sub(1)))
        .copied()
        .unwrap_or_default()
}

/// A signed client of the API node.
pub struct Api {
    pub addr: SocketAddr,
    pub key_id: String,
    pub secret: String,
    pub client: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
}

impl Api {
    /// Calls `action`; fails unless it succeeds; returns the answer's JSON.
    pub async fn call(&self, action: &str, params: &[(&str, &str)]) -> serde_json::Value {
        let pairs: Vec<Pair> = params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
            .collect();
        let request = signed_request(self.addr, &self.key_id, &self.secret, action, &pairs);
        let response = self.client.request(request).await.expect("API call");
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        assert_eq!(status, 200, "{action}: {}", String::from_utf8_lossy(&body));
        serde_json::from_slice(&body).unwrap_or_default()
    }

    /// SetLiveDomainCertificate: the record named after `domain` replaced (ForceSet) and bound.
    pub async fn set(&self, domain: &str, chain: &str, key: &str) {
        self.call(
            "SetLiveDomainCertificate",
            &[
                ("DomainName", domain),
                ("SSLProtocol", "on"),
                ("CertName", domain),
                ("ForceSet", "1"),
                ("SSLPub", chain),
                ("SSLPri", key),
            ],
        )
        .await;
    }
}

/// A POST of `action` with `params` as a form body to the API at `addr`, signed with ACS3-HMAC-SHA256
/// (core's `protocol::client`, the signing of `livecert call`) for `key_id` and `secret`.
pub fn signed_request(
    addr: SocketAddr,
    key_id: &str,
    secret: &str,
    action: &str,
    params: &[Pair],
) -> http::Request<Full<Bytes>> {
    let host = addr.to_string();
    let body = encode_pairs(params);
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let date = format_utc(SystemClock.now());
    let headers = sign_v3(
        &V3Request {
            method: "POST",
            host: &host,
            action,
            version: API_VERSION,
            query: &[],
            body: body.as_bytes(),
            access_key_id: key_id,
            nonce: &nonce,
            date: &date,
            security_token: None,
        },
        &Secret::new(secret.as_bytes().to_vec()),
    );
    let mut request = http::Request::post(format!("http://{host}/"))
        .header("content-type", "application/x-www-form-urlencoded");
    for (k, v) in headers {
        request = request.header(k, v);
    }
    request.body(Full::new(Bytes::from(body))).expect("request")
}

/// The value after `--<name>` on the command line, if any.
pub fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

/// A child process stopped with SIGTERM (then SIGKILL) when dropped.
pub struct Process(pub Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr")
}

/// Waits until `addr` accepts a connection (60 s at most).
pub async fn wait_open(addr: SocketAddr) {
    let since = Instant::now();
    while TcpStream::connect(addr).await.is_err() {
        assert!(
            since.elapsed() < Duration::from_secs(60),
            "{addr} did not open within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[derive(Debug)]
struct AcceptAll(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAll {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }
    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A TLS 1.3 client without resumption that accepts any chain (what is compared is the leaf).
pub fn connector() -> TlsConnector {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("TLS 1.3")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAll(provider)))
        .with_no_client_auth();
    config.resumption = Resumption::disabled();
    TlsConnector::from(Arc::new(config))
}

/// One full handshake with `sni`; the presented leaf's DER.
pub async fn handshake(tls: &TlsConnector, addr: SocketAddr, sni: &str) -> Option<Vec<u8>> {
    let tcp = TcpStream::connect(addr).await.ok()?;
    let _ = tcp.set_nodelay(true);
    let name = ServerName::try_from(sni.to_owned()).ok()?;
    let stream = tls.connect(name, tcp).await.ok()?;
    let leaf = stream.get_ref().1.peer_certificates()?.first()?.to_vec();
    Some(leaf)
}

/// A fresh PostgreSQL database, dropped (with its connections) when this is dropped.
pub struct Database {
    admin_url: String,
    name: String,
    /// Its URL.
    pub url: String,
}

impl Database {
    /// Creates it on `LIVECERT_BENCH_POSTGRES` (default
    /// `postgres://postgres@127.0.0.1:5432/postgres`).
    pub fn create() -> Self {
        let admin_url = std::env::var("LIVECERT_BENCH_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
        let name = format!("livecert_bench_{}", uuid::Uuid::new_v4().simple());
        psql(&admin_url, &format!("CREATE DATABASE {name}"));
        let url = match admin_url.rsplit_once('/') {
            Some((server, _)) => format!("{server}/{name}"),
            None => panic!("LIVECERT_BENCH_POSTGRES must end with /<database>: {admin_url}"),
        };
        Self {
            admin_url,
            name,
            url,
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        psql(
            &self.admin_url,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

/// Runs `sql` on a connection of its own, from a thread of its own.
pub fn psql(url: &str, sql: &str) {
    let (url, sql) = (url.to_owned(), sql.to_owned());
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .unwrap_or_else(|e| panic!("PostgreSQL at {url}: {e}"));
            let connection = tokio::spawn(connection);
            client
                .batch_execute(&sql)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            drop(client);
            let _ = connection.await;
        });
    })
    .join()
    .expect("psql thread");
}
