//! The black-box error table: one row per error code this build can produce, each reached by a
//! real request over HTTP, with the expected HTTP status and Code (spec/protocol.md §7 and the
//! SetLiveDomainCertificate API page). Rows run in order against one server whose state is set up
//! first.

use bytes::Bytes;
use http_body_util::Full;
use livecert_core::action::API_VERSION;
use livecert_core::params::Pair;
use livecert_core::protocol::client::{encode_pairs, sign_v1};
use livecert_core::secret::Secret;
use livecert_core::timefmt::format_utc;

use livecert_core::names::{CertName, DomainName};
use livecert_store::{AccountId, DomainFlags, DomainStatus};

use crate::certs::{self_signed, Alg};
use crate::harness::{send, signed_request, Reply, Scheme, TestServer, TEST_ID, TEST_SECRET};

const DAY: i64 = 86_400;

/// How a row's request is made.
enum Req {
    /// Signed with testid, form body.
    Signed(Scheme, &'static str, Vec<Pair>),
    /// Signed with another key id / secret, or at another time (offset from now, seconds).
    SignedAs {
        action: &'static str,
        key_id: &'static str,
        secret: &'static str,
        offset: i64,
    },
    /// Signed with another key, V3, form body.
    SignedBy {
        key_id: &'static str,
        secret: &'static str,
        action: &'static str,
        params: Vec<Pair>,
    },
    /// Signed (V3) with temporary credentials: key id, secret, SecurityToken.
    SignedSts {
        credentials: (String, String, String),
        action: &'static str,
    },
    /// The same operation called twice at once (fresh nonces); the row checks the second answer.
    Twice(&'static str, Vec<Pair>),
    /// Sent while the test holds the database's write lock from its own connection.
    WhileLocked(&'static str, Vec<Pair>),
    /// Raw bytes over TCP.
    Raw(Vec<u8>),
    /// The same signed request sent twice; the row checks the second answer.
    Replayed(Vec<Pair>),
    /// V1 pairs signed with testid, then edited (name, new value) before sending.
    V1Edited {
        params: Vec<Pair>,
        timestamp: Option<&'static str>,
        edits: Vec<(&'static str, &'static str)>,
    },
    /// Any HTTP request: method, path and query, extra headers, body.
    Http {
        method: &'static str,
        target: String,
        body: Vec<u8>,
    },
}

struct Row {
    what: &'static str,
    req: Req,
    status: u16,
    code: &'static str,
}

fn p(pairs: &[(&str, &str)]) -> Vec<Pair> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
        .collect()
}

fn set(extra: &[(&str, &str)]) -> Vec<Pair> {
    let mut v = p(&[
        ("DomainName", "live.example.com"),
        ("SSLProtocol", "on"),
        ("CertType", "upload"),
    ]);
    v.extend(p(extra));
    v
}

/// SetLiveDomainCertificate on live.example.com with `SSLProtocol=on`, `CertType=cas`.
fn cas(extra: &[(&str, &str)]) -> Vec<Pair> {
    let mut v = p(&[
        ("DomainName", "live.example.com"),
        ("SSLProtocol", "on"),
        ("CertType", "cas"),
    ]);
    v.extend(p(extra));
    v
}

fn with_bytes(mut v: Vec<Pair>, name: &str, value: &[u8]) -> Vec<Pair> {
    v.push((name.to_owned(), value.to_vec()));
    v
}

async fn run(server: &TestServer, req: Req) -> Reply {
    let now = server.clock_now();
    match req {
        Req::Signed(scheme, action, params) => {
            server
                .call_with(scheme, action, params, TEST_ID, TEST_SECRET, now)
                .await
        }
        Req::SignedAs {
            action,
            key_id,
            secret,
            offset,
        } => {
            server
                .call_with(
                    Scheme::V3,
                    action,
                    p(&[("DomainName", "live.example.com")]),
                    key_id,
                    secret,
                    now + offset,
                )
                .await
        }
        Req::SignedBy {
            key_id,
            secret,
            action,
            params,
        } => {
            server
                .call_with(Scheme::V3, action, params, key_id, secret, now)
                .await
        }
        Req::SignedSts {
            credentials: (id, secret, token),
            action,
        } => {
            let request = crate::harness::signed_request_with_token(
                server.addr,
                Scheme::V3,
                action,
                vec![],
                &id,
                &secret,
                now,
                Some(&token),
            );
            send(request).await
        }
        Req::Twice(action, params) => {
            server
                .call_with(
                    Scheme::V3,
                    action,
                    params.clone(),
                    TEST_ID,
                    TEST_SECRET,
                    now,
                )
                .await;
            server
                .call_with(Scheme::V3, action, params, TEST_ID, TEST_SECRET, now)
                .await
        }
        Req::WhileLocked(action, params) => {
            let db = rusqlite::Connection::open(server.dir.path().join("livecert.db"))
                .expect("own connection");
            db.execute_batch("BEGIN EXCLUSIVE").expect("lock");
            let reply = server
                .call_with(Scheme::V3, action, params, TEST_ID, TEST_SECRET, now)
                .await;
            db.execute_batch("ROLLBACK").expect("unlock");
            reply
        }
        Req::Raw(bytes) => server.raw(&bytes).await,
        Req::Replayed(params) => {
            let pairs = v1_pairs(
                "DescribeLiveDomainCertificateInfo",
                params,
                &format_utc(now),
            );
            let body = encode_pairs(&pairs);
            send(form(server, body.clone())).await.ok();
            send(form(server, body)).await
        }
        Req::V1Edited {
            params,
            timestamp,
            edits,
        } => {
            let stamp = timestamp.map_or_else(|| format_utc(now), str::to_owned);
            let mut pairs = v1_pairs("DescribeLiveDomainCertificateInfo", params, &stamp);
            for (name, value) in edits {
                pairs.retain(|(n, _)| n != name);
                if !value.is_empty() || name == "SignatureType" {
                    pairs.push((name.to_owned(), value.as_bytes().to_vec()));
                }
            }
            send(form(server, encode_pairs(&pairs))).await
        }
        Req::Http {
            method,
            target,
            body,
        } => {
            let request = http::Request::builder()
                .method(method)
                .uri(format!("http://{}{target}", server.addr))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Full::new(Bytes::from(body)))
                .expect("request");
            send(request).await
        }
    }
}

fn v1_pairs(action: &str, mut params: Vec<Pair>, timestamp: &str) -> Vec<Pair> {
    if !params.iter().any(|(n, _)| n == "Action") {
        params.push(("Action".into(), action.as_bytes().to_vec()));
    }
    params.push(("Version".into(), API_VERSION.as_bytes().to_vec()));
    params.push(("Format".into(), b"JSON".to_vec()));
    let nonce = uuid::Uuid::new_v4().to_string();
    sign_v1(
        "POST",
        &params,
        TEST_ID,
        &Secret::new(TEST_SECRET.as_bytes().to_vec()),
        &nonce,
        timestamp,
    )
}

fn form(server: &TestServer, body: String) -> http::Request<Full<Bytes>> {
    http::Request::post(format!("http://{}/", server.addr))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(body)))
        .expect("request")
}

