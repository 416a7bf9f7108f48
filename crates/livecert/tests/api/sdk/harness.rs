//! The harness of the real-SDK tests: finding the runtimes, starting a livecert server in this
//! process, generating the run's certificate, running a client script and asserting its JSON.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use livecert::clock::{Clock, SystemClock};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use serde_json::Value;

use crate::harness::{TestServer, TEST_ID, TEST_SECRET};
use sha2::{Digest, Sha256};
use tempfile::TempDir;
use time::{macros::format_description, OffsetDateTime};

/// The AccessKey imported into each run's store.
const ACCESS_KEY_ID: &str = TEST_ID;
const ACCESS_KEY_SECRET: &str = TEST_SECRET;
/// The issuing CA's subject: `Issuer` in the list is its CN, `CertOrg` in the info its O.
const CA_CN: &str = "livecert SDK test CA";
const CA_ORG: &str = "Livecert SDK Tests";
/// A script that runs longer than this is killed and the test fails (it hangs, it does not measure).
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(300);

/// The message a missing runtime fails with when the SDKs are required.
const HOW_TO_RUN: &str = "the real-SDK tests need the pinned SDKs: run ./scripts/test (it installs them into .venv and tests/sdk/node/node_modules and sets LIVECERT_PYTHON and LIVECERT_NODE_MODULES)";

/// A runtime that runs a client script.
pub enum Runtime {
    /// A python with the pinned Python SDKs.
    Python(PathBuf),
    /// node and the directory holding `@alicloud/pop-core`.
    Node(NodeRuntime),
}

/// node and its modules.
pub struct NodeRuntime {
    node: PathBuf,
    modules: PathBuf,
}

impl NodeRuntime {
    /// A command that runs `script` (relative to `tests/sdk`) with these modules.
    pub fn command(&self, script: &str) -> std::process::Command {
        let mut cmd = std::process::Command::new(&self.node);
        cmd.arg(sdk_dir().join(script))
            .env("NODE_PATH", &self.modules);
        if let Some(parent) = self.modules.parent() {
            cmd.current_dir(parent);
        }
        cmd
    }
}

/// The leaf's key: its algorithm and the PEM encoding the client uploads as SSLPri.
#[derive(Debug, Clone, Copy)]
pub enum KeySpec {
    /// RSA-2048, `RSA PRIVATE KEY` (PKCS#1).
    RsaPkcs1,
    /// RSA-2048, `PRIVATE KEY` (PKCS#8).
    RsaPkcs8,
    /// ECDSA P-256, `PRIVATE KEY` (PKCS#8).
    P256Pkcs8,
    /// ECDSA P-256, `EC PRIVATE KEY` (SEC1).
    P256Sec1,
}

/// What differs between the SDKs in the observed JSON.
pub struct Expect {
    /// The signature scheme the script reports.
    pub scheme: &'static str,
    /// The code the SDK raises for a call signed with a wrong secret.
    pub wrong_secret_code: &'static str,
    /// Whether the raised message is livecert's (it then carries the server's string to sign).
    pub wrong_secret_message_has_string_to_sign: bool,
}

/// The python to run the Python scripts with: `LIVECERT_PYTHON`, else `<repo>/.venv/bin/python`.
/// `None` (after a loud notice) when there is none and the SDKs are not required.
pub fn python() -> Option<PathBuf> {
    let (python, origin) = match env_nonempty("LIVECERT_PYTHON") {
        Some(p) => (PathBuf::from(p), "LIVECERT_PYTHON"),
        None => (repo_root().join(".venv/bin/python"), "the default"),
    };
    if python.is_file() {
        Some(python)
    } else {
        unavailable(&format!(
            "no Python for the SDK tests ({origin} {} does not exist)",
            python.display()
        ))
    }
}

/// node (`LIVECERT_NODE`, else `node` on PATH) and the modules (`LIVECERT_NODE_MODULES`, else
/// `<repo>/tests/sdk/node/node_modules`). `None` (after a loud notice) when either is missing and
/// the SDKs are not required.
pub fn node() -> Option<NodeRuntime> {
    let node = PathBuf::from(env_nonempty("LIVECERT_NODE").unwrap_or_else(|| "node".into()));
    let runs = Command::new(&node)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success());
    if !runs {
        return unavailable(&format!("`{} --version` does not run", node.display()));
    }
    let modules = env_nonempty("LIVECERT_NODE_MODULES").map_or_else(
        || repo_root().join("tests/sdk/node/node_modules"),
        PathBuf::from,
    );
    if !modules.join("@alicloud/pop-core/package.json").is_file() {
        return unavailable(&format!(
            "{} holds no @alicloud/pop-core",
            modules.display()
        ));
    }
    Some(NodeRuntime { node, modules })
}

