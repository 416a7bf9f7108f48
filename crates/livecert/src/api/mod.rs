//! The HTTP API: the RPC protocol of spec/protocol.md in front of the operations of
//! spec/operations.md.
//!
//! A request flows: listener → [`handle`] (method, path, size limit, RequestId) → parameters
//! (query ∪ form body) and scheme, action, version ([`livecert_core::protocol::prepare`]) →
//! AccessKey → timestamp → signature → nonce → the operation's typed parse → account status
//! (state-changing operations) → its handler ([`ops`]) → one store transaction → render
//! ([`render`]). Every failure is one [`ApiError`] rendered in one place; its cause is logged once
//! with the RequestId.

mod answer;
pub mod nonce;
pub mod ops;
pub mod ratelimit;
pub mod render;

use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use http::{Method, Request, Response};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use livecert_core::action::{Action, RamResource};
use livecert_core::error::{ApiError, ErrorCode};
use livecert_core::names::DomainName;
use livecert_core::params::Params;
use livecert_core::protocol::{self, Format, HttpRequest};
use livecert_core::ram::{self, AccessDeniedDetail, Policy, RequestContext};
use livecert_store::{
    AccessKeyEntry, AccountId, AuditEntry, CallAudit, Principal, Store, StoreError,
};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::net::TcpListener;
use tracing::{debug, info, warn};

use crate::clock::Clock;
use crate::listener::{Listener, Replay, FIRST_BYTE_TIMEOUT, IDLE_TIMEOUT, TLS_HANDSHAKE_TIMEOUT};
pub use answer::Answer;
use nonce::{NonceEntry, NonceRefusal, Nonces};
use ratelimit::{RateLimiter, RateRefusal};
use render::ErrorDocs;

/// Largest form body in bytes (protocol.md §1); larger → 413 `RequestEntityTooLarge`.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Time a client has to send a request's headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Time a client has to send a request's body once its headers arrived.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(60);
/// Largest HTTP/2 header list (request target and headers), in bytes.
pub const MAX_H2_HEADER_LIST_BYTES: u32 = 128 * 1024;

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
    /// Issues certificates for `CertType=free` (the built-in test CA).
    pub issuer: Arc<dyn crate::issuer::Issuer>,
}

impl AppState {
    /// The API's metrics in the Prometheus text format (`GET /metrics`): nonce-store entries
    /// (protocol.md §5: bounded, refuses when full; only for the in-memory store — PostgreSQL's
    /// are rows of the `nonces` table), throttled calls, dropped audit entries.
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
             livecert_audit_dropped_total {}\n",
            self.throttled.load(Ordering::Relaxed),
            self.store.audit_dropped(),
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

/// Who is calling, established by the signature check.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The caller's account.
    pub account_id: AccountId,
    /// The AccessKeyId that signed the call.
    pub access_key_id: String,
    /// Whether the account is active (suspended accounts may only read).
    pub account_active: bool,
    /// This request's id.
    pub request_id: String,
    /// The clock's now for this request, Unix seconds.
    pub now: i64,
    /// The operation called.
    pub action: Action,
    /// Who the key acts as.
    pub principal: Principal,
    /// The user's policies, parsed (empty for root credentials).
    pub policies: Arc<Vec<Arc<Policy>>>,
    /// A temporary credential's session policy, which narrows the user's own.
    pub session_policy: Option<Arc<Vec<Arc<Policy>>>>,
    /// Whether the key is a temporary (STS) credential.
    pub temporary: bool,
    /// The client's address (`acs:SourceIp`).
    pub source_ip: IpAddr,
    /// Whether the request came over TLS (`acs:SecureTransport`).
    pub secure_transport: bool,
}

impl Caller {
    /// The steps after an operation's typed parse (protocol.md §8, "RAM on the parsed resource →
    /// account status"), which every handler runs first: RAM ([`Caller::ram`]), then, for an
    /// operation the action table marks state-changing, the account status (operations.md row 6).
    /// Errors: `Forbidden.RAM` with `AccessDeniedDetail`; `AuthenticationFailed` for a suspended
    /// account.
    pub fn authorize(&self, domain: Option<&DomainName>) -> Result<(), Failure> {
        self.ram(domain)?;
        if self.action.is_state_changing() {
            self.require_active_account()?;
        }
        Ok(())
    }

