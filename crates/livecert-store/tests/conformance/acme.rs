//! The ACME issuer's store operations (issue 13): the request that reserves an `applying` record
//! and queues one order; leases taken once and taken over when they run out, fairly across
//! accounts; an order's end (filled and bound, or failed with its problem, or retried); the
//! challenges every edge reads; the renewals that fall due; the ACME account kept once, sealed.

use livecert_core::error::ErrorCode;
use livecert_store::{
    AcmeChallenge, AcmeProblem, ChallengeKind, FreeRequested, OrderCompletion, OrderPurpose,
    OrderState, WriteError, WriteMode,
};

use crate::support::{account_with, cn, dn, upload, Backend, NOW};

fn ordered(requested: &FreeRequested) -> (u64, u64) {
    match requested {
        FreeRequested::Ordered {
            order_id, cert_id, ..
        } => (*order_id, *cert_id),
        FreeRequested::AlreadyOrdered { .. } => panic!("expected a new order, got {requested:?}"),
    }
}

fn problem(kind: &str) -> AcmeProblem {
    AcmeProblem {
        problem_type: format!("urn:ietf:params:acme:error:{kind}"),
        detail: format!("{kind} detail"),
        identifier: Some("dns:live.example.com".into()),
    }
}

/// Row 37 with ACME: the record is `applying`, empty, named; the domain is not bound yet; a second
/// request while the order runs queues nothing; another domain cannot take the name without
/// `ForceSet`; a DryRun reserves nothing.
pub async fn a_free_request_reserves_an_applying_record_and_one_order(b: &dyn Backend) {
    let store = b.open();
    let a = account_with(&store, &["live.example.com", "www.example.com"]).await;
    let live = dn("live.example.com");
    let dry = store
        .in_mode(WriteMode::DryRun)
        .request_free(a, &live, cn("free"), true, false, NOW)
        .await
        .unwrap();
    assert!(matches!(dry, FreeRequested::Ordered { .. }));
    assert!(store
        .certificate_by_name(a, &cn("free"))
        .await
        .unwrap()
        .is_none());
    assert!(store.acme_orders_for_status(0, 0).await.unwrap().is_empty());

    let (order_id, cert_id) = ordered(
        &store
            .request_free(a, &live, cn("free"), true, false, NOW)
            .await
            .unwrap(),
    );
    let record = store.certificate(a, cert_id).await.unwrap().unwrap();
    assert_eq!(
        (record.cert_type.as_str(), record.status.as_str()),
        ("free", "applying")
    );
    assert_eq!(record.chain_pem, "");
    assert_eq!(record.facts.dns_sans, vec!["live.example.com".to_owned()]);
    let domain = store.domain(a, &live).await.unwrap().unwrap();
    assert!(
        !domain.https && domain.cert_id.is_none(),
        "bound only once issued"
    );

    // Again without a CertName (a generated one), or with the same one: that order answers.
    for (name, given) in [("generated-1", false), ("free", true)] {
        let again = store
            .request_free(a, &live, cn(name), given, false, NOW + 1)
            .await
            .unwrap();
        assert_eq!(
            again,
            FreeRequested::AlreadyOrdered {
                cert_id,
                cert_name: cn("free")
            }
        );
    }
    // Another CertName while it runs: refused, nothing reserved.
    let other = store
        .request_free(a, &live, cn("other-name"), true, false, NOW + 1)
        .await;
    assert!(
        matches!(&other, Err(WriteError::Refused(e)) if e.code == ErrorCode::SetDomainCertificateParameterError && e.message().contains("\"free\"")),
        "{other:?}"
    );
    assert!(store
        .certificate_by_name(a, &cn("other-name"))
        .await
        .unwrap()
        .is_none());
    let taken = store
        .request_free(a, &dn("www.example.com"), cn("free"), true, false, NOW)
        .await;
    assert!(
        matches!(&taken, Err(WriteError::Refused(e)) if e.code == ErrorCode::CertificateDuplicated),
        "{taken:?}"
    );
    let orders = store.acme_orders_for_status(0, 0).await.unwrap();
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].id, order_id);
    assert_eq!(orders[0].state, OrderState::Pending);
    assert_eq!(orders[0].purpose, OrderPurpose::Issue);
    assert_eq!(orders[0].cert_name, cn("free"));
}

