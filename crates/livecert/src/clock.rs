//! The one injectable clock (spec/protocol.md §5): it drives request timestamps, nonce expiry and
//! certificate validity. Production uses [`SystemClock`]; tests pin a [`ManualClock`] and advance
//! it without sleeping.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of the current time in Unix seconds.
pub trait Clock: Send + Sync + 'static {
    /// Now, in Unix seconds (UTC).
    fn now(&self) -> i64;

    /// Now, in Unix milliseconds (UTC), for rate limits.
    fn now_millis(&self) -> i64 {
        self.now().saturating_mul(1000)
    }
}

/// The operating system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
    }

    fn now_millis(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    }
}

/// A clock that stands still until told to move: for tests. Kept in milliseconds.
#[derive(Debug)]
pub struct ManualClock {
    now_ms: AtomicI64,
}

impl ManualClock {
    /// A clock pinned at `now` (Unix seconds).
    pub fn new(now: i64) -> Self {
        Self {
            now_ms: AtomicI64::new(now.saturating_mul(1000)),
        }
    }

    /// Sets the time.
    pub fn set(&self, now: i64) {
        self.now_ms
            .store(now.saturating_mul(1000), Ordering::SeqCst);
    }

    /// Moves the time forward by `secs`.
    pub fn advance(&self, secs: i64) {
        self.now_ms
            .fetch_add(secs.saturating_mul(1000), Ordering::SeqCst);
    }

    /// Moves the time forward by `ms` milliseconds.
    pub fn advance_millis(&self, ms: i64) {
        self.now_ms.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> i64 {
        self.now_ms.load(Ordering::SeqCst).div_euclid(1000)
    }

    fn now_millis(&self) -> i64 {
        self.now_ms.load(Ordering::SeqCst)
    }
}
