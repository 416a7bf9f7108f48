//! Out-of-process load generator (issue 14): the API measured from a separate process, with the
//! workload of certificate-renewal automation, beside the ceilings of this machine measured in the
//! same run.
//!
//! Run: `cargo bench -p livecert --bench load -- [options]`. By default it starts `livecert serve`
//! (this build's release binary, rate limits off, its edge on) on a durable SQLite store in a
//! temporary directory under the current directory, makes `--accounts` accounts with `livecert
//! admin`, one domain each, and runs every phase for `--seconds` seconds after a one-second
//! warm-up:
//!
//! | phase | what each call is |
//! | --- | --- |
//! | `sqlite-ceiling` | not a call: one process committing a 3 KB row per transaction to a SQLite file in WAL mode with `synchronous=FULL`, on the data directory's disk: the rate at which any durable write can be answered |
//! | `set-rsa-<sig>-<key>` | SetLiveDomainCertificate rotating the account's record `load` (`ForceSet=1`) between two RSA-2048 leaves, each with its RSA-2048 intermediate, the key as PKCS#1 (`pkcs1`) or PKCS#8 (`pkcs8`), signed with V1 HMAC-SHA1 (`v1`, every parameter in the form body, as pop-core and acme.sh-style hooks send) or ACS3-HMAC-SHA256 (`v3`) |
//! | `set-p256-<sig>` | the same with P-256 leaves and intermediates, PKCS#8 keys |
//! | `describe-<sig>` | DescribeLiveDomainCertificateInfo of the account's domain (the answer carries the chain) |
//! | `nginx-ceiling` | the `describe-v1` requests sent to nginx (one worker) answering each with a fixed 2 KB body: the HTTP ceiling of this machine with this client |
//!
//! Call n (numbered across clients) is made for account n mod `--accounts` with that account's
//! root AccessKey; `--clients` tasks each keep one HTTP/1.1 connection alive and call back to
//! back. Every answer must be HTTP 200 (the others are counted as errors and the first is shown).
//! Server CPU per call is the servers' user + system time over the phase (from `/proc`) divided by
//! the calls answered; the load average is `/proc/loadavg`'s one-minute figure at the phase's end.
//!
//! Options (after `--`):
//! - `--phases a,b,…` (default: every phase above, in that order);
//! - `--clients 16`, `--accounts 128`, `--seconds 10`;
//! - `--store sqlite|postgres` and `--nodes 1`: PostgreSQL is a fresh database on
//!   `LIVECERT_BENCH_POSTGRES` (default `postgres://postgres@127.0.0.1:5432/postgres`), dropped at
//!   the end; with several nodes client i calls node i mod `--nodes`;
//! - `--edge on|off`: whether each `serve` runs its edge (default on);
//! - `--endpoint http://h:p[,http://h:p…] --data-dir DIR [--store-url URL] [--server-pids p,…]`:
//!   load a server already running (started with `--rate-limits off`) instead; the accounts are
//!   made with `livecert admin` on its data directory and store.
//!
//! The load generator signs with the functions of `livecert call` (`livecert::client`), which are
//! tested against the requests recorded from the official SDKs; it shares the machine's cores with
//! the servers.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lc_rs::encoding::AsDer;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use livecert::client::{signed_request, CallRequest, SignatureScheme};
use livecert::clock::{Clock, SystemClock};
use livecert_core::secret::Secret;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, PKCS_ECDSA_P256_SHA256,
    PKCS_RSA_SHA256,
};
use rustls::pki_types::PrivatePkcs8KeyDer;

use support::{free_port, pct, process_cpu, wait_open, Database, Process};

/// Every phase, in the default order.
const ALL_PHASES: &[&str] = &[
    "sqlite-ceiling",
    "set-rsa-v1-pkcs1",
    "set-rsa-v1-pkcs8",
    "set-rsa-v3-pkcs1",
    "set-rsa-v3-pkcs8",
    "set-p256-v1",
    "set-p256-v3",
    "describe-v1",
    "describe-v3",
    "nginx-ceiling",
];

/// The record every Set rotates.
const CERT_NAME: &str = "load";

