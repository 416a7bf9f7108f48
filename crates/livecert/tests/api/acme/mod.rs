//! The ACME issuer (issue 13) against a real ACME CA: Debian's `pebble` with
//! `pebble-challtestsrv` as its DNS (every name is 127.0.0.1, unless a test points one elsewhere),
//! started by each test on ports of its own, with real validation (never
//! `PEBBLE_VA_ALWAYS_VALID`). Pebble validates HTTP-01 on its `httpPort` and TLS-ALPN-01 on its
//! `tlsPort`, which are the ports each test gives livecert's edge. Real `livecert serve`
//! processes (and `livecert edge`) are started with `--acme-directory` pointing at pebble.
//!
//! - [`issuance`]: HTTP-01 and TLS-ALPN-01 issuance through livecert's own edge, the chain
//!   verified against pebble's roots with `openssl verify` and served by the edge; `applying`
//!   while the order runs; a domain pebble cannot validate ends `failed` with pebble's problem
//!   and its binding unchanged; no ACME key in the clear in the store.
//! - [`renewal`]: a renewal forced by a short window rotates the served leaf while a connection
//!   opened before it keeps working.
//! - [`nodes`]: two `serve` nodes on one PostgreSQL issue once (one order), and a node killed
//!   (SIGKILL) mid-order is taken over when its lease runs out.
//!
//! Without pebble the tests fail when `LIVECERT_REQUIRE_SDKS=1` or `CI` is set (as
//! `./scripts/test` does, after installing it), and otherwise skip with a notice.

mod issuance;
mod nodes;
mod renewal;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use serde_json::Value;

use crate::postgres::{Api, Process};

