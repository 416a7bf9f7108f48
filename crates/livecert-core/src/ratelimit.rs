//! Rate-limit arithmetic: GCRA, the generic cell rate algorithm (ITU-T I.371; as in spec/access.md,
//! "a token bucket (GCRA) with a burst equal to one second's quota").
//!
//! The whole state of a bucket is one number, its theoretical arrival time (TAT) in microseconds;
//! the clock is passed in, so the arithmetic is pure and the same for an in-memory limiter and for
//! one whose state lives in a shared store.

/// A quota: `per_second` calls per second sustained, `burst` calls at once from idle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Sustained rate, calls per second (at least 1).
    pub per_second: u32,
    /// Calls allowed at once from an idle bucket (at least 1).
    pub burst: u32,
}

/// The outcome of one call against a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Allowed: store `tat` as the bucket's new state.
    Allowed {
        /// The new theoretical arrival time, microseconds.
        tat: i64,
    },
    /// Refused: the state is unchanged; the call would be allowed after `retry_after_ms`.
    Throttled {
        /// Milliseconds until a call would be allowed (at least 1).
        retry_after_ms: u64,
    },
}

impl Quota {
    /// The quota of access.md: `per_second` sustained with a burst of one second's quota.
    pub fn per_second(per_second: u32) -> Self {
        Self {
            per_second: per_second.max(1),
            burst: per_second.max(1),
        }
    }

    /// The emission interval T: the time one call costs, in microseconds
    /// (`1,000,000 / per_second`, rounded down; at least 1).
    pub fn interval_us(self) -> i64 {
        (1_000_000 / i64::from(self.per_second.max(1))).max(1)
    }

    /// How far ahead of now a bucket may run once a call is counted: `burst · T`, in
    /// microseconds. A store that keeps the TAT itself applies the same rule as [`Quota::check`]:
    /// allowed when `max(tat, now) + T − now ≤ limit_us`.
    pub fn limit_us(self) -> i64 {
        self.interval_us()
            .saturating_mul(i64::from(self.burst.max(1)))
    }

    /// Checks one call at `now_ms` against a bucket whose state is `tat_us` (`None`: idle).
    ///
    /// The call is allowed when, after it, the bucket is no more than `burst` calls ahead of
    /// `now`: `max(tat, now) + T − now ≤ burst · T`, with T the emission interval.
    pub fn check(self, tat_us: Option<i64>, now_ms: i64) -> Verdict {
        let now_us = now_ms.saturating_mul(1000);
        let new_tat_us = tat_us
            .unwrap_or(now_us)
            .max(now_us)
            .saturating_add(self.interval_us());
        if new_tat_us.saturating_sub(now_us) <= self.limit_us() {
            Verdict::Allowed { tat: new_tat_us }
        } else {
            Verdict::Throttled {
                retry_after_ms: self.retry_after_ms(tat_us.unwrap_or(now_us), now_ms),
            }
        }
    }

    /// Milliseconds until a call at `now_ms` against a bucket at `tat_us` would be allowed,
    /// rounded up, at least 1 (for a refusal decided elsewhere, e.g. by a store that keeps the
    /// TAT: a bucket that would allow the call now still answers 1).
    pub fn retry_after_ms(self, tat_us: i64, now_ms: i64) -> u64 {
        let now_us = now_ms.saturating_mul(1000);
        let ahead = tat_us
            .max(now_us)
            .saturating_add(self.interval_us())
            .saturating_sub(now_us);
        let wait_us = ahead.saturating_sub(self.limit_us());
        u64::try_from(wait_us.saturating_add(999) / 1000)
            .unwrap_or(1)
            .max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(quota: Quota, calls_at_ms: impl IntoIterator<Item = i64>) -> usize {
        let mut tat = None;
        let mut allowed = 0;
        for now in calls_at_ms {
            if let Verdict::Allowed { tat: t } = quota.check(tat, now) {
                tat = Some(t);
                allowed += 1;
            }
        }
        allowed
    }

    #[test]
    fn an_idle_bucket_allows_one_burst_then_the_rate() {
        let q = Quota::per_second(30);
        assert_eq!(run(q, std::iter::repeat_n(0, 200)), 30);
        // Over one second from idle: the burst plus about one second's rate.
        let allowed = run(q, (0..1000).flat_map(|ms| std::iter::repeat_n(ms, 2)));
        assert!((59..=61).contains(&allowed), "{allowed}");
    }

    #[test]
    fn a_throttled_call_says_when_to_retry_and_changes_nothing() {
        let q = Quota::per_second(10);
        let mut tat = None;
        for _ in 0..10 {
            let Verdict::Allowed { tat: t } = q.check(tat, 0) else {
                panic!("burst")
            };
            tat = Some(t);
        }
        let Verdict::Throttled { retry_after_ms } = q.check(tat, 0) else {
            panic!("over the burst")
        };
        assert_eq!(retry_after_ms, 100);
        assert!(matches!(q.check(tat, 100), Verdict::Allowed { .. }));
    }

    #[test]
    fn the_store_rule_is_the_same_arithmetic() {
        let q = Quota::per_second(30);
        assert_eq!(q.interval_us(), 33_333);
        assert_eq!(q.limit_us(), 999_990);
        // 30 calls at one instant bring the TAT one second ahead; the next waits one interval.
        let tat = 1_000_000 + 30 * 33_333;
        assert_eq!(q.retry_after_ms(tat, 1_000), 34);
        assert_eq!(
            q.check(Some(tat), 1_000),
            Verdict::Throttled { retry_after_ms: 34 }
        );
        // A bucket that would allow the call still answers at least 1 ms.
        assert_eq!(q.retry_after_ms(0, 1_000), 1);
    }

    proptest::proptest! {
        /// A refusal's retry-after is exactly when the same bucket allows the call again.
        #[test]
        fn retry_after_is_when_the_call_is_allowed(rate in 1u32..1000, calls in 1usize..3000, at in 0i64..2000) {
            let q = Quota::per_second(rate);
            let mut tat = None;
            for _ in 0..calls {
                if let Verdict::Allowed { tat: t } = q.check(tat, 0) {
                    tat = Some(t);
                }
            }
            if let Verdict::Throttled { retry_after_ms } = q.check(tat, at) {
                let retry = retry_after_ms as i64;
                let allowed_then = matches!(q.check(tat, at + retry), Verdict::Allowed { .. });
                proptest::prop_assert!(allowed_then, "refused after {retry} ms");
                if retry > 1 {
                    let refused_before = matches!(q.check(tat, at + retry - 1), Verdict::Throttled { .. });
                    proptest::prop_assert!(refused_before, "allowed before {retry} ms");
                }
            }
        }


        /// However calls arrive, no window of one second ever admits more than burst + rate + 1.
        #[test]
        fn never_more_than_burst_plus_rate_in_a_second(rate in 1u32..200, gaps in proptest::collection::vec(0i64..50, 1..400)) {
            let q = Quota::per_second(rate);
            let mut tat = None;
            let mut now = 0i64;
            let mut admitted = Vec::new();
            for gap in gaps {
                now += gap;
                if let Verdict::Allowed { tat: t } = q.check(tat, now) {
                    tat = Some(t);
                    admitted.push(now);
                }
            }
            for (i, start) in admitted.iter().enumerate() {
                let in_window = admitted[i..].iter().take_while(|&&t| t < start + 1000).count();
                proptest::prop_assert!(in_window as u32 <= 2 * rate + 1, "{in_window} > {}", 2 * rate + 1);
            }
        }
    }
}
