//! The requests recorded from the official SDKs (shared/fixtures/sdk-requests), sent byte for byte
//! to a server whose clock is pinned at the recording time: each verifies and succeeds; one
//! tampered byte gives `SignatureDoesNotMatch`; a replay gives `SignatureNonceUsed`.

use std::path::PathBuf;

use crate::harness::{Scheme, TestServer};

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/sdk-requests")
}

/// Every `.http` fixture, Set requests first (the reads expect the binding they make).
fn fixtures() -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(fixture_dir())
        .expect("shared/fixtures/sdk-requests must sit beside the repository")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "http"))
        .map(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            (name, std::fs::read(&p).expect("fixture reads"))
        })
        .collect();
    out.sort_by_key(|(name, _)| (!name.contains("-set-"), name.clone()));
    assert_eq!(out.len(), 26, "the fixtures README lists 26 .http files");
    out
}

fn wants_xml(name: &str) -> bool {
    name.contains("formatxml")
}

async fn server_with_domain() -> TestServer {
    let server = TestServer::start().await;
    server.add_domain("live.example.com").await;
    server
}

#[tokio::test(flavor = "multi_thread")]
async fn every_recorded_sdk_request_verifies_and_succeeds() {
    let server = server_with_domain().await;
    for (name, bytes) in fixtures() {
        let reply = server.raw(&bytes).await;
        assert_eq!(reply.status, 200, "{name}: {}", reply.body);
        if wants_xml(&name) {
            assert_eq!(reply.content_type, "text/xml;charset=utf-8", "{name}");
            assert!(reply.body.starts_with("<?xml"), "{name}: {}", reply.body);
        } else {
            assert_eq!(
                reply.content_type, "application/json;charset=utf-8",
                "{name}"
            );
            assert!(
                reply.json.get("RequestId").is_some(),
                "{name}: {}",
                reply.body
            );
            assert!(
                reply.json.get("Code").is_none(),
                "{name}: a success body never has Code"
            );
        }
    }
    let info = server
        .call(
            Scheme::V3,
            "DescribeLiveDomainCertificateInfo",
            &[("DomainName", "live.example.com")],
        )
        .await;
    let entry = &info.ok()["CertInfos"]["CertInfo"][0];
    assert_eq!(entry["CertName"], "mycert");
    assert_eq!(entry["SSLProtocol"], "on");
    assert_eq!(entry["CertExpireTime"], "2036-11-26T22:36:43Z");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replayed_fixture_is_refused_with_signature_nonce_used() {
    let server = server_with_domain().await;
    for (name, bytes) in fixtures() {
        server.raw(&bytes).await;
        let again = server.raw(&bytes).await;
        assert_eq!(again.status, 400, "{name}");
        assert!(
            again.body.contains("SignatureNonceUsed"),
            "{name}: {}",
            again.body
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn one_tampered_byte_gives_signature_does_not_match() {
    let server = server_with_domain().await;
    for (name, bytes) in fixtures() {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        // live.example.com → live.exbmple.com: same length, so Content-Length still holds.
        let at = text
            .find("live.example.com")
            .expect("every fixture names the domain");
        let mut tampered = bytes.clone();
        tampered[at + 7] = b'b';
        let reply = server.raw(&tampered).await;
        assert_eq!(reply.status, 400, "{name}: {}", reply.body);
        assert!(
            reply.body.contains("SignatureDoesNotMatch"),
            "{name}: {}",
            reply.body
        );
        assert!(reply.body.contains("server string to sign is:"), "{name}");
    }
}