struct Options {
    phases: Vec<String>,
    clients: usize,
    accounts: usize,
    seconds: u64,
    store: String,
    nodes: usize,
    edge: bool,
    endpoint: Option<Vec<String>>,
    data_dir: Option<PathBuf>,
    store_url: Option<String>,
    server_pids: Vec<u32>,
}

fn options() -> Options {
    let get = support::arg;
    let num = |name: &str, default: u64| {
        get(name).map_or(default, |v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name} takes a number, not {v}"))
        })
    };
    let list = |v: String| -> Vec<String> {
        v.split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let phases = get("--phases").map_or_else(
        || ALL_PHASES.iter().map(|p| (*p).to_owned()).collect(),
        list,
    );
    for phase in &phases {
        assert!(
            ALL_PHASES.contains(&phase.as_str()),
            "unknown phase {phase}: the phases are {}",
            ALL_PHASES.join(",")
        );
    }
    Options {
        phases,
        clients: num("--clients", 16) as usize,
        accounts: num("--accounts", 128).max(1) as usize,
        seconds: num("--seconds", 10),
        store: get("--store").unwrap_or_else(|| "sqlite".to_owned()),
        nodes: num("--nodes", 1).max(1) as usize,
        edge: get("--edge").as_deref() != Some("off"),
        endpoint: get("--endpoint").map(list),
        data_dir: get("--data-dir").map(PathBuf::from),
        store_url: get("--store-url"),
        server_pids: get("--server-pids")
            .map(list)
            .unwrap_or_default()
            .iter()
            .map(|p| p.parse().expect("--server-pids takes process ids"))
            .collect(),
    }
}

/// One account's credentials and the two versions of its certificate in each form.
struct Account {
    key_id: String,
    secret: Secret,
    domain: String,
    /// `[version]`: RSA chain PEM, PKCS#1 key PEM, PKCS#8 key PEM.
    rsa: [(String, String, String); 2],
    /// `[version]`: P-256 chain PEM, PKCS#8 key PEM.
    p256: [(String, String); 2],
}

/// The servers under load (and the processes to stop at the end).
struct Servers {
    endpoints: Vec<String>,
    pids: Vec<u32>,
    data_dir: PathBuf,
    store_url: Option<String>,
    _processes: Vec<Process>,
    _database: Option<Database>,
    _dir: Option<tempfile::TempDir>,
}

fn main() {
    let opts = options();
    let runtime = support::runtime();
    runtime.block_on(run(&opts));
}

async fn run(opts: &Options) {
    let servers = start_servers(opts).await;
    eprintln!(
        "load: {} server(s) at {}; making {} accounts and their certificates",
        servers.endpoints.len(),
        servers.endpoints.join(", "),
        opts.accounts
    );
    let accounts = Arc::new(make_accounts(opts, &servers));
    let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(opts.clients)
        .build_http();
    let endpoints = Arc::new(servers.endpoints.clone());
    // Every domain, and a first record bound to it, so that Describe reads a chain.
    for (i, account) in accounts.iter().enumerate() {
        let endpoint = &endpoints[i % endpoints.len()];
        let (status, body) = call(
            &client,
            endpoint,
            account,
            SignatureScheme::V3,
            "AddLiveDomain",
            &[
                ("DomainName", &account.domain),
                ("LiveDomainType", "liveVideo"),
                ("Region", "cn-shanghai"),
            ],
        )
        .await;
        assert!(
            status == 200 || body.contains("DomainAlreadyExist"),
            "AddLiveDomain: {status} {body}"
        );
        let (status, body) = call(
            &client,
            endpoint,
            account,
            SignatureScheme::V3,
            "SetLiveDomainCertificate",
            &set_params(account, "rsa", "pkcs8", 0),
        )
        .await;
        assert_eq!(status, 200, "SetLiveDomainCertificate: {body}");
    }

    let mut rows = Vec::new();
    for phase in &opts.phases {
        eprintln!("load: {phase}");
        let row = match phase.as_str() {
            "sqlite-ceiling" => sqlite_ceiling(&servers.data_dir, opts.seconds),
            "nginx-ceiling" => match Nginx::start().await {
                Some(nginx) => {
                    let endpoints = Arc::new(vec![nginx.endpoint.clone()]);
                    let mut row = load_phase(
                        opts,
                        &client,
                        &endpoints,
                        &accounts,
                        phase,
                        &[nginx.process.0.id()],
                    )
                    .await;
                    row.ok = row.calls; // nginx answers 200 to everything
                    row
                }
                None => Row::note(phase, "nginx not found on PATH: install nginx"),
            },
            _ => load_phase(opts, &client, &endpoints, &accounts, phase, &servers.pids).await,
        };
        eprintln!("  {}", row.markdown());
        rows.push(row);
    }
    println!(
        "\n{} server(s), store {}, edge {}, {} clients, {} accounts, {} s per phase\n",
        servers.endpoints.len(),
        if opts.endpoint.is_some() {
            "as running".to_owned()
        } else {
            opts.store.clone()
        },
        if opts.edge { "on" } else { "off" },
        opts.clients,
        opts.accounts,
        opts.seconds
    );
    println!(
        "| phase | calls/s | p50 | p99 | server CPU per call | load generator CPU per call | errors | load avg |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for row in rows {
        println!("{}", row.markdown());
    }
}

