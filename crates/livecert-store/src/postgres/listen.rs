//! The change feed of a PostgreSQL store ([`crate::Store::listen_changes`]): one connection of its
//! own, outside the pool, that `LISTEN`s for the commits of every node on the database.
//!
//! - [`NOTIFY_CHANNEL`]: the change-counter triggers notify it with the new counter at each commit
//!   that moves it. Each value above the one published is published; a payload that is not a
//!   counter is logged, ignored, and the counter is read again and published (a resync).
//! - [`KEYS_NOTIFY_CHANNEL`]: every committed write that touches accounts, AccessKeys, RAM users or
//!   policies notifies it (`PgBackend::write`); the AccessKey cache is cleared, so a key disabled
//!   or a policy changed on another node is seen here at once rather than after the cache's
//!   one-second trust.
//! - On every connect and reconnect, after `LISTEN` and before anything else: the counter is read
//!   and published (even if unchanged, so followers check it), and the AccessKey cache cleared.
//!   A notification sent while the feed was disconnected is lost; this is what makes the loss
//!   harmless.
//! - Every [`HEARTBEAT`], the counter is read on the feed's connection (published if it moved
//!   without a notification); one not answered within [`HEARTBEAT_TIMEOUT`] counts as a lost
//!   connection, so a half-open TCP connection is not listened to for ever.
//! - A lost connection is logged once (`warn`), and the feed reconnects after [`MIN_BACKOFF`],
//!   doubling to at most [`MAX_BACKOFF`] while attempts fail (each failed attempt at `debug`); its
//!   return is logged once (`info`, with how long it was down). While it is down, edges fall back
//!   on their slow poll and the AccessKey cache on its one-second trust.
//!
//! The feed runs on the backend's runtime from the first [`crate::Store::listen_changes`] until the
//! store is dropped.

use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio_postgres::{AsyncMessage, Client, Config, NoTls, Notification};
use tracing::{debug, info, warn};

use super::{KEYS_NOTIFY_CHANNEL, NOTIFY_CHANNEL};
use crate::key_cache::KeyCache;

