//! ACME issuance benchmark (issue 13): from `SetLiveDomainCertificate CertType=free` to the edge
//! serving the issued leaf, against Debian's pebble with real validation through livecert's own
//! edge; then a batch of domains requested at once.
//!
//! Run: `cargo bench -p livecert --bench acme -- [--domains 50] [--batch 1000]
//! [--challenge http-01|tls-alpn-01]` (pebble and pebble-challtestsrv must be installed:
//! `apt-get install pebble`).
//!
//! The server is a real `livecert serve` process of this build (release), SQLite store, rate
//! limits off, its edge on the two ports pebble validates on; pebble runs with
//! `PEBBLE_VA_NOSLEEP=1` (no artificial validation delay) and enforces no rate limits. The
//! client is this process, on the same two cores.
//! - Latency: one domain at a time; the clock starts when the Set call's answer has been read and
//!   stops at the first full TLS handshake with the edge for that domain that succeeds (the domain
//!   had no certificate before, so that is the issued leaf; checked to be pebble's), polled
//!   every 10 ms.
//! - Batch: `--batch` domains are requested by 32 concurrent callers; the clock stops when every
//!   order has ended (the metrics' `livecert_acme_orders_total{result="valid"}` count, polled
//!   every 250 ms); then every domain is checked to be served by the edge (none lost), and the
//!   retried and failed attempts are read from the metrics.

#[path = "../tests/api/acme/pebble.rs"]
mod pebble;
mod support;

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use support::{connector, handshake, pct, wait_open, Api, Process};

struct Options {
    domains: usize,
    batch: usize,
    challenge: String,
}

fn options() -> Options {
    let get = support::arg;
    Options {
        domains: get("--domains").map_or(50, |v| v.parse().expect("--domains N")),
        batch: get("--batch").map_or(1000, |v| v.parse().expect("--batch N")),
        challenge: get("--challenge").unwrap_or_else(|| "http-01".into()),
    }
}

fn main() {
    let opts = options();
    let runtime = support::runtime();
    runtime.block_on(run(&opts));
}

