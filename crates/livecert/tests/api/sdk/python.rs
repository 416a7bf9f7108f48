//! The Python SDKs: `tests/sdk/python/sdk_tea.py` (ACS3 by default, V1 with `v2`) and
//! `tests/sdk/python/sdk_core.py` (V1).

use crate::sdk::harness::{self, Expect, KeySpec, Runtime};

/// alibabacloud-live20161101 3.0.2 with its defaults: ACS3-HMAC-SHA256, POST, parameters in the query.
#[tokio::test(flavor = "multi_thread")]
async fn tea_acs3() {
    let Some(python) = harness::python() else {
        return;
    };
    let run = harness::Run::start("py-tea", KeySpec::RsaPkcs1).await;
    let observed = run
        .script(&Runtime::Python(python), "python/sdk_tea.py", &[])
        .await;
    run.assert_observed(
        &observed,
        &Expect {
            scheme: "ACS3-HMAC-SHA256",
            wrong_secret_code: "SignatureDoesNotMatch",
            wrong_secret_message_has_string_to_sign: true,
        },
    );
}

/// The same SDK with `signature_algorithm='v2'`: HMAC-SHA1 (V1), `Format=json` in lower case.
#[tokio::test(flavor = "multi_thread")]
async fn tea_v1() {
    let Some(python) = harness::python() else {
        return;
    };
    let run = harness::Run::start("py-tea-v1", KeySpec::P256Sec1).await;
    let observed = run
        .script(
            &Runtime::Python(python),
            "python/sdk_tea.py",
            &["--signature-algorithm", "v2"],
        )
        .await;
    run.assert_observed(
        &observed,
        &Expect {
            scheme: "HMAC-SHA1",
            wrong_secret_code: "SignatureDoesNotMatch",
            wrong_secret_message_has_string_to_sign: true,
        },
    );
}

/// aliyun-python-sdk-core 2.16.1 + aliyun-python-sdk-live 3.9.75: HMAC-SHA1, POST, parameters in
/// the query. On SignatureDoesNotMatch this SDK compares the text after the message's first `:`
/// with its own string to sign and, when equal, reports `InvalidAccessKeySecret`: getting that
/// code proves livecert's message format and string to sign (protocol.md §6).
#[tokio::test(flavor = "multi_thread")]
async fn core_v1() {
    let Some(python) = harness::python() else {
        return;
    };
    let run = harness::Run::start("py-core", KeySpec::P256Pkcs8).await;
    let observed = run
        .script(&Runtime::Python(python), "python/sdk_core.py", &[])
        .await;
    run.assert_observed(
        &observed,
        &Expect {
            scheme: "HMAC-SHA1",
            wrong_secret_code: "InvalidAccessKeySecret",
            wrong_secret_message_has_string_to_sign: false,
        },
    );
}

/// alibabacloud-live20161101 3.0.2 (ACS3) with temporary credentials (spec/access.md): a valid
/// SecurityToken makes the call; an expired one raises `InvalidSecurityToken.Expired`.
#[tokio::test(flavor = "multi_thread")]
async fn tea_acs3_sts() {
    use livecert_core::secret::Secret;

    let Some(python) = harness::python() else {
        return;
    };
    let server = crate::harness::TestServer::start_live().await;
    server.add_domain("sts.sdk.livecert.test").await;
    let now = server.clock_now();
    let account = server
        .store
        .access_key(crate::harness::TEST_ID)
        .await
        .expect("lookup")
        .expect("key")
        .account_id;
    server
        .store
        .create_user(account, "deployer", now)
        .await
        .expect("user");
    let policy =
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"live:*","Resource":"*"}]}"#;
    server
        .store
        .create_policy(account, "all-live", policy, now)
        .await
        .expect("policy");
    server
        .store
        .attach_policy(account, "all-live", "deployer")
        .await
        .expect("attach");
    let valid = server
        .store
        .issue_sts(account, "deployer", 900, None, now)
        .await
        .expect("sts");
    let expired = server
        .store
        .issue_sts(account, "deployer", 900, None, now - 1000)
        .await
        .expect("sts");
    let text = |s: &Secret| s.expose_str().expect("text").to_owned();
    let out = std::process::Command::new(python)
        .arg(harness::sdk_dir().join("python/sts_tea.py"))
        .args([
            "--endpoint",
            &server.addr.to_string(),
            "--domain",
            "sts.sdk.livecert.test",
        ])
        .env("ALIBABA_CLOUD_ACCESS_KEY_ID", &valid.access_key_id)
        .env(
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
            text(&valid.access_key_secret),
        )
        .env("ALIBABA_CLOUD_SECURITY_TOKEN", text(&valid.security_token))
        .env("EXPIRED_ACCESS_KEY_ID", &expired.access_key_id)
        .env(
            "EXPIRED_ACCESS_KEY_SECRET",
            text(&expired.access_key_secret),
        )
        .env("EXPIRED_SECURITY_TOKEN", text(&expired.security_token))
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "sts_tea.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let observed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(observed["valid"]["DomainName"], "sts.sdk.livecert.test");
    assert_eq!(observed["valid"]["SSLProtocol"], "off");
    assert_eq!(observed["expired"]["Code"], "InvalidSecurityToken.Expired");
    assert_eq!(observed["expired"]["HttpStatus"], 400);
}

