//! Every listener of a real `livecert serve` process — the API (plain HTTP or TLS), the edge's TLS
//! and plain-HTTP ports, the metrics port — closes a connection that sends nothing, and keeps
//! accepting once the process has file descriptors again: the process runs under a low
//! `RLIMIT_NOFILE` (`prlimit --nofile`, util-linux), more silent connections than the limit
//! allows are opened, every one of them is closed by the server, and then a signed API call,
//! an edge handshake and request, a plain-HTTP request and a metrics scrape all succeed.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use livecert::client::{CallRequest, CallResponse, SignatureScheme};
use livecert_core::secret::Secret;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use crate::certs::{self_signed, Alg};
use crate::edge::{handshake, tls_exchange, RecordingOrigin};
use crate::harness::{raw_exchange, Reply};

const DAY: i64 = 86_400;

/// How long a liveness check waits before it calls the server stuck: far beyond what any of them
/// needs (a few seconds), never a measure of speed.
const LIVENESS: Duration = Duration::from_secs(90);

/// The first-byte deadline the processes run with (`--first-byte-timeout-ms`), so that the
/// tests take seconds rather than the production 10 s per round.
const FIRST_BYTE_TIMEOUT_MS: &str = "1000";

/// A `livecert serve` child process with all its listeners on free ports, killed when dropped.
pub(crate) struct ServeProcess {
    child: Child,
    pub(crate) api: SocketAddr,
    pub(crate) edge: SocketAddr,
    pub(crate) plain: SocketAddr,
    pub(crate) metrics: SocketAddr,
    /// The API's certificate (for `localhost`) when it serves TLS.
    api_cert: Option<PathBuf>,
    log: PathBuf,
    creds: (String, String),
    _dir: tempfile::TempDir,
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How to start a [`ServeProcess`].
#[derive(Default)]
pub(crate) struct ServeSetup {
    /// `RLIMIT_NOFILE` (soft and hard) of the process; `None`: inherited.
    pub(crate) nofile: Option<u32>,
    /// Serve the API over TLS (`--tls-cert`/`--tls-key`, a certificate for `localhost`).
    pub(crate) tls_api: bool,
    /// `--default-origin`.
    pub(crate) default_origin: Option<SocketAddr>,
}

fn free_port() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
}

impl ServeProcess {
    /// Starts `livecert serve` with every listener, logging at `info` to a file; returns once the
    /// API accepts connections (it is bound last).
    pub(crate) async fn start(setup: ServeSetup) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let (api, edge, plain, metrics) = (free_port(), free_port(), free_port(), free_port());
        let log = dir.path().join("serve.log");
        let data = dir.path().join("data");
        let mut command = match setup.nofile {
            Some(n) => {
                let mut c = Command::new("prlimit");
                c.arg(format!("--nofile={n}:{n}"))
                    .arg("--")
                    .arg(env!("CARGO_BIN_EXE_livecert"));
                c
            }
            None => Command::new(env!("CARGO_BIN_EXE_livecert")),
        };
        command
            .arg("serve")
            .args(["--listen", &api.to_string()])
            .args(["--edge-listen", &edge.to_string()])
            .args(["--edge-http-listen", &plain.to_string()])
            .args(["--metrics-listen", &metrics.to_string()])
            .args(["--rate-limits", "off"])
            .args(["--first-byte-timeout-ms", FIRST_BYTE_TIMEOUT_MS])
            .arg("--data-dir")
            .arg(&data);
        if let Some(origin) = setup.default_origin {
            command.args(["--default-origin", &format!("http://{origin}")]);
        }
        let api_cert = setup.tls_api.then(|| {
            let now = crate::postgres::now();
            let cert = self_signed(&["localhost"], now - DAY, now + 90 * DAY, Alg::P256);
            let (chain, key) = (dir.path().join("api.pem"), dir.path().join("api-key.pem"));
            std::fs::write(&chain, &cert.chain_pem).expect("write chain");
            std::fs::write(&key, &cert.key_pem).expect("write key");
            command
                .arg("--tls-cert")
                .arg(&chain)
                .arg("--tls-key")
                .arg(key);
            chain
        });
        let child = command
            .env_remove("LIVECERT_DATA_DIR")
            .env_remove("LIVECERT_MASTER_KEY")
            .env("LIVECERT_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::from(std::fs::File::create(&log).expect("log file")))
            .spawn()
            .expect("livecert serve starts");
        let mut process = Self {
            child,
            api,
            edge,
            plain,
            metrics,
            api_cert,
            log,
            creds: (String::new(), String::new()),
            _dir: dir,
        };
        for _ in 0..400 {
            if let Some(status) = process.child.try_wait().expect("wait") {
                panic!("livecert serve exited ({status}):\n{}", process.log());
            }
            if std::net::TcpStream::connect(api).is_ok() {
                process.creds = livecert::datadir::read_credentials(&data.join("credentials"))
                    .expect("credentials written on first start");
                return process;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("livecert serve did not open {api}:\n{}", process.log());
    }

    /// The process's log so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The number of file descriptors the process has open.
    pub(crate) fn open_files(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id()))
            .expect("/proc/<pid>/fd")
            .count()
    }