#[tokio::test(flavor = "multi_thread")]
async fn every_reachable_error_code_by_a_real_request() {
    // Every operation effectively unlimited except DescribeLiveUserDomains (1 call per second, burst
    // 1), so that one row reaches Throttling.User without slowing the others.
    let overrides: std::collections::HashMap<_, _> = livecert_core::action::Action::ALL
        .iter()
        .map(|&a| (a, 1_000_000))
        .chain([(livecert_core::action::Action::DescribeLiveUserDomains, 1)])
        .collect();
    let limiter = std::sync::Arc::new(livecert::api::ratelimit::MemoryRateLimiter::with_overrides(
        &overrides,
    ));
    let server = TestServer::start_at_with_limiter(crate::harness::fixture_time(), limiter).await;
    let now = server.clock_now();

    // State: live.example.com bound to record "bound"; foreign.example.com in another account.
    server.add_domain("live.example.com").await;
    let a = self_signed(&["live.example.com"], now - DAY, now + 90 * DAY, Alg::P256);
    server
        .call(
            Scheme::V3,
            "SetLiveDomainCertificate",
            &[
                ("DomainName", "live.example.com"),
                ("SSLProtocol", "on"),
                ("CertName", "bound"),
                ("SSLPub", &a.chain_pem),
                ("SSLPri", &a.key_pem),
            ],
        )
        .await
        .ok();
    let other_account = server.store.create_account(now).await.expect("account");
    server
        .store
        .import_access_key(
            other_account,
            "otherid",
            &Secret::new(b"othersecret".to_vec()),
            now,
        )
        .await
        .expect("key");
    let foreign = signed_request(
        server.addr,
        Scheme::V3,
        "AddLiveDomain",
        p(&[
            ("DomainName", "foreign.example.com"),
            ("LiveDomainType", "liveVideo"),
            ("Region", "cn-shanghai"),
        ]),
        "otherid",
        "othersecret",
        now,
    );
    send(foreign).await.ok();

    // Operator states, set through the store as `livecert admin` will: one domain per mode, a
    // suspended account, a disabled key.
    for name in [
        "locked",
        "safe",
        "protected",
        "offline",
        "required",
        "mutex",
    ] {
        server.add_domain(&format!("{name}.example.com")).await;
    }
    let flags = |f: &dyn Fn(&mut DomainFlags)| {
        let mut flags = DomainFlags::default();
        f(&mut flags);
        flags
    };
    for (name, f) in [
        ("locked", flags(&|f| f.locked = true)),
        ("safe", flags(&|f| f.safe_mode = true)),
        ("protected", flags(&|f| f.protected_mode = true)),
        ("required", flags(&|f| f.https_required = true)),
        (
            "mutex",
            flags(&|f| f.functions = vec!["http_only".to_owned()]),
        ),
    ] {
        let domain = DomainName::parse(&format!("{name}.example.com")).expect("domain");
        server
            .store
            .set_domain_flags(&domain, f, now)
            .await
            .expect("flags");
    }
    let offline = DomainName::parse("offline.example.com").expect("domain");
    server
        .store
        .set_domain_status(
            server_account(&server).await,
            &offline,
            DomainStatus::Offline,
            now,
        )
        .await
        .expect("offline");
    let suspended = server.store.create_account(now).await.expect("account");
    server
        .store
        .import_access_key(
            suspended,
            "suspendedid",
            &Secret::new(b"suspendedsecret".to_vec()),
            now,
        )
        .await
        .expect("key");
    server
        .store
        .set_account_active(suspended, false)
        .await
        .expect("suspend");
    server
        .store
        .import_access_key(
            server_account(&server).await,
            "disabledid",
            &Secret::new(b"disabledsecret".to_vec()),
            now,
        )
        .await
        .expect("key");
    server
        .store
        .set_access_key_active("disabledid", false)
        .await
        .expect("disable");

    // A record revoked by the operator, bound to revoke.example.com (rows 31 and 33 with cas).
    server.add_domain("revoke.example.com").await;
    let r = self_signed(
        &["revoke.example.com"],
        now - DAY,
        now + 90 * DAY,
        Alg::P256,
    );
    server
        .call(
            Scheme::V3,
            "SetLiveDomainCertificate",
            &[
                ("DomainName", "revoke.example.com"),
                ("SSLProtocol", "on"),
                ("CertName", "revoked"),
                ("SSLPub", &r.chain_pem),
                ("SSLPri", &r.key_pem),
            ],
        )
        .await
        .ok();
    let revoked = server
        .store
        .certificate_by_name(
            server_account(&server).await,
            &CertName::parse("revoked").expect("name"),
        )
        .await
        .expect("read")
        .expect("record");
    server
        .store
        .set_certificate_status(revoked.cert_id, "revoked", now)
        .await
        .expect("revoke");
    let revoked_id = revoked.cert_id.to_string();

    // A RAM user that may only describe, and expired temporary credentials of it.
    let account = server_account(&server).await;
    server
        .store
        .create_user(account, "reader", now)
        .await
        .expect("user");
    server
        .store
        .import_user_access_key(
            account,
            "reader",
            "readerid",
            &Secret::new(b"readersecret".to_vec()),
            now,
        )
        .await
        .expect("key");
    let read_only = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"live:Describe*","Resource":"*"}]}"#;
    server
        .store
        .create_policy(account, "read-only", read_only, now)
        .await
        .expect("policy");
    server
        .store
        .attach_policy(account, "read-only", "reader")
        .await
        .expect("attach");
    let expired_sts = server
        .store
        .issue_sts(account, "reader", 900, None, now - 1000)
        .await
        .expect("sts");
    let expired_sts = (
        expired_sts.access_key_id.clone(),
        expired_sts
            .access_key_secret
            .expose_str()
            .expect("text")
            .to_owned(),
        expired_sts
            .security_token
            .expose_str()
            .expect("text")
            .to_owned(),
    );
    // Storage faults, installed from the test's own connection (the product has no test hook):
    // inserting a record named "boom" fails; turning HTTPS off for faulty.example.com fails.
    server.add_domain("faulty.example.com").await;
    let faulty = self_signed(
        &["faulty.example.com"],
        now - DAY,
        now + 90 * DAY,
        Alg::P256,
    );
    server
        .call(
            Scheme::V3,
            "SetLiveDomainCertificate",
            &[
                ("DomainName", "faulty.example.com"),
                ("SSLProtocol", "on"),
                ("CertName", "faulty"),
                ("SSLPub", &faulty.chain_pem),
                ("SSLPri", &faulty.key_pem),
            ],
        )
        .await
        .ok();
    rusqlite::Connection::open(server.dir.path().join("livecert.db"))
        .and_then(|db| {
            db.execute_batch(
                "CREATE TRIGGER fail_insert BEFORE INSERT ON certificates WHEN NEW.cert_name = 'boom' \
                 BEGIN SELECT RAISE(ABORT, 'injected'); END; \
                 CREATE TRIGGER fail_off BEFORE UPDATE ON domains WHEN OLD.name = 'faulty.example.com' AND NEW.https = 0 \
                 BEGIN SELECT RAISE(ABORT, 'injected'); END;",
            )
        })
        .expect("triggers");
    let boom = self_signed(&["live.example.com"], now - DAY, now + 90 * DAY, Alg::P256);

    let b = self_signed(&["live.example.com"], now - DAY, now + 90 * DAY, Alg::P256);
    let expired = self_signed(&["live.example.com"], now - 90 * DAY, now - DAY, Alg::P256);
    let future = self_signed(&["live.example.com"], now + 3600, now + 90 * DAY, Alg::P256);
    let elsewhere = self_signed(&["other.example.org"], now - DAY, now + 90 * DAY, Alg::P256);
    let elsewhere_too = self_signed(&["other.example.org"], now - DAY, now + 90 * DAY, Alg::P256);
    let huge = "A".repeat(70 * 1024);
    let long_name = "n".repeat(129);
    // CAS: a record uploaded through CAS and bound through Live (DeleteUserCertificate refuses it).
    server.add_domain("cas-bound.example.com").await;
    let cas_cert = self_signed(
        &["cas-bound.example.com"],
        now - DAY,
        now + 90 * DAY,
        Alg::P256,
    );
    let uploaded = server
        .call(
            Scheme::V3,
            "UploadUserCertificate",
            &[
                ("Name", "cas-bound"),
                ("Cert", &cas_cert.chain_pem),
                ("Key", &cas_cert.key_pem),
            ],
        )
        .await;
    let cas_bound_id = uploaded.ok()["CertId"]
        .as_u64()
        .expect("CertId")
        .to_string();
    server
        .call(
            Scheme::V3,
            "SetLiveDomainCertificate",
            &[
                ("DomainName", "cas-bound.example.com"),
                ("SSLProtocol", "on"),
                ("CertType", "cas"),
                ("CertName", "cas-bound"),
            ],
        )
        .await
        .ok();

    let rows = vec![
        // ---- protocol.md §7 ----
        Row { what: "no signature at all", req: Req::Http { method: "GET", target: "/?Action=DescribeLiveCertificateList".into(), body: vec![] }, status: 400, code: "IncompleteSignature" },
        Row { what: "V1 without AccessKeyId", req: Req::V1Edited { params: vec![], timestamp: None, edits: vec![("AccessKeyId", "")] }, status: 400, code: "MissingParameter" },
        Row { what: "V1 HMAC-SHA256", req: Req::V1Edited { params: vec![], timestamp: None, edits: vec![("SignatureMethod", "HMAC-SHA256")] }, status: 400, code: "InvalidSignatureMethod" },
        Row { what: "wrong secret", req: Req::SignedAs { action: "DescribeLiveDomainCertificateInfo", key_id: TEST_ID, secret: "wrong", offset: 0 }, status: 400, code: "SignatureDoesNotMatch" },
        Row { what: "unknown AccessKeyId", req: Req::SignedAs { action: "DescribeLiveDomainCertificateInfo", key_id: "LTAInobodyhasthiskey0000", secret: "x", offset: 0 }, status: 404, code: "InvalidAccessKeyId.NotFound" },
        Row { what: "a SecurityToken with a permanent key", req: Req::Signed(Scheme::V1, "DescribeLiveCertificateList", p(&[("SecurityToken", "garbage")])), status: 400, code: "InvalidSecurityToken.Malformed" },
        Row { what: "unparsable Timestamp", req: Req::V1Edited { params: vec![], timestamp: Some("yesterday"), edits: vec![] }, status: 400, code: "InvalidTimeStamp.Format" },
        Row { what: "signed 20 minutes ago", req: Req::SignedAs { action: "DescribeLiveDomainCertificateInfo", key_id: TEST_ID, secret: TEST_SECRET, offset: -1200 }, status: 400, code: "InvalidTimeStamp.Expired" },
        Row { what: "signed 20 minutes ahead", req: Req::SignedAs { action: "DescribeLiveDomainCertificateInfo", key_id: TEST_ID, secret: TEST_SECRET, offset: 1200 }, status: 400, code: "InvalidTimeStamp.Expired" },
        Row { what: "a replayed request", req: Req::Replayed(p(&[("DomainName", "live.example.com")])), status: 400, code: "SignatureNonceUsed" },
        Row { what: "unknown Action", req: Req::V1Edited { params: vec![], timestamp: None, edits: vec![("Action", "DescribeEverything")] }, status: 404, code: "InvalidAction.NotFound" },
        Row { what: "another path", req: Req::Http { method: "GET", target: "/v2/certs".into(), body: vec![] }, status: 404, code: "InvalidAction.NotFound" },
        Row { what: "another Version", req: Req::V1Edited { params: vec![], timestamp: None, edits: vec![("Version", "2014-05-26")] }, status: 400, code: "InvalidVersion" },
        Row { what: "PUT", req: Req::Http { method: "PUT", target: "/".into(), body: vec![] }, status: 400, code: "UnsupportedHTTPMethod" },
        // The server answers as soon as it reads Content-Length, before the body: send the head alone
        // (a client still writing the body would race the server closing the connection).
        Row { what: "a 1.1 MiB body", req: Req::Raw(b"POST / HTTP/1.1\r\nHost: livecert.test\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1150000\r\n\r\n".to_vec()), status: 413, code: "RequestEntityTooLarge" },
        Row { what: "Format=YAML", req: Req::Signed(Scheme::V3, "DescribeLiveCertificateList", p(&[("Format", "YAML")])), status: 400, code: "InvalidParameter" },
        Row { what: "a parameter twice in one source", req: Req::Http { method: "POST", target: "/?Action=A&Action=B".into(), body: vec![] }, status: 400, code: "InvalidParameter" },
        Row { what: "malformed percent-encoding", req: Req::Http { method: "POST", target: "/?Signature=%zz".into(), body: vec![] }, status: 400, code: "InvalidParameter" },
        Row { what: "a disabled AccessKey", req: Req::SignedBy { key_id: "disabledid", secret: "disabledsecret", action: "DescribeLiveCertificateList", params: vec![] }, status: 400, code: "InvalidAccessKeyId.Inactive" },
        Row { what: "a RAM user without an Allow", req: Req::SignedBy { key_id: "readerid", secret: "readersecret", action: "SetLiveDomainCertificate", params: p(&[("DomainName", "live.example.com"), ("SSLProtocol", "off")]) }, status: 403, code: "Forbidden.RAM" },
        Row { what: "expired temporary credentials", req: Req::SignedSts { credentials: expired_sts.clone(), action: "DescribeLiveCertificateList" }, status: 400, code: "InvalidSecurityToken.Expired" },
        Row { what: "over the account's quota", req: Req::Twice("DescribeLiveUserDomains", vec![]), status: 400, code: "Throttling.User" },
        Row { what: "the store cannot take the write", req: Req::WhileLocked("AddLiveDomain", p(&[("DomainName", "locked-out.example.com"), ("LiveDomainType", "liveVideo"), ("Region", "cn-shanghai")])), status: 503, code: "ServiceUnavailable" },
        Row { what: "row 14, the store refuses turning HTTPS off", req: Req::Signed(Scheme::V3, "SetLiveDomainCertificate", p(&[("DomainName", "faulty.example.com"), ("SSLProtocol", "off")])), status: 400, code: "DeleteFailed" },
        Row { what: "row 27, the store refuses the record", req: Req::Signed(Scheme::V3, "SetLiveDomainCertificate", set(&[("CertName", "boom"), ("SSLPub", &boom.chain_pem), ("SSLPri", &boom.key_pem)])), status: 400, code: "CertStorage.failed" },
        // ---- SetLiveDomainCertificate, rows 1–5 ----
        Row { what: "row 1", req: Req::Signed(Scheme::V3, "SetLiveDomainCertificate", p(&[("SSLProtocol", "off")])), status: 400, code: "MissingParameter" },
        Row { what: "row 2", req: Req::Signed(Scheme::V3, "SetLiveDomainCertificate", p(&[("DomainName", "bad_name.com")])), status: 400, code: "InvalidParameter" },
        Row { what: "row 3", req: Req::Signed(Scheme::V3, "SetLiveDomainCertificate", p(&[("DomainName", "live.example.com"), ("SSLProtocol", "ON")])), status: 400, code: "InvalidSSLProtocol.ValueNotSupported" },
        Row { what: "row 4, CertType", req: Req::Signed(Scheme::V3, "SetLiveDomainCertificate", p(&[("DomainName", "live.example.com"), ("SSLProtocol", "on"), ("CertType", "Upload")])), status: 400, code: "SetDomainCertificate.ParameterError" },
        Row { what: "row 4, SSLPub without SSLProtocol", req: Req::Signed(Scheme::V1, "SetLiveDomainCertificate", p(&[("DomainName", "live.example.com"), ("SSLPub", &a.chain_pem)])), status: 400, code: "SetDomainCertificate.ParameterError" },
        Row { what: "row 5", req: Req::Signed(Scheme::V3, "SetLiveDomainCertificate", set(&[("CertName", &long_name)])), status: 400, code: "InvalidCertName.TooLong" },
        // ---- row 6 ----
        Row { what: "row 6, a suspended account sets", req: Req::SignedBy { key_id: "suspendedid", secret: "suspendedsecret", action: "SetLiveDomainCertificate", params: p(&[("DomainName", "live.example.com"), ("SSLProtocol", "off")]) }, status: 400, code: "AuthenticationFailed" },
        Row { what: "a suspended account adds a domain", req: Req::SignedBy { key_id: "suspendedid", secret: "suspendedsecret", action: "AddLiveDomain", params: p(&[("DomainName", "susp.example.com"), ("LiveDomainType", "liveVideo"), ("Region", "cn-shanghai")]) }, status: 400, code: "AuthenticationFailed" },
        // ---- row 7 ----
        Row { what: "row 7, unknown domain", req: Req::Signed(Scheme::V3, "SetLiveDomainCertificate", p(&[("DomainName", "unknown.example.com"), ("SSLProtocol", "off")])), status: 400, code: "IllegalOperationDomain" },
        Row { what: "row 7, another account's domain", req: Req::Signed(Scheme::V3, "SetLiveDomainCertificate", p(&[("DomainName", "foreign.example.com"), ("SSLProtocol", "off")])), status: 400, code: "IllegalOperationDomain" },
        // ---- rows 8–12, 16 ----
        Row { what: "row 8", req: Req::Signed(Scheme::V3, "SetLiveDomainCertificate", p(&[("DomainName", "locked.example.com"), ("SSLProtocol", "off")])), status: 403, code: "IllegalOperation" },
        Row { what: "row 9", req: Req::Signed(Scheme::V3, "SetLiveDomainCertificate", p(&[("DomainName", "safe.example.com"), ("SSLProtocol", "off")])), status: 400, code: "DomainInSafeMode" },
        Row { what: "row 10", req: Req::Signed(Scheme::V3, "SetLiveDomainCertificate", p(&[("DomainName", "protected.example.com"), ("SSLProtocol", "off")])), status: 400, code: "DomainInProtectedMode" },
        Row { what: "row 11", req: Req::Signed(Scheme::V3, "SetLiveDomainCertificate", p(&[("DomainName", "offline.example.com"), ("SSLProtocol", "off")])), status: 400, code: "InvalidDomain.notOnline" },
        Row { what: "row 12", req: Req::Signed(Scheme::V1, "SetLiveDomainCertificate", p(&[("DomainName", "required.example.com"), ("SSLProtocol", "off")])), status: 400, code: "Certificate.NotPermittedOff" },
        Row { what: "row 16", req: Req::Signed(Scheme::V3, "SetLiveDomainCertificate", p(&[("DomainName", "mutex.example.com"), ("SSLProtocol", "on"), ("SSLPub", &a.chain_pem), ("SSLPri", &a.key_pem)])), status: 400, code: "FunctionMutex" },
        // ---- rows 17–21 ----
        Row { what: "row 17", req: Req::Signed(Scheme::V3, "SetLiveDomainCertificate", set(&[("SSLPri", &a.key_pem)])), status: 400, code: "SSLPub.MissingParameter" },
        Row { what: "row 18", req: Req::Signed(Scheme::V3, "SetLiveDomainCertificate", set(&[("SSLPub", &a.chain_pem)])), status: 400, code: "SSLPri.MissingParameter" },
        Row { what: "row 19", req: Req::Signed(Scheme::V3, "SetLiveDomainCertificate", set(&[("SSLPub", &a.chain_pem), ("SSLPri", "  \n ")])), status: 400, code: "Certificate.KeyNull" },
        Row { what: "row 20", req: Req::Signed(Scheme::V3, "SetLiveDomainCertificate", set(&[("SSLPub", &huge), ("SSLPri", &a.key_pem)])), status: 400, code: "InvalidCertificate.TooLong" },
        Row { what: "SSLPub with NUL", req: Req::Signed(Scheme::V3, "SetLiveDomainCertificate", with_bytes(set(&[("SSLPri", &a.key_pem)]), "SSLPub", b"-----BEGIN CERTIFICATE-----\0")), status: 400, code: "sslPub.Error" },
        Row { what: "SSLPri not UTF-8", req: Req::Signed(Scheme::V3, "SetLiveDomainCertificate", with_bytes(set(&[("SSLPub", &a.chain_pem)]), "SSLPri", b"\xff\xfe")), status: 400, code: "sslPri.Error" },
        Row { what: "SSLPub without PEM", req: Req::Signed(Scheme::V3, "SetLiveDomainCertificate", set(&[("SSLPub", "hello"), ("SSLPri", &a.key_pem)])), status: 400, code: "InvalidSSLPub" },
        Row { what: "SSLPri without PEM", req: Req::Signed(Scheme::V3, "SetLiveDomainCertificate", set(&[("SSLPub", &a.chain_pem), ("SSLPri", "hello")])), status: 400, code: "InvalidSSLPri" },
        Row { what: "both without PEM", req: Req::Signed(Scheme::V3, "SetLiveDomainCertificate", set(&[("SSLPub", "hello"), ("SSLPri", "world")])), status: 400, code: "InvalidSSLPubOrInvalidSSLPri" },
        Row { what: "swapped", req: Req::Signed(Scheme::V3, "SetLiveDomainCertificate", set(&[("SSLPub", &a.key_pem), ("SSLPri", &a.chain_pem)])), status: 400, code: "InvalidSSLPubOrInvalidSSLPri" },
        Row { what: "base64 that does not decode", req: Req::Signed(Scheme::V3, "SetLiveDomainCertificate", set(&[("SSLPub", "-----BEGIN CERTIFICATE-----\nMII*!!\n-----END CERTIFICATE-----\n"), ("SSLPri", &a.key_pem)])), status: 400, code: "Decode.Error" },
        Row { what: "not X.509", req: Req::Signed(Scheme::V3, "SetLiveDomainCertificate", set(&[("SSLPub", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), ("SSLPri", &a.key_pem)])), status: 400, code: "Certificate.FormatError" },
        Row { what: "an encrypted key", req: Req::Signed(Scheme::V3, "SetLiveDomainCertificate", set(&[("SSLPub", &a.chain_pem), ("SSLPri", "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n")])), status: 400, code: "Key.Malformed" },
        Row { what: "the key of another certificate", req: Req::Signed(Scheme::V3, "SetLiveDomainCertificate", set(&[("SSLPub", &a.chain_pem), ("SSLPri", &b.key_pem)])), status: 400, code: "Certificate.MissMatch" },
        Row { what: "an expired leaf", req: Req::Signed(Scheme::V3, "SetLiveDomainCertificate", set(&[("SSLPub", &expired.chain_pem), ("SSLPri", &expired.key_pem)])), status: 400, code: "Certificate.Expired" },
        Row { what: "a leaf valid only in an hour", req: Req::Signed(Scheme::V3, "SetLiveDomainCertificate", set(&[("SSLPub", &future.chain_pem), ("SSLPri", &future.key_pem)])), status: 400, code: "Certificate.StatusError" },
        // ---- rows 23, 24, 28 ----
        Row { what: "row 23", req: Req::Signed(Scheme::V3, "SetLiveDomainCertificate", set(&[("CertName", "bound"), ("SSLPub", &b.chain_pem), ("SSLPri", &b.key_pem)])), status: 400, code: "Certificate.Duplicated" },
        Row { what: "row 24", req: Req::Signed(Scheme::V3, "SetLiveDomainCertificate", set(&[("CertName", "again"), ("SSLPub", &a.chain_pem), ("SSLPri", &a.key_pem)])), status: 400, code: "CertificateContent.Duplicated" },
        Row { what: "row 28", req: Req::Signed(Scheme::V3, "SetLiveDomainCertificate", set(&[("CertName", "elsewhere"), ("SSLPub", &elsewhere.chain_pem), ("SSLPri", &elsewhere.key_pem)])), status: 400, code: "Certificate.SettedNotEffect" },
        // ---- rows 30–34, CertType=cas ----
        Row { what: "row 30", req: Req::Signed(Scheme::V3, "SetLiveDomainCertificate", cas(&[])), status: 404, code: "CertName.MissingParameter" },
        Row { what: "row 31, unknown CertName", req: Req::Signed(Scheme::V3, "SetLiveDomainCertificate", cas(&[("CertName", "nope")])), status: 400, code: "Certificate.NotFind" },
        Row { what: "row 31, CertName and CertId of different records", req: Req::Signed(Scheme::V3, "SetLiveDomainCertificate", cas(&[("CertName", "bound"), ("CertId", &revoked_id)])), status: 400, code: "SetDomainCertificate.ParameterError" },
        Row { what: "row 33, a revoked record", req: Req::Signed(Scheme::V3, "SetLiveDomainCertificate", p(&[("DomainName", "revoke.example.com"), ("SSLProtocol", "on"), ("CertType", "cas"), ("CertName", "revoked")])), status: 400, code: "Certificate.StatusError" },
        Row { what: "row 34", req: Req::Signed(Scheme::V3, "SetLiveDomainCertificate", cas(&[("CertName", "elsewhere")])), status: 400, code: "Certificate.SettedNotEffect" },
        // ---- DryRun: every check, nothing changed ----
        Row { what: "DryRun AddLiveDomain", req: Req::Signed(Scheme::V3, "AddLiveDomain", p(&[("DomainName", "dry.example.com"), ("LiveDomainType", "liveVideo"), ("Region", "cn-shanghai"), ("DryRun", "true")])), status: 400, code: "DryRunOperation" },
        Row { what: "DryRun Set on", req: Req::Signed(Scheme::V3, "SetLiveDomainCertificate", set(&[("CertName", "dry"), ("SSLPub", &b.chain_pem), ("SSLPri", &b.key_pem), ("DryRun", "True")])), status: 400, code: "DryRunOperation" },
        Row { what: "DryRun Set on with cas", req: Req::Signed(Scheme::V3, "SetLiveDomainCertificate", cas(&[("CertName", "bound"), ("DryRun", "true")])), status: 400, code: "DryRunOperation" },
        Row { what: "DryRun Set off", req: Req::Signed(Scheme::V1, "SetLiveDomainCertificate", p(&[("DomainName", "live.example.com"), ("SSLProtocol", "off"), ("DryRun", "true")])), status: 400, code: "DryRunOperation" },
        Row { what: "DryRun of a refused call answers the refusal", req: Req::Signed(Scheme::V3, "SetLiveDomainCertificate", set(&[("CertName", "bound"), ("SSLPub", &b.chain_pem), ("SSLPri", &b.key_pem), ("DryRun", "true")])), status: 400, code: "Certificate.Duplicated" },
        Row { what: "DryRun of row 28 answers it without the write", req: Req::Signed(Scheme::V3, "SetLiveDomainCertificate", set(&[("CertName", "dry-elsewhere"), ("SSLPub", &elsewhere_too.chain_pem), ("SSLPri", &elsewhere_too.key_pem), ("DryRun", "true")])), status: 400, code: "Certificate.SettedNotEffect" },
        Row { what: "DryRun=maybe", req: Req::Signed(Scheme::V3, "SetLiveDomainCertificate", p(&[("DomainName", "live.example.com"), ("SSLProtocol", "off"), ("DryRun", "maybe")])), status: 400, code: "InvalidParameter" },
        // ---- other operations ----
        Row { what: "AddLiveDomain twice", req: Req::Signed(Scheme::V3, "AddLiveDomain", p(&[("DomainName", "live.example.com"), ("LiveDomainType", "liveVideo"), ("Region", "cn-shanghai")])), status: 400, code: "DomainAlreadyExist" },
        Row { what: "AddLiveDomain of another account's domain", req: Req::Signed(Scheme::V3, "AddLiveDomain", p(&[("DomainName", "foreign.example.com"), ("LiveDomainType", "liveVideo"), ("Region", "cn-shanghai")])), status: 400, code: "DomainAlreadyExist" },
        Row { what: "AddLiveDomain without LiveDomainType", req: Req::Signed(Scheme::V3, "AddLiveDomain", p(&[("DomainName", "new.example.com"), ("Region", "cn-shanghai")])), status: 400, code: "MissingParameter" },
        Row { what: "DescribeLiveCertificateDetail of an unknown name", req: Req::Signed(Scheme::V3, "DescribeLiveCertificateDetail", p(&[("CertName", "nope")])), status: 404, code: "CertNameNotFound" },
        Row { what: "DescribeLiveCertificateList with a foreign domain", req: Req::Signed(Scheme::V3, "DescribeLiveCertificateList", p(&[("DomainName", "live.example.com,foreign.example.com")])), status: 400, code: "IllegalOperationDomain" },
        Row { what: "DescribeLiveDomainDetail of a foreign domain", req: Req::Signed(Scheme::V1, "DescribeLiveDomainDetail", p(&[("DomainName", "foreign.example.com")])), status: 400, code: "IllegalOperationDomain" },
        // ---- CAS 2020-04-07 and STS 2015-04-01 on the same listener (docs/cas.md) ----
        Row { what: "a CAS action with Live's version", req: Req::V1Edited { params: vec![], timestamp: None, edits: vec![("Action", "UploadUserCertificate")] }, status: 400, code: "InvalidVersion" },
        Row { what: "CAS upload without Name", req: Req::Signed(Scheme::V3, "UploadUserCertificate", p(&[("Cert", &cas_cert.chain_pem), ("Key", &cas_cert.key_pem)])), status: 400, code: "MissingParameter" },
        Row { what: "CAS upload under a taken Name", req: Req::Signed(Scheme::V3, "UploadUserCertificate", p(&[("Name", "cas-bound"), ("Cert", &cas_cert.chain_pem), ("Key", &cas_cert.key_pem)])), status: 400, code: "InvalidParameter" },
        Row { what: "CAS upload of a key that is not the certificate's", req: Req::Signed(Scheme::V3, "UploadUserCertificate", p(&[("Name", "mismatch"), ("Cert", &cas_cert.chain_pem), ("Key", &b.key_pem)])), status: 400, code: "InvalidParameter" },
        Row { what: "CAS detail of a CertId not in the library", req: Req::Signed(Scheme::V3, "GetUserCertificateDetail", p(&[("CertId", "999999999")])), status: 400, code: "Certificate.NotFind" },
        Row { what: "CAS listing with ShowSize 0", req: Req::Signed(Scheme::V1, "ListUserCertificateOrder", p(&[("ShowSize", "0")])), status: 400, code: "InvalidParameter" },
        Row { what: "CAS delete of a record a domain serves", req: Req::Signed(Scheme::V3, "DeleteUserCertificate", p(&[("CertId", &cas_bound_id)])), status: 400, code: "DeleteFailed" },
        Row { what: "CAS delete of a CertId not in the library", req: Req::Signed(Scheme::V3, "DeleteUserCertificate", p(&[("CertId", "999999999")])), status: 400, code: "Certificate.NotFind" },
        Row { what: "a RAM user without yundun-cert permissions lists CAS", req: Req::SignedBy { key_id: "readerid", secret: "readersecret", action: "ListUserCertificateOrder", params: vec![] }, status: 403, code: "Forbidden.RAM" },
    ];

    let mut failures = Vec::new();
    for row in rows {
        let reply = run(&server, row.req).await;
        if reply.status != row.status || reply.code() != row.code {
            failures.push(format!(
                "{}: expected {} {}, got {} {}",
                row.what, row.status, row.code, reply.status, reply.body
            ));
            continue;
        }
        for field in ["RequestId", "HostId", "Code", "Message", "Recommend"] {
            if !reply
                .json
                .get(field)
                .is_some_and(serde_json::Value::is_string)
            {
                failures.push(format!(
                    "{}: the envelope lacks the string {field}: {}",
                    row.what, reply.body
                ));
            }
        }
        let message = reply.message();
        if let Some((before, _)) = message.split_once("server string to sign is:") {
            if before.contains(':') {
                failures.push(format!(
                    "{}: a ':' before the string-to-sign marker",
                    row.what
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} rows failed:\n{}",
        failures.len(),
        failures.join("\n")
    );

    // Nothing a DryRun or a refusal did is in the store.
    let dry = server
        .call(
            Scheme::V3,
            "DescribeLiveDomainDetail",
            &[("DomainName", "dry.example.com")],
        )
        .await;
    assert_eq!(
        dry.code(),
        "IllegalOperationDomain",
        "a DryRun AddLiveDomain added the domain"
    );
    for name in ["dry", "dry-elsewhere"] {
        let r = server
            .call(
                Scheme::V3,
                "DescribeLiveCertificateDetail",
                &[("CertName", name)],
            )
            .await;
        assert_eq!(r.code(), "CertNameNotFound", "a DryRun stored {name}");
    }
    // No refusal changed the binding: live.example.com still serves "bound".
    let info = server
        .call(
            Scheme::V3,
            "DescribeLiveDomainCertificateInfo",
            &[("DomainName", "live.example.com")],
        )
        .await;
    assert_eq!(info.ok()["CertInfos"]["CertInfo"][0]["CertName"], "bound");
}

/// The account of the server's `testid` key.
async fn server_account(server: &TestServer) -> AccountId {
    server
        .store
        .access_key(TEST_ID)
        .await
        .expect("lookup")
        .expect("testid exists")
        .account_id
}

/// `Recommend` points at the error reference the API serves itself (a user running livecert has
/// no `livecert.local`): `http://<the request's host>/docs/errors.md#<anchor>`, and that page
/// holds the anchor.
#[tokio::test(flavor = "multi_thread")]
async fn recommend_links_to_the_error_reference_the_api_serves() {
    let server = TestServer::start().await;
    let reply = server
        .call_with(
            Scheme::V3,
            "DescribeLiveUserDomains",
            Vec::new(),
            TEST_ID,
            "not-the-secret",
            server.clock_now(),
        )
        .await;
    assert_eq!(reply.code(), "SignatureDoesNotMatch", "{}", reply.body);
    let recommend = reply.json["Recommend"].as_str().expect("Recommend");
    assert_eq!(
        recommend,
        format!(
            "http://{}/docs/errors.md#signaturedoesnotmatch",
            server.addr
        )
    );
    let page = server
        .raw(
            format!(
                "GET /docs/errors.md HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
                server.addr
            )
            .as_bytes(),
        )
        .await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("<a id=\"signaturedoesnotmatch\"></a>"),
        "{}",
        &page.body[..page.body.len().min(300)]
    );
}
