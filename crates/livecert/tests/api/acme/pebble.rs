//! A running Debian `pebble` (an ACME CA) and `pebble-challtestsrv` (its DNS: every name is
//! 127.0.0.1 unless pointed elsewhere) on free ports, with real validation, killed when dropped.
//! Shared by the ACME tests and by `benches/acme.rs` (which includes this file by path), so it
//! refers to nothing else of the test crate.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};

/// A child process killed and reaped when dropped.
pub struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Whether pebble can run here; fails the test if it is required and missing.
pub fn pebble_available() -> bool {
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
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

pub fn wait_for_port(port: u16, what: &str) {
    for _ in 0..400 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("{what} did not open 127.0.0.1:{port}");
}

/// A running pebble and its DNS, with the ports livecert's edge must listen on.
pub struct Pebble {
    dir: tempfile::TempDir,
    /// The ACME directory URL.
    pub directory: String,
    /// The root pebble's own HTTPS certificate is issued by (`--acme-ca-roots`).
    pub ca_roots: PathBuf,
    /// Where pebble validates HTTP-01 (livecert's `--edge-http-listen` port).
    pub http_port: u16,
    /// Where pebble validates TLS-ALPN-01 (livecert's `--edge-listen` port).
    pub tls_port: u16,
    management: u16,
    dns_management: u16,
    _dns: Guard,
    _ca: Guard,
}

impl Pebble {
    /// Starts pebble-challtestsrv and pebble; `None` when pebble is not installed (and not
    /// required).
    pub fn start() -> Option<Self> {
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
        let dns_process = Guard(
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
        let ca_process = Guard(
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
    pub fn issuing_root(&self) -> String {
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
    pub fn resolve(&self, host: &str, ip: &str) {
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
    pub fn assert_verifies(&self, chain_pem: &str) {
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
