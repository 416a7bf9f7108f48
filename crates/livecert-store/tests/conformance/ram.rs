//! Accounts, RAM users, AccessKeys, policies and temporary credentials (spec/access.md,
//! Principals and RAM policies): what `livecert admin` writes and what a key lookup carries.

use std::time::{Duration, Instant};

use aws_lc_rs::digest::{digest, SHA256};
use livecert_core::error::ErrorCode;
use livecert_core::secret::Secret;
use livecert_store::{
    AccessKeyEntry, Principal, Store, StoreError, WriteError, MAX_POLICY_DOCUMENT_BYTES,
};

use crate::support::{Backend, NOW};

const ALLOW_DESCRIBE: &str =
    r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"live:Describe*","Resource":"*"}]}"#;
const DENY_SET: &str = r#"{"Version":"1","Statement":[{"Effect":"Deny","Action":"live:SetLiveDomainCertificate","Resource":"*"}]}"#;

/// `accounts` lists every account, oldest first, with its status.
pub async fn accounts_are_listed_with_their_status(b: &dyn Backend) {
    let store = b.open();
    assert!(store.accounts().await.unwrap().is_empty());
    let first = store.create_account(NOW).await.unwrap();
    let second = store.create_account(NOW + 1).await.unwrap();
    store.set_account_active(second, false).await.unwrap();
    let listed = store.accounts().await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(
        (listed[0].id, listed[0].active, listed[0].created),
        (first, true, NOW)
    );
    assert_eq!(
        (listed[1].id, listed[1].active, listed[1].created),
        (second, false, NOW + 1)
    );
}

/// User names: 1–64 of `[A-Za-z0-9._@-]`, not `root`, unique per account (ASCII case ignored);
/// the same name may exist in another account.
pub async fn users_are_well_formed_and_unique_per_account(b: &dyn Backend) {
    let store = b.open();
    let a = store.create_account(NOW).await.unwrap();
    let other = store.create_account(NOW).await.unwrap();
    let alice = store.create_user(a, "alice", NOW).await.unwrap();
    let bob = store
        .create_user(a, "Bob.Builder_1@ops-team", NOW + 1)
        .await
        .unwrap();
    assert_ne!(alice, bob);
    store.create_user(other, "alice", NOW).await.unwrap();

    for bad in [
        "",
        "with space",
        "slash/name",
        "ünï",
        "root",
        "ROOT",
        &"x".repeat(65),
    ] {
        assert_refused(store.create_user(a, bad, NOW).await, "UserName");
    }
    assert_refused(store.create_user(a, "ALICE", NOW).await, "UserName");
    store.create_user(a, &"x".repeat(64), NOW).await.unwrap();
    assert_refused(store.create_user(1, "carol", NOW).await, "AccountId");

    let users = store.users(a).await.unwrap();
    let names: Vec<&str> = users.iter().map(|u| u.name.as_str()).collect();
    // By name, ASCII case ignored.
    assert_eq!(names, ["alice", "Bob.Builder_1@ops-team", &"x".repeat(64)]);
    assert_eq!(users[0].id, alice);
    assert_eq!(users[0].created, NOW);
    assert!(users[0].policies.is_empty());
    assert_eq!(store.users(other).await.unwrap().len(), 1);
}

