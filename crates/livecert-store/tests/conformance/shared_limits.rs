//! The state every API node shares through a PostgreSQL store (spec/access.md, "Rate limits";
//! spec/protocol.md §5): GCRA buckets per (account, operation) and nonces, reached through
//! [`Store::shared_limits`]. Each node is a `Store` of its own on the one database, as each
//! `livecert serve` process is. SQLite has none: one `serve` holds its database, and keeps both in
//! memory.

use std::sync::Arc;
use std::time::Duration;

use livecert_core::action::Action;
use livecert_core::ratelimit::{Quota, Verdict};
use livecert_store::{NonceCheck, Pruned, SharedLimits, Store};

use crate::support::{Backend, Postgres, Sqlite, NOW};

const SET: Action = Action::SetLiveDomainCertificate;
const NOW_MS: i64 = NOW * 1000;
const WINDOW: i64 = 900;

fn limits(store: &Store) -> SharedLimits {
    store
        .shared_limits()
        .expect("a PostgreSQL store shares its limits")
}

/// A nonce recorded through one node is refused through the other, and through the first, until
/// its forget time; after it the entry is taken over (fresh again), and refused again from then.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nonce_recorded_on_one_node_is_refused_on_every_other() {
    let b = Postgres::new();
    let (one, two) = (limits(&b.open()), limits(&b.open()));
    let key = [7u8; 32];
    let forget_at = NOW + WINDOW;

    assert_eq!(
        one.record_nonce(&key, forget_at, NOW).await.unwrap(),
        NonceCheck::Fresh
    );
    assert_eq!(
        two.record_nonce(&key, forget_at, NOW + 1).await.unwrap(),
        NonceCheck::Used
    );
    assert_eq!(
        one.record_nonce(&key, forget_at, NOW + 2).await.unwrap(),
        NonceCheck::Used
    );
    // Still refused at its forget time itself (the memory store's rule).
    assert_eq!(
        two.record_nonce(&key, forget_at + WINDOW, forget_at)
            .await
            .unwrap(),
        NonceCheck::Used
    );
    // Another key is not affected.
    assert_eq!(
        two.record_nonce(&[8u8; 32], forget_at, NOW).await.unwrap(),
        NonceCheck::Fresh
    );
    // After its forget time the entry is taken over, with the new forget time.
    let later = forget_at + 1;
    assert_eq!(
        two.record_nonce(&key, later + WINDOW, later).await.unwrap(),
        NonceCheck::Fresh
    );
    assert_eq!(
        one.record_nonce(&key, later + WINDOW, later + 1)
            .await
            .unwrap(),
        NonceCheck::Used
    );
    assert_eq!(
        b.query("SELECT count(*) FROM nonces"),
        vec![vec![Some("2".to_owned())]]
    );
}

/// Many nonces checked at once on two nodes (each node records what arrives together in one
/// statement): each key is fresh exactly once, however its copies fall into batches, and every
/// distinct key is fresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_nonces_are_fresh_exactly_once_across_batches_and_nodes() {
    let b = Postgres::new();
    let (one, two) = (limits(&b.open()), limits(&b.open()));
    let forget_at = NOW + WINDOW;
    let mut checks = Vec::new();
    for i in 0..300u32 {
        // 100 keys, each asked three times: twice on one node, once on the other.
        let key = [(i % 100) as u8; 32];
        let node = if i % 3 == 0 { two.clone() } else { one.clone() };
        checks.push(tokio::spawn(async move {
            (key, node.record_nonce(&key, forget_at, NOW).await.unwrap())
        }));
    }
    let mut fresh = std::collections::HashMap::new();
    for check in checks {
        let (key, answer) = check.await.unwrap();
        *fresh.entry(key).or_insert(0) += u32::from(answer == NonceCheck::Fresh);
    }
    assert_eq!(fresh.len(), 100);
    assert!(fresh.values().all(|n| *n == 1), "{fresh:?}");
    assert_eq!(
        b.query("SELECT count(*) FROM nonces"),
        vec![vec![Some("100".to_owned())]]
    );
}

