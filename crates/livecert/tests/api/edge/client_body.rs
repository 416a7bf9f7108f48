//! A body the client declares and does not send is 408, the client's failure; an origin that
//! does not answer is 504, the origin's.

use std::time::Duration;

use super::client::tls_exchange;
use super::origins::RecordingOrigin;
use super::{bind, sample, scrape, set_origin, DAY};
use crate::certs::{self_signed, Alg};
use crate::harness::TestServer;

/// Issue 10, item 5, the slow kind: a client that declares a body and does not send it is the
/// client's problem too. When the time for the origin's response headers runs out while the
/// edge still waits for the client's body, the answer is `408` and no upstream failure is
/// counted (`livecert_edge_client_body_errors_total` is); an origin that has the whole request
/// and does not answer in time is still `504`, counted as the origin's failure.
#[tokio::test(flavor = "multi_thread")]
async fn a_body_the_client_does_not_send_is_408_and_an_origin_that_does_not_answer_is_504() {
    let server = TestServer::start().await;
    let now = server.clock_now();
    let origin = RecordingOrigin::start().await;
    // An origin that accepts connections and never answers.
    let mute = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind mute origin");
    let mute_addr = mute.local_addr().expect("mute addr");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = mute.accept().await {
            held.push(stream);
        }
    });
    for (d, o) in [
        ("live.example.com", origin.addr),
        ("mute.example.com", mute_addr),
    ] {
        server.add_domain(d).await;
        let g = self_signed(&[d], now - DAY, now + 90 * DAY, Alg::P256);
        bind(&server, d, d, &g).await;
        set_origin(&server, d, &format!("http://{o}")).await;
    }
    let edge = livecert::edge::Edge::load(server.store.clone())
        .await
        .expect("edge loads")
        .with_origin_headers_timeout(Duration::from_secs(1));
    let tls = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let tls_addr = tls.local_addr().expect("tls addr");
    let metrics = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind metrics");
    let metrics_addr = metrics.local_addr().expect("metrics addr");
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let until_stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let tasks = [
        tokio::spawn(
            edge.clone()
                .serve_metrics(metrics, until_stopped(stopped.clone())),
        ),
        tokio::spawn(async move {
            let _ = edge.serve(tls, until_stopped(stopped)).await;
        }),
    ];

    // 10 of 100 bytes, and then nothing: the connection stays open, waiting.
    let late = tls_exchange(
        tls_addr,
        "live.example.com",
        b"POST /upload HTTP/1.1\r\nHost: live.example.com\r\nContent-Length: 100\r\n\r\n0123456789",
    )
    .await;
    assert_eq!(late.status, 408, "{}", late.body);
    let mute_reply = tls_exchange(
        tls_addr,
        "mute.example.com",
        b"GET / HTTP/1.1\r\nHost: mute.example.com\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(mute_reply.status, 504, "{}", mute_reply.body);

    let (_, text) = scrape(metrics_addr).await;
    assert_eq!(
        sample(&text, "livecert_edge_upstream_failures_total"),
        1,
        "{text}"
    );
    assert_eq!(
        sample(&text, "livecert_edge_client_body_errors_total"),
        1,
        "{text}"
    );
    assert_eq!(
        origin.hosts(),
        ["live.example.com"],
        "the late request reached its origin"
    );

    let _ = stop.send(true);
    for task in tasks {
        let _ = task.await;
    }
    server.stop().await;
}
