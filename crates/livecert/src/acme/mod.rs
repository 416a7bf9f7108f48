//! The ACME issuer (RFC 8555; issue 13): `CertType=free` certificates from a real ACME CA — Let's
//! Encrypt, ZeroSSL, a private step-ca, or Pebble in tests — proven through livecert's own edge
//! and renewed by livecert, with no other tool. On when `serve` is given `--acme-directory`;
//! without it the built-in test CA ([`crate::issuer::TestCa`]) stays the issuer.
//!
//! How it works (docs/acme.md):
//! - [`AcmeIssuer`] answers SetLiveDomainCertificate at once ([`crate::issuer::Issuance::Pending`]):
//!   the handler reserves the record in status `applying` and queues an order in the store
//!   (`Store::request_free`), then wakes the worker.
//! - [`worker::run`], one per `serve` node, takes the lease of due orders in the store (so that on
//!   several nodes exactly one works on an order at a time, and a node that dies is taken over
//!   when its lease runs out), and runs each through [`order::issue`]: new order, the challenge
//!   stored for every edge node to answer (HTTP-01 on the plain-HTTP port, or TLS-ALPN-01 on the
//!   TLS port: `crate::edge::challenges`), finalize with a fresh P-256 key, download the chain,
//!   check it with core's `check_upload` like any upload; then the store fills the record and
//!   binds it (`Store::complete_acme_order`) — or keeps the CA's problem document and marks the
//!   record `failed`, or retries later with backoff (`Store::fail_acme_order`).
//! - Renewal: every free record is renewed at two thirds of its lifetime, or inside the window the
//!   CA's ACME Renewal Information suggests (RFC 9773) when its directory offers it; the worker
//!   queues due renewals (`Store::schedule_acme_renewals`), and a renewal replaces the record's
//!   content in place, so the edge serves the new leaf to new handshakes without touching open
//!   connections.
//! - The ACME client is instant-acme (JWS, nonces, account, orders); its account credentials are
//!   sealed with the master key in the store, one account per installation and directory, shared
//!   by every node.
//!
//! Code map: this file (configuration, the issuer, metrics); [`account`] (the HTTP client and the
//! account); [`order`] (one order, RFC 8555 §7.4); [`worker`] (leases, retries, renewals).

pub mod account;
pub mod order;
pub mod worker;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use livecert_core::cert::CheckedUpload;
use livecert_core::names::DomainName;
use livecert_store::ChallengeKind;
use tokio::sync::Notify;

use crate::issuer::{refuse_wildcard, Issuance, IssueError, Issuer};

/// How long a node holds an order's lease before another node may take it over; the holder
/// extends it every third of this while it works.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);

/// Orders one node works on at once.
pub const DEFAULT_CONCURRENCY: usize = 16;

/// Orders of one account one node works on at once (the rest of that account's orders wait;
/// other accounts' do not).
pub const DEFAULT_PER_ACCOUNT: usize = 4;

/// The ACME issuer's settings (`serve --acme-*`).
#[derive(Debug, Clone)]
pub struct AcmeConfig {
    /// `--acme-directory`: the CA's directory URL (RFC 8555 §7.1.1).
    pub directory: String,
    /// `--acme-email`: the account's contact, `mailto:` added.
    pub email: Option<String>,
    /// `--acme-eab-kid` and `--acme-eab-hmac-key` (base64url): External Account Binding (RFC
    /// 8555 §7.3.4) for CAs that require it (ZeroSSL, many private CAs).
    pub eab: Option<(String, Vec<u8>)>,
    /// `--acme-ca-roots`: PEM roots to trust for the directory's HTTPS (a private or test CA);
    /// `None`: the system's roots.
    pub ca_roots: Option<PathBuf>,
    /// The challenge the worker answers: HTTP-01 when the edge serves plain HTTP
    /// (`--edge-http-listen`), else TLS-ALPN-01; `--acme-challenge` chooses.
    pub challenge: ChallengeKind,
    /// `--acme-renew-after-secs` (for tests and drills): renew this long after each issuance
    /// instead of at two thirds of the lifetime or the CA's renewal window.
    pub renew_after: Option<Duration>,
    /// How long an order's lease lasts ([`DEFAULT_LEASE`]).
    pub lease: Duration,
    /// Orders this node works on at once ([`DEFAULT_CONCURRENCY`]).
    pub concurrency: usize,
    /// Orders of one account this node works on at once ([`DEFAULT_PER_ACCOUNT`]).
    pub per_account: usize,
}