/// One test's server, certificate and names.
pub struct Run {
    /// The server, running until the run is dropped.
    server: TestServer,
    domain: String,
    missing_domain: String,
    cert_name: String,
    cert: Generated,
    /// Unix seconds when the run started.
    started: i64,
    /// Holds the data directory and the PEM files until the run is dropped.
    _dir: TempDir,
}

impl Run {
    /// Starts a server on a fresh store with the AccessKey imported, and generates a CA-issued
    /// certificate for a domain unique to this run; `tag` names the run in its domain and CertName.
    pub async fn start(tag: &str, key: KeySpec) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let server = TestServer::start_live().await;
        let unique = &uuid::Uuid::new_v4().simple().to_string()[..8];
        let domain = format!("{tag}-{unique}.sdk.livecert.test");
        let cert = generate(dir.path(), &domain, key);
        Self {
            server,
            missing_domain: format!("missing-{tag}-{unique}.sdk.livecert.test"),
            // A space and a non-ASCII character: each SDK encodes them its own way (`+`, `%20`,
            // UTF-8 percent-encoding) and livecert must verify every one.
            cert_name: format!("{tag} cert \u{e9}{unique}"),
            domain,
            cert,
            started: SystemClock.now(),
            _dir: dir,
        }
    }

    /// Runs `tests/sdk/<script>` with the run's inputs and `extra` arguments; returns the JSON it
    /// printed. Fails the test when the script exits non-zero, hangs, or prints no JSON.
    pub async fn script(&self, runtime: &Runtime, script: &str, extra: &[&str]) -> Value {
        let path = repo_root().join("tests/sdk").join(script);
        let mut cmd = match runtime {
            Runtime::Python(python) => {
                let mut cmd = tokio::process::Command::new(python);
                cmd.arg(&path)
                    .env("PYTHONDONTWRITEBYTECODE", "1")
                    .env("PYTHONIOENCODING", "utf-8");
                cmd
            }
            Runtime::Node(rt) => {
                let mut cmd = tokio::process::Command::new(&rt.node);
                cmd.arg(&path).env("NODE_PATH", &rt.modules);
                if let Some(parent) = rt.modules.parent() {
                    cmd.current_dir(parent);
                }
                cmd
            }
        };
        cmd.args(extra)
            .arg("--endpoint")
            .arg(self.server.addr.to_string())
            .args(["--domain", &self.domain])
            .args(["--missing-domain", &self.missing_domain])
            .args(["--cert-name", &self.cert_name])
            .arg("--cert")
            .arg(&self.cert.chain_path)
            .arg("--key")
            .arg(&self.cert.key_path)
            .args(["--not-after", &self.cert.not_after])
            .env("ALIBABA_CLOUD_ACCESS_KEY_ID", ACCESS_KEY_ID)
            .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", ACCESS_KEY_SECRET)
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("no_proxy", "127.0.0.1,localhost")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let shown = format!("{} {}", path.display(), extra.join(" "));
        let output = tokio::time::timeout(SCRIPT_TIMEOUT, cmd.output())
            .await
            .unwrap_or_else(|_| panic!("{shown}: still running after {SCRIPT_TIMEOUT:?}; killed"))
            .unwrap_or_else(|e| panic!("{shown}: cannot start: {e}"));
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "{shown} failed ({}) against livecert at {}\n--- stderr ---\n{stderr}\n--- stdout ---\n{stdout}",
            output.status,
            self.server.addr
        );
        let line = stdout
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or_else(|| panic!("{shown} printed nothing\n--- stderr ---\n{stderr}"));
        serde_json::from_str(line).unwrap_or_else(|e| {
            panic!("{shown} printed no JSON ({e}): {line}\n--- stderr ---\n{stderr}")
        })
    }

    /// Asserts what a script observed against the run's certificate and spec/operations.md.
    pub fn assert_observed(&self, observed: &Value, expect: &Expect) {
        // Shown with `--nocapture`; kept out of the way otherwise.
        println!("observed: {observed:#}");
        let ctx = |what: &str| format!("{what} in {observed:#}");
        assert_eq!(observed["scheme"], expect.scheme, "{}", ctx("scheme"));
        assert_request_id(&observed["add_domain"]["RequestId"]);
        assert_request_id(&observed["set_certificate"]["RequestId"]);

        // DescribeLiveDomainCertificateInfo.
        let info = &observed["cert_info"];
        assert_eq!(
            info["DomainName"],
            self.domain.as_str(),
            "{}",
            ctx("DomainName")
        );
        assert_eq!(
            info["CertName"],
            self.cert_name.as_str(),
            "{}",
            ctx("CertName")
        );
        assert_eq!(info["SSLProtocol"], "on", "{}", ctx("SSLProtocol"));
        assert_eq!(
            info["CertExpireTime"],
            self.cert.not_after.as_str(),
            "{}",
            ctx("CertExpireTime")
        );
        assert_eq!(
            info["CertDomainName"],
            self.domain.as_str(),
            "{}",
            ctx("CertDomainName")
        );
        assert_eq!(
            info["CertLife"],
            "3 months",
            "{}",
            ctx("CertLife (91 days)")
        );
        assert_eq!(info["CertOrg"], CA_ORG, "{}", ctx("CertOrg"));
        assert_eq!(info["CertType"], "upload", "{}", ctx("CertType"));
        assert_eq!(
            info["Status"],
            "success",
            "{}",
            ctx("Status (an effective certificate, as the real service says)")
        );
        assert_eq!(
            trim_pem(&info["SSLPub"]),
            self.cert.normalised_chain.trim_end(),
            "{}",
            ctx("SSLPub (the normalised chain: leaf, then CA)")
        );

        // DescribeLiveCertificateList on a fresh store: exactly this run's record.
        let list = &observed["cert_list"];
        assert_eq!(list["Count"], 1, "{}", ctx("Count"));
        let certs = list["Cert"].as_array().expect("Cert is an array");
        assert_eq!(certs.len(), 1, "{}", ctx("CertList"));
        let cert = &certs[0];
        assert_eq!(
            cert["CertName"],
            self.cert_name.as_str(),
            "{}",
            ctx("CertList CertName")
        );
        let cert_id = cert["CertId"].as_u64().filter(|id| *id > 0);
        assert!(cert_id.is_some(), "{}", ctx("CertId (a positive integer)"));
        assert_eq!(cert["Common"], self.domain.as_str(), "{}", ctx("Common"));
        assert_eq!(
            cert["Fingerprint"],
            self.cert.leaf_sha256.as_str(),
            "{}",
            ctx("Fingerprint")
        );
        assert_eq!(cert["Issuer"], CA_CN, "{}", ctx("Issuer"));
        let last = cert["LastTime"].as_i64();
        assert!(
            last.is_some_and(|t| t >= self.started - 60 && t <= SystemClock.now() + 60),
            "{}",
            ctx("LastTime (Unix seconds of this run)")
        );

        // DescribeLiveCertificateDetail.
        let detail = &observed["cert_detail"];
        assert_eq!(
            detail["CertId"].as_u64(),
            cert_id,
            "{}",
            ctx("Detail CertId")
        );
        assert_eq!(
            detail["CertName"],
            self.cert_name.as_str(),
            "{}",
            ctx("Detail CertName")
        );
        assert_eq!(
            trim_pem(&detail["Cert"]),
            self.cert.normalised_chain.trim_end(),
            "{}",
            ctx("Detail Cert")
        );

        // The errors the SDK raised: exact codes and statuses.
        let errors = &observed["errors"];
        for (name, code, status) in [
            (
                "set_bogus_ssl_protocol",
                "InvalidSSLProtocol.ValueNotSupported",
                400,
            ),
            ("info_unknown_domain", "IllegalOperationDomain", 400),
            ("detail_unknown_cert_name", "CertNameNotFound", 404),
            ("wrong_secret", expect.wrong_secret_code, 400),
        ] {
            assert_eq!(errors[name]["Code"], code, "{}", ctx(name));
            assert_eq!(errors[name]["HttpStatus"], status, "{}", ctx(name));
        }
        if expect.wrong_secret_message_has_string_to_sign {
            let message = errors["wrong_secret"]["Message"]
                .as_str()
                .unwrap_or_default();
            assert!(
                message.starts_with("Specified signature is not matched with our calculation.")
                    && message.contains(" server string to sign is:"),
                "{}",
                ctx("the SignatureDoesNotMatch message")
            );
        }
    }
}

