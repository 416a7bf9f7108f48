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
use livecert_core::params::Pair;
use livecert_core::secret::Secret;
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

/// User + system CPU time of process `pid` (`/proc/<pid>/stat` fields 14 and 15, in units of
/// `getconf CLK_TCK`); zero if the process is gone.
pub fn process_cpu(pid: u32) -> Duration {
    static CLOCK_TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    let per_second = *CLOCK_TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    });
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name (which may hold spaces and parentheses).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    Duration::from_secs_f64((ticks(11) + ticks(12)) / per_second)
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
/// for `key_id` and `secret` by `livecert call`'s own request builder ([`livecert::client::signed_request`]).
pub fn signed_request(
    addr: SocketAddr,
    key_id: &str,
    secret: &str,
    action: &str,
    params: &[Pair],
) -> http::Request<Full<Bytes>> {
    let call = livecert::client::CallRequest {
        endpoint: format!("http://{addr}"),
        action: action.to_owned(),
        params: params.to_vec(),
        access_key_id: key_id.to_owned(),
        access_key_secret: Secret::new(secret.as_bytes().to_vec()),
        scheme: livecert::client::SignatureScheme::V3,
        now: SystemClock.now(),
        security_token: None,
        ca_cert: None,
    };
    livecert::client::signed_request(&call, &addr.to_string()).expect("request")
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
