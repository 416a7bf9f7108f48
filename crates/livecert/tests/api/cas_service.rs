//! The certificate service CAS (2020-04-07) and STS `GetCallerIdentity` (2015-04-01) on the same
//! listener as Live: the CAS library is the account's certificate library, so a record uploaded
//! through CAS binds with Live's `CertType=cas` by CertId or CertName, and a Live upload is
//! listed and read through CAS. The private key never comes back; a record that serves a domain
//! cannot be deleted.

use livecert_core::secret::Secret;
use serde_json::Value;

use crate::certs::{self_signed, Alg, Generated};
use crate::harness::{send, signed_request, Reply, Scheme, TestServer, TEST_ID};

const DAY: i64 = 86_400;

async fn upload(server: &TestServer, scheme: Scheme, name: &str, g: &Generated) -> Reply {
    server
        .call(
            scheme,
            "UploadUserCertificate",
            &[("Name", name), ("Cert", &g.chain_pem), ("Key", &g.key_pem)],
        )
        .await
}

async fn detail(server: &TestServer, cert_id: u64, filter: Option<&str>) -> Reply {
    let id = cert_id.to_string();
    let mut params = vec![("CertId", id.as_str())];
    if let Some(f) = filter {
        params.push(("CertFilter", f));
    }
    server
        .call(Scheme::V3, "GetUserCertificateDetail", &params)
        .await
}

async fn list(server: &TestServer, params: &[(&str, &str)]) -> Value {
    let r = server
        .call(Scheme::V1, "ListUserCertificateOrder", params)
        .await;
    r.ok().clone()
}

fn names(listing: &Value) -> Vec<String> {
    listing["CertificateOrderList"]
        .as_array()
        .expect("CertificateOrderList is an array")
        .iter()
        .map(|c| c["Name"].as_str().expect("Name").to_owned())
        .collect()
}

fn assert_refused(r: &Reply, status: u16, code: &str, what: &str) {
    assert_eq!(
        (r.status, r.code()),
        (status, code),
        "{what}: got {} {}",
        r.status,
        r.body
    );
}

