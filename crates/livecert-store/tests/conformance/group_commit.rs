//! Group commit: concurrent writes share transactions, each call in its own savepoint; a failing
//! call fails alone; every acknowledged write is there.

use std::collections::BTreeSet;

use livecert_store::{StoreError, UploadOutcome, WriteError};

use crate::support::{cn, dn, new_domain, upload, Backend, NOW};

/// 200 concurrent uploads from tokio tasks, to 200 domains of 4 accounts: all answered, all bound.
pub async fn concurrent_uploads_are_all_answered_and_present(b: &dyn Backend) {
    const CALLS: usize = 200;
    let store = b.open();
    let mut accounts = Vec::new();
    for _ in 0..4 {
        accounts.push(store.create_account(NOW).await.unwrap());
    }
    let uploads: Vec<_> = (0..CALLS)
        .map(|i| upload(&[format!("d{i}.example.com").as_str()]))
        .collect();
    for i in 0..CALLS {
        store
            .add_domain(
                accounts[i % 4],
                new_domain(&format!("d{i}.example.com")),
                NOW,
            )
            .await
            .unwrap();
    }

    let mut tasks = Vec::new();
    for (i, up) in uploads.into_iter().enumerate() {
        let store = store.clone();
        let account = accounts[i % 4];
        tasks.push(tokio::spawn(async move {
            let domain = dn(&format!("d{i}.example.com"));
            let outcome = store
                .set_upload(account, &domain, cn(&format!("c{i}")), false, up, NOW)
                .await;
            (i, account, outcome)
        }));
    }
    let mut ids = BTreeSet::new();
    for task in tasks {
        let (i, account, outcome) = task.await.unwrap();
        let UploadOutcome::Bound { cert_id, cert_name } = outcome.unwrap() else {
            panic!("call {i} was not bound");
        };
        assert_eq!(cert_name, cn(&format!("c{i}")));
        assert!(ids.insert(cert_id), "CertId {cert_id} given twice");
        let d = store
            .domain(account, &dn(&format!("d{i}.example.com")))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(d.cert_id, Some(cert_id));
    }
    let mut total = 0;
    for account in accounts {
        total += store.list_certificates(account, None).await.unwrap().len();
    }
    assert_eq!(total, CALLS);
}

/// A call whose statement fails inside the database (an injected trigger) gets
/// `StoreError::Failed`; the calls around it, in the same group or not, succeed.
pub async fn a_failing_call_does_not_roll_back_its_group(b: &dyn Backend) {
    const CALLS: usize = 60;
    let store = b.open();
    let a = store.create_account(NOW).await.unwrap();
    for i in 0..CALLS {
        store
            .add_domain(a, new_domain(&format!("d{i}.example.com")), NOW)
            .await
            .unwrap();
    }
    b.inject_insert_failure("boom");

    let uploads: Vec<_> = (0..CALLS)
        .map(|i| upload(&[format!("d{i}.example.com").as_str()]))
        .collect();
    let mut tasks = Vec::new();
    for (i, up) in uploads.into_iter().enumerate() {
        let store = store.clone();
        let name = if i % 20 == 7 {
            "boom".to_owned()
        } else {
            format!("c{i}")
        };
        tasks.push(tokio::spawn(async move {
            let result = store
                .set_upload(
                    a,
                    &dn(&format!("d{i}.example.com")),
                    cn(&name),
                    false,
                    up,
                    NOW,
                )
                .await;
            (i, name, result)
        }));
    }
    let mut failed = 0;
    for task in tasks {
        let (i, name, result) = task.await.unwrap();
        let domain = store
            .domain(a, &dn(&format!("d{i}.example.com")))
            .await
            .unwrap()
            .unwrap();
        if name == "boom" {
            assert!(
                matches!(&result, Err(WriteError::Store(StoreError::Failed(_)))),
                "call {i}: {result:?}"
            );
            assert_eq!(domain.cert_id, None, "call {i} left a binding");
            failed += 1;
        } else {
            let UploadOutcome::Bound { cert_id, .. } = result.unwrap() else {
                panic!("call {i} was not bound")
            };
            assert_eq!(domain.cert_id, Some(cert_id));
        }
    }
    assert_eq!(failed, 3);
    assert!(store
        .certificate_by_name(a, &cn("boom"))
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        store.list_certificates(a, None).await.unwrap().len(),
        CALLS - failed
    );
}
