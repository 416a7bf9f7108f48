//! `livecert serve`: opens the data directory and the store (SQLite, or PostgreSQL for several
//! nodes), creates the first account on an empty store, and serves the API, the HTTPS edge
//! beside it on the same store and, with `--acme-directory`, the ACME issuer's worker
//! ([`crate::acme`]), until SIGTERM or SIGINT.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use livecert_store::Store;
use tokio::net::TcpListener;
use tracing::info;

use crate::api::nonce::{MemoryNonces, Nonces, SharedNonces};
use crate::api::ratelimit::{MemoryRateLimiter, Quotas, RateLimiter, SharedRateLimiter, Unlimited};
use crate::api::{self, ApiConfig, AppState};
use crate::clock::{Clock, SystemClock};
use crate::datadir::DataDir;
use crate::issuer::{Issuer, TestCa};

/// How far this node's clock may be from the database's before `serve` warns at start, in
/// milliseconds: two nodes each within it differ by at most twice it, 100 ms, which keeps the
/// shared rate limit within 10% of each quota (docs/decisions.md).
pub const MAX_CLOCK_OFFSET_MS: i64 = 50;

/// Options of `livecert serve`.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// API listen address, default `127.0.0.1:8080`.
    pub listen: SocketAddr,
    /// The data directory, default `./livecert-data`.
    pub data_dir: PathBuf,
    /// `--store`: `sqlite://<path>` or `postgres://…`; `None` for
    /// `sqlite://<data-dir>/livecert.db`.
    pub store: Option<String>,
    /// API settings.
    pub api: ApiConfig,
    /// Per-account rate limits on (spec/access.md) or off (benchmarks).
    pub rate_limits: bool,
    /// Calls per second by operation, replacing the action table's (`--rate-limit`).
    pub rate_limit_overrides: std::collections::HashMap<livecert_core::action::Action, u32>,
    /// Nonces one account may hold in memory (`--nonces-per-account`; SQLite only).
    pub nonces_per_account: usize,
    /// The HTTPS edge's listen address (`--edge-listen`); `None` with `--no-edge`.
    pub edge_listen: Option<SocketAddr>,
    /// The edge's default origin (`--default-origin`).
    pub default_origin: Option<crate::edge::origin::Origin>,
    /// Where the edge's metrics are served (`--metrics-listen`); `None`: not served.
    pub metrics_listen: Option<SocketAddr>,
    /// The edge's plain-HTTP port (`--edge-http-listen`); `None` (the default): not served.
    pub edge_http_listen: Option<SocketAddr>,
    /// `--acme-webroot`: where ACME clients leave HTTP-01 key authorizations; needs
    /// `edge_http_listen`.
    pub acme_webroot: Option<PathBuf>,
    /// `--acme-directory` and the other `--acme-*` flags: `CertType=free` from that ACME CA;
    /// `None`: from the built-in test CA.
    pub acme: Option<crate::acme::AcmeConfig>,
    /// `--official-hostnames`: serve the API over TLS with a certificate for `*.aliyuncs.com` (and
    /// `*.<region>.aliyuncs.com`) issued at start by the data directory's CA
    /// ([`crate::official_hostnames`]); excludes `tls`.
    pub official_hostnames: bool,
    /// `--tls-cert` and `--tls-key`: serve the API over TLS with this chain and key; `None`:
    /// plain HTTP.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// The edge's `--default-cert` and `--default-key`.
    pub default_cert: Option<(PathBuf, PathBuf)>,
}

use crate::store_location::{open_store_at, StoreLocation};

