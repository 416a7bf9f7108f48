//! The operator's default certificate: it answers unknown names, never a bound domain.

use rustls::pki_types::CertificateDer;
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;

use super::client::{handshake, Http1};
use super::{bind, TestEdge, DAY};
use crate::certs::{self_signed, Alg, Generated};
use crate::harness::TestServer;

/// spec/edge.md: "No SNI, unknown name, …: refused, unless an operator-configured default
/// certificate exists. Never serve another tenant's certificate as a fallback."
#[tokio::test(flavor = "multi_thread")]
async fn an_operator_default_certificate_answers_unknown_names_and_never_a_bound_domain() {
    let server = TestServer::start().await;
    let now = server.clock_now();
    server.add_domain("a.example.com").await;
    // The tenant's certificate also lists the name asked for below: it must not be chosen.
    let a = self_signed(
        &["a.example.com", "nobody.example.com"],
        now - DAY,
        now + 90 * DAY,
        Alg::P256,
    );
    bind(&server, "a.example.com", "a", &a).await;
    let operator = self_signed(&["edge.invalid"], now - DAY, now + 90 * DAY, Alg::P256);
    let cert = server.dir.path().join("default-chain.pem");
    let key = server.dir.path().join("default-key.pem");
    std::fs::write(&cert, &operator.chain_pem).expect("write chain");
    std::fs::write(&key, &operator.key_pem).expect("write key");
    let default = livecert::edge::default_certificate(Some(&(cert, key))).expect("default loads");
    let edge = livecert::edge::Edge::load(server.store.clone())
        .await
        .expect("edge loads")
        .with_default_certificate(default)
        .expect("TLS config");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(edge.serve(listener, async move {
        let _ = rx.await;
    }));

    let fingerprint_of = |g: &Generated| {
        rustls::pki_types::pem::PemObject::from_pem_slice(g.chain_pem.as_bytes())
            .map(|c: CertificateDer<'static>| hex::encode(Sha256::digest(c.as_ref())))
            .expect("PEM")
    };
    let (a_fp, operator_fp) = (fingerprint_of(&a), fingerprint_of(&operator));
    assert_eq!(
        handshake(addr, "a.example.com").await.leaf_fingerprint(),
        a_fp
    );
    // An unknown name, and no SNI at all (an IP address is not sent as SNI).
    for sni in ["nobody.example.com", "127.0.0.1"] {
        let h = handshake(addr, sni).await;
        assert_eq!(h.leaf_fingerprint(), operator_fp, "{sni}");
        // The connection serves no domain: its requests are misdirected.
        let mut http = Http1::open(h.stream.expect("handshake")).await;
        assert_eq!(http.get("a.example.com").await.0, 421);
    }
    let _ = tx.send(());
    let _ = task.await;

    // Without the option, the same names are refused.
    let edge = TestEdge::start(&server).await;
    handshake(edge.addr, "nobody.example.com")
        .await
        .assert_refused();
    handshake(edge.addr, "127.0.0.1").await.assert_refused();
    edge.stop().await;
    server.stop().await;
}
