//! The plain-HTTP port: redirects for domains that require HTTPS, forwarding for the others, 404
//! for the rest, and ACME HTTP-01 challenges from the webroot or the domain's origin.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use livecert::edge::origin::Origin;
use livecert_core::names::DomainName;
use tokio::net::TcpStream;

use super::client::handshake;
use super::origins::start_origin;
use super::{bind, header, sample, scrape, set_origin, within, DAY};
use crate::certs::{self_signed, Alg};
use crate::harness::{Scheme, TestServer};

/// Adds `secure.example.com` and `plain.example.com`, each bound to a certificate of its own.
async fn bind_plain_test_domains(server: &TestServer) {
    let now = server.clock_now();
    for d in ["secure.example.com", "plain.example.com"] {
        server.add_domain(d).await;
        let g = self_signed(&[d], now - DAY, now + 90 * DAY, Alg::P256);
        bind(server, d, d, &g).await;
    }
}

/// Turns `https_required` on for `domain` (`livecert admin domain set --https-required on`).
async fn require_https(server: &TestServer, domain: &str) {
    server
        .store
        .set_domain_flags(
            &DomainName::parse(domain).expect("domain name"),
            livecert_store::DomainFlags {
                https_required: true,
                ..livecert_store::DomainFlags::default()
            },
            server.clock_now(),
        )
        .await
        .expect("flags set");
}

/// One plain-HTTP/1.1 GET of `path` with `host` on a new connection to `addr`: the response's
/// head and body.
async fn plain_get(addr: SocketAddr, host: &str, path: &str) -> (http::response::Parts, String) {
    let tcp = TcpStream::connect(addr).await.expect("connect plain HTTP");
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .expect("HTTP/1.1");
    tokio::spawn(connection);
    let request = http::Request::get(path)
        .header(http::header::HOST, host)
        .body(Empty::<Bytes>::new())
        .expect("request");
    let response = sender.send_request(request).await.expect("response");
    let (parts, body) = response.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    (parts, String::from_utf8_lossy(&body).into_owned())
}

