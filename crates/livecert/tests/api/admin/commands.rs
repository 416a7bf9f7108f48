//! Every command on a temporary data directory: accounts, users, keys, policies (a bad one
//! refused with its line and column), attachments, temporary credentials, the audit log, `--json`
//! output parsed.

use std::path::Path;

use livecert::datadir::DataDir;
use livecert_store::AuditEntry;
use serde_json::Value;

use super::{fails, ok, ok_json, str_of};

const DESCRIBE_POLICY: &str = r#"{
  "Version": "1",
  "Statement": [
    {"Effect": "Allow", "Action": "live:Describe*", "Resource": "*"}
  ]
}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_manages_accounts_users_keys_policies_sts_and_audit() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path().join("data");

    // No store yet: only `account create` runs.
    let err = fails(&dir, &["account", "list"]);
    assert!(err.contains("account create"), "{err}");
    assert!(!dir.exists(), "a failed command created the data directory");

    // Accounts.
    let created = ok_json(&dir, &["account", "create"]);
    let account = str_of(&created, "AccountId").to_owned();
    assert_eq!(account.len(), 16);
    assert!(account.bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(created["Status"], "active");
    let listed = ok_json(&dir, &["account", "list"]);
    assert_eq!(listed["Accounts"][0]["AccountId"], account.as_str());
    let table = ok(&dir, &["account", "list"]);
    let mut lines = table.lines();
    assert!(lines
        .next()
        .unwrap()
        .starts_with("ACCOUNT ID        STATUS"));
    assert!(lines
        .next()
        .unwrap()
        .starts_with(&format!("{account}  active")));
    let suspended = ok_json(&dir, &["account", "suspend", &account]);
    assert_eq!(suspended["Status"], "suspended");
    assert_eq!(
        ok_json(&dir, &["account", "list"])["Accounts"][0]["Status"],
        "suspended"
    );
    ok(&dir, &["account", "resume", &account]);
    assert!(fails(&dir, &["account", "suspend", "1234567890123456"]).contains("no account"));

    // Users.
    let alice = ok_json(&dir, &["user", "create", "--account", &account, "alice"]);
    assert_eq!(alice["UserName"], "alice");
    assert!(alice["UserId"].is_u64());
    ok(&dir, &["user", "create", "--account", &account, "bob"]);
    assert!(
        fails(&dir, &["user", "create", "--account", &account, "Alice"])
            .contains("already has a user")
    );
    assert!(
        fails(&dir, &["user", "create", "--account", &account, "no space"]).contains("user name")
    );

    // Keys: generated (secret printed once), imported, listed without secrets.
    let key = ok_json(
        &dir,
        &["key", "create", "--account", &account, "--user", "alice"],
    );
    let key_id = str_of(&key, "AccessKeyId").to_owned();
    let key_secret = str_of(&key, "AccessKeySecret").to_owned();
    assert!(key_id.starts_with("LTAI") && key_id.len() == 24);
    assert_eq!(key_secret.len(), 30);
    assert_eq!(key["UserName"], "alice");
    ok(
        &dir,
        &[
            "key",
            "import",
            "--account",
            &account,
            "--id",
            "testid",
            "--secret",
            "testsecret",
        ],
    );
    let secret_file = tmp.path().join("bob.secret");
    std::fs::write(&secret_file, "bob-secret-from-a-file\n").expect("write secret");
    ok(
        &dir,
        &[
            "key",
            "import",
            "--account",
            &account,
            "--user",
            "bob",
            "--id",
            "bob-key",
            "--secret-file",
            secret_file.to_str().unwrap(),
        ],
    );
    let keys = ok_json(&dir, &["key", "list", "--account", &account]);
    let keys = keys["AccessKeys"].as_array().expect("AccessKeys");
    assert_eq!(keys.len(), 3);
    let by_id = |id: &str| {
        keys.iter()
            .find(|k| k["AccessKeyId"] == id)
            .unwrap_or_else(|| panic!("{id} is not listed"))
            .clone()
    };
    assert_eq!(by_id(&key_id)["UserName"], "alice");
    assert_eq!(by_id("testid")["UserName"], Value::Null);
    assert_eq!(by_id("bob-key")["UserName"], "bob");
    assert_eq!(by_id("testid")["Status"], "active");
    let text = ok(&dir, &["key", "list", "--account", &account]);
    assert!(text.starts_with("ACCESS KEY ID"), "{text}");
    for secret in [key_secret.as_str(), "testsecret", "bob-secret-from-a-file"] {
        assert!(!text.contains(secret), "a listing shows a secret");
    }
    assert_eq!(
        ok_json(&dir, &["key", "disable", &key_id])["Status"],
        "inactive"
    );
    assert_eq!(
        by_status(
            &ok_json(&dir, &["key", "list", "--account", &account]),
            &key_id
        ),
        "inactive"
    );
    assert_eq!(
        ok_json(&dir, &["key", "enable", &key_id])["Status"],
        "active"
    );
    assert!(fails(&dir, &["key", "disable", "no-such-key"]).contains("no AccessKey"));

    // Policies: a good one stored, a bad one refused with its line and column.
    let good = tmp.path().join("describe.json");
    std::fs::write(&good, DESCRIBE_POLICY).expect("write policy");
    let bad = tmp.path().join("bad.json");
    std::fs::write(&bad, "{\n  \"Version\": \"1\",\n  \"Statement\": [,]\n}\n").expect("write");
    let good_path = good.to_str().unwrap();
    let created = ok_json(
        &dir,
        &[
            "policy",
            "create",
            "--account",
            &account,
            "--name",
            "describe",
            "--file",
            good_path,
        ],
    );
    assert_eq!(created["PolicyName"], "describe");
    let err = fails(
        &dir,
        &[
            "policy",
            "create",
            "--account",
            &account,
            "--name",
            "bad",
            "--file",
            bad.to_str().unwrap(),
        ],
    );
    assert!(err.contains("line 3, column"), "{err}");
    assert!(err.contains("bad.json"), "{err}");
    assert_eq!(
        ok_json(&dir, &["policy", "list", "--account", &account])["Policies"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Attach, list, show, detach.
    let attached = ok_json(
        &dir,
        &[
            "policy",
            "attach",
            "--account",
            &account,
            "--name",
            "describe",
            "--user",
            "alice",
        ],
    );
    assert_eq!(
        (
            attached["Attached"].as_bool(),
            attached["Changed"].as_bool()
        ),
        (Some(true), Some(true))
    );
    let again = ok_json(
        &dir,
        &[
            "policy",
            "attach",
            "--account",
            &account,
            "--name",
            "describe",
            "--user",
            "alice",
        ],
    );
    assert_eq!(again["Changed"], false);
    let policies = ok_json(&dir, &["policy", "list", "--account", &account]);
    assert_eq!(
        policies["Policies"][0]["Users"],
        serde_json::json!(["alice"])
    );
    let users = ok_json(&dir, &["user", "list", "--account", &account]);
    assert_eq!(users["Users"][0]["UserName"], "alice");
    assert_eq!(
        users["Users"][0]["Policies"],
        serde_json::json!(["describe"])
    );
    assert_eq!(users["Users"][1]["Policies"], serde_json::json!([]));
    let shown = ok_json(
        &dir,
        &[
            "policy",
            "show",
            "--account",
            &account,
            "--name",
            "describe",
        ],
    );
    assert_eq!(shown["PolicyDocument"], DESCRIBE_POLICY);
    let shown_text = ok(
        &dir,
        &[
            "policy",
            "show",
            "--account",
            &account,
            "--name",
            "describe",
        ],
    );
    assert!(shown_text.ends_with(DESCRIBE_POLICY), "{shown_text}");
    assert!(fails(
        &dir,
        &[
            "policy",
            "attach",
            "--account",
            &account,
            "--name",
            "nope",
            "--user",
            "alice"
        ]
    )
    .contains("no policy"));

    // Temporary credentials.
    let sts = ok_json(
        &dir,
        &[
            "sts",
            "issue",
            "--account",
            &account,
            "--user",
            "alice",
            "--duration",
            "900",
            "--policy-file",
            good_path,
        ],
    );
    let sts_id = str_of(&sts, "AccessKeyId");
    assert!(sts_id.starts_with("STS.") && sts_id.len() == 28, "{sts_id}");
    assert_eq!(str_of(&sts, "AccessKeySecret").len(), 30);
    assert!(str_of(&sts, "SecurityToken").len() >= 64);
    let expiration =
        livecert_core::timefmt::parse_utc(str_of(&sts, "Expiration")).expect("Expiration parses");
    let now = livecert::clock::Clock::now(&livecert::clock::SystemClock);
    assert!(
        (now + 890..=now + 910).contains(&expiration),
        "{expiration} vs {now}"
    );
    let sts_keys = ok_json(&dir, &["key", "list", "--account", &account]);
    let listed_sts = sts_keys["AccessKeys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["AccessKeyId"] == sts_id)
        .expect("temporary credentials are listed")
        .clone();
    assert_eq!(listed_sts["Expiration"], sts["Expiration"]);
    let text = ok(
        &dir,
        &[
            "sts",
            "issue",
            "--account",
            &account,
            "--user",
            "alice",
            "--duration",
            "3600",
        ],
    );
    for label in [
        "AccessKeyId",
        "AccessKeySecret",
        "SecurityToken",
        "Expiration",
    ] {
        assert!(text.contains(label), "{text}");
    }
    assert!(fails(
        &dir,
        &[
            "sts",
            "issue",
            "--account",
            &account,
            "--user",
            "alice",
            "--duration",
            "100"
        ]
    )
    .contains("900"));
    let err = fails(
        &dir,
        &[
            "sts",
            "issue",
            "--account",
            &account,
            "--user",
            "alice",
            "--duration",
            "900",
            "--policy-file",
            bad.to_str().unwrap(),
        ],
    );
    assert!(err.contains("line 3, column"), "{err}");

    // The audit log, as the API records it (through the store), listed by the CLI.
    let account_id: u64 = account.parse().unwrap();
    record_audit(&dir, account_id, now).await;
    let all = ok_json(&dir, &["audit", "--account", &account]);
    let entries = all["Entries"].as_array().expect("Entries");
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[0]["RequestId"], "REQ-3");
    assert_eq!(entries[0]["Outcome"], "Certificate.MissMatch");
    assert_eq!(entries[0]["AccountId"], account.as_str());
    assert_eq!(entries[2]["CertId"], 1_234_567);
    assert_eq!(entries[1]["DomainName"], Value::Null);
    let by_domain = ok_json(&dir, &["audit", "--domain", "live.example.com"]);
    assert_eq!(by_domain["Entries"].as_array().unwrap().len(), 2);
    let since = livecert_core::timefmt::format_utc(now - 5);
    let recent = ok_json(&dir, &["audit", "--since", &since, "--limit", "1"]);
    assert_eq!(recent["Entries"].as_array().unwrap().len(), 1);
    assert_eq!(recent["Entries"][0]["RequestId"], "REQ-3");
    let table = ok(&dir, &["audit", "--account", &account]);
    assert!(table.starts_with("TIME"), "{table}");
    assert_eq!(table.lines().count(), 4);
    assert!(fails(&dir, &["audit", "--since", "yesterday"]).contains("yyyy-MM-ddTHH:mm:ssZ"));

    // Detach, delete.
    let detached = ok_json(
        &dir,
        &[
            "policy",
            "detach",
            "--account",
            &account,
            "--name",
            "describe",
            "--user",
            "alice",
        ],
    );
    assert_eq!(
        (
            detached["Attached"].as_bool(),
            detached["Changed"].as_bool()
        ),
        (Some(false), Some(true))
    );
    ok(&dir, &["key", "delete", &key_id]);
    assert!(fails(&dir, &["key", "delete", &key_id]).contains(&key_id));
    ok(&dir, &["user", "delete", "--account", &account, "bob"]);
    let keys = ok_json(&dir, &["key", "list", "--account", &account]);
    assert!(keys["AccessKeys"]
        .as_array()
        .unwrap()
        .iter()
        .all(|k| k["AccessKeyId"] != "bob-key" && k["AccessKeyId"] != key_id.as_str()));
}

/// Records three audit entries through the store, as the API does, and flushes them.
async fn record_audit(dir: &Path, account: u64, now: i64) {
    let data = DataDir::open(dir).expect("data dir");
    let store = livecert::store_location::open_store(&data, None)
        .await
        .expect("store opens");
    let entry = |n: u32, time: i64, domain: Option<&str>, outcome: &str| AuditEntry {
        time,
        request_id: format!("REQ-{n}"),
        account_id: account,
        principal: "alice".into(),
        access_key_id: "testid".into(),
        source_ip: "192.0.2.1".into(),
        operation: "SetLiveDomainCertificate".into(),
        domain: domain.map(str::to_owned),
        cert_name: Some("cert".into()),
        cert_id: Some(1_234_567),
        outcome: outcome.into(),
    };
    store.record_audit(entry(1, now - 60, Some("live.example.com"), "OK"));
    store.record_audit(entry(2, now - 1, None, "OK"));
    store.record_audit(entry(
        3,
        now,
        Some("live.example.com"),
        "Certificate.MissMatch",
    ));
    store.flush_audit().await.expect("audit flushed");
}

fn by_status(list: &Value, id: &str) -> String {
    list["AccessKeys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["AccessKeyId"] == id)
        .map(|k| str_of(k, "Status").to_owned())
        .unwrap_or_default()
}