impl AcmeConfig {
    /// Settings for `directory` with the defaults: no contact, no EAB, the system's roots,
    /// `challenge`, the standard renewal time and the default lease and concurrency.
    pub fn new(directory: impl Into<String>, challenge: ChallengeKind) -> Self {
        Self {
            directory: directory.into(),
            email: None,
            eab: None,
            ca_roots: None,
            challenge,
            renew_after: None,
            lease: DEFAULT_LEASE,
            concurrency: DEFAULT_CONCURRENCY,
            per_account: DEFAULT_PER_ACCOUNT,
        }
    }
}

/// The `serve` flags of the ACME issuer.
#[derive(Debug, Clone, clap::Args)]
pub struct AcmeArgs {
    /// Issue CertType=free certificates from this ACME directory (RFC 8555), e.g.
    /// https://acme-v02.api.letsencrypt.org/directory; without it the built-in test CA issues them.
    /// livecert's own edge answers the challenges (docs/acme.md).
    #[arg(long)]
    pub acme_directory: Option<String>,
    /// The ACME account's contact e-mail address.
    #[arg(long, requires = "acme_directory")]
    pub acme_email: Option<String>,
    /// External Account Binding key id, for CAs that require one (ZeroSSL, private CAs).
    #[arg(long, requires_all = ["acme_directory", "acme_eab_hmac_key"])]
    pub acme_eab_kid: Option<String>,
    /// External Account Binding HMAC key (base64url), with --acme-eab-kid.
    #[arg(
        long,
        env = "LIVECERT_ACME_EAB_HMAC_KEY",
        hide_env_values = true,
        requires = "acme_eab_kid"
    )]
    pub acme_eab_hmac_key: Option<String>,
    /// Trust these PEM roots for the ACME directory's HTTPS (a private CA, Pebble) instead of the
    /// system's.
    #[arg(long, requires = "acme_directory")]
    pub acme_ca_roots: Option<PathBuf>,
    /// The challenge livecert's edge answers: http-01 (needs --edge-http-listen, port 80 in
    /// production) or tls-alpn-01 (the edge's TLS port, 443 in production). Default: http-01 when
    /// --edge-http-listen is given, else tls-alpn-01.
    #[arg(long, requires = "acme_directory", value_parser = ["http-01", "tls-alpn-01"])]
    pub acme_challenge: Option<String>,
    /// Renew each free certificate this many seconds after it is issued, instead of at two thirds
    /// of its lifetime or in the CA's renewal window (for drills and tests).
    #[arg(long, requires = "acme_directory", value_parser = clap::value_parser!(u64).range(1..))]
    pub acme_renew_after_secs: Option<u64>,
    /// Orders this node works on at once.
    #[arg(long, requires = "acme_directory", default_value_t = DEFAULT_CONCURRENCY, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=256))]
    pub acme_concurrency: usize,
    /// Orders of one account this node works on at once (the rest of that account's orders wait;
    /// other accounts' do not).
    #[arg(long, requires = "acme_directory", default_value_t = DEFAULT_PER_ACCOUNT, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=256))]
    pub acme_per_account: usize,
    /// How long an order's lease lasts before another node may take the order over (tests).
    #[arg(long, hide = true, requires = "acme_directory", value_parser = clap::value_parser!(u64).range(3..))]
    pub acme_lease_secs: Option<u64>,
}