/// Runs `serve` until `shutdown` completes. Prints the root credentials once on first start.
pub async fn run(options: ServeOptions, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    if options.edge_listen.is_none() && options.metrics_listen.is_some() {
        bail!(
            "--metrics-listen serves the edge's metrics: drop --no-edge, or drop --metrics-listen"
        );
    }
    if options.edge_listen.is_none() && options.edge_http_listen.is_some() {
        bail!(
            "--edge-http-listen is the edge's plain-HTTP port: drop --no-edge, or drop --edge-http-listen"
        );
    }
    crate::edge::check_acme_webroot(
        options.acme_webroot.as_deref(),
        options.edge_http_listen.is_some(),
    )?;
    if options.official_hostnames && options.tls.is_some() {
        bail!("--official-hostnames issues the API's certificate itself: drop --tls-cert and --tls-key, or drop --official-hostnames");
    }
    let mut api_tls = match &options.tls {
        Some((cert, key)) => Some(api::tls_config(cert, key)?),
        None => None,
    };
    let default_cert = crate::edge::default_certificate(options.default_cert.as_ref())?;
    let dir = DataDir::open(&options.data_dir)?;
    let location = StoreLocation::parse(&dir, options.store.as_deref())?;
    // SQLite keeps nonces and rate limits in this one process: one serve per database. Several
    // serve nodes may share a PostgreSQL store.
    let _lock = match &location {
        StoreLocation::Sqlite(path) => Some(DataDir::lock_for_serve(path)?),
        StoreLocation::Postgres(_) => None,
    };
    let store = open_store_at(&dir, &location, true).await?;
    store.verify_master_key().await.context(
        "the master key does not open this store's secrets: use the master.key (or LIVECERT_MASTER_KEY) the store was created with",
    )?;
    // PostgreSQL: start the store's change feed now, with or without an edge: it clears the
    // AccessKey cache when another node changes keys, users or policies (and feeds the edge).
    drop(store.listen_changes());
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    if let Some(creds) = store
        .bootstrap(clock.now())
        .await
        .context("creating the first account")?
    {
        let path = dir.write_credentials(&creds)?;
        print_first_credentials(&creds, &path);
    }
    // The test CA issues CertType=free unless ACME does, and the API's certificate for
    // --official-hostnames.
    let ca = if options.acme.is_none() || options.official_hostnames {
        Some(open_test_ca(&dir, clock.now())?)
    } else {
        None
    };
    if let (true, Some(ca)) = (options.official_hostnames, &ca) {
        let names = crate::official_hostnames::names();
        let (chain, key) = ca
            .issue_server(&names, clock.now())
            .context("issuing the API's certificate for --official-hostnames")?;
        api_tls = Some(api::tls_config_from_pem(&chain, &key)?);
        info!(names = names.len(), root = %TestCa::cert_path(dir.path()).display(), "API certificate for *.aliyuncs.com issued by the data directory's CA (clients trust that root)");
    }
    // The edge's whole map is loaded before its port opens.
    let edge = match options.edge_listen {
        Some(listen) => Some((
            crate::edge::Edge::load(store.clone())
                .await?
                .with_default_origin(options.default_origin.clone())
                .with_acme_webroot(options.acme_webroot.clone())
                .with_default_certificate(default_cert)?
                .with_first_byte_timeout(options.api.first_byte_timeout)
                .with_idle_timeout(options.api.idle_timeout),
            crate::edge::bind(listen).await?,
        )),
        None => None,
    };
    let acme = options.acme.clone().map(|config| {
        let wake = Arc::new(tokio::sync::Notify::new());
        let metrics = Arc::new(crate::acme::AcmeMetrics::default());
        let worker = crate::acme::worker::Worker::new(
            store.clone(),
            config,
            Arc::clone(&clock),
            edge.as_ref().map(|(edge, _)| Arc::clone(edge.challenges())),
            Arc::clone(&metrics),
            Arc::clone(&wake),
        );
        (crate::acme::AcmeIssuer::new(wake, metrics), worker)
    });
    let (issuer, acme_worker): (Arc<dyn Issuer>, _) = match (acme, ca) {
        (Some((issuer, worker)), _) => (Arc::new(issuer), Some(worker)),
        (None, Some(ca)) => (Arc::new(ca), None),
        (None, None) => bail!("no issuer for CertType=free"),
    };
    let metrics_listener = match options.metrics_listen {
        Some(addr) => Some(crate::edge::bind_metrics(addr).await?),
        None => None,
    };
    let http_listener = match options.edge_http_listen {
        Some(addr) => Some(crate::edge::bind_http(addr).await?),
        None => None,
    };
    let listener = TcpListener::bind(options.listen)
        .await
        .with_context(|| format!("binding the API to {}", options.listen))?;
    info!(listen = %listener.local_addr()?, tls = api_tls.is_some(), data_dir = %dir.path().display(), store = %location.describe(), "livecert API listening");
    let (nonces, limiter) = guards(
        &store,
        options.rate_limits,
        Quotas::with_overrides(&options.rate_limit_overrides),
        options.nonces_per_account,
        clock.as_ref(),
    )
    .await;
    let state = Arc::new(AppState {
        store,
        clock,
        nonces,
        limiter,
        config: options.api,
        policy_cache: crate::api::PolicyCache::default(),
        throttled: std::sync::atomic::AtomicU64::new(0),
        issuer,
    });
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let stopped_signal = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let mut metrics_task = None;
    let mut http_task = None;
    let edge_task = edge.map(|(edge, listener)| {
        if let Some(http_listener) = http_listener {
            http_task = Some(tokio::spawn(
                edge.clone()
                    .serve_http(http_listener, stopped_signal(stopped.clone())),
            ));
        }
        if let Some(metrics_listener) = metrics_listener {
            metrics_task = Some(tokio::spawn(
                edge.clone()
                    .serve_metrics(metrics_listener, stopped_signal(stopped.clone())),
            ));
        }
        tokio::spawn(edge.serve(listener, stopped_signal(stopped.clone())))
    });
    let acme_task = acme_worker.map(|worker| {
        tokio::spawn(crate::acme::worker::run(
            worker,
            stopped_signal(stopped.clone()),
        ))
    });
    let api = api::serve_with(
        listener,
        Arc::clone(&state),
        api_tls,
        stopped_signal(stopped),
    );
    let signal = async move {
        shutdown.await;
        let _ = stop.send(true);
    };
    let (served, ()) = tokio::join!(api, signal);
    served?;
    if let Some(task) = edge_task {
        match task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "the edge stopped with an error"),
            Err(e) => tracing::warn!(error = %e, "the edge task failed"),
        }
    }
    if let Some(task) = metrics_task {
        let _ = task.await;
    }
    if let Some(task) = http_task {
        let _ = task.await;
    }
    if let Some(task) = acme_task {
        let _ = task.await;
    }
    // Audit entries are written in batches: write the last ones before the process ends.
    if let Err(e) = state.store.flush_audit().await {
        tracing::warn!(error = %e, "the last audit entries could not be written");
    }
    info!("livecert stopped");
    Ok(())
}

