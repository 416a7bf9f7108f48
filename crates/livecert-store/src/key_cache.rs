//! An in-memory cache of AccessKey lookups, so that a signed request costs no database read.
//!
//! Entries hold the opened [`AccessKeyEntry`] (the secret stays in zeroised memory, the user's
//! policy documents beside it) and live at most [`TTL`]: a change made by another process
//! (`livecert admin` on the same database: a key, a user, a policy or an attachment) reaches this
//! one within that time, as spec/access.md requires. Writes made through this
//! process clear the cache when they commit; on PostgreSQL, so do other nodes' writes, through
//! the change feed (`postgres/listen.rs`), which also clears it on every reconnect — the TTL is
//! then only the bound while the feed is down. A generation number closes the race between a read
//! that began before such a commit and its insertion afterwards: an entry is kept only if no
//! invalidation happened while it was being read. Unknown ids are not cached, so a flood of made-up
//! ids cannot fill memory; the cache is cleared whole when it reaches [`MAX_ENTRIES`].

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::AccessKeyEntry;

/// How long a cached entry is trusted.
pub(crate) const TTL: Duration = Duration::from_secs(1);
/// Entries kept at most.
const MAX_ENTRIES: usize = 4096;

/// The cache; see the module documentation.
#[derive(Default)]
pub(crate) struct KeyCache {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    generation: u64,
    entries: HashMap<String, (Instant, AccessKeyEntry)>,
}

impl KeyCache {
    /// The cached entry for `id`, if fresh.
    pub(crate) fn get(&self, id: &str) -> Option<AccessKeyEntry> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        match state.entries.get(id) {
            Some((loaded, entry)) if loaded.elapsed() < TTL => Some(entry.clone()),
            _ => None,
        }
    }

    /// The generation to pass to [`KeyCache::put`] for a read that starts now.
    pub(crate) fn generation(&self) -> u64 {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .generation
    }

    /// Caches `entry`, loaded at `loaded`, unless the cache was invalidated since `generation`.
    pub(crate) fn put(&self, generation: u64, loaded: Instant, entry: AccessKeyEntry) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.generation != generation {
            return;
        }
        if state.entries.len() >= MAX_ENTRIES {
            state.entries.clear();
        }
        state
            .entries
            .insert(entry.access_key_id.clone(), (loaded, entry));
    }

    /// Forgets every entry (after a commit that changed accounts or keys).
    pub(crate) fn invalidate(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.generation = state.generation.wrapping_add(1);
        state.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use livecert_core::secret::Secret;

    use super::*;

    fn entry(id: &str) -> AccessKeyEntry {
        AccessKeyEntry {
            access_key_id: id.to_owned(),
            account_id: 1,
            secret: Secret::new(&b"s"[..]),
            active: true,
            account_active: true,
            principal: crate::Principal::Root,
            policies: Vec::new(),
            sts: None,
        }
    }

    #[test]
    fn entries_expire_and_invalidation_wins_the_race() {
        let cache = KeyCache::default();
        let generation = cache.generation();
        cache.put(generation, Instant::now(), entry("a"));
        assert!(cache.get("a").is_some());
        assert!(cache.get("b").is_none());

        // Loaded too long ago: not served.
        let stale = Instant::now().checked_sub(TTL * 2).unwrap();
        cache.put(generation, stale, entry("b"));
        assert!(cache.get("b").is_none());

        // A read that started before an invalidation is not cached after it.
        let before = cache.generation();
        cache.invalidate();
        assert!(cache.get("a").is_none());
        cache.put(before, Instant::now(), entry("c"));
        assert!(cache.get("c").is_none());
    }
}
