//! The HTTPS edge (spec/edge.md): terminates TLS for every online domain with HTTPS on, with the
//! certificate bound through the API, chosen by SNI.
//!
//! What it does: rustls 0.23 (aws-lc-rs, the provider the API validates keys with), TLS 1.2 and
//! 1.3, ALPN `h2` and `http/1.1`, session tickets; certificate choice by SNI over an immutable
//! in-memory map swapped whole ([`map`]), loaded before the port opens and brought forward with
//! only the changed domains when the store's change counter moves ([`feed`]); after TLS, HTTP/1.1 or HTTP/2 forwarded by [`http`] to
//! the domain's origin ([`origin`]), `400` without exactly one valid host ([`crate::host`]),
//! `421` when Host and SNI disagree, a client's broken body never blamed on the origin;
//! connections that send nothing closed ([`crate::listener`]); Prometheus metrics
//! ([`metrics`]); the operator's default certificate for names no domain serves
//! (`--default-cert`); the plain-HTTP port (`--edge-http-listen`, [`Edge::serve_http`]): `308` to
//! HTTPS for domains that require it, forwarding for the others, `404` for other hosts, and ACME
//! HTTP-01 challenges from the operator's webroot or the domain's origin (`--acme-webroot`).
//!
//! Code map:
//! - [`map`]: the map, name rules, and rustls's resolver;
//! - [`challenges`]: the ACME challenges of livecert's own ACME issuer, answered on both ports;
//! - [`feed`]: the change feeds (this process's commits; other processes' from PostgreSQL's
//!   LISTEN feed, and a poller — the way on SQLite, a slow safety net on PostgreSQL) and the
//!   follower that applies each delta;
//! - [`http`]: routing and the proxy to origins;
//! - [`origin`]: the checked `http://host:port` of an origin;
//! - [`metrics`]: the counters and the `/metrics` endpoint.
//!
//! [`Edge::serve`] is a function of a listener and a shutdown future, like the API's.

pub mod challenges;
pub mod feed;
pub mod http;
pub mod map;
pub mod metrics;
pub mod origin;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use livecert_store::Store;
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tracing::{debug, info, warn};

use self::challenges::{ChallengeBook, ACME_TLS_ALPN};
use self::http::Proxy;
use self::map::{CertMap, SharedMap, SniResolver};
use self::metrics::Metrics;
use self::origin::Origin;
use crate::datadir::DataDir;
use crate::listener::{Listener, FIRST_BYTE_TIMEOUT, IDLE_TIMEOUT, TLS_HANDSHAKE_TIMEOUT};
use crate::store_location::{open_store_at, StoreLocation};

/// `--edge-listen`'s default.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8443";

/// How long a client has to send a request's headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The edge: the current certificate map, the TLS configuration that reads it, the proxy to
/// origins and the metrics.
#[derive(Clone)]
pub struct Edge {
    store: Store,
    map: Arc<SharedMap>,
    tls: Arc<ServerConfig>,
    proxy: Arc<Proxy>,
    metrics: Arc<Metrics>,
    /// The ACME challenges this edge answers (read from the store while it serves).
    challenges: Arc<ChallengeBook>,
    /// How long a new connection has to send its first byte ([`crate::listener`]).
    first_byte_timeout: Duration,
    /// How long a connection serving HTTP may move no byte ([`crate::listener::until_idle`]).
    idle_timeout: Duration,
}

impl std::fmt::Debug for Edge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Edge")
            .field("map", &self.map)
            .finish_non_exhaustive()
    }
}