    /// The RAM step (access.md): root credentials may do anything on their own account's
    /// resources; a RAM user needs an Allow and no Deny in its policies for the operation on
    /// `domain` (or on `*` for operations without a resource), and temporary credentials also in
    /// their session policy. Errors: `Forbidden.RAM` with `AccessDeniedDetail`.
    fn ram(&self, domain: Option<&DomainName>) -> Result<(), Failure> {
        let Principal::User { user_name, .. } = &self.principal else {
            return Ok(());
        };
        let resource = match (self.action.ram_resource(), domain) {
            (RamResource::Domain, Some(d)) => ram::resource_for_domain(self.account_id, d.as_str()),
            _ => "*".to_owned(),
        };
        let ram_action = self.action.ram_action();
        let ctx = RequestContext {
            action: &ram_action,
            resource: &resource,
            source_ip: Some(self.source_ip),
            secure_transport: self.secure_transport,
            current_time: self.now,
            extra_keys: &[],
        };
        let refs: Vec<&Policy> = self.policies.iter().map(AsRef::as_ref).collect();
        let mut decision = ram::evaluate(&refs, &ctx);
        let mut policy_type = "AccountLevelIdentityBasedPolicy";
        if decision.is_allowed() {
            if let Some(session) = &self.session_policy {
                let refs: Vec<&Policy> = session.iter().map(AsRef::as_ref).collect();
                decision = ram::evaluate(&refs, &ctx);
                policy_type = "SessionPolicy";
            }
        }
        if decision.is_allowed() {
            return Ok(());
        }
        let detail = AccessDeniedDetail {
            auth_action: ram_action.clone(),
            auth_principal_type: if self.temporary {
                "AssumedRoleUser"
            } else {
                "SubUser"
            }
            .to_owned(),
            auth_principal_display_name: user_name.clone(),
            auth_principal_owner_id: self.account_id.to_string(),
            no_permission_type: decision
                .no_permission_type()
                .unwrap_or("ImplicitDeny")
                .to_owned(),
            policy_type: policy_type.to_owned(),
        };
        let mut failure = Failure::from(ApiError::new(
            ErrorCode::ForbiddenRam,
            format!("{user_name} may not call {ram_action} on {resource}; ask the account owner for a policy that allows it."),
        ));
        failure.access_denied_detail = Some(Box::new(
            detail
                .wire_fields()
                .into_iter()
                .map(|(k, v)| (k.to_owned(), Value::String(v)))
                .collect(),
        ));
        Err(failure)
    }

    /// The account-status step for state-changing operations (operations.md row 6):
    /// `AuthenticationFailed` when the operator suspended the account.
    fn require_active_account(&self) -> Result<(), Failure> {
        if self.account_active {
            Ok(())
        } else {
            Err(ApiError::new(
                ErrorCode::AuthenticationFailed,
                "The account is suspended by the operator; state-changing calls are refused until it is resumed.",
            )
            .into())
        }
    }
}

/// A refused call: what the client sees, and the cause for the log (never sent).
#[derive(Debug)]
pub struct Failure {
    /// What the client sees.
    pub error: ApiError,
    /// The cause, for the log.
    pub cause: Option<String>,
    /// For `Throttling.User`: milliseconds until a call would be allowed (`x-acs-retry-after`).
    pub retry_after_ms: Option<u64>,
    /// For `Forbidden.RAM`: the `AccessDeniedDetail` object (access.md).
    pub access_denied_detail: Option<Box<Map<String, Value>>>,
}

impl From<ApiError> for Failure {
    fn from(error: ApiError) -> Self {
        Self {
            error,
            cause: None,
            retry_after_ms: None,
            access_denied_detail: None,
        }
    }
}

impl Failure {
    /// A failure with a cause for the log.
    pub fn with_cause(error: ApiError, cause: impl Into<String>) -> Self {
        Self {
            error,
            cause: Some(cause.into()),
            retry_after_ms: None,
            access_denied_detail: None,
        }
    }