/// The servers of `opts`: started here, or those of `--endpoint`.
async fn start_servers(opts: &Options) -> Servers {
    if let Some(endpoints) = &opts.endpoint {
        let data_dir = opts
            .data_dir
            .clone()
            .expect("--endpoint needs --data-dir (the accounts are made with livecert admin)");
        return Servers {
            endpoints: endpoints.clone(),
            pids: opts.server_pids.clone(),
            data_dir,
            store_url: opts.store_url.clone(),
            _processes: Vec::new(),
            _database: None,
            _dir: None,
        };
    }
    let dir = tempfile::Builder::new()
        .prefix("livecert-load-")
        .tempdir_in(".")
        .expect("temp dir under the current directory");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))
            .expect("chmod 700 the data directory");
    }
    let database = match opts.store.as_str() {
        "sqlite" => None,
        "postgres" => Some(Database::create()),
        other => panic!("--store sqlite|postgres, not {other}"),
    };
    let store_url = database.as_ref().map(|d| d.url.clone());
    let mut processes = Vec::new();
    let mut endpoints = Vec::new();
    // Every node's three ports, chosen together so that none is chosen twice.
    let mut ports = {
        let held: Vec<std::net::TcpListener> = (0..opts.nodes * 3)
            .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind"))
            .collect();
        held.iter()
            .map(|l| l.local_addr().expect("addr"))
            .collect::<Vec<_>>()
            .into_iter()
    };
    let mut port = move || ports.next().expect("a port per listener");
    for node in 0..opts.nodes {
        let addr = port();
        let mut serve = Command::new(env!("CARGO_BIN_EXE_livecert"));
        serve
            .args(["serve", "--rate-limits", "off", "--listen"])
            .arg(addr.to_string())
            .arg("--data-dir")
            .arg(dir.path())
            .env("LIVECERT_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(
                std::fs::File::create(dir.path().join(format!("serve-{node}.log")))
                    .expect("log file"),
            );
        if opts.edge {
            serve
                .arg("--edge-listen")
                .arg(port().to_string())
                .arg("--edge-http-listen")
                .arg(port().to_string());
        } else {
            serve.arg("--no-edge");
        }
        if let Some(url) = &store_url {
            serve.args(["--store", url]);
        }
        processes.push(Process(serve.spawn().expect("livecert serve starts")));
        // The first node makes the store and the master key; the others open them.
        let log = dir.path().join(format!("serve-{node}.log"));
        let opened = tokio::time::timeout(Duration::from_secs(60), wait_open(addr)).await;
        assert!(
            opened.is_ok(),
            "node {node} did not open {addr} within 60 s; its log:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        endpoints.push(format!("http://{addr}"));
    }
    Servers {
        endpoints,
        pids: processes.iter().map(|p| p.0.id()).collect(),
        data_dir: dir.path().to_owned(),
        store_url,
        _processes: processes,
        _database: database,
        _dir: Some(dir),
    }
}

