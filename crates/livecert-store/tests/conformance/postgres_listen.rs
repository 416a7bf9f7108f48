//! PostgreSQL only: the change feed of `Store::listen_changes` — one connection of its own that
//! LISTENs for the commits of every node. It publishes each notified change counter, clears the
//! AccessKey cache when another node changes keys, and on every (re)connect publishes the counter
//! read afresh (and clears the cache), so that a notification lost while it was disconnected
//! cannot leave a node stale. Its connection is cut here through a TCP proxy the test controls.
//!
//! Waits are bounded only so that a broken feed fails instead of hanging; nothing asserts on time.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use livecert_store::{KEYS_NOTIFY_CHANNEL, NOTIFY_CHANNEL};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::support::{new_domain, Backend, Postgres, NOW};

/// How long a test waits for the feed before it fails (a healthy feed takes milliseconds).
const PATIENCE: Duration = Duration::from_secs(20);

/// The application name of the feed's connection (`pg_stat_activity`).
const LISTENER: &str = "livecert-listen";

/// SQLite has no feed: its edges poll.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_stores_have_no_listen_feed() {
    let b = crate::support::Sqlite::new();
    assert!(b.open().listen_changes().is_none());
}

/// A commit on one node reaches the feed of another with its counter; a commit that moves the
/// counter twice ends with the last value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_nodes_commits_are_published() {
    let b = Postgres::new();
    let (one, two) = (b.open(), b.open());
    let mut feed = one.listen_changes().expect("PostgreSQL has a feed");
    let connected = wait_for(&mut feed, |_| true).await;
    assert_eq!(connected, one.change_counter().await.unwrap());

    let a = two.create_account(NOW).await.unwrap();
    for i in 0..3 {
        two.add_domain(a, new_domain(&format!("n{i}.example.com")), NOW)
            .await
            .unwrap();
        let counter = two.change_counter().await.unwrap();
        assert_eq!(wait_for(&mut feed, |c| c >= counter).await, counter);
    }
    // Each call shares the one listener.
    let again = one.listen_changes().unwrap();
    assert_eq!(*again.borrow(), two.change_counter().await.unwrap());
    assert_eq!(
        b.query(&format!(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE application_name = '{LISTENER}' AND datname = current_database()"
        )),
        vec![vec![Some("1".to_owned())]]
    );
}

/// A payload that is not a counter is ignored and makes the feed read the counter again (here
/// moved behind its back, without a notification).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_payload_makes_the_feed_read_the_counter() {
    let b = Postgres::new();
    let one = b.open();
    let mut feed = one.listen_changes().unwrap();
    let start = wait_for(&mut feed, |_| true).await;
    b.query("UPDATE changes SET counter = counter + 5 WHERE id = 1");
    b.query(&format!(
        "SELECT pg_notify('{NOTIFY_CHANNEL}', 'not a counter')"
    ));
    assert_eq!(wait_for(&mut feed, |c| c > start).await, start + 5);
}

/// A key disabled through another node is seen at once once the feed has heard of it: the
/// AccessKey cache is cleared by the notification, not left to its one-second trust. (Notifications
/// arrive in commit order, so the later domain write, once published, proves the key's was
/// handled.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_change_on_another_node_clears_the_cache() {
    let b = Postgres::new();
    let (one, two) = (b.open(), b.open());
    let mut feed = one.listen_changes().unwrap();
    wait_for(&mut feed, |_| true).await;
    let a = two.create_account(NOW).await.unwrap();
    let (key, _) = two.create_access_key(a, None, NOW).await.unwrap();
    assert!(one.access_key(&key).await.unwrap().unwrap().active);
    let cached = std::time::Instant::now();

    two.set_access_key_active(&key, false).await.unwrap();
    two.add_domain(a, new_domain("after.example.com"), NOW)
        .await
        .unwrap();
    let counter = two.change_counter().await.unwrap();
    wait_for(&mut feed, |c| c >= counter).await;
    let entry = one.access_key(&key).await.unwrap().unwrap();
    assert!(
        !entry.active,
        "the key is still served from the cache after the feed heard of its change \
         ({:?} after it was cached)",
        cached.elapsed()
    );
}

/// A key notification on its own (no counter moves) clears the cache too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bare_key_notification_clears_the_cache() {
    let b = Postgres::new();
    let (one, two) = (b.open(), b.open());
    let mut feed = one.listen_changes().unwrap();
    wait_for(&mut feed, |_| true).await;
    let a = two.create_account(NOW).await.unwrap();
    let (key, _) = two.create_access_key(a, None, NOW).await.unwrap();
    assert!(one.access_key(&key).await.unwrap().unwrap().active);
    // Behind the store's back: no notification, so the cache still has the key as active...
    b.query(&format!(
        "UPDATE access_keys SET status = 'inactive' WHERE id = '{key}'"
    ));
    // ...until a key notification, then a counter one to know it was handled.
    b.query(&format!(
        "SELECT pg_notify('{KEYS_NOTIFY_CHANNEL}', ''); \
         UPDATE changes SET counter = counter + 1 WHERE id = 1; \
         SELECT pg_notify('{NOTIFY_CHANNEL}', (SELECT counter FROM changes)::text)"
    ));
    let counter = one.change_counter().await.unwrap();
    wait_for(&mut feed, |c| c >= counter).await;
    assert!(!one.access_key(&key).await.unwrap().unwrap().active);
}