impl AcmeArgs {
    /// The issuer's settings, or `None` without `--acme-directory`. `edge_http` says whether the
    /// edge serves plain HTTP (`--edge-http-listen`), which HTTP-01 needs.
    ///
    /// Errors: an EAB key that is not base64url; HTTP-01 chosen without the plain-HTTP port;
    /// `--acme-ca-roots` that cannot be read or holds no usable certificate.
    pub fn config(&self, edge_http: bool) -> anyhow::Result<Option<AcmeConfig>> {
        use base64::Engine as _;
        let Some(directory) = &self.acme_directory else {
            return Ok(None);
        };
        let challenge = match self.acme_challenge.as_deref() {
            Some(name) => ChallengeKind::from_name(name).ok_or_else(|| {
                anyhow::anyhow!("--acme-challenge {name}: use http-01 or tls-alpn-01")
            })?,
            None if edge_http => ChallengeKind::Http01,
            None => ChallengeKind::TlsAlpn01,
        };
        anyhow::ensure!(
            challenge != ChallengeKind::Http01 || edge_http,
            "--acme-challenge http-01 is answered on the edge's plain-HTTP port: add --edge-http-listen (0.0.0.0:80 in production), or use tls-alpn-01"
        );
        let eab = match (&self.acme_eab_kid, &self.acme_eab_hmac_key) {
            (Some(kid), Some(key)) => {
                let key = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(key.trim().trim_end_matches('='))
                    .map_err(|e| anyhow::anyhow!("--acme-eab-hmac-key is not base64url: {e}"))?;
                Some((kid.clone(), key))
            }
            _ => None,
        };
        if let Some(roots) = &self.acme_ca_roots {
            // Read now, so that a wrong path stops `serve` rather than every order.
            account::load_roots(roots)?;
        }
        let mut config = AcmeConfig::new(directory.clone(), challenge);
        config.email.clone_from(&self.acme_email);
        config.eab = eab;
        config.ca_roots.clone_from(&self.acme_ca_roots);
        config.renew_after = self.acme_renew_after_secs.map(Duration::from_secs);
        config.concurrency = self.acme_concurrency;
        config.per_account = self.acme_per_account;
        if let Some(lease) = self.acme_lease_secs {
            config.lease = Duration::from_secs(lease);
        }
        Ok(Some(config))
    }
}

/// `CertType=free` through ACME: refuses wildcard domains (row 36; HTTP-01 and TLS-ALPN-01 cannot
/// prove a wildcard) and answers every other request [`Issuance::Pending`].
#[derive(Debug, Default)]
pub struct AcmeIssuer {
    wake: Arc<Notify>,
    metrics: Arc<AcmeMetrics>,
}

impl AcmeIssuer {
    /// An issuer whose worker is woken through `wake` and counts into `metrics`.
    pub fn new(wake: Arc<Notify>, metrics: Arc<AcmeMetrics>) -> Self {
        Self { wake, metrics }
    }
}

impl Issuer for AcmeIssuer {
    fn check(&self, domain: &DomainName) -> Result<(), IssueError> {
        refuse_wildcard(domain)
    }

    fn issue(&self, domain: &DomainName, _now: i64) -> Result<CheckedUpload, IssueError> {
        Err(IssueError::Failed(format!(
            "the ACME issuer issues {domain} asynchronously: call start"
        )))
    }

    fn start(&self, domain: &DomainName, _now: i64) -> Result<Issuance, IssueError> {
        self.check(domain)?;
        Ok(Issuance::Pending)
    }

    fn ordered(&self) {
        self.wake.notify_one();
    }

    fn metrics_text(&self) -> String {
        self.metrics.render()
    }
}

/// How an order attempt ended, as counted by `livecert_acme_orders_total{result}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum OrderResult {
    /// A certificate was issued and stored.
    Valid,
    /// The attempt failed and the order is retried later.
    Retried,
    /// The order failed for good.
    Failed,
}

impl OrderResult {
    /// The label value: `valid`, `retried`, `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::Retried => "retried",
            Self::Failed => "failed",
        }
    }
}

/// The ACME issuer's Prometheus metrics, rendered into the API's `GET /metrics`.
#[derive(Debug, Default)]
pub struct AcmeMetrics {
    orders: Mutex<BTreeMap<(OrderResult, &'static str), u64>>,
    renewals: Mutex<BTreeMap<String, i64>>,
}

impl AcmeMetrics {
    /// Counts one order attempt's end, by result and challenge type.
    pub fn order(&self, result: OrderResult, challenge: ChallengeKind) {
        *self
            .orders
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry((result, challenge.as_str()))
            .or_default() += 1;
    }

    /// Replaces the renewal schedule shown (domain, next renewal in Unix seconds).
    pub fn set_renewals(&self, renewals: Vec<(String, i64)>) {
        *self.renewals.lock().unwrap_or_else(PoisonError::into_inner) =
            renewals.into_iter().collect();
    }

    /// Sets one domain's next renewal (Unix seconds), as an order just stored it.
    pub fn set_renewal(&self, domain: &str, at: i64) {
        self.renewals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(domain.to_owned(), at);
    }

