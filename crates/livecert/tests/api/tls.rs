//! The API over TLS (`serve --tls-cert --tls-key`): a signed call succeeds over TLS, and a RAM
//! condition on `acs:SecureTransport` (spec/access.md) allows a call that arrived over TLS and
//! denies the same call over plain HTTP.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use livecert::api::nonce::MemoryNonces;
use livecert::api::{ApiConfig, AppState};
use livecert::clock::{Clock, SystemClock};
use livecert::datadir::DataDir;
use livecert_core::params::Pair;
use livecert_core::secret::Secret;
use livecert_store::Store;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsConnector;

use crate::certs::{self_signed, Alg, Generated};
use crate::harness::{send, signed_request, Reply, Scheme, TEST_ID, TEST_SECRET};

const DAY: i64 = 86_400;

/// One API state served twice: over plain HTTP on `plain` and over TLS on `tls`, with the
/// certificate `cert` (for `localhost`).
struct Servers {
    plain: SocketAddr,
    tls: SocketAddr,
    cert: Generated,
    store: Store,
    account: u64,
    dir: tempfile::TempDir,
    stop: watch::Sender<bool>,
}

impl Servers {
    async fn start() -> Self {
        let now = SystemClock.now();
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
        let state = Arc::new(AppState {
            store: store.clone(),
            clock: Arc::new(SystemClock),
            nonces: Arc::new(MemoryNonces::new(100_000)),
            limiter: Arc::new(livecert::api::ratelimit::Unlimited),
            config: ApiConfig::default(),
            policy_cache: livecert::api::PolicyCache::default(),
            throttled: std::sync::atomic::AtomicU64::new(0),
            issuer: livecert::server::open_issuer(&data, now).expect("test CA"),
        });
        let cert = self_signed(&["localhost"], now - DAY, now + 90 * DAY, Alg::P256);
        let cert_path = dir.path().join("api-chain.pem");
        let key_path = dir.path().join("api-key.pem");
        std::fs::write(&cert_path, &cert.chain_pem).expect("write chain");
        std::fs::write(&key_path, &cert.key_pem).expect("write key");
        let tls_config = livecert::api::tls_config(&cert_path, &key_path).expect("TLS config");
        let (stop, stopped) = watch::channel(false);
        let signal = |mut rx: watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        let plain_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let tls_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let plain = plain_listener.local_addr().expect("addr");
        let tls = tls_listener.local_addr().expect("addr");
        tokio::spawn(livecert::api::serve(
            plain_listener,
            Arc::clone(&state),
            signal(stopped.clone()),
        ));
        tokio::spawn(livecert::api::serve_with(
            tls_listener,
            state,
            Some(tls_config),
            signal(stopped),
        ));
        Self {
            plain,
            tls,
            cert,
            store,
            account,
            dir,
            stop,
        }
    }

    /// A RAM user with an imported key and `policy` attached.
    async fn user(&self, name: &str, policy: &str) -> (String, String) {
        let now = SystemClock.now();
        self.store
            .create_user(self.account, name, now)
            .await
            .expect("user");
        let (id, secret) = (format!("{name}id"), format!("{name}secret"));
        self.store
            .import_user_access_key(
                self.account,
                name,
                &id,
                &Secret::new(secret.as_bytes().to_vec()),
                now,
            )
            .await
            .expect("key");
        livecert_core::ram::Policy::parse(policy).expect("test policy parses");
        self.store
            .create_policy(self.account, "p", policy, now)
            .await
            .expect("policy");
        self.store
            .attach_policy(self.account, "p", name)
            .await
            .expect("attach");
        (id, secret)
    }

    /// A signed call over plain HTTP.
    async fn plain_call(&self, key: &(String, String), action: &str) -> Reply {
        send(request(self.plain, key, action, Vec::new())).await
    }

