//! Several nodes on one PostgreSQL database (issue 6): two real `livecert serve --store
//! postgres://… --no-edge` processes (API nodes) and two real `livecert edge --store postgres://…`
//! processes, each on a port of its own, sharing one data directory (one master key). A
//! certificate set through node 1 is served by both edges within 1 s of the API's answer, and so
//! is a rotation through node 2 (the edges learn of other nodes' commits from the store's LISTEN
//! feed); node 1 killed with SIGKILL right after a burst of acknowledged writes loses none of
//! them: each is visible through node 2; a key disabled with `livecert admin` is refused by node 2
//! within 1 s although node 2 has it cached (its feed clears the AccessKey cache).
//!
//! The database is a fresh `livecert_test_<random>` on `LIVECERT_TEST_POSTGRES` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`), dropped at the end; a server that cannot be
//! reached fails the test, it never skips it.
//!
//! The second test, on the same cluster: a request answered by node 1 and replayed to node 2 is
//! `SignatureNonceUsed`; 120 concurrent SetLiveDomainCertificate calls of one account split across
//! both nodes are admitted at most 30 + burst + the documented cross-node bound (docs/decisions.md,
//! "Nonces and rate limits shared by API nodes": 10% of the quota), the rest `Throttling.User`
//! (`shared_limits.rs` holds the finer checks of the shared limits on two `serve` nodes alone).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use crate::certs::{self_signed, Alg};
use crate::edge::handshake;
use crate::harness::{send, signed_request, try_send, Scheme};
use crate::postgres::{now, start_edge, start_serve, Api, Database, Process};

const DAY: i64 = 86_400;

/// The propagation bound of the issue: a commit on any API node reaches every edge within 1 s.
const BOUND: Duration = Duration::from_secs(1);

