//! The edge's side of the store (spec/edge.md, "Updates"): the in-process notification of
//! committed changes ([`Store::subscribe_changes`]).

use crate::support::{dn, new_domain, Backend, NOW};

/// A commit that moves the change counter is published to subscribers by the time the call is
/// answered; dry runs, refusals and writes the edge does not see publish nothing.
pub async fn committed_changes_are_published_in_process(b: &dyn Backend) {
    let store = b.open();
    let mut changes = store.subscribe_changes();
    assert_eq!(*changes.borrow_and_update(), store.change_counter().await.unwrap());
    let a = store.create_account(NOW).await.unwrap();
    store
        .add_domain_dry_run(a, new_domain("live.example.com"), NOW)
        .await
        .unwrap();
    assert!(!changes.has_changed().unwrap(), "account, dry run");

    store
        .add_domain(a, new_domain("live.example.com"), NOW)
        .await
        .unwrap();
    assert!(changes.has_changed().unwrap());
    assert_eq!(
        *changes.borrow_and_update(),
        store.change_counter().await.unwrap()
    );

    // Refused (DomainAlreadyExist): nothing written, nothing published.
    assert!(store
        .add_domain(a, new_domain("live.example.com"), NOW)
        .await
        .is_err());
    assert!(!changes.has_changed().unwrap());

    // Another store on the same database (another process's writes) publishes on its own
    // channel only.
    let other = b.open();
    other
        .delete_domain(a, &dn("live.example.com"))
        .await
        .unwrap();
    assert!(!changes.has_changed().unwrap());
    assert!(store.change_counter().await.unwrap() > *changes.borrow());
}
