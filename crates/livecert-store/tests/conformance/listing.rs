//! DescribeLiveCertificateList's store side (the whole library, or the records bound to given
//! domains, by CertId) and the change counter the edge polls.

use livecert_store::{DomainFlags, DomainStatus, UploadOutcome};

use crate::support::{account_with, cn, dn, new_domain, upload, Backend, NOW};

fn id(o: &UploadOutcome) -> u64 {
    match o {
        UploadOutcome::Bound { cert_id, .. }
        | UploadOutcome::StoredNotEffective { cert_id, .. } => *cert_id,
    }
}

/// The whole library, or the records bound to the given domains: ordered by CertId, each once,
/// never another account's.
pub async fn list_certificates_whole_and_by_domains(b: &dyn Backend) {
    let store = b.open();
    let a = account_with(
        &store,
        &[
            "a.example.com",
            "b.example.com",
            "c.example.com",
            "off.example.com",
        ],
    )
    .await;
    let other = account_with(&store, &["z.example.com"]).await;
    let ab = upload(&["a.example.com", "b.example.com"]);
    let c = upload(&["c.example.com"]);
    let id_ab = id(&store
        .set_upload(a, &dn("a.example.com"), cn("ab"), false, ab.clone(), NOW)
        .await
        .unwrap());
    store
        .set_upload(a, &dn("b.example.com"), cn("ab"), false, ab, NOW)
        .await
        .unwrap();
    let id_c = id(&store
        .set_upload(a, &dn("c.example.com"), cn("c"), false, c, NOW)
        .await
        .unwrap());
    let id_unbound = id(&store
        .set_upload(
            a,
            &dn("a.example.com"),
            cn("spare"),
            false,
            upload(&["q.example.com"]),
            NOW,
        )
        .await
        .unwrap());
    store
        .set_upload(
            other,
            &dn("z.example.com"),
            cn("z"),
            false,
            upload(&["z.example.com"]),
            NOW,
        )
        .await
        .unwrap();

    let ids =
        |v: Vec<livecert_store::CertRecord>| v.into_iter().map(|r| r.cert_id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.list_certificates(a, None).await.unwrap()),
        vec![id_ab, id_c, id_unbound]
    );
    assert_eq!(
        ids(store
            .list_certificates(
                a,
                Some(&[
                    dn("c.example.com"),
                    dn("b.example.com"),
                    dn("a.example.com")
                ])
            )
            .await
            .unwrap()),
        vec![id_ab, id_c]
    );
    assert_eq!(
        ids(store
            .list_certificates(a, Some(&[dn("b.example.com")]))
            .await
            .unwrap()),
        vec![id_ab]
    );
    // HTTPS off, foreign, unknown: nothing.
    assert!(store
        .list_certificates(
            a,
            Some(&[
                dn("off.example.com"),
                dn("z.example.com"),
                dn("unknown.example.com")
            ])
        )
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .list_certificates(a, Some(&[]))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.list_certificates(other, None).await.unwrap().len(), 1);
}

/// The counter only increases, and moves exactly when what the edge serves may change.
pub async fn change_counter_moves_with_what_the_edge_serves(b: &dyn Backend) {
    let store = b.open();
    let start = store.change_counter().await.unwrap();
    let a = store.create_account(NOW).await.unwrap();
    assert_eq!(store.change_counter().await.unwrap(), start);

    let mut last = start;
    let mut moved = |now: u64, expect: bool, what: &str| {
        assert!(now >= last, "the counter went back ({what})");
        assert_eq!(now > last, expect, "{what}");
        last = now;
    };

    store
        .add_domain(a, new_domain("live.example.com"), NOW)
        .await
        .unwrap();
    moved(store.change_counter().await.unwrap(), true, "add domain");
    let name = dn("live.example.com");

    store
        .set_upload(a, &name, cn("n"), false, upload(&["x.example.com"]), NOW)
        .await
        .unwrap();
    moved(
        store.change_counter().await.unwrap(),
        false,
        "unbound record",
    );

    let up = upload(&["live.example.com"]);
    store
        .set_upload(a, &name, cn("c"), false, up.clone(), NOW)
        .await
        .unwrap();
    moved(store.change_counter().await.unwrap(), true, "bind");

    store
        .set_upload(a, &name, cn("c"), false, up, NOW)
        .await
        .unwrap();
    moved(
        store.change_counter().await.unwrap(),
        false,
        "same content again",
    );

    store
        .set_upload(a, &name, cn("c"), true, upload(&["live.example.com"]), NOW)
        .await
        .unwrap();
    moved(
        store.change_counter().await.unwrap(),
        true,
        "replace a bound record",
    );

    store
        .set_domain_flags(&name, DomainFlags::default(), NOW)
        .await
        .unwrap();
    moved(store.change_counter().await.unwrap(), false, "flags");

    store
        .set_domain_status(a, &name, DomainStatus::Offline, NOW)
        .await
        .unwrap();
    moved(store.change_counter().await.unwrap(), true, "stop");
    store
        .set_domain_status(a, &name, DomainStatus::Online, NOW)
        .await
        .unwrap();
    moved(store.change_counter().await.unwrap(), true, "start");

    store.set_https_off(a, &name, NOW).await.unwrap();
    moved(store.change_counter().await.unwrap(), true, "https off");

    store.delete_domain(a, &name).await.unwrap();
    moved(store.change_counter().await.unwrap(), true, "delete");
}

