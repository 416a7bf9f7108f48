//! SetLiveDomainCertificate with `SSLProtocol=on`, `CertType=upload` (rows 7–11, 23–29) and the
//! `cas` binding (rows 31–35), as the store applies them inside its transaction.

use livecert_core::error::ErrorCode;
use livecert_store::{DomainFlags, DomainStatus, Store, UploadOutcome, WriteError};

use crate::support::{account_with, cn, dn, same_leaf_other_chain, upload, Backend, NOW};

fn refused(result: Result<UploadOutcome, WriteError>) -> ErrorCode {
    match result {
        Err(WriteError::Refused(e)) => e.code,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn bound_id(outcome: &UploadOutcome) -> u64 {
    match outcome {
        UploadOutcome::Bound { cert_id, .. } => *cert_id,
        UploadOutcome::StoredNotEffective { .. } => panic!("expected Bound, got {outcome:?}"),
    }
}

async fn library_size(store: &Store, account: u64) -> usize {
    store.list_certificates(account, None).await.unwrap().len()
}

/// Row 7: no such domain, or another account's: `IllegalOperationDomain`, nothing written.
pub async fn row_7_unknown_or_foreign_domain_is_refused(b: &dyn Backend) {
    let store = b.open();
    let a = account_with(&store, &["a.example.com"]).await;
    let other = account_with(&store, &[]).await;
    for (account, domain) in [(other, "a.example.com"), (a, "missing.example.com")] {
        let code = refused(
            store
                .set_upload(account, &dn(domain), cn("c"), false, upload(&[domain]), NOW)
                .await,
        );
        assert_eq!(code, ErrorCode::IllegalOperationDomain);
        assert_eq!(library_size(&store, account).await, 0);
    }
    let code = refused(
        store
            .set_https_off(other, &dn("a.example.com"), NOW)
            .await
            .map(|_| UploadOutcome::Bound {
                cert_id: 0,
                cert_name: cn("x"),
            }),
    );
    assert_eq!(code, ErrorCode::IllegalOperationDomain);
}

/// Rows 8–11 are re-checked in the transaction: locked, safe mode, protected mode, not online.
pub async fn rows_8_to_11_domain_state_is_rechecked(b: &dyn Backend) {
    let store = b.open();
    let a = account_with(&store, &["live.example.com"]).await;
    let name = dn("live.example.com");
    let cases = [
        (
            DomainFlags {
                locked: true,
                ..DomainFlags::default()
            },
            ErrorCode::IllegalOperation,
        ),
        (
            DomainFlags {
                safe_mode: true,
                ..DomainFlags::default()
            },
            ErrorCode::DomainInSafeMode,
        ),
        (
            DomainFlags {
                protected_mode: true,
                ..DomainFlags::default()
            },
            ErrorCode::DomainInProtectedMode,
        ),
    ];
    for (flags, code) in cases {
        store.set_domain_flags(&name, flags, NOW).await.unwrap();
        let got = refused(
            store
                .set_upload(a, &name, cn("c"), false, upload(&["live.example.com"]), NOW)
                .await,
        );
        assert_eq!(got, code);
    }
    store
        .set_domain_flags(&name, DomainFlags::default(), NOW)
        .await
        .unwrap();
    store
        .set_domain_status(a, &name, DomainStatus::Offline, NOW)
        .await
        .unwrap();
    let got = refused(
        store
            .set_upload(a, &name, cn("c"), false, upload(&["live.example.com"]), NOW)
            .await,
    );
    assert_eq!(got, ErrorCode::InvalidDomainNotOnline);
    assert_eq!(library_size(&store, a).await, 0);
}

/// Row 29: a new record (new CertId, created = last_changed = now) bound to the domain, HTTPS on.
pub async fn row_29_creates_and_binds(b: &dyn Backend) {
    let store = b.open();
    let a = account_with(&store, &["live.example.com"]).await;
    let up = upload(&["live.example.com", "www.example.com"]);
    let outcome = store
        .set_upload(
            a,
            &dn("live.example.com"),
            cn("mine"),
            false,
            up.clone(),
            NOW + 10,
        )
        .await
        .unwrap();
    let cert_id = bound_id(&outcome);
    assert_eq!(
        outcome,
        UploadOutcome::Bound {
            cert_id,
            cert_name: cn("mine")
        }
    );
    let d = store
        .domain(a, &dn("live.example.com"))
        .await
        .unwrap()
        .unwrap();
    assert!(d.https);
    assert_eq!(d.cert_id, Some(cert_id));
    assert_eq!(d.modified, NOW + 10);

    let r = store.certificate(a, cert_id).await.unwrap().unwrap();
    assert_eq!(r.cert_id, cert_id);
    assert_eq!(r.account_id, a);
    assert_eq!(r.cert_name, cn("mine"));
    assert_eq!(r.cert_type.as_str(), "upload");
    assert_eq!(r.status.as_str(), "success");
    assert_eq!(r.chain_pem, up.chain_pem);
    assert_eq!(r.facts, up.facts);
    assert_eq!((r.created, r.last_changed), (NOW + 10, NOW + 10));
    assert_eq!(
        store.certificate_by_name(a, &cn("mine")).await.unwrap(),
        Some(r)
    );
    assert_eq!(
        store.domains_bound_to(cert_id).await.unwrap(),
        vec![dn("live.example.com")]
    );
    // Names are exact: another case is another record.
    assert!(store
        .certificate_by_name(a, &cn("Mine"))
        .await
        .unwrap()
        .is_none());
    // Another account sees nothing of it.
    let other = account_with(&store, &[]).await;
    assert!(store.certificate(other, cert_id).await.unwrap().is_none());
    assert!(store
        .certificate_by_name(other, &cn("mine"))
        .await
        .unwrap()
        .is_none());
}

/// Row 23: ForceSet ≠ 1 and the name holds other content: `Certificate.Duplicated`, nothing changes.
pub async fn row_23_same_name_other_content_is_refused(b: &dyn Backend) {
    let store = b.open();
    let a = account_with(&store, &["live.example.com"]).await;
    let name = dn("live.example.com");
    let first = upload(&["live.example.com"]);
    let id = bound_id(
        &store
            .set_upload(a, &name, cn("c"), false, first.clone(), NOW)
            .await
            .unwrap(),
    );
    let before = store.change_counter().await.unwrap();
    for other in [upload(&["live.example.com"]), same_leaf_other_chain(&first)] {
        let code = refused(
            store
                .set_upload(a, &name, cn("c"), false, other, NOW + 5)
                .await,
        );
        assert_eq!(code, ErrorCode::CertificateDuplicated);
    }
    let r = store.certificate(a, id).await.unwrap().unwrap();
    assert_eq!(r.chain_pem, first.chain_pem);
    assert_eq!(r.last_changed, NOW);
    assert_eq!(library_size(&store, a).await, 1);
    assert_eq!(store.change_counter().await.unwrap(), before);
}

/// Row 24: ForceSet ≠ 1 and the same leaf exists under another name:
/// `CertificateContent.Duplicated`; with ForceSet = 1 a second record is made.
pub async fn row_24_same_leaf_under_another_name_is_refused(b: &dyn Backend) {
    let store = b.open();
    let a = account_with(&store, &["live.example.com"]).await;
    let name = dn("live.example.com");
    let up = upload(&["live.example.com"]);
    store
        .set_upload(a, &name, cn("first"), false, up.clone(), NOW)
        .await
        .unwrap();
    let code = refused(
        store
            .set_upload(a, &name, cn("second"), false, up.clone(), NOW)
            .await,
    );
    assert_eq!(code, ErrorCode::CertificateContentDuplicated);
    let code = refused(
        store
            .set_upload(
                a,
                &name,
                cn("second"),
                false,
                same_leaf_other_chain(&up),
                NOW,
            )
            .await,
    );
    assert_eq!(code, ErrorCode::CertificateContentDuplicated);
    assert_eq!(library_size(&store, a).await, 1);

    // The same leaf in another account is no duplicate.
    let other = account_with(&store, &["other.example.com"]).await;
    store
        .set_upload(
            other,
            &dn("other.example.com"),
            cn("second"),
            false,
            up.clone(),
            NOW,
        )
        .await
        .unwrap();

    // ForceSet = 1 skips the duplicate checks.
    let outcome = store
        .set_upload(a, &name, cn("second"), true, up, NOW)
        .await
        .unwrap();
    assert_eq!(library_size(&store, a).await, 2);
    assert_eq!(
        store.domain(a, &name).await.unwrap().unwrap().cert_id,
        Some(bound_id(&outcome))
    );
}

/// Row 25: the name holds the same content: no library change, not even LastTime; the domain is
/// bound (rows 28–29).
pub async fn row_25_same_content_changes_nothing(b: &dyn Backend) {
    let store = b.open();
    let a = account_with(&store, &["live.example.com", "www.example.com"]).await;
    let up = upload(&["live.example.com", "www.example.com"]);
    let id = bound_id(
        &store
            .set_upload(a, &dn("live.example.com"), cn("c"), false, up.clone(), NOW)
            .await
            .unwrap(),
    );
    let counter = store.change_counter().await.unwrap();

    // Again, for the same domain, with or without ForceSet: nothing changes at all.
    for force in [false, true] {
        let again = store
            .set_upload(
                a,
                &dn("live.example.com"),
                cn("c"),
                force,
                up.clone(),
                NOW + 100,
            )
            .await
            .unwrap();
        assert_eq!(bound_id(&again), id);
    }
    let r = store.certificate(a, id).await.unwrap().unwrap();
    assert_eq!((r.created, r.last_changed), (NOW, NOW));
    let d = store
        .domain(a, &dn("live.example.com"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d.modified, NOW);
    assert_eq!(store.change_counter().await.unwrap(), counter);

    // For another domain it covers: the existing record is bound to it.
    let outcome = store
        .set_upload(a, &dn("www.example.com"), cn("c"), false, up, NOW + 200)
        .await
        .unwrap();
    assert_eq!(bound_id(&outcome), id);
    assert_eq!(
        store
            .certificate(a, id)
            .await
            .unwrap()
            .unwrap()
            .last_changed,
        NOW
    );
    assert_eq!(
        store.domains_bound_to(id).await.unwrap(),
        vec![dn("live.example.com"), dn("www.example.com")]
    );
    assert!(store.change_counter().await.unwrap() > counter);
    assert_eq!(library_size(&store, a).await, 1);
}

/// Row 26: a forced replacement that does not cover every domain bound to the record (the target
/// domain included) is refused and changes nothing.
pub async fn row_26_forced_replacement_must_cover_bound_domains(b: &dyn Backend) {
    let store = b.open();
    let a = account_with(&store, &["live.example.com", "www.example.com"]).await;
    let both = upload(&["live.example.com", "www.example.com"]);
    let id = bound_id(
        &store
            .set_upload(
                a,
                &dn("live.example.com"),
                cn("c"),
                false,
                both.clone(),
                NOW,
            )
            .await
            .unwrap(),
    );
    store
        .set_upload(a, &dn("www.example.com"), cn("c"), false, both.clone(), NOW)
        .await
        .unwrap();
    let counter = store.change_counter().await.unwrap();

    let err = store
        .set_upload(
            a,
            &dn("live.example.com"),
            cn("c"),
            true,
            upload(&["live.example.com"]),
            NOW + 50,
        )
        .await
        .unwrap_err();
    let WriteError::Refused(e) = err else {
        panic!("expected a refusal, got {err:?}")
    };
    assert_eq!(e.code, ErrorCode::SetDomainCertificateParameterError);
    assert!(e.detail.contains("www.example.com"), "{}", e.detail);

    let r = store.certificate(a, id).await.unwrap().unwrap();
    assert_eq!(r.chain_pem, both.chain_pem);
    assert_eq!(r.last_changed, NOW);
    assert_eq!(store.change_counter().await.unwrap(), counter);
}

/// Row 28: the chain does not cover the domain: the record is committed, the binding unchanged.
pub async fn row_28_record_is_committed_binding_unchanged(b: &dyn Backend) {
    let store = b.open();
    let a = account_with(&store, &["live.example.com"]).await;
    let name = dn("live.example.com");

    // HTTPS off before: stays off.
    let elsewhere = upload(&["elsewhere.example.com"]);
    let outcome = store
        .set_upload(a, &name, cn("else"), false, elsewhere.clone(), NOW)
        .await
        .unwrap();
    let UploadOutcome::StoredNotEffective { cert_id, cert_name } = outcome else {
        panic!("expected StoredNotEffective, got {outcome:?}")
    };
    assert_eq!(cert_name, cn("else"));
    let r = store.certificate(a, cert_id).await.unwrap().unwrap();
    assert_eq!(r.chain_pem, elsewhere.chain_pem);
    let d = store.domain(a, &name).await.unwrap().unwrap();
    assert!(!d.https);
    assert_eq!(d.cert_id, None);

    // Bound before: keeps its record.
    let own = bound_id(
        &store
            .set_upload(
                a,
                &name,
                cn("own"),
                false,
                upload(&["live.example.com"]),
                NOW,
            )
            .await
            .unwrap(),
    );
    let outcome = store
        .set_upload(
            a,
            &name,
            cn("else2"),
            false,
            upload(&["x.example.com"]),
            NOW,
        )
        .await
        .unwrap();
    assert!(matches!(outcome, UploadOutcome::StoredNotEffective { .. }));
    let d = store.domain(a, &name).await.unwrap().unwrap();
    assert_eq!(d.cert_id, Some(own));
    assert!(d.https);
    assert_eq!(library_size(&store, a).await, 3);
}

/// ForceSet = 1 replaces a record in place: same CertId, new content and key, LastTime = now, and
/// every domain bound to it serves the new content (the change counter moves).
pub async fn forced_replacement_keeps_the_cert_id(b: &dyn Backend) {
    let store = b.open();
    let a = account_with(&store, &["live.example.com", "www.example.com"]).await;
    let first = upload(&["live.example.com", "www.example.com"]);
    let id = bound_id(
        &store
            .set_upload(a, &dn("live.example.com"), cn("c"), false, first, NOW)
            .await
            .unwrap(),
    );
    store
        .set_upload(
            a,
            &dn("www.example.com"),
            cn("c"),
            false,
            store_chain(&store, a, id).await,
            NOW,
        )
        .await
        .unwrap();
    let counter = store.change_counter().await.unwrap();

    let renewed = upload(&["www.example.com", "live.example.com", "new.example.com"]);
    let outcome = store
        .set_upload(
            a,
            &dn("live.example.com"),
            cn("c"),
            true,
            renewed.clone(),
            NOW + 86_400,
        )
        .await
        .unwrap();
    assert_eq!(bound_id(&outcome), id);
    let r = store.certificate(a, id).await.unwrap().unwrap();
    assert_eq!(r.chain_pem, renewed.chain_pem);
    assert_eq!(r.facts, renewed.facts);
    assert_eq!((r.created, r.last_changed), (NOW, NOW + 86_400));
    assert_eq!(
        store.certificate_private_key(id).await.unwrap().unwrap(),
        renewed.private_key_pem
    );
    assert_eq!(library_size(&store, a).await, 1);
    assert_eq!(store.domains_bound_to(id).await.unwrap().len(), 2);
    assert!(store.change_counter().await.unwrap() > counter);

    // A forced replacement of an unbound record, for a domain it does not cover (row 28): replaced,
    // nothing the edge serves changes.
    store
        .set_upload(
            a,
            &dn("live.example.com"),
            cn("spare"),
            false,
            upload(&["s.example.com"]),
            NOW,
        )
        .await
        .unwrap();
    let counter = store.change_counter().await.unwrap();
    let outcome = store
        .set_upload(
            a,
            &dn("live.example.com"),
            cn("spare"),
            true,
            upload(&["t.example.com"]),
            NOW + 9,
        )
        .await
        .unwrap();
    assert!(matches!(outcome, UploadOutcome::StoredNotEffective { .. }));
    assert_eq!(store.change_counter().await.unwrap(), counter);
}

/// CertIds come from one global sequence: 7 digits at first, increasing, across accounts.
pub async fn cert_ids_come_from_one_global_sequence(b: &dyn Backend) {
    let store = b.open();
    let mut ids = Vec::new();
    for i in 0..3 {
        let domain = format!("d{i}.example.com");
        let a = account_with(&store, &[domain.as_str()]).await;
        for n in 0..2 {
            let outcome = store
                .set_upload(
                    a,
                    &dn(&domain),
                    cn(&format!("c{n}")),
                    false,
                    upload(&[&domain]),
                    NOW,
                )
                .await
                .unwrap();
            ids.push(bound_id(&outcome));
        }
    }
    assert_eq!(ids[0].to_string().len(), 7, "{ids:?}");
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
}

/// `bind_certificate` (rows 31–35 for CertType=cas): the account's own, usable, unexpired record
/// that covers the domain.
pub async fn cas_binding_checks_the_record(b: &dyn Backend) {
    let store = b.open();
    let a = account_with(&store, &["live.example.com", "www.example.com"]).await;
    let other = account_with(&store, &["other.example.com"]).await;
    let both = upload(&["live.example.com", "www.example.com"]);
    let id = bound_id(
        &store
            .set_upload(
                a,
                &dn("live.example.com"),
                cn("c"),
                false,
                both.clone(),
                NOW,
            )
            .await
            .unwrap(),
    );
    let code = |r: Result<(), WriteError>| match r {
        Err(WriteError::Refused(e)) => e.code,
        other => panic!("expected a refusal, got {other:?}"),
    };

    // Not in the caller's library.
    assert_eq!(
        code(
            store
                .bind_certificate(other, &dn("other.example.com"), id, NOW)
                .await
        ),
        ErrorCode::CertificateNotFind
    );
    // Another account's record, by id: not in the caller's library either.
    let foreign_cover = bound_id(
        &store
            .set_upload(
                other,
                &dn("other.example.com"),
                cn("o"),
                false,
                upload(&["other.example.com"]),
                NOW,
            )
            .await
            .unwrap(),
    );
    // Does not cover the domain.
    let elsewhere = match store
        .set_upload(
            a,
            &dn("www.example.com"),
            cn("e"),
            false,
            upload(&["e.example.com"]),
            NOW,
        )
        .await
        .unwrap()
    {
        UploadOutcome::StoredNotEffective { cert_id, .. } => cert_id,
        o @ UploadOutcome::Bound { .. } => panic!("{o:?}"),
    };
    assert_eq!(
        code(
            store
                .bind_certificate(a, &dn("www.example.com"), elsewhere, NOW)
                .await
        ),
        ErrorCode::CertificateSettedNotEffect
    );
    // Expired by the clock.
    assert_eq!(
        code(
            store
                .bind_certificate(a, &dn("www.example.com"), id, both.facts.not_after + 1)
                .await
        ),
        ErrorCode::CertificateExpired
    );
    // Revoked.
    store
        .set_certificate_status(id, "revoked", NOW)
        .await
        .unwrap();
    assert_eq!(
        code(
            store
                .bind_certificate(a, &dn("www.example.com"), id, NOW)
                .await
        ),
        ErrorCode::CertificateStatusErrorCas
    );
    assert!(store
        .set_certificate_status(id, "bogus", NOW)
        .await
        .is_err());
    store
        .set_certificate_status(id, "success", NOW)
        .await
        .unwrap();
    // Otherwise bound, HTTPS on.
    store
        .bind_certificate(a, &dn("www.example.com"), id, NOW)
        .await
        .unwrap();
    let d = store
        .domain(a, &dn("www.example.com"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((d.https, d.cert_id), (true, Some(id)));
    // A foreign record cannot be bound, even by id.
    assert_eq!(
        code(
            store
                .bind_certificate(a, &dn("www.example.com"), foreign_cover, NOW)
                .await
        ),
        ErrorCode::CertificateNotFind
    );
}

/// The chain of record `id` re-uploaded as-is (same content).
async fn store_chain(store: &Store, account: u64, id: u64) -> livecert_core::cert::CheckedUpload {
    let r = store.certificate(account, id).await.unwrap().unwrap();
    livecert_core::cert::CheckedUpload {
        chain_der: Vec::new(),
        chain_pem: r.chain_pem,
        facts: r.facts,
        private_key_pem: store.certificate_private_key(id).await.unwrap().unwrap(),
    }
}
