//! `serve --official-hostnames`: a real `livecert serve` answers the API over TLS for the names
//! the official SDKs call (`live.aliyuncs.com`, `cas.aliyuncs.com`, `sts.aliyuncs.com`, and
//! `<product>.<region>.aliyuncs.com`) with a certificate its own CA issued at start, which curl
//! verifies against the exported root (`--resolve`: no hosts file is touched).

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

fn free_port() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
}

/// curl `https://<name>:<port>/healthz` resolving `name` to the server, trusting `ca`; returns
/// curl's exit code and body.
fn healthz(name: &str, addr: SocketAddr, ca: &std::path::Path) -> (i32, String) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "--resolve"])
        .arg(format!("{name}:{}:127.0.0.1", addr.port()))
        .arg("--cacert")
        .arg(ca)
        .arg(format!("https://{name}:{}/healthz", addr.port()))
        .output()
        .expect("curl runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_answers_the_official_hostnames_with_the_data_directorys_ca() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let api = free_port();
    let log = dir.path().join("serve.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_livecert"))
        .arg("serve")
        .arg("--official-hostnames")
        .args(["--listen", &api.to_string(), "--no-edge"])
        .arg("--data-dir")
        .arg(&data)
        .env_remove("LIVECERT_DATA_DIR")
        .env_remove("LIVECERT_MASTER_KEY")
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(&log).expect("log")))
        .spawn()
        .expect("serve starts");
    let mut up = false;
    for _ in 0..400 {
        if let Some(status) = child.try_wait().expect("wait") {
            panic!(
                "serve exited ({status}): {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        if std::net::TcpStream::connect(api).is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(up, "serve did not open {api}");
    let ca = data.join("test-ca.pem");
    for name in [
        "live.aliyuncs.com",
        "cas.aliyuncs.com",
        "sts.aliyuncs.com",
        "cas.cn-shanghai.aliyuncs.com",
        "live.ap-southeast-1.aliyuncs.com",
        "sts.cn-hangzhou.aliyuncs.com",
    ] {
        assert_eq!(healthz(name, api, &ca), (0, "ok".to_owned()), "{name}");
    }
    // A name the certificate does not cover fails verification (curl 60).
    let (code, _) = healthz("live.example.com", api, &ca);
    assert_eq!(code, 60, "an uncovered name must not verify");
    let _ = child.kill();
    let _ = child.wait();
}
