//! `CertType=free` records (spec/operations.md rows 33 and 37; certificates.md §6): what the
//! issuer returned is stored through the upload path, so rows 22–29 apply the same way, and the
//! record is of type `free`, status `success`.

use livecert_core::error::ErrorCode;
use livecert_store::WriteMode;
use livecert_store::{UploadOutcome, WriteError};

use crate::support::{account_with, cn, dn, upload, Backend, NOW};

fn bound_id(outcome: &UploadOutcome) -> u64 {
    match outcome {
        UploadOutcome::Bound { cert_id, .. } => *cert_id,
        UploadOutcome::StoredNotEffective { .. } => panic!("expected Bound, got {outcome:?}"),
    }
}

/// Row 37: created under the given name, bound, HTTPS on; type `free`, status `success`.
pub async fn row_37_free_record_is_created_and_bound(b: &dyn Backend) {
    let store = b.open();
    let a = account_with(&store, &["live.example.com"]).await;
    let issued = upload(&["live.example.com"]);
    let outcome = store
        .set_free(
            a,
            &dn("live.example.com"),
            cn("free-1"),
            false,
            issued.clone(),
            NOW + 5,
        )
        .await
        .unwrap();
    let cert_id = bound_id(&outcome);
    let d = store
        .domain(a, &dn("live.example.com"))
        .await
        .unwrap()
        .unwrap();
    assert!(d.https);
    assert_eq!(d.cert_id, Some(cert_id));
    let r = store.certificate(a, cert_id).await.unwrap().unwrap();
    assert_eq!(
        (r.cert_type.as_str(), r.status.as_str()),
        ("free", "success")
    );
    assert_eq!(r.cert_name, cn("free-1"));
    assert_eq!(r.chain_pem, issued.chain_pem);
    assert_eq!(r.facts, issued.facts);
    assert_eq!((r.created, r.last_changed), (NOW + 5, NOW + 5));
    // The edge serves it with its key.
    let snapshot = store.edge_snapshot().await.unwrap();
    assert_eq!(snapshot.bindings.len(), 1);
    let record = snapshot.bindings[0].record.as_ref().unwrap();
    assert_eq!(record.cert_id, cert_id);
    assert_eq!(
        store.cert_key_opener().open(&record.key_sealed).unwrap(),
        issued.private_key_pem
    );
}

/// Rows 23 and 26 as for an upload; a forced replacement makes the record the type of the call
/// that replaced it (free over upload, upload over free), same CertId.
pub async fn free_follows_the_upload_rules(b: &dyn Backend) {
    let store = b.open();
    let a = account_with(&store, &["live.example.com", "www.example.com"]).await;
    let live = dn("live.example.com");
    let first = upload(&["live.example.com"]);
    let id = bound_id(
        &store
            .set_upload(a, &live, cn("n"), false, first, NOW)
            .await
            .unwrap(),
    );
    // Row 23: the name holds other content.
    let e = store
        .set_free(a, &live, cn("n"), false, upload(&["live.example.com"]), NOW)
        .await;
    assert!(
        matches!(&e, Err(WriteError::Refused(api)) if api.code == ErrorCode::CertificateDuplicated),
        "{e:?}"
    );
    // Forced: replaced in place, now `free`.
    let out = store
        .set_free(
            a,
            &live,
            cn("n"),
            true,
            upload(&["live.example.com"]),
            NOW + 1,
        )
        .await
        .unwrap();
    assert_eq!(bound_id(&out), id);
    let r = store.certificate(a, id).await.unwrap().unwrap();
    assert_eq!(
        (r.cert_type.as_str(), r.status.as_str()),
        ("free", "success")
    );
    // Row 26: bound to www too (by an upload covering both), a free certificate for one name
    // cannot replace it.
    let both = upload(&["live.example.com", "www.example.com"]);
    store
        .set_upload(a, &dn("www.example.com"), cn("n"), true, both, NOW + 2)
        .await
        .unwrap();
    let r = store.certificate(a, id).await.unwrap().unwrap();
    assert_eq!(
        r.cert_type.as_str(),
        "upload",
        "an upload replacement makes it upload again"
    );
    let e = store
        .set_free(
            a,
            &live,
            cn("n"),
            true,
            upload(&["live.example.com"]),
            NOW + 3,
        )
        .await;
    assert!(
        matches!(&e, Err(WriteError::Refused(api)) if api.code == ErrorCode::SetDomainCertificateParameterError),
        "{e:?}"
    );
}

/// DryRun: the same answer, nothing written, no CertId taken.
pub async fn set_free_dry_run_writes_nothing(b: &dyn Backend) {
    let store = b.open();
    let a = account_with(&store, &["live.example.com"]).await;
    let live = dn("live.example.com");
    let before = store.change_counter().await.unwrap();
    let out = store
        .in_mode(WriteMode::DryRun)
        .set_free(a, &live, cn("d"), false, upload(&["live.example.com"]), NOW)
        .await
        .unwrap();
    assert_eq!(
        out,
        UploadOutcome::Bound {
            cert_id: 0,
            cert_name: cn("d")
        }
    );
    assert!(store.list_certificates(a, None).await.unwrap().is_empty());
    assert!(!store.domain(a, &live).await.unwrap().unwrap().https);
    assert_eq!(store.change_counter().await.unwrap(), before);
}

/// Row 33: a free record `applying` or `failed` cannot be bound with `cas`.
pub async fn row_33_applying_or_failed_free_record_is_not_usable(b: &dyn Backend) {
    let store = b.open();
    let a = account_with(&store, &["live.example.com", "www.example.com"]).await;
    let issued = upload(&["live.example.com", "www.example.com"]);
    let id = bound_id(
        &store
            .set_free(a, &dn("live.example.com"), cn("f"), false, issued, NOW)
            .await
            .unwrap(),
    );
    for status in ["applying", "failed"] {
        store
            .set_certificate_status(id, status, NOW + 1)
            .await
            .unwrap();
        let e = store
            .bind_certificate(a, &dn("www.example.com"), id, NOW + 1)
            .await;
        assert!(
            matches!(&e, Err(WriteError::Refused(api)) if api.code.code() == "Certificate.StatusError"),
            "{status}: {e:?}"
        );
        let r = store.certificate(a, id).await.unwrap().unwrap();
        assert_eq!((r.cert_type.as_str(), r.status.as_str()), ("free", status));
    }
    store
        .set_certificate_status(id, "success", NOW + 2)
        .await
        .unwrap();
    store
        .bind_certificate(a, &dn("www.example.com"), id, NOW + 2)
        .await
        .unwrap();
}
