//! `kill -9`: every write acknowledged before the process died is there after a reopen (SQLite;
//! WAL with `synchronous=FULL`, and no call answered before its group's commit). The test binary
//! runs itself as the child: [`kill9_child`] does nothing unless [`CHILD_DIR`] is set.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use livecert_core::secret::MasterKey;
use livecert_store::Store;

use crate::support::{dn, new_domain, NOW};

/// The child's database directory.
const CHILD_DIR: &str = "LIVECERT_STORE_KILL9_DIR";
/// The child's master key (base64).
const CHILD_KEY: &str = "LIVECERT_STORE_KILL9_KEY";
/// The account the child adds domains to.
const CHILD_ACCOUNT: &str = "LIVECERT_STORE_KILL9_ACCOUNT";
/// Acknowledged writes to see before the kill.
const ACKS_BEFORE_KILL: usize = 300;

/// The child: 8 tasks add domains as fast as they can and print `ACK <name>` after each answer.
#[test]
fn kill9_child() {
    let Ok(dir) = std::env::var(CHILD_DIR) else {
        return;
    };
    let key = MasterKey::from_base64(&std::env::var(CHILD_KEY).unwrap()).unwrap();
    let account: u64 = std::env::var(CHILD_ACCOUNT).unwrap().parse().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async move {
        let store = Store::open_sqlite(
            &std::path::Path::new(&dir).join("livecert.db"),
            Arc::new(key),
        )
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut tasks = Vec::new();
        for t in 0..8 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0.. {
                    if Instant::now() > deadline {
                        std::process::exit(1);
                    }
                    let name = format!("t{t}-{i}.example.com");
                    store
                        .add_domain(account, new_domain(&name), NOW)
                        .await
                        .unwrap();
                    let mut out = std::io::stdout().lock();
                    if writeln!(out, "ACK {name}")
                        .and_then(|()| out.flush())
                        .is_err()
                    {
                        std::process::exit(1);
                    }
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
    });
}

/// The parent: kills the child with SIGKILL mid-stream and finds every acknowledged domain.
#[test]
fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let (key, key_text) = MasterKey::generate().unwrap();
    let key = Arc::new(key);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let account = runtime.block_on(async {
        let store = Store::open_sqlite(&dir.path().join("livecert.db"), key.clone()).unwrap();
        store.create_account(NOW).await.unwrap()
    });

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "kill9::kill9_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIR, dir.path())
        .env(CHILD_KEY, key_text.expose_str().unwrap())
        .env(CHILD_ACCOUNT, account.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut acked = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(name) = line.strip_prefix("ACK ") {
            acked.push(name.to_owned());
            if acked.len() == ACKS_BEFORE_KILL {
                child.kill().unwrap(); // SIGKILL
                break;
            }
        }
    }
    child.wait().unwrap();
    assert_eq!(acked.len(), ACKS_BEFORE_KILL, "the child stopped early");

    runtime.block_on(async {
        let store = Store::open_sqlite(&dir.path().join("livecert.db"), key).unwrap();
        for name in &acked {
            assert!(
                store.domain(account, &dn(name)).await.unwrap().is_some(),
                "{name} was acknowledged but is gone"
            );
        }
        assert!(store.domains(account).await.unwrap().len() >= ACKS_BEFORE_KILL);
    });
}
