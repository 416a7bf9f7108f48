//! Accounts and AccessKeys (spec/access.md): bootstrap, ids, secrets sealed at rest.

use livecert_core::secret::{MasterKey, Secret};
use livecert_store::StoreError;

use crate::support::{account_with, cn, dn, upload, Backend, NOW};

/// First start on an empty store creates one account with root credentials; never again.
pub async fn bootstrap_creates_root_credentials_once(b: &dyn Backend) {
    let store = b.open();
    let creds = store
        .bootstrap(NOW)
        .await
        .unwrap()
        .expect("an empty store bootstraps");
    assert_eq!(creds.account_id.to_string().len(), 16);
    assert_eq!(creds.access_key_id.len(), 24);
    assert!(creds.access_key_id.starts_with("LTAI"));
    assert!(creds
        .access_key_id
        .bytes()
        .all(|c| c.is_ascii_alphanumeric()));
    let secret = creds.access_key_secret.expose();
    assert_eq!(secret.len(), 30);
    assert!(secret.iter().all(u8::is_ascii_alphanumeric));

    let entry = store
        .access_key(&creds.access_key_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(entry.account_id, creds.account_id);
    assert_eq!(entry.secret, creds.access_key_secret);
    assert!(entry.active && entry.account_active);

    assert!(store.bootstrap(NOW).await.unwrap().is_none());
    drop(store);
    assert!(b.open().bootstrap(NOW).await.unwrap().is_none());
    assert_eq!(
        b.open().account_ids().await.unwrap(),
        vec![creds.account_id]
    );
}

/// Account ids are 16 digits and distinct; a store with accounts does not bootstrap.
pub async fn accounts_have_random_16_digit_ids(b: &dyn Backend) {
    let store = b.open();
    let mut ids = Vec::new();
    for _ in 0..20 {
        let id = store.create_account(NOW).await.unwrap();
        assert_eq!(id.to_string().len(), 16, "{id}");
        ids.push(id);
    }
    let mut listed = store.account_ids().await.unwrap();
    listed.sort_unstable();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 20);
    assert_eq!(listed, ids);
    assert!(store.bootstrap(NOW).await.unwrap().is_none());
}

/// `import_access_key` stores a given id and secret; lookup opens the same secret.
pub async fn imported_access_key_round_trips_its_secret(b: &dyn Backend) {
    let store = b.open();
    let a = store.create_account(NOW).await.unwrap();
    let other = store.create_account(NOW).await.unwrap();
    store
        .import_access_key(a, "testid", &Secret::new(&b"testsecret"[..]), NOW)
        .await
        .unwrap();
    let entry = store.access_key("testid").await.unwrap().unwrap();
    assert_eq!(entry.access_key_id, "testid");
    assert_eq!(entry.account_id, a);
    assert_eq!(entry.secret.expose(), b"testsecret");
    assert!(entry.active && entry.account_active);

    // Same id, same account: the secret is replaced.
    store
        .import_access_key(a, "testid", &Secret::new(&b"rotated"[..]), NOW)
        .await
        .unwrap();
    let entry = store.access_key("testid").await.unwrap().unwrap();
    assert_eq!(entry.secret.expose(), b"rotated");

    // Same id, another account: refused, nothing changes.
    assert!(matches!(
        store
            .import_access_key(other, "testid", &Secret::new(&b"x"[..]), NOW)
            .await,
        Err(StoreError::Failed(_))
    ));
    assert_eq!(
        store
            .access_key("testid")
            .await
            .unwrap()
            .unwrap()
            .account_id,
        a
    );

    // Ill-formed ids are refused; unknown ids are absent.
    for bad in ["", "with space", &"x".repeat(129)] {
        assert!(store
            .import_access_key(a, bad, &Secret::new(&b"s"[..]), NOW)
            .await
            .is_err());
    }
    assert!(store.access_key("nope").await.unwrap().is_none());
}

/// Deactivating a key or suspending its account shows in the next lookup (the cache is cleared
/// by the commit).
pub async fn access_key_changes_are_seen_at_once(b: &dyn Backend) {
    let store = b.open();
    let a = store.create_account(NOW).await.unwrap();
    store
        .import_access_key(a, "testid", &Secret::new(&b"testsecret"[..]), NOW)
        .await
        .unwrap();
    assert!(store.access_key("testid").await.unwrap().unwrap().active);
    store.set_access_key_active("testid", false).await.unwrap();
    assert!(!store.access_key("testid").await.unwrap().unwrap().active);
    store.set_account_active(a, false).await.unwrap();
    assert!(
        !store
            .access_key("testid")
            .await
            .unwrap()
            .unwrap()
            .account_active
    );
    store.set_account_active(a, true).await.unwrap();
    store.set_access_key_active("testid", true).await.unwrap();
    let entry = store.access_key("testid").await.unwrap().unwrap();
    assert!(entry.active && entry.account_active);
    assert!(store.set_access_key_active("nope", true).await.is_err());
    assert!(store.set_account_active(1, true).await.is_err());
}