/// Generated keys: `LTAI` + 20 alphanumerics and a 30-character secret, for root or a user; the
/// lookup names the principal; listings never carry a secret.
pub async fn generated_keys_act_for_root_or_a_user(b: &dyn Backend) {
    let store = b.open();
    let a = store.create_account(NOW).await.unwrap();
    let user_id = store.create_user(a, "alice", NOW).await.unwrap();
    let (root_id, root_secret) = store.create_access_key(a, None, NOW).await.unwrap();
    let (user_key, user_secret) = store
        .create_access_key(a, Some("alice"), NOW + 1)
        .await
        .unwrap();
    for (id, secret) in [(&root_id, &root_secret), (&user_key, &user_secret)] {
        assert_eq!(id.len(), 24);
        assert!(id.starts_with("LTAI"));
        assert!(id.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(secret.expose().len(), 30);
        assert!(secret.expose().iter().all(u8::is_ascii_alphanumeric));
    }
    assert_ne!(root_secret, user_secret);

    let root = lookup(&store, &root_id).await;
    assert_eq!(root.principal, Principal::Root);
    assert_eq!(root.principal.name(), "root");
    assert_eq!(root.secret, root_secret);
    assert!(root.policies.is_empty() && root.sts.is_none());
    let user = lookup(&store, &user_key).await;
    assert_eq!(
        user.principal,
        Principal::User {
            user_id,
            user_name: "alice".into()
        }
    );
    assert_eq!(user.principal.name(), "alice");
    assert_eq!(user.account_id, a);
    assert_eq!(user.secret, user_secret);
    assert!(user.active && user.account_active && user.sts.is_none());

    let listed = store.access_keys(a).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(
        (listed[0].id.as_str(), listed[0].user.as_deref()),
        (root_id.as_str(), None)
    );
    assert_eq!(
        (listed[1].id.as_str(), listed[1].user.as_deref()),
        (user_key.as_str(), Some("alice"))
    );
    assert!(listed.iter().all(|k| k.active && k.expires_at.is_none()));
    assert!(!format!("{listed:?}").contains(user_secret.expose_str().unwrap()));

    // A disabled key shows in the listing and in the next lookup.
    store.set_access_key_active(&user_key, false).await.unwrap();
    assert!(!store.access_keys(a).await.unwrap()[1].active);
    assert!(!lookup(&store, &user_key).await.active);

    assert_refused(
        store.create_access_key(a, Some("nobody"), NOW).await,
        "UserName",
    );
    assert_refused(store.create_access_key(1, None, NOW).await, "AccountId");
}

/// `import_user_access_key` stores a given id and secret for a user; re-importing replaces the
/// secret; an id held by another account, another principal or reserved (`STS.`) is refused,
/// with nothing changed. The root import refuses a user's id.
pub async fn imported_user_keys_keep_to_their_principal(b: &dyn Backend) {
    let store = b.open();
    let a = store.create_account(NOW).await.unwrap();
    let other = store.create_account(NOW).await.unwrap();
    store.create_user(a, "alice", NOW).await.unwrap();
    store.create_user(a, "bob", NOW).await.unwrap();
    store.create_user(other, "alice", NOW).await.unwrap();
    let secret = |s: &str| Secret::new(s.as_bytes());
    store
        .import_user_access_key(a, "alice", "alice-key", &secret("s1"), NOW)
        .await
        .unwrap();
    store
        .import_access_key(a, "root-key", &secret("r1"), NOW)
        .await
        .unwrap();
    let entry = lookup(&store, "alice-key").await;
    assert_eq!(entry.principal.name(), "alice");
    assert_eq!(entry.secret.expose(), b"s1");

    store
        .import_user_access_key(a, "alice", "alice-key", &secret("s2"), NOW)
        .await
        .unwrap();
    assert_eq!(lookup(&store, "alice-key").await.secret.expose(), b"s2");

    for (account, user, id) in [
        (a, "bob", "alice-key"),
        (other, "alice", "alice-key"),
        (a, "alice", "root-key"),
        (a, "alice", "STS.imported"),
        (a, "alice", "with space"),
    ] {
        assert_refused(
            store
                .import_user_access_key(account, user, id, &secret("x"), NOW)
                .await,
            "AccessKeyId",
        );
    }
    assert_refused(
        store
            .import_user_access_key(a, "carol", "carol-key", &secret("x"), NOW)
            .await,
        "UserName",
    );
    assert!(matches!(
        store
            .import_access_key(a, "alice-key", &secret("x"), NOW)
            .await,
        Err(StoreError::Failed(_))
    ));
    assert!(store
        .import_access_key(a, "STS.root", &secret("x"), NOW)
        .await
        .is_err());
    let entry = lookup(&store, "alice-key").await;
    assert_eq!(
        (entry.principal.name(), entry.secret.expose()),
        ("alice", &b"s2"[..])
    );
    assert_eq!(lookup(&store, "root-key").await.principal, Principal::Root);
}

/// A user's key lookup carries the documents of the policies attached to the user, by policy
/// name; detaching removes them; attaching twice or detaching what is not attached changes
/// nothing. Root keys carry none.
pub async fn a_users_key_carries_its_attached_policies(b: &dyn Backend) {
    let store = b.open();
    let a = store.create_account(NOW).await.unwrap();
    store.create_user(a, "alice", NOW).await.unwrap();
    store.create_user(a, "bob", NOW).await.unwrap();
    let (key, _) = store
        .create_access_key(a, Some("alice"), NOW)
        .await
        .unwrap();
    let (root, _) = store.create_access_key(a, None, NOW).await.unwrap();
    store
        .create_policy(a, "z-describe", ALLOW_DESCRIBE, NOW)
        .await
        .unwrap();
    store
        .create_policy(a, "a-deny-set", DENY_SET, NOW)
        .await
        .unwrap();
    assert!(lookup(&store, &key).await.policies.is_empty());

    assert!(store.attach_policy(a, "z-describe", "alice").await.unwrap());
    assert!(store.attach_policy(a, "A-DENY-SET", "alice").await.unwrap());
    assert!(!store.attach_policy(a, "z-describe", "alice").await.unwrap());
    assert!(store.attach_policy(a, "z-describe", "bob").await.unwrap());
    assert_eq!(
        lookup(&store, &key).await.policies,
        [DENY_SET, ALLOW_DESCRIBE]
    );
    assert!(lookup(&store, &root).await.policies.is_empty());
    let users = store.users(a).await.unwrap();
    assert_eq!(users[0].policies, ["a-deny-set", "z-describe"]);
    assert_eq!(users[1].policies, ["z-describe"]);

    assert!(store.detach_policy(a, "a-deny-set", "alice").await.unwrap());
    assert!(!store.detach_policy(a, "a-deny-set", "alice").await.unwrap());
    assert_eq!(lookup(&store, &key).await.policies, [ALLOW_DESCRIBE]);
    assert!(store.detach_policy(a, "z-describe", "alice").await.unwrap());
    assert!(lookup(&store, &key).await.policies.is_empty());

    assert_refused(store.attach_policy(a, "nope", "alice").await, "PolicyName");
    assert_refused(
        store.attach_policy(a, "z-describe", "nobody").await,
        "UserName",
    );
    assert_refused(
        store.detach_policy(a, "z-describe", "nobody").await,
        "UserName",
    );

    // Another account's policy or user cannot be attached (names resolve in the account only).
    let other = store.create_account(NOW).await.unwrap();
    store.create_user(other, "mallory", NOW).await.unwrap();
    assert_refused(
        store.attach_policy(other, "z-describe", "mallory").await,
        "PolicyName",
    );
    assert_refused(
        store.attach_policy(a, "z-describe", "mallory").await,
        "UserName",
    );
}

/// Policies are named documents kept as given: listed by name with their users, shown by name
/// (ASCII case ignored), unique per account, bounded in size; deleting one detaches it.
pub async fn policies_are_named_documents(b: &dyn Backend) {
    let store = b.open();
    let a = store.create_account(NOW).await.unwrap();
    let other = store.create_account(NOW).await.unwrap();
    store.create_user(a, "alice", NOW).await.unwrap();
    let pretty = format!("  {ALLOW_DESCRIBE}\n\n");
    store
        .create_policy(a, "describe", &pretty, NOW)
        .await
        .unwrap();
    store
        .create_policy(a, "deny-set", DENY_SET, NOW + 1)
        .await
        .unwrap();
    store
        .create_policy(other, "describe", DENY_SET, NOW)
        .await
        .unwrap();
    store.attach_policy(a, "describe", "alice").await.unwrap();

    let listed = store.policies(a).await.unwrap();
    let names: Vec<&str> = listed.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["deny-set", "describe"]);
    assert_eq!(listed[1].document, pretty);
    assert_eq!(listed[1].users, ["alice"]);
    assert_eq!(listed[1].created, NOW);
    let shown = store.policy(a, "DESCRIBE").await.unwrap().unwrap();
    assert_eq!(shown, listed[1]);
    assert_eq!(
        store
            .policy(other, "describe")
            .await
            .unwrap()
            .unwrap()
            .document,
        DENY_SET
    );
    assert!(store.policy(a, "nope").await.unwrap().is_none());

    assert_refused(
        store.create_policy(a, "Describe", DENY_SET, NOW).await,
        "PolicyName",
    );
    for bad in ["", "with space", "a/b", &"p".repeat(129)] {
        assert_refused(
            store.create_policy(a, bad, DENY_SET, NOW).await,
            "PolicyName",
        );
    }
    let huge = format!(
        "{{\"Version\":\"1\",\"Statement\":[],\"Pad\":\"{}\"}}",
        "x".repeat(MAX_POLICY_DOCUMENT_BYTES)
    );
    assert_refused(
        store.create_policy(a, "huge", &huge, NOW).await,
        "PolicyDocument",
    );
    assert_refused(
        store.create_policy(a, "blank", " \n", NOW).await,
        "PolicyDocument",
    );
    assert_refused(
        store.create_policy(1, "p", DENY_SET, NOW).await,
        "AccountId",
    );

    let (key, _) = store
        .create_access_key(a, Some("alice"), NOW)
        .await
        .unwrap();
    assert_eq!(lookup(&store, &key).await.policies, [pretty.as_str()]);
    store.delete_policy(a, "describe").await.unwrap();
    assert!(lookup(&store, &key).await.policies.is_empty());
    assert!(store.users(a).await.unwrap()[0].policies.is_empty());
    assert_refused(store.delete_policy(a, "describe").await, "PolicyName");
    assert_eq!(store.policies(other).await.unwrap().len(), 1);
}

