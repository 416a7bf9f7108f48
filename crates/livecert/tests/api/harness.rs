//! A livecert API server started in-process for one test: a fresh data directory and SQLite
//! store, a pinned clock, the fixtures' AccessKey `testid`/`testsecret` imported, and clients that
//! sign with core's signer or send raw bytes.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use livecert::api::nonce::MemoryNonces;
use livecert::api::{ApiConfig, AppState};
use livecert::clock::ManualClock;
use livecert::datadir::DataDir;
use livecert_core::action::API_VERSION;
use livecert_core::params::Pair;
use livecert_core::protocol::client::{encode_pairs, sign_v1, sign_v3, V3Request};
use livecert_core::secret::Secret;
use livecert_core::timefmt::{format_utc, parse_utc};
use livecert_store::Store;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

/// The time at which every recorded fixture verifies (fixtures README).
pub fn fixture_time() -> i64 {
    parse_utc("2026-11-29T22:37:30Z").expect("fixture time parses")
}

/// The fixtures' AccessKeyId and secret.
pub const TEST_ID: &str = "testid";
pub const TEST_SECRET: &str = "testsecret";

/// Which signature scheme a test client uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    V1,
    V3,
}

/// A reply: status, headers, and the body parsed as JSON (or `Value::Null` if it is not JSON).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub json: Value,
}

impl Reply {
    /// The `Code` field of an error body ("" for success).
    pub fn code(&self) -> &str {
        self.json.get("Code").and_then(Value::as_str).unwrap_or("")
    }

    /// The `Message` field of an error body.
    pub fn message(&self) -> &str {
        self.json
            .get("Message")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// Asserts success and returns the JSON.
    pub fn ok(&self) -> &Value {
        assert_eq!(
            self.status, 200,
            "expected success, got {} {}",
            self.status, self.body
        );
        &self.json
    }
}

/// A running server.
pub struct TestServer {
    pub addr: SocketAddr,
    /// The pinned clock (a live server's is pinned too but unused: it runs on the system clock).
    pub clock: Arc<ManualClock>,
    live: bool,
    pub store: Store,
    pub dir: tempfile::TempDir,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    /// Starts a server whose clock is pinned at `now`, with `testid`/`testsecret` imported into a
    /// new account.
    pub async fn start_at(now: i64) -> Self {
        Self::start_with(now, false, None, None, ApiConfig::default()).await
    }

    /// Starts a server pinned at `now` with the rate limits of spec/access.md on (the other
    /// servers run without limits so that a test's own calls are never throttled).
    pub async fn start_limited_at(now: i64) -> Self {
        Self::start_with(
            now,
            false,
            Some(Arc::new(livecert::api::ratelimit::MemoryRateLimiter::new())),
            None,
            ApiConfig::default(),
        )
        .await
    }

    /// Starts a server pinned at `now` with the given rate limiter.
    pub async fn start_at_with_limiter(
        now: i64,
        limiter: Arc<dyn livecert::api::ratelimit::RateLimiter>,
    ) -> Self {
        Self::start_with(now, false, Some(limiter), None, ApiConfig::default()).await
    }

    /// Starts a server pinned at `now` with the given nonce store and rate limiter.
    pub async fn start_at_with_guards(
        now: i64,
        nonces: Arc<dyn livecert::api::nonce::Nonces>,
        limiter: Arc<dyn livecert::api::ratelimit::RateLimiter>,
    ) -> Self {
        Self::start_with(
            now,
            false,
            Some(limiter),
            Some(nonces),
            ApiConfig::default(),
        )
        .await
    }

    /// Starts a server pinned at the fixtures' time with the given API settings.
    pub async fn start_with_config(config: ApiConfig) -> Self {
        Self::start_with(fixture_time(), false, None, None, config).await
    }

    /// Starts a server on the system clock (for clients that sign with the real time, such as
    /// the official SDKs), with `testid`/`testsecret` imported into a new account.
    pub async fn start_live() -> Self {
        use livecert::clock::Clock;
        let limiter = Arc::new(livecert::api::ratelimit::MemoryRateLimiter::new());
        Self::start_with(
            livecert::clock::SystemClock.now(),
            true,
            Some(limiter),
            None,
            ApiConfig::default(),
        )
        .await
    }

