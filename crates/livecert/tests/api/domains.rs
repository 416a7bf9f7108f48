//! The domain lifecycle over HTTP (spec/operations.md, Domains): StopLiveDomain and
//! StartLiveDomain (and what an offline domain refuses), DeleteLiveDomain (the library record
//! stays), DescribeLiveUserDomains (filters, search types, paging, order), DryRun of each
//! state-changing one, and their refusals in the order of protocol.md §8.

use livecert_core::names::DomainName;
use livecert_core::secret::Secret;
use livecert_store::{AccountId, DomainFlags, NewDomain};
use serde_json::Value;

use crate::certs::{issued, Alg};
use crate::harness::{send, signed_request_with_token, Reply, Scheme, TestServer, TEST_ID};

const DAY: i64 = 86_400;
const STATE_CHANGING: [&str; 3] = ["StopLiveDomain", "StartLiveDomain", "DeleteLiveDomain"];

async fn account(server: &TestServer) -> AccountId {
    server
        .store
        .access_key(TEST_ID)
        .await
        .expect("lookup")
        .expect("testid exists")
        .account_id
}

fn dn(name: &str) -> DomainName {
    DomainName::parse(name).expect("domain")
}

/// Calls `action` with `DomainName` and the extra parameters.
async fn on(server: &TestServer, action: &str, domain: &str, extra: &[(&str, &str)]) -> Reply {
    let mut params = vec![("DomainName", domain)];
    params.extend_from_slice(extra);
    server.call(Scheme::V3, action, &params).await
}

/// DescribeLiveDomainDetail's `DomainDetail`, or `None` when the domain is not the caller's.
async fn detail(server: &TestServer, domain: &str) -> Option<Value> {
    let r = on(server, "DescribeLiveDomainDetail", domain, &[]).await;
    if r.code() == "IllegalOperationDomain" {
        return None;
    }
    Some(r.ok()["DomainDetail"].clone())
}

