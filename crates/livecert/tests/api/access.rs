//! Tenancy and access (spec/access.md) through the API: RAM users limited by policies, explicit
//! Deny, conditions, temporary credentials, cross-account isolation, and the audit log.

use livecert_core::secret::Secret;
use livecert_store::AuditFilter;

use crate::certs::{self_signed, Alg, Generated};
use crate::harness::{send, signed_request_with_token, Reply, Scheme, TestServer, TEST_ID};

const DAY: i64 = 86_400;

struct Setup {
    server: TestServer,
    account: u64,
    a: Generated,
    b: Generated,
}

async fn setup() -> Setup {
    let server = TestServer::start().await;
    let now = server.clock_now();
    for d in ["a.example.com", "b.example.com"] {
        server.add_domain(d).await;
    }
    let account = server
        .store
        .access_key(TEST_ID)
        .await
        .expect("lookup")
        .expect("key")
        .account_id;
    let a = self_signed(&["a.example.com"], now - DAY, now + 90 * DAY, Alg::P256);
    let b = self_signed(&["b.example.com"], now - DAY, now + 90 * DAY, Alg::P256);
    Setup {
        server,
        account,
        a,
        b,
    }
}

/// Creates a RAM user with an imported key and the given policies attached.
async fn user(s: &Setup, name: &str, policies: &[String]) -> (String, String) {
    let now = s.server.clock_now();
    s.server
        .store
        .create_user(s.account, name, now)
        .await
        .expect("user");
    let (id, secret) = (format!("{name}id"), format!("{name}secret"));
    s.server
        .store
        .import_user_access_key(
            s.account,
            name,
            &id,
            &Secret::new(secret.as_bytes().to_vec()),
            now,
        )
        .await
        .expect("key");
    for (i, doc) in policies.iter().enumerate() {
        let policy = format!("{name}-policy-{i}");
        livecert_core::ram::Policy::parse(doc).expect("test policies parse");
        s.server
            .store
            .create_policy(s.account, &policy, doc, now)
            .await
            .expect("policy");
        s.server
            .store
            .attach_policy(s.account, &policy, name)
            .await
            .expect("attach");
    }
    (id, secret)
}

async fn call_as(
    s: &Setup,
    key: &(String, String),
    token: Option<&str>,
    action: &str,
    params: &[(&str, &str)],
) -> Reply {
    let pairs = params
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
        .collect();
    let now = s.server.clock_now();
    send(signed_request_with_token(
        s.server.addr,
        Scheme::V3,
        action,
        pairs,
        &key.0,
        &key.1,
        now,
        token,
    ))
    .await
}

async fn set(s: &Setup, key: &(String, String), domain: &str, g: &Generated, name: &str) -> Reply {
    call_as(
        s,
        key,
        None,
        "SetLiveDomainCertificate",
        &[
            ("DomainName", domain),
            ("SSLProtocol", "on"),
            ("CertName", name),
            ("SSLPub", &g.chain_pem),
            ("SSLPri", &g.key_pem),
        ],
    )
    .await
}

fn allow(action: &str, resource: &str) -> String {
    format!(
        r#"{{"Version":"1","Statement":[{{"Effect":"Allow","Action":"{action}","Resource":"{resource}"}}]}}"#
    )
}