impl Edge {
    /// Loads the whole map from `store` and builds the TLS configuration. Call it before the
    /// port opens, so that no handshake meets an empty map. Private keys stay sealed until each
    /// record's first handshake (a key that does not open then is logged and not served).
    /// Errors: the snapshot cannot be read.
    pub async fn load(store: Store) -> anyhow::Result<Self> {
        let snapshot = store
            .edge_snapshot()
            .await
            .context("loading the edge's certificates")?;
        let map = Arc::new(SharedMap::new(CertMap::build(
            snapshot,
            None,
            store.cert_key_opener(),
        )));
        let metrics = Arc::new(Metrics::default());
        let challenges = Arc::new(ChallengeBook::default());
        let tls = tls_config_with_default(Arc::clone(&map), &metrics, None, Some(&challenges))
            .context("building the edge's TLS configuration")?;
        let proxy = Arc::new(
            Proxy::new(None, Arc::clone(&metrics)).with_challenges(Some(Arc::clone(&challenges))),
        );
        Ok(Self {
            store,
            map,
            tls,
            proxy,
            metrics,
            challenges,
            first_byte_timeout: FIRST_BYTE_TIMEOUT,
            idle_timeout: IDLE_TIMEOUT,
        })
    }

    /// The same edge, closing a connection on any of its ports (TLS, plain HTTP, metrics) that
    /// sends no byte within `timeout` of accept (and a TLS connection that sends none within
    /// `timeout` of its handshake); the default is [`FIRST_BYTE_TIMEOUT`], lowered by tests.
    pub fn with_first_byte_timeout(mut self, timeout: Duration) -> Self {
        self.first_byte_timeout = timeout;
        self
    }

    /// The same edge, closing a connection on its TLS and plain-HTTP ports that moves no byte,
    /// read or written, for `timeout` (an idle HTTP/2 connection, a viewer that stopped reading);
    /// the default is [`IDLE_TIMEOUT`], lowered by tests.
    #[must_use]
    pub fn with_idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// The same edge, forwarding the domains without an origin of their own to `origin`
    /// (`--default-origin`); `None`: they are answered `502`.
    pub fn with_default_origin(mut self, origin: Option<Origin>) -> Self {
        let webroot = self.proxy.acme_webroot().map(Path::to_path_buf);
        self.proxy = self.rebuilt_proxy(origin, webroot, self.proxy.origin_headers_timeout());
        self
    }

    /// The same edge, answering ACME HTTP-01 challenges on its plain-HTTP port from
    /// `<webroot>/.well-known/acme-challenge/<token>` (`--acme-webroot`, where certbot
    /// `--webroot -w <webroot>` writes them); `None`: challenges are forwarded to the domain's
    /// origin.
    pub fn with_acme_webroot(mut self, webroot: Option<PathBuf>) -> Self {
        let origin = self.proxy.default_origin().cloned();
        self.proxy = self.rebuilt_proxy(origin, webroot, self.proxy.origin_headers_timeout());
        self
    }

    /// The same edge, waiting `timeout` instead of [`http::ORIGIN_HEADERS_TIMEOUT`] for an
    /// origin's response headers (tests lower it).
    pub fn with_origin_headers_timeout(mut self, timeout: Duration) -> Self {
        let origin = self.proxy.default_origin().cloned();
        let webroot = self.proxy.acme_webroot().map(Path::to_path_buf);
        self.proxy = self.rebuilt_proxy(origin, webroot, timeout);
        self
    }

    /// A proxy with these settings and this edge's metrics.
    fn rebuilt_proxy(
        &self,
        origin: Option<Origin>,
        webroot: Option<PathBuf>,
        origin_headers_timeout: Duration,
    ) -> Arc<Proxy> {
        Arc::new(
            Proxy::new(origin, Arc::clone(&self.metrics))
                .with_challenges(Some(Arc::clone(&self.challenges)))
                .with_acme_webroot(webroot)
                .with_origin_headers_timeout(origin_headers_timeout),
        )
    }

    /// The same edge, answering handshakes for names it does not serve (no SNI, an unknown name)
    /// with the operator's `default` certificate (`--default-cert`/`--default-key`) instead of
    /// refusing them; requests on such connections are answered `421`.
    /// Errors: the TLS configuration cannot be rebuilt.
    pub fn with_default_certificate(
        mut self,
        default: Option<Arc<CertifiedKey>>,
    ) -> anyhow::Result<Self> {
        self.tls = tls_config_with_default(
            Arc::clone(&self.map),
            &self.metrics,
            default,
            Some(&self.challenges),
        )
        .context("building the edge's TLS configuration")?;
        Ok(self)
    }