/// spec/README.md decision 5: secrets and private keys are encrypted at rest.
pub async fn secrets_and_private_keys_never_reach_the_disk_in_plaintext(b: &dyn Backend) {
    let store = b.open();
    let creds = store.bootstrap(NOW).await.unwrap().unwrap();
    let a = account_with(&store, &["live.example.com"]).await;
    let imported = "imported-secret-0123456789-abcdefghij";
    store
        .import_access_key(a, "testid", &Secret::new(imported.as_bytes()), NOW)
        .await
        .unwrap();
    let up = upload(&["live.example.com"]);
    let key_pem = up.private_key_pem.expose_str().unwrap().to_owned();
    let chain_line = up.chain_pem.lines().nth(1).unwrap().to_owned();
    store
        .set_upload(a, &dn("live.example.com"), cn("c"), false, up, NOW)
        .await
        .unwrap();
    // The key opens for the edge.
    let cert = store
        .certificate_by_name(a, &cn("c"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        store
            .certificate_private_key(cert.cert_id)
            .await
            .unwrap()
            .unwrap()
            .expose_str()
            .unwrap(),
        key_pem
    );

    let check = |bytes: &[u8]| {
        // The scan sees stored data: the (public) chain is there.
        assert!(
            contains(bytes, chain_line.as_bytes()),
            "the scan misses the data"
        );
        let generated = creds.access_key_secret.expose();
        assert!(
            !contains(bytes, generated),
            "the generated secret is on disk"
        );
        assert!(
            !contains(bytes, imported.as_bytes()),
            "the imported secret is on disk"
        );
        for line in key_pem.lines().filter(|l| !l.starts_with("-----")) {
            assert!(
                !contains(bytes, line.as_bytes()),
                "private key bytes are on disk"
            );
        }
    };
    check(&b.raw_bytes());
    store.checkpoint().await.unwrap();
    check(&b.raw_bytes());
}

/// `is_empty`: true until the first account exists (bootstrap or create_account), whatever else.
pub async fn is_empty_until_the_first_account(b: &dyn Backend) {
    let store = b.open();
    assert!(store.is_empty().await.unwrap());
    assert!(b.open().is_empty().await.unwrap());
    store.bootstrap(NOW).await.unwrap().unwrap();
    assert!(!store.is_empty().await.unwrap());
    assert!(!b.open().is_empty().await.unwrap());

    let fresh = crate::support::Sqlite::new();
    let store = fresh.open();
    store.create_account(NOW).await.unwrap();
    assert!(!store.is_empty().await.unwrap());
}

/// `verify_master_key` opens one sealed secret: an AccessKey secret, else a private key; with
/// neither it passes whatever the key. Another master key on the same data is refused with
/// `Secret`; the right one passes.
pub async fn verify_master_key_refuses_another_key(b: &dyn Backend) {
    let wrong = || MasterKey::generate().unwrap().0;
    let store = b.open();
    // Nothing sealed yet: empty, then an account without keys or records.
    store.verify_master_key().await.unwrap();
    b.open_with_key(wrong()).verify_master_key().await.unwrap();
    let a = account_with(&store, &["live.example.com"]).await;
    store.verify_master_key().await.unwrap();
    b.open_with_key(wrong()).verify_master_key().await.unwrap();

    // Only a certificate private key is sealed.
    store
        .set_upload(
            a,
            &dn("live.example.com"),
            cn("c"),
            false,
            upload(&["live.example.com"]),
            NOW,
        )
        .await
        .unwrap();
    store.verify_master_key().await.unwrap();
    b.open().verify_master_key().await.unwrap();
    assert!(matches!(
        b.open_with_key(wrong()).verify_master_key().await,
        Err(StoreError::Secret(_))
    ));

    // An AccessKey secret too (checked first).
    store
        .import_access_key(a, "testid", &Secret::new(&b"testsecret"[..]), NOW)
        .await
        .unwrap();
    store.verify_master_key().await.unwrap();
    b.open().verify_master_key().await.unwrap();
    let other = b.open_with_key(wrong());
    let err = other.verify_master_key().await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Secret(text) if text.contains("testid")),
        "{err:?}"
    );
    // A refused key changed nothing: the right key still opens everything.
    drop(other);
    assert_eq!(
        b.open()
            .access_key("testid")
            .await
            .unwrap()
            .unwrap()
            .secret
            .expose(),
        b"testsecret"
    );
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
