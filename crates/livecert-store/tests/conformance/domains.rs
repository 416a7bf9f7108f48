//! Domains (spec/operations.md, Domains): one name across all accounts, foreign domains invisible,
//! status, deletion and operator flags.

use livecert_core::error::ErrorCode;
use livecert_store::{DomainFlags, DomainStatus, WriteError};

use crate::support::{account_with, cn, dn, new_domain, upload, Backend, NOW};

/// AddLiveDomain: "Already added by anyone: DomainAlreadyExist"; names are stored lower case.
pub async fn domain_names_are_unique_across_accounts(b: &dyn Backend) {
    let store = b.open();
    let a = store.create_account(NOW).await.unwrap();
    let other = store.create_account(NOW).await.unwrap();
    store
        .add_domain(a, new_domain("Live.Example.com"), NOW)
        .await
        .unwrap();
    for (account, name) in [(a, "live.example.com"), (other, "LIVE.example.COM")] {
        let err = store
            .add_domain(account, new_domain(name), NOW + 1)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, WriteError::Refused(e) if e.code == ErrorCode::DomainAlreadyExist),
            "{err:?}"
        );
    }
    // An exact and a wildcard domain that covers it may both exist, even in different accounts.
    store
        .add_domain(other, new_domain("*.example.com"), NOW)
        .await
        .unwrap();

    let d = store
        .domain(a, &dn("live.example.com"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d.name.as_str(), "live.example.com");
    assert_eq!(d.account_id, a);
    assert_eq!(d.status, DomainStatus::Online);
    assert_eq!(d.live_domain_type, "liveVideo");
    assert_eq!(d.region, "cn-shanghai");
    assert_eq!(d.scope, "domestic");
    assert!(!d.https);
    assert_eq!(d.cert_id, None);
    assert!(!d.locked && !d.safe_mode && !d.protected_mode && !d.https_required);
    assert!(d.functions.is_empty());
    assert_eq!((d.created, d.modified), (NOW, NOW));
}

/// A domain of another account reads as absent.
pub async fn foreign_domains_are_hidden(b: &dyn Backend) {
    let store = b.open();
    let a = account_with(&store, &["a.example.com"]).await;
    let other = account_with(&store, &["b.example.com"]).await;
    assert!(store
        .domain(a, &dn("a.example.com"))
        .await
        .unwrap()
        .is_some());
    assert!(store
        .domain(other, &dn("a.example.com"))
        .await
        .unwrap()
        .is_none());
    assert!(store
        .domain(a, &dn("nowhere.example.com"))
        .await
        .unwrap()
        .is_none());
    let mine: Vec<String> = store
        .domains(a)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.name.to_string())
        .collect();
    assert_eq!(mine, ["a.example.com"]);
}

/// StartLiveDomain / StopLiveDomain, DeleteLiveDomain, and operator flags (rows 8–10 apply to
/// every state change).
pub async fn start_stop_delete_and_flags(b: &dyn Backend) {
    let store = b.open();
    let a = account_with(&store, &["live.example.com"]).await;
    let other = store.create_account(NOW).await.unwrap();
    let name = dn("live.example.com");

    assert!(store
        .set_domain_status(a, &name, DomainStatus::Offline, NOW + 5)
        .await
        .unwrap());
    assert!(!store
        .set_domain_status(a, &name, DomainStatus::Offline, NOW + 6)
        .await
        .unwrap());
    let d = store.domain(a, &name).await.unwrap().unwrap();
    assert_eq!((d.status, d.modified), (DomainStatus::Offline, NOW + 5));
    assert!(store
        .set_domain_status(a, &name, DomainStatus::Online, NOW + 7)
        .await
        .unwrap());
    assert!(matches!(
        store.set_domain_status(other, &name, DomainStatus::Offline, NOW).await,
        Err(WriteError::Refused(e)) if e.code == ErrorCode::IllegalOperationDomain
    ));

    let flags = DomainFlags {
        locked: true,
        functions: vec!["ipv6".into()],
        ..DomainFlags::default()
    };
    store.set_domain_flags(&name, flags, NOW + 8).await.unwrap();
    let d = store.domain(a, &name).await.unwrap().unwrap();
    assert!(d.locked);
    assert_eq!(d.functions, ["ipv6"]);
    assert!(matches!(
        store.delete_domain(a, &name).await,
        Err(WriteError::Refused(e)) if e.code == ErrorCode::IllegalOperation
    ));
    store
        .set_domain_flags(&name, DomainFlags::default(), NOW + 9)
        .await
        .unwrap();
    assert!(matches!(
        store.set_domain_flags(&dn("nowhere.example.com"), DomainFlags::default(), NOW).await,
        Err(WriteError::Refused(e)) if e.code == ErrorCode::IllegalOperationDomain
    ));

    // Deleting removes the domain and its binding; the record stays.
    let bound = store
        .set_upload(a, &name, cn("c"), false, upload(&["live.example.com"]), NOW)
        .await
        .unwrap();
    assert!(matches!(bound, livecert_store::UploadOutcome::Bound { .. }));
    assert!(matches!(
        store.delete_domain(other, &name).await,
        Err(WriteError::Refused(e)) if e.code == ErrorCode::IllegalOperationDomain
    ));
    store.delete_domain(a, &name).await.unwrap();
    assert!(store.domain(a, &name).await.unwrap().is_none());
    let record = store
        .certificate_by_name(a, &cn("c"))
        .await
        .unwrap()
        .unwrap();
    assert!(store
        .domains_bound_to(record.cert_id)
        .await
        .unwrap()
        .is_empty());
    // The name is free again, for anyone.
    store
        .add_domain(other, new_domain("live.example.com"), NOW)
        .await
        .unwrap();
}
