//! Real storage failures (operations.md rows 14 and 27): the test installs, from its own
//! connection to the database file, a trigger that aborts the write; the call is answered with the
//! documented code, the transaction is rolled back, and the previous state is intact and served.
//! The product has no test-only hook: the failure is SQLite's own.

use crate::certs::{self_signed, Alg};
use crate::harness::{Scheme, TestServer};

const DAY: i64 = 86_400;

fn install(server: &TestServer, sql: &str) {
    let db =
        rusqlite::Connection::open(server.dir.path().join("livecert.db")).expect("own connection");
    db.busy_timeout(std::time::Duration::from_secs(5))
        .expect("busy timeout");
    db.execute_batch(sql).expect("trigger installs");
}

#[tokio::test(flavor = "multi_thread")]
async fn storage_failures_answer_their_codes_and_change_nothing() {
    let server = TestServer::start().await;
    let now = server.clock_now();
    server.add_domain("live.example.com").await;
    let first = self_signed(&["live.example.com"], now - DAY, now + 90 * DAY, Alg::P256);
    let set = |name: &'static str, g: &crate::certs::Generated| {
        vec![
            ("DomainName", "live.example.com".to_owned()),
            ("SSLProtocol", "on".to_owned()),
            ("CertName", name.to_owned()),
            ("SSLPub", g.chain_pem.clone()),
            ("SSLPri", g.key_pem.clone()),
        ]
    };
    let call = |params: Vec<(&'static str, String)>| {
        let server = &server;
        async move {
            let borrowed: Vec<(&str, &str)> =
                params.iter().map(|(k, v)| (*k, v.as_str())).collect();
            server
                .call(Scheme::V3, "SetLiveDomainCertificate", &borrowed)
                .await
        }
    };
    call(set("first", &first)).await.ok();

    // Row 27: the insert of a new record fails.
    install(
        &server,
        "CREATE TRIGGER fail_insert BEFORE INSERT ON certificates WHEN NEW.cert_name = 'boom' \
         BEGIN SELECT RAISE(ABORT, 'injected'); END;",
    );
    let second = self_signed(&["live.example.com"], now - DAY, now + 90 * DAY, Alg::P256);
    let r = call(set("boom", &second)).await;
    assert_eq!(
        (r.status, r.code()),
        (400, "CertStorage.failed"),
        "{}",
        r.body
    );
    assert!(
        !r.body.contains("injected"),
        "the cause goes to the log, not to the client"
    );

    // Row 14: turning HTTPS off fails.
    install(
        &server,
        "CREATE TRIGGER fail_off BEFORE UPDATE ON domains WHEN NEW.https = 0 \
         BEGIN SELECT RAISE(ABORT, 'injected'); END;",
    );
    let r = call(vec![
        ("DomainName", "live.example.com".to_owned()),
        ("SSLProtocol", "off".to_owned()),
    ])
    .await;
    assert_eq!((r.status, r.code()), (400, "DeleteFailed"), "{}", r.body);

    // The previous binding is still the one read back, and no partial record remains.
    let info = server
        .call(
            Scheme::V3,
            "DescribeLiveDomainCertificateInfo",
            &[("DomainName", "live.example.com")],
        )
        .await;
    let entry = &info.ok()["CertInfos"]["CertInfo"][0];
    assert_eq!(entry["CertName"], "first");
    assert_eq!(entry["SSLProtocol"], "on");
    let list = server
        .call(Scheme::V3, "DescribeLiveCertificateList", &[])
        .await;
    assert_eq!(list.ok()["CertificateListModel"]["Count"], 1);

    // With the triggers gone, the same calls succeed.
    install(&server, "DROP TRIGGER fail_insert; DROP TRIGGER fail_off;");
    call(set("boom", &second)).await.ok();
    let r = call(vec![
        ("DomainName", "live.example.com".to_owned()),
        ("SSLProtocol", "off".to_owned()),
    ])
    .await;
    r.ok();
}
