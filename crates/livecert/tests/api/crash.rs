//! Crash safety: a real `livecert serve` process takes concurrent SetLiveDomainCertificate calls
//! and is killed with SIGKILL mid-stream; after a restart every call that was answered with success
//! is present and readable, has its audit entry, and no domain points at a missing record.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::certs::{self_signed, Alg};
use crate::harness::{send, signed_request, Scheme};

const DOMAINS: usize = 8;
const ROUNDS: usize = 40;

fn start(dir: &Path) -> (Child, SocketAddr) {
    start_with_umask(dir, None)
}

/// Starts `livecert serve` on `dir`, under `umask` when given (through `sh -c 'umask …; exec …'`).
fn start_with_umask(dir: &Path, umask: Option<&str>) -> (Child, SocketAddr) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let mut command = match umask {
        None => Command::new(env!("CARGO_BIN_EXE_livecert")),
        Some(mask) => {
            let mut sh = Command::new("sh");
            sh.args(["-c", &format!("umask {mask} && exec \"$0\" \"$@\"")])
                .arg(env!("CARGO_BIN_EXE_livecert"));
            sh
        }
    };
    let mut child = command
        .args([
            "serve",
            "--no-edge",
            "--rate-limits",
            "off",
            "--listen",
            &addr.to_string(),
            "--data-dir",
        ])
        .arg(dir)
        .env("LIVECERT_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("livecert starts");
    for _ in 0..200 {
        if std::net::TcpStream::connect(addr).is_ok() {
            return (child, addr);
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("livecert serve did not open {addr}");
}

fn now() -> i64 {
    use livecert::clock::Clock;
    livecert::clock::SystemClock.now()
}

async fn call(
    addr: SocketAddr,
    creds: &(String, String),
    action: &str,
    params: &[(&str, &str)],
) -> crate::harness::Reply {
    let pairs = params
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
        .collect();
    send(signed_request(
        addr,
        Scheme::V3,
        action,
        pairs,
        &creds.0,
        &creds.1,
        now(),
    ))
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut child, addr) = start(dir.path());
    let creds = Arc::new(
        livecert::datadir::read_credentials(&dir.path().join("credentials"))
            .expect("credentials written on first start"),
    );

    let t = now();
    let mut plans = Vec::new();
    for d in 0..DOMAINS {
        let domain = format!("crash{d}.example.com");
        call(
            addr,
            &creds,
            "AddLiveDomain",
            &[
                ("DomainName", &domain),
                ("LiveDomainType", "liveVideo"),
                ("Region", "cn-shanghai"),
            ],
        )
        .await
        .ok();
        let certs: Vec<_> = (0..ROUNDS)
            .map(|_| self_signed(&[&domain], t - 86_400, t + 90 * 86_400, Alg::P256))
            .collect();
        plans.push((domain, certs));
    }

    let acknowledged: Arc<Mutex<Vec<(String, String)>>> = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for (domain, certs) in plans {
        let acknowledged = Arc::clone(&acknowledged);
        let creds = Arc::clone(&creds);
        tasks.push(tokio::spawn(async move {
            for (i, g) in certs.iter().enumerate() {
                let name = format!("{domain}-{i}");
                let pairs: Vec<(String, Vec<u8>)> = [
                    ("DomainName", domain.as_str()),
                    ("SSLProtocol", "on"),
                    ("CertName", name.as_str()),
                    ("SSLPub", g.chain_pem.as_str()),
                    ("SSLPri", g.key_pem.as_str()),
                ]
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
                .collect();
                let request = signed_request(
                    addr,
                    Scheme::V3,
                    "SetLiveDomainCertificate",
                    pairs,
                    &creds.0,
                    &creds.1,
                    now(),
                );
                let client = hyper_util::client::legacy::Client::builder(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .build_http();
                match client.request(request).await {
                    Ok(response) if response.status() == 200 => {
                        acknowledged
                            .lock()
                            .expect("lock")
                            .push((domain.clone(), name));
                    }
                    Ok(_) => {}
                    Err(_) => return,
                }
            }
        }));
    }
    // Kill once a good number of writes were acknowledged, while the others are in flight.
    for _ in 0..400 {
        if acknowledged.lock().expect("lock").len() >= DOMAINS * ROUNDS / 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    for t in tasks {
        let _ = t.await;
    }
    let acknowledged = acknowledged.lock().expect("lock").clone();
    assert!(
        !acknowledged.is_empty(),
        "no write was acknowledged before the kill"
    );
    assert!(
        acknowledged.len() < DOMAINS * ROUNDS,
        "the kill came after every write: nothing was tested mid-stream"
    );

    // Every acknowledged change has its audit entry, although the process was killed (issue 10,
    // item 3: the entry is written in the transaction of the change, not queued).
    let audited: BTreeSet<(String, String)> = {
        let data = livecert::datadir::DataDir::open(dir.path()).expect("data dir");
        let key = Arc::new(data.master_key(false).expect("master key"));
        let store = livecert_store::Store::open_sqlite(&data.sqlite_path(), key).expect("store");
        store
            .audit_entries(&livecert_store::AuditFilter::default())
            .await
            .expect("audit")
            .into_iter()
            .filter(|e| e.operation == "SetLiveDomainCertificate" && e.outcome == "OK")
            .filter_map(|e| Some((e.domain?, e.cert_name?)))
            .collect()
    };
    let unaudited: Vec<_> = acknowledged
        .iter()
        .filter(|a| !audited.contains(*a))
        .collect();
    assert!(
        unaudited.is_empty(),
        "{} of {} acknowledged Sets have no audit entry after kill -9: {unaudited:?}",
        unaudited.len(),
        acknowledged.len()
    );

    let (mut child, addr) = start(dir.path());
    let list = call(addr, &creds, "DescribeLiveCertificateList", &[]).await;
    let names: BTreeSet<String> = list.ok()["CertificateListModel"]["CertList"]["Cert"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|c| c["CertName"].as_str().map(str::to_owned))
        .collect();
    for (domain, name) in &acknowledged {
        assert!(
            names.contains(name),
            "acknowledged {name} for {domain} is missing after kill -9"
        );
        let detail = call(
            addr,
            &creds,
            "DescribeLiveCertificateDetail",
            &[("CertName", name)],
        )
        .await;
        assert!(detail.ok()["Cert"]
            .as_str()
            .is_some_and(|c| c.contains("BEGIN CERTIFICATE")));
    }
    for d in 0..DOMAINS {
        let domain = format!("crash{d}.example.com");
        let info = call(
            addr,
            &creds,
            "DescribeLiveDomainCertificateInfo",
            &[("DomainName", &domain)],
        )
        .await;
        let entry = info.ok()["CertInfos"]["CertInfo"][0].clone();
        if entry["SSLProtocol"] == "on" {
            let bound = entry["CertName"].as_str().unwrap_or_default();
            assert!(
                names.contains(bound),
                "{domain} points at a missing record {bound}"
            );
            let last_ack = acknowledged
                .iter()
                .filter(|(dd, _)| dd == &domain)
                .map(|(_, n)| n)
                .next_back();
            if let Some(last) = last_ack {
                let index = |n: &str| {
                    n.rsplit('-')
                        .next()
                        .and_then(|i| i.parse::<usize>().ok())
                        .unwrap_or(0)
                };
                assert!(
                    index(bound) >= index(last),
                    "{domain} lost its acknowledged binding {last} (now {bound})"
                );
            }
        } else {
            assert!(
                acknowledged.iter().all(|(dd, _)| dd != &domain),
                "{domain} lost HTTPS after an acknowledged Set"
            );
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Issue 10, item 7: under umask 000, the data directory `serve` creates and every file in it —
/// `livecert.db`, `-wal`, `-shm`, the master key, the credentials, the serve lock, the test CA —
/// are readable by their owner only; a database left 0644 by an earlier version is made private
/// when the store opens it.
#[tokio::test(flavor = "multi_thread")]
async fn the_data_directory_is_private_to_its_owner_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::tempdir().expect("temp dir");
    let dir = parent.path().join("data");
    let (mut child, addr) = start_with_umask(&dir, Some("000"));
    let creds = livecert::datadir::read_credentials(&dir.join("credentials"))
        .expect("credentials written on first start");
    let r = call(
        addr,
        &creds,
        "AddLiveDomain",
        &[
            ("DomainName", "private.example.com"),
            ("LiveDomainType", "liveVideo"),
            ("Region", "cn-shanghai"),
        ],
    )
    .await;
    r.ok();
    let r = call(
        addr,
        &creds,
        "SetLiveDomainCertificate",
        &[
            ("DomainName", "private.example.com"),
            ("SSLProtocol", "on"),
            ("CertType", "free"),
        ],
    )
    .await;
    r.ok();
    let mode = |p: &Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
    let names = |d: &Path| -> BTreeSet<String> {
        std::fs::read_dir(d)
            .expect("read dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect()
    };
    let check = |d: &Path| {
        assert_eq!(mode(d), 0o700, "{}", d.display());
        let files = names(d);
        for expected in [
            "livecert.db",
            "livecert.db-wal",
            "livecert.db-shm",
            "master.key",
            "credentials",
        ] {
            assert!(
                files.contains(expected),
                "{expected} missing from {files:?}"
            );
        }
        for name in &files {
            let m = mode(&d.join(name));
            assert_eq!(m & 0o077, 0, "{name} is {m:o}: others can read it");
        }
    };
    check(&dir);
    let _ = child.kill();
    let _ = child.wait();

    // A store whose files an earlier version left 0644 is made private when opened again.
    for name in ["livecert.db", "livecert.db-wal", "livecert.db-shm"] {
        let path = dir.join(name);
        if path.exists() {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        }
    }
    let (mut child, addr) = start_with_umask(&dir, Some("000"));
    call(addr, &creds, "DescribeLiveUserDomains", &[])
        .await
        .ok();
    check(&dir);
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_serve_on_the_same_data_directory_refuses_to_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut first, addr) = start(dir.path());
    let out = Command::new(env!("CARGO_BIN_EXE_livecert"))
        .args([
            "serve",
            "--no-edge",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(dir.path())
        .output()
        .expect("second livecert runs");
    assert!(!out.status.success(), "a second serve must not start");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("another `livecert serve`"), "{stderr}");
    // The first one still answers.
    assert!(std::net::TcpStream::connect(addr).is_ok());
    let _ = first.kill();
    let _ = first.wait();
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_stops_serve_cleanly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut child, _addr) = start(dir.path());
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    for _ in 0..400 {
        if let Some(exit) = child.try_wait().expect("wait") {
            assert!(exit.success(), "serve exits 0 on SIGTERM, got {exit}");
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("serve did not stop within 10 s of SIGTERM");
}

/// Runs `livecert serve` with `args` and `env`, expecting it to refuse to start: returns its stderr.
/// Fails the test if it is still running after 10 s.
fn refused_serve(args: &[&str], env: &[(&str, &str)]) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_livecert"));
    command
        .args(["serve", "--no-edge"])
        .args(["--listen", "127.0.0.1:0"])
        .args(args);
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("livecert runs");
    for _ in 0..400 {
        if let Some(status) = child.try_wait().expect("wait") {
            assert!(!status.success(), "serve {args:?} must refuse to start");
            let mut stderr = String::new();
            if let Some(mut pipe) = child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
            }
            return stderr;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("serve {args:?} started; it must refuse");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_store_is_locked_whatever_data_directory_names_it() {
    let a = tempfile::tempdir().expect("temp dir");
    let b = tempfile::tempdir().expect("temp dir");
    let (mut first, _addr) = start(a.path());
    std::fs::copy(a.path().join("master.key"), b.path().join("master.key")).expect("copy key");
    let store = format!("sqlite://{}", a.path().join("livecert.db").display());
    let b_dir = b.path().to_string_lossy().into_owned();
    let stderr = refused_serve(&["--data-dir", &b_dir, "--store", &store], &[]);
    assert!(stderr.contains("another `livecert serve`"), "{stderr}");
    let _ = first.kill();
    let _ = first.wait();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_or_missing_master_key_refuses_to_start() {
    let a = tempfile::tempdir().expect("temp dir");
    let (mut first, _addr) = start(a.path());
    let _ = first.kill();
    let _ = first.wait();
    let a_dir = a.path().to_string_lossy().into_owned();

    let (_, other) = livecert_core::secret::MasterKey::generate().expect("key");
    let other = other.expose_str().expect("base64").to_owned();
    let stderr = refused_serve(&["--data-dir", &a_dir], &[("LIVECERT_MASTER_KEY", &other)]);
    assert!(stderr.contains("master key does not open"), "{stderr}");

    let b = tempfile::tempdir().expect("temp dir");
    let store = format!("sqlite://{}", a.path().join("livecert.db").display());
    let b_dir = b.path().to_string_lossy().into_owned();
    let stderr = refused_serve(&["--data-dir", &b_dir, "--store", &store], &[]);
    assert!(stderr.contains("master.key is missing"), "{stderr}");
    assert!(
        !b.path().join("master.key").exists(),
        "no new key is generated for an existing store"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_log_never_holds_a_private_key_or_a_secret() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log_path = dir.path().join("serve.log");
    let log = std::fs::File::create(&log_path).expect("log file");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let data = dir.path().join("data");
    let mut child = Command::new(env!("CARGO_BIN_EXE_livecert"))
        .args([
            "serve",
            "--no-edge",
            "--listen",
            &addr.to_string(),
            "--data-dir",
        ])
        .arg(&data)
        .env("LIVECERT_LOG", "trace")
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .expect("livecert starts");
    for _ in 0..200 {
        if std::net::TcpStream::connect(addr).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let creds =
        livecert::datadir::read_credentials(&data.join("credentials")).expect("credentials");
    let t = now();
    let g = self_signed(
        &["logs.example.com"],
        t - 86_400,
        t + 90 * 86_400,
        Alg::P256,
    );
    call(
        addr,
        &creds,
        "AddLiveDomain",
        &[
            ("DomainName", "logs.example.com"),
            ("LiveDomainType", "liveVideo"),
            ("Region", "cn-shanghai"),
        ],
    )
    .await
    .ok();
    let params = [
        ("DomainName", "logs.example.com"),
        ("SSLProtocol", "on"),
        ("CertName", "logs"),
        ("SSLPub", g.chain_pem.as_str()),
        ("SSLPri", g.key_pem.as_str()),
    ];
    call(addr, &creds, "SetLiveDomainCertificate", &params)
        .await
        .ok();
    // A refused call (wrong secret) and a refused certificate, whose messages echo inputs.
    let wrong = (creds.0.clone(), "not-the-secret".to_owned());
    call(addr, &wrong, "SetLiveDomainCertificate", &params).await;
    call(
        addr,
        &creds,
        "SetLiveDomainCertificate",
        &[
            ("DomainName", "logs.example.com"),
            ("SSLProtocol", "on"),
            ("SSLPub", g.chain_pem.as_str()),
            (
                "SSLPri",
                "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            ),
        ],
    )
    .await;
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let logged = std::fs::read_to_string(&log_path).expect("log");
    assert!(logged.contains("call"), "the log has the calls: {logged}");
    let key_body: String = g
        .key_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    for secret in [
        &key_body[..40],
        &key_body[key_body.len() - 40..],
        creds.1.as_str(),
        "PRIVATE KEY",
    ] {
        assert!(
            !logged.contains(secret),
            "the log holds secret material ({secret})"
        );
    }
}
