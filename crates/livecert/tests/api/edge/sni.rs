//! The certificate chosen by SNI: the one bound through the API (exact and wildcard), refusals
//! without a certificate, changes without a restart (in process and in a separate `livecert edge`),
//! no resumption for a stopped domain.

use std::time::Duration;

use super::client::{connect_with, handshake, handshake_with, resuming_client, Http1};
use super::{bind, within, TestEdge, DAY};
use crate::certs::{issued, self_signed, Alg};
use crate::harness::{Scheme, TestServer};

/// The Fingerprint DescribeLiveCertificateList shows for the record named `name`.
async fn fingerprint(server: &TestServer, name: &str) -> String {
    let r = server
        .call(Scheme::V3, "DescribeLiveCertificateList", &[])
        .await;
    let certs = r.ok()["CertificateListModel"]["CertList"]["Cert"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    certs
        .iter()
        .find(|c| c["CertName"] == name)
        .and_then(|c| c["Fingerprint"].as_str())
        .unwrap_or_else(|| panic!("no record {name}"))
        .to_ascii_lowercase()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_bound_certificate_is_served_by_exact_and_wildcard_sni() {
    let server = TestServer::start().await;
    let now = server.clock_now();
    server.add_domain("live.example.com").await;
    server.add_domain("*.wild.example.com").await;
    let exact = issued(&["live.example.com"], now - DAY, now + 90 * DAY, Alg::P256);
    let wild = self_signed(
        &["*.wild.example.com"],
        now - DAY,
        now + 90 * DAY,
        Alg::Rsa2048,
    );
    bind(&server, "live.example.com", "exact", &exact).await;
    bind(&server, "*.wild.example.com", "wild", &wild).await;
    let edge = TestEdge::start(&server).await;

    let served = handshake(edge.addr, "live.example.com").await;
    assert_eq!(
        served.leaf_fingerprint(),
        fingerprint(&server, "exact").await
    );
    assert_eq!(
        served.chain.as_ref().map(Vec::len),
        Some(2),
        "leaf and intermediate"
    );
    // SNI is compared lower case.
    let upper = handshake(edge.addr, "LIVE.Example.COM").await;
    assert_eq!(
        upper.leaf_fingerprint(),
        fingerprint(&server, "exact").await
    );
    let by_wildcard = handshake(edge.addr, "a.wild.example.com").await;
    assert_eq!(
        by_wildcard.leaf_fingerprint(),
        fingerprint(&server, "wild").await
    );
    // The wildcard covers one label only.
    handshake(edge.addr, "b.a.wild.example.com")
        .await
        .assert_refused();

    // ALPN: h2 is chosen when offered, a client offering neither protocol is refused.
    let h2 = handshake_with(edge.addr, "live.example.com", &[b"h2", b"http/1.1"]).await;
    let stream = h2.stream.expect("h2 handshake");
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    handshake_with(edge.addr, "live.example.com", &[b"spdy/3"])
        .await
        .stream
        .expect_err("no common application protocol");

    // HTTP after TLS: no origin yet (502), and Host must resolve to the SNI's entry (421).
    let stream = handshake(edge.addr, "a.wild.example.com")
        .await
        .stream
        .expect("handshake");
    let mut http = Http1::open(stream).await;
    let (status, body) = http.get("B.wild.example.com.:8443").await;
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("*.wild.example.com"), "{body}");
    let (status, _) = http.get("live.example.com").await;
    assert_eq!(status, 421);
    let (status, _) = http.get("unknown.example.org").await;
    assert_eq!(status, 421);
    edge.stop().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_offline_and_https_off_are_refused_without_a_certificate() {
    let server = TestServer::start().await;
    let now = server.clock_now();
    for d in ["stop.example.com", "off.example.com"] {
        server.add_domain(d).await;
        let g = self_signed(&[d], now - DAY, now + 90 * DAY, Alg::P256);
        bind(&server, d, d, &g).await;
    }
    // A domain without HTTPS whose name another tenant's certificate lists is not served either.
    server.add_domain("plain.example.com").await;
    let edge = TestEdge::start(&server).await;
    handshake(edge.addr, "nobody.example.com")
        .await
        .assert_refused();
    handshake(edge.addr, "plain.example.com")
        .await
        .assert_refused();
    handshake(edge.addr, "stop.example.com")
        .await
        .leaf_fingerprint();
    handshake(edge.addr, "off.example.com")
        .await
        .leaf_fingerprint();

    server
        .call(
            Scheme::V3,
            "StopLiveDomain",
            &[("DomainName", "stop.example.com")],
        )
        .await
        .ok();
    server
        .call(
            Scheme::V3,
            "SetLiveDomainCertificate",
            &[("DomainName", "off.example.com"), ("SSLProtocol", "off")],
        )
        .await
        .ok();
    for d in ["stop.example.com", "off.example.com"] {
        let refused = within(Duration::from_secs(1), || async {
            let h = handshake(edge.addr, d).await;
            h.stream.is_err()
        })
        .await;
        assert!(refused, "{d} is still served 1 s after the change");
        handshake(edge.addr, d).await.assert_refused();
    }
    edge.stop().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_certificate_is_served_without_restart_and_open_connections_keep_working() {
    let server = TestServer::start().await;
    let now = server.clock_now();
    server.add_domain("live.example.com").await;
    let old = self_signed(&["live.example.com"], now - DAY, now + 90 * DAY, Alg::P256);
    bind(&server, "live.example.com", "old", &old).await;
    let edge = TestEdge::start(&server).await;

    let before = handshake(edge.addr, "live.example.com").await;
    assert_eq!(before.leaf_fingerprint(), fingerprint(&server, "old").await);
    let mut open = Http1::open(before.stream.expect("handshake")).await;
    assert_eq!(open.get("live.example.com").await.0, 502);

    let new = issued(&["live.example.com"], now - DAY, now + 90 * DAY, Alg::P256);
    bind(&server, "live.example.com", "new", &new).await;
    let expected = fingerprint(&server, "new").await;
    let rotated = within(Duration::from_secs(1), || async {
        handshake(edge.addr, "live.example.com")
            .await
            .leaf_fingerprint()
            == expected
    })
    .await;
    assert!(
        rotated,
        "the new certificate is not served 1 s after the call"
    );
    // The connection opened before the change still answers.
    assert_eq!(open.get("live.example.com").await.0, 502);
    edge.stop().await;
    server.stop().await;
}

/// spec/edge.md, "Updates": rotations made through the API, one after the other, are each served
/// by the edge of the same process (told of the commit by the store, not by its poll), and once
/// the new leaf is served the old one is not served again.
#[tokio::test(flavor = "multi_thread")]
async fn rotations_through_the_api_are_served_by_the_in_process_edge() {
    let server = TestServer::start().await;
    let now = server.clock_now();
    for d in ["a.example.com", "b.example.com"] {
        server.add_domain(d).await;
        let g = self_signed(&[d], now - DAY, now + 90 * DAY, Alg::P256);
        bind(&server, d, &format!("{d}-0"), &g).await;
    }
    let edge = TestEdge::start(&server).await;
    for round in 1..=5 {
        for d in ["a.example.com", "b.example.com"] {
            let name = format!("{d}-{round}");
            let g = self_signed(&[d], now - DAY, now + 90 * DAY, Alg::P256);
            bind(&server, d, &name, &g).await;
            let expected = fingerprint(&server, &name).await;
            let served = within(Duration::from_secs(2), || async {
                handshake(edge.addr, d).await.leaf_fingerprint() == expected
            })
            .await;
            assert!(served, "{name} is not served 2 s after the call");
            for _ in 0..3 {
                assert_eq!(handshake(edge.addr, d).await.leaf_fingerprint(), expected);
            }
        }
    }
    edge.stop().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_of_a_stopped_domain_does_not_resume() {
    let server = TestServer::start().await;
    let now = server.clock_now();
    server.add_domain("live.example.com").await;
    let g = self_signed(&["live.example.com"], now - DAY, now + 90 * DAY, Alg::P256);
    bind(&server, "live.example.com", "live", &g).await;
    let edge = TestEdge::start(&server).await;
    let client = resuming_client();
    // A first connection and a request, so that the TLS 1.3 tickets are received.
    let first = connect_with(&client, edge.addr, "live.example.com")
        .await
        .expect("handshake");
    let mut http = Http1::open(first).await;
    assert_eq!(http.get("live.example.com").await.0, 502);
    let second = connect_with(&client, edge.addr, "live.example.com")
        .await
        .expect("resumed handshake");
    assert_eq!(
        second.get_ref().1.handshake_kind(),
        Some(rustls::HandshakeKind::Resumed),
        "sessions resume"
    );
    server
        .call(
            Scheme::V3,
            "StopLiveDomain",
            &[("DomainName", "live.example.com")],
        )
        .await
        .ok();
    let refused = within(Duration::from_secs(1), || async {
        handshake(edge.addr, "live.example.com")
            .await
            .stream
            .is_err()
    })
    .await;
    assert!(
        refused,
        "the stopped domain is still served 1 s after the call"
    );
    connect_with(&client, edge.addr, "live.example.com")
        .await
        .expect_err("a session of a stopped domain must not resume");
    edge.stop().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_separate_edge_process_follows_the_api_within_one_second() {
    let server = TestServer::start().await;
    let now = server.clock_now();
    server.add_domain("live.example.com").await;
    let first = self_signed(&["live.example.com"], now - DAY, now + 90 * DAY, Alg::P256);
    bind(&server, "live.example.com", "first", &first).await;

    // The real binary on the serve's own SQLite store, as an operator would start a second edge.
    let store = format!(
        "sqlite://{}",
        server.dir.path().join("livecert.db").display()
    );
    let (process, addr) = crate::postgres::start_edge(server.dir.path(), &store).await;

    assert_eq!(
        handshake(addr, "live.example.com").await.leaf_fingerprint(),
        fingerprint(&server, "first").await
    );
    let second = self_signed(&["live.example.com"], now - DAY, now + 90 * DAY, Alg::P256);
    bind(&server, "live.example.com", "second", &second).await;
    let expected = fingerprint(&server, "second").await;
    let followed = within(Duration::from_secs(1), || async {
        handshake(addr, "live.example.com").await.leaf_fingerprint() == expected
    })
    .await;
    assert!(
        followed,
        "the edge process does not serve the new certificate 1 s after the call"
    );
    drop(process);
    server.stop().await;
}
