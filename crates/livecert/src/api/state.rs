//! The state every request reads ([`AppState`]): the store, the clock, the nonce store, the rate
//! limiter, the parsed-policy cache ([`PolicyCache`]) and the settings ([`ApiConfig`]).

use std::sync::Arc;
use std::time::Duration;

use livecert_core::ram::Policy;
use livecert_store::Store;
use sha2::{Digest, Sha256};
use tracing::warn;

use super::nonce::Nonces;
use super::ratelimit::RateLimiter;
use super::render::ErrorDocs;
use crate::clock::Clock;
use crate::listener::{FIRST_BYTE_TIMEOUT, IDLE_TIMEOUT};

/// Settings of the API that are not the store or the clock.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// `HostId` of error bodies; `None`: the request's Host header.
    pub host_id: Option<String>,
    /// Where `Recommend` points.
    pub error_docs: ErrorDocs,
    /// Suffix of each domain's `Cname` (`<DomainName>.<suffix>`), default `livecert.local`.
    pub cname_suffix: String,
    /// How long a new connection has to send its first byte before it is closed, on the API and,
    /// in `serve`, on every listener of the edge beside it: [`FIRST_BYTE_TIMEOUT`] (lowered only
    /// by tests, with the hidden `--first-byte-timeout-ms`).
    pub first_byte_timeout: Duration,
    /// How long a connection serving HTTP may move no byte before it is closed, on the API and, in
    /// `serve`, on the edge beside it: [`IDLE_TIMEOUT`] (lowered only by tests).
    pub idle_timeout: Duration,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            host_id: None,
            error_docs: ErrorDocs::default(),
            cname_suffix: "livecert.local".into(),
            first_byte_timeout: FIRST_BYTE_TIMEOUT,
            idle_timeout: IDLE_TIMEOUT,
        }
    }
}

/// Everything a request handler reads: the store, the clock, the nonce store and the settings.
pub struct AppState {
    /// The store.
    pub store: Store,
    /// The one clock.
    pub clock: Arc<dyn Clock>,
    /// Nonces seen inside the clock window: in memory with SQLite, in the store with PostgreSQL.
    pub nonces: Arc<dyn Nonces>,
    /// Per-account, per-operation rate limits: in memory with SQLite, in the store with
    /// PostgreSQL.
    pub limiter: Arc<dyn RateLimiter>,
    /// Parsed RAM policies by document hash.
    pub policy_cache: PolicyCache,
    /// Settings.
    pub config: ApiConfig,
    /// Calls refused by the rate limiter since start.
    pub throttled: std::sync::atomic::AtomicU64,
    /// Issues certificates for `CertType=free`: the built-in test CA, or the ACME issuer
    /// (`serve --acme-directory`).
    pub issuer: Arc<dyn crate::issuer::Issuer>,
}

impl AppState {
    /// The API's metrics in the Prometheus text format (`GET /metrics`): nonce-store entries
    /// (protocol.md §5: bounded, refuses when full; only for the in-memory store — PostgreSQL's
    /// are rows of the `nonces` table), throttled calls, dropped audit entries, and the issuer's
    /// own (the ACME issuer's orders and renewal times).
    pub fn metrics_text(&self) -> String {
        use std::sync::atomic::Ordering;
        let nonces = self.nonces.entries().map_or_else(String::new, |n| {
            format!(
                "# HELP livecert_nonce_entries Nonces held for replay protection.\n\
                 # TYPE livecert_nonce_entries gauge\n\
                 livecert_nonce_entries {n}\n"
            )
        });
        format!(
            "{nonces}\
             # HELP livecert_throttled_calls_total Calls refused with Throttling.User.\n\
             # TYPE livecert_throttled_calls_total counter\n\
             livecert_throttled_calls_total {}\n\
             # HELP livecert_audit_dropped_total Audit entries lost: the queue was full, or a batch could not be written.\n\
             # TYPE livecert_audit_dropped_total counter\n\
             livecert_audit_dropped_total {}\n\
             {}",
            self.throttled.load(Ordering::Relaxed),
            self.store.audit_dropped(),
            self.issuer.metrics_text(),
        )
    }
}

/// Parsed RAM policies, keyed by the SHA-256 of their document, so a request never re-parses a
/// policy it has seen. Bounded: cleared when it holds more than 10,000 documents.
#[derive(Default)]
pub struct PolicyCache {
    parsed: std::sync::Mutex<std::collections::HashMap<[u8; 32], Arc<Policy>>>,
}

/// What an unparsable stored document counts as: it denies everything, so a policy that cannot be
/// read never widens what a user may do.
const DENY_ALL: &str =
    r#"{"Version":"1","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}"#;

impl PolicyCache {
    /// The documents, parsed (from the cache when seen before).
    pub fn parsed(&self, documents: &[String]) -> Arc<Vec<Arc<Policy>>> {
        let mut cache = self
            .parsed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.len() > 10_000 {
            cache.clear();
        }
        let policies = documents
            .iter()
            .filter_map(|doc| {
                let key: [u8; 32] = Sha256::digest(doc.as_bytes()).into();
                if let Some(p) = cache.get(&key) {
                    return Some(Arc::clone(p));
                }
                let policy = match Policy::parse(doc) {
                    Ok(p) => p,
                    Err(e) => {
                        warn!(error = %e, "a stored policy does not parse; it denies everything");
                        Policy::parse(DENY_ALL).ok()?
                    }
                };
                let policy = Arc::new(policy);
                cache.insert(key, Arc::clone(&policy));
                Some(policy)
            })
            .collect();
        Arc::new(policies)
    }
}