/// Whether pebble can run here; fails the test if it is required and missing.
fn pebble_available() -> bool {
    let found = ["pebble", "pebble-challtestsrv"].iter().all(|tool| {
        Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    let on =
        |name: &str| std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0" && v != "false");
    if !found {
        assert!(
            !(on("LIVECERT_REQUIRE_SDKS") || on("CI")),
            "pebble and pebble-challtestsrv are required (apt-get install pebble; ./scripts/test installs it)"
        );
        eprintln!(
            "NOTICE: pebble is not installed: the ACME tests are skipped (apt-get install pebble)"
        );
    }
    found
}

/// A free TCP port on 127.0.0.1.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

fn wait_for_port(port: u16, what: &str) {
    for _ in 0..400 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("{what} did not open 127.0.0.1:{port}");
}

/// A running pebble and its DNS, with the ports livecert's edge must listen on.
pub(crate) struct Pebble {
    dir: tempfile::TempDir,
    /// The ACME directory URL.
    pub(crate) directory: String,
    /// The root pebble's own HTTPS certificate is issued by (`--acme-ca-roots`).
    pub(crate) ca_roots: PathBuf,
    /// Where pebble validates HTTP-01 (livecert's `--edge-http-listen` port).
    pub(crate) http_port: u16,
    /// Where pebble validates TLS-ALPN-01 (livecert's `--edge-listen` port).
    pub(crate) tls_port: u16,
    management: u16,
    dns_management: u16,
    _dns: Process,
    _ca: Process,
}

impl Pebble {
    /// Starts pebble-challtestsrv and pebble; `None` when pebble is not installed (and not
    /// required).
    pub(crate) fn start() -> Option<Self> {
        if !pebble_available() {
            return None;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let (listen, management, http_port, tls_port, dns, dns_management) = (
            free_port(),
            free_port(),
            free_port(),
            free_port(),
            free_port(),
            free_port(),
        );
        let ca_roots = write_tls_files(dir.path());
        let config = serde_json::json!({"pebble": {
            "listenAddress": format!("127.0.0.1:{listen}"),
            "managementListenAddress": format!("127.0.0.1:{management}"),
            "certificate": dir.path().join("pebble.pem"),
            "privateKey": dir.path().join("pebble-key.pem"),
            "httpPort": http_port,
            "tlsPort": tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false,
        }});
        let config_path = dir.path().join("pebble.json");
        std::fs::write(&config_path, config.to_string()).expect("pebble config");
        let dns_process = Process::new(
            Command::new("pebble-challtestsrv")
                .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""])
                .args(["-dns01", &format!("127.0.0.1:{dns}")])
                .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
                .args(["-management", &format!("127.0.0.1:{dns_management}")])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("pebble-challtestsrv starts"),
        );
        wait_for_port(dns_management, "pebble-challtestsrv");
        let log = std::fs::File::create(dir.path().join("pebble.log")).expect("log");
        let ca_process = Process::new(
            Command::new("pebble")
                .arg("-config")
                .arg(&config_path)
                .args(["-dnsserver", &format!("127.0.0.1:{dns}")])
                .env("PEBBLE_VA_NOSLEEP", "1")
                .env("PEBBLE_WFE_NONCEREJECT", "0")
                .stdout(log.try_clone().expect("log"))
                .stderr(log)
                .spawn()
                .expect("pebble starts"),
        );
        wait_for_port(listen, "pebble");
        wait_for_port(management, "pebble's management interface");
        Some(Self {
            directory: format!("https://127.0.0.1:{listen}/dir"),
            ca_roots,
            http_port,
            tls_port,
            management,
            dns_management,
            _dns: dns_process,
            _ca: ca_process,
            dir,
        })
    }

    /// The root pebble issues under (PEM), from its management interface.
    pub(crate) fn issuing_root(&self) -> String {
        self.management_get("/roots/0")
    }

    fn management_get(&self, path: &str) -> String {
        let out = Command::new("curl")
            .args(["-fsS", "--cacert"])
            .arg(&self.ca_roots)
            .arg(format!("https://127.0.0.1:{}{path}", self.management))
            .output()
            .expect("curl runs");
        assert!(
            out.status.success(),
            "pebble management {path}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("UTF-8")
    }

    /// Points `host` at `ip` in pebble's DNS (a name pebble then cannot validate through
    /// livecert's edge when nothing listens there).
    pub(crate) fn resolve(&self, host: &str, ip: &str) {
        let out = Command::new("curl")
            .args(["-fsS", "-X", "POST", "-d"])
            .arg(serde_json::json!({"host": host, "addresses": [ip]}).to_string())
            .arg(format!("http://127.0.0.1:{}/add-a", self.dns_management))
            .output()
            .expect("curl runs");
        assert!(out.status.success(), "pebble-challtestsrv add-a failed");
    }

    /// Asserts that `chain_pem` (leaf first) verifies against pebble's issuing root with
    /// `openssl verify` for TLS servers (`-purpose sslserver`).
    pub(crate) fn assert_verifies(&self, chain_pem: &str) {
        let dir = self.dir.path();
        std::fs::write(dir.join("issuing-root.pem"), self.issuing_root()).expect("root");
        let blocks: Vec<&str> = chain_pem
            .split_inclusive("-----END CERTIFICATE-----\n")
            .filter(|b| b.contains("BEGIN CERTIFICATE"))
            .collect();
        assert!(
            blocks.len() >= 2,
            "a leaf and its intermediate: {chain_pem}"
        );
        std::fs::write(dir.join("leaf.pem"), blocks[0]).expect("leaf");
        std::fs::write(dir.join("untrusted.pem"), blocks[1..].concat()).expect("untrusted");
        let out = Command::new("openssl")
            .args(["verify", "-purpose", "sslserver", "-CAfile"])
            .arg(dir.join("issuing-root.pem"))
            .arg("-untrusted")
            .arg(dir.join("untrusted.pem"))
            .arg(dir.join("leaf.pem"))
            .output()
            .expect("openssl runs");
        assert!(
            out.status.success(),
            "openssl verify: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// pebble's HTTPS certificate (for 127.0.0.1) issued by a root of the test's own; returns the
/// root's path, which livecert trusts with `--acme-ca-roots`.
fn write_tls_files(dir: &Path) -> PathBuf {
    let root_key = KeyPair::generate().expect("root key");
    let mut root = CertificateParams::default();
    root.distinguished_name
        .push(DnType::CommonName, "pebble test root");
    root.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let root_cert = root.self_signed(&root_key).expect("root");
    let issuer = Issuer::new(root, root_key);
    let key = KeyPair::generate().expect("key");
    let mut leaf =
        CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).expect("leaf");
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_cert = leaf.signed_by(&key, &issuer).expect("signed");
    std::fs::write(dir.join("pebble.pem"), leaf_cert.pem()).expect("pebble.pem");
    std::fs::write(dir.join("pebble-key.pem"), key.serialize_pem()).expect("key");
    let roots = dir.join("ca-roots.pem");
    std::fs::write(&roots, root_cert.pem()).expect("roots");
    roots
}

/// A `livecert serve` process with `--acme-directory` pointing at a pebble.
pub(crate) struct Node {
    /// The process (killed when dropped).
    pub(crate) process: Process,
    /// A signed client of its API (root credentials).
    pub(crate) api: Api,
    /// Its edge's TLS address, if it runs one.
    pub(crate) edge: Option<SocketAddr>,
    log: PathBuf,
}

/// How a node's edge listens.
#[derive(Debug, Clone, Copy)]
pub(crate) enum EdgePorts {
    /// The TLS port and the plain-HTTP port pebble validates on.
    Pebble,
    /// `--no-edge`: another process answers the challenges.
    None,
}

impl Node {
    /// Starts `livecert serve` on data directory `dir` (and `store`, or SQLite there), its edge on
    /// `edge`, with `extra` flags, and waits for its API.
    pub(crate) fn start(
        dir: &Path,
        pebble: &Pebble,
        store: Option<&str>,
        edge: EdgePorts,
        extra: &[&str],
    ) -> Self {
        let port = free_port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
        let mut command = Command::new(env!("CARGO_BIN_EXE_livecert"));
        command
            .args(["serve", "--listen", &addr.to_string()])
            .arg("--data-dir")
            .arg(dir)
            .args(["--acme-directory", &pebble.directory])
            .arg("--acme-ca-roots")
            .arg(&pebble.ca_roots)
            .args(extra);
        if let Some(store) = store {
            command.args(["--store", store]);
        }
        let edge_addr = match edge {
            EdgePorts::Pebble => {
                let tls: SocketAddr = format!("127.0.0.1:{}", pebble.tls_port)
                    .parse()
                    .expect("addr");
                command.args(["--edge-listen", &tls.to_string()]).args([
                    "--edge-http-listen",
                    &format!("127.0.0.1:{}", pebble.http_port),
                ]);
                Some(tls)
            }
            EdgePorts::None => {
                command.arg("--no-edge");
                None
            }
        };
        let log = dir.join(format!("serve-{port}.log"));
        let file = std::fs::File::create(&log).expect("log file");
        let child = command
            .env_remove("LIVECERT_DATA_DIR")
            .env_remove("LIVECERT_MASTER_KEY")
            .env("LIVECERT_LOG", "info")
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("livecert serve starts");
        let process = Process::new(child);
        wait_for_port(port, "livecert serve");
        let creds = livecert::datadir::read_credentials(&dir.join("credentials"))
            .expect("credentials written on first start");
        Self {
            process,
            api: Api { addr, creds },
            edge: edge_addr,
            log,
        }
    }

    /// What the node logged so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// AddLiveDomain `domain`.
    pub(crate) async fn add_domain(&self, domain: &str) {
        self.api
            .call(
                "AddLiveDomain",
                &[
                    ("DomainName", domain),
                    ("LiveDomainType", "liveVideo"),
                    ("Region", "cn-shanghai"),
                ],
            )
            .await
            .ok();
    }

    /// SetLiveDomainCertificate `CertType=free` for `domain` under `cert_name`; asserts the call
    /// is answered at once with success.
    pub(crate) async fn request_free(&self, domain: &str, cert_name: &str) {
        self.api
            .call(
                "SetLiveDomainCertificate",
                &[
                    ("DomainName", domain),
                    ("SSLProtocol", "on"),
                    ("CertType", "free"),
                    ("CertName", cert_name),
                ],
            )
            .await
            .ok();
    }

    /// DescribeLiveCertificateDetail of `cert_name`.
    pub(crate) async fn detail(&self, cert_name: &str) -> Value {
        self.api
            .call("DescribeLiveCertificateDetail", &[("CertName", cert_name)])
            .await
            .ok()
            .clone()
    }

    /// Waits (up to 60 s) until record `cert_name` leaves `applying`; returns its detail.
    pub(crate) async fn settled(&self, cert_name: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let detail = self.detail(cert_name).await;
            if detail["Status"] != "applying" {
                return detail;
            }
            assert!(
                Instant::now() < deadline,
                "{cert_name} still applying after 60 s: {detail}\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The domain's DescribeLiveDomainCertificateInfo entry.
    pub(crate) async fn cert_info(&self, domain: &str) -> Value {
        self.api
            .call(
                "DescribeLiveDomainCertificateInfo",
                &[("DomainName", domain)],
            )
            .await
            .ok()["CertInfos"]["CertInfo"][0]
            .clone()
    }

    /// The API's metrics text (`GET /metrics`).
    pub(crate) async fn metrics(&self) -> String {
        let reply = crate::harness::raw_exchange(
            self.api.addr,
            b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await;
        reply.body
    }
}