    /// The ACME challenges this edge answers: the ACME worker of the same process adds the ones
    /// it stores ([`ChallengeBook::insert`]), so that they are answered without waiting for the
    /// next read of the store.
    pub fn challenges(&self) -> &Arc<ChallengeBook> {
        &self.challenges
    }

    /// The edge's metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Serves the metrics (`GET /metrics`, Prometheus text) on `listener` until `shutdown`
    /// completes (`--metrics-listen`).
    pub async fn serve_metrics(self, listener: TcpListener, shutdown: impl Future<Output = ()>) {
        metrics::serve(
            listener,
            self.metrics,
            self.map,
            self.first_byte_timeout,
            shutdown,
        )
        .await;
    }

    /// The current map.
    pub fn map(&self) -> Arc<CertMap> {
        self.map.load()
    }

    /// Serves TLS on `listener` until `shutdown` completes, following the store's changes
    /// meanwhile; then lets open connections finish (up to 10 s). A connection must send its
    /// ClientHello within the first-byte timeout, finish its handshake within
    /// [`TLS_HANDSHAKE_TIMEOUT`] of accept, and send its first request's bytes within the
    /// first-byte timeout after that ([`crate::listener`]), else it is closed.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        let (feed_tx, feed_rx) = watch::channel(self.map.load().change_counter());
        let commits = tokio::spawn(feed::forward(
            self.store.subscribe_changes(),
            feed_tx.clone(),
        ));
        // PostgreSQL: other nodes' commits come from the store's LISTEN feed, and the poll is only
        // a slow safety net; SQLite: the poll is how other processes' commits are seen.
        let listened = self.store.listen_changes();
        let poll_interval = match listened {
            Some(_) => feed::SAFETY_POLL_INTERVAL,
            None => feed::POLL_INTERVAL,
        };
        let notified = listened.map(|source| tokio::spawn(feed::forward(source, feed_tx.clone())));
        let poller = tokio::spawn(feed::poll_change_counter(
            self.store.clone(),
            Arc::clone(&self.map),
            poll_interval,
            feed_tx,
        ));
        let follower = tokio::spawn(feed::follow(
            self.store.clone(),
            Arc::clone(&self.map),
            feed_rx,
        ));
        let challenge_reader = tokio::spawn(challenges::follow(
            self.store.clone(),
            Arc::clone(&self.challenges),
        ));
        let acceptor = TlsAcceptor::from(Arc::clone(&self.tls));
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT);
        builder.http2().timer(TokioTimer::new());
        let builder = Arc::new(builder);
        let graceful = GracefulShutdown::new();
        let (first_byte_timeout, idle_timeout) = (self.first_byte_timeout, self.idle_timeout);
        let mut listener = Listener::new(listener, "edge");
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                (stream, peer) = listener.accept() => {
                    let _ = stream.set_nodelay(true);
                    let acceptor = acceptor.clone();
                    let builder = Arc::clone(&builder);
                    let map = Arc::clone(&self.map);
                    let proxy = Arc::clone(&self.proxy);
                    let metrics = Arc::clone(&self.metrics);
                    let watcher = graceful.watcher();
                    tokio::spawn(async move {
                        let accepted_at = tokio::time::Instant::now();
                        if !crate::listener::first_byte(&stream, first_byte_timeout).await {
                            metrics.handshake_failed();
                            debug!(%peer, "edge connection closed: no ClientHello in time");
                            return;
                        }
                        let handshake = tokio::time::timeout_at(accepted_at + TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream));
                        let tls = match handshake.await {
                            Ok(Ok(tls)) => tls,
                            Ok(Err(e)) => {
                                metrics.handshake_failed();
                                debug!(%peer, error = %e, "edge handshake refused");
                                return;
                            }
                            Err(_) => {
                                metrics.handshake_failed();
                                debug!(%peer, "edge handshake timed out");
                                return;
                            }
                        };
                        if tls.get_ref().1.alpn_protocol() == Some(ACME_TLS_ALPN) {
                            // RFC 8737 §3: a TLS-ALPN-01 validation ends with the handshake.
                            debug!(%peer, "TLS-ALPN-01 validation handshake answered");
                            return;
                        }
                        metrics.handshake_ok();
                        let sni: Option<Arc<str>> = tls.get_ref().1.server_name().map(Arc::from);
                        let io = match crate::listener::first_bytes(tls, first_byte_timeout).await {
                            Ok(io) => io,
                            Err(e) => {
                                debug!(%peer, error = %e, "edge connection closed before its first request");
                                return;
                            }
                        };
                        let service = service_fn(move |request| {
                            let current = map.load();
                            let proxy = Arc::clone(&proxy);
                            let sni = sni.clone();
                            async move {
                                proxy.answer(&current, sni.as_deref(), peer.ip(), request).await
                            }
                        });
                        let activity = io.activity();
                        let connection = builder.serve_connection(TokioIo::new(io), service);
                        if crate::listener::until_idle(watcher.watch(connection.into_owned()), &activity, idle_timeout).await.is_none() {
                            debug!(%peer, "edge connection closed: no byte moved for {} s", idle_timeout.as_secs());
                        }
                    });
                }
                () = &mut shutdown => break,
            }
        }
        drop(listener);
        commits.abort();
        if let Some(notified) = notified {
            notified.abort();
        }
        poller.abort();
        follower.abort();
        challenge_reader.abort();
        tokio::select! {
            () = graceful.shutdown() => {}
            () = tokio::time::sleep(Duration::from_secs(10)) => warn!("edge connections still open after 10 s; closing"),
        }
        Ok(())
    }
}

