//! The nonce store (spec/protocol.md §5): a nonce used with an AccessKeyId is refused again while
//! its request's timestamp is inside the clock window.
//!
//! Entries are a fixed-size SHA-256 of (AccessKeyId, nonce) ([`nonce_key`]) with the second at
//! which the entry may be forgotten ([`forget_at`]: the request's timestamp plus the window, after
//! which the clock check refuses a replay anyway), held for the account the key belongs to
//! ([`NonceEntry`]). Two stores behind one trait, whose check the pipeline awaits ([`Answer`]):
//! - [`MemoryNonces`], for SQLite (one `serve` per database): each account holds at most
//!   [`MemoryNonces::per_account`] entries, in a table of its own under a lock of its own; when an
//!   account's table is full its next calls are refused (`Throttling.User`, retry when its
//!   earliest entry expires) rather than an entry evicted, since evicting would reopen replay. An
//!   account's flood fills only that account's table and takes only that account's lock: every
//!   other account's calls go on (issue 10; docs/decisions.md, "Shared bounded resources").
//! - [`SharedNonces`], for PostgreSQL (several `serve` nodes): a table every node records into
//!   ([`SharedLimits::record_nonce`]), so a nonce used on one node is refused on every other. A
//!   table that cannot be written (the database is down, its disk full) refuses with
//!   `ServiceUnavailable`.
//!
//! The pipeline records a nonce before the rate limit and [`Nonces::forget`]s it when the call is
//! throttled: a throttled call changed nothing, so its request may be sent again (once), and an
//! account's entries are bounded by the calls its quotas admit, not by what it sends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use livecert_core::protocol::CLOCK_WINDOW_SECS;
use livecert_store::{AccountId, NonceCheck, SharedLimits};
use sha2::{Digest, Sha256};
use tracing::warn;

use crate::api::Answer;

/// Why a nonce was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NonceRefusal {
    /// Seen before inside the window: `SignatureNonceUsed`.
    Used,
    /// The account's share of the in-memory store is full: `Throttling.User`, for this account
    /// only.
    AccountFull {
        /// Entries the account may hold.
        per_account: usize,
        /// Seconds until the account's earliest entry expires (at least 1).
        retry_after_secs: u64,
    },
    /// The shared store could not record it (its database failed): `ServiceUnavailable`. The
    /// text is for the log.
    Unavailable(String),
}

/// One request's nonce, as the stores keep it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NonceEntry {
    /// The account of the AccessKey that signed the request: whose share the entry takes.
    pub account_id: AccountId,
    /// [`nonce_key`] of (AccessKeyId, nonce).
    pub key: [u8; 32],
    /// Unix second from which the entry may be forgotten ([`forget_at`]).
    pub forget_at: i64,
}

impl NonceEntry {
    /// The entry of `nonce` sent with `access_key_id` (of `account_id`) in a request stamped
    /// `timestamp`, seen at `now` (Unix seconds).
    pub fn new(
        account_id: AccountId,
        access_key_id: &str,
        nonce: &str,
        timestamp: i64,
        now: i64,
    ) -> Self {
        Self {
            account_id,
            key: nonce_key(access_key_id, nonce),
            forget_at: forget_at(timestamp, now),
        }
    }
}

/// Records nonces and refuses replays.
pub trait Nonces: Send + Sync + 'static {
    /// Records `entry` at `now` (Unix seconds), or refuses it.
    fn check_and_record(
        &self,
        entry: &NonceEntry,
        now: i64,
    ) -> Answer<'_, Result<(), NonceRefusal>>;

    /// Forgets `entry`, recorded by this store for a call that was then refused before it could
    /// change anything (throttled). A store that cannot forget it keeps it: the request is then
    /// refused as a replay, never run twice.
    fn forget(&self, entry: &NonceEntry) -> Answer<'_, ()>;

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
        entry: &NonceEntry,
        now: i64,
    ) -> Answer<'_, Result<(), NonceRefusal>> {
        let entry = *entry;
        Answer::later(async move {
            match self
                .limits
                .record_nonce(&entry.key, entry.forget_at, now)
                .await
            {
                Ok(NonceCheck::Fresh) => Ok(()),
                Ok(NonceCheck::Used) => Err(NonceRefusal::Used),
                Err(e) => Err(NonceRefusal::Unavailable(format!(
                    "the shared nonce table could not record a nonce: {e}"
                ))),
            }
        })
    }

    fn forget(&self, entry: &NonceEntry) -> Answer<'_, ()> {
        let entry = *entry;
        Answer::later(async move {
            if let Err(e) = self.limits.forget_nonce(&entry.key, entry.forget_at).await {
                warn!(error = %e, "a throttled call's nonce could not be forgotten; it stays used");
            }
        })
    }

    fn entries(&self) -> Option<usize> {
        None
    }
}

