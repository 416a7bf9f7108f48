//! Per-account, per-operation rate limits (spec/access.md, "Rate limits"): one GCRA bucket
//! (`livecert_core::ratelimit`) per (account, operation), in memory on one node.
//!
//! The buckets are sharded by account so that one account's flood contends only with the accounts
//! of its shard, and a check is a few arithmetic operations under a short lock: the limiter never
//! touches the database. A store-backed implementation of [`RateLimiter`] (GCRA state in
//! PostgreSQL) replaces it when several API nodes share one quota.

use std::collections::HashMap;
use std::sync::Mutex;

use livecert_core::action::Action;
use livecert_core::ratelimit::{Quota, Verdict};

/// Decides whether a call may run now.
pub trait RateLimiter: Send + Sync + 'static {
    /// Checks and counts one call of `action` by `account` at `now_ms` (Unix milliseconds).
    /// `Err(retry_after_ms)` when the account's quota for the operation is spent; a refused call is
    /// not counted.
    fn check(&self, account: u64, action: Action, now_ms: i64) -> Result<(), u64>;
}

/// No limits (benchmarks, `--rate-limits off`).
#[derive(Debug, Default, Clone, Copy)]
pub struct Unlimited;

impl RateLimiter for Unlimited {
    fn check(&self, _account: u64, _action: Action, _now_ms: i64) -> Result<(), u64> {
        Ok(())
    }
}

const SHARDS: usize = 64;

/// The in-memory limiter of a single node.
pub struct MemoryRateLimiter {
    shards: Vec<Mutex<HashMap<(u64, Action), i64>>>,
    quotas: HashMap<Action, Quota>,
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
        let quotas = Action::ALL
            .iter()
            .map(|&a| {
                let rate = overrides.get(&a).copied().unwrap_or_else(|| a.per_second());
                (a, Quota::per_second(rate))
            })
            .collect();
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            quotas,
        }
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
    fn check(&self, account: u64, action: Action, now_ms: i64) -> Result<(), u64> {
        let shard = &self.shards[(account % SHARDS as u64) as usize];
        let mut buckets = shard
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let tat = buckets.get(&(account, action)).copied();
        let quota = self
            .quotas
            .get(&action)
            .copied()
            .unwrap_or_else(|| Quota::per_second(action.per_second()));
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
            Verdict::Throttled { retry_after_ms } => Err(retry_after_ms),
        }
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
            .filter(|_| limiter.check(1, set, 0).is_ok())
            .count();
        assert_eq!(allowed, 30);
        assert!(
            limiter.check(2, set, 0).is_ok(),
            "another account is not slowed"
        );
        assert!(limiter
            .check(1, Action::DescribeLiveDomainCertificateInfo, 0)
            .is_ok());
        assert!(limiter.check(1, set, 0).unwrap_err() >= 1);
        assert!(
            limiter.check(1, set, 40).is_ok(),
            "one call per 33 ms after the burst"
        );
    }

    #[test]
    fn overrides_change_one_operation() {
        let (action, rate) = parse_override("SetLiveDomainCertificate=5").unwrap();
        let limiter = MemoryRateLimiter::with_overrides(&HashMap::from([(action, rate)]));
        assert_eq!(
            (0..100)
                .filter(|_| limiter.check(1, action, 0).is_ok())
                .count(),
            5
        );
        assert!(parse_override("Nope=5").is_err());
        assert!(parse_override("SetLiveDomainCertificate=0").is_err());
        assert!(parse_override("SetLiveDomainCertificate").is_err());
    }
}
