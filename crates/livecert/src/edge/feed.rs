//! Live updates (spec/edge.md, "Updates"): change feeds publish the store's change counter into
//! one `watch` channel, and [`follow`] brings the map forward whenever the published value differs
//! from the map's, by applying only what changed since the map's counter
//! ([`Store::edge_changes_since`], [`CertMap::apply`]).
//!
//! Feeds that publish into the channel:
//! - [`forward`] of this process's own commits, from the store's writer
//!   ([`Store::subscribe_changes`]), published before the API answers the call — the edge beside
//!   `serve` learns of a change without waiting;
//! - on PostgreSQL, [`forward`] of every node's commits, from the store's LISTEN feed
//!   ([`Store::listen_changes`]: notified counters, and the counter read afresh on every
//!   reconnect);
//! - [`poll_change_counter`]: a read of [`Store::change_counter`], published only when it differs
//!   from the map's (so a failed update is retried on the next read). On SQLite it is how writes
//!   of other processes (`livecert admin`, or the `serve` a separate `livecert edge` follows) are
//!   seen, every [`POLL_INTERVAL`]; on PostgreSQL it is a safety net, every
//!   [`SAFETY_POLL_INTERVAL`], for a feed that is down or an update that failed.
//!
//! Each update builds a new map beside the current one, sharing everything unchanged, and swaps it
//! in: handshakes in progress keep the map they read, and established connections are not touched.
//! The whole snapshot is read again only when a delta cannot be read or the counter went back (a
//! database replaced or restored).

use std::sync::Arc;
use std::time::Duration;

use livecert_store::Store;
use tokio::sync::watch;
use tracing::{debug, info, warn};

use super::map::{CertMap, SharedMap};

/// How often the poller reads the change counter when it is the only feed of other processes'
/// commits (SQLite).
pub const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// How often the poller reads the change counter beside PostgreSQL's LISTEN feed: the bound on
/// propagation while that feed is down, and on the retry of a failed update.
pub const SAFETY_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// The least time between two updates of the map by [`follow`]. Under a stream of writes (thousands
/// of SetLiveDomainCertificate calls per second, each group commit publishing a counter) reading
/// one delta per commit cost the API node a tenth of its CPU (issue 14's profile); 20 ms adds at
/// most that much to a new certificate's propagation, whose bound is a second (spec/edge.md).
pub const MIN_UPDATE_GAP: Duration = Duration::from_millis(20);

/// Deltas with more changes than this are applied on tokio's blocking pool, so that a bulk change
/// does not hold a worker thread that handshakes need.
const INLINE_CHANGES: usize = 1024;

/// Publishes each change counter `source` publishes ([`Store::subscribe_changes`],
/// [`Store::listen_changes`]) into `feed`, starting with the current one. Ends when either side
/// is gone.
pub async fn forward(mut source: watch::Receiver<u64>, feed: watch::Sender<u64>) {
    loop {
        let counter = *source.borrow_and_update();
        if feed.send(counter).is_err() || source.changed().await.is_err() {
            return;
        }
    }
}

/// Reads the change counter every `interval` and publishes it into `feed` when it differs from
/// `map`'s. Ends when every receiver is gone.
pub async fn poll_change_counter(
    store: Store,
    map: Arc<SharedMap>,
    interval: Duration,
    feed: watch::Sender<u64>,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Failures are logged once per outage, not at every read.
    let mut failing = false;
    loop {
        ticker.tick().await;
        if feed.is_closed() {
            return;
        }
        let read = store.change_counter().await;
        if read.is_ok() && std::mem::take(&mut failing) {
            info!("the edge reads the change counter again");
        }
        match read {
            Ok(counter) if counter != map.load().change_counter() => {
                if feed.send(counter).is_err() {
                    return;
                }
            }
            Ok(_) => {}
            Err(e) if !failing => {
                failing = true;
                warn!(error = %e, "the edge cannot read the change counter; it keeps its map and retries");
            }
            Err(e) => debug!(error = %e, "the edge still cannot read the change counter"),
        }
    }
}

/// Brings `map` forward whenever the feed publishes a counter other than the map's. Ends when the
/// feed is gone. A failed update keeps the current map (logged); the poller's next read retries
/// (within [`POLL_INTERVAL`] on SQLite, [`SAFETY_POLL_INTERVAL`] on PostgreSQL).
///
/// Updates are at least [`MIN_UPDATE_GAP`] apart: a change after a quiet spell is read at once, and
/// the commits of a stream of writes are read together, a few per update instead of one update each.
pub async fn follow(store: Store, map: Arc<SharedMap>, mut feed: watch::Receiver<u64>) {
    let mut last_update: Option<tokio::time::Instant> = None;
    while feed.changed().await.is_ok() {
        if let Some(last) = last_update {
            tokio::time::sleep_until(last + MIN_UPDATE_GAP).await;
        }
        last_update = Some(tokio::time::Instant::now());
        let published = *feed.borrow_and_update();
        let current = map.load();
        if published == current.change_counter() {
            continue;
        }
        if let Some(next) = bring_forward(&store, current).await {
            debug!(
                change_counter = next.change_counter(),
                domains = next.len(),
                "edge map updated"
            );
            map.store(next);
        }
    }
}

/// The map after what changed in the store since `current`: the delta applied, or — if the delta
/// cannot be read, or the counter went back — a map built from a whole new snapshot (reusing
/// `current`'s unchanged records). `None`: nothing changed, or nothing could be read (logged).
pub async fn bring_forward(store: &Store, current: Arc<CertMap>) -> Option<CertMap> {
    let since = current.change_counter();
    match store.edge_changes_since(since).await {
        Ok(delta) if delta.change_counter >= since => {
            if delta.change_counter == since && delta.changed.is_empty() && delta.removed.is_empty()
            {
                return None;
            }
            if delta.changed.len() + delta.removed.len() <= INLINE_CHANGES {
                return Some(current.apply(delta));
            }
            tokio::task::spawn_blocking(move || current.apply(delta))
                .await
                .map_err(|e| warn!(error = %e, "applying the edge's changes failed"))
                .ok()
        }
        Ok(delta) => {
            warn!(
                since,
                now = delta.change_counter,
                "the store's change counter went back (database replaced or restored): the edge reloads everything"
            );
            reload(store, current).await
        }
        Err(e) => {
            warn!(error = %e, "the edge cannot read the store's changes: it reloads everything");
            reload(store, current).await
        }
    }
}

/// A map built from a whole snapshot, reusing `current`'s unchanged records; `None` if the
/// snapshot cannot be read (logged).
async fn reload(store: &Store, current: Arc<CertMap>) -> Option<CertMap> {
    let snapshot = match store.edge_snapshot().await {
        Ok(snapshot) => snapshot,
        Err(e) => {
            warn!(error = %e, "the edge cannot reload its certificates; keeping the current ones");
            return None;
        }
    };
    tokio::task::spawn_blocking(move || {
        CertMap::build(snapshot, Some(&current), current.opener().clone())
    })
    .await
    .map_err(|e| warn!(error = %e, "rebuilding the edge's map failed"))
    .ok()
}