/// `livecert admin … --json <args>` on the servers' store; its JSON answer.
fn admin(servers: &Servers, args: &[&str]) -> serde_json::Value {
    let mut command = Command::new(env!("CARGO_BIN_EXE_livecert"));
    command
        .arg("admin")
        .arg("--data-dir")
        .arg(&servers.data_dir)
        .arg("--json");
    if let Some(url) = &servers.store_url {
        command.args(["--store", url]);
    }
    let out = command
        .args(args)
        .env("LIVECERT_LOG", "error")
        .output()
        .expect("livecert admin runs");
    assert!(
        out.status.success(),
        "livecert admin {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("livecert admin answers JSON")
}

/// `opts.accounts` new accounts, each with a root AccessKey, a domain and its certificates.
fn make_accounts(opts: &Options, servers: &Servers) -> Vec<Account> {
    let rsa_ca = Ca::new(&PKCS_RSA_SHA256);
    let p256_ca = Ca::new(&PKCS_ECDSA_P256_SHA256);
    // RSA key generation is slow: a few leaf keys, each used by many certificates.
    let rsa_keys: Vec<Vec<u8>> = (0..4).map(|_| rsa_2048_pkcs8()).collect();
    let run = uuid::Uuid::new_v4().simple().to_string();
    (0..opts.accounts)
        .map(|i| {
            let account = admin(servers, &["account", "create"]);
            let id = account["AccountId"].as_str().expect("AccountId").to_owned();
            let key = admin(servers, &["key", "create", "--account", &id]);
            let domain = format!("a{i}-{}.load.example.com", &run[..8]);
            let rsa = [0, 1].map(|v| {
                let pkcs8 = &rsa_keys[(2 * i + v) % rsa_keys.len()];
                let chain = rsa_ca.issue(&domain, pkcs8, &PKCS_RSA_SHA256);
                (chain, pem_of_pkcs1(pkcs8), pem("PRIVATE KEY", pkcs8))
            });
            let p256 = [0, 1].map(|_| {
                let pkcs8 = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)
                    .expect("P-256 key")
                    .serialize_der();
                let chain = p256_ca.issue(&domain, &pkcs8, &PKCS_ECDSA_P256_SHA256);
                (chain, pem("PRIVATE KEY", &pkcs8))
            });
            Account {
                key_id: key["AccessKeyId"].as_str().expect("AccessKeyId").to_owned(),
                secret: Secret::new(
                    key["AccessKeySecret"]
                        .as_str()
                        .expect("AccessKeySecret")
                        .as_bytes()
                        .to_vec(),
                ),
                domain,
                rsa,
                p256,
            }
        })
        .collect()
}

/// A root and an intermediate CA of one algorithm; leaves are issued by the intermediate.
struct Ca {
    intermediate_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    fn new(alg: &'static rcgen::SignatureAlgorithm) -> Self {
        let key = |alg: &'static rcgen::SignatureAlgorithm| {
            if alg == &PKCS_RSA_SHA256 {
                KeyPair::from_pkcs8_der_and_sign_algo(
                    &PrivatePkcs8KeyDer::from(rsa_2048_pkcs8()),
                    alg,
                )
                .expect("RSA key")
            } else {
                KeyPair::generate_for(alg).expect("key")
            }
        };
        let ca_params = |name: &str| {
            let mut params = CertificateParams::default();
            params.distinguished_name.push(DnType::CommonName, name);
            params
                .distinguished_name
                .push(DnType::OrganizationName, "livecert load generator");
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params
        };
        let root_key = key(alg);
        let root_params = ca_params("livecert load root");
        root_params.self_signed(&root_key).expect("root");
        let root = Issuer::new(root_params, root_key);
        let mid_key = key(alg);
        let mid_params = ca_params("livecert load intermediate");
        let mid = mid_params.signed_by(&mid_key, &root).expect("intermediate");
        Self {
            intermediate_pem: mid.pem(),
            issuer: Issuer::new(mid_params, mid_key),
        }
    }

    /// Leaf for `domain` with the PKCS#8 key `pkcs8`, issued by the intermediate: chain PEM,
    /// leaf then intermediate.
    fn issue(&self, domain: &str, pkcs8: &[u8], alg: &'static rcgen::SignatureAlgorithm) -> String {
        let key = KeyPair::from_pkcs8_der_and_sign_algo(&PrivatePkcs8KeyDer::from(pkcs8), alg)
            .expect("leaf key");
        let mut params = CertificateParams::new(vec![domain.to_owned()]).expect("params");
        params.distinguished_name.push(DnType::CommonName, domain);
        let leaf = params.signed_by(&key, &self.issuer).expect("leaf");
        format!("{}{}", leaf.pem(), self.intermediate_pem)
    }
}