/// A lease is taken by one node only; it counts an attempt; another node takes the order over
/// once the lease has run out, and then the first node can neither extend nor end it. The
/// holder's end fills the record in place, binds the domain and removes the challenges.
pub async fn leases_are_taken_once_and_taken_over_when_they_run_out(b: &dyn Backend) {
    let store = b.open();
    let a = account_with(&store, &["live.example.com"]).await;
    let live = dn("live.example.com");
    let (order_id, cert_id) = ordered(
        &store
            .request_free(a, &live, cn("free"), true, false, NOW)
            .await
            .unwrap(),
    );

    let first = store
        .claim_acme_orders("node-a", NOW, NOW + 60, 8, 2)
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!((first[0].id, first[0].attempts), (order_id, 1));
    assert!(store
        .claim_acme_orders("node-b", NOW + 30, NOW + 90, 8, 2)
        .await
        .unwrap()
        .is_empty());
    store
        .put_acme_challenge(AcmeChallenge {
            token: "tok".into(),
            domain: "live.example.com".into(),
            kind: ChallengeKind::Http01,
            key_authorization: "tok.thumb".into(),
            order_id,
            expires: NOW + 3600,
        })
        .await
        .unwrap();
    assert_eq!(store.acme_challenges(NOW, 100).await.unwrap().len(), 1);

    // node-a stops cleanly and gives its lease back: the order is due again at once.
    assert_eq!(
        store.release_acme_leases("node-a", NOW + 10).await.unwrap(),
        1
    );
    assert!(store.acme_challenges(NOW, 100).await.unwrap().is_empty());
    let back = store
        .claim_acme_orders("node-a", NOW + 11, NOW + 60, 8, 2)
        .await
        .unwrap();
    assert_eq!((back[0].id, back[0].attempts), (order_id, 2));
    // node-a stops extending; after its lease node-b takes the order over.
    let taken = store
        .claim_acme_orders("node-b", NOW + 61, NOW + 121, 8, 2)
        .await
        .unwrap();
    assert_eq!((taken[0].id, taken[0].attempts), (order_id, 3));
    assert!(!store
        .renew_acme_lease(order_id, "node-a", NOW + 200, None, None, NOW + 62)
        .await
        .unwrap());
    assert!(store
        .renew_acme_lease(
            order_id,
            "node-b",
            NOW + 200,
            Some("https://ca.test/order/1"),
            Some(ChallengeKind::Http01),
            NOW + 62
        )
        .await
        .unwrap());
    let issued = upload(&["live.example.com"]);
    assert!(store
        .complete_acme_order(order_id, "node-a", issued.clone(), NOW + 1000, NOW + 63)
        .await
        .is_err());
    let done = store
        .complete_acme_order(order_id, "node-b", issued.clone(), NOW + 1000, NOW + 63)
        .await
        .unwrap();
    assert_eq!(done, OrderCompletion::Bound);
    let record = store.certificate(a, cert_id).await.unwrap().unwrap();
    assert_eq!(record.status.as_str(), "success");
    assert_eq!(record.chain_pem, issued.chain_pem);
    assert_eq!(record.facts, issued.facts);
    let domain = store.domain(a, &live).await.unwrap().unwrap();
    assert!(domain.https);
    assert_eq!(domain.cert_id, Some(cert_id));
    assert!(store.acme_challenges(NOW, 100).await.unwrap().is_empty());
    let order = store
        .latest_acme_order_for_domain(a, &live)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(order.state, OrderState::Valid);
    assert_eq!(order.order_url.as_deref(), Some("https://ca.test/order/1"));
    assert_eq!(order.lease_owner, None);
    assert_eq!(
        store.acme_renewal_times().await.unwrap(),
        vec![("live.example.com".to_owned(), NOW + 1000)]
    );
    assert!(store.acme_orders_for_status(0, 0).await.unwrap().is_empty());
}

