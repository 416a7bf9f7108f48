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
