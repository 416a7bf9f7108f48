//! DryRun (spec/operations.md: "run every check and change nothing (not even row 28's library
//! write); answer DryRunOperation when the call would have succeeded, and otherwise the refusal's
//! own code"): each write through a `WriteMode::DryRun` handle answers what the real call answers right after it, and the
//! store's content — every row of every table, everything the API reads, the change counter — is
//! the same before and after the dry run.

use std::fmt::{Debug, Write as _};

use livecert_core::error::ErrorCode;
use livecert_store::WriteMode;
use livecert_store::{DomainFlags, OffOutcome, Store, UploadOutcome, WriteError};

use crate::support::{
    account_with, cn, dn, new_domain, same_leaf_other_chain, upload, Backend, NOW,
};

/// Everything the store holds: every row under the API, and everything the API reads (accounts,
/// domains, libraries with opened private keys, the edge snapshot, the change counter).
async fn everything(b: &dyn Backend, store: &Store) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "change counter {}",
        store.change_counter().await.unwrap()
    );
    for account in store.account_ids().await.unwrap() {
        let domains = store.domains(account).await.unwrap();
        let _ = writeln!(out, "account {account}\n{domains:?}");
        for record in store.list_certificates(account, None).await.unwrap() {
            let key = store
                .certificate_private_key(record.cert_id)
                .await
                .unwrap()
                .unwrap();
            let bound = store.domains_bound_to(record.cert_id).await.unwrap();
            let _ = writeln!(
                out,
                "{record:?}\nkey {}\nbound to {bound:?}",
                String::from_utf8_lossy(key.expose())
            );
        }
    }
    let edge = store.edge_snapshot().await.unwrap();
    let _ = writeln!(out, "edge at {}", edge.change_counter);
    let opener = store.cert_key_opener();
    for binding in edge.bindings {
        let key = binding
            .record
            .as_ref()
            .map(|r| opener.open(&r.key_sealed).unwrap());
        let _ = writeln!(
            out,
            "{binding:?} {:?}",
            key.as_ref().map(|k| String::from_utf8_lossy(k.expose()))
        );
    }
    out.push_str(&b.dump());
    out
}

/// A result in comparable form: the value, the refusal's code and text, or the kind of failure.
fn answer<T: Debug>(result: &Result<T, WriteError>) -> String {
    match result {
        Ok(value) => format!("Ok({value:?})"),
        Err(WriteError::Refused(e)) => format!("Refused({:?}, {:?})", e.code, e.detail),
        Err(WriteError::Store(e)) => format!(
            "Store({})",
            e.to_string().split(':').next().unwrap_or_default()
        ),
    }
}

/// Runs `dry`, checks that nothing changed, runs `real`, and checks that both answered the same
/// (after `normalize`, which a caller uses for the CertId a dry run reports as 0); returns the real
/// answer.
macro_rules! same_as_real {
    ($b:expr, $store:expr, $dry:expr, $real:expr) => {
        same_as_real!($b, $store, $dry, $real, |r| r)
    };
    ($b:expr, $store:expr, $dry:expr, $real:expr, $normalize:expr) => {{
        let before = everything($b, $store).await;
        let dry = $dry.await;
        assert_eq!(
            everything($b, $store).await,
            before,
            "the dry run changed the store"
        );
        let real = $real.await;
        #[allow(clippy::redundant_closure_call)]
        let normalized = ($normalize)(answer(&real));
        assert_eq!(answer(&dry), normalized, "dry run and real call differ");
        real
    }};
}

