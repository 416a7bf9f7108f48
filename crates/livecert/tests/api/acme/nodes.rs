//! Several nodes on one PostgreSQL store: two `livecert serve --no-edge` nodes run the ACME
//! worker, and one `livecert edge` process on pebble's ports answers every challenge from the
//! store. A certificate requested through one node is issued once (one order, one attempt); a
//! node killed (SIGKILL) while it holds an order's lease is taken over by the other once the lease
//! (5 s here) runs out, and the certificate is issued and served. So that the node is killed
//! mid-order however fast pebble is, the edge is stopped (SIGSTOP) before that request and
//! continued (SIGCONT) once the node is dead: until then no challenge can be answered.

use std::time::{Duration, Instant};

use super::{EdgePorts, Node, Pebble};
use crate::edge::handshake;
use crate::postgres::{start_edge_with, Database};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_issue_once_and_a_killed_node_is_taken_over() {
    let Some(pebble) = Pebble::start() else {
        return;
    };
    let database = Database::create().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let flags = ["--acme-lease-secs", "5"];
    let first = Node::start(
        dir.path(),
        &pebble,
        Some(&database.url),
        EdgePorts::None,
        &flags,
    );
    let second = Node::start(
        dir.path(),
        &pebble,
        Some(&database.url),
        EdgePorts::None,
        &flags,
    );
    // `livecert edge` on pebble's two ports, answering every node's challenges from the store.
    let http = format!("127.0.0.1:{}", pebble.http_port);
    let (edge_process, edge) = start_edge_with(
        dir.path(),
        &database.url,
        &format!("127.0.0.1:{}", pebble.tls_port),
        &["--edge-http-listen", &http],
    )
    .await;
    let mut nodes = [Some(first), Some(second)];

    // Issued once.
    let one = nodes[0].as_ref().expect("node");
    one.add_domain("one.example.com").await;
    one.request_free("one.example.com", "one").await;
    let other = nodes[1].as_ref().expect("node");
    let detail = other.settled("one").await;
    assert_eq!(
        detail["Status"],
        "success",
        "{detail}\n{}\n{}",
        one.log(),
        other.log()
    );
    let orders = rows(
        &database.url,
        "SELECT state, attempts::text FROM acme_orders WHERE domain = 'one.example.com'",
    )
    .await;
    assert_eq!(orders, vec![vec!["valid".to_owned(), "1".to_owned()]]);
    assert_eq!(
        handshake(edge, "one.example.com").await.leaf_fingerprint(),
        other.api.fingerprint("one").await
    );

    // The node holding the next order's lease is killed mid-order: with the edge stopped, the
    // order cannot be validated before that.
    one.add_domain("two.example.com").await;
    signal(edge_process.id(), "STOP");
    one.request_free("two.example.com", "two").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let holder = loop {
        let owner = rows(
            &database.url,
            "SELECT COALESCE(lease_owner, '') FROM acme_orders WHERE domain = 'two.example.com'",
        )
        .await;
        let pid = owner
            .first()
            .and_then(|r| r[0].split('/').nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if let Some(pid) = pid {
            break pid;
        }
        assert!(Instant::now() < deadline, "no node took the order");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let killed = nodes
        .iter()
        .position(|n| n.as_ref().is_some_and(|n| n.process.id() == holder))
        .expect("the holder is one of the nodes");
    drop(nodes[killed].take());
    signal(edge_process.id(), "CONT");
    let survivor = nodes[1 - killed].as_ref().expect("survivor");
    let detail = survivor.settled("two").await;
    assert_eq!(detail["Status"], "success", "{detail}\n{}", survivor.log());
    let orders = rows(
        &database.url,
        "SELECT state, attempts::text, COALESCE(lease_owner, '') FROM acme_orders \
         WHERE domain = 'two.example.com'",
    )
    .await;
    assert_eq!(
        orders,
        vec![vec!["valid".to_owned(), "2".to_owned(), String::new()]],
        "taken over: a second attempt, by the survivor"
    );
    assert!(
        survivor.log().contains("two.example.com"),
        "the survivor worked on it:\n{}",
        survivor.log()
    );
    assert_eq!(
        handshake(edge, "two.example.com").await.leaf_fingerprint(),
        survivor.api.fingerprint("two").await
    );
}

/// Sends signal `name` (`STOP`, `CONT`) to process `pid`.
fn signal(pid: u32, name: &str) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{name} {pid}");
}

/// The rows of `sql` on `url`, every column as text.
async fn rows(url: &str, sql: &str) -> Vec<Vec<String>> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    let task = tokio::spawn(connection);
    let rows = client.query(sql, &[]).await.expect("query");
    drop(client);
    let _ = task.await;
    rows.iter()
        .map(|r| (0..r.len()).map(|i| r.get::<_, String>(i)).collect())
        .collect()
}
