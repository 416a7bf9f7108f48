//! The nonce store (spec/protocol.md §5): a nonce used with an AccessKeyId is refused again while
//! its request's timestamp is inside the clock window.
//!
//! Entries are a fixed-size SHA-256 of (AccessKeyId, nonce) with the second at which the entry may
//! be forgotten (the request's timestamp plus the window: after it the clock check refuses a replay
//! anyway). The in-memory store is bounded; when full it refuses new requests with
//! `ServiceUnavailable` rather than evict, since evicting would reopen replay. It is sharded so that
//! concurrent requests rarely contend. A store-backed implementation of [`Nonces`] (a table on
//! PostgreSQL) replaces it when several API nodes share one store.

use std::collections::HashMap;
use std::sync::Mutex;

use livecert_core::protocol::CLOCK_WINDOW_SECS;
use sha2::{Digest, Sha256};

/// Why a nonce was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceRefusal {
    /// Seen before inside the window: `SignatureNonceUsed`.
    Used,
    /// The store is full: `ServiceUnavailable`.
    Full,
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
    ) -> Result<(), NonceRefusal>;

    /// Entries currently held (a metric).
    fn len(&self) -> usize;

    /// Whether no entries are held.
    fn is_empty(&self) -> bool {
        self.len() == 0
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

impl Nonces for MemoryNonces {
    fn check_and_record(
        &self,
        access_key_id: &str,
        nonce: &str,
        timestamp: i64,
        now: i64,
    ) -> Result<(), NonceRefusal> {
        let mut hasher = Sha256::new();
        hasher.update((access_key_id.len() as u64).to_be_bytes());
        hasher.update(access_key_id.as_bytes());
        hasher.update(nonce.as_bytes());
        let key: [u8; 32] = hasher.finalize().into();
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
        map.insert(key, timestamp.max(now) + CLOCK_WINDOW_SECS);
        Ok(())
    }

    fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                s.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .len()
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replay_is_refused_until_the_window_passes() {
        let n = MemoryNonces::new(1024);
        assert_eq!(n.check_and_record("k", "n1", 1000, 1000), Ok(()));
        assert_eq!(
            n.check_and_record("k", "n1", 1000, 1001),
            Err(NonceRefusal::Used)
        );
        assert_eq!(n.check_and_record("other", "n1", 1000, 1001), Ok(()));
        assert_eq!(
            n.check_and_record("k", "n1", 1000, 1000 + CLOCK_WINDOW_SECS + 1),
            Ok(())
        );
    }

    #[test]
    fn a_full_store_refuses_rather_than_evicts() {
        let n = MemoryNonces::new(16);
        let mut refused = 0;
        for i in 0..64 {
            if n.check_and_record("k", &i.to_string(), 1000, 1000) == Err(NonceRefusal::Full) {
                refused += 1;
            }
        }
        assert!(refused > 0);
        assert!(n.len() <= 16);
        for i in 0..64 {
            let r = n.check_and_record("k", &i.to_string(), 1000, 1001);
            assert_ne!(r, Ok(()), "nonce {i} must not be accepted twice");
        }
    }
}
