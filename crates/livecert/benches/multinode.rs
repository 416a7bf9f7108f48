//! Multi-node benchmark (issue 6): propagation from a SetLiveDomainCertificate response on an API
//! node (`livecert serve --no-edge`) to a separate `livecert edge` process serving the new leaf,
//! on PostgreSQL (the edge hears the commit through LISTEN/NOTIFY) and on SQLite (the edge polls
//! the change counter every 50 ms), and the API node's SetLiveDomainCertificate and
//! DescribeLiveDomainCertificateInfo throughput on each store.
//!
//! Run: `cargo bench -p livecert --bench multinode -- [--backend both|postgres|sqlite]
//! [--changes 200] [--seconds 10] [--clients 8]`. PostgreSQL: a fresh database
//! `livecert_bench_<random>` on `LIVECERT_BENCH_POSTGRES` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`), dropped at the end.
//!
//! The servers are real processes of this build's `livecert` binary, on 127.0.0.1, with rate
//! limits off; the load client runs in this process on the same cores. Propagation: one change at a
//! time (a forced replacement of the domain's record, so each change is a new leaf), the clock
//! started when the API's response has been read, stopped at the first full TLS handshake with the
//! edge that presents the new leaf (handshakes back to back), then a random pause of 0–199 ms.
//! Throughput: `--clients` concurrent clients for `--seconds` each, over HTTP/1.1 with kept-alive
//! connections; call n (numbered across clients) of Set replaces the record of domain n mod 16 with
//! the other of its two pre-made certificates (so a call is a real replacement, unless two calls on
//! one domain overlap), and call n of Describe reads domain n mod 16.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use livecert::clock::{Clock, SystemClock};
use livecert_core::action::API_VERSION;
use livecert_core::params::Pair;
use livecert_core::protocol::client::{encode_pairs, sign_v3, V3Request};
use livecert_core::secret::Secret;
use livecert_core::timefmt::format_utc;
use rcgen::{CertificateParams, DnType, KeyPair};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::Resumption;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// Domains the benchmark binds.
const DOMAINS: usize = 16;

struct Options {
    backends: Vec<&'static str>,
    changes: usize,
    seconds: u64,
    clients: usize,
}

fn options() -> Options {
    let args: Vec<String> = std::env::args().collect();
    let get = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let num = |name: &str, default: u64| get(name).and_then(|v| v.parse().ok()).unwrap_or(default);
    let backends = match get("--backend").as_deref() {
        Some("postgres") => vec!["postgres"],
        Some("sqlite") => vec!["sqlite"],
        _ => vec!["postgres", "sqlite"],
    };
    Options {
        backends,
        changes: num("--changes", 200) as usize,
        seconds: num("--seconds", 10),
        clients: num("--clients", 8) as usize,
    }
}

fn domain(i: usize) -> String {
    format!("m{i}.multinode-bench.example.com")
}

/// A self-signed P-256 leaf for `name`: (chain PEM, key PEM, leaf DER).
fn leaf(name: &str) -> (String, String, Vec<u8>) {
    let key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::new(vec![name.to_owned()]).expect("params");
    params.distinguished_name.push(DnType::CommonName, name);
    let cert = params.self_signed(&key).expect("certificate");
    (cert.pem(), key.serialize_pem(), cert.der().to_vec())
}