impl Edge {
    /// Serves plain HTTP/1.1 on `listener` (`--edge-http-listen`) until `shutdown` completes, then
    /// lets open connections finish (up to 10 s). Requests are routed by Host over the same map
    /// [`Edge::serve`] keeps current (run both: this one does not follow the store by itself):
    /// see [`Proxy::answer_plain`]. A connection that sends no byte within the first-byte
    /// timeout is closed ([`crate::listener`]).
    pub async fn serve_http(self, listener: TcpListener, shutdown: impl Future<Output = ()>) {
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT);
        let builder = Arc::new(builder);
        let graceful = GracefulShutdown::new();
        let (first_byte_timeout, idle_timeout) = (self.first_byte_timeout, self.idle_timeout);
        let mut listener = Listener::new(listener, "edge HTTP");
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                (stream, peer) = listener.accept() => {
                    let _ = stream.set_nodelay(true);
                    let map = Arc::clone(&self.map);
                    let proxy = Arc::clone(&self.proxy);
                    let builder = Arc::clone(&builder);
                    let watcher = graceful.watcher();
                    tokio::spawn(async move {
                        let io = match crate::listener::first_bytes(stream, first_byte_timeout).await {
                            Ok(io) => io,
                            Err(e) => {
                                debug!(%peer, error = %e, "edge HTTP connection closed before its first request");
                                return;
                            }
                        };
                        let service = service_fn(move |request| {
                            let current = map.load();
                            let proxy = Arc::clone(&proxy);
                            async move { proxy.answer_plain(&current, peer.ip(), request).await }
                        });
                        let activity = io.activity();
                        let connection = builder.serve_connection(TokioIo::new(io), service);
                        if crate::listener::until_idle(watcher.watch(connection), &activity, idle_timeout).await.is_none() {
                            debug!(%peer, "edge HTTP connection closed: no byte moved for {} s", idle_timeout.as_secs());
                        }
                    });
                }
                () = &mut shutdown => break,
            }
        }
        drop(listener);
        tokio::select! {
            () = graceful.shutdown() => {}
            () = tokio::time::sleep(Duration::from_secs(10)) => warn!("edge HTTP connections still open after 10 s; closing"),
        }
    }
}

