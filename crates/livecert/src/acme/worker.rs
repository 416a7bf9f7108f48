//! The ACME worker of one `serve` node: takes the lease of due orders in the store, runs each
//! ([`super::order::issue`]) while extending its lease, and ends it in the store — the record
//! filled and bound, or the CA's problem kept and the order retried later or failed. It also
//! queues the renewals that fall due.
//!
//! Several nodes on one PostgreSQL store each run a worker: an order is worked on only by the node
//! holding its lease; a node that dies stops extending its leases, and another node takes the
//! order up once the lease has run out (a new ACME order: the CA reuses the authorizations it
//! already validated). Each node works on at most [`AcmeConfig::concurrency`] orders, and on at
//! most [`AcmeConfig::per_account`] of any one account, so a flood of one account's requests
//! waits behind itself.
//!
//! Retries ([`retry_at`]): validation failures end an issuance (the record becomes `failed` with
//! the CA's problem) and back a renewal off; the CA's rate limit waits for its `Retry-After`, at
//! least an hour; transient failures back off exponentially from 30 s to an hour, and an issuance
//! gives up after [`MAX_ISSUE_ATTEMPTS`].

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use instant_acme::Account;
use livecert_store::{AcmeOrder, OrderCompletion, OrderPurpose, Store};
use tokio::sync::{Mutex, Notify};
use tokio::task::JoinSet;
use tracing::{info, warn};

use super::order::{issue, Attempt, Failure, FailureKind};
use super::{AcmeConfig, AcmeMetrics, OrderResult};
use crate::clock::Clock;
use crate::edge::challenges::ChallengeBook;

/// How often the worker looks for due orders when nothing wakes it.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// How often the worker queues due renewals and refreshes the renewal gauge.
pub const RENEWAL_SCAN_INTERVAL: Duration = Duration::from_secs(60);

/// Renewals queued per scan at most.
pub const RENEWALS_PER_SCAN: usize = 500;

/// How long ended orders are kept (each record's latest is kept whatever its age).
pub const ENDED_ORDERS_KEPT: Duration = Duration::from_secs(30 * 86_400);

/// Ended orders deleted per scan at most.
pub const PRUNED_PER_SCAN: usize = 1000;

/// Attempts after which an issuance that keeps failing for transient reasons fails for good.
pub const MAX_ISSUE_ATTEMPTS: u32 = 8;

/// How long one attempt of an order may take, from the account to the certificate, before it is
/// abandoned and retried later (a CA that stops answering must not hold an order forever).
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(300);

/// The longest backoff of a renewal (a renewal never gives up while its certificate is valid).
pub const MAX_RENEWAL_BACKOFF_SECS: i64 = 12 * 3600;

/// What one worker needs.
pub struct Worker {
    store: Store,
    config: AcmeConfig,
    clock: Arc<dyn Clock>,
    book: Option<Arc<ChallengeBook>>,
    metrics: Arc<AcmeMetrics>,
    wake: Arc<Notify>,
    owner: String,
    account: Mutex<Option<Account>>,
}

impl Worker {
    /// A worker for `store` with `config`; `book` is this node's edge's challenge book (`None`
    /// without an edge: other nodes' edges answer from the store); `wake` is the issuer's.
    pub fn new(
        store: Store,
        config: AcmeConfig,
        clock: Arc<dyn Clock>,
        book: Option<Arc<ChallengeBook>>,
        metrics: Arc<AcmeMetrics>,
        wake: Arc<Notify>,
    ) -> Self {
        Self {
            store,
            config,
            clock,
            book,
            metrics,
            wake,
            owner: node_id(),
            account: Mutex::new(None),
        }
    }

    async fn account(&self) -> anyhow::Result<Account> {
        let mut account = self.account.lock().await;
        if let Some(a) = account.as_ref() {
            return Ok(a.clone());
        }
        let created =
            super::account::load_or_create(&self.store, &self.config, self.clock.as_ref()).await?;
        *account = Some(created.clone());
        Ok(created)
    }
}

