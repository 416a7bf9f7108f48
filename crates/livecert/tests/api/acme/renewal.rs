//! Renewal: a short renewal window (`--acme-renew-after-secs`) makes the worker renew a free
//! certificate it issued; the record keeps its CertId and name, the edge serves the new leaf to
//! new handshakes, and a connection opened before the renewal keeps working.

use std::time::{Duration, Instant};

use super::{EdgePorts, Node, Pebble};
use crate::edge::{handshake, Http1};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forced_renewal_rotates_the_served_leaf_and_keeps_open_connections() {
    let Some(pebble) = Pebble::start() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let node = Node::start(
        dir.path(),
        &pebble,
        None,
        EdgePorts::Pebble,
        &["--acme-renew-after-secs", "3"],
    );
    let edge = node.edge.expect("edge");
    node.add_domain("renew.example.com").await;
    node.request_free("renew.example.com", "renewing").await;
    let first = node.settled("renewing").await;
    assert_eq!(first["Status"], "success", "{first}\n{}", node.log());
    let first_leaf = node.api.fingerprint("renewing").await;
    assert_eq!(
        handshake(edge, "renew.example.com")
            .await
            .leaf_fingerprint(),
        first_leaf
    );

    // A long-lived connection, opened on the first leaf.
    let mut open = Http1::open(handshake(edge, "renew.example.com").await.into_stream()).await;
    assert_eq!(open.get("renew.example.com").await.0, 502, "no origin: 502");

    let deadline = Instant::now() + Duration::from_secs(60);
    let renewed = loop {
        let served = handshake(edge, "renew.example.com")
            .await
            .leaf_fingerprint();
        if served != first_leaf {
            break served;
        }
        assert!(
            Instant::now() < deadline,
            "not renewed within 60 s\n{}",
            node.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let detail = node.detail("renewing").await;
    assert_eq!(detail["CertId"], first["CertId"], "renewed in place");
    assert_eq!(detail["Status"], "success");
    pebble.assert_verifies(detail["Cert"].as_str().expect("chain"));
    assert_eq!(node.api.fingerprint("renewing").await.len(), renewed.len());
    assert_eq!(
        open.get("renew.example.com").await.0,
        502,
        "the connection opened before the renewal still answers"
    );
    assert!(node.log().contains("\"renew\""), "{}", node.log());
}
