//! Per-account, per-operation rate limits (spec/access.md, "Rate limits"): one GCRA bucket
//! (`livecert_core::ratelimit`) per (account, operation).
//!
//! Two limiters behind one trait, whose check the pipeline awaits ([`Answer`]):
//! - [`MemoryRateLimiter`], for SQLite (one `serve` per database): the buckets in this process,
//!   sharded by account so that one account's flood contends only with the accounts of its shard;
//!   a check is a few arithmetic operations under a short lock, answered at once, no I/O.
//! - [`SharedRateLimiter`], for PostgreSQL (several `serve` nodes): the buckets in the database
//!   ([`SharedLimits::check_rate`]), one statement per check, so the quota holds across every node
//!   together. The clock is each node's (docs/decisions.md: the error bound).
//!
//! A limiter that cannot decide (the database is unreachable) refuses:
//! [`RateRefusal::Unavailable`], answered `ServiceUnavailable`, never an admission.

use std::collections::HashMap;
use std::sync::Mutex;

use livecert_core::action::Action;
use livecert_core::ratelimit::{Quota, Verdict};
use livecert_store::SharedLimits;

use crate::api::Answer;

/// Decides whether a call may run now.
pub trait RateLimiter: Send + Sync + 'static {
    /// Whether a call of `action` by `account` at `now_ms` is already known to be refused, from
    /// this process's memory alone: checked before the nonce, so that a flood's refused calls cost
    /// no shared resource (the nonce table, the database's connections). Never refuses a call
    /// [`RateLimiter::check`] would admit, and counts nothing. By default it knows nothing.
    ///
    /// Errors: [`RateRefusal::Throttled`].
    fn precheck(&self, account: u64, action: Action, now_ms: i64) -> Result<(), RateRefusal> {
        let _ = (account, action, now_ms);
        Ok(())
    }

    /// Checks and counts one call of `action` by `account` at `now_ms` (Unix milliseconds). A
    /// refused call is not counted.
    fn check(
        &self,
        account: u64,
        action: Action,
        now_ms: i64,
    ) -> Answer<'_, Result<(), RateRefusal>>;
}

/// Why a call was not admitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RateRefusal {
    /// The account's quota for the operation is spent: `Throttling.User`.
    Throttled {
        /// Milliseconds until the call would be allowed (`x-acs-retry-after`, at least 1).
        retry_after_ms: u64,
        /// The operation's quota in calls per second (for the message).
        per_second: u32,
    },
    /// The limiter could not decide (its store failed): `ServiceUnavailable`. The text is for
    /// the log.
    Unavailable(String),
}

/// No limits (benchmarks, `--rate-limits off`).
#[derive(Debug, Default, Clone, Copy)]
pub struct Unlimited;

impl RateLimiter for Unlimited {
    fn check(
        &self,
        _account: u64,
        _action: Action,
        _now_ms: i64,
    ) -> Answer<'_, Result<(), RateRefusal>> {
        Answer::ready(Ok(()))
    }
}

/// Each operation's quota: the action table's calls per second (access.md), burst one second's
/// quota, except where overridden (`serve --rate-limit <Action>=<per second>`).
#[derive(Debug, Clone)]
pub struct Quotas(HashMap<Action, Quota>);

impl Quotas {
    /// The action table's quotas, except `overrides` (calls per second by operation).
    pub fn with_overrides(overrides: &HashMap<Action, u32>) -> Self {
        Self(
            Action::ALL
                .iter()
                .map(|&a| {
                    let rate = overrides.get(&a).copied().unwrap_or_else(|| a.per_second());
                    (a, Quota::per_second(rate))
                })
                .collect(),
        )
    }

    /// The quota of `action`.
    pub fn of(&self, action: Action) -> Quota {
        self.0
            .get(&action)
            .copied()
            .unwrap_or_else(|| Quota::per_second(action.per_second()))
    }
}

impl Default for Quotas {
    fn default() -> Self {
        Self::with_overrides(&HashMap::new())
    }
}

const SHARDS: usize = 64;