/// The run's certificate files and the facts the server must report.
struct Generated {
    chain_path: PathBuf,
    key_path: PathBuf,
    /// The leaf's notAfter as `yyyy-MM-ddTHH:mm:ssZ`.
    not_after: String,
    /// SHA-256 of the leaf DER, lower-case hex.
    leaf_sha256: String,
    /// Leaf then CA, each as standard PEM (64-character lines, `\n`).
    normalised_chain: String,
}

/// A CA (P-256) and a leaf for `domain` (DNS SAN and CN) valid from now − 1 day to now + 90 days
/// with a key of `spec`; writes `chain.pem` (leaf, CA) and `key.pem` into `dir`.
fn generate(dir: &Path, domain: &str, spec: KeySpec) -> Generated {
    let now = OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .expect("whole seconds");

    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.distinguished_name = DistinguishedName::new();
    ca_params
        .distinguished_name
        .push(DnType::OrganizationName, CA_ORG);
    ca_params.distinguished_name.push(DnType::CommonName, CA_CN);
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca_params.not_before = now - time::Duration::days(2);
    ca_params.not_after = now + time::Duration::days(365);
    let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
    let issuer = Issuer::from_params(&ca_params, &ca_key);

    let (leaf_key, key_pem) = leaf_key(spec);
    let mut params = CertificateParams::new(vec![domain.to_owned()]).expect("leaf params");
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, domain);
    params.is_ca = IsCa::NoCa;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(90);
    let leaf = params
        .signed_by(&leaf_key, &issuer)
        .expect("leaf certificate");

    let chain_path = dir.join("chain.pem");
    let key_path = dir.join("key.pem");
    std::fs::write(&chain_path, format!("{}{}", leaf.pem(), ca_cert.pem())).expect("chain.pem");
    std::fs::write(&key_path, key_pem).expect("key.pem");
    Generated {
        chain_path,
        key_path,
        not_after: params
            .not_after
            .format(format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
            ))
            .expect("notAfter"),
        leaf_sha256: hex::encode(Sha256::digest(leaf.der())),
        normalised_chain: format!("{}{}", pem_block(leaf.der()), pem_block(ca_cert.der())),
    }
}

