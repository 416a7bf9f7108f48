//! Issuance through livecert's own edge, by HTTP-01 and by TLS-ALPN-01; a failed validation; the
//! store's secrets.

use std::process::Command;

use super::{EdgePorts, Node, Pebble};
use crate::certs::{self_signed, Alg};
use crate::edge::handshake;
use crate::postgres::now;

const DAY: i64 = 86_400;

/// Issue 13: `SetLiveDomainCertificate CertType=free` answers at once with the record `applying`;
/// pebble validates HTTP-01 against livecert's plain-HTTP edge, and the record becomes `success`,
/// bound, HTTPS on; the chain verifies against pebble's root with openssl and the edge serves its
/// leaf; the metrics count the order. The store then holds the ACME account's key and the
/// certificate's key sealed only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_01_issues_through_the_edge_and_the_edge_serves_it() {
    let Some(pebble) = Pebble::start() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let node = Node::start(dir.path(), &pebble, None, EdgePorts::Pebble, &[]);
    node.add_domain("live.example.com").await;
    node.request_free("live.example.com", "live-free").await;

    let info = node.cert_info("live.example.com").await;
    assert_eq!(info["Status"], "applying", "{info}");
    assert_eq!(info["CertName"], "live-free");
    assert_eq!(info["CertType"], "free");
    assert_eq!(info["SSLProtocol"], "off", "bound only once issued: {info}");

    let detail = node.settled("live-free").await;
    assert_eq!(detail["Status"], "success", "{detail}\n{}", node.log());
    assert!(detail.get("Problem").is_none(), "{detail}");
    let chain = detail["Cert"].as_str().expect("chain");
    pebble.assert_verifies(chain);

    let info = node.cert_info("live.example.com").await;
    assert_eq!(info["SSLProtocol"], "on");
    assert_eq!(info["Status"], "success");
    assert_eq!(info["CertDomainName"], "live.example.com");
    assert!(
        info["CertOrg"]
            .as_str()
            .is_some_and(|o| o.contains("Pebble")),
        "{info}"
    );
    let served = handshake(node.edge.expect("edge"), "live.example.com").await;
    assert_eq!(
        served.leaf_fingerprint(),
        node.api.fingerprint("live-free").await
    );
    let metrics = node.metrics().await;
    assert!(
        metrics.contains("livecert_acme_orders_total{result=\"valid\",challenge=\"http-01\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics
            .contains("livecert_acme_next_renewal_timestamp_seconds{domain=\"live.example.com\"}"),
        "{metrics}"
    );
    assert!(
        node.log().contains("order_url"),
        "the order URL is logged:\n{}",
        node.log()
    );

    // No key in the clear: the account's credentials are sealed, and no PEM key is stored.
    drop(node);
    let db = rusqlite::Connection::open(dir.path().join("livecert.db")).expect("open");
    let sealed: Vec<u8> = db
        .query_row("SELECT credentials_sealed FROM acme_accounts", [], |r| {
            r.get(0)
        })
        .expect("one ACME account");
    assert!(
        !contains(&sealed, b"key_pkcs8") && !contains(&sealed, b"{\""),
        "the ACME account credentials are stored in the clear"
    );
    let columns: Vec<String> = db
        .prepare("SELECT name FROM pragma_table_info('acme_challenges')")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("columns");
    assert!(
        columns
            .iter()
            .all(|c| !c.contains("key") || c == "key_authorization"),
        "a challenge row holds no key: {columns:?}"
    );
    drop(db);
    for file in ["livecert.db", "livecert.db-wal"] {
        let bytes = std::fs::read(dir.path().join(file)).unwrap_or_default();
        assert!(
            !contains(&bytes, b"PRIVATE KEY") && !contains(&bytes, b"key_pkcs8"),
            "{file} holds a key in the clear"
        );
    }
}