    /// The counters and gauges in the Prometheus text format:
    /// `livecert_acme_orders_total{result,challenge}` and
    /// `livecert_acme_next_renewal_timestamp_seconds{domain}` (a renewal that keeps failing
    /// leaves this in the past: alert on `< time() - 86400`).
    pub fn render(&self) -> String {
        let mut out = String::from(
            "# HELP livecert_acme_orders_total ACME order attempts by result and challenge type.\n\
             # TYPE livecert_acme_orders_total counter\n",
        );
        for ((result, challenge), n) in self
            .orders
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            let _ = writeln!(
                out,
                "livecert_acme_orders_total{{result=\"{}\",challenge=\"{challenge}\"}} {n}",
                result.as_str()
            );
        }
        out.push_str(
            "# HELP livecert_acme_next_renewal_timestamp_seconds When each domain's free certificate is renewed next (Unix seconds).\n\
             # TYPE livecert_acme_next_renewal_timestamp_seconds gauge\n",
        );
        for (domain, at) in self
            .renewals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            let _ = writeln!(
                out,
                "livecert_acme_next_renewal_timestamp_seconds{{domain=\"{domain}\"}} {at}"
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_issuer_answers_pending_and_refuses_wildcards() {
        let issuer = AcmeIssuer::default();
        let domain = DomainName::parse("live.example.com").expect("domain");
        assert!(matches!(issuer.start(&domain, 0), Ok(Issuance::Pending)));
        let wildcard = DomainName::parse("*.example.com").expect("wildcard");
        assert!(matches!(
            issuer.start(&wildcard, 0),
            Err(IssueError::Refused(_))
        ));
    }

    fn args(directory: Option<&str>) -> AcmeArgs {
        AcmeArgs {
            acme_directory: directory.map(str::to_owned),
            acme_email: None,
            acme_eab_kid: None,
            acme_eab_hmac_key: None,
            acme_ca_roots: None,
            acme_challenge: None,
            acme_renew_after_secs: None,
            acme_concurrency: DEFAULT_CONCURRENCY,
            acme_per_account: DEFAULT_PER_ACCOUNT,
            acme_lease_secs: None,
        }
    }

    #[test]
    fn the_flags_choose_the_challenge_and_decode_the_eab_key() {
        assert!(args(None).config(true).expect("no ACME").is_none());
        let dir = Some("https://ca.test/dir");
        let with_http = args(dir).config(true).expect("config").expect("ACME");
        assert_eq!(with_http.challenge, ChallengeKind::Http01);
        let without_http = args(dir).config(false).expect("config").expect("ACME");
        assert_eq!(without_http.challenge, ChallengeKind::TlsAlpn01);
        let mut http = args(dir);
        http.acme_challenge = Some("http-01".into());
        let refused = http
            .config(false)
            .expect_err("HTTP-01 without the plain-HTTP port");
        assert!(
            refused.to_string().contains("--edge-http-listen"),
            "{refused}"
        );
        let mut eab = args(dir);
        eab.acme_eab_kid = Some("kid-1".into());
        eab.acme_eab_hmac_key = Some("c2VjcmV0".into());
        let config = eab.config(true).expect("config").expect("ACME");
        assert_eq!(config.eab, Some(("kid-1".to_owned(), b"secret".to_vec())));
        eab.acme_eab_hmac_key = Some("not base64url!".into());
        let bad = eab.config(true).expect_err("bad key");
        assert!(bad.to_string().contains("base64url"), "{bad}");
        assert!(
            !bad.to_string().contains("not base64url!"),
            "the key is not echoed: {bad}"
        );
        let mut roots = args(dir);
        roots.acme_ca_roots = Some(PathBuf::from("/nonexistent/roots.pem"));
        let missing = roots.config(true).expect_err("missing roots");
        assert!(missing.to_string().contains("--acme-ca-roots"), "{missing}");
    }

    #[test]
    fn metrics_render_counters_and_the_renewal_gauge() {
        let metrics = AcmeMetrics::default();
        metrics.order(OrderResult::Valid, ChallengeKind::Http01);
        metrics.order(OrderResult::Valid, ChallengeKind::Http01);
        metrics.order(OrderResult::Failed, ChallengeKind::TlsAlpn01);
        metrics.set_renewals(vec![("a.example".into(), 1_700_000_000)]);
        let text = metrics.render();
        assert!(
            text.contains("livecert_acme_orders_total{result=\"valid\",challenge=\"http-01\"} 2\n")
        );
        assert!(text.contains(
            "livecert_acme_orders_total{result=\"failed\",challenge=\"tls-alpn-01\"} 1\n"
        ));
        assert!(text.contains(
            "livecert_acme_next_renewal_timestamp_seconds{domain=\"a.example\"} 1700000000\n"
        ));
    }
}
