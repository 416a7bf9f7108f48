//! `livecert_store::migrate::sqlite_to_postgres`: an SQLite store filled through the Store API,
//! moved into a fresh PostgreSQL database, reads back the same through `Store::open_postgres`;
//! new CertIds continue after the copied ones; a second migration into the now non-empty
//! database, and one with the wrong master key, are refused and write nothing.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use livecert_core::secret::{MasterKey, Secret};
use livecert_store::migrate::sqlite_to_postgres;
use livecert_store::{AccountId, AuditEntry, AuditFilter, DomainStatus, Store, StoreError};

use crate::support::{cn, dn, new_domain, upload, Postgres, NOW};

/// An audit entry for `account`.
fn entry(account: AccountId, n: u64) -> AuditEntry {
    AuditEntry {
        time: NOW + i64::try_from(n).unwrap(),
        request_id: format!("00000000-0000-4000-8000-{n:012X}"),
        account_id: account,
        principal: "root".into(),
        access_key_id: "testid".into(),
        source_ip: "192.0.2.7".into(),
        operation: "SetLiveDomainCertificate".into(),
        domain: Some("a.example.com".into()),
        cert_name: Some("c".into()),
        cert_id: None,
        outcome: "OK".into(),
    }
}

/// Fills an SQLite store at `path`: two accounts, a RAM user with a key, a policy attached and
/// STS credentials, domains online and offline, upload and free records bound, a forced rotation,
/// audit entries. Returns the accounts and the ids of the keys.
async fn fill(path: &Path, key: Arc<MasterKey>) -> (Vec<AccountId>, Vec<String>) {
    let store = Store::open_sqlite(path, key).unwrap();
    let a = store.create_account(NOW).await.unwrap();
    let b = store.create_account(NOW).await.unwrap();
    store
        .import_access_key(a, "rootkey", &Secret::new(b"root-secret".to_vec()), NOW)
        .await
        .unwrap();
    store.create_user(a, "alice", NOW).await.unwrap();
    // A deleted user: its id is never given again.
    store.create_user(a, "gone", NOW).await.unwrap();
    store.delete_user(a, "gone").await.unwrap();
    let (user_key, _) = store
        .create_access_key(a, Some("alice"), NOW)
        .await
        .unwrap();
    store
        .create_policy(
            a,
            "all",
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
            NOW,
        )
        .await
        .unwrap();
    assert!(store.attach_policy(a, "all", "alice").await.unwrap());
    let sts = store.issue_sts(a, "alice", 3600, None, NOW).await.unwrap();
    for d in ["a.example.com", "b.example.com", "off.example.com"] {
        store.add_domain(a, new_domain(d), NOW).await.unwrap();
    }
    store
        .add_domain(b, new_domain("other.example.com"), NOW)
        .await
        .unwrap();
    store
        .set_domain_status(a, &dn("off.example.com"), DomainStatus::Offline, NOW)
        .await
        .unwrap();
    store
        .set_upload(
            a,
            &dn("a.example.com"),
            cn("up"),
            false,
            upload(&["a.example.com"]),
            NOW,
        )
        .await
        .unwrap();
    // A forced rotation of the same record.
    store
        .set_upload(
            a,
            &dn("a.example.com"),
            cn("up"),
            true,
            upload(&["a.example.com"]),
            NOW + 1,
        )
        .await
        .unwrap();
    store
        .set_free(
            a,
            &dn("b.example.com"),
            cn("free"),
            false,
            upload(&["b.example.com"]),
            NOW,
        )
        .await
        .unwrap();
    store
        .set_upload(
            b,
            &dn("other.example.com"),
            cn("x"),
            false,
            upload(&["other.example.com"]),
            NOW,
        )
        .await
        .unwrap();
    for n in 0..5 {
        store.record_audit(entry(a, n));
    }
    store.flush_audit().await.unwrap();
    (
        vec![a, b],
        vec!["rootkey".into(), user_key, sts.access_key_id],
    )
}

