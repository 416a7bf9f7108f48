//! The binary on PostgreSQL: a real `livecert serve --store postgres://…` process on a fresh
//! database answers SetLiveDomainCertificate and DescribeLiveDomainCertificateInfo, and a real
//! `livecert edge --store postgres://…` process serves the bound certificate and follows a
//! rotation within one second. The database is `livecert_test_<random>` on
//! `LIVECERT_TEST_POSTGRES` (default `postgres://postgres@127.0.0.1:5432/postgres`), dropped at the
//! end; a server that cannot be reached fails the test with how to start it.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::certs::{self_signed, Alg, Generated};
use crate::edge::handshake;
use crate::harness::{send, signed_request, Reply, Scheme};

const DAY: i64 = 86_400;
const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_and_edge_processes_share_a_postgres_store() {
    let database = Database::create().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (serve, addr) = start_serve(dir.path(), &database.url);
    let creds = livecert::datadir::read_credentials(&dir.path().join("credentials"))
        .expect("credentials written on first start");
    let api = Api { addr, creds };
    let now = now();

    api.call(
        "AddLiveDomain",
        &[
            ("DomainName", "live.example.com"),
            ("LiveDomainType", "liveVideo"),
            ("Region", "cn-shanghai"),
        ],
    )
    .await
    .ok();
    let first = self_signed(&["live.example.com"], now - DAY, now + 90 * DAY, Alg::P256);
    api.bind("live.example.com", "first", &first).await;
    let info = api
        .call(
            "DescribeLiveDomainCertificateInfo",
            &[("DomainName", "live.example.com")],
        )
        .await;
    let cert_info = &info.ok()["CertInfos"]["CertInfo"][0];
    assert_eq!(cert_info["DomainName"], "live.example.com");
    assert_eq!(cert_info["CertName"], "first");
    assert_eq!(cert_info["SSLProtocol"], "on");
    assert_eq!(cert_info["CertDomainName"], "live.example.com");
    assert!(
        cert_info["SSLPub"]
            .as_str()
            .is_some_and(|pem| pem.starts_with("-----BEGIN CERTIFICATE-----")),
        "{cert_info}"
    );

    let (edge, edge_addr) = start_edge(dir.path(), &database.url).await;
    assert_eq!(
        handshake(edge_addr, "live.example.com")
            .await
            .leaf_fingerprint(),
        api.fingerprint("first").await
    );

    let second = self_signed(&["live.example.com"], now - DAY, now + 90 * DAY, Alg::P256);
    api.bind("live.example.com", "second", &second).await;
    let expected = api.fingerprint("second").await;
    let deadline = Instant::now() + Duration::from_secs(1);
    let followed = loop {
        if handshake(edge_addr, "live.example.com")
            .await
            .leaf_fingerprint()
            == expected
        {
            break true;
        }
        if Instant::now() >= deadline {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        followed,
        "the edge process does not serve the new certificate 1 s after the call"
    );
    drop(edge);
    drop(serve);
}

/// A signed client of one `serve` process.
pub(crate) struct Api {
    pub(crate) addr: SocketAddr,
    pub(crate) creds: (String, String),
}

impl Api {
    pub(crate) async fn call(&self, action: &str, params: &[(&str, &str)]) -> Reply {
        let pairs = params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
            .collect();
        send(signed_request(
            self.addr,
            Scheme::V3,
            action,
            pairs,
            &self.creds.0,
            &self.creds.1,
            now(),
        ))
        .await
    }

    /// SetLiveDomainCertificate: `g` uploaded under `name` and bound to `domain`, HTTPS on.
    pub(crate) async fn bind(&self, domain: &str, name: &str, g: &Generated) {
        self.call(
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
    pub(crate) async fn fingerprint(&self, name: &str) -> String {
        let r = self.call("DescribeLiveCertificateList", &[]).await;
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
}

/// A child process killed (SIGKILL) and reaped when dropped.
pub(crate) struct Process(Child);

impl Process {
    /// A child process to be killed when dropped.
    pub(crate) fn new(child: Child) -> Self {
        Self(child)
    }

    /// Its process id.
    pub(crate) fn id(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `livecert serve --store <url>` without its edge, on a free port; returns once the API accepts
/// connections.
pub(crate) fn start_serve(dir: &Path, url: &str) -> (Process, SocketAddr) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let child = Command::new(env!("CARGO_BIN_EXE_livecert"))
        .args([
            "serve",
            "--no-edge",
            "--listen",
            &addr.to_string(),
            "--store",
            url,
        ])
        .arg("--data-dir")
        .arg(dir)
        .env_remove("LIVECERT_DATA_DIR")
        .env_remove("LIVECERT_MASTER_KEY")
        .env("LIVECERT_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("livecert serve starts");
    let process = Process(child);
    for _ in 0..400 {
        if std::net::TcpStream::connect(addr).is_ok() {
            return (process, addr);
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("livecert serve --store postgres://… did not open {addr}");
}

/// `livecert edge --store <url>` (PostgreSQL, or `sqlite://<path>`) with the data directory `dir`
/// (its master key), killed on drop; returns once it printed the address it listens on.
pub(crate) async fn start_edge(dir: &Path, url: &str) -> (Process, SocketAddr) {
    start_edge_with(dir, url, "127.0.0.1:0", &[]).await
}

/// As [`start_edge`], its TLS port on `listen`, with `extra` flags.
pub(crate) async fn start_edge_with(
    dir: &Path,
    url: &str,
    listen: &str,
    extra: &[&str],
) -> (Process, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_livecert"))
        .args(["edge", "--edge-listen", listen, "--store", url])
        .args(extra)
        .arg("--data-dir")
        .arg(dir)
        .env_remove("LIVECERT_DATA_DIR")
        .env_remove("LIVECERT_MASTER_KEY")
        .env("LIVECERT_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("livecert edge starts");
    let stdout = child.stdout.take().expect("stdout");
    let process = Process(child);
    let line = tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read stdout");
        line
    })
    .await
    .expect("reader");
    let addr = line
        .trim()
        .strip_prefix("livecert edge listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .parse()
        .expect("address");
    (process, addr)
}

pub(crate) fn now() -> i64 {
    use livecert::clock::Clock;
    livecert::clock::SystemClock.now()
}

/// A fresh database on the test server, dropped (with its connections) when this is dropped.
pub(crate) struct Database {
    admin_url: String,
    name: String,
    /// The database's URL.
    pub(crate) url: String,
}

impl Database {
    /// Creates `livecert_test_<random>`; a server that cannot be reached fails the test.
    pub(crate) async fn create() -> Self {
        let admin_url = std::env::var("LIVECERT_TEST_POSTGRES")
            .unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned());
        let name = format!("livecert_test_{}", uuid::Uuid::new_v4().simple());
        if let Err(e) = execute(&admin_url, &format!("CREATE DATABASE {name}")).await {
            panic!(
                "PostgreSQL at {admin_url} cannot be used for the PostgreSQL test ({e}). Start \
                 it with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main \
                 start` (./scripts/test does), or set LIVECERT_TEST_POSTGRES to a server where \
                 this user may CREATE DATABASE."
            );
        }
        let url = match admin_url.rsplit_once('/') {
            Some((server, _)) => format!("{server}/{name}"),
            None => panic!("LIVECERT_TEST_POSTGRES must end with /<database>: {admin_url}"),
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
        let (admin_url, sql) = (
            self.admin_url.clone(),
            format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
        // Dropped inside the test's runtime: block on a runtime of its own, on a thread of its own.
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
                .and_then(|runtime| runtime.block_on(execute(&admin_url, &sql)))
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!(
                "could not drop the test database {}: {dropped:?}",
                self.name
            );
        }
    }
}

/// Runs `sql` on a connection of its own.
pub(crate) async fn execute(url: &str, sql: &str) -> Result<(), String> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .map_err(|e| e.to_string())?;
    let connection = tokio::spawn(connection);
    let result = client.batch_execute(sql).await.map_err(|e| e.to_string());
    drop(client);
    let _ = connection.await;
    result
}
