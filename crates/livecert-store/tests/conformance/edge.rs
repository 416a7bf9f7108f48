//! The edge's side of the store (spec/edge.md, "Updates"): the changes after a value of the change
//! counter ([`Store::edge_changes_since`]), each domain as it is now, deletions by name, a record's
//! change fanned out to every domain bound to it; private keys that reach the edge still sealed,
//! opened only by the store's [`CertKeyOpener`]; and the in-process notification of committed
//! changes ([`Store::subscribe_changes`]).

use std::collections::BTreeMap;

use livecert_core::cert::CheckedUpload;
use livecert_core::secret::MasterKey;
use livecert_store::WriteMode;
use livecert_store::{
    DomainFlags, DomainStatus, EdgeBinding, EdgeDelta, Store, StoreError, UploadOutcome,
};

use crate::support::{account_with, cn, dn, new_domain, upload, Backend, NOW};

/// What the edge would hold: every binding by name.
type Model = BTreeMap<String, EdgeBinding>;

async fn snapshot_model(store: &Store) -> (u64, Model) {
    let snap = store.edge_snapshot().await.unwrap();
    let model = snap
        .bindings
        .into_iter()
        .map(|b| (b.domain.as_str().to_owned(), b))
        .collect();
    (snap.change_counter, model)
}

fn apply(model: &mut Model, delta: EdgeDelta) {
    for name in delta.removed {
        model.remove(name.as_str());
    }
    for binding in delta.changed {
        model.insert(binding.domain.as_str().to_owned(), binding);
    }
}

fn names(bindings: &[EdgeBinding]) -> Vec<&str> {
    bindings.iter().map(|b| b.domain.as_str()).collect()
}

fn cert_id(o: &UploadOutcome) -> u64 {
    match o {
        UploadOutcome::Bound { cert_id, .. }
        | UploadOutcome::StoredNotEffective { cert_id, .. } => *cert_id,
    }
}

