//! The metrics endpoint: each domain's not-after, handshakes by outcome, upstream latency.

use super::client::{handshake, handshake_with, through_edge};
use super::origins::start_origin;
use super::{bind, sample, scrape, set_origin, TestEdge, DAY};
use crate::certs::{self_signed, Alg};
use crate::harness::TestServer;

/// spec/edge.md: "Exposes metrics (Prometheus text) on --metrics-listen: handshakes by outcome,
/// the gauge livecert_edge_certificate_not_after_timestamp_seconds{domain}, map size, last update
/// time, upstream latency."
#[tokio::test(flavor = "multi_thread")]
async fn the_metrics_list_each_domains_not_after_and_count_handshakes_and_upstream_latency() {
    let server = TestServer::start().await;
    let now = server.clock_now();
    server.add_domain("live.example.com").await;
    let not_after = now + 90 * DAY;
    let g = self_signed(&["live.example.com"], now - DAY, not_after, Alg::P256);
    bind(&server, "live.example.com", "live", &g).await;
    let origin = start_origin().await;
    set_origin(&server, "live.example.com", &format!("http://{origin}")).await;
    let edge = TestEdge::start(&server).await;

    let (status, before) = scrape(edge.metrics).await;
    assert_eq!(status, 200, "{before}");
    // RFC 9112 §3.2 on the metrics port too: two Host lines are 400.
    let two_hosts = crate::harness::raw_exchange(
        edge.metrics,
        b"GET /metrics HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(two_hosts.status, 400, "{}", two_hosts.body);
    assert_eq!(
        sample(
            &before,
            "livecert_edge_certificate_not_after_timestamp_seconds{domain=\"live.example.com\"}"
        ),
        not_after
    );
    assert_eq!(sample(&before, "livecert_edge_map_domains"), 1);
    let built = sample(&before, "livecert_edge_map_last_update_timestamp_seconds");
    assert!(built > 1_600_000_000, "{built}");

    let (parts, _) = through_edge(edge.addr, "live.example.com", true, "GET", "/", 0).await;
    assert_eq!(parts.status, 200);
    handshake(edge.addr, "nobody.example.com")
        .await
        .assert_refused();
    handshake_with(edge.addr, "live.example.com", &[b"spdy/3"])
        .await
        .stream
        .expect_err("no common application protocol");

    let (_, after) = scrape(edge.metrics).await;
    let moved = |name: &str| sample(&after, name) - sample(&before, name);
    assert_eq!(moved("livecert_edge_handshakes_total{outcome=\"ok\"}"), 1);
    assert_eq!(
        moved("livecert_edge_handshakes_total{outcome=\"refused\"}"),
        1
    );
    assert_eq!(
        moved("livecert_edge_handshakes_total{outcome=\"error\"}"),
        1
    );
    assert_eq!(moved("livecert_edge_upstream_duration_seconds_count"), 1);
    assert_eq!(
        sample(
            &after,
            "livecert_edge_upstream_duration_seconds_bucket{le=\"+Inf\"}"
        ),
        1
    );
    edge.stop().await;
    server.stop().await;
}