/// Upload → detail (no key, CertFilter) → list → bind through Live by CertId and by CertName →
/// delete refused while bound, naming the domains → HTTPS off → delete → gone.
#[tokio::test]
async fn a_cas_upload_is_the_library_record_live_binds_and_deletes_once_unbound() {
    let server = TestServer::start().await;
    let now = server.clock_now();
    server.add_domain("live.example.com").await;
    server.add_domain("play.example.com").await;
    let g = self_signed(
        &["live.example.com", "play.example.com"],
        now - DAY,
        now + 90 * DAY,
        Alg::P256,
    );

    let r = upload(&server, Scheme::V1, "cas-demo", &g).await;
    let up = r.ok();
    assert!(
        up.get("Code").is_none(),
        "a success has no Code: {}",
        r.body
    );
    let cert_id = up["CertId"].as_u64().expect("CertId is a JSON integer");
    assert_eq!(up["ResourceId"], format!("cas-upload-{cert_id}"));

    let r = detail(&server, cert_id, None).await;
    let d = r.ok();
    assert_eq!(d["Id"].as_u64(), Some(cert_id));
    assert_eq!(d["Name"], "cas-demo");
    assert_eq!(d["CertIdentifier"], format!("{cert_id}-cn-hangzhou"));
    assert_eq!(d["Common"], "live.example.com");
    assert_eq!(d["Sans"], "live.example.com,play.example.com");
    assert_eq!(d["Expired"], false);
    assert_eq!(d["Key"], "", "the private key is never returned");
    assert!(!r.body.contains("PRIVATE KEY"), "{}", r.body);
    assert!(d["Cert"]
        .as_str()
        .unwrap()
        .starts_with("-----BEGIN CERTIFICATE-----"));
    assert!(d["NotAfter"].as_i64().unwrap() > now * 1000, "milliseconds");
    let filtered = detail(&server, cert_id, Some("True")).await;
    assert!(filtered.ok().get("Cert").is_none(), "{}", filtered.body);
    assert!(filtered.ok().get("Key").is_none());

    assert!(
        names(&list(&server, &[]).await).is_empty(),
        "CPACK lists orders"
    );
    let uploads = list(&server, &[("OrderType", "UPLOAD"), ("ShowSize", "100")]).await;
    assert_eq!(names(&uploads), ["cas-demo"]);
    assert_eq!(uploads["TotalCount"], 1);
    assert_eq!(
        uploads["CertificateOrderList"][0]["CertificateId"].as_u64(),
        Some(cert_id)
    );
    assert_eq!(uploads["CertificateOrderList"][0]["Status"], "ISSUED");

    let id = cert_id.to_string();
    for (domain, by) in [
        ("live.example.com", ("CertId", id.as_str())),
        ("play.example.com", ("CertName", "cas-demo")),
    ] {
        let r = server
            .call(
                Scheme::V3,
                "SetLiveDomainCertificate",
                &[
                    ("DomainName", domain),
                    ("SSLProtocol", "on"),
                    ("CertType", "cas"),
                    by,
                ],
            )
            .await;
        r.ok();
    }

    let r = server
        .call(Scheme::V3, "DeleteUserCertificate", &[("CertId", &id)])
        .await;
    assert_refused(&r, 400, "DeleteFailed", "delete while bound");
    assert!(r.message().contains("live.example.com"), "{}", r.message());
    assert!(r.message().contains("play.example.com"), "{}", r.message());
    detail(&server, cert_id, None).await.ok();

    for domain in ["live.example.com", "play.example.com"] {
        server
            .call(
                Scheme::V3,
                "SetLiveDomainCertificate",
                &[("DomainName", domain), ("SSLProtocol", "off")],
            )
            .await
            .ok();
    }
    let r = server
        .call(Scheme::V1, "DeleteUserCertificate", &[("CertId", &id)])
        .await;
    r.ok();
    assert_refused(
        &detail(&server, cert_id, None).await,
        400,
        "Certificate.NotFind",
        "detail after delete",
    );
    let r = server
        .call(Scheme::V3, "DeleteUserCertificate", &[("CertId", &id)])
        .await;
    assert_refused(&r, 400, "Certificate.NotFind", "delete twice");
    server.stop().await;
}

