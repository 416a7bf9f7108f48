//! What the edge reads: the snapshot of every binding, the changes after a counter value, the
//! change counter and its feeds, and the opener of sealed private keys.

use std::sync::Arc;

use tokio::sync::watch;

use crate::call::{read_call, Backend};
use crate::sql;
use crate::{CertKeyOpener, EdgeDelta, EdgeSnapshot, Store, StoreError};

impl Store {
    /// Everything the edge serves: every domain of every account (any status, HTTPS on or off)
    /// with its record if HTTPS is on — the chain as DER, the private key still sealed (open it
    /// with [`Store::cert_key_opener`]) — read in one transaction together with the change
    /// counter.
    pub async fn edge_snapshot(&self) -> Result<EdgeSnapshot, StoreError> {
        let (change_counter, bindings) =
            read_call!(self, |tx| { sql::read::edge_snapshot(tx).await })?;
        Ok(EdgeSnapshot {
            change_counter,
            bindings,
        })
    }

    /// What changed for the edge after the change counter was `counter` (an earlier
    /// [`EdgeSnapshot::change_counter`] or [`EdgeDelta::change_counter`]): every domain whose last
    /// edge-relevant change came later, as in [`Store::edge_snapshot`], and the names of the
    /// domains deleted since, read in one transaction together with the counter. A change to a
    /// record's content or status lists every domain bound to it. Applying the delta to the state
    /// as of `counter` gives the state as of [`EdgeDelta::change_counter`].
    pub async fn edge_changes_since(&self, counter: u64) -> Result<EdgeDelta, StoreError> {
        let (change_counter, changed, removed) = read_call!(self, |tx| {
            sql::read::edge_changes_since(tx, counter).await
        })?;
        Ok(EdgeDelta {
            change_counter,
            changed,
            removed,
        })
    }

    /// The handle the edge opens the records' sealed private keys with ([`EdgeRecord::key_sealed`](crate::EdgeRecord::key_sealed)).
    pub fn cert_key_opener(&self) -> CertKeyOpener {
        CertKeyOpener::new(Arc::clone(&self.inner.master_key))
    }

    /// The change counter: it only increases, and every commit that adds or removes a domain,
    /// changes a domain's certificate, HTTPS switch, status, origin or `https_required`, or changes
    /// the content or status of a record bound to a domain, increases it (by at least one). Writes
    /// that change nothing the edge serves leave it alone. The edge learns of this process's
    /// commits from [`Store::subscribe_changes`], of other processes' from
    /// [`Store::listen_changes`] on PostgreSQL, and polls this for them (`livecert admin`, a `serve`
    /// beside a `livecert edge`, other nodes: every 50 ms on SQLite, as a slow safety net on
    /// PostgreSQL), then asks [`Store::edge_changes_since`].
    pub async fn change_counter(&self) -> Result<u64, StoreError> {
        read_call!(self, |tx| { sql::read::change_counter(tx).await })
    }

    /// The change counter as published by this store after each commit that moved it, before the
    /// calls of that commit are answered; starts at the counter when the store was opened. Dry
    /// runs and failed writes publish nothing. Only this process's writes are seen here: another
    /// process's show in [`Store::change_counter`] and, with PostgreSQL, in
    /// [`Store::listen_changes`].
    pub fn subscribe_changes(&self) -> watch::Receiver<u64> {
        self.inner.changes.subscribe()
    }

    /// PostgreSQL: the change feed of every node's commits, for edges and API caches on other
    /// nodes. Started on the first call (one connection of its own, outside the pool, that
    /// `LISTEN`s on [`NOTIFY_CHANNEL`](crate::NOTIFY_CHANNEL) and [`KEYS_NOTIFY_CHANNEL`](crate::KEYS_NOTIFY_CHANNEL)) and shared by later ones; it
    /// runs until the store is dropped, whether or not a receiver is left. The receiver gets each
    /// change counter a commit notifies; on every (re)connect the feed reads the counter and
    /// publishes it, so a notification lost while it was disconnected cannot leave a follower
    /// stale. The feed also clears the AccessKey cache when another node changes keys, users or
    /// policies, and on every (re)connect, so [`Store::access_key`] sees such changes at once
    /// rather than after its one-second trust (which stays the bound while the feed is down).
    /// It reconnects by itself (backoff from 100 ms to 5 s), and logs a lost connection once.
    ///
    /// SQLite: `None` — one `serve` writes, and other processes poll [`Store::change_counter`].
    pub fn listen_changes(&self) -> Option<watch::Receiver<u64>> {
        match &self.inner.backend {
            Backend::Sqlite(_) => None,
            Backend::Postgres(p) => Some(p.listen()),
        }
    }
}
