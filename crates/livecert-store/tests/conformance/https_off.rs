//! SetLiveDomainCertificate with `SSLProtocol=off` (rows 12–15).

use livecert_core::error::ErrorCode;
use livecert_store::{DomainFlags, OffOutcome, UploadOutcome, WriteError};

use crate::support::{account_with, cn, dn, upload, Backend, NOW};

/// Row 13: already off: success, nothing changes.
pub async fn row_13_already_off_changes_nothing(b: &dyn Backend) {
    let store = b.open();
    let a = account_with(&store, &["live.example.com"]).await;
    let counter = store.change_counter().await.unwrap();
    assert_eq!(
        store
            .set_https_off(a, &dn("live.example.com"), NOW + 5)
            .await
            .unwrap(),
        OffOutcome::AlreadyOff
    );
    let d = store
        .domain(a, &dn("live.example.com"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d.modified, NOW);
    assert_eq!(store.change_counter().await.unwrap(), counter);
}

/// Row 15: HTTPS off, binding none, the record stays; the change counter moves.
pub async fn row_15_turns_https_off_and_keeps_the_record(b: &dyn Backend) {
    let store = b.open();
    let a = account_with(&store, &["live.example.com"]).await;
    let name = dn("live.example.com");
    let UploadOutcome::Bound { cert_id, .. } = store
        .set_upload(a, &name, cn("c"), false, upload(&["live.example.com"]), NOW)
        .await
        .unwrap()
    else {
        panic!("expected Bound")
    };
    let counter = store.change_counter().await.unwrap();
    assert_eq!(
        store.set_https_off(a, &name, NOW + 7).await.unwrap(),
        OffOutcome::TurnedOff
    );
    let d = store.domain(a, &name).await.unwrap().unwrap();
    assert!(!d.https);
    assert_eq!(d.cert_id, None);
    assert_eq!(d.modified, NOW + 7);
    assert!(store.change_counter().await.unwrap() > counter);
    assert!(store.certificate(a, cert_id).await.unwrap().is_some());
    assert!(store.domains_bound_to(cert_id).await.unwrap().is_empty());
    assert_eq!(
        store.set_https_off(a, &name, NOW + 8).await.unwrap(),
        OffOutcome::AlreadyOff
    );
}

/// Row 12: the operator requires HTTPS: `Certificate.NotPermittedOff`, nothing changes.
pub async fn row_12_https_required_refuses(b: &dyn Backend) {
    let store = b.open();
    let a = account_with(&store, &["live.example.com"]).await;
    let name = dn("live.example.com");
    store
        .set_upload(a, &name, cn("c"), false, upload(&["live.example.com"]), NOW)
        .await
        .unwrap();
    store
        .set_domain_flags(
            &name,
            DomainFlags {
                https_required: true,
                ..DomainFlags::default()
            },
            NOW,
        )
        .await
        .unwrap();
    assert!(matches!(
        store.set_https_off(a, &name, NOW + 1).await,
        Err(WriteError::Refused(e)) if e.code == ErrorCode::CertificateNotPermittedOff
    ));
    assert!(store.domain(a, &name).await.unwrap().unwrap().https);
}
