//! `livecert admin` (spec/access.md; docs/admin.md): the real binary against a temporary data
//! directory — accounts, users, keys, policies (a bad one refused with its line and column),
//! attachments, temporary credentials, the audit log, `--json` output parsed — and the same
//! binary working beside a running `serve` on the same data directory, its changes reaching the
//! API within a second; the operator modes of domains and records (`domain set|show`, `cert
//! revoke|delete`) seen through the API.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use livecert::datadir::DataDir;
use livecert_store::AuditEntry;
use serde_json::Value;

use crate::certs::{self_signed, Alg, Generated};
use crate::harness::{send, signed_request, Reply, Scheme};

const DESCRIBE_POLICY: &str = r#"{
  "Version": "1",
  "Statement": [
    {"Effect": "Allow", "Action": "live:Describe*", "Resource": "*"}
  ]
}
"#;

/// `livecert admin --data-dir <dir> <args>`, with no master key or data directory inherited from
/// the environment.
fn admin(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_livecert"))
        .arg("admin")
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env_remove("LIVECERT_MASTER_KEY")
        .env_remove("LIVECERT_DATA_DIR")
        .env("LIVECERT_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .expect("livecert admin runs")
}

/// Runs an admin command that must succeed; returns its stdout.
fn ok(dir: &Path, args: &[&str]) -> String {
    let out = admin(dir, args);
    assert!(
        out.status.success(),
        "livecert admin {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// Runs an admin command with `--json` that must succeed; returns the one JSON document it
/// prints.
fn ok_json(dir: &Path, args: &[&str]) -> Value {
    let mut with_json = args.to_vec();
    with_json.push("--json");
    let text = ok(dir, &with_json);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not one JSON document ({e}): {text}"))
}

/// Runs an admin command that must fail with exit status 1; returns its stderr.
fn fails(dir: &Path, args: &[&str]) -> String {
    let out = admin(dir, args);
    assert_eq!(
        out.status.code(),
        Some(1),
        "livecert admin {args:?} should fail: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(out.stdout.is_empty(), "a failure printed on stdout");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is not a string in {v}"))
}

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

/// `admin` opens the store beside a running `serve` on the same data directory (it does not take
/// serve's lock), and what it changes reaches the API within a second: a new key signs at once, a
/// disabled one is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_works_beside_a_running_serve() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let serve = Serve::start(dir);
    let accounts = ok_json(dir, &["account", "list"]);
    let account = str_of(&accounts["Accounts"][0], "AccountId").to_owned();

    let key = ok_json(dir, &["key", "create", "--account", &account]);
    let (id, secret) = (str_of(&key, "AccessKeyId"), str_of(&key, "AccessKeySecret"));
    let reply = eventually(|| describe(serve.addr, id, secret), |r| r.status == 200).await;
    assert_eq!(reply.status, 200, "{}", reply.body);

    ok(dir, &["key", "disable", id]);
    let reply = eventually(|| describe(serve.addr, id, secret), |r| r.status != 200).await;
    assert_ne!(
        reply.status, 200,
        "a disabled key still signs: {}",
        reply.body
    );

    ok(dir, &["user", "create", "--account", &account, "carol"]);
    assert_eq!(
        ok_json(dir, &["user", "list", "--account", &account])["Users"][0]["UserName"],
        "carol"
    );
    drop(serve);
}

/// The operator modes beside a running `serve`: `domain set` locks a domain and sets a function
/// (the API answers IllegalOperation, then FunctionMutex), `domain show` reads them back; `cert
/// revoke` keeps the binding, Describe shows `revoked` and CertType=cas refuses the record;
/// `cert delete` refuses a bound record, naming its domain, and deletes an unbound one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_sets_domain_modes_and_revokes_and_deletes_records() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let serve = Serve::start(dir);
    let accounts = ok_json(dir, &["account", "list"]);
    let account = str_of(&accounts["Accounts"][0], "AccountId").to_owned();
    let key = ok_json(dir, &["key", "create", "--account", &account]);
    let (id, secret) = (
        str_of(&key, "AccessKeyId").to_owned(),
        str_of(&key, "AccessKeySecret").to_owned(),
    );
    let call = |action: &'static str, params: Vec<(&str, &str)>| {
        let now = livecert::clock::Clock::now(&livecert::clock::SystemClock);
        let pairs = params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
            .collect();
        send(signed_request(
            serve.addr,
            Scheme::V3,
            action,
            pairs,
            &id,
            &secret,
            now,
        ))
    };
    let now = livecert::clock::Clock::now(&livecert::clock::SystemClock);
    let g = self_signed(
        &["*.example.com"],
        now - 86_400,
        now + 90 * 86_400,
        Alg::P256,
    );
    let elsewhere = self_signed(
        &["other.example.org"],
        now - 86_400,
        now + 90 * 86_400,
        Alg::P256,
    );
    for d in ["live.example.com", "spare.example.com"] {
        let add = vec![
            ("DomainName", d),
            ("LiveDomainType", "liveVideo"),
            ("Region", "cn-shanghai"),
        ];
        let r = eventually(|| call("AddLiveDomain", add.clone()), |r| r.status == 200).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    call("SetLiveDomainCertificate", set_on("wide", &g))
        .await
        .ok();
    let r = call("SetLiveDomainCertificate", set_on("loose", &elsewhere)).await;
    assert_eq!(r.code(), "Certificate.SettedNotEffect", "{}", r.body);

    // domain set / show.
    let shown = ok_json(
        dir,
        &[
            "domain",
            "set",
            "live.example.com",
            "--locked",
            "on",
            "--function",
            "http_only",
            "on",
        ],
    );
    assert_eq!(shown["Locked"], true);
    assert_eq!(shown["SafeMode"], false);
    assert_eq!(shown["Functions"], serde_json::json!(["http_only"]));
    assert_eq!(shown["AccountId"], account.as_str());
    assert_eq!(shown["SSLProtocol"], "on");
    let off = vec![("DomainName", "live.example.com"), ("SSLProtocol", "off")];
    let r = call("SetLiveDomainCertificate", off.clone()).await;
    assert_eq!(
        (r.status, r.code()),
        (403, "IllegalOperation"),
        "{}",
        r.body
    );
    ok(
        dir,
        &["domain", "set", "live.example.com", "--locked", "off"],
    );
    let on_again = set_on("wide", &g);
    let r = call("SetLiveDomainCertificate", on_again.clone()).await;
    assert_eq!(r.code(), "FunctionMutex", "{}", r.body);
    let text = ok(dir, &["domain", "show", "live.example.com"]);
    assert!(
        text.contains("http_only (http_only excludes HTTPS)"),
        "{text}"
    );
    assert!(text.contains("Locked"), "{text}");
    ok(
        dir,
        &[
            "domain",
            "set",
            "live.example.com",
            "--function",
            "http_only",
            "off",
        ],
    );
    assert_eq!(
        ok_json(dir, &["domain", "show", "live.example.com"])["Functions"],
        serde_json::json!([])
    );
    assert!(fails(dir, &["domain", "show", "nowhere.example.com"]).contains("no domain"));

    // domain set --origin: kept as http://host:port, `none` clears it, anything else is refused.
    let shown = ok_json(
        dir,
        &[
            "domain",
            "set",
            "live.example.com",
            "--origin",
            "http://Origin.Example.com:8081",
        ],
    );
    assert_eq!(shown["Origin"], "http://origin.example.com:8081");
    let text = ok(dir, &["domain", "show", "live.example.com"]);
    assert!(text.contains("http://origin.example.com:8081"), "{text}");
    assert!(fails(
        dir,
        &[
            "domain",
            "set",
            "live.example.com",
            "--origin",
            "https://origin.example.com"
        ]
    )
    .contains("only http:// origins"));
    assert_eq!(
        ok_json(
            dir,
            &["domain", "set", "live.example.com", "--origin", "none"]
        )["Origin"],
        serde_json::Value::Null
    );

    // cert revoke: the binding stays, Describe shows it, cas refuses it.
    let detail = call("DescribeLiveCertificateDetail", vec![("CertName", "wide")]).await;
    let wide_id = detail.ok()["CertId"].as_u64().expect("CertId").to_string();
    let revoked = ok_json(dir, &["cert", "revoke", &wide_id]);
    assert_eq!(revoked["Status"], "revoked");
    assert_eq!(revoked["Domains"], serde_json::json!(["live.example.com"]));
    let info = call(
        "DescribeLiveDomainCertificateInfo",
        vec![("DomainName", "live.example.com")],
    )
    .await;
    let info = &info.ok()["CertInfos"]["CertInfo"][0];
    assert_eq!(
        (info["CertName"].as_str(), info["Status"].as_str()),
        (Some("wide"), Some("revoked"))
    );
    let r = call(
        "SetLiveDomainCertificate",
        vec![
            ("DomainName", "spare.example.com"),
            ("SSLProtocol", "on"),
            ("CertType", "cas"),
            ("CertId", &wide_id),
        ],
    )
    .await;
    assert_eq!(r.code(), "Certificate.StatusError", "{}", r.body);

    // cert delete: refused while bound, naming the domain; an unbound record goes.
    let err = fails(dir, &["cert", "delete", &wide_id]);
    assert!(err.contains("live.example.com"), "{err}");
    let detail = call("DescribeLiveCertificateDetail", vec![("CertName", "loose")]).await;
    let loose_id = detail.ok()["CertId"].as_u64().expect("CertId").to_string();
    let deleted = ok_json(dir, &["cert", "delete", &loose_id]);
    assert_eq!(deleted["Deleted"], true);
    let r = call("DescribeLiveCertificateDetail", vec![("CertName", "loose")]).await;
    assert_eq!(r.code(), "CertNameNotFound", "{}", r.body);
    assert!(fails(dir, &["cert", "delete", &loose_id]).contains("no record"));
    drop(serve);
}