/// Everything a store answers, as text (the private keys opened).
async fn view(store: &Store, accounts: &[AccountId], keys: &[String]) -> String {
    let mut out = String::new();
    let mut ids = store.account_ids().await.unwrap();
    ids.sort_unstable();
    let _ = writeln!(out, "{ids:?}");
    for &a in accounts {
        let _ = writeln!(out, "{:?}", store.domains(a).await.unwrap());
        let certs = store.list_certificates(a, None).await.unwrap();
        for c in &certs {
            let key = store
                .certificate_private_key(c.cert_id)
                .await
                .unwrap()
                .unwrap();
            let _ = writeln!(out, "{c:?} key {:?}", key.expose_str().unwrap().len());
        }
        let _ = writeln!(out, "{:?}", store.users(a).await.unwrap());
        let _ = writeln!(out, "{:?}", store.policies(a).await.unwrap());
        let _ = writeln!(out, "{:?}", store.access_keys(a).await.unwrap());
    }
    for k in keys {
        let entry = store.access_key(k).await.unwrap().unwrap();
        let _ = writeln!(
            out,
            "{k} {} {} {}",
            entry.account_id,
            entry.active,
            entry.secret.expose_str().unwrap()
        );
    }
    let snapshot = store.edge_snapshot().await.unwrap();
    let _ = writeln!(out, "{snapshot:?}");
    let _ = writeln!(out, "{:?}", store.edge_changes_since(0).await.unwrap());
    let _ = writeln!(out, "{}", store.change_counter().await.unwrap());
    let audit = store.audit_entries(&AuditFilter::default()).await.unwrap();
    let _ = writeln!(out, "{audit:?}");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sqlite_store_moves_into_postgres_whole_and_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("livecert.db");
    let key = Arc::new(MasterKey::generate().unwrap().0);
    let (accounts, keys) = fill(&path, Arc::clone(&key)).await;
    let before = {
        let store = Store::open_sqlite(&path, Arc::clone(&key)).unwrap();
        view(&store, &accounts, &keys).await
    };
    let pg = Postgres::new();

    // The wrong master key: refused before anything is written.
    let wrong = Arc::new(MasterKey::generate().unwrap().0);
    let err = sqlite_to_postgres(&path, pg.url(), wrong)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Secret(_)), "{err:?}");
    // Not even the schema was created.
    assert_eq!(
        pg.query("SELECT to_regclass('accounts')::text"),
        vec![vec![None]]
    );

    let report = sqlite_to_postgres(&path, pg.url(), Arc::clone(&key))
        .await
        .unwrap();
    let count = |t: &str| report.tables.iter().find(|(n, _)| *n == t).unwrap().1;
    assert_eq!(count("accounts"), 2);
    assert_eq!(count("domains"), 4);
    assert_eq!(count("certificates"), 3);
    assert_eq!(count("ram_users"), 1);
    assert_eq!(count("ram_attachments"), 1);
    assert_eq!(count("access_keys"), 3);
    assert_eq!(count("audit_log"), 5);

    let store = Store::open_postgres(pg.url(), Arc::clone(&key)).unwrap();
    store.verify_master_key().await.unwrap();
    assert_eq!(view(&store, &accounts, &keys).await, before);
    assert_eq!(report.change_counter, store.change_counter().await.unwrap());

    // New ids continue after the copied ones.
    let highest = {
        let mut all = Vec::new();
        for &a in &accounts {
            all.extend(store.list_certificates(a, None).await.unwrap());
        }
        all.iter().map(|c| c.cert_id).max().unwrap()
    };
    store
        .add_domain(accounts[1], new_domain("new.example.com"), NOW)
        .await
        .unwrap();
    store
        .set_upload(
            accounts[1],
            &dn("new.example.com"),
            cn("n"),
            false,
            upload(&["new.example.com"]),
            NOW,
        )
        .await
        .unwrap();
    let new = store
        .certificate_by_name(accounts[1], &cn("n"))
        .await
        .unwrap()
        .unwrap();
    assert!(new.cert_id > highest, "{} <= {highest}", new.cert_id);
    let bob = store.create_user(accounts[0], "bob", NOW).await.unwrap();
    let users = pg.query("SELECT max(id) FROM ram_users");
    assert_eq!(users, vec![vec![Some(bob.to_string())]]);
    // "gone" had id 2 in SQLite (alice 1): bob gets 3, not 2.
    assert!(bob >= 3, "{bob}");

    // Again into the now non-empty database: refused, nothing changed.
    let dump = pg.query("SELECT count(*) FROM accounts UNION ALL SELECT counter FROM changes");
    let err = sqlite_to_postgres(&path, pg.url(), Arc::clone(&key))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Failed(text) if text.contains("not empty")),
        "{err:?}"
    );
    assert_eq!(
        pg.query("SELECT count(*) FROM accounts UNION ALL SELECT counter FROM changes"),
        dump
    );
}