    async fn start_with(
        now: i64,
        live: bool,
        limiter: Option<Arc<dyn livecert::api::ratelimit::RateLimiter>>,
        nonces: Option<Arc<dyn livecert::api::nonce::Nonces>>,
        config: ApiConfig,
    ) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = DataDir::open(dir.path()).expect("data dir");
        let store = livecert::store_location::open_store(&data, None)
            .await
            .expect("store opens");
        let account = store.create_account(now).await.expect("account");
        store
            .import_access_key(
                account,
                TEST_ID,
                &Secret::new(TEST_SECRET.as_bytes().to_vec()),
                now,
            )
            .await
            .expect("import key");
        let clock = Arc::new(ManualClock::new(now));
        let state = Arc::new(AppState {
            store: store.clone(),
            clock: if live {
                Arc::new(livecert::clock::SystemClock)
            } else {
                clock.clone()
            },
            nonces: nonces.unwrap_or_else(|| Arc::new(MemoryNonces::new(100_000))),
            limiter: limiter.unwrap_or_else(|| Arc::new(livecert::api::ratelimit::Unlimited)),
            config,
            policy_cache: livecert::api::PolicyCache::default(),
            throttled: std::sync::atomic::AtomicU64::new(0),
            issuer: livecert::server::open_issuer(&data, now).expect("test CA"),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(livecert::api::serve(listener, state, async move {
            let _ = rx.await;
        }));
        Self {
            addr,
            clock,
            live,
            store,
            dir,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// Starts a server pinned at the fixtures' time.
    pub async fn start() -> Self {
        Self::start_at(fixture_time()).await
    }

    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// A signed call with `testid`, parameters in a POST form body.
    pub async fn call(&self, scheme: Scheme, action: &str, params: &[(&str, &str)]) -> Reply {
        let pairs: Vec<Pair> = params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
            .collect();
        self.call_with(
            scheme,
            action,
            pairs,
            TEST_ID,
            TEST_SECRET,
            self.clock_now(),
        )
        .await
    }

    /// The server clock's now.
    pub fn clock_now(&self) -> i64 {
        use livecert::clock::Clock;
        if self.live {
            livecert::clock::SystemClock.now()
        } else {
            self.clock.now()
        }
    }

    /// A signed call with any key, parameters as bytes, signed at `signed_at`.
    pub async fn call_with(
        &self,
        scheme: Scheme,
        action: &str,
        params: Vec<Pair>,
        key_id: &str,
        secret: &str,
        signed_at: i64,
    ) -> Reply {
        let request = signed_request(self.addr, scheme, action, params, key_id, secret, signed_at);
        send(request).await
    }

    /// Sends raw bytes over TCP and reads one response.
    pub async fn raw(&self, bytes: &[u8]) -> Reply {
        raw_exchange(self.addr, bytes).await
    }

    /// Adds a domain with default settings through the API.
    pub async fn add_domain(&self, name: &str) {
        let r = self
            .call(
                Scheme::V3,
                "AddLiveDomain",
                &[
                    ("DomainName", name),
                    ("LiveDomainType", "liveVideo"),
                    ("Region", "cn-shanghai"),
                ],
            )
            .await;
        r.ok();
    }
}

/// Builds a signed POST with a form body.
pub fn signed_request(
    addr: SocketAddr,
    scheme: Scheme,
    action: &str,
    params: Vec<Pair>,
    key_id: &str,
    secret: &str,
    signed_at: i64,
) -> http::Request<Full<Bytes>> {
    signed_request_with_token(
        addr, scheme, action, params, key_id, secret, signed_at, None,
    )
}

/// Builds a signed POST with a form body, with temporary credentials' SecurityToken when given.
#[allow(clippy::too_many_arguments)]
pub fn signed_request_with_token(
    addr: SocketAddr,
    scheme: Scheme,
    action: &str,
    params: Vec<Pair>,
    key_id: &str,
    secret: &str,
    signed_at: i64,
    security_token: Option<&str>,
) -> http::Request<Full<Bytes>> {
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let date = format_utc(signed_at);
    // Each product's own version (live, cas, sts); an unknown action is sent as Live's.
    let version = livecert_core::action::Action::from_wire_name(action)
        .map_or(API_VERSION, |a| a.product().version());
    let secret = Secret::new(secret.as_bytes().to_vec());
    let host = addr.to_string();
    let mut builder = http::Request::post(format!("http://{host}/"))
        .header("content-type", "application/x-www-form-urlencoded");
    let body = match scheme {
        Scheme::V1 => {
            let mut all = params;
            all.push(("Action".into(), action.as_bytes().to_vec()));
            all.push(("Version".into(), version.as_bytes().to_vec()));
            if let Some(token) = security_token {
                all.push(("SecurityToken".into(), token.as_bytes().to_vec()));
            }
            if !all.iter().any(|(n, _)| n == "Format") {
                all.push(("Format".into(), b"JSON".to_vec()));
            }
            let signed = sign_v1("POST", &all, key_id, &secret, &nonce, &date);
            encode_pairs(&signed)
        }
        Scheme::V3 => {
            let body = encode_pairs(&params);
            let headers = sign_v3(
                &V3Request {
                    method: "POST",
                    host: &host,
                    action,
                    version,
                    query: &[],
                    body: body.as_bytes(),
                    access_key_id: key_id,
                    nonce: &nonce,
                    date: &date,
                    security_token,
                },
                &secret,
            );
            for (k, v) in headers {
                builder = builder.header(k, v);
            }
            body
        }
    };
    builder
        .body(Full::new(Bytes::from(body)))
        .expect("request builds")
}

/// Sends a request with hyper's client and reads the reply.
/// Builds a V1-signed POST whose form body is `params` (with `Action` among them) plus `Version`
/// set to `version`, whatever the action's product: for the refusals of a wrong version.
pub fn signed_request_v1_with_version(
    addr: SocketAddr,
    params: Vec<Pair>,
    key_id: &str,
    secret: &str,
    signed_at: i64,
    version: &str,
) -> http::Request<Full<Bytes>> {
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let date = format_utc(signed_at);
    let secret = Secret::new(secret.as_bytes().to_vec());
    let mut all = params;
    all.push(("Version".into(), version.as_bytes().to_vec()));
    let signed = sign_v1("POST", &all, key_id, &secret, &nonce, &date);
    http::Request::post(format!("http://{addr}/"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(encode_pairs(&signed))))
        .expect("request builds")
}

pub async fn send(request: http::Request<Full<Bytes>>) -> Reply {
    try_send(request).await.expect("request sent")
}

/// [`send`], with a failure to send or to read the reply returned (a server killed mid-call).
pub async fn try_send(request: http::Request<Full<Bytes>>) -> Result<Reply, String> {
    let client = Client::builder(TokioExecutor::new()).build_http();
    let response = client.request(request).await.map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let content_type = response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    let body = String::from_utf8_lossy(&bytes).into_owned();
    let json = serde_json::from_str(&body).unwrap_or(Value::Null);
    Ok(Reply {
        status,
        content_type,
        headers,
        body,
        json,
    })
}

/// Writes `bytes` to a fresh TCP connection and reads one HTTP/1.1 response (Content-Length
/// framed, or to EOF).
pub async fn raw_exchange(addr: SocketAddr, bytes: &[u8]) -> Reply {
    let stream = TcpStream::connect(addr).await.expect("connect");
    raw_over(stream, bytes).await
}

/// Writes `bytes` to `stream` (plain TCP or TLS) and reads one HTTP/1.1 response
/// (Content-Length framed, or to EOF); a connection closed without a response is status 0.
pub async fn raw_over<S>(mut stream: S, bytes: &[u8]) -> Reply
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    stream.write_all(bytes).await.expect("write");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let (head_end, content_length) = loop {
        // A reset or a TLS stream cut without close_notify ends the response like EOF.
        let n = stream.read(&mut chunk).await.unwrap_or(0);
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..i]).to_ascii_lowercase();
            let len = head.lines().find_map(|l| {
                l.strip_prefix("content-length:")
                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
            });
            break (i + 4, len);
        }
        if n == 0 {
            break (buf.len(), Some(0));
        }
    };
    if let Some(len) = content_length {
        while buf.len() < head_end + len {
            let n = stream.read(&mut chunk).await.unwrap_or(0);
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    } else {
        let _ = stream.read_to_end(&mut buf).await;
    }
    let head = String::from_utf8_lossy(&buf[..head_end.min(buf.len())]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = head
        .lines()
        .skip(1)
        .filter_map(|l| {
            l.split_once(':')
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        })
        .collect();
    let content_type = headers
        .iter()
        .find(|(k, _)| k == "content-type")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let body = String::from_utf8_lossy(&buf[head_end.min(buf.len())..]).into_owned();
    let json = serde_json::from_str(&body).unwrap_or(Value::Null);
    Reply {
        status,
        content_type,
        headers,
        body,
        json,
    }
}
