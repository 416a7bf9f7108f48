//! The shared limits of a PostgreSQL store (`SharedLimits`), without HTTP: what one nonce record
//! and one rate-limit check cost an API node, alone and under concurrency.
//!
//! ```text
//! cargo run -p livecert-store --example shared_limits_bench [clients] [seconds]
//! ```
//!
//! Defaults: 16 clients (tasks) on two stores (two "nodes", half the clients each), 5 seconds per
//! phase. It creates a database `livecert_bench_<random>` on `LIVECERT_TEST_POSTGRES` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`) and drops it at the end. Phases:
//! - `nonce`: every call records a fresh nonce;
//! - `rate, spread`: checks spread over 1,000 accounts, quota high enough that none is refused;
//! - `rate, one account`: every client on one (account, SetLiveDomainCertificate) bucket at
//!   30/s: nearly every check is a refusal, all on one row.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use livecert_core::action::Action;
use livecert_core::ratelimit::{Quota, Verdict};
use livecert_core::secret::MasterKey;
use livecert_store::{SharedLimits, Store};

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let clients: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(16);
    let seconds: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let admin = std::env::var("LIVECERT_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let name = format!(
        "livecert_bench_{}",
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    );
    execute(&admin, &format!("CREATE DATABASE {name}")).await;
    let url = match admin.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{name}"),
        None => panic!("LIVECERT_TEST_POSTGRES must end with /<database>"),
    };
    let nodes: Vec<SharedLimits> = (0..2)
        .map(|_| {
            let (key, _) = MasterKey::generate().expect("master key");
            Store::open_postgres(&url, Arc::new(key))
                .expect("open")
                .shared_limits()
                .expect("PostgreSQL")
        })
        .collect();

    println!("| phase | clients | calls | calls/s | admitted | p50 µs | p99 µs |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    let nonce_counter = Arc::new(AtomicU64::new(0));
    run("nonce", &nodes, clients, seconds, move |node, _client| {
        let counter = Arc::clone(&nonce_counter);
        async move {
            let n = counter.fetch_add(1, Ordering::Relaxed);
            let mut key = [0u8; 32];
            key[..8].copy_from_slice(&n.to_be_bytes());
            let now = now_ms() / 1000;
            node.record_nonce(&key, now + 900, now)
                .await
                .expect("nonce")
                == livecert_store::NonceCheck::Fresh
        }
    })
    .await;
    let spread = Arc::new(AtomicU64::new(0));
    run(
        "rate, spread",
        &nodes,
        clients,
        seconds,
        move |node, _client| {
            let spread = Arc::clone(&spread);
            async move {
                let account = 1_000_000_000_000_000 + spread.fetch_add(1, Ordering::Relaxed) % 1000;
                let verdict = node
                    .check_rate(
                        account,
                        Action::DescribeLiveDomainCertificateInfo,
                        Quota::per_second(1_000_000),
                        now_ms(),
                    )
                    .await
                    .expect("check");
                matches!(verdict, Verdict::Allowed { .. })
            }
        },
    )
    .await;
    run(
        "rate, one account",
        &nodes,
        clients,
        seconds,
        |node, _client| async move {
            let verdict = node
                .check_rate(
                    1_000_000_000_000_001,
                    Action::SetLiveDomainCertificate,
                    Quota::per_second(30),
                    now_ms(),
                )
                .await
                .expect("check");
            matches!(verdict, Verdict::Allowed { .. })
        },
    )
    .await;

    drop(nodes);
    execute(&admin, &format!("DROP DATABASE {name} WITH (FORCE)")).await;
}

/// Runs `call` from `clients` tasks (alternating between the nodes) for `seconds`; prints one row.
async fn run<F, Fut>(phase: &str, nodes: &[SharedLimits], clients: usize, seconds: u64, call: F)
where
    F: Fn(SharedLimits, usize) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|client| {
            let node = nodes[client % nodes.len()].clone();
            let call = call.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut admitted = 0u64;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    if call(node.clone(), client).await {
                        admitted += 1;
                    }
                    latencies.push(t.elapsed());
                }
                (latencies, admitted)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut admitted = 0;
    for task in tasks {
        let (l, a) = task.await.expect("task");
        latencies.extend(l);
        admitted += a;
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(0, Duration::as_micros)
    };
    println!(
        "| {phase} | {clients} | {} | {:.0} | {admitted} | {} | {} |",
        latencies.len(),
        latencies.len() as f64 / elapsed,
        at(0.5),
        at(0.99)
    );
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

async fn execute(url: &str, sql: &str) {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect to PostgreSQL");
    let connection = tokio::spawn(connection);
    client.batch_execute(sql).await.expect(sql);
    drop(client);
    let _ = connection.await;
}