/// Runs `worker` until `shutdown` completes. Orders in flight are then abandoned and their leases
/// given back, so that they are taken up again at once (by this node after a restart, or by
/// another); a node that dies instead leaves its leases to run out.
pub async fn run(worker: Worker, shutdown: impl Future<Output = ()>) {
    let worker = Arc::new(worker);
    let renewal_scan = worker
        .config
        .renew_after
        .map_or(RENEWAL_SCAN_INTERVAL, |after| {
            after.clamp(Duration::from_secs(1), RENEWAL_SCAN_INTERVAL)
        });
    info!(directory = %worker.config.directory, challenge = worker.config.challenge.as_str(), node = %worker.owner, "ACME issuer running");
    let mut tasks = JoinSet::new();
    // The account at once, so that a wrong directory or an unreachable CA shows in the log at
    // start, not only with the first order.
    let early = Arc::clone(&worker);
    tasks.spawn(async move {
        if let Err(e) = early.account().await {
            warn!(error = %format!("{e:#}"), "the ACME account is not ready; orders wait for it");
        }
    });
    let mut next_scan = tokio::time::Instant::now();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            () = worker.wake.notified() => {}
            () = tokio::time::sleep(POLL_INTERVAL) => {}
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
        while tasks.try_join_next().is_some() {}
        let now = worker.clock.now();
        if tokio::time::Instant::now() >= next_scan {
            next_scan = tokio::time::Instant::now() + renewal_scan;
            match worker
                .store
                .schedule_acme_renewals(now, RENEWALS_PER_SCAN)
                .await
            {
                Ok(0) => {}
                Ok(n) => info!(renewals = n, "ACME renewals queued"),
                Err(e) => warn!(error = %e, "could not queue ACME renewals"),
            }
            let kept_since = now.saturating_sub(secs(ENDED_ORDERS_KEPT));
            if let Err(e) = worker
                .store
                .prune_acme_orders(kept_since, PRUNED_PER_SCAN)
                .await
            {
                warn!(error = %e, "could not delete old ACME orders");
            }
            match worker.store.acme_renewal_times().await {
                Ok(times) => worker.metrics.set_renewals(times),
                Err(e) => warn!(error = %e, "could not read the ACME renewal times"),
            }
        }
        let free = worker.config.concurrency.saturating_sub(tasks.len());
        if free == 0 {
            continue;
        }
        let lease = secs(worker.config.lease);
        let claimed = worker
            .store
            .claim_acme_orders(
                &worker.owner,
                now,
                now.saturating_add(lease),
                free,
                worker.config.per_account,
            )
            .await;
        match claimed {
            Ok(orders) => {
                for order in orders {
                    tasks.spawn(run_order(Arc::clone(&worker), order));
                }
            }
            Err(e) => warn!(error = %e, "could not take ACME orders"),
        }
    }
    tasks.abort_all();
    // Give this node's leases back, so that the orders it held are taken up at once (by this node
    // after a restart, or another) rather than when the leases run out.
    match worker
        .store
        .release_acme_leases(&worker.owner, worker.clock.now())
        .await
    {
        Ok(0) => {}
        Ok(n) => info!(orders = n, "ACME orders in flight given back"),
        Err(e) => warn!(error = %e, "could not give this node's ACME leases back; they run out"),
    }
    info!("ACME issuer stopped");
}

