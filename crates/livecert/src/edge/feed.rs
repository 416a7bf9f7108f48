//! Live updates (spec/edge.md, "Updates"): a change feed publishes the store's change counter
//! into a `watch` channel, and [`follow`] reloads the map whenever the published value differs
//! from the map's. The feed here polls [`Store::change_counter`]; a PostgreSQL LISTEN/NOTIFY feed
//! replaces [`poll_change_counter`] by publishing into the same channel, and [`follow`] is
//! unchanged.
//!
//! A reload builds a new map beside the current one and swaps it in: handshakes in progress keep
//! the map they read, and established connections are not touched.

use std::sync::Arc;
use std::time::Duration;

use livecert_store::Store;
use tokio::sync::watch;
use tracing::{debug, warn};

use super::map::{CertMap, SharedMap};

/// How often the poller reads the change counter.
pub const POLL_INTERVAL: Duration = Duration::from_millis(150);

/// Publishes the change counter every `interval` (every read, so that a reload that failed is
/// retried on the next one). Ends when every receiver is gone.
pub async fn poll_change_counter(store: Store, interval: Duration, feed: watch::Sender<u64>) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        match store.change_counter().await {
            Ok(counter) => {
                if feed.send(counter).is_err() {
                    return;
                }
            }
            Err(e) => warn!(error = %e, "the edge cannot read the change counter"),
        }
    }
}

/// Reloads `map` from the store whenever the feed publishes a counter other than the map's.
/// Ends when the feed is gone. A failed reload keeps the current map (logged).
pub async fn follow(store: Store, map: Arc<SharedMap>, mut feed: watch::Receiver<u64>) {
    while feed.changed().await.is_ok() {
        let published = *feed.borrow_and_update();
        let current = map.load();
        if published == current.change_counter() {
            continue;
        }
        match store.edge_snapshot().await {
            Ok(snapshot) => {
                let next = CertMap::build(snapshot, Some(&current), current.opener().clone());
                debug!(
                    change_counter = next.change_counter(),
                    domains = next.len(),
                    "edge map reloaded"
                );
                map.store(next);
            }
            Err(e) => {
                warn!(error = %e, "the edge cannot reload its certificates; keeping the current ones");
            }
        }
    }
}