/// The leaf key for rcgen and its PEM as uploaded. RSA keys and the traditional encodings come
/// from the `openssl` CLI (rcgen's ring backend cannot generate RSA).
fn leaf_key(spec: KeySpec) -> (KeyPair, String) {
    let pkcs8 = match spec {
        KeySpec::P256Pkcs8 | KeySpec::P256Sec1 => {
            KeyPair::generate().expect("P-256").serialize_pem()
        }
        KeySpec::RsaPkcs1 | KeySpec::RsaPkcs8 => openssl(
            &[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
            ],
            b"",
        ),
    };
    let key = KeyPair::from_pem(&pkcs8).expect("rcgen reads the PKCS#8 key");
    let uploaded = match spec {
        KeySpec::P256Pkcs8 | KeySpec::RsaPkcs8 => pkcs8,
        KeySpec::RsaPkcs1 | KeySpec::P256Sec1 => {
            openssl(&["pkey", "-traditional"], pkcs8.as_bytes())
        }
    };
    (key, uploaded)
}

/// Runs `openssl args` with `stdin`; returns its stdout.
fn openssl(args: &[&str], stdin: &[u8]) -> String {
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("the SDK tests need the openssl CLI for RSA keys ({e}); .ci/run installs it")
        });
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .expect("write to openssl");
    let output = child.wait_with_output().expect("openssl");
    assert!(
        output.status.success(),
        "openssl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("PEM is text")
}

/// A `CERTIFICATE` PEM block with 64-character lines and `\n`.
fn pem_block(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

fn trim_pem(v: &Value) -> &str {
    v.as_str().unwrap_or_default().trim_end()
}

/// A RequestId: an upper-case UUID (protocol.md §6).
fn assert_request_id(v: &Value) {
    let id = v.as_str().unwrap_or_default();
    let ok = id.len() == 36
        && id
            .chars()
            .all(|c| c == '-' || c.is_ascii_digit() || ('A'..='F').contains(&c));
    assert!(ok, "RequestId {v} is not an upper-case UUID");
}

/// `<repo>/tests/sdk`, where the client scripts are.
pub fn sdk_dir() -> PathBuf {
    repo_root().join("tests/sdk")
}

fn repo_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// `LIVECERT_REQUIRE_SDKS=1` or `CI` set (and not `false`/`0`).
fn sdks_required() -> bool {
    let on =
        |name| env_nonempty(name).is_some_and(|v| v != "0" && !v.eq_ignore_ascii_case("false"));
    on("LIVECERT_REQUIRE_SDKS") || on("CI")
}

/// Fails the test when the SDKs are required; otherwise prints a loud notice and skips it.
fn unavailable<T>(why: &str) -> Option<T> {
    assert!(!sdks_required(), "{why}; {HOW_TO_RUN}");
    let bar = "!".repeat(100);
    // Straight to the process's stderr: libtest captures `eprintln!` of passing tests.
    let _ = writeln!(
        std::io::stderr(),
        "\n{bar}\nSKIPPED a real-SDK test: {why}.\n{HOW_TO_RUN}.\n{bar}\n"
    );
    None
}