/// A Live upload is a CAS record; an upload under a taken Name is refused naming `Name`; another
/// account's CertId is not found; bad input names the parameter.
#[tokio::test]
async fn one_library_for_live_and_cas_with_names_unique_in_it() {
    let server = TestServer::start().await;
    let now = server.clock_now();
    server.add_domain("live.example.com").await;
    let g = self_signed(&["live.example.com"], now - DAY, now + 90 * DAY, Alg::P256);
    server
        .call(
            Scheme::V3,
            "SetLiveDomainCertificate",
            &[
                ("DomainName", "live.example.com"),
                ("SSLProtocol", "on"),
                ("CertName", "from-live"),
                ("SSLPub", &g.chain_pem),
                ("SSLPri", &g.key_pem),
            ],
        )
        .await
        .ok();
    let all = list(&server, &[("OrderType", "CERT")]).await;
    assert_eq!(names(&all), ["from-live"]);
    let live_id = all["CertificateOrderList"][0]["CertificateId"]
        .as_u64()
        .unwrap();
    assert_eq!(
        detail(&server, live_id, None).await.ok()["Name"],
        "from-live"
    );

    let other = self_signed(&["other.example.com"], now - DAY, now + 90 * DAY, Alg::P256);
    let r = upload(&server, Scheme::V3, "from-live", &other).await;
    assert_refused(&r, 400, "InvalidParameter", "a taken Name");
    assert!(r.message().contains("\"Name\""), "{}", r.message());
    assert!(
        r.message().contains(&live_id.to_string()),
        "{}",
        r.message()
    );

    for (params, code, name) in [
        (
            vec![("Cert", "x"), ("Key", "y")],
            "MissingParameter",
            "Name",
        ),
        (
            vec![("Name", "n"), ("Key", "y")],
            "MissingParameter",
            "Cert",
        ),
        (
            vec![
                ("Name", "n"),
                ("Cert", "x"),
                ("Key", "y"),
                ("SignCert", "s"),
            ],
            "InvalidParameter",
            "SignCert",
        ),
    ] {
        let r = server
            .call(Scheme::V3, "UploadUserCertificate", &params)
            .await;
        assert_refused(&r, 400, code, name);
        assert!(r.message().contains(name), "{}", r.message());
    }
    let r = upload(
        &server,
        Scheme::V3,
        "garbage",
        &Generated {
            chain_pem: "not a certificate".into(),
            key_pem: g.key_pem.clone(),
            not_after: 0,
        },
    )
    .await;
    assert_refused(&r, 400, "InvalidParameter", "not a certificate");
    assert!(r.message().contains("\"Cert\""), "{}", r.message());
    assert!(
        r.message().contains("Cert holds no certificate"),
        "{}",
        r.message()
    );

    let r = server
        .call(Scheme::V3, "ListUserCertificateOrder", &[("ShowSize", "0")])
        .await;
    assert_refused(&r, 400, "InvalidParameter", "ShowSize 0");
    let r = server
        .call(Scheme::V3, "GetUserCertificateDetail", &[("CertId", "x")])
        .await;
    assert_refused(&r, 400, "InvalidParameter", "CertId x");

    // Another account's record is not found (never revealed).
    let stranger = server.store.create_account(now).await.unwrap();
    server
        .store
        .import_access_key(
            stranger,
            "strangerid",
            &Secret::new(b"strangersecret".to_vec()),
            now,
        )
        .await
        .unwrap();
    let pairs = vec![("CertId".to_owned(), live_id.to_string().into_bytes())];
    let r = send(signed_request(
        server.addr,
        Scheme::V3,
        "GetUserCertificateDetail",
        pairs,
        "strangerid",
        "strangersecret",
        now,
    ))
    .await;
    assert_refused(&r, 400, "Certificate.NotFind", "another account's CertId");
    server.stop().await;
}

/// Paging: CurrentPage/ShowSize over the library by CertId, with TotalCount; expired uploads only
/// with Status=EXPIRED.
#[tokio::test]
async fn listings_page_and_hide_expired_certificates_unless_asked() {
    let server = TestServer::start().await;
    let now = server.clock_now();
    for i in 0..5 {
        let g = self_signed(
            &[&format!("n{i}.example.com")],
            now - DAY,
            now + 90 * DAY,
            Alg::P256,
        );
        upload(&server, Scheme::V3, &format!("c{i}"), &g).await.ok();
    }
    let page2 = list(
        &server,
        &[
            ("OrderType", "UPLOAD"),
            ("ShowSize", "2"),
            ("CurrentPage", "2"),
        ],
    )
    .await;
    assert_eq!(names(&page2), ["c2", "c3"]);
    assert_eq!(
        (page2["TotalCount"].as_u64(), page2["CurrentPage"].as_u64()),
        (Some(5), Some(2))
    );
    let hit = list(
        &server,
        &[("OrderType", "UPLOAD"), ("Keyword", "N4.EXAMPLE")],
    )
    .await;
    assert_eq!(names(&hit), ["c4"]);
    // Time passes: every certificate expires.
    server.clock.set(now + 91 * DAY);
    let valid = list(&server, &[("OrderType", "UPLOAD")]).await;
    assert!(names(&valid).is_empty(), "{valid}");
    let expired = list(&server, &[("OrderType", "UPLOAD"), ("Status", "EXPIRED")]).await;
    assert_eq!(expired["TotalCount"], 5);
    assert_eq!(expired["CertificateOrderList"][0]["Expired"], true);
    server.stop().await;
}