/// A new RSA-2048 key, PKCS#8 DER (aws-lc-rs).
fn rsa_2048_pkcs8() -> Vec<u8> {
    let key = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("RSA");
    key.as_der().expect("PKCS#8").as_ref().to_vec()
}

/// The PKCS#1 `RSA PRIVATE KEY` PEM of a PKCS#8 RSA key (the `privateKey` it wraps).
fn pem_of_pkcs1(pkcs8: &[u8]) -> String {
    let info = pkcs8::PrivateKeyInfo::try_from(pkcs8).expect("PKCS#8");
    pem("RSA PRIVATE KEY", info.private_key)
}

fn pem(label: &str, der: &[u8]) -> String {
    livecert_core::cert::pem::encode(label, der)
}

/// SetLiveDomainCertificate's parameters for `account`'s version `version` of `alg` with `form`.
fn set_params<'a>(
    account: &'a Account,
    alg: &str,
    form: &str,
    version: usize,
) -> [(&'a str, &'a str); 6] {
    let (chain, key) = match (alg, form) {
        ("rsa", "pkcs1") => (&account.rsa[version].0, &account.rsa[version].1),
        ("rsa", _) => (&account.rsa[version].0, &account.rsa[version].2),
        _ => (&account.p256[version].0, &account.p256[version].1),
    };
    [
        ("DomainName", account.domain.as_str()),
        ("CertName", CERT_NAME),
        ("SSLProtocol", "on"),
        ("ForceSet", "1"),
        ("SSLPub", chain.as_str()),
        ("SSLPri", key.as_str()),
    ]
}

/// One signed call; HTTP status and body.
async fn call(
    client: &Client<HttpConnector, Full<Bytes>>,
    endpoint: &str,
    account: &Account,
    scheme: SignatureScheme,
    action: &str,
    params: &[(&str, &str)],
) -> (u16, String) {
    let request = CallRequest {
        endpoint: endpoint.to_owned(),
        action: action.to_owned(),
        params: params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
            .collect(),
        access_key_id: account.key_id.clone(),
        access_key_secret: account.secret.clone(),
        scheme,
        now: SystemClock.now(),
        security_token: None,
        ca_cert: None,
    };
    let authority = endpoint.trim_start_matches("http://");
    let request = signed_request(&request, authority).expect("request");
    match client.request(request).await {
        Ok(response) => {
            let status = response.status().as_u16();
            let body = response
                .into_body()
                .collect()
                .await
                .map(http_body_util::Collected::to_bytes)
                .unwrap_or_default();
            (status, String::from_utf8_lossy(&body).into_owned())
        }
        Err(e) => (0, format!("connection: {e}")),
    }
}

/// One phase's figures.
struct Row {
    phase: String,
    calls: usize,
    ok: usize,
    per_second: f64,
    p50: Duration,
    p99: Duration,
    server_cpu: Option<Duration>,
    own_cpu: Duration,
    load: String,
    note: String,
}

impl Row {
    fn note(phase: &str, note: &str) -> Self {
        Self {
            phase: phase.to_owned(),
            calls: 0,
            ok: 0,
            per_second: 0.0,
            p50: Duration::ZERO,
            p99: Duration::ZERO,
            server_cpu: None,
            own_cpu: Duration::ZERO,
            load: load_average(),
            note: note.to_owned(),
        }
    }