/// Deleting a user deletes its keys (temporary ones too) and its attachments; its name can be
/// used again, with a new id and nothing inherited.
pub async fn deleting_a_user_deletes_its_keys_and_attachments(b: &dyn Backend) {
    let store = b.open();
    let a = store.create_account(NOW).await.unwrap();
    let first_id = store.create_user(a, "alice", NOW).await.unwrap();
    store.create_user(a, "bob", NOW).await.unwrap();
    store
        .create_policy(a, "describe", ALLOW_DESCRIBE, NOW)
        .await
        .unwrap();
    store.attach_policy(a, "describe", "alice").await.unwrap();
    store.attach_policy(a, "describe", "bob").await.unwrap();
    let (key, _) = store
        .create_access_key(a, Some("alice"), NOW)
        .await
        .unwrap();
    let (bob_key, _) = store.create_access_key(a, Some("bob"), NOW).await.unwrap();
    let sts = store.issue_sts(a, "alice", 3600, None, NOW).await.unwrap();

    store.delete_user(a, "ALICE").await.unwrap();
    assert!(store.access_key(&key).await.unwrap().is_none());
    assert!(store
        .access_key(&sts.access_key_id)
        .await
        .unwrap()
        .is_none());
    assert_eq!(lookup(&store, &bob_key).await.policies, [ALLOW_DESCRIBE]);
    assert_eq!(
        store.policy(a, "describe").await.unwrap().unwrap().users,
        ["bob"]
    );
    let keys: Vec<String> = store
        .access_keys(a)
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.id)
        .collect();
    assert_eq!(keys, [bob_key]);
    assert_refused(store.delete_user(a, "alice").await, "UserName");

    let again = store.create_user(a, "alice", NOW).await.unwrap();
    assert_ne!(again, first_id);
    assert!(store.users(a).await.unwrap()[0].policies.is_empty());
}

