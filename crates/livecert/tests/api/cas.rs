//! `CertType=cas` (spec/operations.md rows 30–35): binding a record already in the caller's
//! library, by CertName or CertId; one record shared by several domains and rotated in place; each
//! row's code; DryRun.

use livecert_core::names::DomainName;
use livecert_core::secret::Secret;
use livecert_store::DomainFlags;
use serde_json::Value;

use crate::certs::{self_signed, Alg, Generated};
use crate::harness::{Reply, Scheme, TestServer};

const DAY: i64 = 86_400;

/// The documented message of `Certificate.StatusError` for cas records (operations.md, Messages).
const CAS_STATUS_MESSAGE: &str = "Certificate is not exist or its status is error.";

async fn upload(
    server: &TestServer,
    domain: &str,
    name: &str,
    g: &Generated,
    force: bool,
) -> Reply {
    server
        .call(
            Scheme::V3,
            "SetLiveDomainCertificate",
            &[
                ("DomainName", domain),
                ("SSLProtocol", "on"),
                ("CertName", name),
                ("SSLPub", &g.chain_pem),
                ("SSLPri", &g.key_pem),
                ("ForceSet", if force { "1" } else { "0" }),
            ],
        )
        .await
}

/// SetLiveDomainCertificate with `SSLProtocol=on`, `CertType=cas` and `extra`.
async fn cas(server: &TestServer, domain: &str, extra: &[(&str, &str)]) -> Reply {
    let mut params = vec![
        ("DomainName", domain),
        ("SSLProtocol", "on"),
        ("CertType", "cas"),
    ];
    params.extend_from_slice(extra);
    server
        .call(Scheme::V3, "SetLiveDomainCertificate", &params)
        .await
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

/// `(CertId, chain PEM)` of a library record.
async fn detail(server: &TestServer, name: &str) -> (u64, String) {
    let r = server
        .call(
            Scheme::V3,
            "DescribeLiveCertificateDetail",
            &[("CertName", name)],
        )
        .await;
    let d = r.ok();
    (
        d["CertId"].as_u64().expect("CertId"),
        d["Cert"].as_str().expect("Cert").to_owned(),
    )
}

/// What each domain serves: (DomainName, SSLProtocol, CertName, SSLPub).
async fn served(server: &TestServer, domains: &[&str]) -> Vec<(String, String, String, String)> {
    let mut out = Vec::new();
    for d in domains {
        let i = cert_info(server, d).await;
        let s = |k: &str| i[k].as_str().unwrap_or_default().to_owned();
        out.push((
            s("DomainName"),
            s("SSLProtocol"),
            s("CertName"),
            s("SSLPub"),
        ));
    }
    out
}

async fn domain_detail(server: &TestServer) -> Reply {
    server
        .call(
            Scheme::V3,
            "DescribeLiveDomainDetail",
            &[("DomainName", "live.example.com")],
        )
        .await
}

fn assert_refused(r: &Reply, status: u16, code: &str, what: &str) {
    assert_eq!(
        (r.status, r.code()),
        (status, code),
        "{what}: got {} {}",
        r.status,
        r.body
    );
}

/// Rows 35 and 26: one record bound to three domains (by upload, by CertName, by CertId), then
/// rotated in place with `ForceSet=1`: all three serve the new chain under the same CertId. A
/// rotation that would not cover one of them is refused, naming it, and nothing changes.
#[tokio::test]
async fn one_record_on_three_domains_rotates_in_place() {
    let server = TestServer::start().await;
    let now = server.clock_now();
    let domains = ["a.example.com", "b.example.com", "c.example.com"];
    for d in domains {
        server.add_domain(d).await;
    }
    let first = self_signed(&domains, now - DAY, now + 90 * DAY, Alg::P256);
    upload(&server, "a.example.com", "shared", &first, false)
        .await
        .ok();
    let (id, chain) = detail(&server, "shared").await;
    cas(&server, "b.example.com", &[("CertName", "shared")])
        .await
        .ok();
    let id_text = id.to_string();
    cas(&server, "c.example.com", &[("CertId", &id_text)])
        .await
        .ok();
    for (domain, protocol, name, pem) in served(&server, &domains).await {
        assert_eq!(
            (protocol.as_str(), name.as_str(), pem.as_str()),
            ("on", "shared", chain.as_str()),
            "{domain} before the rotation"
        );
    }

    let second = self_signed(&domains, now - DAY, now + 120 * DAY, Alg::P256);
    upload(&server, "a.example.com", "shared", &second, true)
        .await
        .ok();
    let (same_id, rotated) = detail(&server, "shared").await;
    assert_eq!(same_id, id, "ForceSet=1 replaces the record in place");
    assert_ne!(rotated, chain, "the record holds the new chain");
    for d in domains {
        let info = cert_info(&server, d).await;
        assert_eq!(info["SSLPub"].as_str(), Some(rotated.as_str()), "{d}");
        assert_eq!(
            info["CertExpireTime"],
            livecert_core::timefmt::format_utc(second.not_after).as_str(),
            "{d}"
        );
    }

    let before = served(&server, &domains).await;
    let counter = server.store.change_counter().await.expect("counter");
    let narrow = self_signed(
        &["a.example.com", "b.example.com"],
        now - DAY,
        now + 150 * DAY,
        Alg::P256,
    );
    let r = upload(&server, "a.example.com", "shared", &narrow, true).await;
    assert_refused(
        &r,
        400,
        "SetDomainCertificate.ParameterError",
        "a rotation not covering c",
    );
    assert!(r.message().contains("c.example.com"), "{}", r.body);
    assert_eq!(served(&server, &domains).await, before, "nothing changed");
    assert_eq!(detail(&server, "shared").await, (id, rotated));
    assert_eq!(
        server.store.change_counter().await.expect("counter"),
        counter
    );
    server.stop().await;
}

/// Rows 30–35 in order, each with its code; rows 8–10 and 16 apply to cas too; row 32 by moving
/// the server's clock past the record's notAfter.
#[tokio::test]
async fn rows_30_to_35_each_with_its_code() {
    let server = TestServer::start().await;
    let now = server.clock_now();
    let domain = "live.example.com";
    for d in [
        domain,
        "lib.example.com",
        "locked.example.com",
        "mutex.example.com",
    ] {
        server.add_domain(d).await;
    }
    // The library: "wide" covers *.example.com; "elsewhere" covers another name; "short" expires
    // in two days. They are stored through lib.example.com (row 28 keeps "elsewhere"), which is
    // left bound to "wide".
    let wide = self_signed(&["*.example.com"], now - DAY, now + 90 * DAY, Alg::P256);
    let elsewhere = self_signed(&["other.example.org"], now - DAY, now + 90 * DAY, Alg::P256);
    let short = self_signed(&["*.example.com"], now - DAY, now + 2 * DAY, Alg::P256);
    upload(&server, "lib.example.com", "short", &short, false)
        .await
        .ok();
    let r = upload(&server, "lib.example.com", "elsewhere", &elsewhere, false).await;
    assert_refused(&r, 400, "Certificate.SettedNotEffect", "row 28 stores it");
    upload(&server, "lib.example.com", "wide", &wide, false)
        .await
        .ok();
    let (wide_id, _) = detail(&server, "wide").await;
    let (short_id, _) = detail(&server, "short").await;
    let (wide_id, short_id) = (wide_id.to_string(), short_id.to_string());

    // Another account's record, by CertId.
    let other = server.store.create_account(now).await.expect("account");
    server
        .store
        .import_access_key(other, "otherid", &Secret::new(b"othersecret".to_vec()), now)
        .await
        .expect("key");
    let foreign = self_signed(&["*.example.com"], now - DAY, now + 90 * DAY, Alg::P256);
    let foreign_id = {
        let pairs = |v: &[(&str, &str)]| -> Vec<livecert_core::params::Pair> {
            v.iter()
                .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
                .collect()
        };
        server
            .call_with(
                Scheme::V3,
                "AddLiveDomain",
                pairs(&[
                    ("DomainName", "theirs.example.com"),
                    ("LiveDomainType", "liveVideo"),
                    ("Region", "cn-shanghai"),
                ]),
                "otherid",
                "othersecret",
                now,
            )
            .await
            .ok();
        server
            .call_with(
                Scheme::V3,
                "SetLiveDomainCertificate",
                pairs(&[
                    ("DomainName", "theirs.example.com"),
                    ("SSLProtocol", "on"),
                    ("CertName", "theirs"),
                    ("SSLPub", &foreign.chain_pem),
                    ("SSLPri", &foreign.key_pem),
                ]),
                "otherid",
                "othersecret",
                now,
            )
            .await
            .ok();
        let r = server
            .call_with(
                Scheme::V3,
                "DescribeLiveCertificateDetail",
                pairs(&[("CertName", "theirs")]),
                "otherid",
                "othersecret",
                now,
            )
            .await;
        r.ok()["CertId"].as_u64().expect("CertId").to_string()
    };

    // Rows 8 and 16 come before the cas rows.
    let set_flags = |name: &'static str, flags: DomainFlags| {
        let store = server.store.clone();
        async move {
            store
                .set_domain_flags(&DomainName::parse(name).expect("name"), flags, now)
                .await
                .expect("flags");
        }
    };
    set_flags(
        "locked.example.com",
        DomainFlags {
            locked: true,
            ..DomainFlags::default()
        },
    )
    .await;
    set_flags(
        "mutex.example.com",
        DomainFlags {
            functions: vec!["http_only".to_owned()],
            ..DomainFlags::default()
        },
    )
    .await;
    let r = cas(&server, "locked.example.com", &[("CertName", "wide")]).await;
    assert_refused(&r, 403, "IllegalOperation", "row 8");
    let r = cas(&server, "mutex.example.com", &[("CertName", "wide")]).await;
    assert_refused(&r, 400, "FunctionMutex", "row 16");

    let untouched = served(&server, &[domain]).await;
    let r = cas(&server, domain, &[]).await;
    assert_refused(&r, 404, "CertName.MissingParameter", "row 30");
    let r = cas(
        &server,
        domain,
        &[("SSLPub", &wide.chain_pem), ("SSLPri", &wide.key_pem)],
    )
    .await;
    assert_refused(&r, 404, "CertName.MissingParameter", "row 30 with SSLPub");
    let r = cas(&server, domain, &[("CertName", "nope")]).await;
    assert_refused(&r, 400, "Certificate.NotFind", "row 31, unknown CertName");
    let r = cas(&server, domain, &[("CertName", "Wide")]).await;
    assert_refused(
        &r,
        400,
        "Certificate.NotFind",
        "row 31, names are case-sensitive",
    );
    let r = cas(&server, domain, &[("CertId", "1")]).await;
    assert_refused(&r, 400, "Certificate.NotFind", "row 31, unknown CertId");
    let r = cas(&server, domain, &[("CertId", &foreign_id)]).await;
    assert_refused(
        &r,
        400,
        "Certificate.NotFind",
        "row 31, another account's record",
    );
    let r = cas(
        &server,
        domain,
        &[("CertName", "wide"), ("CertId", &short_id)],
    )
    .await;
    assert_refused(
        &r,
        400,
        "SetDomainCertificate.ParameterError",
        "row 31, CertName and CertId name different records",
    );
    assert_eq!(served(&server, &[domain]).await, untouched);

    // Row 33: revoked, applying, failed.
    let wide_num: u64 = wide_id.parse().expect("id");
    for status in ["revoked", "applying", "failed"] {
        server
            .store
            .set_certificate_status(wide_num, status, now)
            .await
            .expect("status");
        let r = cas(&server, domain, &[("CertName", "wide")]).await;
        assert_refused(&r, 400, "Certificate.StatusError", status);
        assert!(r.message().starts_with(CAS_STATUS_MESSAGE), "{}", r.body);
        assert!(r.message().contains(status), "{}", r.body);
        if status == "revoked" {
            // Its bindings stay, and Describe shows the status.
            let info = cert_info(&server, "lib.example.com").await;
            assert_eq!(
                (info["CertName"].as_str(), info["Status"].as_str()),
                (Some("wide"), Some("revoked"))
            );
        }
    }
    server
        .store
        .set_certificate_status(wide_num, "success", now)
        .await
        .expect("status");

    // Row 34: nothing changes.
    let r = cas(&server, domain, &[("CertName", "elsewhere")]).await;
    assert_refused(&r, 400, "Certificate.SettedNotEffect", "row 34");
    assert!(r.message().contains("other.example.org"), "{}", r.body);
    assert_eq!(served(&server, &[domain]).await, untouched);

    // Row 35: CertName and CertId naming the same record; SSLPub/SSLPri ignored.
    cas(
        &server,
        domain,
        &[
            ("CertName", "wide"),
            ("CertId", &wide_id),
            ("SSLPub", "not a certificate"),
            ("SSLPri", "not a key"),
        ],
    )
    .await
    .ok();
    let info = cert_info(&server, domain).await;
    assert_eq!(info["SSLProtocol"], "on");
    assert_eq!(info["CertName"], "wide");

    // Row 32: "short" binds today and is refused once the clock passes its notAfter.
    cas(&server, domain, &[("CertId", &short_id)]).await.ok();
    cas(&server, domain, &[("CertName", "wide")]).await.ok();
    server.clock.advance(3 * DAY);
    let r = cas(&server, domain, &[("CertName", "short")]).await;
    assert_refused(&r, 400, "Certificate.Expired", "row 32");
    assert_eq!(cert_info(&server, domain).await["CertName"], "wide");
    server.stop().await;
}