/// A node takes at most `per_account` orders of one account, so another account's order is not
/// stuck behind a flood.
pub async fn one_account_cannot_fill_a_nodes_slots(b: &dyn Backend) {
    let store = b.open();
    let flood: Vec<String> = (0..5).map(|i| format!("d{i}.example.com")).collect();
    let names: Vec<&str> = flood.iter().map(String::as_str).collect();
    let big = account_with(&store, &names).await;
    for (i, d) in flood.iter().enumerate() {
        store
            .request_free(big, &dn(d), cn(&format!("c{i}")), true, false, NOW)
            .await
            .unwrap();
    }
    let small = account_with(&store, &["small.example.com"]).await;
    store
        .request_free(
            small,
            &dn("small.example.com"),
            cn("s"),
            true,
            false,
            NOW + 1,
        )
        .await
        .unwrap();
    let claimed = store
        .claim_acme_orders("node", NOW + 2, NOW + 60, 8, 2)
        .await
        .unwrap();
    let of = |account| claimed.iter().filter(|o| o.account_id == account).count();
    assert_eq!((of(big), of(small)), (2, 1));
    // The node holds two of that account's: nothing more of it until one ends.
    let more = store
        .claim_acme_orders("node", NOW + 3, NOW + 60, 8, 2)
        .await
        .unwrap();
    assert!(more.is_empty(), "{more:?}");
}

/// A retried attempt keeps the record `applying`, the order pending until its time, the problem
/// visible; a final failure marks the record `failed`; a new request with `ForceSet=1` on that
/// record makes it `applying` again with a new order, due a minute later (after one failure).
pub async fn failures_are_retried_or_final_with_their_problem(b: &dyn Backend) {
    let store = b.open();
    let a = account_with(&store, &["live.example.com"]).await;
    let live = dn("live.example.com");
    let (order_id, cert_id) = ordered(
        &store
            .request_free(a, &live, cn("free"), true, false, NOW)
            .await
            .unwrap(),
    );
    store
        .claim_acme_orders("node", NOW, NOW + 60, 8, 2)
        .await
        .unwrap();
    store
        .fail_acme_order(
            order_id,
            "node",
            problem("serverInternal"),
            Some(NOW + 30),
            NOW + 1,
        )
        .await
        .unwrap();
    let record = store.certificate(a, cert_id).await.unwrap().unwrap();
    assert_eq!(record.status.as_str(), "applying");
    let order = store
        .latest_acme_order_for_record(cert_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(order.state, OrderState::Pending);
    assert_eq!(order.problem, Some(problem("serverInternal")));
    assert!(store
        .claim_acme_orders("node", NOW + 29, NOW + 90, 8, 2)
        .await
        .unwrap()
        .is_empty());
    let retried = store
        .claim_acme_orders("node", NOW + 30, NOW + 90, 8, 2)
        .await
        .unwrap();
    assert_eq!(retried[0].attempts, 2);
    store
        .fail_acme_order(order_id, "node", problem("unauthorized"), None, NOW + 31)
        .await
        .unwrap();
    let record = store.certificate(a, cert_id).await.unwrap().unwrap();
    assert_eq!(record.status.as_str(), "failed");
    let listed = store.acme_orders_for_status(NOW, 0).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].state, OrderState::Failed);
    assert_eq!(listed[0].problem, Some(problem("unauthorized")));
    assert!(store
        .acme_orders_for_status(NOW + 32, 0)
        .await
        .unwrap()
        .is_empty());
    // Not usable for CertType=cas (row 33), and the name is taken without ForceSet.
    let bind = store.bind_certificate(a, &live, cert_id, NOW + 40).await;
    assert!(
        matches!(&bind, Err(WriteError::Refused(e)) if e.code == ErrorCode::CertificateStatusErrorCas),
        "{bind:?}"
    );
    let again = store
        .request_free(a, &live, cn("free"), true, true, NOW + 50)
        .await
        .unwrap();
    let (_, again_cert) = ordered(&again);
    assert_eq!(
        again_cert, cert_id,
        "ForceSet reissues into the same record"
    );
    let record = store.certificate(a, cert_id).await.unwrap().unwrap();
    assert_eq!(record.status.as_str(), "applying");
    // After a failure the domain's next order waits a minute: the CA is not hammered.
    assert!(store
        .claim_acme_orders("node", NOW + 109, NOW + 200, 8, 2)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store
            .claim_acme_orders("node", NOW + 110, NOW + 200, 8, 2)
            .await
            .unwrap()
            .len(),
        1
    );
}