    /// A failed write of an operation that documents a storage code (rows 14 and 27:
    /// `DeleteFailed`, `CertStorage.failed`): that code, saying that the store refused the write
    /// and `what_remains`; `ServiceUnavailable` when the store cannot be reached at all. The cause
    /// goes to the log. With [`Failure::store`], the one mapping of store errors to API errors.
    pub fn storage(code: ErrorCode, e: &StoreError, what_remains: &str) -> Self {
        match e {
            StoreError::Unavailable(_) => Self::store(e),
            StoreError::Failed(_) | StoreError::Secret(_) => Self::with_cause(
                ApiError::new(
                    code,
                    format!("The store refused the write; {what_remains}. Try again later."),
                ),
                e.to_string(),
            ),
        }
    }

    /// A store failure outside any operation-specific mapping: `ServiceUnavailable` when the store
    /// is unreachable, `InternalError` otherwise.
    pub fn store(e: &StoreError) -> Self {
        let code = match e {
            StoreError::Unavailable(_) => ErrorCode::ServiceUnavailable,
            StoreError::Failed(_) | StoreError::Secret(_) => ErrorCode::InternalError,
        };
        Self::with_cause(ApiError::bare(code), e.to_string())
    }
}

/// What a handler returns: the response fields after `RequestId`.
pub type OpResult = Result<Map<String, Value>, Failure>;

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
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("--tls-cert and --tls-key")?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Marks a request that arrived over TLS (a request extension set by [`serve_with`]).
#[derive(Debug, Clone, Copy)]
struct SecureTransport;

/// Answers one HTTP request. Never fails: every outcome is a response.
pub async fn handle(
    state: Arc<AppState>,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let started = Instant::now();
    let request_id = uuid::Uuid::new_v4().to_string().to_uppercase();
    // RFC 9112 §3.2 / RFC 9113 §8.3.1: exactly one valid host, else 400; a rejected value is
    // never echoed as HostId.
    let host = crate::host::request_host(&req);
    let request_host = host
        .as_ref()
        .map(|h| h.as_str().to_owned())
        .unwrap_or_default();
    let docs_base = state.config.error_docs.base_for(
        &request_host,
        req.extensions().get::<SecureTransport>().is_some(),
    );
    let host_id = state.config.host_id.clone().unwrap_or(request_host);
    let path = req.uri().path();
    if (path == "/healthz" || path == "/metrics") && req.method() == Method::GET {
        if let Err(e) = &host {
            let mut refused = Response::new(Full::new(Bytes::from(format!("livecert: {e}\n"))));
            *refused.status_mut() = http::StatusCode::BAD_REQUEST;
            refused.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("text/plain"),
            );
            return Ok(refused);
        }
    }
    if req.uri().path() == "/healthz" && req.method() == Method::GET {
        let mut ok = Response::new(Full::new(Bytes::from_static(b"ok")));
        ok.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/plain"),
        );
        return Ok(ok);
    }
    if path == render::ERRORS_DOC_PATH && req.method() == Method::GET {
        let mut doc = Response::new(Full::new(Bytes::from_static(render::ERRORS_DOC.as_bytes())));
        doc.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/markdown; charset=utf-8"),
        );
        return Ok(doc);
    }
    if req.uri().path() == "/metrics" && req.method() == Method::GET {
        let mut metrics = Response::new(Full::new(Bytes::from(state.metrics_text())));
        metrics.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/plain; version=0.0.4"),
        );
        return Ok(metrics);
    }

    let read = match host {
        Ok(_) => read_request(req).await,
        Err(e) => Err(host_error(e)),
    };
    let (outcome, action, access_key_id) = match read {
        Err(error) => (Err((Failure::from(error), Format::Json)), None, None),
        Ok(raw) => {
            let call = call(&state, peer, &raw, &request_id).await;
            (call.outcome, call.action, call.access_key_id)
        }
    };

    let action_name = action.map_or("-", Action::wire_name);
    let elapsed_us = started.elapsed().as_micros();
    let response = match outcome {
        Ok((fields, format)) => {
            info!(request_id = %request_id, action = action_name, access_key_id = access_key_id.as_deref().unwrap_or("-"), peer = %peer, code = "OK", elapsed_us, "call");
            render::success(action_name, &request_id, fields, format)
        }
        Err((failure, format)) => {
            let code = failure.error.code.code();
            match &failure.cause {
                Some(cause) => {
                    warn!(request_id = %request_id, action = action_name, access_key_id = access_key_id.as_deref().unwrap_or("-"), peer = %peer, code, cause = %cause, elapsed_us, "call failed");
                }
                None => {
                    info!(request_id = %request_id, action = action_name, access_key_id = access_key_id.as_deref().unwrap_or("-"), peer = %peer, code, elapsed_us, "call refused");
                }
            }
            let mut response = render::error(
                &failure.error,
                &request_id,
                &host_id,
                &docs_base,
                format,
                failure.access_denied_detail.as_deref(),
            );
            if let Some(ms) = failure.retry_after_ms {
                response
                    .headers_mut()
                    .insert("x-acs-retry-after", http::HeaderValue::from(ms));
            }
            response
        }
    };
    Ok(response)
}

