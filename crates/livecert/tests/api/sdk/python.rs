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
