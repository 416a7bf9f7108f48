//! The nonce store (spec/protocol.md §5): a nonce used with an AccessKeyId is refused again while
//! its request's timestamp is inside the clock window.
//!
//! Entries are a fixed-size SHA-256 of (AccessKeyId, nonce) ([`nonce_key`]) with the second at
//! which the entry may be forgotten ([`forget_at`]: the request's timestamp plus the window, after
//! which the clock check refuses a replay anyway). Two stores behind one trait, whose check the
//! pipeline awaits ([`Answer`]):
//! - [`MemoryNonces`], for SQLite (one `serve` per database): bounded; when full it refuses new
//!   requests with `ServiceUnavailable` rather than evict, since evicting would reopen replay. It
//!   is sharded so that concurrent requests rarely contend, and answers at once.
//! - [`SharedNonces`], for PostgreSQL (several `serve` nodes): a table every node records into
//!   ([`SharedLimits::record_nonce`]), so a nonce used on one node is refused on every other. A
//!   table that cannot be written (the database is down, its disk full) refuses with
//!   `ServiceUnavailable` in the same way.

use std::collections::HashMap;
use std::sync::Mutex;

use livecert_core::protocol::CLOCK_WINDOW_SECS;
use livecert_store::{NonceCheck, SharedLimits};
use sha2::{Digest, Sha256};

use crate::api::Answer;

/// Why a nonce was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NonceRefusal {
    /// Seen before inside the window: `SignatureNonceUsed`.
    Used,
    /// The in-memory store is full: `ServiceUnavailable`.
    Full,
    /// The shared store could not record it (its database failed): `ServiceUnavailable`. The
    /// text is for the log.
    Unavailable(String),
}

/// Records nonces and refuses replays.
pub trait Nonces: Send + Sync + 'static {
    /// Records (AccessKeyId, nonce) for a request stamped `timestamp`, or refuses it.
    /// `now` and `timestamp` are Unix seconds.
    fn check_and_record(
        &self,
        access_key_id: &str,
        nonce: &str,
        timestamp: i64,
        now: i64,
    ) -> Answer<'_, Result<(), NonceRefusal>>;

    /// Entries held in this process's memory (the `livecert_nonce_entries` metric); `None` for a
    /// store whose entries are in the database.
    fn entries(&self) -> Option<usize>;
}

/// The fixed-size key of (AccessKeyId, nonce): SHA-256 of the id's length (8 bytes, big endian),
/// the id and the nonce, so that no two pairs share an encoding.
pub fn nonce_key(access_key_id: &str, nonce: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update((access_key_id.len() as u64).to_be_bytes());
    hasher.update(access_key_id.as_bytes());
    hasher.update(nonce.as_bytes());
    hasher.finalize().into()
}

/// The Unix second from which the entry of a request stamped `timestamp`, seen at `now`, may be
/// forgotten: the later of the two plus the clock window.
pub fn forget_at(timestamp: i64, now: i64) -> i64 {
    timestamp.max(now).saturating_add(CLOCK_WINDOW_SECS)
}

/// The nonce store of several API nodes on one PostgreSQL store.
pub struct SharedNonces {
    limits: SharedLimits,
}

impl SharedNonces {
    /// A store on `limits` (from [`livecert_store::Store::shared_limits`]).
    pub fn new(limits: SharedLimits) -> Self {
        Self { limits }
    }
}

impl Nonces for SharedNonces {
    fn check_and_record(
        &self,
        access_key_id: &str,
        nonce: &str,
        timestamp: i64,
        now: i64,
    ) -> Answer<'_, Result<(), NonceRefusal>> {
        let key = nonce_key(access_key_id, nonce);
        let forget_at = forget_at(timestamp, now);
        Answer::later(async move {
            match self.limits.record_nonce(&key, forget_at, now).await {
                Ok(NonceCheck::Fresh) => Ok(()),
                Ok(NonceCheck::Used) => Err(NonceRefusal::Used),
                Err(e) => Err(NonceRefusal::Unavailable(format!(
                    "the shared nonce table could not record a nonce: {e}"
                ))),
            }
        })
    }

    fn entries(&self) -> Option<usize> {
        None
    }
}

const SHARDS: usize = 16;

/// The in-memory, bounded nonce store of a single node.
pub struct MemoryNonces {
    shards: Vec<Mutex<HashMap<[u8; 32], i64>>>,
    capacity_per_shard: usize,
}

impl MemoryNonces {
    /// A store holding at most about `capacity` entries (rounded up to a multiple of 16).
    pub fn new(capacity: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            capacity_per_shard: capacity.div_ceil(SHARDS).max(1),
        }
    }
}

impl MemoryNonces {
    /// [`Nonces::check_and_record`], answered at once.
    pub fn check_now(
        &self,
        access_key_id: &str,
        nonce: &str,
        timestamp: i64,
        now: i64,
    ) -> Result<(), NonceRefusal> {
        let key = nonce_key(access_key_id, nonce);
        let shard = &self.shards[usize::from(key[0]) % SHARDS];
        let mut map = shard
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(&forget_at) = map.get(&key) {
            if forget_at >= now {
                return Err(NonceRefusal::Used);
            }
        }
        if map.len() >= self.capacity_per_shard {
            map.retain(|_, forget_at| *forget_at >= now);
            if map.len() >= self.capacity_per_shard {
                return Err(NonceRefusal::Full);
            }
        }
        map.insert(key, forget_at(timestamp, now));
        Ok(())
    }

    /// Entries currently held.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                s.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .len()
            })
            .sum()
    }

    /// Whether no entries are held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Nonces for MemoryNonces {
    fn check_and_record(
        &self,
        access_key_id: &str,
        nonce: &str,
        timestamp: i64,
        now: i64,
    ) -> Answer<'_, Result<(), NonceRefusal>> {
        Answer::ready(self.check_now(access_key_id, nonce, timestamp, now))
    }

    fn entries(&self) -> Option<usize> {
        Some(self.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replay_is_refused_until_the_window_passes() {
        let n = MemoryNonces::new(1024);
        assert_eq!(n.check_now("k", "n1", 1000, 1000), Ok(()));
        assert_eq!(n.check_now("k", "n1", 1000, 1001), Err(NonceRefusal::Used));
        assert_eq!(n.check_now("other", "n1", 1000, 1001), Ok(()));
        assert_eq!(
            n.check_now("k", "n1", 1000, 1000 + CLOCK_WINDOW_SECS + 1),
            Ok(())
        );
    }

    #[test]
    fn a_full_store_refuses_rather_than_evicts() {
        let n = MemoryNonces::new(16);
        let mut refused = 0;
        for i in 0..64 {
            if n.check_now("k", &i.to_string(), 1000, 1000) == Err(NonceRefusal::Full) {
                refused += 1;
            }
        }
        assert!(refused > 0);
        assert!(n.len() <= 16);
        for i in 0..64 {
            let r = n.check_now("k", &i.to_string(), 1000, 1001);
            assert_ne!(r, Ok(()), "nonce {i} must not be accepted twice");
        }
    }
}