fn code<T: Debug>(result: &Result<T, WriteError>) -> ErrorCode {
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

/// The answer with the CertId of a record the real call created replaced by the dry run's 0.
fn created(cert_id: u64) -> impl Fn(String) -> String {
    move |a| a.replace(&format!("cert_id: {cert_id},"), "cert_id: 0,")
}

/// AddLiveDomain: success, and `DomainAlreadyExist` for the caller's own and another account's
/// name.
pub async fn add_domain_dry_run_answers_as_the_real_call(b: &dyn Backend) {
    let store = b.open();
    let a = account_with(&store, &["live.example.com"]).await;
    let other = account_with(&store, &[]).await;

    same_as_real!(
        b,
        &store,
        store
            .in_mode(WriteMode::DryRun)
            .add_domain(a, new_domain("new.example.com"), NOW + 1),
        store.add_domain(a, new_domain("new.example.com"), NOW + 1)
    )
    .unwrap();
    for account in [a, other] {
        let real = same_as_real!(
            b,
            &store,
            store.in_mode(WriteMode::DryRun).add_domain(
                account,
                new_domain("live.example.com"),
                NOW + 2
            ),
            store.add_domain(account, new_domain("live.example.com"), NOW + 2)
        );
        assert_eq!(code(&real), ErrorCode::DomainAlreadyExist);
    }
}

/// HTTPS off: turned off (row 15), already off (row 13), required (row 12), foreign (row 7),
/// locked (row 8), offline (row 11).
pub async fn set_https_off_dry_run_answers_as_the_real_call(b: &dyn Backend) {
    let store = b.open();
    let a = account_with(&store, &["live.example.com", "www.example.com"]).await;
    let other = account_with(&store, &[]).await;
    let name = dn("live.example.com");
    store
        .set_upload(a, &name, cn("c"), false, upload(&["live.example.com"]), NOW)
        .await
        .unwrap();

    let real = same_as_real!(
        b,
        &store,
        store
            .in_mode(WriteMode::DryRun)
            .set_https_off(a, &name, NOW + 5),
        store.set_https_off(a, &name, NOW + 5)
    );
    assert_eq!(real.unwrap(), OffOutcome::TurnedOff);
    let real = same_as_real!(
        b,
        &store,
        store
            .in_mode(WriteMode::DryRun)
            .set_https_off(a, &name, NOW + 6),
        store.set_https_off(a, &name, NOW + 6)
    );
    assert_eq!(real.unwrap(), OffOutcome::AlreadyOff);
    let real = same_as_real!(
        b,
        &store,
        store
            .in_mode(WriteMode::DryRun)
            .set_https_off(other, &name, NOW + 6),
        store.set_https_off(other, &name, NOW + 6)
    );
    assert_eq!(code(&real), ErrorCode::IllegalOperationDomain);

    for (flags, expected) in [
        (
            DomainFlags {
                https_required: true,
                ..DomainFlags::default()
            },
            ErrorCode::CertificateNotPermittedOff,
        ),
        (
            DomainFlags {
                locked: true,
                ..DomainFlags::default()
            },
            ErrorCode::IllegalOperation,
        ),
    ] {
        store.set_domain_flags(&name, flags, NOW).await.unwrap();
        let real = same_as_real!(
            b,
            &store,
            store
                .in_mode(WriteMode::DryRun)
                .set_https_off(a, &name, NOW + 7),
            store.set_https_off(a, &name, NOW + 7)
        );
        assert_eq!(code(&real), expected);
    }

    let www = dn("www.example.com");
    store
        .set_domain_status(a, &www, livecert_store::DomainStatus::Offline, NOW)
        .await
        .unwrap();
    let real = same_as_real!(
        b,
        &store,
        store
            .in_mode(WriteMode::DryRun)
            .set_https_off(a, &www, NOW + 8),
        store.set_https_off(a, &www, NOW + 8)
    );
    assert_eq!(code(&real), ErrorCode::InvalidDomainNotOnline);
}

/// Uploads: create and bind (row 29, no CertId taken), same content (row 25), duplicate name
/// (row 23), duplicate leaf (row 24), forced replacement (kept CertId, content unchanged by the dry
/// run), replacement that does not cover a bound domain (row 26), not covering the domain (row 28:
/// no record stored), a storage failure (row 27), a locked domain (row 8).
pub async fn set_upload_dry_run_answers_as_the_real_call(b: &dyn Backend) {
    let store = b.open();
    let a = account_with(&store, &["live.example.com", "www.example.com"]).await;
    let name = dn("live.example.com");
    let both = upload(&["live.example.com", "www.example.com"]);

    // Row 29, creating: the dry run answers Bound with CertId 0 and takes no CertId.
    let dry = store
        .in_mode(WriteMode::DryRun)
        .set_upload(a, &name, cn("c"), false, both.clone(), NOW)
        .await
        .unwrap();
    assert_eq!(
        dry,
        UploadOutcome::Bound {
            cert_id: 0,
            cert_name: cn("c")
        }
    );
    let before = everything(b, &store).await;
    let first = {
        // The same comparison as `same_as_real!`, with the real CertId known only afterwards.
        let dry = store
            .in_mode(WriteMode::DryRun)
            .set_upload(a, &name, cn("c"), false, both.clone(), NOW)
            .await;
        assert_eq!(everything(b, &store).await, before);
        let real = store
            .set_upload(a, &name, cn("c"), false, both.clone(), NOW)
            .await;
        let id = bound_id(real.as_ref().unwrap());
        assert_eq!(answer(&dry), created(id)(answer(&real)));
        id
    };
    assert!(store.list_certificates(a, None).await.unwrap().len() == 1);

    // Row 25: same content, same record.
    let real = same_as_real!(
        b,
        &store,
        store.in_mode(WriteMode::DryRun).set_upload(
            a,
            &name,
            cn("c"),
            false,
            both.clone(),
            NOW + 1
        ),
        store.set_upload(a, &name, cn("c"), false, both.clone(), NOW + 1)
    );
    assert_eq!(bound_id(&real.unwrap()), first);
    // Row 25 for another domain it covers: the binding is the dry run's only write.
    let real = same_as_real!(
        b,
        &store,
        store.in_mode(WriteMode::DryRun).set_upload(
            a,
            &dn("www.example.com"),
            cn("c"),
            false,
            both.clone(),
            NOW + 1
        ),
        store.set_upload(
            a,
            &dn("www.example.com"),
            cn("c"),
            false,
            both.clone(),
            NOW + 1
        )
    );
    assert_eq!(bound_id(&real.unwrap()), first);

    // Row 23: Certificate.Duplicated.
    let real = same_as_real!(
        b,
        &store,
        store.in_mode(WriteMode::DryRun).set_upload(
            a,
            &name,
            cn("c"),
            false,
            same_leaf_other_chain(&both),
            NOW + 2
        ),
        store.set_upload(
            a,
            &name,
            cn("c"),
            false,
            same_leaf_other_chain(&both),
            NOW + 2
        )
    );
    assert_eq!(code(&real), ErrorCode::CertificateDuplicated);

    // Row 24: CertificateContent.Duplicated.
    let real = same_as_real!(
        b,
        &store,
        store.in_mode(WriteMode::DryRun).set_upload(
            a,
            &name,
            cn("other"),
            false,
            both.clone(),
            NOW + 2
        ),
        store.set_upload(a, &name, cn("other"), false, both.clone(), NOW + 2)
    );
    assert_eq!(code(&real), ErrorCode::CertificateContentDuplicated);

    // Row 26: a forced replacement that does not cover www.example.com, bound to the record.
    let narrow = upload(&["live.example.com"]);
    let real = same_as_real!(
        b,
        &store,
        store.in_mode(WriteMode::DryRun).set_upload(
            a,
            &name,
            cn("c"),
            true,
            narrow.clone(),
            NOW + 3
        ),
        store.set_upload(a, &name, cn("c"), true, narrow.clone(), NOW + 3)
    );
    assert_eq!(code(&real), ErrorCode::SetDomainCertificateParameterError);

    // A forced replacement: same CertId; the dry run leaves content, key and LastTime alone.
    let renewed = upload(&["live.example.com", "www.example.com", "new.example.com"]);
    let real = same_as_real!(
        b,
        &store,
        store.in_mode(WriteMode::DryRun).set_upload(
            a,
            &name,
            cn("c"),
            true,
            renewed.clone(),
            NOW + 4
        ),
        store.set_upload(a, &name, cn("c"), true, renewed.clone(), NOW + 4)
    );
    assert_eq!(bound_id(&real.unwrap()), first);
    assert_eq!(
        store
            .certificate(a, first)
            .await
            .unwrap()
            .unwrap()
            .last_changed,
        NOW + 4
    );

    // Row 28: the dry run stores no record (and answers CertId 0); the real call stores one.
    let elsewhere = upload(&["elsewhere.example.com"]);
    let before = everything(b, &store).await;
    let dry = store
        .in_mode(WriteMode::DryRun)
        .set_upload(a, &name, cn("else"), false, elsewhere.clone(), NOW + 5)
        .await;
    assert_eq!(everything(b, &store).await, before);
    assert!(store
        .certificate_by_name(a, &cn("else"))
        .await
        .unwrap()
        .is_none());
    let real = store
        .set_upload(a, &name, cn("else"), false, elsewhere.clone(), NOW + 5)
        .await;
    let UploadOutcome::StoredNotEffective { cert_id, .. } = real.as_ref().unwrap() else {
        panic!("expected StoredNotEffective, got {real:?}")
    };
    assert_eq!(
        dry.as_ref().unwrap(),
        &UploadOutcome::StoredNotEffective {
            cert_id: 0,
            cert_name: cn("else")
        }
    );
    assert_eq!(answer(&dry), created(*cert_id)(answer(&real)));
    // The dry run took no CertId: the real record has the next one after the first.
    assert_eq!(*cert_id, first + 1);

    // Row 28 again, forced over that record: it exists, so its CertId is answered.
    let real = same_as_real!(
        b,
        &store,
        store.in_mode(WriteMode::DryRun).set_upload(
            a,
            &name,
            cn("else"),
            true,
            upload(&["x.example.com"]),
            NOW + 6
        ),
        store.set_upload(
            a,
            &name,
            cn("else"),
            true,
            upload(&["x.example.com"]),
            NOW + 6
        )
    );
    assert!(matches!(
        real.unwrap(),
        UploadOutcome::StoredNotEffective { cert_id: id, .. } if id == first + 1
    ));

    // Row 27: the library write fails in the database: the same store failure.
    b.inject_insert_failure("broken");
    let real = same_as_real!(
        b,
        &store,
        store.in_mode(WriteMode::DryRun).set_upload(
            a,
            &name,
            cn("broken"),
            false,
            upload(&["live.example.com"]),
            NOW + 7
        ),
        store.set_upload(
            a,
            &name,
            cn("broken"),
            false,
            upload(&["live.example.com"]),
            NOW + 7
        )
    );
    assert!(matches!(real, Err(WriteError::Store(_))), "{real:?}");

    // Row 8: locked.
    store
        .set_domain_flags(
            &name,
            DomainFlags {
                locked: true,
                ..DomainFlags::default()
            },
            NOW,
        )
        .await
        .unwrap();
    let real = same_as_real!(
        b,
        &store,
        store.in_mode(WriteMode::DryRun).set_upload(
            a,
            &name,
            cn("n"),
            false,
            upload(&["live.example.com"]),
            NOW
        ),
        store.set_upload(a, &name, cn("n"), false, upload(&["live.example.com"]), NOW)
    );
    assert_eq!(code(&real), ErrorCode::IllegalOperation);
}

/// The cas binding: bound (HTTPS on), already bound (no change), and the refusals
/// `Certificate.NotFind`, `Certificate.SettedNotEffect`, `Certificate.Expired`,
/// `Certificate.StatusError`.
pub async fn bind_certificate_dry_run_answers_as_the_real_call(b: &dyn Backend) {
    let store = b.open();
    let a = account_with(&store, &["live.example.com", "www.example.com"]).await;
    let other = account_with(&store, &["other.example.com"]).await;
    let www = dn("www.example.com");
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
    let UploadOutcome::StoredNotEffective {
        cert_id: elsewhere, ..
    } = store
        .set_upload(a, &www, cn("e"), false, upload(&["e.example.com"]), NOW)
        .await
        .unwrap()
    else {
        panic!("expected StoredNotEffective")
    };

    let real = same_as_real!(
        b,
        &store,
        store
            .in_mode(WriteMode::DryRun)
            .bind_certificate(other, &dn("other.example.com"), id, NOW),
        store.bind_certificate(other, &dn("other.example.com"), id, NOW)
    );
    assert_eq!(code(&real), ErrorCode::CertificateNotFind);
    let real = same_as_real!(
        b,
        &store,
        store
            .in_mode(WriteMode::DryRun)
            .bind_certificate(a, &www, elsewhere, NOW),
        store.bind_certificate(a, &www, elsewhere, NOW)
    );
    assert_eq!(code(&real), ErrorCode::CertificateSettedNotEffect);
    let late = both.facts.not_after + 1;
    let real = same_as_real!(
        b,
        &store,
        store
            .in_mode(WriteMode::DryRun)
            .bind_certificate(a, &www, id, late),
        store.bind_certificate(a, &www, id, late)
    );
    assert_eq!(code(&real), ErrorCode::CertificateExpired);
    store
        .set_certificate_status(id, "revoked", NOW)
        .await
        .unwrap();
    let real = same_as_real!(
        b,
        &store,
        store
            .in_mode(WriteMode::DryRun)
            .bind_certificate(a, &www, id, NOW),
        store.bind_certificate(a, &www, id, NOW)
    );
    assert_eq!(code(&real), ErrorCode::CertificateStatusErrorCas);
    store
        .set_certificate_status(id, "success", NOW)
        .await
        .unwrap();

    // Success: the dry run leaves the domain unbound; the real call binds it.
    same_as_real!(
        b,
        &store,
        store
            .in_mode(WriteMode::DryRun)
            .bind_certificate(a, &www, id, NOW + 1),
        store.bind_certificate(a, &www, id, NOW + 1)
    )
    .unwrap();
    let d = store.domain(a, &www).await.unwrap().unwrap();
    assert_eq!((d.https, d.cert_id), (true, Some(id)));
    // Already bound: success, nothing to write either way.
    same_as_real!(
        b,
        &store,
        store
            .in_mode(WriteMode::DryRun)
            .bind_certificate(a, &www, id, NOW + 2),
        store.bind_certificate(a, &www, id, NOW + 2)
    )
    .unwrap();
}

/// Dry runs queued among real writes share their groups: each is answered as if alone, keeps
/// nothing, and does not undo its neighbours.
pub async fn dry_runs_among_real_writes_keep_nothing(b: &dyn Backend) {
    let store = b.open();
    let a = account_with(&store, &[]).await;
    let mut tasks = Vec::new();
    for i in 0..60 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let domain = new_domain(&format!("d{i}.example.com"));
            if i % 2 == 0 {
                store.add_domain(a, domain, NOW).await
            } else {
                store
                    .in_mode(WriteMode::DryRun)
                    .add_domain(a, domain, NOW)
                    .await
            }
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let mut names: Vec<String> = store
        .domains(a)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.name.to_string())
        .collect();
    names.sort();
    let mut expected: Vec<String> = (0..60)
        .filter(|i| i % 2 == 0)
        .map(|i| format!("d{i}.example.com"))
        .collect();
    expected.sort();
    assert_eq!(names, expected);
    // Every odd name is still free, for real.
    for i in (1..60).step_by(2) {
        store
            .add_domain(a, new_domain(&format!("d{i}.example.com")), NOW)
            .await
            .unwrap();
    }
}
