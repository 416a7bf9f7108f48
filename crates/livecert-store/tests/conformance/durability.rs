//! What is acknowledged is kept: everything survives closing and reopening the store.

use livecert_core::secret::Secret;

use crate::support::{account_with, cn, dn, upload, Backend, NOW};

/// Accounts, keys, domains, records, bindings and the change counter survive a reopen.
pub async fn data_survives_reopen(b: &dyn Backend) {
    let store = b.open();
    let creds = store.bootstrap(NOW).await.unwrap().unwrap();
    let a = account_with(&store, &["live.example.com"]).await;
    store
        .import_access_key(a, "testid", &Secret::new(&b"testsecret"[..]), NOW)
        .await
        .unwrap();
    let up = upload(&["live.example.com"]);
    store
        .set_upload(a, &dn("live.example.com"), cn("c"), false, up.clone(), NOW)
        .await
        .unwrap();
    let domain = store.domain(a, &dn("live.example.com")).await.unwrap();
    let record = store
        .certificate_by_name(a, &cn("c"))
        .await
        .unwrap()
        .unwrap();
    let counter = store.change_counter().await.unwrap();
    drop(store);

    let store = b.open();
    let mut accounts = store.account_ids().await.unwrap();
    accounts.sort_unstable();
    let mut expected = vec![creds.account_id, a];
    expected.sort_unstable();
    assert_eq!(accounts, expected);
    assert_eq!(
        store
            .access_key(&creds.access_key_id)
            .await
            .unwrap()
            .unwrap()
            .secret,
        creds.access_key_secret
    );
    assert_eq!(
        store
            .access_key("testid")
            .await
            .unwrap()
            .unwrap()
            .secret
            .expose(),
        b"testsecret"
    );
    assert_eq!(
        store.domain(a, &dn("live.example.com")).await.unwrap(),
        domain
    );
    assert_eq!(
        store
            .certificate_by_name(a, &cn("c"))
            .await
            .unwrap()
            .as_ref(),
        Some(&record)
    );
    assert_eq!(
        store.certificate_private_key(record.cert_id).await.unwrap(),
        Some(up.private_key_pem)
    );
    assert_eq!(store.change_counter().await.unwrap(), counter);
    // The sequence continues after the reopen.
    store
        .add_domain(a, crate::support::new_domain("www.example.com"), NOW)
        .await
        .unwrap();
    let next = store
        .set_upload(
            a,
            &dn("www.example.com"),
            cn("d"),
            false,
            upload(&["www.example.com"]),
            NOW,
        )
        .await
        .unwrap();
    let livecert_store::UploadOutcome::Bound { cert_id, .. } = next else {
        panic!("expected Bound")
    };
    assert!(cert_id > record.cert_id);
}