fn main() {
    let opts = options();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut rows = Vec::new();
    for backend in &opts.backends {
        rows.push(runtime.block_on(run(backend, &opts)));
    }
    println!(
        "\n| store | edge learns by | changes | propagation p50 | p99 | max | Set/s ({} clients) | Describe/s ({} clients) |",
        opts.clients, opts.clients
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for row in rows {
        println!("{row}");
    }
}

/// One backend: the processes, the propagation run, the throughput runs; its table row.
async fn run(backend: &str, opts: &Options) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let database = (backend == "postgres").then(Database::create);
    let store = database.as_ref().map(|d| d.url.clone());
    let bin = env!("CARGO_BIN_EXE_livecert");

    let api_addr = free_port();
    let mut serve = Command::new(bin);
    serve
        .args(["serve", "--no-edge", "--rate-limits", "off", "--listen"])
        .arg(api_addr.to_string())
        .arg("--data-dir")
        .arg(dir.path())
        .env("LIVECERT_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    if let Some(url) = &store {
        serve.args(["--store", url]);
    }
    let serve = Process(serve.spawn().expect("livecert serve starts"));
    wait_open(api_addr).await;
    let (key_id, secret) =
        livecert::datadir::read_credentials(&dir.path().join("credentials")).expect("credentials");
    let api = Api {
        addr: api_addr,
        key_id,
        secret,
        client: Client::builder(TokioExecutor::new()).build_http(),
    };
    for i in 0..DOMAINS {
        let name = domain(i);
        api.call(
            "AddLiveDomain",
            &[
                ("DomainName", &name),
                ("LiveDomainType", "liveVideo"),
                ("Region", "cn-shanghai"),
            ],
        )
        .await;
    }

    let edge_addr = free_port();
    let mut edge = Command::new(bin);
    edge.args(["edge", "--edge-listen"])
        .arg(edge_addr.to_string())
        .arg("--data-dir")
        .arg(dir.path())
        .env("LIVECERT_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    if let Some(url) = &store {
        edge.args(["--store", url]);
    }
    let edge = Process(edge.spawn().expect("livecert edge starts"));
    wait_open(edge_addr).await;

    // Propagation, one change at a time.
    let tls = connector();
    let mut gap: u64 = u64::from(std::process::id()) | 1;
    let mut times = Vec::with_capacity(opts.changes);
    for k in 0..opts.changes {
        let name = domain(k % DOMAINS);
        let (chain, key, der) = leaf(&name);
        api.set(&name, &chain, &key).await;
        let answered = Instant::now();
        loop {
            if handshake(&tls, edge_addr, &name).await.as_deref() == Some(der.as_slice()) {
                times.push(answered.elapsed());
                break;
            }
            assert!(
                answered.elapsed() < Duration::from_secs(60),
                "{name}: the new leaf is not served 60 s after the call"
            );
        }
        gap ^= gap << 13;
        gap ^= gap >> 7;
        gap ^= gap << 17;
        tokio::time::sleep(Duration::from_millis(gap % 200)).await;
    }
    times.sort();

    // Throughput.
    let certs: Arc<Vec<[(String, String); 2]>> = Arc::new(
        (0..DOMAINS)
            .map(|i| {
                let (c1, k1, _) = leaf(&domain(i));
                let (c2, k2, _) = leaf(&domain(i));
                [(c1, k1), (c2, k2)]
            })
            .collect(),
    );
    let api = Arc::new(api);
    let sets = throughput(opts, {
        let (api, certs) = (Arc::clone(&api), Arc::clone(&certs));
        move |n| {
            let (api, certs) = (Arc::clone(&api), Arc::clone(&certs));
            async move {
                let i = n % DOMAINS;
                let (chain, key) = &certs[i][n / DOMAINS % 2];
                api.set(&domain(i), chain, key).await;
            }
        }
    })
    .await;
    let describes = throughput(opts, {
        let api = Arc::clone(&api);
        move |n| {
            let api = Arc::clone(&api);
            async move {
                let name = domain(n % DOMAINS);
                api.call(
                    "DescribeLiveDomainCertificateInfo",
                    &[("DomainName", &name)],
                )
                .await;
            }
        }
    })
    .await;
    drop(edge);
    drop(serve);
    drop(database);

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    format!(
        "| {} | {} | {} | {:.1} ms | {:.1} ms | {:.1} ms | {sets:.0} | {describes:.0} |",
        if backend == "postgres" {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        if backend == "postgres" {
            "LISTEN/NOTIFY"
        } else {
            "50 ms poll"
        },
        times.len(),
        ms(pct(&times, 0.50)),
        ms(pct(&times, 0.99)),
        ms(times.last().copied().unwrap_or_default()),
    )
}

/// Runs `call(n)`, `n` the call's number across all clients (0, 1, 2, …), from `--clients`
/// concurrent clients for `--seconds`; calls per second.
async fn throughput<F, Fut>(opts: &Options, call: F) -> f64
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(opts.seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..opts.clients {
        let (call, next, done) = (call.clone(), Arc::clone(&next), Arc::clone(&done));
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                call(next.fetch_add(1, Ordering::Relaxed)).await;
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for task in tasks {
        task.await.expect("client");
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

fn pct(sorted: &[Duration], q: f64) -> Duration {
    sorted
        .get(((sorted.len() as f64 * q) as usize).min(sorted.len().saturating_sub(1)))
        .copied()
        .unwrap_or_default()
}

/// A signed client of the API node.
struct Api {
    addr: SocketAddr,
    key_id: String,
    secret: String,
    client: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
}

impl Api {
    /// Calls `action`; fails unless it succeeds.
    async fn call(&self, action: &str, params: &[(&str, &str)]) {
        let pairs: Vec<Pair> = params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
            .collect();
        let host = self.addr.to_string();
        let body = encode_pairs(&pairs);
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
                access_key_id: &self.key_id,
                nonce: &nonce,
                date: &date,
                security_token: None,
            },
            &Secret::new(self.secret.as_bytes().to_vec()),
        );
        let mut request = http::Request::post(format!("http://{host}/"))
            .header("content-type", "application/x-www-form-urlencoded");
        for (k, v) in headers {
            request = request.header(k, v);
        }
        let request = request.body(Full::new(Bytes::from(body))).expect("request");
        let response = self.client.request(request).await.expect("API call");
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        assert_eq!(status, 200, "{action}: {}", String::from_utf8_lossy(&body));
    }

    /// SetLiveDomainCertificate: the record named after `domain` replaced (ForceSet) and bound.
    async fn set(&self, domain: &str, chain: &str, key: &str) {
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

/// A fresh PostgreSQL database, dropped (with its connections) when this is dropped.
struct Database {
    admin_url: String,
    name: String,
    url: String,
}

impl Database {
    fn create() -> Self {
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
fn psql(url: &str, sql: &str) {
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

/// A child process stopped with SIGTERM (then SIGKILL) when dropped.
struct Process(Child);

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

fn free_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr")
}

/// Waits until `addr` accepts a connection (60 s at most).
async fn wait_open(addr: SocketAddr) {
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
fn connector() -> TlsConnector {
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
async fn handshake(tls: &TlsConnector, addr: SocketAddr, sni: &str) -> Option<Vec<u8>> {
    let tcp = TcpStream::connect(addr).await.ok()?;
    let _ = tcp.set_nodelay(true);
    let name = ServerName::try_from(sni.to_owned()).ok()?;
    let stream = tls.connect(name, tcp).await.ok()?;
    let leaf = stream.get_ref().1.peer_certificates()?.first()?.to_vec();
    Some(leaf)
}
