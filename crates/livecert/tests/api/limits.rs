//! Rate limits (spec/access.md): per account and operation, GCRA with a burst of one second's
//! quota; a throttled call is `Throttling.User` with `x-acs-retry-after` and has no effect; one
//! account's flood does not touch another's quota. A limiter or nonce store that cannot answer
//! (its database is down) refuses with `ServiceUnavailable`, never admits.

use std::sync::Arc;

use livecert::api::nonce::{MemoryNonces, NonceRefusal, Nonces};
use livecert::api::ratelimit::{RateLimiter, RateRefusal, Unlimited};
use livecert::api::Answer;
use livecert_core::action::Action;

use crate::certs::{self_signed, Alg};
use crate::harness::{fixture_time, Scheme, TestServer, TEST_ID, TEST_SECRET};

const DAY: i64 = 86_400;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_is_cut_at_the_quota_and_changes_only_what_was_accepted() {
    let server = Arc::new(TestServer::start_limited_at(fixture_time()).await);
    let now = server.clock_now();
    server.add_domain("flood.example.com").await;
    let other = server.store.create_account(now).await.expect("account");
    server
        .store
        .import_access_key(
            other,
            "otherid",
            &livecert_core::secret::Secret::new(b"othersecret".to_vec()),
            now,
        )
        .await
        .expect("key");

    let certs: Vec<_> = (0..200)
        .map(|_| self_signed(&["flood.example.com"], now - DAY, now + 90 * DAY, Alg::P256))
        .collect();
    let mut tasks = Vec::new();
    for (i, g) in certs.into_iter().enumerate() {
        let server = Arc::clone(&server);
        tasks.push(tokio::spawn(async move {
            let name = format!("flood-{i}");
            let params = vec![
                ("DomainName".to_owned(), b"flood.example.com".to_vec()),
                ("SSLProtocol".to_owned(), b"on".to_vec()),
                ("CertName".to_owned(), name.into_bytes()),
                ("SSLPub".to_owned(), g.chain_pem.into_bytes()),
                ("SSLPri".to_owned(), g.key_pem.into_bytes()),
            ];
            let now = server.clock_now();
            server
                .call_with(
                    Scheme::V3,
                    "SetLiveDomainCertificate",
                    params,
                    TEST_ID,
                    TEST_SECRET,
                    now,
                )
                .await
        }));
    }
    // Meanwhile the other account works normally.
    let mut others = Vec::new();
    for _ in 0..20 {
        let server = Arc::clone(&server);
        others.push(tokio::spawn(async move {
            let now = server.clock_now();
            server
                .call_with(
                    Scheme::V3,
                    "DescribeLiveCertificateList",
                    vec![],
                    "otherid",
                    "othersecret",
                    now,
                )
                .await
        }));
    }
    let mut accepted = 0;
    let mut throttled = 0;
    for t in tasks {
        let reply = t.await.expect("task");
        match (reply.status, reply.code()) {
            (200, _) => accepted += 1,
            (400, "Throttling.User") => {
                throttled += 1;
                let retry = reply
                    .headers
                    .iter()
                    .find(|(k, _)| k == "x-acs-retry-after")
                    .map(|(_, v)| v.clone());
                assert!(
                    retry
                        .as_deref()
                        .and_then(|v| v.parse::<u64>().ok())
                        .is_some_and(|ms| ms >= 1),
                    "{:?}",
                    reply.headers
                );
            }
            other => panic!("unexpected answer {other:?}: {}", reply.body),
        }
    }
    for t in others {
        assert_eq!(
            t.await.expect("task").status,
            200,
            "another account's calls are not throttled"
        );
    }
    // The clock stands still, so the bucket allows exactly its burst: 30 (≤ 30 + burst).
    assert_eq!(accepted, 30, "accepted {accepted}, throttled {throttled}");
    assert_eq!(accepted + throttled, 200);
    let list = server
        .call(Scheme::V3, "DescribeLiveCertificateList", &[])
        .await;
    assert_eq!(
        list.ok()["CertificateListModel"]["Count"],
        accepted,
        "the store holds exactly the accepted writes"
    );

    // One second later the bucket has refilled by one second's quota.
    server.clock.advance(1);
    let more =
        (0..40).map(|_| self_signed(&["flood.example.com"], now - DAY, now + 90 * DAY, Alg::P256));
    let mut accepted_later = 0;
    for (i, g) in more.enumerate() {
        let name = format!("later-{i}");
        let r = server
            .call(
                Scheme::V3,
                "SetLiveDomainCertificate",
                &[
                    ("DomainName", "flood.example.com"),
                    ("SSLProtocol", "on"),
                    ("CertName", &name),
                    ("SSLPub", &g.chain_pem),
                    ("SSLPri", &g.key_pem),
                ],
            )
            .await;
        if r.status == 200 {
            accepted_later += 1;
        }
    }
    assert_eq!(accepted_later, 30);
}

/// Shared state whose database is down: every check fails.
struct Down;

impl RateLimiter for Down {
    fn check(&self, _: u64, _: Action, _: i64) -> Answer<'_, Result<(), RateRefusal>> {
        Answer::later(async { Err(RateRefusal::Unavailable("database down".into())) })
    }
}

impl Nonces for Down {
    fn check_and_record(
        &self,
        _: &str,
        _: &str,
        _: i64,
        _: i64,
    ) -> Answer<'_, Result<(), NonceRefusal>> {
        Answer::later(async { Err(NonceRefusal::Unavailable("database down".into())) })
    }

    fn entries(&self) -> Option<usize> {
        None
    }
}

/// A rate limiter or a nonce store that cannot answer refuses the call with 503
/// `ServiceUnavailable`, and the call changes nothing (it is never silently admitted).
#[tokio::test(flavor = "multi_thread")]
async fn a_limiter_or_nonce_store_that_cannot_answer_is_service_unavailable() {
    let now = fixture_time();
    for (what, nonces, limiter) in [
        (
            "rate limiter",
            Arc::new(MemoryNonces::new(1000)) as Arc<dyn Nonces>,
            Arc::new(Down) as Arc<dyn RateLimiter>,
        ),
        ("nonce store", Arc::new(Down), Arc::new(Unlimited)),
    ] {
        let server = TestServer::start_at_with_guards(now, nonces, limiter).await;
        let r = server
            .call(
                Scheme::V3,
                "AddLiveDomain",
                &[
                    ("DomainName", "down.example.com"),
                    ("LiveDomainType", "liveVideo"),
                    ("Region", "cn-shanghai"),
                ],
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (503, "ServiceUnavailable"),
            "{what}: {}",
            r.body
        );
        let name = livecert_core::names::DomainName::parse("down.example.com").expect("name");
        assert!(
            server
                .store
                .domain_any(&name)
                .await
                .expect("read")
                .is_none(),
            "{what}: the refused call added the domain"
        );
        server.stop().await;
    }
}
