//! `livecert admin` (spec/access.md; docs/admin.md): the real binary against a temporary data
//! directory — accounts, users, keys, policies (a bad one refused with its line and column),
//! attachments, temporary credentials, the audit log, `--json` output parsed — and the same
//! binary working beside a running `serve` on the same data directory, its changes reaching the
//! API within a second; the operator modes of domains and records (`domain set|show`, `cert
//! revoke|delete`) seen through the API. One file per theme; this one holds what they share:
//! running the binary, a `serve` child process, signed calls.

mod beside_serve;
mod commands;
mod migrate;
mod modes;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{send, signed_request, Reply, Scheme};

/// `livecert admin --data-dir <dir> <args>`, with no master key or data directory inherited from
/// the environment.
fn admin(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_livecert"))
        .arg("admin")
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env_remove("LIVECERT_MASTER_KEY")
        .env_remove("LIVECERT_DATA_DIR")
        .env("LIVECERT_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .expect("livecert admin runs")
}

/// Runs an admin command that must succeed; returns its stdout.
fn ok(dir: &Path, args: &[&str]) -> String {
    let out = admin(dir, args);
    assert!(
        out.status.success(),
        "livecert admin {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// Runs an admin command with `--json` that must succeed; returns the one JSON document it
/// prints.
fn ok_json(dir: &Path, args: &[&str]) -> Value {
    let mut with_json = args.to_vec();
    with_json.push("--json");
    let text = ok(dir, &with_json);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not one JSON document ({e}): {text}"))
}

/// Runs an admin command that must fail with exit status 1; returns its stderr.
fn fails(dir: &Path, args: &[&str]) -> String {
    let out = admin(dir, args);
    assert_eq!(
        out.status.code(),
        Some(1),
        "livecert admin {args:?} should fail: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(out.stdout.is_empty(), "a failure printed on stdout");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is not a string in {v}"))
}

/// Calls DescribeLiveCertificateList signed with `id`/`secret` at the current time.
async fn describe(addr: SocketAddr, id: &str, secret: &str) -> Reply {
    let now = livecert::clock::Clock::now(&livecert::clock::SystemClock);
    send(signed_request(
        addr,
        Scheme::V3,
        "DescribeLiveCertificateList",
        Vec::new(),
        id,
        secret,
        now,
    ))
    .await
}

/// Calls `call` until `done` holds, for at most 1.5 s (changes must be seen within 1 s).
async fn eventually<F, Fut>(call: F, done: impl Fn(&Reply) -> bool) -> Reply
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Reply>,
{
    let start = Instant::now();
    loop {
        let reply = call().await;
        if done(&reply) || start.elapsed() > Duration::from_millis(1500) {
            return reply;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A `livecert serve` child process, killed and reaped on drop.
struct Serve {
    child: Child,
    addr: SocketAddr,
}

impl Serve {
    fn start(dir: &Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
        let mut child = Command::new(env!("CARGO_BIN_EXE_livecert"))
            .args([
                "serve",
                "--no-edge",
                "--listen",
                &addr.to_string(),
                "--data-dir",
            ])
            .arg(dir)
            .env_remove("LIVECERT_MASTER_KEY")
            .env_remove("LIVECERT_DATA_DIR")
            .env("LIVECERT_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("livecert serve starts");
        for _ in 0..400 {
            if std::net::TcpStream::connect(addr).is_ok() {
                return Self { child, addr };
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("livecert serve did not open {addr}");
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
