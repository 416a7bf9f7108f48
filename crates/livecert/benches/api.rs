//! API benchmark (issue "SetLiveDomainCertificate end to end"): throughput and latency over real
//! HTTP with concurrent clients spread over many accounts, plus the CPU cost per call of the
//! signature check, the certificate checks and the store commit.
//!
//! Every Set uploads a new certificate under a new CertName with `ForceSet=1` (certificates repeat
//! across the run, and ForceSet skips the duplicate-content check, as a renewal script would).
//!
//! Run: `cargo bench -p livecert --bench api` (options after `--`: `--clients 16 --accounts 128
//! --seconds 10`). The server runs in this process on 127.0.0.1 with a durable SQLite store in a
//! temporary directory under the current directory (a real disk, fsync on every group commit); the
//! clients share the machine's cores with it, so the figures are a floor.

mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use livecert::api::nonce::MemoryNonces;
use livecert::api::{ApiConfig, AppState};
use livecert::clock::{Clock, SystemClock};
use livecert::datadir::DataDir;
use livecert_core::params::Pair;
use livecert_core::protocol::{self, HttpRequest};
use livecert_core::secret::Secret;
use rcgen::{CertificateParams, DnType, KeyPair};

struct Options {
    clients: usize,
    accounts: usize,
    seconds: u64,
    /// `root` (the accounts' root keys) or `user` (a RAM user per account with a 10-statement
    /// policy that allows what the benchmark does).
    principal: String,
}