/// The API's error for a request without exactly one valid host (RFC 9112 §3.2, RFC 9113
/// §8.3.1): `MissingParameter` (Host) when there is none, else `InvalidParameter` (Host) saying
/// what is wrong, never the value.
fn host_error(e: crate::host::HostError) -> ApiError {
    use crate::host::HostError;
    let detail = match e {
        HostError::Missing => return ApiError::missing("Host"),
        HostError::Duplicate => "Send exactly one Host header line.",
        HostError::Invalid => "Send the endpoint's host[:port] as Host, without userinfo or path.",
        HostError::InvalidAuthority => {
            "The request target's authority must be host[:port], without userinfo."
        }
        HostError::Mismatch => "The Host header must name the same host and port as :authority.",
    };
    ApiError::invalid("Host", detail)
}

/// An HTTP request read whole, within the bounds of protocol.md §1.
struct RawRequest {
    method: String,
    raw_query: Vec<u8>,
    headers: Vec<(String, Vec<u8>)>,
    body: Bytes,
    /// It arrived over TLS (`acs:SecureTransport`).
    secure_transport: bool,
}

/// Method, path and size checks, then the body read with a bound.
async fn read_request(req: Request<Incoming>) -> Result<RawRequest, ApiError> {
    let method = req.method().clone();
    let secure_transport = req.extensions().get::<SecureTransport>().is_some();
    if method != Method::GET && method != Method::POST {
        return Err(ApiError::new(
            ErrorCode::UnsupportedHttpMethod,
            format!("{method} is not supported; use GET or POST."),
        ));
    }
    if req.uri().path() != "/" {
        return Err(ApiError::new(
            ErrorCode::InvalidActionNotFound,
            "The API is served at the path \"/\".",
        ));
    }
    let declared = req
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let too_large = || {
        ApiError::new(
            ErrorCode::RequestEntityTooLarge,
            format!("The limit is {MAX_BODY_BYTES} bytes; send SSLPub and SSLPri without extra content."),
        )
    };
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    let raw_query = req.uri().query().unwrap_or("").as_bytes().to_vec();
    let mut headers: Vec<(String, Vec<u8>)> = req
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_ascii_lowercase(), v.as_bytes().to_vec()))
        .collect();
    // HTTP/2 carries the host in `:authority`; V3 signs it as `host`.
    if !headers.iter().any(|(k, _)| k == "host") {
        if let Some(authority) = req.uri().authority() {
            headers.push(("host".to_owned(), authority.as_str().as_bytes().to_vec()));
        }
    }
    let read = tokio::time::timeout(
        BODY_READ_TIMEOUT,
        Limited::new(req.into_body(), MAX_BODY_BYTES).collect(),
    );
    let Ok(read) = read.await else {
        return Err(ApiError::invalid(
            "body",
            format!(
                "The request body did not arrive within {} s.",
                BODY_READ_TIMEOUT.as_secs()
            ),
        ));
    };
    let body = match read {
        Ok(collected) => collected.to_bytes(),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            return Err(too_large())
        }
        Err(e) => {
            return Err(ApiError::invalid(
                "body",
                format!("The request body could not be read ({e})."),
            ));
        }
    };
    Ok(RawRequest {
        method: method.as_str().to_owned(),
        raw_query,
        headers,
        body,
        secure_transport,
    })
}