/// The feed connection's `application_name` (as `pg_stat_activity` shows it).
pub(crate) const APPLICATION_NAME: &str = "livecert-listen";
/// The first wait before reconnecting.
pub(crate) const MIN_BACKOFF: Duration = Duration::from_millis(100);
/// The longest wait between two attempts to reconnect.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How often the feed reads the counter on its own connection.
pub(crate) const HEARTBEAT: Duration = Duration::from_secs(10);
/// How long a heartbeat (or the reads of a connect) may take before the connection counts as lost.
pub(crate) const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs the feed for ever (until its runtime stops): connects with `config`, publishes counters
/// into `published` and clears `keys` as the module documentation says.
pub(crate) async fn run(
    config: Config,
    keys: std::sync::Arc<KeyCache>,
    published: watch::Sender<u64>,
) {
    let mut config = config;
    config.application_name(APPLICATION_NAME);
    let mut backoff = MIN_BACKOFF;
    // Since when the feed has been down, if it is (`None` at start: a first connection that fails
    // is logged like a lost one).
    let mut down_since: Option<Instant> = None;
    loop {
        match Session::connect(&config, &keys, &published).await {
            Ok(session) => {
                if let Some(since) = down_since.take() {
                    info!(
                        down_for_ms = since.elapsed().as_millis(),
                        "the change feed is listening again (counter read afresh)"
                    );
                }
                let started = Instant::now();
                let lost = session.listen(&keys, &published).await;
                warn!(
                    error = %lost,
                    "the change feed lost its PostgreSQL connection; reconnecting (meanwhile edges \
                     poll the change counter and cached AccessKeys are trusted for a second)"
                );
                down_since = Some(Instant::now());
                if started.elapsed() >= MAX_BACKOFF {
                    backoff = MIN_BACKOFF;
                }
            }
            Err(e) => {
                if down_since.is_none() {
                    warn!(
                        error = %e,
                        "the change feed cannot connect to PostgreSQL; retrying (meanwhile edges \
                         poll the change counter and cached AccessKeys are trusted for a second)"
                    );
                    down_since = Some(Instant::now());
                } else {
                    debug!(error = %e, "the change feed still cannot connect");
                }
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// A connected feed: the client, and the notifications its connection delivers.
struct Session {
    client: Client,
    notifications: mpsc::UnboundedReceiver<Notification>,
    /// Drives the connection; ends with the reason it was lost.
    driver: tokio::task::JoinHandle<String>,
}

impl Session {
    /// Connects, `LISTEN`s on both channels, then reads and publishes the counter and clears the
    /// key cache (the resync).
    async fn connect(
        config: &Config,
        keys: &KeyCache,
        published: &watch::Sender<u64>,
    ) -> Result<Self, String> {
        let (client, mut connection) = config.connect(NoTls).await.map_err(|e| describe(&e))?;
        let (heard, notifications) = mpsc::unbounded_channel();
        let driver = tokio::spawn(async move {
            loop {
                match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                    Some(Ok(AsyncMessage::Notification(n))) => {
                        if heard.send(n).is_err() {
                            return "the feed stopped".to_owned();
                        }
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return describe(&e),
                    None => return "the server closed the connection".to_owned(),
                }
            }
        });
        let session = Self {
            client,
            notifications,
            driver,
        };
        let listening = tokio::time::timeout(
            HEARTBEAT_TIMEOUT,
            session.client.batch_execute(&format!(
                "LISTEN {NOTIFY_CHANNEL}; LISTEN {KEYS_NOTIFY_CHANNEL}"
            )),
        )
        .await;
        match listening {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(session.end(describe(&e))),
            Err(_) => return Err(session.end("LISTEN was not answered in time".to_owned())),
        }
        let counter = match session.counter().await {
            Ok(counter) => counter,
            Err(e) => return Err(session.end(e)),
        };
        keys.invalidate();
        published.send_replace(counter);
        Ok(session)
    }

    /// Handles notifications and heartbeats until the connection is lost; returns why.
    async fn listen(mut self, keys: &KeyCache, published: &watch::Sender<u64>) -> String {
        let mut heartbeat =
            tokio::time::interval_at(tokio::time::Instant::now() + HEARTBEAT, HEARTBEAT);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                heard = self.notifications.recv() => {
                    let Some(notification) = heard else {
                        return (&mut self.driver).await.unwrap_or_else(|e| e.to_string());
                    };
                    if notification.channel() == KEYS_NOTIFY_CHANNEL {
                        keys.invalidate();
                        continue;
                    }
                    if let Ok(counter) = notification.payload().parse::<u64>() {
                        publish_if_above(published, counter);
                        continue;
                    }
                    warn!(
                        channel = notification.channel(),
                        payload = notification.payload().chars().take(64).collect::<String>(),
                        "a change notification without a counter; reading the counter"
                    );
                    match self.counter().await {
                        Ok(counter) => {
                            published.send_replace(counter);
                        }
                        Err(e) => return self.end(e),
                    }
                }
                _ = heartbeat.tick() => match self.counter().await {
                    Ok(counter) if counter != *published.borrow() => {
                        debug!(counter, "the change counter moved without a notification heard");
                        published.send_replace(counter);
                    }
                    Ok(_) => {}
                    Err(e) => return self.end(e),
                },
            }
        }
    }

    /// The change counter, read on the feed's connection.
    async fn counter(&self) -> Result<u64, String> {
        let read = tokio::time::timeout(
            HEARTBEAT_TIMEOUT,
            self.client
                .query_one("SELECT counter FROM changes WHERE id = 1", &[]),
        )
        .await
        .map_err(|_| "the change counter was not read in time".to_owned())?
        .map_err(|e| describe(&e))?;
        let counter: i64 = read.try_get(0).map_err(|e| e.to_string())?;
        u64::try_from(counter).map_err(|_| format!("a negative change counter: {counter}"))
    }

    /// Closes the connection and returns `reason`.
    fn end(self, reason: String) -> String {
        self.driver.abort();
        reason
    }
}

/// A tokio-postgres error with the server's message, if any (its `Display` alone says `db error`).
fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => db.to_string(),
        None => e.to_string(),
    }
}

/// Publishes `counter` if it is above the published value (notifications of one commit, or heard
/// just after a resync read, may repeat or trail it).
fn publish_if_above(published: &watch::Sender<u64>, counter: u64) {
    published.send_if_modified(|current| {
        let above = counter > *current;
        if above {
            *current = counter;
        }
        above
    });
}

#[cfg(test)]
mod tests {
    use super::publish_if_above;

    #[test]
    fn only_higher_counters_are_published() {
        let (published, mut seen) = tokio::sync::watch::channel(5);
        publish_if_above(&published, 4);
        publish_if_above(&published, 5);
        assert!(!seen.has_changed().unwrap());
        publish_if_above(&published, 7);
        assert!(seen.has_changed().unwrap());
        assert_eq!(*seen.borrow_and_update(), 7);
    }
}