/// The edge's rustls configuration: TLS 1.2 and 1.3, ALPN `h2` then `http/1.1`, stateless
/// session tickets (and rustls's session cache), certificates from `map` on every handshake
/// (refusals counted in `metrics`).
/// Errors: the provider refuses the protocol versions, or the ticketer cannot start.
pub fn tls_config(map: Arc<SharedMap>, metrics: &Metrics) -> anyhow::Result<Arc<ServerConfig>> {
    tls_config_with_default(map, metrics, None, None)
}

/// [`tls_config`] with the operator's default certificate for names the map does not serve, and
/// the TLS-ALPN-01 answers of `challenges` (ALPN `acme-tls/1` is then offered last, after `h2`
/// and `http/1.1`, so that only a validator that offers nothing else negotiates it).
/// Errors: as [`tls_config`].
pub fn tls_config_with_default(
    map: Arc<SharedMap>,
    metrics: &Metrics,
    default: Option<Arc<CertifiedKey>>,
    challenges: Option<&Arc<ChallengeBook>>,
) -> anyhow::Result<Arc<ServerConfig>> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(
            SniResolver::new(map, metrics.refused_counter())
                .with_default(default)
                .with_challenges(challenges.cloned()),
        ));
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    if challenges.is_some() {
        config.alpn_protocols.push(ACME_TLS_ALPN.to_vec());
    }
    config.ticketer = rustls::crypto::aws_lc_rs::Ticketer::new()?;
    Ok(Arc::new(config))
}

/// Options of `livecert edge`.
#[derive(Debug, Clone)]
pub struct EdgeOptions {
    /// TLS listen address.
    pub listen: SocketAddr,
    /// The data directory (for the master key and the default store).
    pub data_dir: PathBuf,
    /// `--store`, as `serve`'s.
    pub store: Option<String>,
    /// `--default-origin`: where domains without an origin of their own are forwarded.
    pub default_origin: Option<Origin>,
    /// `--metrics-listen`: where the metrics are served; `None`: not served.
    pub metrics_listen: Option<SocketAddr>,
    /// `--default-cert` and `--default-key`: the certificate for names no domain serves.
    pub default_cert: Option<(PathBuf, PathBuf)>,
    /// `--edge-http-listen`: the plain-HTTP port; `None` (the default): not served.
    pub http_listen: Option<SocketAddr>,
    /// `--acme-webroot`: where ACME clients leave HTTP-01 key authorizations
    /// (`<dir>/.well-known/acme-challenge/<token>`); needs `http_listen`.
    pub acme_webroot: Option<PathBuf>,
    /// How long a new connection has to send its first byte, on every port
    /// ([`FIRST_BYTE_TIMEOUT`]; the hidden `--first-byte-timeout-ms` lowers it for tests).
    pub first_byte_timeout: Duration,
}

/// `livecert edge`: an edge alone against an existing store, beside a `serve` (it does not take
/// serve's lock and writes nothing). Prints `livecert edge listening on <addr>` once the port is
/// open.
/// Errors: no store yet, a master key that does not open it, a port that cannot be bound.
pub async fn run(options: EdgeOptions, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    check_acme_webroot(
        options.acme_webroot.as_deref(),
        options.http_listen.is_some(),
    )?;
    let default_cert = default_certificate(options.default_cert.as_ref())?;
    let dir = DataDir::open(&options.data_dir)?;
    let location = StoreLocation::parse(&dir, options.store.as_deref())?;
    if let StoreLocation::Sqlite(path) = &location {
        anyhow::ensure!(
            path.exists(),
            "no store at {}: start `livecert serve` first (the edge serves what the API binds)",
            path.display()
        );
    }
    let store = open_store_at(&dir, &location, false).await?;
    store.verify_master_key().await.context(
        "the master key does not open this store's secrets: use the master.key (or LIVECERT_MASTER_KEY) the store was created with",
    )?;
    let edge = Edge::load(store)
        .await?
        .with_default_origin(options.default_origin)
        .with_acme_webroot(options.acme_webroot)
        .with_default_certificate(default_cert)?
        .with_first_byte_timeout(options.first_byte_timeout);
    let listener = bind(options.listen).await?;
    let http_listener = match options.http_listen {
        Some(addr) => Some(bind_http(addr).await?),
        None => None,
    };
    let (stop, stopped) = watch::channel(false);
    let http = http_listener.map(|http_listener| {
        let mut stopped = stopped.clone();
        tokio::spawn(edge.clone().serve_http(http_listener, async move {
            let _ = stopped.wait_for(|s| *s).await;
        }))
    });
    let metrics = match options.metrics_listen {
        Some(addr) => {
            let metrics_listener = bind_metrics(addr).await?;
            let mut stopped = stopped.clone();
            Some(tokio::spawn(edge.clone().serve_metrics(
                metrics_listener,
                async move {
                    let _ = stopped.wait_for(|s| *s).await;
                },
            )))
        }
        None => None,
    };
    drop(stopped);
    println!("livecert edge listening on {}", listener.local_addr()?);
    edge.serve(listener, async move {
        shutdown.await;
        let _ = stop.send(true);
    })
    .await?;
    if let Some(task) = metrics {
        let _ = task.await;
    }
    if let Some(task) = http {
        let _ = task.await;
    }
    info!("livecert edge stopped");
    Ok(())
}