/// Entries one account may hold in [`MemoryNonces`] by default: a quarter of a million, about
/// 15 MiB when full. An account at the sum of its default quotas for a whole window would need
/// more, but no real client sends every operation at its quota for 15 minutes; one that does is
/// told to slow down (`Throttling.User`), and no other account notices.
pub const DEFAULT_NONCES_PER_ACCOUNT: usize = 250_000;

/// The in-memory nonce store of a single node: each account's entries in a table of its own,
/// bounded, under a lock of its own.
pub struct MemoryNonces {
    accounts: RwLock<HashMap<AccountId, Arc<Mutex<AccountNonces>>>>,
    per_account: usize,
}

/// One account's entries, and the earliest forget time among them (a lower bound: sweeping is
/// only worth it once it has passed).
#[derive(Default)]
struct AccountNonces {
    entries: HashMap<[u8; 32], i64>,
    earliest: i64,
}

impl AccountNonces {
    /// Drops the entries whose forget time has passed.
    fn sweep(&mut self, now: i64) {
        self.entries.retain(|_, forget_at| *forget_at >= now);
        self.earliest = self.entries.values().copied().min().unwrap_or(i64::MAX);
    }
}

impl MemoryNonces {
    /// A store in which each account holds at most `per_account` entries (at least 1).
    pub fn new(per_account: usize) -> Self {
        Self {
            accounts: RwLock::new(HashMap::new()),
            per_account: per_account.max(1),
        }
    }

    /// Entries one account may hold.
    pub fn per_account(&self) -> usize {
        self.per_account
    }

    /// [`Nonces::check_and_record`], answered at once.
    ///
    /// Errors: [`NonceRefusal::Used`] while an entry for the key has `forget_at ≥ now`;
    /// [`NonceRefusal::AccountFull`] when the account holds [`MemoryNonces::per_account`] entries
    /// none of which has expired.
    pub fn check_now(&self, entry: &NonceEntry, now: i64) -> Result<(), NonceRefusal> {
        let account = self.account(entry.account_id);
        let mut account = account.lock().unwrap_or_else(PoisonError::into_inner);
        if account
            .entries
            .get(&entry.key)
            .is_some_and(|&forget_at| forget_at >= now)
        {
            return Err(NonceRefusal::Used);
        }
        if account.entries.len() >= self.per_account {
            if account.earliest < now {
                account.sweep(now);
            }
            if account.entries.len() >= self.per_account {
                let wait = account.earliest.saturating_sub(now).saturating_add(1);
                return Err(NonceRefusal::AccountFull {
                    per_account: self.per_account,
                    retry_after_secs: u64::try_from(wait).unwrap_or(1).max(1),
                });
            }
        }
        if account.entries.is_empty() {
            account.earliest = entry.forget_at;
        }
        account.entries.insert(entry.key, entry.forget_at);
        account.earliest = account.earliest.min(entry.forget_at);
        Ok(())
    }

    /// [`Nonces::forget`], at once: removes the entry if it is still the one recorded.
    pub fn forget_now(&self, entry: &NonceEntry) {
        let Some(account) = self.existing_account(entry.account_id) else {
            return;
        };
        let mut account = account.lock().unwrap_or_else(PoisonError::into_inner);
        if account.entries.get(&entry.key) == Some(&entry.forget_at) {
            account.entries.remove(&entry.key);
        }
    }

    /// Entries currently held, every account together.
    pub fn len(&self) -> usize {
        self.accounts
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .map(|a| {
                a.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .entries
                    .len()
            })
            .sum()
    }

    /// Whether no entries are held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entries `account_id` holds.
    pub fn account_len(&self, account_id: AccountId) -> usize {
        self.existing_account(account_id).map_or(0, |a| {
            a.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entries
                .len()
        })
    }

    fn existing_account(&self, account_id: AccountId) -> Option<Arc<Mutex<AccountNonces>>> {
        self.accounts
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&account_id)
            .cloned()
    }

    /// The account's table, created empty on its first call. The map's lock is held only to find
    /// or add the table, never while an account's table is worked on.
    fn account(&self, account_id: AccountId) -> Arc<Mutex<AccountNonces>> {
        if let Some(account) = self.existing_account(account_id) {
            return account;
        }
        Arc::clone(
            self.accounts
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(account_id)
                .or_default(),
        )
    }
}