async fn status(server: &TestServer, domain: &str) -> String {
    detail(server, domain).await.expect("domain exists")["DomainStatus"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn set_cert(server: &TestServer, domain: &str, cert_name: &str) -> Reply {
    let now = server.clock_now();
    let g = issued(&[domain], now - DAY, now + 90 * DAY, Alg::P256);
    on(
        server,
        "SetLiveDomainCertificate",
        domain,
        &[
            ("SSLProtocol", "on"),
            ("CertName", cert_name),
            ("SSLPub", &g.chain_pem),
            ("SSLPri", &g.key_pem),
        ],
    )
    .await
}

async fn list(server: &TestServer, params: &[(&str, &str)]) -> Value {
    server
        .call(Scheme::V3, "DescribeLiveUserDomains", params)
        .await
        .ok()
        .clone()
}

fn names(listing: &Value) -> Vec<String> {
    listing["Domains"]["PageData"]
        .as_array()
        .expect("PageData is an array")
        .iter()
        .map(|d| d["DomainName"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn refused(r: &Reply, status: u16, code: &str) {
    assert_eq!((r.status, r.code()), (status, code), "{}", r.body);
}

/// Calls with another AccessKey (no SecurityToken).
async fn call_as(
    server: &TestServer,
    key: (&str, &str),
    action: &str,
    params: &[(&str, &str)],
) -> Reply {
    let pairs = params
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
        .collect();
    send(signed_request_with_token(
        server.addr,
        Scheme::V3,
        action,
        pairs,
        key.0,
        key.1,
        server.clock_now(),
        None,
    ))
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn stop_refuses_certificates_until_started_again() {
    let server = TestServer::start().await;
    let d = "live.example.com";
    server.add_domain(d).await;
    set_cert(&server, d, "live-1").await.ok();
    let created = detail(&server, d).await.expect("domain");

    server.clock.advance(60);
    on(&server, "StopLiveDomain", d, &[]).await.ok();
    let stopped = detail(&server, d).await.expect("domain");
    assert_eq!(stopped["DomainStatus"], "offline");
    assert_ne!(stopped["GmtModified"], created["GmtModified"]);
    // The binding stays while the domain is offline.
    assert_eq!(stopped["SSLProtocol"], "on");
    assert_eq!(stopped["CertName"], "live-1");
    // Row 11: an offline domain refuses SetLiveDomainCertificate.
    refused(
        &set_cert(&server, d, "live-2").await,
        400,
        "InvalidDomain.notOnline",
    );

    // Stopping an offline domain succeeds and changes nothing.
    let counter = server.store.change_counter().await.expect("counter");
    server.clock.advance(60);
    on(&server, "StopLiveDomain", d, &[]).await.ok();
    assert_eq!(detail(&server, d).await.expect("domain"), stopped);
    assert_eq!(
        server.store.change_counter().await.expect("counter"),
        counter
    );

    server.clock.advance(60);
    on(&server, "StartLiveDomain", d, &[]).await.ok();
    let started = detail(&server, d).await.expect("domain");
    assert_eq!(started["DomainStatus"], "online");
    assert_eq!(started["CertName"], "live-1");
    assert!(server.store.change_counter().await.expect("counter") > counter);

    // Starting an online domain succeeds and changes nothing.
    server.clock.advance(60);
    on(&server, "StartLiveDomain", d, &[]).await.ok();
    assert_eq!(detail(&server, d).await.expect("domain"), started);

    set_cert(&server, d, "live-2").await.ok();
    assert_eq!(
        detail(&server, d).await.expect("domain")["CertName"],
        "live-2"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_removes_the_domain_and_its_binding_and_keeps_the_record() {
    let server = TestServer::start().await;
    let d = "live.example.com";
    server.add_domain(d).await;
    server.add_domain("other.example.com").await;
    set_cert(&server, d, "live-cert").await.ok();

    let r = on(&server, "DeleteLiveDomain", d, &[]).await;
    assert_eq!(
        r.ok().as_object().map(serde_json::Map::len),
        Some(1),
        "{}",
        r.body
    );
    assert!(r.ok()["RequestId"].is_string());
    assert!(detail(&server, d).await.is_none());
    assert_eq!(
        names(&list(&server, &[]).await),
        vec!["other.example.com".to_owned()]
    );
    assert!(server
        .store
        .domains_bound_to(
            server
                .store
                .certificate_by_name(account(&server).await, &cert_name("live-cert"))
                .await
                .expect("lookup")
                .expect("the record stays")
                .cert_id
        )
        .await
        .expect("bound")
        .is_empty());
    // The library record is still listed.
    let certs = server
        .call(Scheme::V3, "DescribeLiveCertificateList", &[])
        .await;
    let certs = &certs.ok()["CertificateListModel"]["CertList"]["Cert"];
    assert_eq!(certs[0]["CertName"], "live-cert", "{certs}");
    // The domain is gone for every state change, and may be added again (HTTPS off).
    for action in STATE_CHANGING {
        refused(
            &on(&server, action, d, &[]).await,
            400,
            "IllegalOperationDomain",
        );
    }
    server.add_domain(d).await;
    let again = detail(&server, d).await.expect("added again");
    assert_eq!(again["SSLProtocol"], "off");
    assert_eq!(again["DomainStatus"], "online");
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_of_each_state_change_changes_nothing() {
    let server = TestServer::start().await;
    server.add_domain("on.example.com").await;
    server.add_domain("off.example.com").await;
    on(&server, "StopLiveDomain", "off.example.com", &[])
        .await
        .ok();
    let before_on = detail(&server, "on.example.com").await;
    let before_off = detail(&server, "off.example.com").await;
    let counter = server.store.change_counter().await.expect("counter");
    server.clock.advance(60);

    for (action, domain) in [
        ("StopLiveDomain", "on.example.com"),
        ("StartLiveDomain", "off.example.com"),
        ("DeleteLiveDomain", "on.example.com"),
        ("DeleteLiveDomain", "off.example.com"),
        // Would succeed without changing anything: still DryRunOperation.
        ("StopLiveDomain", "off.example.com"),
        ("StartLiveDomain", "on.example.com"),
    ] {
        for dry_run in ["true", "True"] {
            let r = on(&server, action, domain, &[("DryRun", dry_run)]).await;
            refused(&r, 400, "DryRunOperation");
        }
        // DryRun=false is a real call (checked below with Start on an online domain).
    }
    assert_eq!(detail(&server, "on.example.com").await, before_on);
    assert_eq!(detail(&server, "off.example.com").await, before_off);
    assert_eq!(
        server.store.change_counter().await.expect("counter"),
        counter
    );

    // A DryRun that would be refused answers the refusal's own code.
    refused(
        &on(
            &server,
            "DeleteLiveDomain",
            "none.example.com",
            &[("DryRun", "true")],
        )
        .await,
        400,
        "IllegalOperationDomain",
    );
    server
        .store
        .set_domain_flags(
            &dn("on.example.com"),
            DomainFlags {
                locked: true,
                ..DomainFlags::default()
            },
            server.clock_now(),
        )
        .await
        .expect("flags");
    for action in STATE_CHANGING {
        refused(
            &on(&server, action, "on.example.com", &[("DryRun", "true")]).await,
            403,
            "IllegalOperation",
        );
    }
    on(
        &server,
        "StartLiveDomain",
        "off.example.com",
        &[("DryRun", "false")],
    )
    .await
    .ok();
    assert_eq!(status(&server, "off.example.com").await, "online");
}

#[tokio::test(flavor = "multi_thread")]
async fn state_changes_are_refused_in_the_order_of_the_checks() {
    let server = TestServer::start().await;
    let now = server.clock_now();
    for d in [
        "locked.example.com",
        "safe.example.com",
        "protected.example.com",
    ] {
        server.add_domain(d).await;
    }
    for (d, flags) in [
        (
            "locked.example.com",
            DomainFlags {
                locked: true,
                // Locked is checked first (row 8 before 9 and 10).
                safe_mode: true,
                ..DomainFlags::default()
            },
        ),
        (
            "safe.example.com",
            DomainFlags {
                safe_mode: true,
                protected_mode: true,
                ..DomainFlags::default()
            },
        ),
        (
            "protected.example.com",
            DomainFlags {
                protected_mode: true,
                ..DomainFlags::default()
            },
        ),
    ] {
        server
            .store
            .set_domain_flags(&dn(d), flags, now)
            .await
            .expect("flags");
    }
    // Another account's domain answers as an unknown one.
    let other = server.store.create_account(now).await.expect("account");
    server
        .store
        .add_domain(
            other,
            NewDomain {
                name: dn("foreign.example.com"),
                live_domain_type: "liveVideo".into(),
                region: "cn-shanghai".into(),
                scope: "domestic".into(),
                check_url: None,
                top_level_domain: None,
                resource_group_id: None,
            },
            now,
        )
        .await
        .expect("foreign domain");

    for action in STATE_CHANGING {
        refused(
            &server.call(Scheme::V3, action, &[]).await,
            400,
            "MissingParameter",
        );
        let r = on(&server, action, "bad_name.example.com", &[]).await;
        refused(&r, 400, "InvalidParameter");
        assert!(r.message().contains("DomainName"), "{}", r.body);
        let r = on(&server, action, "locked.example.com", &[("DryRun", "yes")]).await;
        refused(&r, 400, "InvalidParameter");
        assert!(r.message().contains("DryRun"), "{}", r.body);
        for d in ["none.example.com", "foreign.example.com"] {
            refused(
                &on(&server, action, d, &[]).await,
                400,
                "IllegalOperationDomain",
            );
        }
        refused(
            &on(&server, action, "locked.example.com", &[]).await,
            403,
            "IllegalOperation",
        );
        refused(
            &on(&server, action, "safe.example.com", &[]).await,
            400,
            "DomainInSafeMode",
        );
        refused(
            &on(&server, action, "protected.example.com", &[]).await,
            400,
            "DomainInProtectedMode",
        );
    }
    // Nothing changed: every flagged domain is still there and online.
    for d in [
        "locked.example.com",
        "safe.example.com",
        "protected.example.com",
    ] {
        assert_eq!(status(&server, d).await, "online", "{d}");
    }
    assert_eq!(server.store.domains(other).await.expect("domains").len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_suspended_account_may_list_but_not_change_domains() {
    let server = TestServer::start().await;
    let now = server.clock_now();
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
        .add_domain(
            suspended,
            NewDomain {
                name: dn("mine.example.com"),
                live_domain_type: "liveVideo".into(),
                region: "cn-shanghai".into(),
                scope: "domestic".into(),
                check_url: None,
                top_level_domain: None,
                resource_group_id: None,
            },
            now,
        )
        .await
        .expect("domain");
    server
        .store
        .set_account_active(suspended, false)
        .await
        .expect("suspend");
    let key = ("suspendedid", "suspendedsecret");
    for action in STATE_CHANGING {
        for extra in [None, Some(("DryRun", "true"))] {
            let mut params = vec![("DomainName", "mine.example.com")];
            params.extend(extra);
            let r = call_as(&server, key, action, &params).await;
            refused(&r, 400, "AuthenticationFailed");
        }
        // The typed parse comes before the account status.
        refused(
            &call_as(&server, key, action, &[]).await,
            400,
            "MissingParameter",
        );
    }
    let r = call_as(&server, key, "DescribeLiveUserDomains", &[]).await;
    assert_eq!(r.ok()["TotalCount"], 1);
    assert_eq!(
        r.ok()["Domains"]["PageData"][0]["LiveDomainStatus"],
        "online"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ram_users_need_the_domain_for_state_changes_and_star_for_the_listing() {
    let server = TestServer::start().await;
    let now = server.clock_now();
    let acct = account(&server).await;
    server.add_domain("a.example.com").await;
    server.add_domain("b.example.com").await;
    server
        .store
        .create_user(acct, "ops", now)
        .await
        .expect("user");
    server
        .store
        .import_user_access_key(
            acct,
            "ops",
            "opsid",
            &Secret::new(b"opssecret".to_vec()),
            now,
        )
        .await
        .expect("key");
    let doc = format!(
        r#"{{"Version":"1","Statement":[{{"Effect":"Allow","Action":["live:StopLiveDomain","live:StartLiveDomain","live:DeleteLiveDomain","live:DescribeLiveUserDomains"],"Resource":"acs:cdn:*:{acct}:domain/a.example.com"}}]}}"#
    );
    server
        .store
        .create_policy(acct, "only-a", &doc, now)
        .await
        .expect("policy");
    server
        .store
        .attach_policy(acct, "only-a", "ops")
        .await
        .expect("attach");
    let key = ("opsid", "opssecret");
    for action in STATE_CHANGING {
        let r = call_as(&server, key, action, &[("DomainName", "b.example.com")]).await;
        refused(&r, 403, "Forbidden.RAM");
        assert_eq!(
            r.json["AccessDeniedDetail"]["AuthAction"],
            format!("live:{action}").as_str(),
            "{}",
            r.body
        );
        // RAM comes before the domain's existence: an unknown domain is Forbidden.RAM too.
        let r = call_as(&server, key, action, &[("DomainName", "none.example.com")]).await;
        refused(&r, 403, "Forbidden.RAM");
    }
    // The listing is authorized on `*`, which a domain resource does not cover.
    refused(
        &call_as(&server, key, "DescribeLiveUserDomains", &[]).await,
        403,
        "Forbidden.RAM",
    );
    call_as(
        &server,
        key,
        "StopLiveDomain",
        &[("DomainName", "a.example.com")],
    )
    .await
    .ok();
    assert_eq!(status(&server, "a.example.com").await, "offline");
    assert_eq!(status(&server, "b.example.com").await, "online");
    call_as(
        &server,
        key,
        "DeleteLiveDomain",
        &[("DomainName", "a.example.com")],
    )
    .await
    .ok();
    assert!(detail(&server, "a.example.com").await.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn listing_fields_order_filters_and_search_types() {
    let server = TestServer::start().await;
    let first = server.clock_now();
    // Two domains created in the same second sort by name; later ones come first.
    server.add_domain("b.example.com").await;
    server.add_domain("a.example.com").await;
    server.clock.advance(10);
    server.add_domain("live.example.org").await;
    server.clock.advance(10);
    let r = server
        .call(
            Scheme::V3,
            "AddLiveDomain",
            &[
                ("DomainName", "edge.example.com"),
                ("LiveDomainType", "liveEdge"),
                ("Region", "cn-beijing"),
                ("ResourceGroupId", "rg-1"),
            ],
        )
        .await;
    r.ok();
    server.clock.advance(10);
    server.add_domain("*.example.net").await;
    on(&server, "StopLiveDomain", "live.example.org", &[])
        .await
        .ok();

    let all = list(&server, &[]).await;
    assert_eq!(
        names(&all),
        [
            "*.example.net",
            "edge.example.com",
            "live.example.org",
            "a.example.com",
            "b.example.com"
        ]
    );
    assert_eq!(all["TotalCount"], 5);
    assert_eq!(all["PageNumber"], 1);
    assert_eq!(all["PageSize"], 20);
    let edge = &all["Domains"]["PageData"][1];
    let expected = serde_json::json!({
        "DomainName": "edge.example.com",
        "LiveDomainStatus": "online",
        "LiveDomainType": "liveEdge",
        "RegionName": "cn-beijing",
        "Cname": "edge.example.com.livecert.local",
        "GmtCreated": livecert_core::timefmt::format_utc(first + 20),
        "GmtModified": livecert_core::timefmt::format_utc(first + 20),
        "Description": "",
        "ResourceGroupId": "rg-1",
    });
    assert_eq!(edge, &expected);
    assert_eq!(all["Domains"]["PageData"][2]["LiveDomainStatus"], "offline");
    assert_eq!(all["Domains"]["PageData"][3]["ResourceGroupId"], "");

    for (params, expected) in [
        (
            vec![("DomainName", "EXAMPLE.COM")],
            vec!["edge.example.com", "a.example.com", "b.example.com"],
        ),
        (
            vec![("DomainName", "live"), ("DomainSearchType", "fuzzy_match")],
            vec!["live.example.org"],
        ),
        (
            vec![("DomainName", "e"), ("DomainSearchType", "pre_match")],
            vec!["edge.example.com"],
        ),
        (
            vec![("DomainName", "*."), ("DomainSearchType", "pre_match")],
            vec!["*.example.net"],
        ),
        (
            vec![("DomainName", ".org"), ("DomainSearchType", "suf_match")],
            vec!["live.example.org"],
        ),
        (
            vec![
                ("DomainName", "example.com"),
                ("DomainSearchType", "full_match"),
            ],
            vec![],
        ),
        (
            vec![
                ("DomainName", "A.example.com"),
                ("DomainSearchType", "full_match"),
            ],
            vec!["a.example.com"],
        ),
        (vec![("DomainStatus", "offline")], vec!["live.example.org"]),
        (vec![("DomainStatus", "configuring")], vec![]),
        (
            vec![("LiveDomainType", "liveEdge")],
            vec!["edge.example.com"],
        ),
        (
            vec![
                ("LiveDomainType", "liveVideo"),
                ("DomainStatus", "online"),
                ("DomainName", "example"),
            ],
            vec!["*.example.net", "a.example.com", "b.example.com"],
        ),
        // A search type without a keyword filters nothing.
        (
            vec![("DomainSearchType", "full_match")],
            names(&all).iter().map(String::as_str).collect(),
        ),
    ] {
        let got = list(&server, &params).await;
        assert_eq!(names(&got), expected, "{params:?}");
        assert_eq!(got["TotalCount"], expected.len(), "{params:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn listing_pages_and_refuses_bad_paging_and_enumerations() {
    let server = TestServer::start().await;
    for i in 0..5 {
        server.add_domain(&format!("d{i}.example.com")).await;
    }
    let pages: Vec<Vec<String>> = pages_of_two(&server).await;
    assert_eq!(
        pages,
        [
            vec!["d0.example.com", "d1.example.com"],
            vec!["d2.example.com", "d3.example.com"],
            vec!["d4.example.com"],
            vec![],
        ]
    );
    let page = list(&server, &[("PageNumber", "3"), ("PageSize", "2")]).await;
    assert_eq!(
        (&page["PageNumber"], &page["PageSize"], &page["TotalCount"]),
        (&Value::from(3), &Value::from(2), &Value::from(5))
    );
    let page = list(&server, &[("PageSize", "50")]).await;
    assert_eq!(names(&page).len(), 5);

    for (name, value) in [
        ("PageNumber", "0"),
        ("PageNumber", "-1"),
        ("PageNumber", "one"),
        ("PageSize", "0"),
        ("PageSize", "51"),
        ("PageSize", "2.5"),
        ("DomainSearchType", "exact_match"),
        ("DomainSearchType", "FULL_MATCH"),
        ("DomainStatus", "stopped"),
        ("LiveDomainType", "liveAudio"),
        ("DomainName", "bad name"),
    ] {
        let r = server
            .call(Scheme::V3, "DescribeLiveUserDomains", &[(name, value)])
            .await;
        refused(&r, 400, "InvalidParameter");
        assert!(
            r.message().contains(&format!("\"{name}\"")),
            "{name}={value}: {}",
            r.body
        );
    }
}

async fn pages_of_two(server: &TestServer) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    for n in ["1", "2", "3", "4"] {
        let page = list(server, &[("PageNumber", n), ("PageSize", "2")]).await;
        assert_eq!(page["TotalCount"], 5);
        pages.push(names(&page));
    }
    pages
}

fn cert_name(name: &str) -> livecert_core::names::CertName {
    livecert_core::names::CertName::parse(name).expect("cert name")
}

/// DescribeLiveUserDomains filters by `RegionName` and `ResourceGroupId` as Certimate sends them
/// (issue 12), beside `DomainStatus`.
#[tokio::test]
async fn user_domains_filter_by_region_and_resource_group() {
    let server = TestServer::start().await;
    for (name, region, group) in [
        ("sh.example.com", "cn-shanghai", "rg-a"),
        ("bj.example.com", "cn-beijing", "rg-b"),
    ] {
        server
            .call(
                Scheme::V3,
                "AddLiveDomain",
                &[
                    ("DomainName", name),
                    ("LiveDomainType", "liveVideo"),
                    ("Region", region),
                    ("ResourceGroupId", group),
                ],
            )
            .await
            .ok();
    }
    let names = |r: &Reply| -> Vec<String> {
        r.ok()["Domains"]["PageData"]
            .as_array()
            .expect("PageData")
            .iter()
            .map(|d| d["DomainName"].as_str().expect("name").to_owned())
            .collect()
    };
    let by_region = server
        .call(
            Scheme::V3,
            "DescribeLiveUserDomains",
            &[("DomainStatus", "online"), ("RegionName", "cn-beijing")],
        )
        .await;
    assert_eq!(names(&by_region), ["bj.example.com"]);
    let by_group = server
        .call(
            Scheme::V3,
            "DescribeLiveUserDomains",
            &[("ResourceGroupId", "rg-a")],
        )
        .await;
    assert_eq!(names(&by_group), ["sh.example.com"]);
    server.stop().await;
}