/// Checks `--acme-webroot`: it needs the plain-HTTP port (`http_listen`) and must be a
/// directory.
/// Errors: either is not so.
pub fn check_acme_webroot(webroot: Option<&Path>, http_listen: bool) -> anyhow::Result<()> {
    let Some(webroot) = webroot else {
        return Ok(());
    };
    anyhow::ensure!(
        http_listen,
        "--acme-webroot needs --edge-http-listen: ACME HTTP-01 challenges arrive over plain HTTP"
    );
    anyhow::ensure!(
        webroot.is_dir(),
        "--acme-webroot {}: not a directory (the ACME client writes .well-known/acme-challenge/<token> under it)",
        webroot.display()
    );
    Ok(())
}

/// Loads `--default-cert`/`--default-key` (checked to match) when given.
/// Errors: as [`crate::tlsfiles::certified_key`].
pub fn default_certificate(
    files: Option<&(PathBuf, PathBuf)>,
) -> anyhow::Result<Option<Arc<CertifiedKey>>> {
    files
        .map(|(cert, key)| {
            crate::tlsfiles::certified_key(cert, key).context("--default-cert and --default-key")
        })
        .transpose()
}

/// Binds the metrics port (`--metrics-listen`) and logs it.
/// Errors: the address cannot be bound.
pub async fn bind_metrics(listen: SocketAddr) -> anyhow::Result<TcpListener> {
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding the edge's metrics to {listen}"))?;
    info!(listen = %listener.local_addr()?, "livecert edge metrics listening");
    Ok(listener)
}

/// Binds the edge's plain-HTTP port (`--edge-http-listen`) and logs it.
/// Errors: the address cannot be bound.
pub async fn bind_http(listen: SocketAddr) -> anyhow::Result<TcpListener> {
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding the edge's plain HTTP to {listen}"))?;
    info!(listen = %listener.local_addr()?, "livecert edge plain HTTP listening");
    Ok(listener)
}

/// Binds the edge's port and logs it with the map's size.
/// Errors: the address cannot be bound.
pub async fn bind(listen: SocketAddr) -> anyhow::Result<TcpListener> {
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding the edge to {listen}"))?;
    info!(listen = %listener.local_addr()?, "livecert edge listening");
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::check_acme_webroot;

    #[test]
    fn an_acme_webroot_needs_the_plain_http_port_and_a_directory() {
        let dir = tempfile::tempdir().expect("dir");
        assert!(check_acme_webroot(None, false).is_ok());
        assert!(check_acme_webroot(Some(dir.path()), true).is_ok());
        let without_port = check_acme_webroot(Some(dir.path()), false).expect_err("no port");
        assert!(without_port.to_string().contains("--edge-http-listen"));
        let missing = dir.path().join("missing");
        let not_dir = check_acme_webroot(Some(&missing), true).expect_err("missing");
        assert!(not_dir.to_string().contains("not a directory"));
    }
}