/// A bound free record falls due at two thirds of its lifetime (or its renewal time once the ACME
/// issuer stored one); the renewal replaces it in place, bindings kept; a due record is queued
/// once; a record the operator revokes during its renewal stays revoked, with its old content.
pub async fn renewals_fall_due_once_and_replace_the_record_in_place(b: &dyn Backend) {
    let store = b.open();
    let a = account_with(&store, &["live.example.com"]).await;
    let live = dn("live.example.com");
    let first = upload(&["live.example.com"]);
    let two_thirds =
        first.facts.not_before + (first.facts.not_after - first.facts.not_before) * 2 / 3;
    store
        .set_free(a, &live, cn("free"), false, first.clone(), NOW)
        .await
        .unwrap();
    assert_eq!(
        store
            .schedule_acme_renewals(two_thirds - 1, 10)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store.acme_renewal_times().await.unwrap(),
        vec![("live.example.com".to_owned(), two_thirds)]
    );
    assert_eq!(
        store.schedule_acme_renewals(two_thirds, 10).await.unwrap(),
        1
    );
    assert_eq!(
        store
            .schedule_acme_renewals(two_thirds + 1, 10)
            .await
            .unwrap(),
        0,
        "queued once"
    );
    let orders = store
        .claim_acme_orders("node", two_thirds, two_thirds + 60, 8, 2)
        .await
        .unwrap();
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].purpose, OrderPurpose::Renew);
    let renewed = upload(&["live.example.com"]);
    let done = store
        .complete_acme_order(
            orders[0].id,
            "node",
            renewed.clone(),
            two_thirds + 500,
            two_thirds + 1,
        )
        .await
        .unwrap();
    assert_eq!(done, OrderCompletion::Renewed);
    let domain = store.domain(a, &live).await.unwrap().unwrap();
    let record = store
        .certificate(a, domain.cert_id.expect("still bound"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.cert_name, cn("free"));
    assert_eq!(record.chain_pem, renewed.chain_pem);
    assert_eq!(
        store
            .schedule_acme_renewals(two_thirds + 499, 10)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .schedule_acme_renewals(two_thirds + 500, 10)
            .await
            .unwrap(),
        1
    );
    // Revoked by the operator while that renewal runs: the renewal stores nothing.
    let orders = store
        .claim_acme_orders("node", two_thirds + 500, two_thirds + 560, 8, 2)
        .await
        .unwrap();
    let cert_id = domain.cert_id.expect("bound");
    store
        .set_certificate_status(cert_id, "revoked", two_thirds + 501)
        .await
        .unwrap();
    let done = store
        .complete_acme_order(
            orders[0].id,
            "node",
            upload(&["live.example.com"]),
            two_thirds + 900,
            two_thirds + 502,
        )
        .await
        .unwrap();
    assert_eq!(done, OrderCompletion::RecordRevoked);
    let record = store.certificate(a, cert_id).await.unwrap().unwrap();
    assert_eq!(record.status.as_str(), "revoked");
    assert_eq!(record.chain_pem, renewed.chain_pem);
    // Old ended orders go, each record's latest stays.
    assert_eq!(
        store.prune_acme_orders(two_thirds + 1, 100).await.unwrap(),
        0,
        "the first renewal ended at two_thirds + 1, not before"
    );
    assert_eq!(
        store
            .prune_acme_orders(two_thirds + 10_000, 100)
            .await
            .unwrap(),
        1,
        "the first renewal goes; the revoked one, the record's latest, stays"
    );
    let latest = store
        .latest_acme_order_for_record(cert_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(latest.id, orders[0].id);
}

/// The ACME account is kept once (the first node's), sealed, and opened on the way out.
pub async fn the_acme_account_is_kept_once_and_sealed(b: &dyn Backend) {
    let store = b.open();
    let directory = "https://ca.test/directory";
    assert!(store.acme_account(directory).await.unwrap().is_none());
    let secret = br#"{"id":"https://ca.test/acct/1","key_pkcs8":"c2VjcmV0LWtleS1ieXRlcw"}"#;
    assert!(store
        .put_acme_account(directory, secret, NOW)
        .await
        .unwrap());
    assert!(!store
        .put_acme_account(directory, b"{\"id\":\"second\"}", NOW)
        .await
        .unwrap());
    let kept = store.acme_account(directory).await.unwrap().unwrap();
    assert_eq!(kept.expose(), secret);
    let raw = b.raw_bytes();
    assert!(
        !raw.windows(b"c2VjcmV0LWtleS1ieXRlcw".len())
            .any(|w| w == b"c2VjcmV0LWtleS1ieXRlcw"),
        "the account key is stored in the clear"
    );
}