/// The edge's view: every domain of every account, HTTPS on or off, with its record's DER chain
/// and sealed key, and the counter it reflects.
pub async fn edge_snapshot_lists_every_binding(b: &dyn Backend) {
    let store = b.open();
    let a = account_with(
        &store,
        &["a.example.com", "b.example.com", "plain.example.com"],
    )
    .await;
    let other = account_with(&store, &["z.example.com"]).await;
    let ab = upload(&["a.example.com", "b.example.com"]);
    let z = upload(&["z.example.com"]);
    for d in ["a.example.com", "b.example.com"] {
        store
            .set_upload(a, &dn(d), cn("ab"), false, ab.clone(), NOW)
            .await
            .unwrap();
    }
    store
        .set_upload(other, &dn("z.example.com"), cn("z"), false, z.clone(), NOW)
        .await
        .unwrap();
    store
        .set_domain_status(a, &dn("b.example.com"), DomainStatus::Offline, NOW)
        .await
        .unwrap();

    let snap = store.edge_snapshot().await.unwrap();
    assert_eq!(snap.change_counter, store.change_counter().await.unwrap());
    let names: Vec<&str> = snap.bindings.iter().map(|x| x.domain.as_str()).collect();
    assert_eq!(
        names,
        [
            "a.example.com",
            "b.example.com",
            "plain.example.com",
            "z.example.com"
        ]
    );
    let by = |n: &str| {
        snap.bindings
            .iter()
            .find(|x| x.domain.as_str() == n)
            .unwrap()
    };
    let record = |n: &str| by(n).record.clone().expect("HTTPS on");
    let opener = store.cert_key_opener();
    assert_eq!(record("a.example.com"), record("b.example.com"));
    assert_eq!(record("a.example.com").chain_der, ab.chain_der);
    assert_eq!(
        opener.open(&record("a.example.com").key_sealed).unwrap(),
        ab.private_key_pem
    );
    assert_eq!(by("a.example.com").domain_status, DomainStatus::Online);
    assert_eq!(by("b.example.com").domain_status, DomainStatus::Offline);
    assert_eq!(by("plain.example.com").domain_status, DomainStatus::Online);
    assert_eq!(by("plain.example.com").record, None, "HTTPS off");
    assert_eq!(
        opener.open(&record("z.example.com").key_sealed).unwrap(),
        z.private_key_pem
    );
    assert_eq!(record("z.example.com").status.as_str(), "success");
    assert_eq!(record("z.example.com").not_after, z.facts.not_after);
}

/// An origin set by the operator is kept with the domain, carried in the edge's snapshot, and
/// moves the change counter (the edge must see it); clearing it moves it again.
pub async fn a_domains_origin_reaches_the_edge_snapshot(b: &dyn Backend) {
    let store = b.open();
    let a = account_with(&store, &["a.example.com"]).await;
    let name = dn("a.example.com");
    store
        .set_upload(a, &name, cn("a"), false, upload(&["a.example.com"]), NOW)
        .await
        .unwrap();
    assert_eq!(store.domain_any(&name).await.unwrap().unwrap().origin, None);
    let before = store.change_counter().await.unwrap();
    store
        .set_domain_origin(&name, Some("http://127.0.0.1:8081".into()), NOW + 1)
        .await
        .unwrap();
    let moved = store.change_counter().await.unwrap();
    assert!(moved > before);
    let d = store.domain_any(&name).await.unwrap().unwrap();
    assert_eq!(d.origin.as_deref(), Some("http://127.0.0.1:8081"));
    assert_eq!(d.modified, NOW + 1);
    let snap = store.edge_snapshot().await.unwrap();
    assert_eq!(
        snap.bindings[0].origin.as_deref(),
        Some("http://127.0.0.1:8081")
    );
    // The same origin again changes nothing the edge serves.
    store
        .set_domain_origin(&name, Some("http://127.0.0.1:8081".into()), NOW + 2)
        .await
        .unwrap();
    assert_eq!(store.change_counter().await.unwrap(), moved);
    store.set_domain_origin(&name, None, NOW + 3).await.unwrap();
    assert!(store.change_counter().await.unwrap() > moved);
    assert_eq!(
        store.edge_snapshot().await.unwrap().bindings[0].origin,
        None
    );
    assert!(matches!(
        store.set_domain_origin(&dn("nowhere.example.com"), None, NOW).await,
        Err(livecert_store::WriteError::Refused(e))
            if e.code == livecert_core::error::ErrorCode::IllegalOperationDomain
    ));
}

/// The edge's plain-HTTP port redirects the domains that require HTTPS: the flag reaches the
/// snapshot, and changing it moves the change counter (setting it again does not).
pub async fn https_required_reaches_the_edge_snapshot(b: &dyn Backend) {
    let store = b.open();
    let a = account_with(&store, &["a.example.com"]).await;
    let name = dn("a.example.com");
    store
        .set_upload(a, &name, cn("a"), false, upload(&["a.example.com"]), NOW)
        .await
        .unwrap();
    assert!(!store.edge_snapshot().await.unwrap().bindings[0].https_required);
    let required = DomainFlags {
        https_required: true,
        ..DomainFlags::default()
    };
    let before = store.change_counter().await.unwrap();
    store
        .set_domain_flags(&name, required.clone(), NOW + 1)
        .await
        .unwrap();
    let moved = store.change_counter().await.unwrap();
    assert!(moved > before);
    assert!(store.edge_snapshot().await.unwrap().bindings[0].https_required);
    store
        .set_domain_flags(&name, required, NOW + 2)
        .await
        .unwrap();
    assert_eq!(store.change_counter().await.unwrap(), moved);
    store
        .set_domain_flags(&name, DomainFlags::default(), NOW + 3)
        .await
        .unwrap();
    assert!(store.change_counter().await.unwrap() > moved);
    assert!(!store.edge_snapshot().await.unwrap().bindings[0].https_required);
}