/// alibabacloud-cas20200407 3.9.4 (and alibabacloud-sts20150401 1.2.0) against the same listener
/// as Live, with `signature`: `None` for the SDK's default ACS3, `Some("v2")` for HMAC-SHA1. Upload
/// (CertId a JSON integer), a taken Name refused, detail without the key, CertFilter, listing and
/// paging, binding through Live by CertId and by CertName, delete refused while bound and allowed
/// after, then not found; GetCallerIdentity for the root credentials.
async fn cas_run(signature: Option<&str>) {
    let Some(python) = harness::python() else {
        return;
    };
    let server = crate::harness::TestServer::start_live().await;
    let domains = ["cas-a.sdk.livecert.test", "cas-b.sdk.livecert.test"];
    for d in domains {
        server.add_domain(d).await;
    }
    let now = server.clock_now();
    let g = crate::certs::self_signed(
        &domains,
        now - 86_400,
        now + 90 * 86_400,
        crate::certs::Alg::Rsa2048,
    );
    let files = tempfile::tempdir().expect("temp dir");
    let (cert, key) = (files.path().join("chain.pem"), files.path().join("key.pem"));
    std::fs::write(&cert, &g.chain_pem).expect("write chain");
    std::fs::write(&key, &g.key_pem).expect("write key");
    let mut args = vec![
        "--endpoint".to_owned(),
        server.addr.to_string(),
        "--cert".to_owned(),
        cert.display().to_string(),
        "--key".to_owned(),
        key.display().to_string(),
    ];
    for d in domains {
        args.extend(["--domain".to_owned(), d.to_owned()]);
    }
    if let Some(s) = signature {
        args.extend(["--signature-algorithm".to_owned(), s.to_owned()]);
    }
    let out = std::process::Command::new(python)
        .arg(harness::sdk_dir().join("python/cas_tea.py"))
        .args(&args)
        .env("ALIBABA_CLOUD_ACCESS_KEY_ID", crate::harness::TEST_ID)
        .env(
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
            crate::harness::TEST_SECRET,
        )
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "cas_tea.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    let cert_id = seen["upload"]["CertId"].as_u64().expect("CertId");
    assert_eq!(seen["taken"]["Code"], "InvalidParameter");
    assert_eq!(seen["detail"]["Name"], "sdk-cas");
    assert_eq!(seen["detail"]["Id"].as_u64(), Some(cert_id));
    assert_eq!(seen["detail"]["Key"], "", "never the private key");
    assert!(seen["detail"]["Cert"]
        .as_str()
        .unwrap()
        .contains("BEGIN CERTIFICATE"));
    assert!(
        seen["filtered"].get("Cert").is_none(),
        "{}",
        seen["filtered"]
    );
    assert_eq!(seen["list"]["TotalCount"], 1);
    assert_eq!(seen["list"]["CertificateOrderList"][0]["Name"], "sdk-cas");
    assert_eq!(seen["page2"]["CurrentPage"], 2);
    assert_eq!(seen["served"], serde_json::json!(["sdk-cas", "sdk-cas"]));
    assert_eq!(seen["delete_bound"]["Code"], "DeleteFailed");
    assert!(seen["delete_bound"]["Message"]
        .as_str()
        .unwrap()
        .contains(domains[0]));
    assert_eq!(seen["gone"]["Code"], "Certificate.NotFind");
    assert_eq!(seen["bad_show_size"]["Code"], "InvalidParameter");
    assert_eq!(seen["caller"]["IdentityType"], "Account");
    let account = seen["caller"]["AccountId"].as_str().expect("AccountId");
    assert_eq!(seen["caller"]["Arn"], format!("acs:ram::{account}:root"));
}

/// The CAS and STS SDKs with their defaults (ACS3-HMAC-SHA256, parameters in the query).
#[tokio::test(flavor = "multi_thread")]
async fn cas_tea_acs3() {
    cas_run(None).await;
}

/// The CAS and STS SDKs with `signature_algorithm='v2'` (HMAC-SHA1).
#[tokio::test(flavor = "multi_thread")]
async fn cas_tea_v1() {
    cas_run(Some("v2")).await;
}
