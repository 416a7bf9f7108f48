//! HTTPS edge benchmark (issue 5, spec/edge.md "Scale targets"): full TLS 1.3 handshakes per second
//! and the server's CPU time per handshake, with random SNI over N domains; the edge's startup time
//! and resident memory at N; propagation from a SetLiveDomainCertificate response to the first
//! handshake presenting the new leaf; and, with `--nginx`, the same load against nginx (Debian
//! package) serving the same certificates with one server block per domain, plus nginx's reload
//! time for one certificate change.
//!
//! Run: `cargo bench -p livecert --bench edge -- --domains 10000 --key p256 [--nginx]`
//! (options: `--domains 1|10000|100000`, `--key p256|rsa2048`, `--seconds 10`, `--clients 4`,
//! `--changes 200`, `--nginx`, `--nginx-workers 2`, `--nginx-reloads 5`, `--no-propagation`).
//!
//! The servers are real processes (the `livecert` binary of this build, `/usr/sbin/nginx`), so
//! their CPU time is read from /proc/<pid>/stat and does not include the load client, which runs in
//! this process on the same cores. Only 127.0.0.1 is used. Every certificate is a leaf for its own
//! domain signed by one P-256 benchmark CA; all leaves of a run share one key (`--key`), so
//! generation stays fast. Handshakes: TLS 1.3 only, no resumption (a client config without
//! session storage or tickets), no ALPN, the server's chain not verified (the client's cost is not
//! what is measured).

mod support;

use support::{connector, free_port, handshake};

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use livecert::clock::{Clock, SystemClock};
use livecert::datadir::DataDir;
use livecert_core::names::{CertName, DomainName};
use livecert_core::params::Pair;
use livecert_core::secret::Secret;
use livecert_store::NewDomain;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

const KEY_ID: &str = "LTAIedgebench00000000001";
const SECRET: &str = "edgebenchsecret000000000000001";

struct Options {
    domains: usize,
    key: String,
    seconds: u64,
    clients: usize,
    changes: usize,
    nginx: bool,
    nginx_workers: usize,
    nginx_reloads: usize,
    propagation: bool,
}

fn options() -> Options {
    let args: Vec<String> = std::env::args().collect();
    let get = support::arg;
    let num = |name: &str, default: u64| get(name).and_then(|v| v.parse().ok()).unwrap_or(default);
    Options {
        domains: num("--domains", 1) as usize,
        key: get("--key").unwrap_or_else(|| "p256".to_owned()),
        seconds: num("--seconds", 10),
        clients: num("--clients", 4) as usize,
        changes: num("--changes", 200) as usize,
        nginx: args.iter().any(|a| a == "--nginx"),
        nginx_workers: num("--nginx-workers", 2) as usize,
        nginx_reloads: num("--nginx-reloads", 5) as usize,
        propagation: !args.iter().any(|a| a == "--no-propagation"),
    }
}

fn domain(i: usize) -> String {
    format!("d{i}.edge-bench.example.com")
}

/// The benchmark CA and the one leaf key of the run.
struct Pki {
    ca_pem: String,
    ca: Issuer<'static, KeyPair>,
    leaf_key: KeyPair,
    leaf_key_pem: String,
    serial: AtomicU64,
}

impl Pki {
    fn new(kind: &str) -> Self {
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "livecert edge bench CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_pem = ca_params.self_signed(&ca_key).expect("CA").pem();
        let leaf_key = match kind {
            "rsa2048" => {
                let out = Command::new("openssl")
                    .args([
                        "genpkey",
                        "-algorithm",
                        "RSA",
                        "-pkeyopt",
                        "rsa_keygen_bits:2048",
                    ])
                    .output()
                    .expect("openssl runs");
                KeyPair::from_pem(&String::from_utf8_lossy(&out.stdout)).expect("RSA key")
            }
            _ => KeyPair::generate().expect("P-256 key"),
        };
        let leaf_key_pem = leaf_key.serialize_pem();
        Self {
            ca_pem,
            ca: Issuer::new(ca_params, ca_key),
            leaf_key,
            leaf_key_pem,
            serial: AtomicU64::new(1),
        }
    }

