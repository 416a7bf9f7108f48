//! `CertType=free` (spec/operations.md rows 36–37): `livecert::api::ops::free::set_free` called
//! through the library on a running server's store and data directory (the handler's dispatch to
//! it is one line in set_live_domain_certificate.rs), the result read back over HTTP with
//! DescribeLiveDomainCertificateInfo, and the issued chain verified against the root exported by
//! `livecert admin ca export` with an independent tool, `openssl verify`.

use std::net::IpAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use livecert::api::nonce::MemoryNonces;
use livecert::api::ops::free::set_free;
use livecert::api::{ApiConfig, AppState, Caller, PolicyCache};
use livecert::datadir::DataDir;
use livecert_core::action::Action;
use livecert_core::error::ErrorCode;
use livecert_core::ops::set_live_domain_certificate::SetLiveDomainCertificateInput;
use livecert_core::params::Params;
use livecert_store::Principal;
use serde_json::Value;

use crate::harness::{Scheme, TestServer};

/// The server's store and test CA as the handler sees them, and a root caller of its account.
async fn direct(server: &TestServer) -> (AppState, Caller) {
    let data = DataDir::open(server.dir.path()).expect("data dir");
    let issuer = livecert::server::open_issuer(&data, server.clock_now()).expect("test CA");
    direct_with(server, issuer).await
}

/// As [`direct`], with the ACME issuer (no worker runs: orders stay queued).
async fn direct_acme(server: &TestServer) -> (AppState, Caller) {
    direct_with(server, Arc::new(livecert::acme::AcmeIssuer::default())).await
}

async fn direct_with(
    server: &TestServer,
    issuer: Arc<dyn livecert::issuer::Issuer>,
) -> (AppState, Caller) {
    let now = server.clock_now();
    let account_id = server.store.account_ids().await.expect("accounts")[0];
    let state = AppState {
        store: server.store.clone(),
        clock: server.clock.clone(),
        nonces: Arc::new(MemoryNonces::new(16)),
        limiter: Arc::new(livecert::api::ratelimit::Unlimited),
        config: ApiConfig::default(),
        policy_cache: PolicyCache::default(),
        throttled: std::sync::atomic::AtomicU64::new(0),
        issuer,
    };
    let caller = Caller {
        account_id,
        access_key_id: crate::harness::TEST_ID.into(),
        account_active: true,
        request_id: "FREE-TEST".into(),
        now,
        action: Action::SetLiveDomainCertificate,
        principal: Principal::Root,
        policies: Arc::new(Vec::new()),
        session_policy: None,
        temporary: false,
        source_ip: IpAddr::from([127, 0, 0, 1]),
        secure_transport: false,
    };
    (state, caller)
}

/// SetLiveDomainCertificate's parameters with `SSLProtocol=on`, `CertType=free`, plus `extra`.
fn free_input(domain: &str, extra: &[(&str, &str)]) -> SetLiveDomainCertificateInput {
    let mut pairs = vec![
        ("DomainName".to_owned(), domain.as_bytes().to_vec()),
        ("SSLProtocol".to_owned(), b"on".to_vec()),
        ("CertType".to_owned(), b"free".to_vec()),
    ];
    pairs.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec())),
    );
    SetLiveDomainCertificateInput::parse(&Params::from_pairs(pairs)).expect("parameters parse")
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

/// `livecert admin --data-dir <dir> ca export --out <out>` with the real binary.
fn export_root(dir: &Path, out: &Path) {
    let status = Command::new(env!("CARGO_BIN_EXE_livecert"))
        .arg("admin")
        .arg("--data-dir")
        .arg(dir)
        .args(["ca", "export", "--out"])
        .arg(out)
        .env_remove("LIVECERT_MASTER_KEY")
        .env_remove("LIVECERT_DATA_DIR")
        .env("LIVECERT_LOG", "warn")
        .output()
        .expect("livecert admin runs");
    assert!(
        status.status.success(),
        "ca export failed: {}",
        String::from_utf8_lossy(&status.stderr)
    );
}

/// The first PEM block of a chain (the leaf).
fn leaf_of(chain: &str) -> String {
    let end = "-----END CERTIFICATE-----\n";
    let at = chain.find(end).expect("a certificate") + end.len();
    chain[..at].to_owned()
}

