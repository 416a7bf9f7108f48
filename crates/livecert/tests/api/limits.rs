//! Rate limits (spec/access.md): per account and operation, GCRA with a burst of one second's
//! quota; a throttled call is `Throttling.User` with `x-acs-retry-after` and has no effect; one
//! account's flood does not touch another's quota. A limiter or nonce store that cannot answer
//! (its database is down) refuses with `ServiceUnavailable`, never admits.

use std::sync::Arc;

use livecert::api::nonce::{MemoryNonces, NonceEntry, NonceRefusal, Nonces};
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
    fn check_and_record(&self, _: &NonceEntry, _: i64) -> Answer<'_, Result<(), NonceRefusal>> {
        Answer::later(async { Err(NonceRefusal::Unavailable("database down".into())) })
    }

    fn forget(&self, _: &NonceEntry) -> Answer<'_, ()> {
        Answer::ready(())
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

/// A RAM user of a new account with an imported key and no policy at all: every call it makes is
/// `Forbidden.RAM` once it passes the nonce and the rate limit.
async fn powerless_key(server: &TestServer) -> (u64, String, String) {
    let now = server.clock_now();
    let account = server.store.create_account(now).await.expect("account");
    server
        .store
        .create_user(account, "flooder", now)
        .await
        .expect("user");
    let (id, secret) = ("flooderid".to_owned(), "floodersecret".to_owned());
    server
        .store
        .import_user_access_key(
            account,
            "flooder",
            &id,
            &livecert_core::secret::Secret::new(secret.as_bytes().to_vec()),
            now,
        )
        .await
        .expect("key");
    (account, id, secret)
}

/// Sends `calls` DescribeLiveUserDomains with `key`, 32 at a time; returns the codes answered.
async fn flood(server: &Arc<TestServer>, key: &(String, String), calls: usize) -> Vec<String> {
    let mut codes = Vec::with_capacity(calls);
    for wave in 0..calls.div_ceil(32) {
        let mut tasks = Vec::new();
        for _ in 0..32.min(calls - wave * 32) {
            let (server, key) = (Arc::clone(server), key.clone());
            tasks.push(tokio::spawn(async move {
                let now = server.clock_now();
                let r = server
                    .call_with(
                        Scheme::V3,
                        "DescribeLiveUserDomains",
                        Vec::new(),
                        &key.0,
                        &key.1,
                        now,
                    )
                    .await;
                r.code().to_owned()
            }));
        }
        for t in tasks {
            codes.push(t.await.expect("task"));
        }
    }
    codes
}

/// Issue 10, item 1: a flood from one account's key with no permissions at all, beyond what the
/// nonce store keeps for one account, is refused for that account alone (`Throttling.User`);
/// another account's calls, made during and after the flood, all succeed. (Before: one pool for
/// the whole server, which the flood filled, and every other account got 503.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_powerless_keys_flood_exhausts_only_its_own_account() {
    const PER_ACCOUNT: usize = 64;
    let nonces = Arc::new(MemoryNonces::new(PER_ACCOUNT));
    let server = Arc::new(
        TestServer::start_at_with_guards(
            fixture_time(),
            Arc::clone(&nonces) as Arc<dyn Nonces>,
            Arc::new(Unlimited),
        )
        .await,
    );
    let (flooder, id, secret) = powerless_key(&server).await;
    let victim = server
        .store
        .access_key(TEST_ID)
        .await
        .expect("lookup")
        .expect("key")
        .account_id;

    let flooding = {
        let server = Arc::clone(&server);
        tokio::spawn(async move { flood(&server, &(id, secret), PER_ACCOUNT * 8).await })
    };
    // The victim's calls (two nonces each), during the flood and once the flooder's share is
    // full, stay within the victim's own share.
    let victim_round = |round: usize| {
        let server = Arc::clone(&server);
        async move {
            let domain = format!("victim{round}.example.com");
            let r = server
                .call(
                    Scheme::V3,
                    "AddLiveDomain",
                    &[
                        ("DomainName", &domain),
                        ("LiveDomainType", "liveVideo"),
                        ("Region", "cn-shanghai"),
                    ],
                )
                .await;
            assert_eq!(r.status, 200, "the victim's call {round}: {}", r.body);
            let r = server
                .call(Scheme::V1, "DescribeLiveUserDomains", &[])
                .await;
            assert_eq!(r.status, 200, "the victim's read {round}: {}", r.body);
        }
    };
    let mut victim_calls = 0;
    while !flooding.is_finished() && victim_calls < PER_ACCOUNT / 2 - 8 {
        victim_round(victim_calls).await;
        victim_calls += 1;
    }
    let codes = flooding.await.expect("flood");
    for _ in 0..4 {
        victim_round(victim_calls).await;
        victim_calls += 1;
    }
    let forbidden = codes.iter().filter(|c| *c == "Forbidden.RAM").count();
    let throttled = codes.iter().filter(|c| *c == "Throttling.User").count();
    assert_eq!(forbidden, PER_ACCOUNT, "{codes:?}");
    assert_eq!(forbidden + throttled, codes.len(), "{codes:?}");
    assert_eq!(nonces.account_len(flooder), PER_ACCOUNT);
    assert_eq!(nonces.account_len(victim), victim_calls * 2);
}

/// A throttled call takes no nonce entry (it changed nothing; its nonce is forgotten), so an
/// account's entries are bounded by the calls its quotas admit, not by what it sends.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn throttled_calls_leave_no_nonce_behind() {
    let nonces = Arc::new(MemoryNonces::new(10_000));
    let server = Arc::new(
        TestServer::start_at_with_guards(
            fixture_time(),
            Arc::clone(&nonces) as Arc<dyn Nonces>,
            Arc::new(livecert::api::ratelimit::MemoryRateLimiter::new()),
        )
        .await,
    );
    let (flooder, id, secret) = powerless_key(&server).await;
    let quota = usize::try_from(Action::DescribeLiveUserDomains.per_second()).expect("quota");
    let codes = flood(&server, &(id, secret), quota * 5).await;
    let forbidden = codes.iter().filter(|c| *c == "Forbidden.RAM").count();
    let throttled = codes.iter().filter(|c| *c == "Throttling.User").count();
    // The clock stands still: the burst (one second's quota) is admitted, the rest throttled.
    assert_eq!((forbidden, throttled), (quota, quota * 4), "{codes:?}");
    assert_eq!(nonces.account_len(flooder), quota);
}