/// Each kind of change lists the domain as it is now; writes that change nothing the edge serves
/// list nothing; a deleted domain is listed by name only; and a snapshot with every delta after it
/// applied equals a fresh snapshot.
pub async fn edge_changes_since_lists_each_changed_domain_as_it_is_now(b: &dyn Backend) {
    let store = b.open();
    let (start, initial) = snapshot_model(&store).await;
    let mut model = initial.clone();
    let a = store.create_account(NOW).await.unwrap();
    let since = |c: u64| {
        let store = store.clone();
        async move { store.edge_changes_since(c).await.unwrap() }
    };
    let d = since(start).await;
    assert_eq!(
        d.change_counter, start,
        "an account is nothing the edge serves"
    );
    assert!(d.changed.is_empty() && d.removed.is_empty());

    // Added: online, HTTPS off, no record.
    store
        .add_domain(a, new_domain("live.example.com"), NOW)
        .await
        .unwrap();
    let name = dn("live.example.com");
    let d = since(start).await;
    assert!(d.change_counter > start);
    assert_eq!(names(&d.changed), ["live.example.com"]);
    assert_eq!(d.changed[0].domain_status, DomainStatus::Online);
    assert_eq!(d.changed[0].record, None);
    assert!(d.removed.is_empty());
    let mut last = d.change_counter;
    apply(&mut model, d);

    // An unbound record, flags that change nothing the edge reads: nothing listed.
    store
        .set_upload(
            a,
            &name,
            cn("spare"),
            false,
            upload(&["x.example.com"]),
            NOW,
        )
        .await
        .unwrap();
    store
        .set_domain_flags(&name, DomainFlags::default(), NOW)
        .await
        .unwrap();
    let d = since(last).await;
    assert_eq!(d.change_counter, last);
    assert!(d.changed.is_empty() && d.removed.is_empty());

    // Bound: the record with its DER chain.
    let up = upload(&["live.example.com"]);
    let id = cert_id(
        &store
            .set_upload(a, &name, cn("c"), false, up.clone(), NOW)
            .await
            .unwrap(),
    );
    let d = since(last).await;
    assert_eq!(names(&d.changed), ["live.example.com"]);
    let record = d.changed[0].record.as_ref().expect("HTTPS on");
    assert_eq!(record.cert_id, id);
    assert_eq!(record.status.as_str(), "success");
    assert_eq!(record.not_after, up.facts.not_after);
    assert_eq!(record.chain_der, up.chain_der);
    last = d.change_counter;
    apply(&mut model, d);

    // Each setting the edge reads: status, origin, https_required, HTTPS off.
    let expect = |d: EdgeDelta,
                  last: &mut u64,
                  model: &mut Model,
                  what: &str,
                  check: fn(&EdgeBinding) -> bool| {
        assert!(d.change_counter > *last, "{what}: the counter moves");
        assert_eq!(names(&d.changed), ["live.example.com"], "{what}");
        assert!(check(&d.changed[0]), "{what}: {:?}", d.changed[0]);
        *last = d.change_counter;
        apply(model, d);
    };
    store
        .set_domain_status(a, &name, DomainStatus::Offline, NOW)
        .await
        .unwrap();
    expect(since(last).await, &mut last, &mut model, "stop", |b| {
        b.domain_status == DomainStatus::Offline && b.record.is_some()
    });
    store
        .set_domain_status(a, &name, DomainStatus::Online, NOW)
        .await
        .unwrap();
    expect(since(last).await, &mut last, &mut model, "start", |b| {
        b.domain_status == DomainStatus::Online
    });
    store
        .set_domain_origin(&name, Some("http://127.0.0.1:8081".into()), NOW)
        .await
        .unwrap();
    expect(since(last).await, &mut last, &mut model, "origin", |b| {
        b.origin.as_deref() == Some("http://127.0.0.1:8081")
    });
    let required = DomainFlags {
        https_required: true,
        ..DomainFlags::default()
    };
    store.set_domain_flags(&name, required, NOW).await.unwrap();
    expect(
        since(last).await,
        &mut last,
        &mut model,
        "https_required",
        |b| b.https_required,
    );
    store
        .set_domain_flags(&name, DomainFlags::default(), NOW)
        .await
        .unwrap();
    expect(
        since(last).await,
        &mut last,
        &mut model,
        "https_required off",
        |b| !b.https_required,
    );
    store.set_https_off(a, &name, NOW).await.unwrap();
    expect(since(last).await, &mut last, &mut model, "https off", |b| {
        b.record.is_none()
    });

    // Deleted: listed by name, not as a binding.
    store.delete_domain(a, &name).await.unwrap();
    let d = since(last).await;
    assert!(d.changed.is_empty());
    assert_eq!(d.removed, vec![name.clone()]);
    last = d.change_counter;
    apply(&mut model, d);
    // Added again: a binding again, no longer removed.
    store
        .add_domain(a, new_domain("live.example.com"), NOW)
        .await
        .unwrap();
    let d = since(last).await;
    assert_eq!(names(&d.changed), ["live.example.com"]);
    assert!(d.removed.is_empty());
    apply(&mut model, d);

    // From the first snapshot, one delta gives the same state as the deltas one by one.
    let mut from_start = initial;
    apply(&mut from_start, since(start).await);
    let (now, fresh) = snapshot_model(&store).await;
    assert_eq!(model, fresh);
    assert_eq!(from_start, fresh);
    assert_eq!(since(now).await.change_counter, now);
}