async fn run(opts: &Options) {
    let pebble = pebble::Pebble::start().expect("pebble is installed (apt-get install pebble)");
    let dir = tempfile::tempdir().expect("temp dir");
    let api_addr = support::free_port();
    let edge: std::net::SocketAddr = format!("127.0.0.1:{}", pebble.tls_port)
        .parse()
        .expect("addr");
    let serve = Process(
        Command::new(env!("CARGO_BIN_EXE_livecert"))
            .args(["serve", "--listen", &api_addr.to_string()])
            .arg("--data-dir")
            .arg(dir.path())
            .args(["--rate-limits", "off", "--edge-listen", &edge.to_string()])
            .args([
                "--edge-http-listen",
                &format!("127.0.0.1:{}", pebble.http_port),
            ])
            .args(["--acme-directory", &pebble.directory])
            .arg("--acme-ca-roots")
            .arg(&pebble.ca_roots)
            .args(["--acme-challenge", &opts.challenge])
            .env_remove("LIVECERT_DATA_DIR")
            .env_remove("LIVECERT_MASTER_KEY")
            .env("LIVECERT_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("livecert serve starts"),
    );
    wait_open(api_addr).await;
    let (key_id, secret) =
        livecert::datadir::read_credentials(&dir.path().join("credentials")).expect("credentials");
    let api = Arc::new(Api {
        addr: api_addr,
        key_id,
        secret,
        client: Client::builder(TokioExecutor::new()).build_http(),
    });
    let tls = connector();
    println!(
        "ACME issuance against pebble ({} challenge), livecert serve (release, SQLite), load {}",
        opts.challenge,
        load_average()
    );

    // Latency, one domain at a time.
    let mut samples = Vec::with_capacity(opts.domains);
    for i in 0..opts.domains {
        let domain = format!("lat{i}.example.com");
        add_domain(&api, &domain).await;
        request_free(&api, &domain).await;
        let started = Instant::now();
        let deadline = started + Duration::from_secs(120);
        let leaf = loop {
            if let Some(leaf) = handshake(&tls, edge, &domain).await {
                break leaf;
            }
            assert!(Instant::now() < deadline, "{domain} not served in 120 s");
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        samples.push(started.elapsed());
        assert!(
            issued_by_pebble(&leaf),
            "{domain}: the served leaf is not pebble's"
        );
    }
    samples.sort();
    if !samples.is_empty() {
        println!(
            "latency over {} domains: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
            samples.len(),
            ms(pct(&samples, 0.50)),
            ms(pct(&samples, 0.99)),
            ms(*samples.last().expect("samples"))
        );
    }

    // A batch requested at once.
    if opts.batch > 0 {
        let domains: Vec<String> = (0..opts.batch)
            .map(|i| format!("batch{i}.example.com"))
            .collect();
        fan_out(&api, &domains, |api, domain| async move {
            add_domain(&api, &domain).await;
        })
        .await;
        let before = valid_orders(&api).await;
        let started = Instant::now();
        fan_out(&api, &domains, |api, domain| async move {
            request_free(&api, &domain).await;
        })
        .await;
        let requested = started.elapsed();
        let target = before + opts.batch as u64;
        let deadline = started + Duration::from_secs(3600);
        while valid_orders(&api).await < target {
            assert!(
                Instant::now() < deadline,
                "the batch did not finish in an hour"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let issued = started.elapsed();
        let mut served = 0;
        for domain in &domains {
            if handshake(&tls, edge, domain)
                .await
                .is_some_and(|leaf| issued_by_pebble(&leaf))
            {
                served += 1;
            }
        }
        let metrics = metrics(&api).await;
        println!(
            "batch of {}: requests answered in {:.1} s, every order valid after {:.1} s ({:.1} certificates/s); served by the edge: {served}/{}; retried attempts {}, failed orders {}",
            opts.batch,
            requested.as_secs_f64(),
            issued.as_secs_f64(),
            opts.batch as f64 / issued.as_secs_f64(),
            opts.batch,
            sum_of(&metrics, "result=\"retried\""),
            sum_of(&metrics, "result=\"failed\""),
        );
    }
    drop(serve);
}

async fn add_domain(api: &Api, domain: &str) {
    api.call(
        "AddLiveDomain",
        &[
            ("DomainName", domain),
            ("LiveDomainType", "liveVideo"),
            ("Region", "cn-shanghai"),
        ],
    )
    .await;
}

async fn request_free(api: &Api, domain: &str) {
    api.call(
        "SetLiveDomainCertificate",
        &[
            ("DomainName", domain),
            ("SSLProtocol", "on"),
            ("CertType", "free"),
        ],
    )
    .await;
}

/// Runs `call` for every domain, 32 at a time.
async fn fan_out<F, Fut>(api: &Arc<Api>, domains: &[String], call: F)
where
    F: Fn(Arc<Api>, String) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(32));
    let mut tasks = JoinSet::new();
    for domain in domains {
        let permit = Arc::clone(&permits)
            .acquire_owned()
            .await
            .expect("semaphore");
        let work = call(Arc::clone(api), domain.clone());
        tasks.spawn(async move {
            work.await;
            drop(permit);
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("task");
    }
}

/// The API's metrics text.
async fn metrics(api: &Api) -> String {
    use http_body_util::BodyExt;
    let request = http::Request::get(format!("http://{}/metrics", api.addr))
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .expect("request");
    let response = api.client.request(request).await.expect("metrics");
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    String::from_utf8_lossy(&body).into_owned()
}

async fn valid_orders(api: &Api) -> u64 {
    sum_of(&metrics(api).await, "result=\"valid\"")
}

/// The sum of `livecert_acme_orders_total` samples whose labels contain `label`.
fn sum_of(metrics: &str, label: &str) -> u64 {
    metrics
        .lines()
        .filter(|l| l.starts_with("livecert_acme_orders_total{") && l.contains(label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// Whether the leaf's issuer is one of pebble's intermediates.
fn issued_by_pebble(leaf: &[u8]) -> bool {
    x509_parser::parse_x509_certificate(leaf).is_ok_and(|(_, cert)| {
        cert.issuer()
            .iter_common_name()
            .any(|cn| cn.as_str().is_ok_and(|s| s.starts_with("Pebble")))
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}