impl Nonces for MemoryNonces {
    fn check_and_record(
        &self,
        entry: &NonceEntry,
        now: i64,
    ) -> Answer<'_, Result<(), NonceRefusal>> {
        Answer::ready(self.check_now(entry, now))
    }

    fn forget(&self, entry: &NonceEntry) -> Answer<'_, ()> {
        self.forget_now(entry);
        Answer::ready(())
    }

    fn entries(&self) -> Option<usize> {
        Some(self.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: AccountId = 1_000_000_000_000_001;
    const B: AccountId = 1_000_000_000_000_002;

    fn entry(
        account: AccountId,
        key_id: &str,
        nonce: &str,
        timestamp: i64,
        now: i64,
    ) -> NonceEntry {
        NonceEntry::new(account, key_id, nonce, timestamp, now)
    }

    #[test]
    fn a_replay_is_refused_until_the_window_passes() {
        let n = MemoryNonces::new(1024);
        assert_eq!(n.check_now(&entry(A, "k", "n1", 1000, 1000), 1000), Ok(()));
        assert_eq!(
            n.check_now(&entry(A, "k", "n1", 1000, 1001), 1001),
            Err(NonceRefusal::Used)
        );
        assert_eq!(
            n.check_now(&entry(A, "other", "n1", 1000, 1001), 1001),
            Ok(())
        );
        let later = 1000 + CLOCK_WINDOW_SECS + 1;
        assert_eq!(
            n.check_now(&entry(A, "k", "n1", 1000, later), later),
            Ok(())
        );
    }

    #[test]
    fn a_full_account_refuses_rather_than_evicts() {
        let n = MemoryNonces::new(16);
        let mut refused = 0;
        for i in 0..64 {
            match n.check_now(&entry(A, "k", &i.to_string(), 1000, 1000), 1000) {
                Ok(()) => {}
                Err(NonceRefusal::AccountFull {
                    per_account,
                    retry_after_secs,
                }) => {
                    assert_eq!(per_account, 16);
                    assert_eq!(retry_after_secs, CLOCK_WINDOW_SECS.unsigned_abs() + 1);
                    refused += 1;
                }
                Err(other) => panic!("{other:?}"),
            }
        }
        assert_eq!(refused, 48);
        assert_eq!(n.len(), 16);
        for i in 0..16 {
            let r = n.check_now(&entry(A, "k", &i.to_string(), 1000, 1001), 1001);
            assert_eq!(
                r,
                Err(NonceRefusal::Used),
                "nonce {i} must not be accepted twice"
            );
        }
    }

    /// Issue 10, item 1: one account's full table refuses only that account.
    #[test]
    fn a_full_account_leaves_every_other_account_its_own_share() {
        let n = MemoryNonces::new(100);
        for i in 0..1000 {
            let _ = n.check_now(&entry(A, "flooder", &i.to_string(), 1000, 1000), 1000);
        }
        assert_eq!(n.account_len(A), 100);
        for i in 0..100 {
            assert_eq!(
                n.check_now(&entry(B, "victim", &i.to_string(), 1000, 1000), 1000),
                Ok(()),
                "call {i} of another account"
            );
        }
        assert_eq!(n.account_len(B), 100);
    }

    #[test]
    fn expired_entries_make_room_once_their_time_has_passed() {
        let n = MemoryNonces::new(4);
        for i in 0..4 {
            n.check_now(&entry(A, "k", &i.to_string(), 1000 + i, 1000), 1000)
                .expect("room");
        }
        let full = n.check_now(&entry(A, "k", "x", 1000, 1000), 1000);
        assert!(
            matches!(full, Err(NonceRefusal::AccountFull { .. })),
            "{full:?}"
        );
        // The first entry (stamped 1000) is forgotten after 1000 + window.
        let t = 1000 + CLOCK_WINDOW_SECS + 1;
        assert_eq!(n.check_now(&entry(A, "k", "x", t, t), t), Ok(()));
        let again = n.check_now(&entry(A, "k", "y", t, t), t);
        assert!(
            matches!(again, Err(NonceRefusal::AccountFull { .. })),
            "{again:?}"
        );
        assert_eq!(n.account_len(A), 4);
    }

    #[test]
    fn a_forgotten_entry_may_be_recorded_again_once() {
        let n = MemoryNonces::new(8);
        let e = entry(A, "k", "n", 1000, 1000);
        assert_eq!(n.check_now(&e, 1000), Ok(()));
        n.forget_now(&e);
        assert_eq!(n.account_len(A), 0);
        assert_eq!(n.check_now(&e, 1001), Ok(()));
        assert_eq!(n.check_now(&e, 1002), Err(NonceRefusal::Used));
    }
}