/// spec/edge.md: "when --edge-http-listen is given (off by default), a plain HTTP port that
/// redirects to HTTPS when the domain requires it and will serve ACME HTTP-01 challenges": a
/// domain that requires HTTPS is 308 to https (the change reaches a running edge), another is
/// forwarded to its origin with X-Forwarded-Proto: http (HTTPS on or off), and an unknown Host or
/// a stopped domain (even under a wildcard) is 404 and never reaches anyone's origin. ACME
/// challenges: the next test.
#[tokio::test(flavor = "multi_thread")]
async fn the_plain_http_port_redirects_required_domains_forwards_others_and_404s_the_rest() {
    let server = TestServer::start().await;
    bind_plain_test_domains(&server).await;
    server.add_domain("off.example.com").await;
    // A wildcard domain, and a stopped domain under it: the stopped name must not fall through.
    let now = server.clock_now();
    for d in ["*.wild.example.com", "stopped.wild.example.com"] {
        server.add_domain(d).await;
        let g = self_signed(&[d], now - DAY, now + 90 * DAY, Alg::P256);
        bind(&server, d, d, &g).await;
    }
    server
        .call(
            Scheme::V3,
            "StopLiveDomain",
            &[("DomainName", "stopped.wild.example.com")],
        )
        .await
        .ok();
    let origin = start_origin().await;
    for d in ["secure.example.com", "plain.example.com", "off.example.com"] {
        set_origin(&server, d, &format!("http://{origin}")).await;
    }
    // The default origin would take any domain without its own: unknown hosts must not reach it.
    let default = Origin::parse(&format!("http://{origin}")).expect("origin");
    let edge = livecert::edge::Edge::load(server.store.clone())
        .await
        .expect("edge loads")
        .with_default_origin(Some(default));
    let tls = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let tls_addr = tls.local_addr().expect("tls addr");
    let plain = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind plain");
    let plain_addr = plain.local_addr().expect("plain addr");
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
        tokio::spawn(
            edge.clone()
                .serve_http(plain, until_stopped(stopped.clone())),
        ),
        tokio::spawn(async move {
            let _ = edge.serve(tls, until_stopped(stopped)).await;
        }),
    ];

    // Not required yet: forwarded, X-Forwarded-Proto http.
    let (parts, _) = plain_get(plain_addr, "secure.example.com", "/live/a.flv?t=1").await;
    assert_eq!(parts.status, 200);
    assert_eq!(header(&parts, "x-echo-xfp"), "http");

    require_https(&server, "secure.example.com").await;
    let redirected = within(Duration::from_secs(2), || async {
        plain_get(plain_addr, "secure.example.com", "/")
            .await
            .0
            .status
            == 308
    })
    .await;
    assert!(redirected, "the running edge follows https_required");
    let (parts, body) = plain_get(
        plain_addr,
        "Secure.Example.COM.:8080",
        "/live/a.flv?token=x&t=1",
    )
    .await;
    assert_eq!(parts.status, 308, "{body}");
    assert_eq!(
        header(&parts, "location"),
        "https://secure.example.com/live/a.flv?token=x&t=1"
    );
    assert!(parts.headers.get("x-echo-xfp").is_none(), "not forwarded");

    // Not required: forwarded like the TLS side, with X-Forwarded-Proto: http.
    let (parts, _) = plain_get(plain_addr, "PLAIN.example.com:80", "/live/b.m3u8?x=1").await;
    assert_eq!(parts.status, 200);
    assert_eq!(header(&parts, "x-echo-xfp"), "http");
    assert_eq!(header(&parts, "x-echo-path"), "/live/b.m3u8?x=1");
    // The origin gets the Host the edge routed on: lower case, the client's port kept.
    assert_eq!(header(&parts, "x-echo-host"), "plain.example.com:80");
    assert_eq!(header(&parts, "x-echo-xff"), "127.0.0.1");

    // HTTPS off: plain HTTP is still served (a live domain without a certificate yet), and the
    // wildcard domain's other names too.
    for host in ["off.example.com", "any.wild.example.com"] {
        let (parts, body) = plain_get(plain_addr, host, "/live/c.flv").await;
        assert_eq!(parts.status, 200, "{host}: {body}");
        assert_eq!(header(&parts, "x-echo-host"), host);
        assert_eq!(header(&parts, "x-echo-xfp"), "http");
    }

    // An unknown Host and a stopped domain (not its wildcard's either): 404, short, never
    // forwarded (the default origin would echo), and no certificate over TLS for the stopped one.
    for (host, path) in [
        ("nobody.example.com", "/"),
        ("stopped.wild.example.com", "/"),
    ] {
        let (parts, body) = plain_get(plain_addr, host, path).await;
        assert_eq!(parts.status, 404, "{host}{path}: {body}");
        assert!(body.len() < 100, "a short body: {body}");
        assert!(
            parts.headers.get("x-echo-host").is_none(),
            "{host}{path} reached an origin"
        );
    }

    handshake(tls_addr, "stopped.wild.example.com")
        .await
        .assert_refused();
    handshake(tls_addr, "any.wild.example.com")
        .await
        .leaf_fingerprint();

    // Exact for the 404s; the redirect poll above may have been forwarded or redirected more
    // than once before the map moved.
    let (_, text) = scrape(metrics_addr).await;
    let count = |outcome: &str| {
        sample(
            &text,
            &format!("livecert_edge_http_requests_total{{outcome=\"{outcome}\"}}"),
        )
    };
    assert_eq!(count("not_served"), 2);
    assert_eq!(count("acme_challenge"), 0);
    assert!(count("forwarded") >= 4, "{text}");
    assert!(count("redirected") >= 2, "{text}");

    let _ = stop.send(true);
    for task in tasks {
        let _ = task.await;
    }
    server.stop().await;
}