/// How many writes the burst sends to node 1 at once, and after how many acknowledgements node 1
/// is killed (the others are in flight).
const BURST: usize = 40;
const KILL_AFTER: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_api_nodes_and_two_edges_on_one_postgres() {
    let cluster = Cluster::start().await;
    let [one, two] = &cluster.api;
    let now = now();

    // Through node 1: AddLiveDomain, then SetLiveDomainCertificate.
    one.call(
        "AddLiveDomain",
        &[
            ("DomainName", "live.example.com"),
            ("LiveDomainType", "liveVideo"),
            ("Region", "cn-shanghai"),
        ],
    )
    .await
    .ok();
    let first = self_signed(&["live.example.com"], now - DAY, now + 90 * DAY, Alg::P256);
    one.bind("live.example.com", "first", &first).await;
    let answered = Instant::now();
    let expected = two.fingerprint("first").await;
    cluster
        .served_by_every_edge("live.example.com", &expected, answered)
        .await;

    // A rotation through node 2.
    let second = self_signed(&["live.example.com"], now - DAY, now + 90 * DAY, Alg::P256);
    two.bind("live.example.com", "second", &second).await;
    let answered = Instant::now();
    let expected = one.fingerprint("second").await;
    cluster
        .served_by_every_edge("live.example.com", &expected, answered)
        .await;

    // A burst of writes on node 1, killed (SIGKILL) once KILL_AFTER of them are acknowledged.
    let mut burst = JoinSet::new();
    for i in 0..BURST {
        let (addr, creds) = (one.addr, one.creds.clone());
        burst.spawn(async move {
            let name = format!("burst{i}.example.com");
            let params = [
                ("DomainName", name.as_str()),
                ("LiveDomainType", "liveVideo"),
                ("Region", "cn-shanghai"),
            ];
            let reply = try_send(signed_request(
                addr,
                Scheme::V3,
                "AddLiveDomain",
                params
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
                    .collect(),
                &creds.0,
                &creds.1,
                now,
            ))
            .await;
            (name, reply)
        });
    }
    let mut acknowledged = Vec::new();
    let mut node_one = Some(cluster.node_one);
    while let Some(done) = burst.join_next().await {
        let (name, reply) = done.expect("burst task");
        if let Ok(reply) = reply {
            if reply.status == 200 {
                acknowledged.push(name);
            }
        }
        if acknowledged.len() == KILL_AFTER {
            // Drop kills with SIGKILL and reaps.
            drop(node_one.take());
        }
    }
    drop(node_one);
    assert!(
        acknowledged.len() >= KILL_AFTER,
        "only {} of {BURST} writes were acknowledged before node 1 died",
        acknowledged.len()
    );
    for name in &acknowledged {
        let detail = two
            .call("DescribeLiveDomainDetail", &[("DomainName", name)])
            .await;
        assert_eq!(
            detail.ok()["DomainDetail"]["DomainName"],
            name.as_str(),
            "{name} was acknowledged by node 1 but is not seen through node 2"
        );
    }

    // A key disabled by another process (`livecert admin`, a node of its own) is refused by node 2
    // within 1 s, although node 2 has just used it (its AccessKey cache holds it).
    let disabled = std::process::Command::new(env!("CARGO_BIN_EXE_livecert"))
        .args(["admin", "--store", &cluster.database.url, "--data-dir"])
        .arg(cluster.dir.path())
        .args(["key", "disable", &two.creds.0])
        .env_remove("LIVECERT_DATA_DIR")
        .env_remove("LIVECERT_MASTER_KEY")
        .env("LIVECERT_LOG", "warn")
        .output()
        .expect("livecert admin runs");
    assert!(disabled.status.success(), "{disabled:?}");
    let answered = Instant::now();
    let refused = loop {
        let reply = two.call("DescribeLiveUserDomains", &[]).await;
        if reply.code() == "InvalidAccessKeyId.Inactive" {
            break true;
        }
        if answered.elapsed() > BOUND {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(
        refused,
        "node 2 still accepts a key disabled {BOUND:?} ago by another process"
    );
}

/// SetLiveDomainCertificate's quota (spec/access.md): 30 calls per second, burst 30; the documented
/// cross-node bound is 10% of it.
const SET_RATE: usize = 30;
const SET_BURST: usize = 30;
const CROSS_NODE_BOUND: usize = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replays_and_the_quota_hold_across_api_nodes() {
    let cluster = Cluster::start().await;
    let [one, two] = &cluster.api;
    let now = now();
    let sign = |addr: SocketAddr, action: &str, params: &[(&str, &str)]| {
        let pairs = params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
            .collect();
        signed_request(
            addr,
            Scheme::V3,
            action,
            pairs,
            &one.creds.0,
            &one.creds.1,
            now,
        )
    };

    // A request answered by node 1, then its very bytes (Host header included) sent to node 2.
    let add = sign(
        one.addr,
        "AddLiveDomain",
        &[
            ("DomainName", "quota.example.com"),
            ("LiveDomainType", "liveVideo"),
            ("Region", "cn-shanghai"),
        ],
    );
    let (parts, body) = add.into_parts();
    let body = http_body_util::BodyExt::collect(body)
        .await
        .expect("body")
        .to_bytes();
    let to = |addr: SocketAddr| {
        let mut request = http::Request::new(http_body_util::Full::new(body.clone()));
        *request.method_mut() = parts.method.clone();
        *request.uri_mut() = format!("http://{addr}/").parse().expect("uri");
        *request.headers_mut() = parts.headers.clone();
        request
    };
    send(to(one.addr)).await.ok();
    let replay = send(to(two.addr)).await;
    assert_eq!(
        (replay.status, replay.code()),
        (400, "SignatureNonceUsed"),
        "the replay to node 2: {}",
        replay.body
    );

    // 120 concurrent SetLiveDomainCertificate calls (DryRun: the limit applies before the
    // operation), every other one to node 2.
    let g = self_signed(&["quota.example.com"], now - DAY, now + 90 * DAY, Alg::P256);
    let mut calls = JoinSet::new();
    for i in 0..120 {
        let request = sign(
            if i % 2 == 0 { one.addr } else { two.addr },
            "SetLiveDomainCertificate",
            &[
                ("DomainName", "quota.example.com"),
                ("SSLProtocol", "on"),
                ("CertName", "quota"),
                ("SSLPub", &g.chain_pem),
                ("SSLPri", &g.key_pem),
                ("DryRun", "true"),
            ],
        );
        calls.spawn(send(request));
    }
    let (mut admitted, mut throttled) = (0, 0);
    while let Some(reply) = calls.join_next().await {
        let reply = reply.expect("call");
        match (reply.status, reply.code()) {
            (400, "DryRunOperation") => admitted += 1,
            (400, "Throttling.User") => throttled += 1,
            other => panic!("unexpected answer {other:?}: {}", reply.body),
        }
    }
    assert_eq!(admitted + throttled, 120);
    assert!(
        admitted <= SET_RATE + SET_BURST + CROSS_NODE_BOUND,
        "{admitted} of 120 admitted across both nodes: more than 30 + burst + the cross-node bound"
    );
}

/// Two API nodes and two edges on one fresh database.
struct Cluster {
    /// Node 1, then node 2.
    api: [Api; 2],
    edges: [SocketAddr; 2],
    /// Node 1's process, apart so that the test can kill it.
    node_one: Process,
    _others: Vec<Process>,
    dir: tempfile::TempDir,
    /// Dropped last: the processes are gone by then.
    database: Database,
}

impl Cluster {
    async fn start() -> Self {
        let database = Database::create().await;
        let dir = tempfile::tempdir().expect("temp dir");
        // Node 1 creates the master key, the first account and its credentials; the others
        // share the data directory (the master key; serve takes no lock on PostgreSQL).
        let (node_one, addr_one) = start_serve(dir.path(), &database.url);
        let creds = livecert::datadir::read_credentials(&dir.path().join("credentials"))
            .expect("credentials written on first start");
        let (node_two, addr_two) = start_serve(dir.path(), &database.url);
        let (edge_a, addr_a) = start_edge(dir.path(), &database.url).await;
        let (edge_b, addr_b) = start_edge(dir.path(), &database.url).await;
        Self {
            api: [
                Api {
                    addr: addr_one,
                    creds: creds.clone(),
                },
                Api {
                    addr: addr_two,
                    creds,
                },
            ],
            edges: [addr_a, addr_b],
            node_one,
            _others: vec![node_two, edge_a, edge_b],
            dir,
            database,
        }
    }

    /// Asserts that every edge serves the leaf `fingerprint` for `domain` within [`BOUND`] of
    /// `answered` (the API's answer).
    async fn served_by_every_edge(&self, domain: &str, fingerprint: &str, answered: Instant) {
        for (i, edge) in self.edges.iter().enumerate() {
            let served = loop {
                if handshake(*edge, domain).await.served_leaf().as_deref() == Some(fingerprint) {
                    break Some(answered.elapsed());
                }
                if answered.elapsed() > BOUND {
                    break None;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            };
            assert!(
                served.is_some(),
                "edge {} does not serve the new certificate of {domain} {BOUND:?} after the API answered",
                i + 1
            );
        }
    }
}