    /// A signed (V3) call through `livecert::client`, over TLS when the API serves TLS.
    pub(crate) async fn call(
        &self,
        action: &str,
        params: &[(&str, &str)],
    ) -> anyhow::Result<CallResponse> {
        let endpoint = match &self.api_cert {
            Some(_) => format!("https://localhost:{}", self.api.port()),
            None => format!("http://{}", self.api),
        };
        livecert::client::send(&CallRequest {
            endpoint,
            action: action.to_owned(),
            params: params
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
                .collect(),
            access_key_id: self.creds.0.clone(),
            access_key_secret: Secret::new(self.creds.1.clone().into_bytes()),
            scheme: SignatureScheme::V3,
            now: crate::postgres::now(),
            security_token: None,
            ca_cert: self.api_cert.clone(),
        })
        .await
    }

    /// [`Self::call`], which must succeed with 200.
    pub(crate) async fn ok(&self, action: &str, params: &[(&str, &str)]) {
        let r = self.call(action, params).await.expect("call answered");
        assert_eq!(r.status, 200, "{action}: {}", r.body);
    }

    /// Adds `domain` and binds a fresh certificate to it with HTTPS on.
    pub(crate) async fn bind_domain(&self, domain: &str) {
        self.ok(
            "AddLiveDomain",
            &[
                ("DomainName", domain),
                ("LiveDomainType", "liveVideo"),
                ("Region", "cn-shanghai"),
            ],
        )
        .await;
        let now = crate::postgres::now();
        let g = self_signed(&[domain], now - DAY, now + 90 * DAY, Alg::P256);
        self.ok(
            "SetLiveDomainCertificate",
            &[
                ("DomainName", domain),
                ("SSLProtocol", "on"),
                ("CertName", domain),
                ("SSLPub", &g.chain_pem),
                ("SSLPri", &g.key_pem),
            ],
        )
        .await;
        // The edge applies a commit just after the API answered it: wait until it serves the
        // domain (milliseconds), so that no test races it.
        for _ in 0..500 {
            if crate::edge::handshake(self.edge, domain)
                .await
                .served_leaf()
                .is_some()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the edge did not serve {domain} within 5 s of its binding");
    }

    /// `GET /metrics` on the metrics port.
    pub(crate) async fn scrape(&self) -> Reply {
        let request = format!(
            "GET /metrics HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.metrics
        );
        raw_exchange(self.metrics, request.as_bytes()).await
    }
}

/// Completes when the server has closed `stream` (EOF or an error on read); a byte received
/// from it fails the test (a silent client is never answered).
async fn closed_by_server<S: tokio::io::AsyncRead + Unpin>(mut stream: S) {
    let mut byte = [0u8; 1];
    if let Ok(n) = stream.read(&mut byte).await {
        assert_eq!(n, 0, "the server sent bytes to a client that sent none");
    }
}

/// A GET of `/` for `host` on a connection that closes after the response.
fn get(host: &str) -> Vec<u8> {
    format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").into_bytes()
}

/// The scenario of issue 10, item 2, against one process: silent connections beyond the file
/// limit on every port (raw TCP, and TLS connections that complete their handshake and then
/// send nothing), all closed by the server; then every listener answers.
async fn silent_connections_are_closed_and_every_listener_serves_again(tls_api: bool) {
    const LIMIT: u32 = 128;
    let origin = RecordingOrigin::start().await;
    let serve = ServeProcess::start(ServeSetup {
        nofile: Some(LIMIT),
        tls_api,
        default_origin: Some(origin.addr),
    })
    .await;
    serve.bind_domain("live.example.com").await;
    // A few calls at once, so that the store's read pool is warm before descriptors run out.
    for _ in 0..4 {
        serve.ok("DescribeLiveCertificateList", &[]).await;
    }
    let reply = tls_exchange(serve.edge, "live.example.com", &get("live.example.com")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);

    let in_use = serve.open_files();
    let free = (LIMIT as usize).saturating_sub(in_use);
    assert!(
        free >= 16,
        "{in_use} descriptors in use leave too few under {LIMIT}"
    );

    // TLS clients that complete their handshake and then send nothing: half the free
    // descriptors, on the edge's port and (when it serves TLS) the API's.
    let mut waits = tokio::task::JoinSet::new();
    let mut tls_ports = vec![(serve.edge, "live.example.com")];
    if tls_api {
        tls_ports.push((serve.api, "localhost"));
    }
    for (addr, sni) in &tls_ports {
        for _ in 0..free / 2 / tls_ports.len() {
            let stream = handshake(*addr, sni).await.into_stream();
            waits.spawn(closed_by_server(stream));
        }
    }
    // Then three times the free descriptors as raw TCP connections that never send a byte,
    // spread over every port: far more than the process can hold open at once.
    let ports = [serve.api, serve.edge, serve.plain, serve.metrics];
    for i in 0..3 * free {
        let stream = TcpStream::connect(ports[i % ports.len()])
            .await
            .expect("connect (the kernel completes it even when the process cannot accept)");
        waits.spawn(closed_by_server(stream));
    }
    let silent = waits.len();
    let all_closed = tokio::time::timeout(LIVENESS, async {
        while let Some(done) = waits.join_next().await {
            done.expect("reader");
        }
    })
    .await;
    assert!(
        all_closed.is_ok(),
        "{} of {silent} silent connections are still open after {LIVENESS:?}",
        waits.len()
    );
    let log = serve.log();
    assert!(
        log.contains("Too many open files"),
        "the process never ran out of descriptors, so the test proves nothing:\n{log}"
    );

    // Every listener answers again.
    let described = tokio::time::timeout(LIVENESS, serve.call("DescribeLiveCertificateList", &[]))
        .await
        .expect("the API answers")
        .expect("the call is answered");
    assert_eq!(described.status, 200, "{}", described.body);
    let through_edge = tokio::time::timeout(
        LIVENESS,
        tls_exchange(serve.edge, "live.example.com", &get("live.example.com")),
    )
    .await
    .expect("the edge answers");
    assert_eq!(through_edge.status, 200, "{}", through_edge.body);
    let plain = tokio::time::timeout(
        LIVENESS,
        raw_exchange(serve.plain, &get("live.example.com")),
    )
    .await
    .expect("the plain-HTTP port answers");
    assert_eq!(plain.status, 200, "{}", plain.body);
    let scraped = tokio::time::timeout(LIVENESS, serve.scrape())
        .await
        .expect("the metrics port answers");
    assert_eq!(scraped.status, 200, "{}", scraped.body);
    assert!(
        origin.hosts().iter().all(|h| h == "live.example.com"),
        "{:?}",
        origin.hosts()
    );
}

/// Issue 10, item 2: the API on plain HTTP.
#[tokio::test(flavor = "multi_thread")]
async fn silent_connections_beyond_the_file_limit_are_closed_and_the_api_and_edge_serve_again() {
    silent_connections_are_closed_and_every_listener_serves_again(false).await;
}

/// Issue 10, item 2: the API over TLS (`serve --tls-cert --tls-key`): a silent TCP client is
/// closed before its handshake, a client that completed its handshake and sends nothing after it.
#[tokio::test(flavor = "multi_thread")]
async fn silent_connections_beyond_the_file_limit_are_closed_on_the_api_over_tls_too() {
    silent_connections_are_closed_and_every_listener_serves_again(true).await;
}

/// The value of the integer sample `name` (labels as written) in a scrape.
fn sample(text: &str, name: &str) -> i64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no sample {name} in\n{text}"))
}