/// DryRun with cas: the same answers as the real call, and nothing changes — not the binding,
/// not GmtModified, not the change counter.
#[tokio::test]
async fn dry_run_binds_nothing() {
    let server = TestServer::start().await;
    let now = server.clock_now();
    for d in ["live.example.com", "lib.example.com"] {
        server.add_domain(d).await;
    }
    let g = self_signed(&["*.example.com"], now - DAY, now + 90 * DAY, Alg::P256);
    upload(&server, "lib.example.com", "wide", &g, false)
        .await
        .ok();
    let before = domain_detail(&server).await.ok()["DomainDetail"].clone();
    // A minute later, so that a write would show in GmtModified.
    server.clock.advance(60);
    let counter = server.store.change_counter().await.expect("counter");

    let r = cas(
        &server,
        "live.example.com",
        &[("CertName", "wide"), ("DryRun", "true")],
    )
    .await;
    assert_refused(&r, 400, "DryRunOperation", "a DryRun that would bind");
    let r = cas(
        &server,
        "live.example.com",
        &[("CertName", "nope"), ("DryRun", "true")],
    )
    .await;
    assert_refused(
        &r,
        400,
        "Certificate.NotFind",
        "a DryRun that would be refused",
    );
    let r = cas(&server, "live.example.com", &[("DryRun", "true")]).await;
    assert_refused(
        &r,
        404,
        "CertName.MissingParameter",
        "a DryRun without a reference",
    );

    assert_eq!(
        domain_detail(&server).await.ok()["DomainDetail"],
        before,
        "nothing changed"
    );
    assert_eq!(
        cert_info(&server, "live.example.com").await["SSLProtocol"],
        "off"
    );
    assert_eq!(
        server.store.change_counter().await.expect("counter"),
        counter
    );

    cas(&server, "live.example.com", &[("CertName", "wide")])
        .await
        .ok();
    assert_eq!(
        cert_info(&server, "live.example.com").await["CertName"],
        "wide"
    );
    server.stop().await;
}

/// Row 25 never binds a revoked record: uploading its very content again under its name is
/// refused like a cas binding of it (row 33), with or without ForceSet.
#[tokio::test(flavor = "multi_thread")]
async fn re_uploading_a_revoked_record_does_not_bind_it() {
    let server = TestServer::start().await;
    let now = server.clock_now();
    for d in ["a.example.com", "b.example.com"] {
        server.add_domain(d).await;
    }
    let g = self_signed(
        &["a.example.com", "b.example.com"],
        now - DAY,
        now + 90 * DAY,
        Alg::P256,
    );
    upload(&server, "a.example.com", "shared", &g, false)
        .await
        .ok();
    let (cert_id, _) = detail(&server, "shared").await;
    server
        .store
        .set_certificate_status(cert_id, "revoked", now)
        .await
        .expect("revoke");
    for force in [false, true] {
        let r = upload(&server, "b.example.com", "shared", &g, force).await;
        assert_refused(
            &r,
            400,
            "Certificate.StatusError",
            "re-upload of a revoked record",
        );
        assert!(r.message().contains("revoked"), "{}", r.message());
    }
    assert_eq!(
        cert_info(&server, "b.example.com").await["SSLProtocol"],
        "off"
    );
}