fn denied(r: &Reply, no_permission_type: &str) {
    assert_eq!((r.status, r.code()), (403, "Forbidden.RAM"), "{}", r.body);
    let detail = &r.json["AccessDeniedDetail"];
    assert_eq!(detail["NoPermissionType"], no_permission_type, "{}", r.body);
    assert_eq!(detail["AuthPrincipalType"], "SubUser");
    assert!(detail["AuthAction"]
        .as_str()
        .is_some_and(|a| a.starts_with("live:")));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_allowed_on_one_domain_sets_it_and_is_refused_on_another() {
    let s = setup().await;
    let resource = format!("acs:cdn:*:{}:domain/a.example.com", s.account);
    let ci = user(
        &s,
        "ci",
        &[allow("live:SetLiveDomainCertificate", &resource)],
    )
    .await;
    set(&s, &ci, "a.example.com", &s.a, "a").await.ok();
    let r = set(&s, &ci, "b.example.com", &s.b, "b").await;
    denied(&r, "ImplicitDeny");
    assert_eq!(
        r.json["AccessDeniedDetail"]["AuthPrincipalDisplayName"],
        "ci"
    );
    assert_eq!(
        r.json["AccessDeniedDetail"]["AuthPrincipalOwnerId"],
        s.account.to_string().as_str()
    );
    // The refused call changed nothing.
    let info = s
        .server
        .call(
            Scheme::V3,
            "DescribeLiveDomainCertificateInfo",
            &[("DomainName", "b.example.com")],
        )
        .await;
    assert_eq!(info.ok()["CertInfos"]["CertInfo"][0]["SSLProtocol"], "off");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_only_user_describes_and_cannot_set() {
    let s = setup().await;
    let reader = user(&s, "dashboard", &[allow("live:Describe*", "*")]).await;
    let r = call_as(&s, &reader, None, "DescribeLiveCertificateList", &[]).await;
    r.ok();
    let r = call_as(
        &s,
        &reader,
        None,
        "DescribeLiveDomainCertificateInfo",
        &[("DomainName", "a.example.com")],
    )
    .await;
    r.ok();
    // DescribeLiveDomainDetail is authorized on the domain resource, which `*` covers.
    call_as(
        &s,
        &reader,
        None,
        "DescribeLiveDomainDetail",
        &[("DomainName", "a.example.com")],
    )
    .await
    .ok();
    denied(
        &set(&s, &reader, "a.example.com", &s.a, "a").await,
        "ImplicitDeny",
    );
    let xml = call_as(
        &s,
        &reader,
        None,
        "AddLiveDomain",
        &[
            ("DomainName", "c.example.com"),
            ("LiveDomainType", "liveVideo"),
            ("Region", "cn-shanghai"),
            ("Format", "XML"),
        ],
    )
    .await;
    assert_eq!(xml.status, 403);
    assert!(
        xml.body
            .contains("<AccessDeniedDetail><AuthAction>live:AddLiveDomain</AuthAction>"),
        "{}",
        xml.body
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deny_on_a_domain_beats_a_wildcard_allow() {
    let s = setup().await;
    let deny = format!(
        r#"{{"Version":"1","Statement":[{{"Effect":"Deny","Action":"live:SetLiveDomainCertificate","Resource":"acs:cdn:*:{}:domain/a.example.com"}}]}}"#,
        s.account
    );
    let ops = user(&s, "ops", &[allow("live:*", "*"), deny]).await;
    denied(
        &set(&s, &ops, "a.example.com", &s.a, "a").await,
        "ExplicitDeny",
    );
    set(&s, &ops, "b.example.com", &s.b, "b").await.ok();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_source_ip_condition_is_evaluated() {
    let s = setup().await;
    let policy = |cidr: &str| {
        format!(
            r#"{{"Version":"1","Statement":[{{"Effect":"Allow","Action":"live:Describe*","Resource":"*","Condition":{{"IpAddress":{{"acs:SourceIp":"{cidr}"}}}}}}]}}"#
        )
    };
    let local = user(&s, "local", &[policy("127.0.0.0/8")]).await;
    call_as(&s, &local, None, "DescribeLiveCertificateList", &[])
        .await
        .ok();
    let remote = user(&s, "remote", &[policy("10.0.0.0/8")]).await;
    denied(
        &call_as(&s, &remote, None, "DescribeLiveCertificateList", &[]).await,
        "ImplicitDeny",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn another_account_can_neither_touch_nor_see_this_one() {
    let s = setup().await;
    let now = s.server.clock_now();
    let root = ("testid".to_owned(), "testsecret".to_owned());
    set(&s, &root, "a.example.com", &s.a, "a-cert").await.ok();
    let other = s.server.store.create_account(now).await.expect("account");
    s.server
        .store
        .import_access_key(other, "otherid", &Secret::new(b"othersecret".to_vec()), now)
        .await
        .expect("key");
    let b_root = ("otherid".to_owned(), "othersecret".to_owned());
    let r = set(&s, &b_root, "a.example.com", &s.a, "stolen").await;
    assert_eq!(r.code(), "IllegalOperationDomain", "{}", r.body);
    let list = call_as(&s, &b_root, None, "DescribeLiveCertificateList", &[]).await;
    assert_eq!(list.ok()["CertificateListModel"]["Count"], 0);
    let detail = call_as(
        &s,
        &b_root,
        None,
        "DescribeLiveCertificateDetail",
        &[("CertName", "a-cert")],
    )
    .await;
    assert_eq!(detail.code(), "CertNameNotFound");
    // A policy of account B that names account A's resources grants nothing there either.
    s.server
        .store
        .create_user(other, "intruder", now)
        .await
        .expect("user");
    s.server
        .store
        .import_user_access_key(
            other,
            "intruder",
            "intruderid",
            &Secret::new(b"intrudersecret".to_vec()),
            now,
        )
        .await
        .expect("key");
    let doc = allow("live:*", &format!("acs:cdn:*:{}:domain/*", s.account));
    s.server
        .store
        .create_policy(other, "everything-of-a", &doc, now)
        .await
        .expect("policy");
    s.server
        .store
        .attach_policy(other, "everything-of-a", "intruder")
        .await
        .expect("attach");
    let intruder = ("intruderid".to_owned(), "intrudersecret".to_owned());
    let r = set(&s, &intruder, "a.example.com", &s.a, "stolen").await;
    // RAM runs on the caller's own account's resource, which the policy (naming A) does not match.
    denied(&r, "ImplicitDeny");
    let info = s
        .server
        .call(
            Scheme::V3,
            "DescribeLiveDomainCertificateInfo",
            &[("DomainName", "a.example.com")],
        )
        .await;
    assert_eq!(info.ok()["CertInfos"]["CertInfo"][0]["CertName"], "a-cert");
}

#[tokio::test(flavor = "multi_thread")]
async fn temporary_credentials_work_until_they_expire() {
    let s = setup().await;
    let now = s.server.clock_now();
    let _ = user(&s, "deployer", &[allow("live:*", "*")]).await;
    let sts = s
        .server
        .store
        .issue_sts(s.account, "deployer", 900, None, now)
        .await
        .expect("sts");
    assert!(sts.access_key_id.starts_with("STS."));
    let key = (
        sts.access_key_id.clone(),
        sts.access_key_secret.expose_str().expect("text").to_owned(),
    );
    let token = sts.security_token.expose_str().expect("text").to_owned();
    call_as(&s, &key, Some(&token), "DescribeLiveCertificateList", &[])
        .await
        .ok();
    // V1 carries the token as the SecurityToken parameter.
    let pairs = vec![];
    let v1 = signed_request_with_token(
        s.server.addr,
        Scheme::V1,
        "DescribeLiveCertificateList",
        pairs,
        &key.0,
        &key.1,
        now,
        Some(&token),
    );
    send(v1).await.ok();
    let r = call_as(&s, &key, None, "DescribeLiveCertificateList", &[]).await;
    assert_eq!(r.code(), "InvalidSecurityToken.Malformed", "{}", r.body);
    let r = call_as(
        &s,
        &key,
        Some("garbled"),
        "DescribeLiveCertificateList",
        &[],
    )
    .await;
    assert_eq!(r.code(), "InvalidSecurityToken.Malformed", "{}", r.body);
    s.server.clock.advance(901);
    let r = call_as(&s, &key, Some(&token), "DescribeLiveCertificateList", &[]).await;
    assert_eq!(
        (r.status, r.code()),
        (400, "InvalidSecurityToken.Expired"),
        "{}",
        r.body
    );

    // A session policy narrows the user's own.
    let now = s.server.clock_now();
    let narrow = allow("live:DescribeLiveCertificateList", "*");
    let sts = s
        .server
        .store
        .issue_sts(s.account, "deployer", 900, Some(narrow), now)
        .await
        .expect("sts");
    let key = (
        sts.access_key_id.clone(),
        sts.access_key_secret.expose_str().expect("text").to_owned(),
    );
    let token = sts.security_token.expose_str().expect("text").to_owned();
    call_as(&s, &key, Some(&token), "DescribeLiveCertificateList", &[])
        .await
        .ok();
    let r = call_as(
        &s,
        &key,
        Some(&token),
        "DescribeLiveCertificateDetail",
        &[("CertName", "x")],
    )
    .await;
    assert_eq!(r.code(), "Forbidden.RAM", "{}", r.body);
    assert_eq!(r.json["AccessDeniedDetail"]["PolicyType"], "SessionPolicy");
}

/// Issue 10, item 6: a V1 `SignatureDoesNotMatch` shows the StringToSign, with every credential
/// parameter (the SecurityToken, as SSLPri) redacted.
#[tokio::test(flavor = "multi_thread")]
async fn a_signature_mismatch_never_echoes_the_security_token() {
    let s = setup().await;
    let now = s.server.clock_now();
    let _ = user(&s, "deployer", &[allow("live:*", "*")]).await;
    let sts = s
        .server
        .store
        .issue_sts(s.account, "deployer", 900, None, now)
        .await
        .expect("sts");
    let token = sts.security_token.expose_str().expect("text").to_owned();
    let g = &s.a;
    let pairs = [
        ("DomainName", "a.example.com"),
        ("SSLProtocol", "on"),
        ("CertName", "a-cert"),
        ("SSLPub", g.chain_pem.as_str()),
        ("SSLPri", g.key_pem.as_str()),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
    .collect();
    let wrong_secret = request_with_wrong_secret(&s, &sts.access_key_id, &token, pairs, now);
    let r = send(wrong_secret).await;
    assert_eq!(r.code(), "SignatureDoesNotMatch", "{}", r.body);
    assert!(
        r.message().contains("SecurityToken%3DREDACTED"),
        "{}",
        r.body
    );
    let encoded_start = &token[..token.len().min(16)];
    assert!(!r.body.contains(encoded_start), "{}", r.body);
    assert!(!r.body.contains("PRIVATE"), "{}", r.body);
}

fn request_with_wrong_secret(
    s: &Setup,
    key_id: &str,
    token: &str,
    pairs: Vec<(String, Vec<u8>)>,
    now: i64,
) -> http::Request<http_body_util::Full<bytes::Bytes>> {
    signed_request_with_token(
        s.server.addr,
        Scheme::V1,
        "SetLiveDomainCertificate",
        pairs,
        key_id,
        "not-the-secret",
        now,
        Some(token),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn state_changing_calls_are_audited_without_secrets() {
    let s = setup().await;
    let root = ("testid".to_owned(), "testsecret".to_owned());
    let resource = format!("acs:cdn:*:{}:domain/a.example.com", s.account);
    let ci = user(
        &s,
        "ci",
        &[allow("live:SetLiveDomainCertificate", &resource)],
    )
    .await;
    set(&s, &ci, "a.example.com", &s.a, "audited").await.ok();
    denied(
        &set(&s, &ci, "b.example.com", &s.b, "refused").await,
        "ImplicitDeny",
    );
    call_as(&s, &root, None, "DescribeLiveCertificateList", &[])
        .await
        .ok();
    s.server.store.flush_audit().await.expect("flush");
    let entries = s
        .server
        .store
        .audit_entries(&AuditFilter {
            account: Some(s.account),
            ..AuditFilter::default()
        })
        .await
        .expect("audit");
    let sets: Vec<_> = entries
        .iter()
        .filter(|e| e.operation == "SetLiveDomainCertificate")
        .collect();
    assert_eq!(sets.len(), 2, "{entries:?}");
    assert!(sets.iter().any(|e| e.outcome == "OK"
        && e.domain.as_deref() == Some("a.example.com")
        && e.principal == "ci"));
    assert!(sets
        .iter()
        .any(|e| e.outcome == "Forbidden.RAM" && e.cert_name.as_deref() == Some("refused")));
    assert!(
        entries
            .iter()
            .all(|e| e.operation != "DescribeLiveCertificateList"),
        "reads are not audited"
    );
    let key_body: String =
        s.a.key_pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(s.server.dir.path()).expect("dir") {
        let path = entry.expect("entry").path();
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("livecert.db"))
        {
            bytes.extend(std::fs::read(&path).expect("db"));
        }
    }
    let text = String::from_utf8_lossy(&bytes);
    for secret in [&key_body[..40], "cisecret", "testsecret", "PRIVATE KEY"] {
        assert!(!text.contains(secret), "{secret} found in the database");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_cannot_rotate_a_record_that_serves_a_domain_outside_its_policy() {
    let s = setup().await;
    let now = s.server.clock_now();
    let root = ("testid".to_owned(), "testsecret".to_owned());
    let both = self_signed(
        &["a.example.com", "b.example.com"],
        now - DAY,
        now + 90 * DAY,
        Alg::P256,
    );
    set(&s, &root, "b.example.com", &both, "shared").await.ok();
    let before = s
        .server
        .call(
            Scheme::V3,
            "DescribeLiveDomainCertificateInfo",
            &[("DomainName", "b.example.com")],
        )
        .await;
    let resource = format!("acs:cdn:*:{}:domain/a.example.com", s.account);
    let ci = user(
        &s,
        "ci",
        &[allow("live:SetLiveDomainCertificate", &resource)],
    )
    .await;
    // A rotation through the domain it may touch, and a row-28 write of a chain covering only b.
    let only_b = self_signed(&["b.example.com"], now - DAY, now + 90 * DAY, Alg::P256);
    for g in [&both, &only_b] {
        let forced = call_as(
            &s,
            &ci,
            None,
            "SetLiveDomainCertificate",
            &[
                ("DomainName", "a.example.com"),
                ("SSLProtocol", "on"),
                ("CertName", "shared"),
                ("ForceSet", "1"),
                ("SSLPub", &g.chain_pem),
                ("SSLPri", &g.key_pem),
            ],
        )
        .await;
        denied(&forced, "ImplicitDeny");
        assert!(
            !forced.message().contains("b.example.com"),
            "the refusal names no other domain: {}",
            forced.message()
        );
    }
    let after = s
        .server
        .call(
            Scheme::V3,
            "DescribeLiveDomainCertificateInfo",
            &[("DomainName", "b.example.com")],
        )
        .await;
    assert_eq!(
        after.ok()["CertInfos"],
        before.ok()["CertInfos"],
        "b.example.com serves what it served"
    );
    // Its own record name works.
    set(&s, &ci, "a.example.com", &s.a, "ci-own").await.ok();
}

#[tokio::test(flavor = "multi_thread")]
async fn refusals_after_the_signature_are_audited_throttles_aside() {
    let s = setup().await;
    let now = s.server.clock_now();
    let root = ("testid".to_owned(), "testsecret".to_owned());
    // A replay of a verified Set.
    let pairs: Vec<(String, Vec<u8>)> = [("DomainName", "a.example.com"), ("SSLProtocol", "off")]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
        .collect();
    let request = signed_request_with_token(
        s.server.addr,
        Scheme::V1,
        "SetLiveDomainCertificate",
        pairs,
        &root.0,
        &root.1,
        now,
        None,
    );
    let (parts, body) = request.into_parts();
    let body = http_body_util::BodyExt::collect(body)
        .await
        .expect("body")
        .to_bytes();
    for _ in 0..2 {
        let again =
            http::Request::from_parts(parts.clone(), http_body_util::Full::new(body.clone()));
        send(again).await;
    }
    // A permanent key sent with a SecurityToken.
    let r = call_as(
        &s,
        &root,
        Some("stolen"),
        "SetLiveDomainCertificate",
        &[("DomainName", "a.example.com"), ("SSLProtocol", "off")],
    )
    .await;
    assert_eq!(r.code(), "InvalidSecurityToken.Malformed");
    s.server.store.flush_audit().await.expect("flush");
    let outcomes: Vec<String> = s
        .server
        .store
        .audit_entries(&AuditFilter {
            account: Some(s.account),
            ..AuditFilter::default()
        })
        .await
        .expect("audit")
        .into_iter()
        .filter(|e| e.operation == "SetLiveDomainCertificate")
        .map(|e| e.outcome)
        .collect();
    for code in ["OK", "SignatureNonceUsed", "InvalidSecurityToken.Malformed"] {
        assert!(
            outcomes.iter().any(|o| o == code),
            "{code} not audited: {outcomes:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn livecert_call_signs_with_temporary_credentials() {
    let server = TestServer::start_live().await;
    let now = server.clock_now();
    let account = server
        .store
        .access_key(TEST_ID)
        .await
        .expect("lookup")
        .expect("key")
        .account_id;
    server
        .store
        .create_user(account, "script", now)
        .await
        .expect("user");
    let doc = allow("live:Describe*", "*");
    server
        .store
        .create_policy(account, "read", &doc, now)
        .await
        .expect("policy");
    server
        .store
        .attach_policy(account, "read", "script")
        .await
        .expect("attach");
    let sts = server
        .store
        .issue_sts(account, "script", 900, None, now)
        .await
        .expect("sts");
    for signature in ["v3", "v1"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_livecert"))
            .args([
                "call",
                "DescribeLiveCertificateList",
                "--endpoint",
                &server.addr.to_string(),
                "--signature",
                signature,
            ])
            .env("ALIBABA_CLOUD_ACCESS_KEY_ID", &sts.access_key_id)
            .env(
                "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
                sts.access_key_secret.expose_str().expect("text"),
            )
            .env(
                "ALIBABA_CLOUD_SECURITY_TOKEN",
                sts.security_token.expose_str().expect("text"),
            )
            .output()
            .expect("livecert call runs");
        assert!(
            out.status.success(),
            "{signature}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("CertificateListModel"));
    }
}