/// The in-memory limiter of a single node.
pub struct MemoryRateLimiter {
    shards: Vec<Mutex<HashMap<(u64, Action), i64>>>,
    quotas: Quotas,
}

impl MemoryRateLimiter {
    /// A limiter with the quotas of the action table (access.md: each operation's calls per second,
    /// burst equal to one second's quota).
    pub fn new() -> Self {
        Self::with_overrides(&HashMap::new())
    }

    /// A limiter with the action table's quotas, except `overrides` (calls per second by
    /// operation; `serve --rate-limit <Action>=<per second>`).
    pub fn with_overrides(overrides: &HashMap<Action, u32>) -> Self {
        Self::with_quotas(Quotas::with_overrides(overrides))
    }

    /// A limiter with these quotas.
    pub fn with_quotas(quotas: Quotas) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            quotas,
        }
    }

    /// [`RateLimiter::check`], answered at once (it never fails with `Unavailable`).
    pub fn check_now(&self, account: u64, action: Action, now_ms: i64) -> Result<(), RateRefusal> {
        let shard = &self.shards[(account % SHARDS as u64) as usize];
        let mut buckets = shard
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let tat = buckets.get(&(account, action)).copied();
        let quota = self.quotas.of(action);
        match quota.check(tat, now_ms) {
            Verdict::Allowed { tat } => {
                buckets.insert((account, action), tat);
                // Idle buckets carry no state worth keeping: forget them once in a while.
                if buckets.len() > 4096 {
                    let now_us = now_ms.saturating_mul(1000);
                    buckets.retain(|_, tat| *tat > now_us);
                }
                Ok(())
            }
            Verdict::Throttled { retry_after_ms } => Err(RateRefusal::Throttled {
                retry_after_ms,
                per_second: quota.per_second,
            }),
        }
    }
}

/// The limiter of several API nodes on one PostgreSQL store: the buckets live in the database
/// ([`SharedLimits::check_rate`]), so one account's quota holds across all nodes together. Every
/// node should run with the same quotas (`--rate-limit`): the bucket keeps only its TAT, and each
/// check applies the checking node's quota.
///
/// Its [`RateLimiter::precheck`] remembers, per (account, operation), until when the database last
/// said calls are refused (`now + retry_after − 1 ms`: a bucket's TAT only moves forward, so every
/// call before then is refused by every node) and refuses those calls in memory. So an account's
/// flood reaches the database about twice per emission interval per node (one admission, one
/// refusal that renews the mark) whatever its rate, and the limits' connection pool, shared by
/// every account, stays free for the others (issue 10).
pub struct SharedRateLimiter {
    limits: SharedLimits,
    quotas: Quotas,
    refused_until: Mutex<HashMap<(u64, Action), i64>>,
    database_checks: std::sync::atomic::AtomicU64,
}

/// Marks kept by [`SharedRateLimiter`] before the past ones are dropped.
const MAX_REFUSAL_MARKS: usize = 4096;