/// spec/edge.md: the plain-HTTP port "will serve ACME HTTP-01 challenges" (RFC 8555 §8.3): a key
/// authorization the ACME client left in the operator's `--acme-webroot` is served for any Host;
/// a token the webroot does not have goes to the domain's origin (where the domain's own ACME
/// client answers), even for a domain that requires HTTPS (never redirected); a path whose last
/// part is not a base64url token, or an unknown Host without a file, is 404 and reaches no origin.
#[tokio::test(flavor = "multi_thread")]
async fn acme_challenges_come_from_the_webroot_or_the_domains_origin_and_are_never_redirected() {
    let server = TestServer::start().await;
    bind_plain_test_domains(&server).await;
    server.add_domain("off.example.com").await;
    let origin = start_origin().await;
    for d in ["secure.example.com", "plain.example.com", "off.example.com"] {
        set_origin(&server, d, &format!("http://{origin}")).await;
    }
    require_https(&server, "secure.example.com").await;

    // What certbot --webroot -w <webroot> leaves: <webroot>/.well-known/acme-challenge/<token>.
    let webroot = tempfile::tempdir().expect("webroot");
    let challenges = webroot.path().join(".well-known/acme-challenge");
    std::fs::create_dir_all(&challenges).expect("challenge dir");
    let token = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0";
    let key_authorization = format!("{token}.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI");
    std::fs::write(challenges.join(token), &key_authorization).expect("token file");
    std::fs::write(webroot.path().join("secret.txt"), "operator's file").expect("other file");
    std::fs::create_dir(challenges.join("adirectory")).expect("a directory");
    std::fs::write(challenges.join("toolarge"), vec![b'a'; 5000]).expect("large file");

    let edge = livecert::edge::Edge::load(server.store.clone())
        .await
        .expect("edge loads")
        .with_acme_webroot(Some(webroot.path().to_path_buf()));
    let plain = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind plain");
    let plain_addr = plain.local_addr().expect("plain addr");
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(edge.serve_http(plain, async move {
        let _ = stopped.wait_for(|s| *s).await;
    }));

    let path = format!("/.well-known/acme-challenge/{token}");
    for host in [
        "plain.example.com",
        "secure.example.com",
        "nobody.example.com",
    ] {
        let (parts, body) = plain_get(plain_addr, host, &path).await;
        assert_eq!(parts.status, 200, "{host}: {body}");
        assert_eq!(body, key_authorization, "{host}");
        assert!(
            parts.headers.get("x-echo-host").is_none(),
            "{host}: from the webroot"
        );
    }

    // Not in the webroot: the domain's origin answers, with no redirect for the HTTPS-required
    // one, and for a domain with HTTPS off (its first certificate is what the challenge is for).
    for host in ["plain.example.com", "secure.example.com", "off.example.com"] {
        let (parts, body) = plain_get(
            plain_addr,
            host,
            "/.well-known/acme-challenge/other-Token_1",
        )
        .await;
        assert_eq!(parts.status, 200, "{host}: {body}");
        assert_eq!(
            header(&parts, "x-echo-path"),
            "/.well-known/acme-challenge/other-Token_1"
        );
        assert_eq!(header(&parts, "x-echo-xfp"), "http");
    }

    // Not tokens, or nobody to ask: 404, short, no origin reached.
    for (host, path) in [
        (
            "nobody.example.com",
            "/.well-known/acme-challenge/other-Token_1",
        ),
        (
            "plain.example.com",
            "/.well-known/acme-challenge/../../secret.txt",
        ),
        (
            "plain.example.com",
            "/.well-known/acme-challenge/..%2f..%2fsecret.txt",
        ),
        ("plain.example.com", "/.well-known/acme-challenge/"),
        ("plain.example.com", "/.well-known/acme-challenge/a/b"),
        (
            "nobody.example.com",
            "/.well-known/acme-challenge/adirectory",
        ),
        ("nobody.example.com", "/.well-known/acme-challenge/toolarge"),
    ] {
        let (parts, body) = plain_get(plain_addr, host, path).await;
        assert_eq!(parts.status, 404, "{host}{path}: {body}");
        assert!(body.len() < 100, "a short body: {body}");
        assert!(!body.contains("operator"), "{host}{path}: {body}");
        assert!(
            parts.headers.get("x-echo-host").is_none(),
            "{host}{path} reached an origin"
        );
    }

    let _ = stop.send(true);
    let _ = task.await;
    server.stop().await;
}