/// STS GetCallerIdentity answers root credentials and a RAM user with no policy at all (it needs
/// none); CAS actions are authorized in the `yundun-cert` namespace; a CAS action sent with
/// Live's version is `InvalidVersion`, naming what the listener answers.
#[tokio::test]
async fn products_are_routed_by_action_and_version() {
    let server = TestServer::start().await;
    let now = server.clock_now();
    let r = server.call(Scheme::V3, "GetCallerIdentity", &[]).await;
    let me = r.ok();
    let account = me["AccountId"]
        .as_str()
        .expect("AccountId is a string")
        .to_owned();
    assert_eq!(me["IdentityType"], "Account");
    assert_eq!(me["Arn"], format!("acs:ram::{account}:root"));
    assert_eq!(me["PrincipalId"], account);

    let account_id: u64 = account.parse().unwrap();
    server
        .store
        .create_user(account_id, "bob", now)
        .await
        .unwrap();
    server
        .store
        .import_user_access_key(
            account_id,
            "bob",
            "bobid",
            &Secret::new(b"bobsecret".to_vec()),
            now,
        )
        .await
        .unwrap();
    let as_bob = |action: &'static str, params: Vec<(String, Vec<u8>)>| {
        send(signed_request(
            server.addr,
            Scheme::V3,
            action,
            params,
            "bobid",
            "bobsecret",
            now,
        ))
    };
    let r = as_bob("GetCallerIdentity", vec![]).await;
    let bob = r.ok();
    assert_eq!(bob["IdentityType"], "RAMUser");
    assert_eq!(bob["Arn"], format!("acs:ram::{account}:user/bob"));
    assert!(bob["UserId"].as_str().is_some());
    let r = as_bob(
        "ListUserCertificateOrder",
        vec![("OrderType".into(), b"UPLOAD".to_vec())],
    )
    .await;
    assert_refused(&r, 403, "Forbidden.RAM", "bob without a policy");
    assert!(
        r.body.contains("yundun-cert:ListUserCertificateOrder"),
        "{}",
        r.body
    );

    // UploadUserCertificate signed with Live's version.
    let mut params = vec![
        ("Action".to_owned(), b"UploadUserCertificate".to_vec()),
        ("Name".to_owned(), b"n".to_vec()),
    ];
    params.push(("Format".to_owned(), b"JSON".to_vec()));
    let r = send(crate::harness::signed_request_v1_with_version(
        server.addr,
        params,
        TEST_ID,
        crate::harness::TEST_SECRET,
        now,
        "2016-11-01",
    ))
    .await;
    assert_refused(&r, 400, "InvalidVersion", "CAS action with Live's version");
    assert!(r.message().contains("cas 2020-04-07"), "{}", r.message());
    server.stop().await;
}

/// GetUserCertificateDetail's `CertChain` lists every certificate of the stored chain, leaf first.
#[tokio::test]
async fn the_detail_lists_the_whole_chain() {
    let server = TestServer::start().await;
    let now = server.clock_now();
    let g = crate::certs::issued(&["chain.example.com"], now - DAY, now + 90 * DAY, Alg::P256);
    let id = upload(&server, Scheme::V3, "chained", &g).await.ok()["CertId"]
        .as_u64()
        .unwrap();
    let d = detail(&server, id, Some("true")).await;
    let chain = d.ok()["CertChain"].as_array().expect("CertChain").clone();
    let stored = g.chain_pem.matches("BEGIN CERTIFICATE").count();
    assert!(stored >= 2, "issued() gives a leaf and its CA chain");
    assert_eq!(chain.len(), stored, "{}", d.body);
    assert_eq!(chain[0]["CommonName"], "chain.example.com");
    assert_eq!(chain[0]["IssuerCommonName"], chain[1]["CommonName"]);
    server.stop().await;
}