/// A record's content or status change lists every domain bound to it (and only those), each with
/// the record as it is now.
pub async fn a_record_change_fans_out_to_every_bound_domain(b: &dyn Backend) {
    let store = b.open();
    let a = account_with(&store, &["a.example.com", "b.example.com", "c.example.com"]).await;
    let ab = upload(&["a.example.com", "b.example.com"]);
    for d in ["a.example.com", "b.example.com"] {
        store
            .set_upload(a, &dn(d), cn("ab"), false, ab.clone(), NOW)
            .await
            .unwrap();
    }
    store
        .set_upload(
            a,
            &dn("c.example.com"),
            cn("c"),
            false,
            upload(&["c.example.com"]),
            NOW,
        )
        .await
        .unwrap();
    let before = store.change_counter().await.unwrap();
    let (_, model) = snapshot_model(&store).await;
    let id = model["a.example.com"].record.as_ref().unwrap().cert_id;

    // A forced replacement of the shared record, through one of its domains.
    let renewed = upload(&["a.example.com", "b.example.com"]);
    store
        .set_upload(
            a,
            &dn("a.example.com"),
            cn("ab"),
            true,
            renewed.clone(),
            NOW + 1,
        )
        .await
        .unwrap();
    let d = store.edge_changes_since(before).await.unwrap();
    assert_eq!(names(&d.changed), ["a.example.com", "b.example.com"]);
    for binding in &d.changed {
        let record = binding.record.as_ref().unwrap();
        assert_eq!(record.cert_id, id);
        assert_eq!(record.chain_der, renewed.chain_der);
        assert_ne!(
            Some(&record.key_sealed),
            model[binding.domain.as_str()]
                .record
                .as_ref()
                .map(|r| &r.key_sealed),
            "the new key"
        );
    }
    let opener = store.cert_key_opener();
    assert_eq!(
        opener
            .open(&d.changed[0].record.as_ref().unwrap().key_sealed)
            .unwrap(),
        renewed.private_key_pem
    );

    // Revoked by the operator: both listed, with the status.
    let before = d.change_counter;
    store
        .set_certificate_status(id, "revoked", NOW + 2)
        .await
        .unwrap();
    let d = store.edge_changes_since(before).await.unwrap();
    assert_eq!(names(&d.changed), ["a.example.com", "b.example.com"]);
    assert!(d
        .changed
        .iter()
        .all(|b| b.record.as_ref().unwrap().status == "revoked"));
}

/// The edge gets each chain as DER and each private key sealed: not the PEM, opened only by the
/// store's opener, and not by another master key's.
pub async fn private_keys_reach_the_edge_sealed(b: &dyn Backend) {
    let store = b.open();
    let a = account_with(&store, &["live.example.com"]).await;
    let up: CheckedUpload = upload(&["live.example.com"]);
    store
        .set_upload(a, &dn("live.example.com"), cn("c"), false, up.clone(), NOW)
        .await
        .unwrap();
    let snap = store.edge_snapshot().await.unwrap();
    let record = snap.bindings[0].record.clone().unwrap();
    assert_eq!(record.chain_der, up.chain_der);
    let sealed = record.key_sealed.as_bytes();
    assert!(!sealed.windows(5).any(|w| w == b"BEGIN"));
    assert!(!format!("{:?}", record.key_sealed).contains("BEGIN"));
    assert_eq!(
        store.cert_key_opener().open(&record.key_sealed).unwrap(),
        up.private_key_pem
    );
    let (other, _) = MasterKey::generate().unwrap();
    drop(store);
    let wrong = b.open_with_key(other);
    assert!(matches!(
        wrong.cert_key_opener().open(&record.key_sealed),
        Err(StoreError::Secret(_))
    ));
    // The snapshot itself does not need the key to open.
    assert_eq!(wrong.edge_snapshot().await.unwrap().bindings.len(), 1);
}

/// A commit that moves the change counter is published to subscribers by the time the call is
/// answered; dry runs, refusals and writes the edge does not see publish nothing.
pub async fn committed_changes_are_published_in_process(b: &dyn Backend) {
    let store = b.open();
    let mut changes = store.subscribe_changes();
    assert_eq!(
        *changes.borrow_and_update(),
        store.change_counter().await.unwrap()
    );
    let a = store.create_account(NOW).await.unwrap();
    store
        .in_mode(WriteMode::DryRun)
        .add_domain(a, new_domain("live.example.com"), NOW)
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