/// `delete_access_key` removes any key — root, user or temporary — and refuses an unknown id.
pub async fn any_key_can_be_deleted(b: &dyn Backend) {
    let store = b.open();
    let a = store.create_account(NOW).await.unwrap();
    store.create_user(a, "alice", NOW).await.unwrap();
    let (root, _) = store.create_access_key(a, None, NOW).await.unwrap();
    let (user, _) = store
        .create_access_key(a, Some("alice"), NOW)
        .await
        .unwrap();
    let sts = store.issue_sts(a, "alice", 900, None, NOW).await.unwrap();
    for id in [&root, &user, &sts.access_key_id] {
        assert!(store.access_key(id).await.unwrap().is_some());
        store.delete_access_key(id).await.unwrap();
        assert!(store.access_key(id).await.unwrap().is_none());
        assert_refused(store.delete_access_key(id).await, "AccessKeyId");
    }
    assert!(store.access_keys(a).await.unwrap().is_empty());
    assert_eq!(store.users(a).await.unwrap().len(), 1);
}

/// Temporary credentials: `STS.` + 24 alphanumerics, a secret that opens, a SecurityToken of 64
/// base64url characters stored only as its SHA-256, an expiry `now + duration` (900–43200 s), an
/// optional session policy; they act as the user, with the user's policies. Credentials expired
/// for more than a day are deleted when new ones are issued.
pub async fn sts_credentials_carry_expiry_token_hash_and_session_policy(b: &dyn Backend) {
    let store = b.open();
    let a = store.create_account(NOW).await.unwrap();
    let user_id = store.create_user(a, "alice", NOW).await.unwrap();
    store
        .create_policy(a, "describe", ALLOW_DESCRIBE, NOW)
        .await
        .unwrap();
    store.attach_policy(a, "describe", "alice").await.unwrap();

    let creds = store
        .issue_sts(a, "alice", 3600, Some(DENY_SET.to_owned()), NOW)
        .await
        .unwrap();
    let tail = creds.access_key_id.strip_prefix("STS.").unwrap();
    assert_eq!(tail.len(), 24);
    assert!(tail.bytes().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(creds.access_key_secret.expose().len(), 30);
    let token = creds.security_token.expose();
    assert!(token.len() >= 64, "{}", token.len());
    assert!(token
        .iter()
        .all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_'));
    assert_eq!(creds.expires_at, NOW + 3600);

    let entry = lookup(&store, &creds.access_key_id).await;
    assert_eq!(entry.account_id, a);
    assert_eq!(
        entry.principal,
        Principal::User {
            user_id,
            user_name: "alice".into()
        }
    );
    assert_eq!(entry.secret, creds.access_key_secret);
    assert_eq!(entry.policies, [ALLOW_DESCRIBE]);
    let sts = entry
        .sts
        .expect("temporary credentials carry their STS facts");
    assert_eq!(sts.expires_at, NOW + 3600);
    assert_eq!(sts.token_sha256.as_slice(), digest(&SHA256, token).as_ref());
    assert_eq!(sts.session_policy.as_deref(), Some(DENY_SET));

    let listed = store.access_keys(a).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].expires_at, Some(NOW + 3600));
    assert_eq!(listed[0].user.as_deref(), Some("alice"));

    // Without a session policy; bounds of the duration.
    let plain = store
        .issue_sts(a, "alice", 43_200, None, NOW)
        .await
        .unwrap();
    let sts = lookup(&store, &plain.access_key_id).await.sts.unwrap();
    assert_eq!((sts.expires_at, sts.session_policy), (NOW + 43_200, None));
    assert_ne!(plain.security_token, creds.security_token);
    store.issue_sts(a, "alice", 900, None, NOW).await.unwrap();
    for bad in [0, 899, 43_201] {
        assert_refused(
            store.issue_sts(a, "alice", bad, None, NOW).await,
            "DurationSeconds",
        );
    }
    assert_refused(
        store.issue_sts(a, "nobody", 900, None, NOW).await,
        "UserName",
    );
    assert_refused(
        store
            .issue_sts(a, "alice", 900, Some(String::new()), NOW)
            .await,
        "Policy",
    );

    // Expired credentials stay a day (the API can say "expired"), then go with the next issue.
    let later = NOW + 3600 + 86_400 + 1;
    store.issue_sts(a, "alice", 900, None, later).await.unwrap();
    assert!(store
        .access_key(&creds.access_key_id)
        .await
        .unwrap()
        .is_none());
    assert!(store
        .access_key(&plain.access_key_id)
        .await
        .unwrap()
        .is_some());
}