impl SharedRateLimiter {
    /// A limiter on `limits` (from [`livecert_store::Store::shared_limits`]) with these quotas.
    pub fn new(limits: SharedLimits, quotas: Quotas) -> Self {
        Self {
            limits,
            quotas,
            refused_until: Mutex::new(HashMap::new()),
            database_checks: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Checks made against the database since start (a metric, and what the tests count).
    pub fn database_checks(&self) -> u64 {
        self.database_checks
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    fn marks(&self) -> std::sync::MutexGuard<'_, HashMap<(u64, Action), i64>> {
        self.refused_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl RateLimiter for SharedRateLimiter {
    fn precheck(&self, account: u64, action: Action, now_ms: i64) -> Result<(), RateRefusal> {
        match self.marks().get(&(account, action)) {
            Some(&until) if now_ms < until => Err(RateRefusal::Throttled {
                retry_after_ms: u64::try_from(until - now_ms).unwrap_or(1).max(1),
                per_second: self.quotas.of(action).per_second,
            }),
            _ => Ok(()),
        }
    }

    fn check(
        &self,
        account: u64,
        action: Action,
        now_ms: i64,
    ) -> Answer<'_, Result<(), RateRefusal>> {
        let quota = self.quotas.of(action);
        Answer::later(async move {
            self.database_checks
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            match self.limits.check_rate(account, action, quota, now_ms).await {
                Ok(Verdict::Allowed { .. }) => Ok(()),
                Ok(Verdict::Throttled { retry_after_ms }) => {
                    // Refused until at least `retry_after_ms − 1` from now (it is rounded up).
                    let until = now_ms
                        .saturating_add(i64::try_from(retry_after_ms).unwrap_or(i64::MAX))
                        .saturating_sub(1);
                    let mut marks = self.marks();
                    if marks.len() >= MAX_REFUSAL_MARKS {
                        marks.retain(|_, until| *until > now_ms);
                    }
                    if marks.len() < MAX_REFUSAL_MARKS {
                        let mark = marks.entry((account, action)).or_insert(until);
                        *mark = (*mark).max(until);
                    }
                    Err(RateRefusal::Throttled {
                        retry_after_ms,
                        per_second: quota.per_second,
                    })
                }
                Err(e) => Err(RateRefusal::Unavailable(format!(
                    "the shared rate limit could not be checked: {e}"
                ))),
            }
        })
    }
}

/// Parses `serve --rate-limit` values: `<Action>=<calls per second>`, e.g.
/// `SetLiveDomainCertificate=60`. Errors: an unknown operation or a rate that is not 1–1,000,000.
pub fn parse_override(text: &str) -> Result<(Action, u32), String> {
    let (name, rate) = text
        .split_once('=')
        .ok_or_else(|| format!("--rate-limit {text}: write <Action>=<calls per second>"))?;
    let action = Action::from_wire_name(name.trim()).ok_or_else(|| {
        format!("--rate-limit {text}: {name} is not an operation livecert serves")
    })?;
    let rate: u32 = rate
        .trim()
        .parse()
        .ok()
        .filter(|r| (1..=1_000_000).contains(r))
        .ok_or_else(|| {
            format!("--rate-limit {text}: the rate must be a whole number from 1 to 1000000")
        })?;
    Ok((action, rate))
}

impl Default for MemoryRateLimiter {
    fn default() -> Self {
        Self::new()
    }
}

impl RateLimiter for MemoryRateLimiter {
    fn check(
        &self,
        account: u64,
        action: Action,
        now_ms: i64,
    ) -> Answer<'_, Result<(), RateRefusal>> {
        Answer::ready(self.check_now(account, action, now_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_and_operations_have_their_own_buckets() {
        let limiter = MemoryRateLimiter::new();
        let set = Action::SetLiveDomainCertificate;
        let allowed = (0..100)
            .filter(|_| limiter.check_now(1, set, 0).is_ok())
            .count();
        assert_eq!(allowed, 30);
        assert!(
            limiter.check_now(2, set, 0).is_ok(),
            "another account is not slowed"
        );
        assert!(limiter
            .check_now(1, Action::DescribeLiveDomainCertificateInfo, 0)
            .is_ok());
        assert_eq!(
            limiter.check_now(1, set, 0),
            Err(RateRefusal::Throttled {
                retry_after_ms: 34,
                per_second: 30
            })
        );
        assert!(
            limiter.check_now(1, set, 40).is_ok(),
            "one call per 33 ms after the burst"
        );
    }

    #[test]
    fn overrides_change_one_operation() {
        let (action, rate) = parse_override("SetLiveDomainCertificate=5").unwrap();
        let limiter = MemoryRateLimiter::with_overrides(&HashMap::from([(action, rate)]));
        assert_eq!(
            (0..100)
                .filter(|_| limiter.check_now(1, action, 0).is_ok())
                .count(),
            5
        );
        assert!(parse_override("Nope=5").is_err());
        assert!(parse_override("SetLiveDomainCertificate=0").is_err());
        assert!(parse_override("SetLiveDomainCertificate").is_err());
    }
}