    /// A chain (leaf + CA, PEM) for `name`, and the leaf's DER.
    fn chain(&self, name: &str) -> (String, Vec<u8>) {
        let now = SystemClock.now();
        let mut p = CertificateParams::new(vec![name.to_owned()]).expect("params");
        p.distinguished_name.push(DnType::CommonName, name);
        p.serial_number = Some(self.serial.fetch_add(1, Ordering::Relaxed).into());
        p.not_before = time::OffsetDateTime::from_unix_timestamp(now - 86_400).expect("time");
        p.not_after = time::OffsetDateTime::from_unix_timestamp(now + 90 * 86_400).expect("time");
        let cert = p.signed_by(&self.leaf_key, &self.ca).expect("leaf");
        (
            format!("{}{}", cert.pem(), self.ca_pem),
            cert.der().to_vec(),
        )
    }
}

// ---- TLS client --------------------------------------------------------------------------------

// The TLS client is benches/support's: TLS 1.3, no resumption, any chain accepted.

// ---- /proc ---------------------------------------------------------------------------------------

fn ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// CPU seconds (user + system) of `pid` (its threads included).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let t = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (t(11) + t(12)) / ticks_per_second()
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn children_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(p) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        if rest
            .split_whitespace()
            .nth(1)
            .and_then(|v| v.parse::<u32>().ok())
            == Some(pid)
        {
            out.push(p);
        }
    }
    out
}