/// Row 37: issued at once, stored as a `free` record in status `success` under a generated name,
/// bound, HTTPS on; the chain verifies against the exported root (openssl, as a TLS server
/// certificate for exactly the domain).
#[tokio::test]
async fn row_37_free_issues_binds_and_verifies_with_openssl() {
    let server = TestServer::start().await;
    server.add_domain("live.example.com").await;
    let (state, caller) = direct(&server).await;

    let fields = set_free(&state, &caller, &free_input("live.example.com", &[]))
        .await
        .expect("issued and bound");
    assert!(fields.is_empty(), "only RequestId: {fields:?}");

    let info = cert_info(&server, "live.example.com").await;
    assert_eq!(info["SSLProtocol"], "on");
    assert_eq!(info["CertType"], "free");
    assert_eq!(info["Status"], "success");
    assert_eq!(info["CertLife"], "3 months");
    assert_eq!(info["CertDomainName"], "live.example.com");
    let name = info["CertName"].as_str().expect("CertName");
    assert!(name.starts_with("live.example.com-"), "row 22 name: {name}");
    let chain = info["SSLPub"].as_str().expect("SSLPub");
    assert_eq!(chain.matches("BEGIN CERTIFICATE").count(), 2, "leaf + root");

    let files = tempfile::tempdir().expect("temp dir");
    let (root, leaf) = (files.path().join("root.pem"), files.path().join("leaf.pem"));
    export_root(server.dir.path(), &root);
    std::fs::write(&leaf, leaf_of(chain)).expect("leaf written");
    let exported = std::fs::read_to_string(&root).expect("root");
    assert!(
        chain.ends_with(&exported),
        "the chain ends with the exported root"
    );

    let verify = Command::new("openssl")
        .arg("verify")
        .args(["-attime", &caller.now.to_string()])
        .args(["-purpose", "sslserver"])
        .args(["-verify_hostname", "live.example.com"])
        .arg("-CAfile")
        .arg(&root)
        .arg(&leaf)
        .output()
        .expect("openssl runs");
    assert!(
        verify.status.success(),
        "openssl verify: {}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
    // And not for another name.
    let other = Command::new("openssl")
        .arg("verify")
        .args(["-attime", &caller.now.to_string()])
        .args(["-verify_hostname", "other.example.com"])
        .arg("-CAfile")
        .arg(&root)
        .arg(&leaf)
        .output()
        .expect("openssl runs");
    assert!(!other.status.success(), "exactly the domain");
    server.stop().await;
}

/// Row 36: a wildcard domain is `Certificate.StatusError` with the reason; nothing changes.
#[tokio::test]
async fn row_36_wildcard_domain_is_refused() {
    let server = TestServer::start().await;
    server.add_domain("*.wild.example.com").await;
    let (state, caller) = direct(&server).await;
    let before = server.store.change_counter().await.expect("counter");

    let e = set_free(&state, &caller, &free_input("*.wild.example.com", &[]))
        .await
        .expect_err("refused");
    assert_eq!(e.error.code, ErrorCode::CertificateStatusError);
    assert_eq!(e.error.code.code(), "Certificate.StatusError");
    assert!(e.error.detail.contains("wildcard"), "{}", e.error.detail);

    let library = server
        .store
        .list_certificates(caller.account_id, None)
        .await
        .expect("library");
    assert!(library.is_empty());
    assert_eq!(
        server.store.change_counter().await.expect("counter"),
        before
    );
    assert_eq!(
        cert_info(&server, "*.wild.example.com").await["SSLProtocol"],
        "off"
    );
    server.stop().await;
}

/// DryRun: `DryRunOperation`, and nothing is written (no record, no binding, no counter move).
#[tokio::test]
async fn dry_run_changes_nothing() {
    let server = TestServer::start().await;
    server.add_domain("dry.example.com").await;
    let (state, caller) = direct(&server).await;
    let before = server.store.change_counter().await.expect("counter");

    let input = free_input("dry.example.com", &[("DryRun", "true")]);
    let e = set_free(&state, &caller, &input)
        .await
        .expect_err("dry run");
    assert_eq!(e.error.code, ErrorCode::DryRunOperation);

    let library = server
        .store
        .list_certificates(caller.account_id, None)
        .await
        .expect("library");
    assert!(library.is_empty());
    assert_eq!(
        server.store.change_counter().await.expect("counter"),
        before
    );
    assert_eq!(
        cert_info(&server, "dry.example.com").await["SSLProtocol"],
        "off"
    );

    // A DryRun of a wildcard domain answers row 36, not DryRunOperation.
    server.add_domain("*.dry.example.com").await;
    let input = free_input("*.dry.example.com", &[("DryRun", "true")]);
    let e = set_free(&state, &caller, &input)
        .await
        .expect_err("refused");
    assert_eq!(e.error.code, ErrorCode::CertificateStatusError);
    server.stop().await;
}

/// Rows 22–29 apply as for an upload: a given CertName is used; issuing again under it without
/// ForceSet is `Certificate.Duplicated`; with ForceSet=1 the record is replaced in place (same
/// CertId), still `free`.
#[tokio::test]
async fn cert_name_duplicate_and_force_set() {
    let server = TestServer::start().await;
    server.add_domain("named.example.com").await;
    let (state, caller) = direct(&server).await;

    let input = free_input("named.example.com", &[("CertName", "my-free")]);
    set_free(&state, &caller, &input).await.expect("first");
    let first = cert_info(&server, "named.example.com").await;
    assert_eq!(first["CertName"], "my-free");

    let e = set_free(&state, &caller, &input).await.expect_err("taken");
    assert_eq!(e.error.code, ErrorCode::CertificateDuplicated);

    let forced = free_input(
        "named.example.com",
        &[("CertName", "my-free"), ("ForceSet", "1")],
    );
    set_free(&state, &caller, &forced).await.expect("replaced");
    let second = cert_info(&server, "named.example.com").await;
    assert_eq!(second["CertName"], "my-free");
    assert_eq!(second["CertType"], "free");
    assert_ne!(second["SSLPub"], first["SSLPub"], "a new certificate");
    let library = server
        .store
        .list_certificates(caller.account_id, None)
        .await
        .expect("library");
    assert_eq!(library.len(), 1, "replaced in place");
    assert_eq!(library[0].cert_type.as_str(), "free");
    assert_eq!(library[0].status.as_str(), "success");
    server.stop().await;
}

/// Through a real request, once the handler dispatches `CertType=free` to `set_free`.
#[tokio::test]
async fn free_over_http() {
    let server = TestServer::start().await;
    server.add_domain("http.example.com").await;
    let r = server
        .call(
            Scheme::V3,
            "SetLiveDomainCertificate",
            &[
                ("DomainName", "http.example.com"),
                ("SSLProtocol", "on"),
                ("CertType", "free"),
            ],
        )
        .await;
    r.ok();
    let info = cert_info(&server, "http.example.com").await;
    assert_eq!(info["CertType"], "free");
    assert_eq!(info["Status"], "success");
    assert_eq!(info["CertLife"], "3 months");
    server.stop().await;
}

/// Row 37 with the ACME issuer: the call answers at once; the record is `free`, `applying`, named
/// `CertName` or `<domain>-<yyyymmdd>-<8 hex>`; Describe shows it applying with HTTPS still off;
/// calling again queues nothing; DryRun reserves nothing; a wildcard is row 36; `CertType=cas` on
/// the applying record is `Certificate.StatusError`; CAS reads of it answer (no chain yet).
#[tokio::test]
async fn with_acme_the_call_answers_at_once_and_the_record_is_applying() {
    let server = TestServer::start().await;
    server.add_domain("acme.example.com").await;
    let (state, caller) = direct_acme(&server).await;

    let dry = set_free(
        &state,
        &caller,
        &free_input("acme.example.com", &[("DryRun", "true")]),
    )
    .await
    .expect_err("dry run");
    assert_eq!(dry.error.code, ErrorCode::DryRunOperation);
    assert!(server
        .store
        .list_certificates(caller.account_id, None)
        .await
        .expect("library")
        .is_empty());

    set_free(&state, &caller, &free_input("acme.example.com", &[]))
        .await
        .expect("answered at once");
    let info = cert_info(&server, "acme.example.com").await;
    assert_eq!(info["Status"], "applying", "{info}");
    assert_eq!(info["SSLProtocol"], "off");
    assert_eq!(info["CertType"], "free");
    let name = info["CertName"].as_str().expect("name").to_owned();
    let shape = name
        .strip_prefix("acme.example.com-")
        .and_then(|rest| rest.split_once('-'))
        .is_some_and(|(day, hex)| {
            day.len() == 8
                && day.bytes().all(|b| b.is_ascii_digit())
                && hex.len() == 8
                && hex.bytes().all(|b| b.is_ascii_hexdigit())
        });
    assert!(shape, "{name}");

    // Again: the order in flight answers; still one record. Another CertName meanwhile is
    // refused, naming the record being issued.
    set_free(&state, &caller, &free_input("acme.example.com", &[]))
        .await
        .expect("idempotent");
    let other = set_free(
        &state,
        &caller,
        &free_input("acme.example.com", &[("CertName", "another")]),
    )
    .await
    .expect_err("another name while the order runs");
    assert_eq!(
        other.error.code,
        ErrorCode::SetDomainCertificateParameterError
    );
    assert!(
        other.error.message().contains(&name),
        "{}",
        other.error.message()
    );
    let library = server
        .store
        .list_certificates(caller.account_id, None)
        .await
        .expect("library");
    assert_eq!(library.len(), 1);
    let detail = server
        .call(
            Scheme::V3,
            "DescribeLiveCertificateDetail",
            &[("CertName", &name)],
        )
        .await;
    assert_eq!(detail.ok()["Status"], "applying");
    assert_eq!(detail.ok()["Cert"], "");
    let cas = server
        .call(
            Scheme::V3,
            "SetLiveDomainCertificate",
            &[
                ("DomainName", "acme.example.com"),
                ("SSLProtocol", "on"),
                ("CertType", "cas"),
                ("CertName", &name),
            ],
        )
        .await;
    assert_eq!(cas.code(), "Certificate.StatusError", "{}", cas.body);
    assert!(cas.message().contains("still being issued"), "{}", cas.body);
    let cert_id = library[0].cert_id.to_string();
    let cas_detail = server
        .call(
            Scheme::V3,
            "GetUserCertificateDetail",
            &[("CertId", &cert_id)],
        )
        .await;
    assert_eq!(cas_detail.status, 200, "{}", cas_detail.body);

    server.add_domain("*.acme.example.com").await;
    let wildcard = set_free(&state, &caller, &free_input("*.acme.example.com", &[]))
        .await
        .expect_err("row 36");
    assert_eq!(wildcard.error.code, ErrorCode::CertificateStatusError);
    server.stop().await;
}
