//! Multi-node benchmark (issue 6): propagation from a SetLiveDomainCertificate response on an API
//! node (`livecert serve --no-edge`) to a separate `livecert edge` process serving the new leaf,
//! on PostgreSQL (the edge hears the commit through LISTEN/NOTIFY) and on SQLite (the edge polls
//! the change counter every 50 ms), and the API node's SetLiveDomainCertificate and
//! DescribeLiveDomainCertificateInfo throughput on each store.
//!
//! Run: `cargo bench -p livecert --bench multinode -- [--backend both|postgres|sqlite]
//! [--changes 200] [--seconds 10] [--clients 8]`. PostgreSQL: a fresh database
//! `livecert_bench_<random>` on `LIVECERT_BENCH_POSTGRES` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`), dropped at the end.
//!
//! The servers are real processes of this build's `livecert` binary, on 127.0.0.1, with rate
//! limits off; the load client runs in this process on the same cores. Propagation: one change at a
//! time (a forced replacement of the domain's record, so each change is a new leaf), the clock
//! started when the API's response has been read, stopped at the first full TLS handshake with the
//! edge that presents the new leaf (handshakes back to back), then a random pause of 0–199 ms.
//! Throughput: `--clients` concurrent clients for `--seconds` each, over HTTP/1.1 with kept-alive
//! connections; call n (numbered across clients) of Set replaces the record of domain n mod 16 with
//! the other of its two pre-made certificates (so a call is a real replacement, unless two calls on
//! one domain overlap), and call n of Describe reads domain n mod 16.

mod support;

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rcgen::{CertificateParams, DnType, KeyPair};

use support::{connector, free_port, handshake, pct, wait_open, Api, Database, Process};

/// Domains the benchmark binds.
const DOMAINS: usize = 16;

struct Options {
    backends: Vec<&'static str>,
    changes: usize,
    seconds: u64,
    clients: usize,
}

fn options() -> Options {
    let get = support::arg;
    let num = |name: &str, default: u64| get(name).and_then(|v| v.parse().ok()).unwrap_or(default);
    let backends = match get("--backend").as_deref() {
        Some("postgres") => vec!["postgres"],
        Some("sqlite") => vec!["sqlite"],
        _ => vec!["postgres", "sqlite"],
    };
    Options {
        backends,
        changes: num("--changes", 200) as usize,
        seconds: num("--seconds", 10),
        clients: num("--clients", 8) as usize,
    }
}

fn domain(i: usize) -> String {
    format!("m{i}.multinode-bench.example.com")
}

/// A self-signed P-256 leaf for `name`: (chain PEM, key PEM, leaf DER).
fn leaf(name: &str) -> (String, String, Vec<u8>) {
    let key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::new(vec![name.to_owned()]).expect("params");
    params.distinguished_name.push(DnType::CommonName, name);
    let cert = params.self_signed(&key).expect("certificate");
    (cert.pem(), key.serialize_pem(), cert.der().to_vec())
}

