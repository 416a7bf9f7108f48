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