    /// The same call over TLS, the server's certificate verified against `cert`, with `alpn`.
    async fn tls_call(&self, key: &(String, String), action: &str, alpn: &[u8]) -> Reply {
        let mut roots = RootCertStore::empty();
        let der = CertificateDer::from_pem_slice(self.cert.chain_pem.as_bytes()).expect("PEM");
        roots.add(der).expect("trust anchor");
        let provider = rustls::crypto::aws_lc_rs::default_provider();
        let mut config = ClientConfig::builder_with_provider(Arc::new(provider))
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![alpn.to_vec()];
        let tcp = TcpStream::connect(self.tls).await.expect("connect");
        let name = ServerName::try_from("localhost").expect("name");
        let stream = TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .expect("TLS handshake with the API");
        let mut request = request(self.tls, key, action, Vec::new());
        let response = if alpn == b"h2" {
            *request.uri_mut() = format!("https://{}/", self.tls).parse().expect("uri");
            let (mut sender, connection) = hyper::client::conn::http2::handshake(
                hyper_util::rt::TokioExecutor::new(),
                TokioIo::new(stream),
            )
            .await
            .expect("HTTP/2 over TLS");
            tokio::spawn(connection);
            sender.send_request(request).await.expect("response")
        } else {
            *request.uri_mut() = "/".parse().expect("uri");
            request.headers_mut().insert(
                http::header::HOST,
                self.tls.to_string().parse().expect("host"),
            );
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream))
                    .await
                    .expect("HTTP/1.1 over TLS");
            tokio::spawn(connection);
            sender.send_request(request).await.expect("response")
        };
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let body = String::from_utf8_lossy(&body).into_owned();
        Reply {
            status,
            content_type: String::new(),
            headers: Vec::new(),
            json: serde_json::from_str(&body).unwrap_or(Value::Null),
            body,
        }
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

fn request(
    addr: SocketAddr,
    key: &(String, String),
    action: &str,
    params: Vec<Pair>,
) -> http::Request<Full<Bytes>> {
    signed_request(
        addr,
        Scheme::V3,
        action,
        params,
        &key.0,
        &key.1,
        SystemClock.now(),
    )
}

fn root() -> (String, String) {
    (TEST_ID.to_owned(), TEST_SECRET.to_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signed_call_succeeds_over_tls_with_http1_and_http2() {
    let s = Servers::start().await;
    for alpn in [&b"http/1.1"[..], b"h2"] {
        let r = s
            .tls_call(&root(), "DescribeLiveCertificateList", alpn)
            .await;
        assert!(r.ok().get("RequestId").is_some(), "{}", r.body);
    }
    s.plain_call(&root(), "DescribeLiveCertificateList")
        .await
        .ok();
}

/// spec/access.md: `Bool` on `acs:SecureTransport`.
#[tokio::test(flavor = "multi_thread")]
async fn a_secure_transport_condition_allows_tls_and_denies_plain_http() {
    let s = Servers::start().await;
    let policy = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"live:Describe*","Resource":"*","Condition":{"Bool":{"acs:SecureTransport":"true"}}}]}"#;
    let key = s.user("tlsonly", policy).await;
    s.tls_call(&key, "DescribeLiveCertificateList", b"http/1.1")
        .await
        .ok();
    let r = s.plain_call(&key, "DescribeLiveCertificateList").await;
    assert_eq!((r.status, r.code()), (403, "Forbidden.RAM"), "{}", r.body);
    assert_eq!(
        r.json["AccessDeniedDetail"]["NoPermissionType"],
        "ImplicitDeny"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_that_is_not_the_certificates_is_refused_at_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let now = SystemClock.now();
    let a = self_signed(&["localhost"], now - DAY, now + DAY, Alg::P256);
    let b = self_signed(&["localhost"], now - DAY, now + DAY, Alg::P256);
    let cert = dir.path().join("chain.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, &a.chain_pem).expect("write");
    std::fs::write(&key, &b.key_pem).expect("write");
    let error = livecert::api::tls_config(&cert, &key).expect_err("mismatched key refused");
    assert!(format!("{error:#}").contains("--tls-cert"), "{error:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn livecert_call_reaches_the_api_over_tls() {
    let servers = Servers::start().await;
    let endpoint = format!("https://localhost:{}", servers.tls.port());
    let ca = servers.dir.path().join("api-chain.pem");
    for signature in ["v3", "v1"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_livecert"))
            .args([
                "call",
                "DescribeLiveCertificateList",
                "--endpoint",
                &endpoint,
                "--signature",
                signature,
                "--cacert",
            ])
            .arg(&ca)
            .env("ALIBABA_CLOUD_ACCESS_KEY_ID", TEST_ID)
            .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", TEST_SECRET)
            .output()
            .expect("livecert call runs");
        assert!(
            out.status.success(),
            "{signature}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("CertificateListModel"));
    }
    // Without the CA to trust, the call says what is missing.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_livecert"))
        .args([
            "call",
            "DescribeLiveCertificateList",
            "--endpoint",
            &endpoint,
        ])
        .env("ALIBABA_CLOUD_ACCESS_KEY_ID", TEST_ID)
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", TEST_SECRET)
        .env_remove("LIVECERT_CACERT")
        .output()
        .expect("livecert call runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--cacert"));
    let _ = servers.stop.send(true);
}