/// 120 concurrent checks for one (account, SetLiveDomainCertificate) split across two nodes at one
/// instant admit exactly the burst (30); every refusal says when to retry (one emission interval,
/// 34 ms, or less when it read the bucket just before a racing admission) and changes nothing;
/// another account and another operation keep their own quotas; a second later the bucket has
/// refilled by one second's quota.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_checks_on_two_nodes_admit_exactly_the_burst() {
    let b = Postgres::new();
    let (one, two) = (limits(&b.open()), limits(&b.open()));
    let quota = Quota::per_second(30);
    let (account, other) = (1_000_000_000_000_001, 1_000_000_000_000_002);

    let verdicts = flood(&one, &two, account, SET, quota, NOW_MS, 120).await;
    let admitted = verdicts
        .iter()
        .filter(|v| matches!(v, Verdict::Allowed { .. }))
        .count();
    assert_eq!(admitted, 30, "{verdicts:?}");
    for v in &verdicts {
        if let Verdict::Throttled { retry_after_ms } = v {
            assert!((1..=34).contains(retry_after_ms), "{verdicts:?}");
        }
    }

    // A refusal changes nothing.
    let tat = b.query("SELECT tat_us FROM rate_limits");
    assert_eq!(
        two.check_rate(account, SET, quota, NOW_MS).await.unwrap(),
        Verdict::Throttled { retry_after_ms: 34 }
    );
    assert_eq!(b.query("SELECT tat_us FROM rate_limits"), tat);

    // Another account, and another operation of the same account, are not slowed.
    let others = flood(&one, &two, other, SET, quota, NOW_MS, 40).await;
    assert_eq!(
        others
            .iter()
            .filter(|v| matches!(v, Verdict::Allowed { .. }))
            .count(),
        30
    );
    assert!(matches!(
        one.check_rate(
            account,
            Action::DescribeLiveCertificateList,
            Quota::per_second(50),
            NOW_MS
        )
        .await
        .unwrap(),
        Verdict::Allowed { .. }
    ));

    // One second later: one second's quota again.
    let refilled = flood(&one, &two, account, SET, quota, NOW_MS + 1000, 60).await;
    assert_eq!(
        refilled
            .iter()
            .filter(|v| matches!(v, Verdict::Allowed { .. }))
            .count(),
        30
    );
}

/// Nodes whose clocks differ: node two runs 100 ms ahead of node one (the most the documented
/// bound allows for NTP-synced nodes). Both call every 5 ms for one second from idle: the account
/// gets at most burst + one second's rate + 10% of the rate (30 + 30 + 3), and no less than a
/// single node would give it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clock_skew_between_nodes_costs_at_most_skew_times_rate() {
    let b = Postgres::new();
    let (one, two) = (limits(&b.open()), limits(&b.open()));
    let quota = Quota::per_second(30);
    let account = 1_000_000_000_000_001;
    let mut admitted = 0;
    for ms in (0..1000).step_by(5) {
        for (node, skew) in [(&one, 0), (&two, 100)] {
            if let Verdict::Allowed { .. } = node
                .check_rate(account, SET, quota, NOW_MS + ms + skew)
                .await
                .unwrap()
            {
                admitted += 1;
            }
        }
    }
    assert!((59..=63).contains(&admitted), "admitted {admitted}");
}

