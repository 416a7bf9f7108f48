//! End-to-end flows of the operations through the signed client: the decision table's success
//! rows, the read operations' shapes, and the secrets rule.

use serde_json::Value;

use crate::certs::{issued, self_signed, Alg};
use crate::harness::{Scheme, TestServer};

const DAY: i64 = 86_400;

fn set_params<'a>(
    domain: &'a str,
    name: &'a str,
    chain: &'a str,
    key: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("DomainName", domain),
        ("SSLProtocol", "on"),
        ("CertType", "upload"),
        ("CertName", name),
        ("SSLPub", chain),
        ("SSLPri", key),
    ]
}

async fn cert_info(server: &TestServer, domain: &str) -> Value {
    let r = server
        .call(
            Scheme::V3,
            "DescribeLiveDomainCertificateInfo",
            &[("DomainName", domain)],
        )
        .await;
    r.ok()["CertInfos"]["CertInfo"][0].clone()
}

async fn list(server: &TestServer) -> Vec<Value> {
    let r = server
        .call(Scheme::V3, "DescribeLiveCertificateList", &[])
        .await;
    r.ok()["CertificateListModel"]["CertList"]["Cert"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn set_then_read_back_with_both_schemes_and_key_types() {
    let server = TestServer::start().await;
    let now = server.clock_now();
    for (i, (scheme, alg)) in [(Scheme::V3, Alg::P256), (Scheme::V1, Alg::Rsa2048)]
        .into_iter()
        .enumerate()
    {
        let domain = format!("live{i}.example.com");
        server.add_domain(&domain).await;
        let g = issued(&[&domain], now - DAY, now + 90 * DAY, alg);
        let name = format!("cert-{i}");
        let r = server
            .call(
                scheme,
                "SetLiveDomainCertificate",
                &set_params(&domain, &name, &g.chain_pem, &g.key_pem),
            )
            .await;
        r.ok();
        let info = cert_info(&server, &domain).await;
        assert_eq!(info["DomainName"], domain.as_str());
        assert_eq!(info["CertName"], name.as_str());
        assert_eq!(info["SSLProtocol"], "on");
        assert_eq!(info["CertDomainName"], domain.as_str());
        assert_eq!(
            info["CertExpireTime"],
            livecert_core::timefmt::format_utc(g.not_after).as_str()
        );
        assert_eq!(info["CertLife"], "3 months");
        assert_eq!(info["CertOrg"], "livecert tests");
        assert_eq!(info["CertType"], "upload");
        let served = info["SSLPub"].as_str().unwrap_or_default();
        assert_eq!(
            served.matches("BEGIN CERTIFICATE").count(),
            2,
            "leaf and intermediate"
        );
        assert!(!served.contains("PRIVATE KEY"));

        let detail = server
            .call(
                Scheme::V3,
                "DescribeLiveCertificateDetail",
                &[("CertName", &name)],
            )
            .await;
        let detail = detail.ok();
        assert_eq!(detail["CertName"], name.as_str());
        assert_eq!(detail["Cert"].as_str(), Some(served));
        assert!(detail["CertId"].as_u64().is_some_and(|id| id >= 1_000_000));
        assert!(!detail.to_string().contains("PRIVATE KEY"));

        let domain_detail = server
            .call(
                Scheme::V3,
                "DescribeLiveDomainDetail",
                &[("DomainName", &domain)],
            )
            .await;
        let dd = &domain_detail.ok()["DomainDetail"];
        assert_eq!(dd["SSLProtocol"], "on");
        assert_eq!(dd["CertName"], name.as_str());
        assert_eq!(dd["DomainStatus"], "online");
        assert_eq!(dd["Cname"], format!("{domain}.livecert.local").as_str());
    }
    let certs = list(&server).await;
    assert_eq!(certs.len(), 2);
    assert!(
        certs[0]["CertId"].as_u64() < certs[1]["CertId"].as_u64(),
        "ordered by CertId"
    );
    assert_eq!(certs[0]["Common"], "live0.example.com");
    assert_eq!(certs[0]["Issuer"], "livecert test intermediate");
    assert_eq!(certs[0]["Fingerprint"].as_str().map(str::len), Some(64));
    let only_one = server
        .call(
            Scheme::V3,
            "DescribeLiveCertificateList",
            &[("DomainName", "live1.example.com")],
        )
        .await;
    assert_eq!(only_one.ok()["CertificateListModel"]["Count"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn renewal_rotation_generated_names_and_turning_off() {
    let server = TestServer::start().await;
    let now = server.clock_now();
    server.add_domain("a.example.com").await;
    server.add_domain("b.example.com").await;
    let g = self_signed(
        &["a.example.com", "b.example.com"],
        now - DAY,
        now + 397 * DAY,
        Alg::P256,
    );

    // Row 22: no CertName → generated from the first SAN, notAfter and fingerprint.
    let params = vec![
        ("DomainName", "a.example.com"),
        ("SSLProtocol", "on"),
        ("SSLPub", g.chain_pem.as_str()),
        ("SSLPri", g.key_pem.as_str()),
    ];
    server
        .call(Scheme::V3, "SetLiveDomainCertificate", &params)
        .await
        .ok();
    let info = cert_info(&server, "a.example.com").await;
    let generated = info["CertName"].as_str().unwrap_or_default().to_owned();
    let expected_prefix = format!(
        "a.example.com-{}-",
        livecert_core::timefmt::format_yyyymmdd(g.not_after)
    );
    assert!(generated.starts_with(&expected_prefix), "{generated}");
    assert_eq!(info["CertLife"], "1 year");

    // Row 25: the same content again is a success that changes nothing, not even LastTime.
    let before = list(&server).await;
    server.clock.advance(60);
    server
        .call(Scheme::V3, "SetLiveDomainCertificate", &params)
        .await
        .ok();
    assert_eq!(list(&server).await, before);

    // The same record bound to a second domain by uploading the same content under the same name.
    let with_name = set_params("b.example.com", &generated, &g.chain_pem, &g.key_pem);
    server
        .call(Scheme::V3, "SetLiveDomainCertificate", &with_name)
        .await
        .ok();
    assert_eq!(list(&server).await.len(), 1);

    // Row 26: a forced rotation that would not cover b.example.com is refused; nothing changes.
    let narrow = self_signed(&["a.example.com"], now - DAY, now + 90 * DAY, Alg::P256);
    let mut forced = set_params(
        "a.example.com",
        &generated,
        &narrow.chain_pem,
        &narrow.key_pem,
    );
    forced.push(("ForceSet", "1"));
    let r = server
        .call(Scheme::V3, "SetLiveDomainCertificate", &forced)
        .await;
    assert_eq!(
        r.code(),
        "SetDomainCertificate.ParameterError",
        "{}",
        r.body
    );
    assert!(r.message().contains("b.example.com"), "{}", r.message());
    assert_eq!(list(&server).await.len(), 1);

    // A forced rotation that covers both replaces the record in place: same CertId, both serve it.
    let wider = self_signed(
        &["a.example.com", "b.example.com"],
        now - DAY,
        now + 90 * DAY,
        Alg::P256,
    );
    let mut rotate = set_params(
        "a.example.com",
        &generated,
        &wider.chain_pem,
        &wider.key_pem,
    );
    rotate.push(("ForceSet", "1"));
    server
        .call(Scheme::V3, "SetLiveDomainCertificate", &rotate)
        .await
        .ok();
    let after = list(&server).await;
    assert_eq!(after.len(), 1);
    assert_eq!(after[0]["CertId"], before[0]["CertId"]);
    assert_ne!(after[0]["Fingerprint"], before[0]["Fingerprint"]);
    for d in ["a.example.com", "b.example.com"] {
        assert_eq!(
            cert_info(&server, d).await["CertLife"],
            "3 months",
            "{d} serves the rotated record"
        );
    }

    // Rows 13 and 15: off, then off again; the record stays in the library.
    for _ in 0..2 {
        let r = server
            .call(
                Scheme::V1,
                "SetLiveDomainCertificate",
                &[("DomainName", "a.example.com"), ("SSLProtocol", "off")],
            )
            .await;
        r.ok();
    }
    let off = cert_info(&server, "a.example.com").await;
    assert_eq!(off["SSLProtocol"], "off");
    assert_eq!(off["CertName"], "");
    assert_eq!(list(&server).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chain_that_does_not_cover_the_domain_is_stored_but_not_bound() {
    let server = TestServer::start().await;
    let now = server.clock_now();
    server.add_domain("live.example.com").await;
    let other = self_signed(&["other.example.org"], now - DAY, now + 90 * DAY, Alg::P256);
    let r = server
        .call(
            Scheme::V3,
            "SetLiveDomainCertificate",
            &set_params(
                "live.example.com",
                "other",
                &other.chain_pem,
                &other.key_pem,
            ),
        )
        .await;
    assert_eq!(r.code(), "Certificate.SettedNotEffect", "{}", r.body);
    assert!(r.message().contains("other.example.org"), "{}", r.message());
    // Row 28: the record is committed; the domain keeps its previous state (HTTPS off).
    assert_eq!(list(&server).await.len(), 1);
    assert_eq!(
        cert_info(&server, "live.example.com").await["SSLProtocol"],
        "off"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn responses_follow_the_requested_format() {
    let server = TestServer::start().await;
    server.add_domain("live.example.com").await;
    let r = server
        .call(
            Scheme::V3,
            "DescribeLiveDomainCertificateInfo",
            &[("DomainName", "live.example.com"), ("Format", "XML")],
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.content_type, "text/xml;charset=utf-8");
    assert!(
        r.body
            .contains("<DescribeLiveDomainCertificateInfoResponse><RequestId>"),
        "{}",
        r.body
    );
    assert!(
        r.body
            .contains("<CertInfos><CertInfo><DomainName>live.example.com</DomainName>"),
        "{}",
        r.body
    );
    let e = server
        .call(
            Scheme::V1,
            "DescribeLiveDomainCertificateInfo",
            &[("DomainName", "nope.example.com"), ("Format", "xml")],
        )
        .await;
    assert_eq!(e.status, 400);
    assert_eq!(e.content_type, "text/xml;charset=utf-8");
    assert!(e.body.contains("<Error><RequestId>"), "{}", e.body);
    assert!(
        e.body.contains("<Code>IllegalOperationDomain</Code>"),
        "{}",
        e.body
    );
    let request_id = r
        .body
        .split("<RequestId>")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap_or_default();
    assert_eq!(request_id, request_id.to_uppercase());
    assert_eq!(request_id.len(), 36);
    assert!(r
        .headers
        .iter()
        .any(|(k, v)| k == "x-acs-request-id" && v == request_id));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn private_keys_and_secrets_never_reach_the_database_file_in_clear() {
    let server = TestServer::start().await;
    let now = server.clock_now();
    server.add_domain("live.example.com").await;
    let g = self_signed(&["live.example.com"], now - DAY, now + 90 * DAY, Alg::P256);
    server
        .call(
            Scheme::V3,
            "SetLiveDomainCertificate",
            &set_params("live.example.com", "k", &g.chain_pem, &g.key_pem),
        )
        .await
        .ok();
    let key_body: String = g
        .key_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(server.dir.path()).expect("data dir") {
        let path = entry.expect("entry").path();
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("livecert.db"))
        {
            bytes.extend(std::fs::read(&path).expect("db file"));
        }
    }
    assert!(!bytes.is_empty());
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        !text.contains(&key_body[..40]),
        "a private key is stored in clear"
    );
    assert!(
        !text.contains("PRIVATE KEY"),
        "a private key block is stored in clear"
    );
    assert!(
        !text.contains("testsecret"),
        "an AccessKey secret is stored in clear"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn http2_carries_request_targets_as_long_as_http1() {
    let server = TestServer::start().await;
    let target = format!(
        "/?Action=DescribeLiveCertificateList&Pad={}",
        "a".repeat(60_000)
    );
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .http2_only(true)
        .build_http();
    let request = http::Request::get(format!("http://{}{target}", server.addr))
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .expect("request");
    let response = client.request(request).await.expect("h2 request");
    assert_eq!(response.version(), http::Version::HTTP_2);
    // Unsigned: the envelope answers, not the HTTP layer.
    assert_eq!(response.status(), 400);
}
