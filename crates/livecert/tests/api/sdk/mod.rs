//! Real-SDK tests (module `sdk` of the API test binary): the pinned official Alibaba Cloud SDKs call a livecert server started in this
//! process (spec/protocol.md; STYLE.md "Tests").
//!
//! Each test starts a server on `127.0.0.1:0` with the system clock (the SDKs sign with the real
//! time) over a fresh SQLite store in a temp directory, imports an AccessKey, generates a CA and a
//! leaf certificate for a domain unique to the run, and runs one client script from `tests/sdk/`:
//! AddLiveDomain → SetLiveDomainCertificate → DescribeLiveDomainCertificateInfo →
//! DescribeLiveCertificateList → DescribeLiveCertificateDetail, then four calls that must fail with
//! exact codes. The script checks what it can and prints one JSON object of what it observed; the
//! test asserts the script's exit status and that JSON against the generated certificate.
//!
//! | test | SDK | signing | transport | leaf key |
//! | --- | --- | --- | --- | --- |
//! | [`python::tea_acs3`] | alibabacloud-live20161101 3.0.2 | ACS3-HMAC-SHA256 | POST, query | RSA-2048, PKCS#1 |
//! | [`python::tea_v1`] | the same, `signature_algorithm='v2'` | HMAC-SHA1 | POST, query | P-256, SEC1 |
//! | [`python::core_v1`] | aliyun-python-sdk-core 2.16.1 + aliyun-python-sdk-live 3.9.75 | HMAC-SHA1 | POST, query | P-256, PKCS#8 |
//! | [`node::pop_core_get`] | @alicloud/pop-core 1.8.0 | HMAC-SHA1 | GET, query | RSA-2048, PKCS#8 |
//! | [`node::pop_core_post`] | @alicloud/pop-core 1.8.0 | HMAC-SHA1 | POST, form body | P-256, SEC1 |
//!
//! The runtimes come from `./scripts/test`, which installs the pinned SDKs and sets
//! `LIVECERT_PYTHON` (the venv's python) and `LIVECERT_NODE_MODULES`. Without them the tests fall
//! back to `<repo>/.venv` and `<repo>/tests/sdk/node/node_modules`; when those are missing too a
//! test fails if `LIVECERT_REQUIRE_SDKS=1` or `CI` is set, and otherwise skips with a loud notice.

mod harness;
mod node;
mod python;