/// A change made through another store on the same database (another process: `livecert admin`
/// beside `serve`) reaches a cached lookup within a second: a new attachment, a detachment, a
/// disabled key.
pub async fn changes_from_another_process_are_seen_within_a_second(b: &dyn Backend) {
    let serve = b.open();
    let admin = b.open();
    let a = admin.create_account(NOW).await.unwrap();
    admin.create_user(a, "alice", NOW).await.unwrap();
    admin
        .create_policy(a, "describe", ALLOW_DESCRIBE, NOW)
        .await
        .unwrap();
    let (key, _) = admin
        .create_access_key(a, Some("alice"), NOW)
        .await
        .unwrap();
    assert!(lookup(&serve, &key).await.policies.is_empty());

    admin.attach_policy(a, "describe", "alice").await.unwrap();
    seen_within_a_second(&serve, &key, |e| e.policies == [ALLOW_DESCRIBE]).await;
    admin.detach_policy(a, "describe", "alice").await.unwrap();
    seen_within_a_second(&serve, &key, |e| e.policies.is_empty()).await;
    admin.set_access_key_active(&key, false).await.unwrap();
    seen_within_a_second(&serve, &key, |e| !e.active).await;
}

async fn seen_within_a_second(store: &Store, key: &str, seen: impl Fn(&AccessKeyEntry) -> bool) {
    let start = Instant::now();
    loop {
        if seen(&lookup(store, key).await) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_millis(1500),
            "a change by another store was not seen within a second"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn lookup(store: &Store, id: &str) -> AccessKeyEntry {
    store
        .access_key(id)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("AccessKey {id} is not found"))
}

/// Asserts an `InvalidParameter` refusal naming `parameter`.
#[track_caller]
fn assert_refused<T: std::fmt::Debug>(result: Result<T, WriteError>, parameter: &str) {
    match result {
        Err(WriteError::Refused(e)) => {
            assert_eq!(e.code, ErrorCode::InvalidParameter, "{e}");
            assert_eq!(e.name.as_deref(), Some(parameter), "{e}");
        }
        other => panic!("expected a refusal naming {parameter}, got {other:?}"),
    }
}
