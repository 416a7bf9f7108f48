//! The one host of a request (RFC 9112 §3.2, RFC 9113 §8.3.1): without exactly one valid host a
//! request is 400 and never reaches the origin, on the TLS port and on the plain-HTTP port.

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Empty;
use hyper_util::rt::{TokioExecutor, TokioIo};

use super::client::{handshake_with, tls_exchange};
use super::origins::RecordingOrigin;
use super::{bind, set_origin, DAY};
use crate::certs::{self_signed, Alg};
use crate::harness::TestServer;

/// One HTTP/2 request on a new TLS connection with SNI `sni`: `uri` gives `:authority` (when it
/// is absolute) and `hosts` are sent as Host header lines; the status, or `None` when the stream
/// was reset.
async fn h2_status(addr: SocketAddr, sni: &str, uri: &str, hosts: &[&str]) -> Option<u16> {
    let stream = handshake_with(addr, sni, &[b"h2"])
        .await
        .stream
        .expect("handshake");
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .expect("HTTP/2 over TLS");
    tokio::spawn(connection);
    let mut request = http::Request::get(uri)
        .body(Empty::<Bytes>::new())
        .expect("request");
    for host in hosts {
        request.headers_mut().append(
            http::header::HOST,
            http::HeaderValue::from_str(host).expect("host value"),
        );
    }
    let response = sender.send_request(request).await.ok()?;
    Some(response.status().as_u16())
}

/// Issue 10, item 4; RFC 9112 §3.2: "A server MUST respond with a 400 (Bad Request) status code
/// to any HTTP/1.1 request message that lacks a Host header field and to any request message that
/// contains more than one Host header field line or a Host header field with an invalid field
/// value"; RFC 9113 §8.3.1: an HTTP/2 request whose Host names another entity than its
/// `:authority` is malformed. On the TLS port and on the plain-HTTP port such a request is `400`
/// and reaches no origin, whichever of the two Hosts is the served domain; the origin only ever
/// receives the domain the edge routed on (lower case, no trailing dot, the client's port kept).
#[tokio::test(flavor = "multi_thread")]
async fn a_request_without_exactly_one_valid_host_is_400_and_never_reaches_the_origin() {
    let server = TestServer::start().await;
    let now = server.clock_now();
    let origin = RecordingOrigin::start().await;
    for d in ["live.example.com", "other.example.com"] {
        server.add_domain(d).await;
        let g = self_signed(&[d], now - DAY, now + 90 * DAY, Alg::P256);
        bind(&server, d, d, &g).await;
        set_origin(&server, d, &format!("http://{}", origin.addr)).await;
    }
    let edge = livecert::edge::Edge::load(server.store.clone())
        .await
        .expect("edge loads");
    let tls = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let tls_addr = tls.local_addr().expect("tls addr");
    let plain = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind plain");
    let plain_addr = plain.local_addr().expect("plain addr");
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let until_stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let tasks = [
        tokio::spawn(
            edge.clone()
                .serve_http(plain, until_stopped(stopped.clone())),
        ),
        tokio::spawn(async move {
            let _ = edge.serve(tls, until_stopped(stopped)).await;
        }),
    ];

    let malformed = [
        (
            "two Host lines, the served domain first",
            "GET / HTTP/1.1\r\nHost: live.example.com\r\nHost: other.example.com\r\n",
        ),
        (
            "two Host lines, the served domain second",
            "GET / HTTP/1.1\r\nHost: other.example.com\r\nHost: live.example.com\r\n",
        ),
        (
            "two identical Host lines",
            "GET / HTTP/1.1\r\nHost: live.example.com\r\nHost: live.example.com\r\n",
        ),
        ("no Host", "GET / HTTP/1.1\r\n"),
        ("no Host in HTTP/1.0", "GET / HTTP/1.0\r\n"),
        ("an empty Host", "GET / HTTP/1.1\r\nHost: \r\n"),
        ("userinfo in Host", "GET / HTTP/1.1\r\nHost: a@live.example.com\r\n"),
        ("a path in Host", "GET / HTTP/1.1\r\nHost: live.example.com/x\r\n"),
        ("a port that is not a number", "GET / HTTP/1.1\r\nHost: live.example.com:https\r\n"),
        ("two ports", "GET / HTTP/1.1\r\nHost: live.example.com:1:2\r\n"),
        (
            "userinfo in an absolute-form target",
            "GET http://a@live.example.com/ HTTP/1.1\r\nHost: live.example.com\r\n",
        ),
        (
            "an ACME challenge with two Host lines",
            "GET /.well-known/acme-challenge/abc HTTP/1.1\r\nHost: live.example.com\r\nHost: other.example.com\r\n",
        ),
    ];
    for (case, head) in malformed {
        let request = format!("{head}Connection: close\r\n\r\n");
        let over_tls = tls_exchange(tls_addr, "live.example.com", request.as_bytes()).await;
        assert_eq!(over_tls.status, 400, "TLS, {case}: {}", over_tls.body);
        let over_plain = crate::harness::raw_exchange(plain_addr, request.as_bytes()).await;
        assert_eq!(
            over_plain.status, 400,
            "plain HTTP, {case}: {}",
            over_plain.body
        );
        assert!(
            origin.hosts().is_empty(),
            "{case} reached the origin: {:?}",
            origin.hosts()
        );
    }
    // HTTP/2: userinfo in :authority, a Host naming another domain than :authority, two Hosts.
    for (case, uri, hosts) in [
        (
            "userinfo in :authority",
            "https://a@live.example.com/",
            &[][..],
        ),
        (
            "Host differs from :authority",
            "https://live.example.com/",
            &["other.example.com"][..],
        ),
        (
            "two Hosts beside :authority",
            "https://live.example.com/",
            &["live.example.com", "other.example.com"][..],
        ),
    ] {
        let status = h2_status(tls_addr, "live.example.com", uri, hosts).await;
        assert!(
            matches!(status, Some(400) | None),
            "HTTP/2, {case}: {status:?}"
        );
        assert!(
            origin.hosts().is_empty(),
            "HTTP/2, {case} reached the origin: {:?}",
            origin.hosts()
        );
    }

    // Well-formed: forwarded, and the origin gets the served domain.
    let ok = |head: &str| format!("{head}Connection: close\r\n\r\n");
    let reply = tls_exchange(
        tls_addr,
        "live.example.com",
        ok("GET / HTTP/1.1\r\nHost: LIVE.Example.COM.:443\r\n").as_bytes(),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    // RFC 9112 §3.2.2: with an absolute-form target the Host line is ignored, the target's
    // authority routes, and it is what the origin gets.
    let reply = tls_exchange(
        tls_addr,
        "live.example.com",
        ok("GET https://live.example.com/ HTTP/1.1\r\nHost: other.example.com\r\n").as_bytes(),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let reply = crate::harness::raw_exchange(
        plain_addr,
        ok("GET / HTTP/1.1\r\nHost: live.example.com\r\n").as_bytes(),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    for hosts in [&[][..], &["live.example.com:443"][..]] {
        let status = h2_status(
            tls_addr,
            "live.example.com",
            "https://live.example.com/",
            hosts,
        )
        .await;
        assert_eq!(status, Some(200), "HTTP/2 with Host {hosts:?}");
    }
    assert_eq!(
        origin.hosts(),
        [
            "live.example.com:443",
            "live.example.com",
            "live.example.com",
            "live.example.com",
            "live.example.com",
        ]
    );

    let _ = stop.send(true);
    for task in tasks {
        let _ = task.await;
    }
    server.stop().await;
}
