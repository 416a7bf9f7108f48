//! PostgreSQL only: what several nodes on one database add to the suite — they migrate a new
//! database once, refuse a newer schema, keep every invariant when their writes race (each node is
//! a `Store` of its own, as each `livecert serve` process is), and commits that move the change
//! counter notify `livecert_changes` listeners.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use livecert_core::error::ErrorCode;
use livecert_core::secret::MasterKey;
use livecert_store::WriteMode;
use livecert_store::{Store, StoreError, UploadOutcome, WriteError, NOTIFY_CHANNEL};
use tokio_postgres::AsyncMessage;

use crate::support::{cn, dn, new_domain, upload, Backend, Postgres, NOW};

/// Four nodes opening a new database at once all open it, and each migration is applied once
/// (one row per version, one CertId counter).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_nodes_opening_a_new_database_migrate_it_once() {
    let b = Postgres::new();
    let stores: Vec<Store> = std::thread::scope(|scope| {
        let opening: Vec<_> = (0..4).map(|_| scope.spawn(|| b.open())).collect();
        opening.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        b.query(
            "SELECT version, count(*) FROM schema_migrations GROUP BY version ORDER BY version"
        ),
        vec![
            vec![Some("1".to_owned()), Some("1".to_owned())],
            vec![Some("2".to_owned()), Some("1".to_owned())],
            vec![Some("3".to_owned()), Some("1".to_owned())],
            vec![Some("4".to_owned()), Some("1".to_owned())]
        ]
    );
    assert_eq!(
        b.query("SELECT count(*) FROM sequences WHERE name = 'cert_id'"),
        vec![vec![Some("1".to_owned())]]
    );
    for store in &stores {
        assert!(store.is_empty().await.unwrap());
    }
}

/// A database whose schema is newer than this binary is refused, not guessed at.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_schema_is_refused() {
    let b = Postgres::new();
    drop(b.open());
    b.query("INSERT INTO schema_migrations (version, name, applied) VALUES (99, 'future', 0)");
    let err = Store::open_postgres(b.url(), Arc::new(MasterKey::generate().unwrap().0))
        .err()
        .expect("a newer schema must be refused");
    assert!(
        matches!(&err, StoreError::Unavailable(text) if text.contains("newer")),
        "{err:?}"
    );
}

/// A server that cannot be reached is `Unavailable`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_is_unavailable() {
    // Port 1 on loopback: nothing listens there.
    let err = Store::open_postgres(
        "postgres://postgres@127.0.0.1:1/livecert?connect_timeout=2",
        Arc::new(MasterKey::generate().unwrap().0),
    )
    .err()
    .expect("nothing listens on port 1");
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
}

/// Two nodes race on the same rows: the same name added by both (one gets `DomainAlreadyExist`,
/// never a store failure); a forced replacement of a record on one node against a cas binding of
/// another domain to that record on the other (whichever wins, no domain is left bound to a record
/// that does not cover it: the write-skew a weaker isolation would allow); uploads on both take
/// distinct CertIds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_nodes_keep_every_invariant() {
    let b = Postgres::new();
    let (one, two) = (b.open(), b.open());
    let a = one.create_account(NOW).await.unwrap();

    for round in 0..10 {
        let name = format!("race{round}.example.com");
        let (first, second) = tokio::join!(
            one.add_domain(a, new_domain(&name), NOW),
            two.add_domain(a, new_domain(&name), NOW)
        );
        let refused = [&first, &second]
            .iter()
            .filter(|r| matches!(r, Err(WriteError::Refused(e)) if e.code == ErrorCode::DomainAlreadyExist))
            .count();
        assert!(
            first.is_ok() != second.is_ok(),
            "round {round}: {first:?} {second:?}"
        );
        assert_eq!(refused, 1, "round {round}: {first:?} {second:?}");
    }

    for round in 0..10 {
        let (d1, d2) = (
            format!("a{round}.example.com"),
            format!("b{round}.example.com"),
        );
        one.add_domain(a, new_domain(&d1), NOW).await.unwrap();
        one.add_domain(a, new_domain(&d2), NOW).await.unwrap();
        let name = format!("shared{round}");
        let outcome = one
            .set_upload(a, &dn(&d1), cn(&name), false, upload(&[&d1, &d2]), NOW)
            .await
            .unwrap();
        let UploadOutcome::Bound { cert_id, .. } = outcome else {
            panic!("expected Bound, got {outcome:?}")
        };
        let narrower = upload(&[&d1]);
        let (first, second) = (dn(&d1), dn(&d2));
        let (replaced, bound) = tokio::join!(
            one.set_upload(a, &first, cn(&name), true, narrower, NOW + 1),
            two.bind_certificate(a, &second, cert_id, NOW + 1)
        );
        assert!(
            replaced.is_ok() != bound.is_ok(),
            "round {round}: exactly one wins: {replaced:?} {bound:?}"
        );
        let record = one.certificate(a, cert_id).await.unwrap().unwrap();
        for domain in one.domains_bound_to(cert_id).await.unwrap() {
            assert!(
                record.facts.dns_sans.iter().any(|s| s == domain.as_str()),
                "round {round}: {domain} is bound to a record that does not cover it"
            );
        }
    }

    let mut tasks = Vec::new();
    for i in 0..20 {
        let name = format!("up{i}.example.com");
        one.add_domain(a, new_domain(&name), NOW).await.unwrap();
        let node = if i % 2 == 0 { one.clone() } else { two.clone() };
        tasks.push(tokio::spawn(async move {
            node.set_upload(a, &dn(&name), cn(&name), false, upload(&[&name]), NOW)
                .await
        }));
    }
    let mut ids = BTreeSet::new();
    for task in tasks {
        let UploadOutcome::Bound { cert_id, .. } = task.await.unwrap().unwrap() else {
            panic!("expected Bound")
        };
        assert!(ids.insert(cert_id), "CertId {cert_id} given twice");
    }
}

/// A commit that moves the change counter notifies `livecert_changes` with the new counter; a dry
/// run and a write the edge does not see notify nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_that_move_the_counter_notify_listeners() {
    let b = Postgres::new();
    let store = b.open();
    let (client, mut connection) = tokio_postgres::connect(b.url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    let (heard, mut notifications) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(Ok(message)) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
            if let AsyncMessage::Notification(n) = message {
                let _ = heard.send((n.channel().to_owned(), n.payload().to_owned()));
            }
        }
    });
    client
        .batch_execute(&format!("LISTEN {NOTIFY_CHANNEL}"))
        .await
        .unwrap();

    let a = store.create_account(NOW).await.unwrap();
    store
        .in_mode(WriteMode::DryRun)
        .add_domain(a, new_domain("live.example.com"), NOW)
        .await
        .unwrap();
    store
        .add_domain(a, new_domain("live.example.com"), NOW)
        .await
        .unwrap();
    let counter = store.change_counter().await.unwrap();
    let next = tokio::time::timeout(Duration::from_secs(10), notifications.recv())
        .await
        .expect("a notification")
        .unwrap();
    // The first notification is the real write's: the account and the dry run sent none.
    assert_eq!(next, (NOTIFY_CHANNEL.to_owned(), counter.to_string()));
}