/// Waits until `addr` accepts a connection; the time it took from `since`.
async fn wait_open(addr: SocketAddr, since: Instant, limit: Duration) -> Duration {
    loop {
        if TcpStream::connect(addr).await.is_ok() {
            return since.elapsed();
        }
        assert!(
            since.elapsed() < limit,
            "{addr} did not open within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

// ---- load ------------------------------------------------------------------------------------------

struct Load {
    handshakes: u64,
    failures: u64,
    seconds: f64,
    cpu_us_per_handshake: f64,
}

/// Full handshakes with random SNI over `domains` names from `clients` tasks for `seconds`; the
/// CPU time of `pids` (the server) per successful handshake.
async fn load(
    addr: SocketAddr,
    domains: usize,
    clients: usize,
    seconds: u64,
    pids: &[u32],
) -> Load {
    let tls = connector();
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let cpu0: f64 = pids.iter().map(|p| cpu_seconds(*p)).sum();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (tls, ok, failed) = (tls.clone(), Arc::clone(&ok), Arc::clone(&failed));
        tasks.push(tokio::spawn(async move {
            let mut x: u64 =
                0x9E37_79B9_7F4A_7C15 ^ (c as u64 + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            while Instant::now() < deadline {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let name = domain((x % domains as u64) as usize);
                if handshake(&tls, addr, &name).await.is_some() {
                    ok.fetch_add(1, Ordering::Relaxed);
                } else {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for t in tasks {
        t.await.expect("client task");
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu1: f64 = pids.iter().map(|p| cpu_seconds(*p)).sum();
    let handshakes = ok.load(Ordering::Relaxed);
    Load {
        handshakes,
        failures: failed.load(Ordering::Relaxed),
        seconds,
        cpu_us_per_handshake: (cpu1 - cpu0) * 1e6 / handshakes.max(1) as f64,
    }
}

fn pct(sorted: &[Duration], q: f64) -> f64 {
    sorted
        .get(((sorted.len() as f64 * q) as usize).min(sorted.len().saturating_sub(1)))
        .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
}

/// Handshakes with `sni` until the presented leaf is `leaf`; the time from `since`.
async fn until_served(
    tls: &TlsConnector,
    addr: SocketAddr,
    sni: &str,
    leaf: &[u8],
    since: Instant,
) -> Duration {
    loop {
        if handshake(tls, addr, sni).await.as_deref() == Some(leaf) {
            return since.elapsed();
        }
        assert!(
            since.elapsed() < Duration::from_secs(900),
            "{sni}: new leaf not served in 900 s"
        );
    }
}

// ---- the store -----------------------------------------------------------------------------------

/// Builds the store; the account, and per domain the chain's PEM bytes and DER bytes.
async fn build_store(dir: &Path, pki: &Arc<Pki>, n: usize) -> (u64, u64, u64) {
    let now = SystemClock.now();
    let data = DataDir::open(dir).expect("data dir");
    let store = livecert::store_location::open_store(&data, None)
        .await
        .expect("store");
    let account = store.create_account(now).await.expect("account");
    store
        .import_access_key(
            account,
            KEY_ID,
            &Secret::new(SECRET.as_bytes().to_vec()),
            now,
        )
        .await
        .expect("key");
    let sem = Arc::new(tokio::sync::Semaphore::new(256));
    let mut tasks = Vec::new();
    let chain_bytes = Arc::new(AtomicU64::new(0));
    let der_bytes = Arc::new(AtomicU64::new(0));
    for i in 0..n {
        let permit = Arc::clone(&sem).acquire_owned().await.expect("permit");
        let (store, pki, chain_bytes, der_bytes) = (
            store.clone(),
            Arc::clone(pki),
            Arc::clone(&chain_bytes),
            Arc::clone(&der_bytes),
        );
        tasks.push(tokio::spawn(async move {
            let name = DomainName::parse(&domain(i)).expect("domain");
            store
                .add_domain(
                    account,
                    NewDomain {
                        name: name.clone(),
                        live_domain_type: "liveVideo".to_owned(),
                        region: "cn-shanghai".to_owned(),
                        scope: "domestic".to_owned(),
                        check_url: None,
                        top_level_domain: None,
                        resource_group_id: None,
                    },
                    now,
                )
                .await
                .expect("add domain");
            let (chain, _) = pki.chain(&domain(i));
            let upload = livecert_core::cert::check_upload(
                Some(chain.as_bytes()),
                Some(pki.leaf_key_pem.as_bytes()),
                now,
            )
            .expect("certificate checks");
            chain_bytes.fetch_add(chain.len() as u64, Ordering::Relaxed);
            der_bytes.fetch_add(
                upload.chain_der.iter().map(|d| d.len() as u64).sum(),
                Ordering::Relaxed,
            );
            store
                .set_upload(
                    account,
                    &name,
                    CertName::parse(&format!("c{i}")).expect("name"),
                    true,
                    upload,
                    now,
                )
                .await
                .expect("set upload");
            drop(permit);
        }));
        if tasks.len() >= 4096 {
            for t in tasks.drain(..) {
                t.await.expect("insert");
            }
        }
    }
    for t in tasks {
        t.await.expect("insert");
    }
    store.checkpoint().await.expect("checkpoint");
    drop(store);
    (
        account,
        chain_bytes.load(Ordering::Relaxed) / n.max(1) as u64,
        der_bytes.load(Ordering::Relaxed) / n.max(1) as u64,
    )
}

fn signed(addr: SocketAddr, action: &str, params: &[Pair]) -> http::Request<Full<Bytes>> {
    support::signed_request(addr, KEY_ID, SECRET, action, params)
}

// ---- nginx ---------------------------------------------------------------------------------------

fn write_nginx(dir: &Path, pki: &Pki, n: usize, port: u16, workers: usize) -> PathBuf {
    std::fs::create_dir_all(dir.join("certs")).expect("nginx dir");
    std::fs::write(dir.join("key.pem"), &pki.leaf_key_pem).expect("key");
    let mut conf = format!(
        "worker_processes {workers};\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
         events {{ worker_connections 4096; }}\n\
         http {{\n  access_log off;\n  ssl_protocols TLSv1.3;\n  ssl_session_cache off;\n  ssl_session_tickets off;\n\
         \x20 server_names_hash_max_size 262144;\n  server_names_hash_bucket_size 128;\n\
         \x20 client_body_temp_path {d}/tmp;\n  proxy_temp_path {d}/tmp;\n  fastcgi_temp_path {d}/tmp;\n  uwsgi_temp_path {d}/tmp;\n  scgi_temp_path {d}/tmp;\n",
        d = dir.display()
    );
    for i in 0..n {
        let (chain, _) = pki.chain(&domain(i));
        let path = dir.join("certs").join(format!("d{i}.pem"));
        std::fs::write(&path, chain).expect("chain");
        let _ = writeln!(
            conf,
            "  server {{ listen 127.0.0.1:{port} ssl; server_name {}; ssl_certificate {}; ssl_certificate_key {}/key.pem; return 204; }}",
            domain(i),
            path.display(),
            dir.display()
        );
    }
    conf.push_str("}\n");
    let conf_path = dir.join("nginx.conf");
    std::fs::write(&conf_path, conf).expect("nginx.conf");
    std::fs::create_dir_all(dir.join("tmp")).expect("tmp");
    conf_path
}

// ---- main ----------------------------------------------------------------------------------------

fn main() {
    let o = options();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(o));
}

async fn run(opts: Options) {
    let bin = env!("CARGO_BIN_EXE_livecert");
    let domain_count = opts.domains;
    let pki = Arc::new(Pki::new(&opts.key));
    let tmp = tempfile::tempdir_in(".").expect("temp dir on the working disk");
    let data = tmp.path().join("data");

    eprintln!(
        "building the store: {domain_count} domains, key {}…",
        opts.key
    );
    let build_started = Instant::now();
    let (_, chain_pem_bytes, chain_der_bytes) = build_store(&data, &pki, domain_count).await;
    eprintln!(
        "store built in {:.1} s",
        build_started.elapsed().as_secs_f64()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut rows = Vec::new();

    // The edge alone (`livecert edge`), on the store just built.
    let addr = free_port();
    let started = Instant::now();
    let child = Command::new(bin)
        .args(["edge", "--data-dir"])
        .arg(&data)
        .args(["--edge-listen", &addr.to_string()])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("livecert edge starts");
    let pid = child.id();
    let startup = wait_open(addr, started, Duration::from_secs(120)).await;
    let rss_start = rss_kib(pid);
    let measured = load(addr, domain_count, opts.clients, opts.seconds, &[pid]).await;
    let rss_after = rss_kib(pid);
    stop(child);
    eprintln!(
        "livecert edge: {} handshakes in {:.1} s, {:.0} µs CPU/handshake, startup {startup:?}, RSS {rss_start} -> {rss_after} KiB",
        measured.handshakes, measured.seconds, measured.cpu_us_per_handshake
    );
    rows.push((
        "livecert edge".to_owned(),
        measured,
        Some(startup),
        rss_start,
        rss_after,
    ));

    // nginx with one server block per domain.
    let mut reload_ms = Vec::new();
    if opts.nginx {
        let dir = tmp.path().join("nginx");
        let addr = free_port();
        eprintln!("writing {domain_count} certificates and server blocks for nginx…");
        let conf = write_nginx(&dir, &pki, domain_count, addr.port(), opts.nginx_workers);
        let started = Instant::now();
        let child = Command::new("/usr/sbin/nginx")
            .args(["-c"])
            .arg(&conf)
            .args(["-g", "daemon off;"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx starts");
        let master = child.id();
        let startup = wait_open(addr, started, Duration::from_secs(900)).await;
        let mut workers = children_of(master);
        while workers.len() < opts.nginx_workers {
            tokio::time::sleep(Duration::from_millis(50)).await;
            workers = children_of(master);
        }
        let mut pids = vec![master];
        pids.extend(&workers);
        let rss_start: u64 = pids.iter().map(|p| rss_kib(*p)).sum();
        let measured = load(addr, domain_count, opts.clients, opts.seconds, &pids).await;
        eprintln!(
            "nginx: {} handshakes in {:.1} s, {:.0} µs CPU/handshake, startup {startup:?}",
            measured.handshakes, measured.seconds, measured.cpu_us_per_handshake
        );
        let rss_after: u64 = children_of(master)
            .iter()
            .chain([master].iter())
            .map(|p| rss_kib(*p))
            .sum();
        // Reload: one certificate changed on disk, `nginx -s reload`, until served.
        let tls = connector();
        for k in 0..opts.nginx_reloads {
            let i = (k * 7919) % domain_count;
            let (chain, leaf) = pki.chain(&domain(i));
            std::fs::write(dir.join("certs").join(format!("d{i}.pem")), chain).expect("chain");
            let timer = Instant::now();
            let status = Command::new("/usr/sbin/nginx")
                .args(["-c"])
                .arg(&conf)
                .args(["-s", "reload"])
                .stderr(Stdio::null())
                .status()
                .expect("nginx -s reload");
            assert!(status.success(), "nginx -s reload failed");
            reload_ms.push(until_served(&tls, addr, &domain(i), &leaf, timer).await);
        }
        stop(child);
        let _ = std::fs::remove_dir_all(&dir);
        rows.push((
            format!("nginx ({} workers)", opts.nginx_workers),
            measured,
            Some(startup),
            rss_start,
            rss_after,
        ));
    }

    // Propagation through a real `livecert serve` (its own edge) on the same store.
    let mut prop = Vec::new();
    if opts.propagation && opts.changes > 0 {
        let api = free_port();
        let edge = free_port();
        let child = Command::new(bin)
            .args(["serve", "--data-dir"])
            .arg(&data)
            .args([
                "--listen",
                &api.to_string(),
                "--edge-listen",
                &edge.to_string(),
                "--rate-limits",
                "off",
            ])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("livecert serve starts");
        let timer = Instant::now();
        wait_open(api, timer, Duration::from_secs(120)).await;
        wait_open(edge, timer, Duration::from_secs(120)).await;
        let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
        let tls = connector();
        let mut gap: u64 = u64::from(std::process::id()) | 1;
        for k in 0..opts.changes {
            let i = (k * 7919 + 13) % domain_count;
            let name = domain(i);
            let (chain, leaf) = pki.chain(&name);
            let req = signed(
                api,
                "SetLiveDomainCertificate",
                &[
                    ("DomainName".to_owned(), name.clone().into_bytes()),
                    ("SSLProtocol".to_owned(), b"on".to_vec()),
                    ("CertName".to_owned(), format!("p{k}").into_bytes()),
                    ("SSLPub".to_owned(), chain.into_bytes()),
                    ("SSLPri".to_owned(), pki.leaf_key_pem.clone().into_bytes()),
                    ("ForceSet".to_owned(), b"1".to_vec()),
                ],
            );
            let r = client.request(req).await.expect("API call");
            let status = r.status();
            let body = r.into_body().collect().await.expect("body").to_bytes();
            assert_eq!(status, 200, "Set: {}", String::from_utf8_lossy(&body));
            let answered = Instant::now();
            prop.push(until_served(&tls, edge, &name, &leaf, answered).await);
            // A random pause of 0–199 ms, so that the changes do not phase-lock with the edge's
            // poll of the change counter (a fixed pause close to the period made every change
            // land at the same point of it).
            gap ^= gap << 13;
            gap ^= gap >> 7;
            gap ^= gap << 17;
            tokio::time::sleep(Duration::from_millis(gap % 200)).await;
        }
        stop(child);
    }

    // What the edge's map must hold per domain: the DER chain and the sealed key (the key PEM,
    // a 12-byte nonce and a 16-byte tag).
    let sealed_key_bytes = pki.leaf_key_pem.len() as u64 + 28;
    println!(
        "\ndomains: {domain_count}, key: {}, clients: {}, seconds: {}, chain PEM bytes per domain: {chain_pem_bytes}, key PEM bytes: {}, certificate bytes per domain (DER chain {chain_der_bytes} + sealed key {sealed_key_bytes}): {}\n",
        opts.key,
        opts.clients,
        opts.seconds,
        pki.leaf_key_pem.len(),
        chain_der_bytes + sealed_key_bytes
    );
    println!("| server | domains | key | handshakes | failed | handshakes/s | server CPU µs/handshake | startup (spawn → port open) | RSS after start | RSS after load |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for (name, measured, startup, rss0, rss1) in &rows {
        println!(
            "| {name} | {domain_count} | {} | {} | {} | {:.0} | {:.0} | {} | {:.1} MiB | {:.1} MiB |",
            opts.key,
            measured.handshakes,
            measured.failures,
            measured.handshakes as f64 / measured.seconds,
            measured.cpu_us_per_handshake,
            startup.map_or("-".to_owned(), |d| format!(
                "{:.0} ms",
                d.as_secs_f64() * 1000.0
            )),
            *rss0 as f64 / 1024.0,
            *rss1 as f64 / 1024.0,
        );
    }
    if !prop.is_empty() {
        prop.sort();
        println!(
            "\npropagation (livecert serve, {} changes, API response → first handshake with the new leaf): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            prop.len(),
            pct(&prop, 0.50),
            pct(&prop, 0.99),
            prop.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0)
        );
    }
    if !reload_ms.is_empty() {
        reload_ms.sort();
        let ms: Vec<String> = reload_ms
            .iter()
            .map(|d| format!("{:.0}", d.as_secs_f64() * 1000.0))
            .collect();
        println!(
            "nginx: `nginx -s reload` after one certificate file changed → first handshake with the new leaf ({} changes): {} ms",
            reload_ms.len(),
            ms.join(", ")
        );
    }
}
