//! The Node SDK: `tests/sdk/node/pop_core.js` (@alicloud/pop-core 1.8.0, HMAC-SHA1), by GET (its
//! default: every parameter in the query) and by POST (every parameter, Signature included, in a
//! form body).

use crate::sdk::harness::{self, Expect, KeySpec, Runtime};

const EXPECT: Expect = Expect {
    scheme: "HMAC-SHA1",
    wrong_secret_code: "SignatureDoesNotMatch",
    wrong_secret_message_has_string_to_sign: true,
};

#[tokio::test(flavor = "multi_thread")]
async fn pop_core_get() {
    let Some(node) = harness::node() else {
        return;
    };
    let run = harness::Run::start("pop-get", KeySpec::RsaPkcs8).await;
    let observed = run
        .script(
            &Runtime::Node(node),
            "node/pop_core.js",
            &["--method", "GET"],
        )
        .await;
    assert_eq!(observed["method"], "GET");
    run.assert_observed(&observed, &EXPECT);
}

#[tokio::test(flavor = "multi_thread")]
async fn pop_core_post() {
    let Some(node) = harness::node() else {
        return;
    };
    let run = harness::Run::start("pop-post", KeySpec::P256Sec1).await;
    let observed = run
        .script(
            &Runtime::Node(node),
            "node/pop_core.js",
            &["--method", "POST"],
        )
        .await;
    assert_eq!(observed["method"], "POST");
    run.assert_observed(&observed, &EXPECT);
}

/// The certificate service through @alicloud/cas20200407 3.0.0 (ACS3): upload, detail without
/// the key, list and paging, a delete refused while Live (pop-core) serves the record and allowed
/// after HTTPS off, then not found; and through @alicloud/pop-core as certd's AliyunSslClient calls
/// it (V1, POST form body): CertId a JSON integer, no `Code` in a success.
#[tokio::test(flavor = "multi_thread")]
async fn cas_sdk_and_certd_calls() {
    let Some(node) = harness::node() else {
        return;
    };
    let server = crate::harness::TestServer::start_live().await;
    server.add_domain("node.cas.livecert.test").await;
    let now = server.clock_now();
    let g = crate::certs::self_signed(
        &["node.cas.livecert.test"],
        now - 86_400,
        now + 90 * 86_400,
        crate::certs::Alg::P256,
    );
    let files = tempfile::tempdir().expect("temp dir");
    let (cert, key) = (files.path().join("chain.pem"), files.path().join("key.pem"));
    std::fs::write(&cert, &g.chain_pem).expect("write chain");
    std::fs::write(&key, &g.key_pem).expect("write key");
    let out = node
        .command("node/cas.js")
        .args(["--endpoint", &server.addr.to_string()])
        .arg("--cert")
        .arg(&cert)
        .arg("--key")
        .arg(&key)
        .args(["--domain", "node.cas.livecert.test"])
        .env("ALIBABA_CLOUD_ACCESS_KEY_ID", crate::harness::TEST_ID)
        .env(
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
            crate::harness::TEST_SECRET,
        )
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "cas.js failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    let id = seen["sdk_upload"]["CertId"].as_u64().expect("CertId");
    assert_eq!(seen["sdk_detail"]["Id"].as_u64(), Some(id));
    assert_eq!(seen["sdk_detail"]["Key"], "");
    assert_eq!(
        seen["sdk_list"]["CertificateOrderList"][0]["Name"],
        "node-sdk"
    );
    assert_eq!(seen["sdk_gone"]["Code"], "Certificate.NotFind");
    let certd_id = seen["certd_upload"]["CertId"]
        .as_u64()
        .expect("certd CertId");
    assert_eq!(seen["certd_detail"]["Name"], "certd-upload");
    assert_eq!(
        seen["certd_detail"]["CertIdentifier"],
        format!("{certd_id}-cn-hangzhou")
    );
    assert!(seen["certd_detail"]["NotAfter"].as_i64().unwrap() > now * 1000);
    assert!(seen["certd_delete"]["RequestId"].as_str().is_some());
}