/// The nonce store and the rate limiter of `serve`: in memory on SQLite (this process holds the
/// database); in the store on PostgreSQL, shared with every other node (after a check of this
/// node's clock against the database's, which warns beyond [`MAX_CLOCK_OFFSET_MS`]).
/// `rate_limits` false (`--rate-limits off`): no limiter either way; `quotas`: each operation's,
/// `--rate-limit` applied; `nonces_per_account`: each account's share of the in-memory nonce
/// store (`--nonces-per-account`).
pub async fn guards(
    store: &Store,
    rate_limits: bool,
    quotas: Quotas,
    nonces_per_account: usize,
    clock: &dyn Clock,
) -> (Arc<dyn Nonces>, Arc<dyn RateLimiter>) {
    match store.shared_limits() {
        None => (
            Arc::new(MemoryNonces::new(nonces_per_account)),
            if rate_limits {
                Arc::new(MemoryRateLimiter::with_quotas(quotas))
            } else {
                Arc::new(Unlimited)
            },
        ),
        Some(limits) => {
            check_clock(&limits, clock).await;
            (
                Arc::new(SharedNonces::new(limits.clone())),
                if rate_limits {
                    Arc::new(SharedRateLimiter::new(limits, quotas))
                } else {
                    Arc::new(Unlimited)
                },
            )
        }
    }
}

/// Compares this node's clock with the database's (the shared rate limit uses each node's own:
/// docs/decisions.md) and warns when they differ by more than [`MAX_CLOCK_OFFSET_MS`] beyond the
/// round trip's uncertainty. A database that does not answer is only logged: every check will say
/// so again.
async fn check_clock(limits: &livecert_store::SharedLimits, clock: &dyn Clock) {
    let before = clock.now_millis();
    let database = match limits.database_time_ms().await {
        Ok(ms) => ms,
        Err(e) => {
            tracing::warn!(error = %e, "could not read the database's clock");
            return;
        }
    };
    let after = clock.now_millis();
    let offset = database - before.midpoint(after);
    let uncertainty = (after - before) / 2;
    if offset.abs() > MAX_CLOCK_OFFSET_MS + uncertainty {
        tracing::warn!(
            offset_ms = offset,
            "this node's clock is {offset} ms from the database's: the rate limits shared with \
             other nodes admit up to (clock difference × rate) more calls; keep every node \
             NTP-synced within {MAX_CLOCK_OFFSET_MS} ms"
        );
    } else {
        info!(
            offset_ms = offset,
            "node clock checked against the database's"
        );
    }
}

/// The issuer for `CertType=free`: the data directory's test CA, created on first start (its
/// root: `livecert admin ca export`). The store is open, so the master key exists by now.
/// Errors: as [`TestCa::open_or_create`].
pub fn open_issuer(dir: &DataDir, now: i64) -> anyhow::Result<Arc<dyn Issuer>> {
    Ok(Arc::new(open_test_ca(dir, now)?))
}

/// The data directory's test CA, created on first use: the issuer of `CertType=free` and of the
/// API's certificate for `--official-hostnames`.
/// Errors: as [`TestCa::open_or_create`].
pub fn open_test_ca(dir: &DataDir, now: i64) -> anyhow::Result<TestCa> {
    let master_key = dir.master_key(false)?;
    let ca = TestCa::open_or_create(dir.path(), &master_key, now)
        .context("opening the test CA (CertType=free)")?;
    info!(root = %TestCa::cert_path(dir.path()).display(), "test CA ready for CertType=free");
    Ok(ca)
}

fn print_first_credentials(creds: &livecert_store::NewCredentials, path: &Path) {
    println!(
        "livecert: created account {} with root credentials. They are shown only now, and kept in {} (mode 0600):",
        creds.account_id,
        path.display()
    );
    println!("ALIBABA_CLOUD_ACCESS_KEY_ID={}", creds.access_key_id);
    println!(
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET={}",
        creds.access_key_secret.expose_str().unwrap_or_default()
    );
    println!(
        "Configure a shell with: set -a; . {}; set +a",
        path.display()
    );
}

/// Completes on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
    info!("shutting down");
}