/// Expired nonces and idle buckets are deleted in bounded steps: [`SharedLimits::prune`] deletes
/// at most the rows it is given of each table, and only rows expired (a nonce's forget time, a
/// bucket's TAT) more than a minute before both the caller's clock and the database's; the nodes
/// prune on their own as they record nonces.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_entries_are_pruned_in_bounded_steps() {
    let b = Postgres::new();
    let (one, two) = (limits(&b.open()), limits(&b.open()));
    // 3,000 nonces expired for over a minute, 5 expired for half a minute, 10 live ones; 5 buckets
    // idle for over a minute, one idle for half a minute, one busy.
    expired_nonces(&b, 3000, NOW - 61);
    b.query(&format!(
        "INSERT INTO nonces (key, forget_at) \
         SELECT sha256(int4send(-i)), {} FROM generate_series(1, 5) i",
        NOW - 30
    ));
    for i in 0..10u8 {
        one.record_nonce(&[i; 32], NOW + WINDOW, NOW).await.unwrap();
    }
    b.query(&format!(
        "INSERT INTO rate_limits (account_id, action, tat_us) \
         SELECT i, 'SetLiveDomainCertificate', {} FROM generate_series(1, 5) i; \
         INSERT INTO rate_limits (account_id, action, tat_us) \
         VALUES (6, 'SetLiveDomainCertificate', {})",
        (NOW - 61) * 1_000_000,
        (NOW - 30) * 1_000_000
    ));
    one.check_rate(9, SET, Quota::per_second(30), NOW_MS)
        .await
        .unwrap();

    assert_eq!(
        two.prune(NOW, 1000).await.unwrap(),
        Pruned {
            nonces: 1000,
            buckets: 5
        }
    );
    assert_eq!(count(&b, "nonces"), 2015);
    assert_eq!(count(&b, "rate_limits"), 2);
    assert_eq!(
        one.prune(NOW, 5000).await.unwrap(),
        Pruned {
            nonces: 2000,
            buckets: 0
        }
    );
    assert_eq!(count(&b, "nonces"), 15);
    assert_eq!(one.prune(NOW, 5000).await.unwrap(), Pruned::default());

    // A node whose clock runs a day ahead deletes only what the database's clock also says is
    // expired: entries that are live now stay.
    let real_now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    b.query(&format!(
        "INSERT INTO nonces (key, forget_at) VALUES (sha256('live'), {})",
        real_now + 120
    ));
    one.prune(real_now + 86_400, 5000).await.unwrap();
    assert_eq!(
        b.query("SELECT count(*) FROM nonces WHERE key = sha256('live')"),
        vec![vec![Some("1".to_owned())]]
    );

    // Recording nonces prunes in the background.
    expired_nonces(&b, 3000, NOW - 61);
    let before = count(&b, "nonces");
    for i in 0..1024u32 {
        let mut key = [0xffu8; 32];
        key[..4].copy_from_slice(&i.to_be_bytes());
        let node = if i % 2 == 0 { &one } else { &two };
        node.record_nonce(&key, NOW + WINDOW, NOW).await.unwrap();
    }
    let mut left = count(&b, "nonces");
    for _ in 0..100 {
        if left < before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        left = count(&b, "nonces");
    }
    assert!(
        left < before,
        "{left} rows after recording 1,024 more to {before}: nothing was pruned"
    );
}

/// A table that fails (here: gone) is an error, never a fresh nonce or an admission.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_table_is_an_error_never_an_admission() {
    let b = Postgres::new();
    let node = limits(&b.open());
    b.query("DROP TABLE nonces; DROP TABLE rate_limits");
    assert!(node
        .record_nonce(&[1; 32], NOW + WINDOW, NOW)
        .await
        .is_err());
    assert!(node
        .check_rate(1, SET, Quota::per_second(30), NOW_MS)
        .await
        .is_err());
}

/// SQLite has no shared limits: one `serve` holds the database (a lock in the data directory) and
/// keeps nonces and buckets in memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_has_no_shared_limits() {
    let b = Sqlite::new();
    assert!(b.open().shared_limits().is_none());
}

/// `n` checks at once at `now_ms`, alternating between the two nodes.
async fn flood(
    one: &SharedLimits,
    two: &SharedLimits,
    account: u64,
    action: Action,
    quota: Quota,
    now_ms: i64,
    n: usize,
) -> Vec<Verdict> {
    let start = Arc::new(tokio::sync::Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let node = if i % 2 == 0 { one.clone() } else { two.clone() };
            let start = Arc::clone(&start);
            tokio::spawn(async move {
                start.wait().await;
                node.check_rate(account, action, quota, now_ms).await
            })
        })
        .collect();
    let mut verdicts = Vec::with_capacity(n);
    for task in tasks {
        verdicts.push(task.await.unwrap().unwrap());
    }
    verdicts
}

/// Inserts `n` nonce entries whose forget time is `forget_at`.
fn expired_nonces(b: &Postgres, n: u32, forget_at: i64) {
    b.query(&format!(
        "INSERT INTO nonces (key, forget_at) \
         SELECT sha256(int4send(i)), {forget_at} FROM generate_series(1, {n}) i"
    ));
}

fn count(b: &Postgres, table: &str) -> usize {
    b.query(&format!("SELECT count(*) FROM {table}"))[0][0]
        .as_deref()
        .unwrap()
        .parse()
        .unwrap()
}
