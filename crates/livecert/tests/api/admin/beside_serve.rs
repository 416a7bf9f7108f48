//! `admin` beside a running `serve` on the same data directory: its changes reach the API within
//! a second.

use super::{describe, eventually, ok, ok_json, str_of, Serve};

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
