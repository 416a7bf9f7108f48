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
mod pebble;
mod renewal;

pub(crate) use pebble::{free_port, wait_for_port, Pebble};

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::postgres::{Api, Process};

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