struct CallOutcome {
    outcome: Result<(Map<String, Value>, Format), (Failure, Format)>,
    action: Option<Action>,
    access_key_id: Option<String>,
}

/// The protocol steps of protocol.md §8 and the operation.
async fn call(
    state: &AppState,
    peer: SocketAddr,
    raw: &RawRequest,
    request_id: &str,
) -> CallOutcome {
    let req = HttpRequest {
        method: &raw.method,
        path: "/",
        raw_query: &raw.raw_query,
        headers: &raw.headers,
        body: &raw.body,
    };
    let prepared = match protocol::prepare(&req) {
        Ok(p) => p,
        Err(rejected) => {
            return CallOutcome {
                outcome: Err((rejected.error.into(), rejected.format)),
                action: None,
                access_key_id: None,
            };
        }
    };
    let format = prepared.format;
    let action = prepared.action;
    let access_key_id = prepared.access_key_id.clone();
    let peer = Peer {
        addr: peer,
        secure_transport: raw.secure_transport,
    };
    let outcome = authenticate_and_run(state, peer, &req, &prepared, request_id)
        .await
        .map_err(|f| (f, format))
        .map(|m| (m, format));
    CallOutcome {
        outcome,
        action: Some(action),
        access_key_id: Some(access_key_id),
    }
}

async fn authenticate_and_run(
    state: &AppState,
    peer: Peer,
    req: &HttpRequest<'_>,
    prepared: &protocol::Prepared,
    request_id: &str,
) -> OpResult {
    let key = state
        .store
        .access_key(&prepared.access_key_id)
        .await
        .map_err(|e| {
            Failure::with_cause(ApiError::bare(ErrorCode::ServiceUnavailable), e.to_string())
        })?
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidAccessKeyIdNotFound,
                "Check ALIBABA_CLOUD_ACCESS_KEY_ID.",
            )
        })?;
    if !key.active {
        return Err(ApiError::new(
            ErrorCode::InvalidAccessKeyIdInactive,
            "Enable the key or use another one.",
        )
        .into());
    }
    let now = state.clock.now();
    let timestamp = protocol::check_timestamp(&prepared.timestamp, now)?;
    protocol::verify(req, prepared, &key.secret)?;
    let run = run_verified(state, peer, prepared, request_id, &key, timestamp, now);
    if !prepared.action.is_state_changing() {
        return run.await;
    }
    // The signature verified: a state-changing call is audited whatever its outcome (access.md,
    // "Audit"), except a throttled one, which is only counted. A call whose change committed has
    // its entry written in the same transaction (`CallAudit`); any other is queued here.
    let call_audit = CallAudit::new(audit_entry(&key, peer.addr, request_id, now, prepared));
    let result = call_audit.scope(run).await;
    let throttled = result
        .as_ref()
        .is_err_and(|f| f.error.code == ErrorCode::ThrottlingUser);
    if !throttled && !call_audit.written() {
        let outcome = match &result {
            Ok(_) => "OK",
            Err(f) => f.error.code.code(),
        };
        state
            .store
            .record_audit(call_audit.entry().answered(outcome));
    }
    result
}

