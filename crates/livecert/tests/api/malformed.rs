//! Requests the API refuses on HTTP's own rules, before the protocol of spec/protocol.md: a
//! request without exactly one valid Host (RFC 9112 §3.2; HTTP/2: `:authority` and Host agree,
//! RFC 9113 §8.3.1), whose value would otherwise be echoed as `HostId` and signed as V3's `host`,
//! and a body that is not valid HTTP/1.1 framing (RFC 9112 §7.1). Each is `400` with the error
//! envelope, and the server keeps serving.

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};

use crate::harness::{Scheme, TestServer};

/// An unsigned POST of `/` with the given header lines (each ending in CRLF) and an empty body.
fn unsigned(headers: &str) -> Vec<u8> {
    format!("POST / HTTP/1.1\r\n{headers}Content-Length: 0\r\nConnection: close\r\n\r\n")
        .into_bytes()
}

/// RFC 9112 §3.2 on the API: two Host lines, an empty or invalid one, or none at all are `400`
/// (`InvalidParameter` naming Host, `MissingParameter` when there is none), and the rejected
/// value is never echoed as `HostId`; `/healthz` and `/metrics` follow the same rule. A valid
/// Host is echoed as `HostId` as before.
#[tokio::test(flavor = "multi_thread")]
async fn the_api_refuses_a_request_without_exactly_one_valid_host() {
    let server = TestServer::start().await;
    for (case, headers, code) in [
        (
            "two Host lines",
            "Host: api.example.com\r\nHost: evil.example.net\r\n",
            "InvalidParameter",
        ),
        ("an empty Host", "Host: \r\n", "InvalidParameter"),
        (
            "userinfo in Host",
            "Host: evil.example.net@api.example.com\r\n",
            "InvalidParameter",
        ),
        (
            "markup in Host",
            "Host: <b>evil.example.net</b>\r\n",
            "InvalidParameter",
        ),
        ("no Host", "", "MissingParameter"),
    ] {
        let reply = server.raw(&unsigned(headers)).await;
        assert_eq!(
            (reply.status, reply.code()),
            (400, code),
            "{case}: {}",
            reply.body
        );
        assert!(reply.message().contains("Host"), "{case}: {}", reply.body);
        assert!(
            !reply.body.contains("evil"),
            "{case}: the value is echoed: {}",
            reply.body
        );
    }
    for path in ["/healthz", "/metrics"] {
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: api.example.com\r\nHost: evil.example.net\r\nConnection: close\r\n\r\n"
        );
        let reply = server.raw(request.as_bytes()).await;
        assert_eq!(reply.status, 400, "{path}: {}", reply.body);
    }

    // HTTP/2 (prior knowledge): a Host that names another entity than :authority.
    let tcp = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connect");
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .expect("HTTP/2");
    tokio::spawn(connection);
    let mut request = http::Request::post(format!("http://{}/", server.addr))
        .body(Empty::<Bytes>::new())
        .expect("request");
    request.headers_mut().insert(
        http::header::HOST,
        http::HeaderValue::from_static("evil.example.net"),
    );
    let response = sender.send_request(request).await.expect("response");
    assert_eq!(response.status(), 400);
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let body = String::from_utf8_lossy(&body);
    assert!(body.contains("\"InvalidParameter\""), "{body}");
    assert!(!body.contains("evil"), "{body}");

    // One valid Host: the protocol runs, and HostId is the Host.
    let reply = server
        .raw(&unsigned("Host: API.example.com:8080\r\n"))
        .await;
    assert_eq!(reply.code(), "IncompleteSignature", "{}", reply.body);
    assert_eq!(reply.json["HostId"], "API.example.com:8080");
    server
        .call(Scheme::V3, "DescribeLiveCertificateList", &[])
        .await
        .ok();
    server.stop().await;
}

/// A chunked body with a bad chunk size, or a body that ends before its Content-Length (the
/// client closes its writing half), is the client's error: `400` `InvalidParameter` naming the
/// body (or, for the early end, the connection closed without an answer), never a 5xx; the
/// server keeps serving.
#[tokio::test(flavor = "multi_thread")]
async fn the_api_answers_a_broken_request_body_with_400() {
    use tokio::io::AsyncWriteExt;
    let server = TestServer::start().await;
    let host = server.addr.to_string();
    let reply = server
        .raw(
            format!(
                "POST / HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n\
                 Content-Type: application/x-www-form-urlencoded\r\n\r\n\
                 5\r\nAction\r\nzz\r\n=x\r\n0\r\n\r\n"
            )
            .as_bytes(),
        )
        .await;
    assert_eq!(
        (reply.status, reply.code()),
        (400, "InvalidParameter"),
        "{}",
        reply.body
    );
    assert!(reply.message().contains("body"), "{}", reply.body);

    let mut tcp = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connect");
    let short = format!(
        "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Length: 100\r\n\
         Content-Type: application/x-www-form-urlencoded\r\n\r\nAction=Des"
    );
    tcp.write_all(short.as_bytes()).await.expect("write");
    tcp.shutdown().await.expect("half close");
    let reply = crate::harness::raw_over(tcp, b"").await;
    assert!(
        reply.status == 0 || (reply.status, reply.code()) == (400, "InvalidParameter"),
        "a body that ends early: {} {}",
        reply.status,
        reply.body
    );

    server
        .call(Scheme::V3, "DescribeLiveCertificateList", &[])
        .await
        .ok();
    server.stop().await;
}