/// One attempt of `order`, with its lease extended meanwhile, ended in the store.
async fn run_order(worker: Arc<Worker>, order: AcmeOrder) {
    let attempt = async {
        let account = worker
            .account()
            .await
            .map_err(|e| Failure::own("account", format!("{e:#}"), FailureKind::Transient))?;
        let attempt = Attempt {
            account: &account,
            store: &worker.store,
            book: worker.book.as_deref(),
            config: &worker.config,
            order: &order,
            owner: &worker.owner,
            clock: worker.clock.as_ref(),
        };
        issue(&attempt).await
    };
    let outcome = tokio::select! {
        outcome = tokio::time::timeout(ATTEMPT_TIMEOUT, attempt) => outcome.unwrap_or_else(|_| {
            Err(Failure::own(
                "timeout",
                format!(
                    "the attempt did not finish within {} s (the CA did not answer in time)",
                    ATTEMPT_TIMEOUT.as_secs()
                ),
                FailureKind::Transient,
            ))
        }),
        lost = heartbeat(&worker, &order) => Err(lost),
    };
    let now = worker.clock.now();
    let challenge = worker.config.challenge;
    match outcome {
        Ok(issued) => {
            let renew_at = issued.renew_at;
            match worker
                .store
                .complete_acme_order(order.id, &worker.owner, issued.upload, renew_at, now)
                .await
            {
                Ok(completion) => {
                    worker.metrics.order(OrderResult::Valid, challenge);
                    if matches!(
                        completion,
                        OrderCompletion::Bound
                            | OrderCompletion::Renewed
                            | OrderCompletion::StoredNotBound(_)
                    ) {
                        worker.metrics.set_renewal(order.domain.as_str(), renew_at);
                    }
                    match completion {
                        OrderCompletion::StoredNotBound(why) => {
                            warn!(order_id = order.id, domain = %order.domain, reason = %why, "free certificate issued and stored, not bound");
                        }
                        other => {
                            info!(order_id = order.id, domain = %order.domain, cert_id = order.cert_id, renew_at, outcome = ?other, "free certificate issued");
                        }
                    }
                }
                Err(e) => {
                    warn!(order_id = order.id, domain = %order.domain, error = %e, "the issued certificate could not be stored; the order is retried when its lease runs out");
                }
            }
        }
        Err(failure) if failure.kind == FailureKind::LeaseLost => {
            info!(order_id = order.id, domain = %order.domain, "another node took the ACME order over");
        }
        Err(failure) => {
            let retry = retry_at(&order, &failure, now);
            let result = if retry.is_some() {
                OrderResult::Retried
            } else {
                OrderResult::Failed
            };
            warn!(order_id = order.id, domain = %order.domain, attempt = order.attempts, problem = %failure.problem, retry_at = ?retry, "ACME order attempt failed");
            match worker
                .store
                .fail_acme_order(order.id, &worker.owner, failure.problem, retry, now)
                .await
            {
                Ok(()) => worker.metrics.order(result, challenge),
                Err(e) => {
                    warn!(order_id = order.id, error = %e, "the order's failure could not be stored; it is retried when its lease runs out");
                }
            }
        }
    }
}

/// Extends the order's lease every third of its length; ends when the lease is lost.
async fn heartbeat(worker: &Worker, order: &AcmeOrder) -> Failure {
    let every = (worker.config.lease / 3).max(Duration::from_secs(1));
    let lease = secs(worker.config.lease);
    loop {
        tokio::time::sleep(every).await;
        let now = worker.clock.now();
        match worker
            .store
            .renew_acme_lease(
                order.id,
                &worker.owner,
                now.saturating_add(lease),
                None,
                None,
                now,
            )
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                return Failure::own(
                    "lease",
                    "another node took the order over",
                    FailureKind::LeaseLost,
                )
            }
            Err(e) => {
                warn!(order_id = order.id, error = %e, "could not extend the ACME order's lease");
            }
        }
    }
}

/// When to try `order` again after `failure` at `now` (Unix seconds), or `None` to fail it for
/// good: see the module's documentation.
pub fn retry_at(order: &AcmeOrder, failure: &Failure, now: i64) -> Option<i64> {
    let asked = failure
        .retry_after
        .map_or(0, |at| at.duration_since(SystemTime::now()).map_or(0, secs));
    let doubling = |base: i64, cap: i64| {
        let steps = order.attempts.saturating_sub(1).min(30);
        base.saturating_mul(1_i64 << steps).min(cap)
    };
    let issue = order.purpose == OrderPurpose::Issue;
    let wait = match failure.kind {
        FailureKind::Validation | FailureKind::Refused if issue => return None,
        FailureKind::Validation => doubling(600, MAX_RENEWAL_BACKOFF_SECS),
        FailureKind::RateLimited => asked.max(3600),
        FailureKind::Transient if issue && order.attempts >= MAX_ISSUE_ATTEMPTS => return None,
        FailureKind::Transient | FailureKind::LeaseLost => doubling(30, 3600).max(asked),
        FailureKind::Refused => MAX_RENEWAL_BACKOFF_SECS,
    };
    Some(now.saturating_add(wait))
}