/// The steps after the signature: SecurityToken, nonce, rate limit, then the operation.
async fn run_verified(
    state: &AppState,
    peer: Peer,
    prepared: &protocol::Prepared,
    request_id: &str,
    key: &AccessKeyEntry,
    timestamp: i64,
    now: i64,
) -> OpResult {
    check_security_token(key, prepared.security_token.as_deref(), now)?;
    // A call this node already knows the quota refuses is refused before it costs a nonce entry
    // or a trip to a shared store.
    if let Err(refusal) =
        state
            .limiter
            .precheck(key.account_id, prepared.action, state.clock.now_millis())
    {
        return Err(throttled(state, key.account_id, prepared.action, refusal));
    }
    let nonce = NonceEntry::new(
        key.account_id,
        &key.access_key_id,
        &prepared.nonce,
        timestamp,
        now,
    );
    match state.nonces.check_and_record(&nonce, now).await {
        Ok(()) => {}
        Err(NonceRefusal::Used) => {
            return Err(ApiError::new(
                ErrorCode::SignatureNonceUsed,
                "Send a new SignatureNonce with every request.",
            )
            .into());
        }
        Err(NonceRefusal::AccountFull {
            per_account,
            retry_after_secs,
        }) => {
            let retry_after_ms = retry_after_secs.saturating_mul(1000);
            let mut failure = Failure::from(ApiError::new(
                ErrorCode::ThrottlingUser,
                format!(
                    "This account has sent {per_account} calls inside the {}-minute replay window, \
                     the most livecert remembers for one account; retry after {retry_after_ms} ms.",
                    livecert_core::protocol::CLOCK_WINDOW_SECS / 60
                ),
            ));
            failure.retry_after_ms = Some(retry_after_ms);
            count_throttled(state, key.account_id, prepared.action);
            return Err(failure);
        }
        Err(NonceRefusal::Unavailable(cause)) => {
            return Err(Failure::with_cause(
                ApiError::bare(ErrorCode::ServiceUnavailable),
                cause,
            ));
        }
    }
    match state
        .limiter
        .check(key.account_id, prepared.action, state.clock.now_millis())
        .await
    {
        Ok(()) => {}
        Err(refusal) => {
            // A throttled (or undecided) call changed nothing: its nonce is forgotten, so that an
            // account's entries are bounded by the calls its quotas admit (the request may be
            // sent again).
            state.nonces.forget(&nonce).await;
            return Err(throttled(state, key.account_id, prepared.action, refusal));
        }
    }
    let caller = Caller {
        account_id: key.account_id,
        access_key_id: key.access_key_id.clone(),
        account_active: key.account_active,
        request_id: request_id.to_owned(),
        now,
        action: prepared.action,
        principal: key.principal.clone(),
        policies: state.policy_cache.parsed(&key.policies),
        session_policy: key
            .sts
            .as_ref()
            .and_then(|sts| sts.session_policy.as_ref())
            .map(|doc| state.policy_cache.parsed(std::slice::from_ref(doc))),
        temporary: key.sts.is_some(),
        source_ip: peer.addr.ip(),
        secure_transport: peer.secure_transport,
    };
    dispatch(state, &caller, prepared.action, &prepared.params).await
}

/// The `Throttling.User` answer to a call the rate limiter refused (`x-acs-retry-after`), counted;
/// only 1 in 100 is logged (access.md, "Audit": throttled calls are counted, not audited). A
/// limiter that could not decide is `ServiceUnavailable`.
fn throttled(
    state: &AppState,
    account_id: AccountId,
    action: Action,
    refusal: RateRefusal,
) -> Failure {
    let (retry_after_ms, per_second) = match refusal {
        RateRefusal::Throttled {
            retry_after_ms,
            per_second,
        } => (retry_after_ms, per_second),
        RateRefusal::Unavailable(cause) => {
            return Failure::with_cause(ApiError::bare(ErrorCode::ServiceUnavailable), cause);
        }
    };
    let mut failure = Failure::from(ApiError::new(
        ErrorCode::ThrottlingUser,
        format!("{action} allows {per_second} calls per second per account; retry after {retry_after_ms} ms."),
    ));
    failure.retry_after_ms = Some(retry_after_ms);
    count_throttled(state, account_id, action);
    failure
}

/// Counts a throttled call; only 1 in 100 is logged.
fn count_throttled(state: &AppState, account_id: AccountId, action: Action) {
    let n = state
        .throttled
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if n.is_multiple_of(100) {
        warn!(account = account_id, action = %action, throttled_total = n + 1, "calls throttled (1 in 100 logged)");
    }
}

/// Where a call came from: the peer's address and whether it arrived over TLS.
#[derive(Debug, Clone, Copy)]
struct Peer {
    addr: SocketAddr,
    secure_transport: bool,
}

