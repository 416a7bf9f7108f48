//! The request pipeline of protocol.md §8: [`handle`] answers one HTTP request — its host, method,
//! path and bounded body, then parameters and scheme, AccessKey, timestamp, signature,
//! SecurityToken, nonce and rate limit — and dispatches the call to its operation's handler
//! ([`super::ops`]); a state-changing call is audited. Every outcome is one response.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request, Response};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use livecert_core::action::Action;
use livecert_core::error::{ApiError, ErrorCode};
use livecert_core::names::DomainName;
use livecert_core::params::Params;
use livecert_core::protocol::{self, Format, HttpRequest};
use livecert_store::{AccessKeyEntry, AccountId, AuditEntry, CallAudit};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tracing::{info, warn};

use super::nonce::{NonceEntry, NonceRefusal};
use super::ratelimit::RateRefusal;
use super::render;
use super::server::SecureTransport;
use super::{ops, AppState, Caller, Failure, OpResult};

/// Largest form body in bytes (protocol.md §1); larger → 413 `RequestEntityTooLarge`.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Time a client has to send a request's body once its headers arrived.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(60);

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
        // CAS names the record `Name` (UploadUserCertificate).
        cert_name: text("CertName").or_else(|| match prepared.action.product() {
            livecert_core::action::Product::Cas => text("Name"),
            _ => None,
        }),
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
        Action::UploadUserCertificate => {
            ops::cas::upload_user_certificate::handle(state, caller, params).await
        }
        Action::GetUserCertificateDetail => {
            ops::cas::get_user_certificate_detail::handle(state, caller, params).await
        }
        Action::ListUserCertificateOrder => {
            ops::cas::list_user_certificate_order::handle(state, caller, params).await
        }
        Action::DeleteUserCertificate => {
            ops::cas::delete_user_certificate::handle(state, caller, params).await
        }
        Action::GetCallerIdentity => ops::get_caller_identity::handle(state, caller, params),
    }
}