fn main() {
    let opts = options();
    let runtime = support::runtime();
    let mut rows = Vec::new();
    for backend in &opts.backends {
        rows.push(runtime.block_on(run(backend, &opts)));
    }
    println!(
        "\n| store | edge learns by | changes | propagation p50 | p99 | max | Set/s ({} clients) | Describe/s ({} clients) |",
        opts.clients, opts.clients
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for row in rows {
        println!("{row}");
    }
}

/// One backend: the processes, the propagation run, the throughput runs; its table row.
async fn run(backend: &str, opts: &Options) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let database = (backend == "postgres").then(Database::create);
    let store = database.as_ref().map(|d| d.url.clone());
    let bin = env!("CARGO_BIN_EXE_livecert");

    let api_addr = free_port();
    let mut serve = Command::new(bin);
    serve
        .args(["serve", "--no-edge", "--rate-limits", "off", "--listen"])
        .arg(api_addr.to_string())
        .arg("--data-dir")
        .arg(dir.path())
        .env("LIVECERT_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    if let Some(url) = &store {
        serve.args(["--store", url]);
    }
    let serve = Process(serve.spawn().expect("livecert serve starts"));
    wait_open(api_addr).await;
    let (key_id, secret) =
        livecert::datadir::read_credentials(&dir.path().join("credentials")).expect("credentials");
    let api = Api {
        addr: api_addr,
        key_id,
        secret,
        client: Client::builder(TokioExecutor::new()).build_http(),
    };
    for i in 0..DOMAINS {
        let name = domain(i);
        api.call(
            "AddLiveDomain",
            &[
                ("DomainName", &name),
                ("LiveDomainType", "liveVideo"),
                ("Region", "cn-shanghai"),
            ],
        )
        .await;
    }

    let edge_addr = free_port();
    let mut edge = Command::new(bin);
    edge.args(["edge", "--edge-listen"])
        .arg(edge_addr.to_string())
        .arg("--data-dir")
        .arg(dir.path())
        .env("LIVECERT_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    if let Some(url) = &store {
        edge.args(["--store", url]);
    }
    let edge = Process(edge.spawn().expect("livecert edge starts"));
    wait_open(edge_addr).await;

    // Propagation, one change at a time.
    let tls = connector();
    let mut gap: u64 = u64::from(std::process::id()) | 1;
    let mut times = Vec::with_capacity(opts.changes);
    for k in 0..opts.changes {
        let name = domain(k % DOMAINS);
        let (chain, key, der) = leaf(&name);
        api.set(&name, &chain, &key).await;
        let answered = Instant::now();
        loop {
            if handshake(&tls, edge_addr, &name).await.as_deref() == Some(der.as_slice()) {
                times.push(answered.elapsed());
                break;
            }
            assert!(
                answered.elapsed() < Duration::from_secs(60),
                "{name}: the new leaf is not served 60 s after the call"
            );
        }
        gap ^= gap << 13;
        gap ^= gap >> 7;
        gap ^= gap << 17;
        tokio::time::sleep(Duration::from_millis(gap % 200)).await;
    }
    times.sort();

    // Throughput.
    let certs: Arc<Vec<[(String, String); 2]>> = Arc::new(
        (0..DOMAINS)
            .map(|i| {
                let (c1, k1, _) = leaf(&domain(i));
                let (c2, k2, _) = leaf(&domain(i));
                [(c1, k1), (c2, k2)]
            })
            .collect(),
    );
    let api = Arc::new(api);
    let sets = throughput(opts, {
        let (api, certs) = (Arc::clone(&api), Arc::clone(&certs));
        move |n| {
            let (api, certs) = (Arc::clone(&api), Arc::clone(&certs));
            async move {
                let i = n % DOMAINS;
                let (chain, key) = &certs[i][n / DOMAINS % 2];
                api.set(&domain(i), chain, key).await;
            }
        }
    })
    .await;
    let describes = throughput(opts, {
        let api = Arc::clone(&api);
        move |n| {
            let api = Arc::clone(&api);
            async move {
                let name = domain(n % DOMAINS);
                api.call(
                    "DescribeLiveDomainCertificateInfo",
                    &[("DomainName", &name)],
                )
                .await;
            }
        }
    })
    .await;
    drop(edge);
    drop(serve);
    drop(database);

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    format!(
        "| {} | {} | {} | {:.1} ms | {:.1} ms | {:.1} ms | {sets:.0} | {describes:.0} |",
        if backend == "postgres" {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        if backend == "postgres" {
            "LISTEN/NOTIFY"
        } else {
            "50 ms poll"
        },
        times.len(),
        ms(pct(&times, 0.50)),
        ms(pct(&times, 0.99)),
        ms(times.last().copied().unwrap_or_default()),
    )
}

/// Runs `call(n)`, `n` the call's number across all clients (0, 1, 2, …), from `--clients`
/// concurrent clients for `--seconds`; calls per second.
async fn throughput<F, Fut>(opts: &Options, call: F) -> f64
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(opts.seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..opts.clients {
        let (call, next, done) = (call.clone(), Arc::clone(&next), Arc::clone(&done));
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                call(next.fetch_add(1, Ordering::Relaxed)).await;
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for task in tasks {
        task.await.expect("client");
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}
