//! The API's listeners: [`serve`] and [`serve_with`] accept connections (plain or TLS, each
//! within its first-byte and handshake timeouts), serve HTTP/1.1 or HTTP/2 on each until it ends
//! or idles, and drain on shutdown; [`tls_config`] builds the API's rustls configuration.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use http::Request;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tracing::{debug, info, warn};

use super::{handle, AppState};
use crate::listener::{Listener, Replay, TLS_HANDSHAKE_TIMEOUT};

/// Time a client has to send a request's headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Largest HTTP/2 header list (request target and headers), in bytes.
pub const MAX_H2_HEADER_LIST_BYTES: u32 = 128 * 1024;

/// Serves the API on `listener` until `shutdown` completes, then lets open requests finish (up to
/// 10 s). Each connection speaks HTTP/1.1 or HTTP/2 (prior knowledge). Plain HTTP: every call has
/// `acs:SecureTransport` false.
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    serve_with(listener, state, None, shutdown).await
}

/// Serves the API as [`serve`] does, over TLS when `tls` is given (`serve --tls-cert --tls-key`):
/// each connection completes its handshake within [`TLS_HANDSHAKE_TIMEOUT`] of accept, then
/// speaks HTTP/1.1 or HTTP/2 as its first bytes say, and its calls have `acs:SecureTransport` true
/// (spec/access.md). Every connection, TLS or not, is closed when it sends no byte within the
/// configured first-byte timeout ([`ApiConfig::first_byte_timeout`], [`crate::listener`]).
///
/// [`ApiConfig::first_byte_timeout`]: super::ApiConfig::first_byte_timeout
pub async fn serve_with(
    listener: TcpListener,
    state: Arc<AppState>,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // A client has 30 s to send a request's headers (slow or stalled clients are dropped), and an
    // HTTP/2 request target may be as long as an HTTP/1.1 one (protocol.md §1: 65,534 bytes).
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(MAX_H2_HEADER_LIST_BYTES);
    let builder = Arc::new(builder);
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let first_byte_timeout = state.config.first_byte_timeout;
    let graceful = GracefulShutdown::new();
    let mut listener = Listener::new(listener, "API");
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            (stream, peer) = listener.accept() => {
                let _ = stream.set_nodelay(true);
                let state = Arc::clone(&state);
                let builder = Arc::clone(&builder);
                let acceptor = acceptor.clone();
                let watcher = graceful.watcher();
                tokio::spawn(async move {
                    let accepted_at = tokio::time::Instant::now();
                    let Some(acceptor) = acceptor else {
                        match crate::listener::first_bytes(stream, first_byte_timeout).await {
                            Ok(io) => serve_connection(&builder, io, state, peer, false, watcher).await,
                            Err(e) => debug!(peer = %peer, error = %e, "API connection closed before its first request"),
                        }
                        return;
                    };
                    if !crate::listener::first_byte(&stream, first_byte_timeout).await {
                        debug!(peer = %peer, "API TLS connection closed: no ClientHello in time");
                        return;
                    }
                    let handshake = tokio::time::timeout_at(accepted_at + TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream));
                    let stream = match handshake.await {
                        Ok(Ok(stream)) => stream,
                        Ok(Err(e)) => {
                            info!(peer = %peer, error = %e, "API TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            info!(peer = %peer, "API TLS handshake timed out");
                            return;
                        }
                    };
                    match crate::listener::first_bytes(stream, first_byte_timeout).await {
                        Ok(io) => serve_connection(&builder, io, state, peer, true, watcher).await,
                        Err(e) => debug!(peer = %peer, error = %e, "API TLS connection closed before its first request"),
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(Duration::from_secs(10)) => warn!("connections still open after 10 s; closing"),
    }
    Ok(())
}

/// Serves HTTP/1.1 or HTTP/2 on one accepted connection until it ends (or, after shutdown began,
/// until its open requests are answered), or until it moved no byte for the configured idle
/// timeout ([`ApiConfig::idle_timeout`]). `secure`: it arrived over TLS.
///
/// [`ApiConfig::idle_timeout`]: super::ApiConfig::idle_timeout
async fn serve_connection<I>(
    builder: &auto::Builder<TokioExecutor>,
    io: Replay<I>,
    state: Arc<AppState>,
    peer: SocketAddr,
    secure: bool,
    watcher: hyper_util::server::graceful::Watcher,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (activity, idle) = (io.activity(), state.config.idle_timeout);
    let service = service_fn(move |mut req: Request<Incoming>| {
        if secure {
            req.extensions_mut().insert(SecureTransport);
        }
        handle(Arc::clone(&state), peer, req)
    });
    let connection = builder
        .serve_connection(TokioIo::new(io), service)
        .into_owned();
    if crate::listener::until_idle(watcher.watch(connection), &activity, idle)
        .await
        .is_none()
    {
        debug!(peer = %peer, "API connection closed: no byte moved for {} s", idle.as_secs());
    }
}

/// The API's rustls configuration for `--tls-cert`/`--tls-key`: the chain and key of those PEM
/// files, TLS 1.2 and 1.3 with aws-lc-rs, ALPN `h2` then `http/1.1`.
/// Errors: a file that cannot be read, no certificate, a key that does not load or does not
/// match the certificate.
pub fn tls_config(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let (chain, key) = crate::tlsfiles::read(cert, key)?;
    config_for(chain, key).context("--tls-cert and --tls-key")
}

/// The API's rustls configuration for a chain and key held in memory (PEM): `serve
/// --official-hostnames`, whose certificate the data directory's CA issues at start.
/// Errors: no certificate, a key that does not load or does not match the certificate.
pub fn tls_config_from_pem(chain: &str, key: &str) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_slice_iter(chain.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .context("reading the issued chain")?;
    let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).context("reading the issued key")?;
    config_for(chain, key)
}

fn config_for(
    chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    key: rustls::pki_types::PrivateKeyDer<'static>,
) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Marks a request that arrived over TLS (a request extension set by [`serve_with`]).
#[derive(Debug, Clone, Copy)]
pub(super) struct SecureTransport;