/// A duration in whole seconds as the store's Unix-second arithmetic takes it.
pub(super) fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// A name for this node in leases: host name, process id and a random tag.
fn node_id() -> String {
    use aws_lc_rs::rand::{SecureRandom, SystemRandom};
    let mut tag = [0u8; 4];
    let _ = SystemRandom::new().fill(&mut tag);
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default();
    format!("{host}/{}/{}", std::process::id(), hex::encode(tag))
}

#[cfg(test)]
mod tests {
    use livecert_core::names::{CertName, DomainName};
    use livecert_store::{AcmeProblem, OrderState};

    use super::*;

    fn order(purpose: OrderPurpose, attempts: u32) -> AcmeOrder {
        AcmeOrder {
            id: 1,
            account_id: 1,
            cert_id: 1,
            cert_name: CertName::from_trusted("c".into()),
            domain: DomainName::parse("a.example").expect("domain"),
            purpose,
            state: OrderState::Pending,
            attempts,
            next_attempt: 0,
            lease_owner: None,
            lease_until: None,
            order_url: None,
            challenge: None,
            problem: None,
            created: 0,
            updated: 0,
        }
    }

    fn failure(kind: FailureKind) -> Failure {
        Failure {
            problem: AcmeProblem {
                problem_type: "t".into(),
                detail: "d".into(),
                identifier: None,
            },
            kind,
            retry_after: None,
        }
    }

    #[test]
    fn a_failed_validation_ends_an_issuance_and_backs_a_renewal_off() {
        let now = 1_000;
        assert_eq!(
            retry_at(
                &order(OrderPurpose::Issue, 1),
                &failure(FailureKind::Validation),
                now
            ),
            None
        );
        let first = retry_at(
            &order(OrderPurpose::Renew, 1),
            &failure(FailureKind::Validation),
            now,
        );
        let third = retry_at(
            &order(OrderPurpose::Renew, 3),
            &failure(FailureKind::Validation),
            now,
        );
        assert_eq!(first, Some(now + 600));
        assert_eq!(third, Some(now + 2400));
        let late = retry_at(
            &order(OrderPurpose::Renew, 40),
            &failure(FailureKind::Validation),
            now,
        );
        assert_eq!(late, Some(now + MAX_RENEWAL_BACKOFF_SECS));
    }

    #[test]
    fn rate_limits_wait_an_hour_and_transient_failures_give_up_on_issuance() {
        let now = 0;
        assert_eq!(
            retry_at(
                &order(OrderPurpose::Issue, 1),
                &failure(FailureKind::RateLimited),
                now
            ),
            Some(3600)
        );
        assert_eq!(
            retry_at(
                &order(OrderPurpose::Issue, 2),
                &failure(FailureKind::Transient),
                now
            ),
            Some(60)
        );
        assert_eq!(
            retry_at(
                &order(OrderPurpose::Issue, MAX_ISSUE_ATTEMPTS),
                &failure(FailureKind::Transient),
                now
            ),
            None
        );
        assert!(retry_at(
            &order(OrderPurpose::Renew, MAX_ISSUE_ATTEMPTS),
            &failure(FailureKind::Transient),
            now
        )
        .is_some());
        let mut asked = failure(FailureKind::RateLimited);
        asked.retry_after = Some(SystemTime::now() + Duration::from_secs(7200));
        let at = retry_at(&order(OrderPurpose::Issue, 1), &asked, now).expect("retried");
        assert!((7190..=7200).contains(&at), "{at}");
    }
}