/// Writes `bytes` to a new plain-TCP connection, closes the writing half (the body ends there,
/// early), and reads what comes back.
async fn send_and_half_close(addr: SocketAddr, bytes: &[u8]) -> Reply {
    use tokio::io::AsyncWriteExt;
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(bytes).await.expect("write");
    stream.shutdown().await.expect("half close");
    crate::harness::raw_over(stream, b"").await
}

/// A request body that sends one frame and then fails: hyper's HTTP/2 client resets the stream.
struct FailingBody {
    sent: bool,
}

impl hyper::body::Body for FailingBody {
    type Data = bytes::Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<bytes::Bytes>, std::io::Error>>> {
        if self.sent {
            return std::task::Poll::Ready(Some(Err(std::io::Error::other("upload aborted"))));
        }
        self.sent = true;
        std::task::Poll::Ready(Some(Ok(hyper::body::Frame::data(
            bytes::Bytes::from_static(b"first part of the upload"),
        ))))
    }
}

/// Issue 10, item 5: a body the client breaks — a bad chunk size, a body that ends before its
/// Content-Length, an HTTP/2 upload the client resets — is the client's error: `400` (or, when
/// the client is gone, nothing), never `502`; `livecert_edge_upstream_failures_total` does not
/// move and the log never says the origin is unreachable (nor warns at all); the HTTP/1.1 ones
/// are counted in `livecert_edge_client_body_errors_total`. A well-formed chunked upload still
/// reaches the origin.
#[tokio::test(flavor = "multi_thread")]
async fn a_broken_request_body_is_the_clients_error_not_the_origins() {
    let origin = RecordingOrigin::start().await;
    let serve = ServeProcess::start(ServeSetup {
        default_origin: Some(origin.addr),
        ..ServeSetup::default()
    })
    .await;
    serve.bind_domain("live.example.com").await;

    let bad_chunk_size = "POST /upload HTTP/1.1\r\nHost: live.example.com\r\n\
        Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\nworld\r\n0\r\n\r\n";
    let reply = tls_exchange(serve.edge, "live.example.com", bad_chunk_size.as_bytes()).await;
    assert_eq!(reply.status, 400, "TLS, a bad chunk size: {}", reply.body);
    let reply = raw_exchange(serve.plain, bad_chunk_size.as_bytes()).await;
    assert_eq!(
        reply.status, 400,
        "plain HTTP, a bad chunk size: {}",
        reply.body
    );

    // A body that ends early: the client closes its writing half after 10 of 100 bytes.
    let short =
        "POST /upload HTTP/1.1\r\nHost: live.example.com\r\nContent-Length: 100\r\n\r\n0123456789";
    let reply = send_and_half_close(serve.plain, short.as_bytes()).await;
    assert!(
        matches!(reply.status, 400 | 0),
        "a body that ends early: {} {}",
        reply.status,
        reply.body
    );
    let short_chunked = "POST /upload HTTP/1.1\r\nHost: live.example.com\r\n\
        Transfer-Encoding: chunked\r\n\r\n64\r\n0123456789";
    let reply = send_and_half_close(serve.plain, short_chunked.as_bytes()).await;
    assert!(
        matches!(reply.status, 400 | 0),
        "a chunked body that ends early: {} {}",
        reply.status,
        reply.body
    );

    // HTTP/2: the client resets its upload after the first DATA frame.
    let stream = handshake_h2(serve.edge, "live.example.com").await;
    let (mut sender, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .expect("HTTP/2 over TLS");
    tokio::spawn(connection);
    let request = http::Request::post("https://live.example.com/upload")
        .body(FailingBody { sent: false })
        .expect("request");
    if let Ok(response) = sender.send_request(request).await {
        assert_ne!(response.status(), 502, "HTTP/2, an upload the client reset");
    }

    // A well-formed chunked upload is forwarded.
    let good = "POST /upload HTTP/1.1\r\nHost: live.example.com\r\nTransfer-Encoding: chunked\r\n\
        Connection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    let reply = raw_exchange(serve.plain, good.as_bytes()).await;
    assert_eq!(reply.status, 200, "{}", reply.body);

    // The four HTTP/1.1 requests are counted once answered. A stream the client resets is
    // cancelled on the edge too (hyper drops the request when it sees the reset): it is
    // answered, counted and logged as nothing — or, if the edge saw the broken body first, as a
    // client body error.
    let text = serve.scrape().await.body;
    assert_eq!(
        sample(&text, "livecert_edge_upstream_failures_total"),
        0,
        "{text}"
    );
    let client_errors = sample(&text, "livecert_edge_client_body_errors_total");
    assert!((4..=5).contains(&client_errors), "{text}");
    let log = serve.log();
    assert!(!log.contains("origin unreachable"), "{log}");
    assert!(
        !log.contains("WARN"),
        "a client's error is not a warning:\n{log}"
    );
}

/// A TLS stream to the edge at `addr` with SNI `sni` and ALPN `h2`.
async fn handshake_h2(addr: SocketAddr, sni: &str) -> tokio_rustls::client::TlsStream<TcpStream> {
    crate::edge::handshake_alpn(addr, sni, &[b"h2"])
        .await
        .into_stream()
}

/// The HTTP/2 connection preface and an empty SETTINGS frame (RFC 9113 §3.4, §6.5).
const H2_HELLO: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";

/// Reads what the server sends until it closes `stream`; whether it closed it within `within`.
async fn closed_within<S: tokio::io::AsyncRead + Unpin>(mut stream: S, within: Duration) -> bool {
    let mut buf = [0u8; 4096];
    let drained = async {
        while let Ok(n) = stream.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    };
    tokio::time::timeout(within, drained).await.is_ok()
}

/// Issue 10, item 2, the same class of defect: an HTTP/2 connection that sent its preface and
/// settings and then nothing holds a descriptor until it moves no byte for the idle timeout
/// (hyper has none for HTTP/2), on the API (h2c) and on the edge (h2 over TLS). Lowered here to
/// 1 s; before, both stayed open.
#[tokio::test(flavor = "multi_thread")]
async fn an_http2_connection_that_goes_quiet_is_closed_after_the_idle_timeout() {
    use tokio::io::AsyncWriteExt;
    let idle = Duration::from_secs(1);
    let server = crate::harness::TestServer::start_with_config(livecert::api::ApiConfig {
        idle_timeout: idle,
        ..livecert::api::ApiConfig::default()
    })
    .await;
    let mut api = TcpStream::connect(server.addr).await.expect("connect");
    api.write_all(H2_HELLO).await.expect("preface");
    assert!(
        closed_within(api, Duration::from_secs(15)).await,
        "the API kept a quiet HTTP/2 connection open"
    );

    let now = server.clock_now();
    server.add_domain("quiet.example.com").await;
    let g = self_signed(
        &["quiet.example.com"],
        now - 86_400,
        now + 90 * 86_400,
        Alg::P256,
    );
    crate::edge::bind(&server, "quiet.example.com", "quiet", &g).await;
    let edge = livecert::edge::Edge::load(server.store.clone())
        .await
        .expect("edge loads")
        .with_idle_timeout(idle);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let serving = tokio::spawn(async move {
        let _ = edge.serve(listener, std::future::pending::<()>()).await;
    });
    let mut tls = handshake_h2(addr, "quiet.example.com").await;
    tls.write_all(H2_HELLO).await.expect("preface");
    assert!(
        closed_within(tls, Duration::from_secs(15)).await,
        "the edge kept a quiet HTTP/2 connection open"
    );
    serving.abort();
}