/// The feed's connection is lost while another node commits a certificate change and disables a
/// key (their notifications are lost with it) and cannot come back for a while: once it does, the
/// feed publishes the counter it reads and the key cache is cleared — no node stays stale.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnected_feed_resynchronises() {
    let b = Postgres::new();
    let proxy = Proxy::start(b.url()).await;
    let one = b.open_at(&proxy.url(b.url()));
    let two = b.open();
    let mut feed = one.listen_changes().unwrap();
    wait_for(&mut feed, |_| true).await;
    let a = two.create_account(NOW).await.unwrap();
    let (key, _) = two.create_access_key(a, None, NOW).await.unwrap();
    assert!(one.access_key(&key).await.unwrap().unwrap().active);

    // New connections through the proxy are refused; the pool's stay up. Then the feed's own
    // connection is ended by the server.
    proxy.refuse_new(true);
    b.query(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = '{LISTENER}' AND datname = current_database()"
    ));
    // Gone before the writes, so that none of their notifications can reach it.
    tokio::time::timeout(PATIENCE, async {
        while b.query(&format!(
            "SELECT 1 FROM pg_stat_activity \
             WHERE application_name = '{LISTENER}' AND datname = current_database()"
        )) != Vec::<Vec<Option<String>>>::new()
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the feed's connection ends");
    two.set_access_key_active(&key, false).await.unwrap();
    two.add_domain(a, new_domain("missed.example.com"), NOW)
        .await
        .unwrap();
    let counter = two.change_counter().await.unwrap();
    // Let a few reconnections fail.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        *feed.borrow() < counter,
        "the feed heard a lost notification"
    );

    proxy.refuse_new(false);
    assert_eq!(wait_for(&mut feed, |c| c >= counter).await, counter);
    assert!(!one.access_key(&key).await.unwrap().unwrap().active);
    // And it listens again.
    two.add_domain(a, new_domain("heard.example.com"), NOW)
        .await
        .unwrap();
    let next = two.change_counter().await.unwrap();
    assert_eq!(wait_for(&mut feed, |c| c >= next).await, next);
}

/// Waits until the feed publishes a value that satisfies `done` (the current one counts if it
/// was not seen yet); fails after [`PATIENCE`].
async fn wait_for(feed: &mut watch::Receiver<u64>, done: impl Fn(u64) -> bool) -> u64 {
    let waited = tokio::time::timeout(PATIENCE, async {
        if !feed.has_changed().unwrap_or(false) {
            feed.changed().await.expect("the feed ended");
        }
        loop {
            let value = *feed.borrow_and_update();
            if done(value) {
                return value;
            }
            feed.changed().await.expect("the feed ended");
        }
    })
    .await;
    waited.unwrap_or_else(|_| panic!("the feed published nothing acceptable in {PATIENCE:?}"))
}

/// A TCP proxy to the test server that can refuse new connections while keeping the open ones.
struct Proxy {
    addr: SocketAddr,
    refusing: Arc<AtomicBool>,
}

impl Proxy {
    /// A proxy on 127.0.0.1 to the server of `url`.
    async fn start(url: &str) -> Self {
        let config: tokio_postgres::Config = url.parse().unwrap();
        let host = match config.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
            other => panic!("the test server must be reached over TCP, not {other:?}"),
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let upstream = format!("{host}:{port}");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let refusing = Arc::new(AtomicBool::new(false));
        let refuse = Arc::clone(&refusing);
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if refuse.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        Self { addr, refusing }
    }

    /// `url` with its host and port replaced by the proxy's.
    fn url(&self, url: &str) -> String {
        let scheme_end = url.find("://").unwrap() + 3;
        let rest = &url[scheme_end..];
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let user = rest[..authority_end]
            .rfind('@')
            .map_or("", |at| &rest[..=at]);
        format!(
            "{}{user}{}{}",
            &url[..scheme_end],
            self.addr,
            &rest[authority_end..]
        )
    }

    fn refuse_new(&self, refuse: bool) {
        self.refusing.store(refuse, Ordering::SeqCst);
    }
}

#[test]
fn the_proxy_url_keeps_user_database_and_options() {
    let proxy = Proxy {
        addr: "127.0.0.1:9".parse().unwrap(),
        refusing: Arc::default(),
    };
    assert_eq!(
        proxy.url("postgres://u:p@db:5432/x?connect_timeout=2"),
        "postgres://u:p@127.0.0.1:9/x?connect_timeout=2"
    );
    assert_eq!(proxy.url("postgres://db/x"), "postgres://127.0.0.1:9/x");
}