/// The same by TLS-ALPN-01 (RFC 8737): pebble connects to livecert's TLS edge with ALPN
/// `acme-tls/1` and checks the validation certificate's acmeIdentifier.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_alpn_01_issues_through_the_edge() {
    let Some(pebble) = Pebble::start() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let node = Node::start(
        dir.path(),
        &pebble,
        None,
        EdgePorts::Pebble,
        &["--acme-challenge", "tls-alpn-01"],
    );
    node.add_domain("alpn.example.com").await;
    node.request_free("alpn.example.com", "alpn-free").await;
    let detail = node.settled("alpn-free").await;
    assert_eq!(detail["Status"], "success", "{detail}\n{}", node.log());
    pebble.assert_verifies(detail["Cert"].as_str().expect("chain"));
    let served = handshake(node.edge.expect("edge"), "alpn.example.com").await;
    assert_eq!(
        served.leaf_fingerprint(),
        node.api.fingerprint("alpn-free").await
    );
    let metrics = node.metrics().await;
    assert!(
        metrics
            .contains("livecert_acme_orders_total{result=\"valid\",challenge=\"tls-alpn-01\"} 1"),
        "{metrics}"
    );
}

/// A domain pebble cannot validate (its DNS points it where nothing listens) ends `failed` with
/// pebble's problem document in DescribeLiveCertificateDetail and in the audit log; the domain
/// keeps the certificate it had, on the edge too. A new request with the same name without
/// `ForceSet` is `Certificate.Duplicated`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_validation_ends_failed_with_pebbles_problem_and_changes_no_binding() {
    let Some(pebble) = Pebble::start() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let node = Node::start(dir.path(), &pebble, None, EdgePorts::Pebble, &[]);
    let domain = "unreachable.example.com";
    node.add_domain(domain).await;
    let now = now();
    let upload = self_signed(&[domain], now - DAY, now + 90 * DAY, Alg::P256);
    node.api.bind(domain, "uploaded", &upload).await;
    let before = node.api.fingerprint("uploaded").await;
    pebble.resolve(domain, "127.0.0.2");

    node.request_free(domain, "will-fail").await;
    let detail = node.settled("will-fail").await;
    assert_eq!(detail["Status"], "failed", "{detail}");
    let problem = &detail["Problem"];
    assert!(
        problem["Type"]
            .as_str()
            .is_some_and(|t| t.starts_with("urn:ietf:params:acme:error:")),
        "{detail}"
    );
    assert!(
        problem["Detail"]
            .as_str()
            .is_some_and(|d| d.contains("127.0.0.2")),
        "pebble's own detail: {detail}"
    );
    assert_eq!(problem["Identifier"], format!("dns:{domain}"));

    let info = node.cert_info(domain).await;
    assert_eq!(
        info["CertName"], "uploaded",
        "the binding is unchanged: {info}"
    );
    assert_eq!(info["SSLProtocol"], "on");
    let served = handshake(node.edge.expect("edge"), domain).await;
    assert_eq!(served.leaf_fingerprint(), before);

    let again = node
        .api
        .call(
            "SetLiveDomainCertificate",
            &[
                ("DomainName", domain),
                ("SSLProtocol", "on"),
                ("CertType", "free"),
                ("CertName", "will-fail"),
            ],
        )
        .await;
    assert_eq!(again.code(), "Certificate.Duplicated", "{}", again.body);

    let audit = Command::new(env!("CARGO_BIN_EXE_livecert"))
        .args(["admin", "audit", "--domain", domain])
        .arg("--data-dir")
        .arg(dir.path())
        .env_remove("LIVECERT_DATA_DIR")
        .output()
        .expect("livecert admin audit");
    let audit = String::from_utf8_lossy(&audit.stdout);
    assert!(
        audit.lines().any(|l| l.contains("IssueFreeCertificate")
            && l.contains("Failed: urn:ietf:params:acme:error:")),
        "{audit}"
    );

    // `livecert admin acme status` lists the failure with the CA's problem and its order URL.
    let status = Command::new(env!("CARGO_BIN_EXE_livecert"))
        .args(["admin", "--json", "acme", "status"])
        .arg("--data-dir")
        .arg(dir.path())
        .env_remove("LIVECERT_DATA_DIR")
        .output()
        .expect("livecert admin acme status");
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).expect("JSON");
    let failed = status["Orders"]
        .as_array()
        .and_then(|orders| orders.iter().find(|o| o["DomainName"] == domain))
        .unwrap_or_else(|| panic!("{status}"));
    assert_eq!(failed["State"], "failed");
    assert_eq!(failed["Problem"]["Type"], problem["Type"]);
    assert!(
        failed["OrderUrl"]
            .as_str()
            .is_some_and(|u| u.starts_with("https://127.0.0.1:")),
        "{failed}"
    );
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