    fn markdown(&self) -> String {
        if !self.note.is_empty() {
            return format!(
                "| {} | {} | | | | | | {} |",
                self.phase, self.note, self.load
            );
        }
        let per_call = |d: Duration| {
            if self.ok == 0 {
                "–".to_owned()
            } else {
                format!("{:.0} µs", d.as_secs_f64() * 1e6 / self.ok as f64)
            }
        };
        format!(
            "| {} | {:.0} | {:.2} ms | {:.2} ms | {} | {} | {} | {} |",
            self.phase,
            self.per_second,
            self.p50.as_secs_f64() * 1e3,
            self.p99.as_secs_f64() * 1e3,
            self.server_cpu.map_or("–".to_owned(), per_call),
            per_call(self.own_cpu),
            self.calls - self.ok,
            self.load
        )
    }
}

/// `phase` (a Set or Describe phase) with `opts.clients` clients: a warm-up second, then
/// `opts.seconds` measured.
async fn load_phase(
    opts: &Options,
    client: &Client<HttpConnector, Full<Bytes>>,
    endpoints: &Arc<Vec<String>>,
    accounts: &Arc<Vec<Account>>,
    phase: &str,
    pids: &[u32],
) -> Row {
    let parts: Vec<&str> = phase.split('-').collect();
    let (action, alg, scheme, form) = match parts.as_slice() {
        ["set", alg, sig, rest @ ..] => (
            "SetLiveDomainCertificate",
            (*alg).to_owned(),
            *sig,
            rest.first().copied().unwrap_or("pkcs8").to_owned(),
        ),
        ["describe", sig] => (
            "DescribeLiveDomainCertificateInfo",
            String::new(),
            *sig,
            String::new(),
        ),
        // nginx-ceiling: describe-v1's requests.
        _ => (
            "DescribeLiveDomainCertificateInfo",
            String::new(),
            "v1",
            String::new(),
        ),
    };
    let scheme = if scheme == "v3" {
        SignatureScheme::V3
    } else {
        SignatureScheme::V1
    };
    let run = |seconds: f64| {
        let next = Arc::new(AtomicUsize::new(0));
        let deadline = Instant::now() + Duration::from_secs_f64(seconds);
        let tasks: Vec<_> = (0..opts.clients)
            .map(|c| {
                let (client, endpoints, accounts, next) = (
                    client.clone(),
                    Arc::clone(endpoints),
                    Arc::clone(accounts),
                    Arc::clone(&next),
                );
                let (alg, form) = (alg.clone(), form.clone());
                tokio::spawn(async move {
                    let endpoint = &endpoints[c % endpoints.len()];
                    let mut latencies = Vec::new();
                    let mut failure = None;
                    let mut ok = 0;
                    while Instant::now() < deadline {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        let account = &accounts[n % accounts.len()];
                        let version = n / accounts.len() % 2;
                        let describe = [("DomainName", account.domain.as_str())];
                        let set;
                        let params: &[(&str, &str)] = if action == "SetLiveDomainCertificate" {
                            set = set_params(account, &alg, &form, version);
                            &set
                        } else {
                            &describe
                        };
                        let started = Instant::now();
                        let (status, body) =
                            call(&client, endpoint, account, scheme, action, params).await;
                        latencies.push(started.elapsed());
                        if status == 200 {
                            ok += 1;
                        } else if failure.is_none() {
                            failure = Some(format!("{status} {body}"));
                        }
                    }
                    (latencies, ok, failure)
                })
            })
            .collect();
        async move {
            let mut all = Vec::new();
            let mut ok = 0;
            let mut failure = None;
            for task in tasks {
                let (latencies, n, f) = task.await.expect("client task");
                all.extend(latencies);
                ok += n;
                failure = failure.or(f);
            }
            (all, ok, failure)
        }
    };
    run(1.0).await;
    let server_before: Vec<Duration> = pids.iter().map(|p| cpu_time(*p)).collect();
    let own_before = process_cpu(std::process::id());
    let started = Instant::now();
    let (mut latencies, ok, failure) = run(opts.seconds as f64).await;
    let elapsed = started.elapsed();
    let own_cpu = process_cpu(std::process::id()).saturating_sub(own_before);
    let server_cpu = (!pids.is_empty()).then(|| {
        pids.iter()
            .zip(&server_before)
            .map(|(p, before)| cpu_time(*p).saturating_sub(*before))
            .sum()
    });
    if let Some(failure) = failure {
        eprintln!("  {phase}: a call failed: {failure}");
    }
    latencies.sort();
    Row {
        phase: phase.to_owned(),
        calls: latencies.len(),
        ok,
        per_second: ok as f64 / elapsed.as_secs_f64(),
        p50: pct(&latencies, 0.50),
        p99: pct(&latencies, 0.99),
        server_cpu,
        own_cpu,
        load: load_average(),
        note: String::new(),
    }
}