/// Temporary credentials (access.md): an `STS.` key needs the SecurityToken it was issued with,
/// before its expiry; a permanent key takes none.
fn check_security_token(
    key: &AccessKeyEntry,
    token: Option<&str>,
    now: i64,
) -> Result<(), Failure> {
    let token = token.filter(|t| !t.is_empty());
    match (&key.sts, token) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(ApiError::new(
            ErrorCode::InvalidSecurityTokenMalformed,
            "This AccessKey is not a temporary credential; send no SecurityToken with it.",
        )
        .into()),
        (Some(_), None) => Err(ApiError::new(
            ErrorCode::InvalidSecurityTokenMalformed,
            "Temporary credentials need their SecurityToken: send it (SecurityToken, or the x-acs-security-token header).",
        )
        .into()),
        (Some(sts), Some(token)) => {
            let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
            if !bool::from(digest.ct_eq(&sts.token_sha256)) {
                return Err(ApiError::new(
                    ErrorCode::InvalidSecurityTokenMalformed,
                    "The SecurityToken is not the one issued with this AccessKeyId.",
                )
                .into());
            }
            if sts.expires_at <= now {
                return Err(ApiError::new(
                    ErrorCode::InvalidSecurityTokenExpired,
                    format!(
                        "The temporary credentials expired at {}; issue new ones.",
                        livecert_core::timefmt::format_utc(sts.expires_at)
                    ),
                )
                .into());
            }
            Ok(())
        }
    }
}

/// The audit entry of a state-changing call whose signature verified (access.md, "Audit"), its
/// outcome still to be filled in: never a parameter that carries a secret. The domain is recorded
/// as livecert names it (lower case, `*.` form) when it parses, so that one domain has one
/// spelling in the log.
fn audit_entry(
    key: &AccessKeyEntry,
    peer: SocketAddr,
    request_id: &str,
    now: i64,
    prepared: &protocol::Prepared,
) -> AuditEntry {
    let text = |name: &str| {
        prepared
            .params
            .non_empty_text(name)
            .ok()
            .flatten()
            .map(|v| v.chars().take(256).collect::<String>())
    };
    let domain = text("DomainName")
        .map(|d| DomainName::parse(&d).map_or(d, |parsed| parsed.as_str().to_owned()));
    AuditEntry {
        time: now,
        request_id: request_id.to_owned(),
        account_id: key.account_id,
        principal: key.principal.name().to_owned(),
        access_key_id: key.access_key_id.clone(),
        source_ip: peer.ip().to_string(),
        operation: prepared.action.wire_name().to_owned(),
        domain,
        cert_name: text("CertName"),
        cert_id: text("CertId").and_then(|v| v.parse().ok()),
        outcome: String::new(),
    }
}

/// One match from action to handler.
async fn dispatch(state: &AppState, caller: &Caller, action: Action, params: &Params) -> OpResult {
    match action {
        Action::AddLiveDomain => ops::add_live_domain::handle(state, caller, params).await,
        Action::DescribeLiveDomainDetail => {
            ops::describe_live_domain_detail::handle(state, caller, params).await
        }
        Action::SetLiveDomainCertificate => {
            ops::set_live_domain_certificate::handle(state, caller, params).await
        }
        Action::DescribeLiveDomainCertificateInfo => {
            ops::describe_live_domain_certificate_info::handle(state, caller, params).await
        }
        Action::DescribeLiveCertificateList => {
            ops::describe_live_certificate_list::handle(state, caller, params).await
        }
        Action::DescribeLiveCertificateDetail => {
            ops::describe_live_certificate_detail::handle(state, caller, params).await
        }
        Action::DeleteLiveDomain => ops::delete_live_domain::handle(state, caller, params).await,
        Action::StartLiveDomain => ops::start_live_domain::handle(state, caller, params).await,
        Action::StopLiveDomain => ops::stop_live_domain::handle(state, caller, params).await,
        Action::DescribeLiveUserDomains => {
            ops::describe_live_user_domains::handle(state, caller, params).await
        }
    }
}