/// SetLiveDomainCertificate parameters: live.example.com, HTTPS on, upload `g` as `name`.
fn set_on<'a>(name: &'a str, g: &'a Generated) -> Vec<(&'a str, &'a str)> {
    vec![
        ("DomainName", "live.example.com"),
        ("SSLProtocol", "on"),
        ("CertName", name),
        ("SSLPub", &g.chain_pem),
        ("SSLPri", &g.key_pem),
    ]
}

/// Calls DescribeLiveCertificateList signed with `id`/`secret` at the current time.
async fn describe(addr: SocketAddr, id: &str, secret: &str) -> Reply {
    let now = livecert::clock::Clock::now(&livecert::clock::SystemClock);
    send(signed_request(
        addr,
        Scheme::V3,
        "DescribeLiveCertificateList",
        Vec::new(),
        id,
        secret,
        now,
    ))
    .await
}

/// Calls `call` until `done` holds, for at most 1.5 s (changes must be seen within 1 s).
async fn eventually<F, Fut>(call: F, done: impl Fn(&Reply) -> bool) -> Reply
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Reply>,
{
    let start = Instant::now();
    loop {
        let reply = call().await;
        if done(&reply) || start.elapsed() > Duration::from_millis(1500) {
            return reply;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Records three audit entries through the store, as the API does, and flushes them.
async fn record_audit(dir: &Path, account: u64, now: i64) {
    let data = DataDir::open(dir).expect("data dir");
    let store = livecert::server::open_store(&data, None)
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

/// A `livecert serve` child process, killed and reaped on drop.
struct Serve {
    child: Child,
    addr: SocketAddr,
}

impl Serve {
    fn start(dir: &Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
        let mut child = Command::new(env!("CARGO_BIN_EXE_livecert"))
            .args([
                "serve",
                "--no-edge",
                "--listen",
                &addr.to_string(),
                "--data-dir",
            ])
            .arg(dir)
            .env_remove("LIVECERT_MASTER_KEY")
            .env_remove("LIVECERT_DATA_DIR")
            .env("LIVECERT_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("livecert serve starts");
        for _ in 0..400 {
            if std::net::TcpStream::connect(addr).is_ok() {
                return Self { child, addr };
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("livecert serve did not open {addr}");
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `admin migrate`: refused while a `serve` holds the SQLite store's lock and with a malformed
/// `--to`; copies a small store (an account, its key, a domain) into a new PostgreSQL database,
/// printing the rows per table; `admin --store postgres://…` then sees the domain; a second run
/// into the now non-empty database is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_migrate_moves_an_sqlite_store_into_postgres() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let account = ok_json(dir, &["account", "create"])["AccountId"]
        .as_str()
        .expect("AccountId")
        .parse::<u64>()
        .unwrap();
    {
        let data = DataDir::open(dir).expect("data dir");
        let store = livecert::server::open_store(&data, None)
            .await
            .expect("store opens");
        let domain = livecert_store::NewDomain {
            name: livecert_core::names::DomainName::parse("live.example.com").unwrap(),
            live_domain_type: "liveVideo".into(),
            region: "cn-shanghai".into(),
            scope: "domestic".into(),
            check_url: None,
            top_level_domain: None,
            resource_group_id: None,
        };
        store
            .add_domain(account, domain, 1_767_225_600)
            .await
            .unwrap();
    }
    let db = dir.join("livecert.db");
    let from = format!("sqlite://{}", db.display());
    let pg = crate::postgres::Database::create().await;

    assert!(fails(dir, &["migrate", "--from", &from, "--to", "mysql://x"]).contains("postgres://"));
    {
        let _serving = DataDir::lock_for_serve(&db).unwrap();
        let err = fails(dir, &["migrate", "--from", &from, "--to", &pg.url]);
        assert!(err.contains("stop `livecert serve`"), "{err}");
    }

    let report = ok_json(dir, &["migrate", "--from", &from, "--to", &pg.url]);
    assert_eq!(report["Tables"]["accounts"], 1, "{report}");
    assert_eq!(report["Tables"]["domains"], 1, "{report}");
    assert_eq!(report["Tables"]["edge_changes"], 1, "{report}");

    let shown = ok(
        dir,
        &["--store", &pg.url, "domain", "show", "live.example.com"],
    );
    assert!(shown.contains("live.example.com"), "{shown}");

    let err = fails(dir, &["migrate", "--from", &from, "--to", &pg.url]);
    assert!(err.contains("not empty"), "{err}");
}

/// `admin migrate` names its stores with `--from` and `--to`: its help does not offer `--store`,
/// and `--store` given with it is refused with what to do instead.
#[test]
fn migrate_offers_no_store_option_and_refuses_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let help = admin(dir.path(), &["migrate", "--help"]);
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("--from") && help.contains("--to"), "{help}");
    assert!(!help.contains("--store"), "{help}");
    let out = admin(
        dir.path(),
        &[
            "--store",
            "sqlite:///nowhere.db",
            "migrate",
            "--from",
            "sqlite:///nowhere.db",
            "--to",
            "postgres://127.0.0.1/none",
        ],
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("drop --store"), "{stderr}");
}