/// The raw SQLite commit rate of one connection: a 3 KB row per transaction, WAL,
/// `synchronous=FULL`, in `dir`, for `seconds`.
fn sqlite_ceiling(dir: &Path, seconds: u64) -> Row {
    let path = dir.join("sqlite-ceiling.db");
    let db = rusqlite::Connection::open(&path).expect("open");
    db.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; \
         CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, body BLOB NOT NULL);",
    )
    .expect("schema");
    let body: Vec<u8> = (0..3072u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let mut insert = db
        .prepare("INSERT INTO t(body) VALUES (?1)")
        .expect("prepare");
    let own_before = process_cpu(std::process::id());
    let started = Instant::now();
    let mut commits = 0usize;
    let mut latencies = Vec::new();
    while started.elapsed() < Duration::from_secs(seconds) {
        let one = Instant::now();
        insert.execute([&body]).expect("commit");
        latencies.push(one.elapsed());
        commits += 1;
    }
    let elapsed = started.elapsed();
    drop(insert);
    drop(db);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    latencies.sort();
    Row {
        phase: "sqlite-ceiling".to_owned(),
        calls: commits,
        ok: commits,
        per_second: commits as f64 / elapsed.as_secs_f64(),
        p50: pct(&latencies, 0.50),
        p99: pct(&latencies, 0.99),
        server_cpu: None,
        own_cpu: process_cpu(std::process::id()).saturating_sub(own_before),
        load: load_average(),
        note: String::new(),
    }
}

/// nginx with one worker answering every request with a fixed 2 KB body.
struct Nginx {
    endpoint: String,
    process: Process,
    _dir: tempfile::TempDir,
}

impl Nginx {
    async fn start() -> Option<Self> {
        let nginx = ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"]
            .into_iter()
            .find(|p| Path::new(p).exists())?;
        let dir = tempfile::tempdir().expect("temp dir");
        let addr = free_port();
        let body = "x".repeat(2048);
        let conf = format!(
            "daemon off;\nworker_processes 1;\nerror_log stderr error;\npid {dir}/nginx.pid;\n\
             events {{ worker_connections 1024; }}\n\
             http {{\n  access_log off;\n  default_type application/json;\n  \
             client_body_temp_path {dir}/body;\n  proxy_temp_path {dir}/proxy;\n  \
             fastcgi_temp_path {dir}/fastcgi;\n  uwsgi_temp_path {dir}/uwsgi;\n  \
             scgi_temp_path {dir}/scgi;\n  keepalive_requests 1000000;\n  \
             server {{\n    listen {addr};\n    location / {{ return 200 \"{body}\"; }}\n  }}\n}}\n",
            dir = dir.path().display()
        );
        let conf_path = dir.path().join("nginx.conf");
        std::fs::write(&conf_path, conf).expect("nginx.conf");
        let child = Command::new(nginx)
            .arg("-c")
            .arg(&conf_path)
            .arg("-p")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .ok()?;
        let process = Process(child);
        wait_open(addr).await;
        Some(Self {
            endpoint: format!("http://{addr}"),
            process,
            _dir: dir,
        })
    }
}

/// User + system CPU time of process `pid` and of its live children (nginx's worker), from
/// `/proc`.
fn cpu_time(pid: u32) -> Duration {
    let children: Vec<u32> = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|c| c.parse().ok())
        .collect();
    process_cpu(pid) + children.iter().map(|c| process_cpu(*c)).sum::<Duration>()
}

/// `/proc/loadavg`'s one-minute figure.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_default()
}