fn options() -> Options {
    let args: Vec<String> = std::env::args().collect();
    let get = |name: &str, default: u64| -> u64 {
        support::arg(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    Options {
        clients: get("--clients", 16) as usize,
        accounts: get("--accounts", 128) as usize,
        seconds: get("--seconds", 10),
        principal: args
            .iter()
            .position(|a| a == "--principal")
            .and_then(|i| args.get(i + 1))
            .cloned()
            .unwrap_or_else(|| "root".to_owned()),
    }
}

#[derive(Clone)]
struct Account {
    key_id: String,
    secret: String,
    domains: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    P256,
    Rsa2048,
}

/// Certificates for `*.bench.example.com`: one key per kind, many certificates (distinct serials), so
/// that every Set stores new content.
fn certificates(kind: KeyKind, count: usize, now: i64) -> Vec<(String, String)> {
    let key = match kind {
        KeyKind::P256 => KeyPair::generate().expect("P-256 key"),
        KeyKind::Rsa2048 => {
            let out = std::process::Command::new("openssl")
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
    };
    let key_pem = key.serialize_pem();
    (0..count)
        .map(|i| {
            let mut p =
                CertificateParams::new(vec!["*.bench.example.com".to_owned()]).expect("params");
            p.distinguished_name
                .push(DnType::CommonName, format!("bench {i}"));
            p.not_before = time::OffsetDateTime::from_unix_timestamp(now - 86_400).expect("time");
            p.not_after =
                time::OffsetDateTime::from_unix_timestamp(now + 90 * 86_400).expect("time");
            (p.self_signed(&key).expect("cert").pem(), key_pem.clone())
        })
        .collect()
}

fn signed(
    addr: SocketAddr,
    account: &Account,
    action: &str,
    params: &[Pair],
) -> http::Request<Full<Bytes>> {
    support::signed_request(addr, &account.key_id, &account.secret, action, params)
}

fn p(pairs: &[(&str, &str)]) -> Vec<Pair> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
        .collect()
}

/// A realistic 10-statement policy: eight statements that do not match the benchmark's calls
/// (other domains, other actions, conditions), then the two Allows that do.
fn bench_policy(account: u64) -> String {
    let mut statements = Vec::new();
    for i in 0..4 {
        statements.push(format!(
            r#"{{"Effect":"Allow","Action":"live:SetLiveDomainCertificate","Resource":"acs:cdn:*:{account}:domain/other{i}-*.example.org"}}"#
        ));
        statements.push(format!(
            r#"{{"Effect":"Deny","Action":"live:Delete*","Resource":"acs:cdn:*:{account}:domain/keep{i}.example.com","Condition":{{"IpAddress":{{"acs:SourceIp":"10.{i}.0.0/16"}}}}}}"#
        ));
    }
    statements.push(format!(
        r#"{{"Effect":"Allow","Action":["live:SetLiveDomainCertificate","live:AddLiveDomain","live:Describe*"],"Resource":"acs:cdn:*:{account}:domain/*.bench.example.com"}}"#
    ));
    statements.push(r#"{"Effect":"Allow","Action":"live:Describe*","Resource":"*"}"#.to_owned());
    format!(
        r#"{{"Version":"1","Statement":[{}]}}"#,
        statements.join(",")
    )
}

struct PhaseResult {
    cpu_us_per_call: f64,
    name: String,
    calls: usize,
    errors: usize,
    seconds: f64,
    p50_ms: f64,
    p99_ms: f64,
}

async fn phase(
    name: &str,
    addr: SocketAddr,
    accounts: &Arc<Vec<Account>>,
    clients: usize,
    seconds: u64,
    certs: Option<Arc<Vec<(String, String)>>>,
) -> PhaseResult {
    let next = Arc::new(AtomicUsize::new(0));
    let cpu_before = support::process_cpu(std::process::id()).as_secs_f64();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let accounts = Arc::clone(accounts);
        let certs = certs.clone();
        let next = Arc::clone(&next);
        let name = name.to_owned();
        tasks.push(tokio::spawn(async move {
            let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
            let mut latencies = Vec::new();
            let mut errors = 0usize;
            let mut i = c;
            while Instant::now() < deadline {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let account = &accounts[i % accounts.len()];
                let domain = &account.domains[(i / accounts.len()) % account.domains.len()];
                let request = match &certs {
                    Some(certs) => {
                        let (chain, key) = &certs[n % certs.len()];
                        let cert_name = format!("{name}-{n}");
                        signed(
                            addr,
                            account,
                            "SetLiveDomainCertificate",
                            &p(&[
                                ("DomainName", domain),
                                ("SSLProtocol", "on"),
                                ("CertName", &cert_name),
                                ("SSLPub", chain),
                                ("SSLPri", key),
                                ("ForceSet", "1"),
                            ]),
                        )
                    }
                    None => signed(
                        addr,
                        account,
                        "DescribeLiveDomainCertificateInfo",
                        &p(&[("DomainName", domain)]),
                    ),
                };
                let t = Instant::now();
                match client.request(request).await {
                    Ok(r) => {
                        let ok = r.status() == 200;
                        let _ = r.into_body().collect().await;
                        if !ok {
                            errors += 1;
                        }
                    }
                    Err(_) => errors += 1,
                }
                latencies.push(t.elapsed());
                i += clients;
            }
            (latencies, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.expect("client task");
        all.extend(l);
        errors += e;
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu_us_per_call = (support::process_cpu(std::process::id()).as_secs_f64() - cpu_before)
        * 1e6
        / all.len().max(1) as f64;
    all.sort();
    let pct = |q: f64| {
        all.get(((all.len() as f64 * q) as usize).min(all.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    PhaseResult {
        cpu_us_per_call,
        name: name.to_owned(),
        calls: all.len(),
        errors,
        seconds,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
    }
}

fn micro<F: FnMut()>(iterations: u32, mut f: F) -> f64 {
    let t = Instant::now();
    for _ in 0..iterations {
        f();
    }
    t.elapsed().as_secs_f64() * 1e6 / f64::from(iterations)
}

fn main() {
    let opts = options();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let now = SystemClock.now();
        let dir = tempfile::tempdir_in(".").expect("temp dir on the working disk");
        let data = DataDir::open(dir.path()).expect("data dir");
        let store = livecert::store_location::open_store(&data, None).await.expect("store");
        let mut accounts = Vec::new();
        for a in 0..opts.accounts {
            let id = store.create_account(now).await.expect("account");
            let key_id = format!("LTAIbench{a:015}");
            let secret = format!("benchsecret{a:019}");
            if opts.principal == "user" {
                store.create_user(id, "bench", now).await.expect("user");
                store
                    .import_user_access_key(id, "bench", &key_id, &Secret::new(secret.as_bytes().to_vec()), now)
                    .await
                    .expect("user key");
                store.create_policy(id, "bench", &bench_policy(id), now).await.expect("policy");
                store.attach_policy(id, "bench", "bench").await.expect("attach");
            } else {
                store
                    .import_access_key(id, &key_id, &Secret::new(secret.as_bytes().to_vec()), now)
                    .await
                    .expect("key");
            }
            accounts.push(Account {
                key_id,
                secret,
                domains: (0..4)
                    .map(|d| format!("a{a}-{d}.bench.example.com"))
                    .collect(),
            });
        }
        let state = Arc::new(AppState {
            store: store.clone(),
            clock: Arc::new(SystemClock),
            nonces: Arc::new(MemoryNonces::new(4_000_000)),
            limiter: Arc::new(livecert::api::ratelimit::Unlimited),
            config: ApiConfig::default(),
            policy_cache: livecert::api::PolicyCache::default(),
            throttled: std::sync::atomic::AtomicU64::new(0),
            issuer: livecert::server::open_issuer(&data, now).expect("test CA"),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(livecert::api::serve(
            listener,
            state,
            std::future::pending(),
        ));
        let accounts = Arc::new(accounts);
        {
            let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
            for account in accounts.iter() {
                for d in &account.domains {
                    let r = client
                        .request(signed(
                            addr,
                            account,
                            "AddLiveDomain",
                            &p(&[
                                ("DomainName", d),
                                ("LiveDomainType", "liveVideo"),
                                ("Region", "cn-shanghai"),
                            ]),
                        ))
                        .await
                        .expect("add domain");
                    assert_eq!(r.status(), 200, "AddLiveDomain");
                }
            }
        }
        eprintln!("generating certificates…");
        let p256 = Arc::new(certificates(KeyKind::P256, 4000, now));
        let rsa = Arc::new(certificates(KeyKind::Rsa2048, 4000, now));

        let mut results = Vec::new();
        results.push(
            phase(
                "set-p256",
                addr,
                &accounts,
                opts.clients,
                opts.seconds,
                Some(Arc::clone(&p256)),
            )
            .await,
        );
        results.push(
            phase(
                "set-rsa2048",
                addr,
                &accounts,
                opts.clients,
                opts.seconds,
                Some(Arc::clone(&rsa)),
            )
            .await,
        );
        results.push(
            phase(
                "describe",
                addr,
                &accounts,
                opts.clients,
                opts.seconds,
                None,
            )
            .await,
        );

        println!("principal: {}\n", opts.principal);
        println!("| phase | clients | accounts | calls | errors | calls/s | p50 ms | p99 ms | CPU µs/call (server + clients) |");
        println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        for r in &results {
            println!(
                "| {} | {} | {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.0} |",
                r.name,
                opts.clients,
                opts.accounts,
                r.calls,
                r.errors,
                r.calls as f64 / r.seconds,
                r.p50_ms,
                r.p99_ms,
                r.cpu_us_per_call
            );
        }

        // CPU cost per call of the pieces, measured alone on one core.
        let account = &accounts[0];
        let (chain, key) = &p256[0];
        let set_params = p(&[
            ("DomainName", &account.domains[0]),
            ("SSLProtocol", "on"),
            ("CertName", "x"),
            ("SSLPub", chain),
            ("SSLPri", key),
        ]);
        let request = signed(addr, account, "SetLiveDomainCertificate", &set_params);
        let (parts, body) = request.into_parts();
        let body = body.collect().await.expect("body").to_bytes();
        let headers: Vec<(String, Vec<u8>)> = parts
            .headers
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.as_bytes().to_vec()))
            .collect();
        let http = HttpRequest {
            method: "POST",
            path: "/",
            raw_query: b"",
            headers: &headers,
            body: &body,
        };
        let secret = Secret::new(account.secret.as_bytes().to_vec());
        let verify_us = micro(2000, || {
            let prepared = protocol::prepare(&http).expect("prepare");
            protocol::verify(&http, &prepared, &secret).expect("verify");
        });
        let check_p256_us = micro(500, || {
            livecert_core::cert::check_upload(Some(chain.as_bytes()), Some(key.as_bytes()), now)
                .expect("check");
        });
        let (rchain, rkey) = &rsa[0];
        let check_rsa_us = micro(200, || {
            livecert_core::cert::check_upload(Some(rchain.as_bytes()), Some(rkey.as_bytes()), now)
                .expect("check");
        });
        let domain = livecert_core::names::DomainName::parse(&account.domains[1]).expect("domain");
        let account_id = store
            .access_key(&account.key_id)
            .await
            .expect("key")
            .expect("key")
            .account_id;
        let mut commit_total = Duration::ZERO;
        let commits = 100u32;
        for i in 0..commits {
            let (c, k) = &p256[1000 + i as usize];
            let upload =
                livecert_core::cert::check_upload(Some(c.as_bytes()), Some(k.as_bytes()), now)
                    .expect("check");
            let name = livecert_core::names::CertName::parse(&format!("commit-{i}")).expect("name");
            let t = Instant::now();
            store
                .set_upload(account_id, &domain, name, true, upload, now)
                .await
                .expect("commit");
            commit_total += t.elapsed();
        }
        println!();
        println!("| piece | cost per call |");
        println!("| --- | --- |");
        println!("| signature check (prepare + V3 verify of a Set request) | {verify_us:.1} µs |");
        println!("| certificate checks, P-256 self-signed | {check_p256_us:.1} µs |");
        println!("| certificate checks, RSA-2048 self-signed | {check_rsa_us:.1} µs |");
        println!(
            "| store commit, one Set alone (latency incl. fsync) | {:.2} ms |",
            commit_total.as_secs_f64() * 1000.0 / f64::from(commits)
        );
    });
}
