//! The edge's metrics (spec/edge.md, "Exposes metrics"), in the Prometheus text format on
//! `--metrics-listen` (off by default): handshakes by outcome, each served domain's
//! certificate notAfter, the map's size and build time, and the latency of the origins.
//!
//! The counters are atomics (relaxed: each is a tally, not a synchronisation point), so the
//! handshake and request paths never take a lock; the per-domain gauges are read from the current
//! map when the metrics are scraped.
//!
//! Handshake outcomes: `ok` (completed), `refused` (no SNI, or a name the map does not serve:
//! counted by the resolver, which runs once per handshake), `error` (every other failure: no
//! common protocol, a timeout, a broken client, a key that does not load). The accept path counts
//! completed and failed handshakes; `error` is failed minus refused.
//!
//! Requests whose body the client broke or sent too late are counted apart from the origins'
//! failures (`livecert_edge_client_body_errors_total`), so that no client can set off an
//! origin alert.
//!
//! Plain-HTTP requests (`--edge-http-listen`) by outcome: `forwarded`, `redirected` (308 to
//! HTTPS), `not_served` (every 404: a Host no domain serves, an ACME challenge nobody answers),
//! `acme_challenge` (an ACME HTTP-01 key authorization served from `--acme-webroot`),
//! `bad_request` (a 400 for a request without exactly one valid Host).

use std::convert::Infallible;
use std::fmt::Write as _;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{header, Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

use super::http::PlainOutcome;
use super::map::{CertMap, SharedMap};
use crate::listener::Listener;

/// Upper bounds of the upstream latency histogram's buckets, seconds.
const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The edge's counters. Shared by the accept loop, the resolver and the proxy.
#[derive(Debug, Default)]
pub struct Metrics {
    handshakes_ok: AtomicU64,
    handshakes_failed: AtomicU64,
    /// Shared with the resolver ([`super::map::SniResolver`]), which counts its refusals.
    refused: Arc<AtomicU64>,
    /// Requests answered by an origin: non-cumulative counts per bucket, the last one `+Inf`.
    latency_buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    latency_sum_micros: AtomicU64,
    /// Requests the edge answered 502/504 because the origin could not be reached in time.
    upstream_failures: AtomicU64,
    /// Requests whose body the client broke (malformed, cut short, reset) or did not send in
    /// time: answered 400/408, not the origin's failure.
    client_body_errors: AtomicU64,
    /// Requests on the plain-HTTP port, by [`PlainOutcome`] (in [`PLAIN_OUTCOMES`]'s order).
    plain_requests: [AtomicU64; PLAIN_OUTCOMES.len()],
}

/// The plain-HTTP port's outcomes with their label values, in the order they are rendered.
const PLAIN_OUTCOMES: [(PlainOutcome, &str); 5] = [
    (PlainOutcome::Forwarded, "forwarded"),
    (PlainOutcome::Redirected, "redirected"),
    (PlainOutcome::NotServed, "not_served"),
    (PlainOutcome::AcmeChallenge, "acme_challenge"),
    (PlainOutcome::BadRequest, "bad_request"),
];

impl Metrics {
    /// The counter the resolver increments on each refusal.
    pub fn refused_counter(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.refused)
    }

    /// A handshake completed.
    pub fn handshake_ok(&self) {
        self.handshakes_ok.fetch_add(1, Ordering::Relaxed);
    }

    /// A handshake failed (refusals included) or timed out.
    pub fn handshake_failed(&self) {
        self.handshakes_failed.fetch_add(1, Ordering::Relaxed);
    }

    /// An origin answered with its response headers after `elapsed`.
    pub fn upstream_answered(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let bucket = LATENCY_BUCKETS
            .iter()
            .position(|&le| seconds <= le)
            .unwrap_or(LATENCY_BUCKETS.len());
        self.latency_buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.latency_sum_micros.fetch_add(
            u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// An origin could not be reached, or did not answer in time.
    pub fn upstream_failed(&self) {
        self.upstream_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// A client's request body failed on its way to the origin, or did not arrive in time.
    pub fn client_body_error(&self) {
        self.client_body_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// A request on the plain-HTTP port was answered with `outcome`.
    pub fn plain_request(&self, outcome: PlainOutcome) {
        if let Some(i) = PLAIN_OUTCOMES.iter().position(|(o, _)| *o == outcome) {
            self.plain_requests[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The metrics in the Prometheus text format (version 0.0.4), with the gauges of `map`.
    pub fn render(&self, map: &CertMap) -> String {
        let mut out = String::with_capacity(1024 + 96 * map.len());
        let ok = self.handshakes_ok.load(Ordering::Relaxed);
        let failed = self.handshakes_failed.load(Ordering::Relaxed);
        let refused = self.refused.load(Ordering::Relaxed);
        out.push_str("# HELP livecert_edge_handshakes_total TLS handshakes by outcome.\n");
        out.push_str("# TYPE livecert_edge_handshakes_total counter\n");
        for (outcome, n) in [
            ("ok", ok),
            ("refused", refused),
            ("error", failed.saturating_sub(refused)),
        ] {
            let _ = writeln!(
                out,
                "livecert_edge_handshakes_total{{outcome=\"{outcome}\"}} {n}"
            );
        }

        out.push_str("# HELP livecert_edge_certificate_not_after_timestamp_seconds The notAfter of the certificate served for each domain, Unix seconds.\n");
        out.push_str("# TYPE livecert_edge_certificate_not_after_timestamp_seconds gauge\n");
        let mut entries: Vec<_> = map.entries().collect();
        entries.sort_unstable_by_key(|(domain, _)| *domain);
        for (domain, record) in entries
            .into_iter()
            .filter_map(|(domain, entry)| Some((domain, entry.record.as_ref()?)))
        {
            let _ = writeln!(
                out,
                "livecert_edge_certificate_not_after_timestamp_seconds{{domain=\"{}\"}} {}",
                escape_label(domain),
                record.not_after
            );
        }

        out.push_str("# HELP livecert_edge_map_domains Domains the edge serves over TLS.\n");
        out.push_str("# TYPE livecert_edge_map_domains gauge\n");
        let _ = writeln!(out, "livecert_edge_map_domains {}", map.served());
        out.push_str("# HELP livecert_edge_map_last_update_timestamp_seconds When the served map was last built, Unix seconds.\n");
        out.push_str("# TYPE livecert_edge_map_last_update_timestamp_seconds gauge\n");
        let _ = writeln!(
            out,
            "livecert_edge_map_last_update_timestamp_seconds {}",
            map.built_at()
        );
        out.push_str("# HELP livecert_edge_map_change_counter The store's change counter the served map reflects.\n");
        out.push_str("# TYPE livecert_edge_map_change_counter gauge\n");
        let _ = writeln!(
            out,
            "livecert_edge_map_change_counter {}",
            map.change_counter()
        );

        out.push_str("# HELP livecert_edge_upstream_duration_seconds Time from forwarding a request to the origin's response headers.\n");
        out.push_str("# TYPE livecert_edge_upstream_duration_seconds histogram\n");
        let mut cumulative = 0;
        for (i, bucket) in self.latency_buckets.iter().enumerate() {
            cumulative += bucket.load(Ordering::Relaxed);
            let le = LATENCY_BUCKETS
                .get(i)
                .map_or_else(|| "+Inf".to_owned(), ToString::to_string);
            let _ = writeln!(
                out,
                "livecert_edge_upstream_duration_seconds_bucket{{le=\"{le}\"}} {cumulative}"
            );
        }
        let sum = self.latency_sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "livecert_edge_upstream_duration_seconds_sum {sum}");
        let _ = writeln!(
            out,
            "livecert_edge_upstream_duration_seconds_count {cumulative}"
        );
        out.push_str("# HELP livecert_edge_upstream_failures_total Requests answered 502 or 504 because the origin could not be reached in time.\n");
        out.push_str("# TYPE livecert_edge_upstream_failures_total counter\n");
        let _ = writeln!(
            out,
            "livecert_edge_upstream_failures_total {}",
            self.upstream_failures.load(Ordering::Relaxed)
        );
        out.push_str("# HELP livecert_edge_client_body_errors_total Requests answered 400 or 408 because the client's body was malformed, cut short or late (never the origin's failure).\n");
        out.push_str("# TYPE livecert_edge_client_body_errors_total counter\n");
        let _ = writeln!(
            out,
            "livecert_edge_client_body_errors_total {}",
            self.client_body_errors.load(Ordering::Relaxed)
        );
        out.push_str("# HELP livecert_edge_http_requests_total Requests on the plain-HTTP port (--edge-http-listen) by outcome.\n");
        out.push_str("# TYPE livecert_edge_http_requests_total counter\n");
        for ((_, outcome), n) in PLAIN_OUTCOMES.iter().zip(&self.plain_requests) {
            let _ = writeln!(
                out,
                "livecert_edge_http_requests_total{{outcome=\"{outcome}\"}} {}",
                n.load(Ordering::Relaxed)
            );
        }
        out
    }
}

/// Serves `GET /metrics` (HTTP/1.1, plain) on `listener` until `shutdown` completes: `metrics`
/// with the gauges of the current `map`. Any other path is `404`, any other method `405`, a
/// request without exactly one valid Host `400` ([`crate::host`]). A
/// connection that sends no byte within `first_byte_timeout` is closed, and accept() failures
/// back off ([`crate::listener`]).
pub async fn serve(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    map: Arc<SharedMap>,
    first_byte_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let mut listener = Listener::new(listener, "metrics");
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            (stream, _) = listener.accept() => {
                let metrics = Arc::clone(&metrics);
                let map = Arc::clone(&map);
                tokio::spawn(async move {
                    let Ok(io) = crate::listener::first_bytes(stream, first_byte_timeout).await else {
                        return;
                    };
                    let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                        std::future::ready(Ok::<_, Infallible>(scrape(&metrics, &map.load(), &request)))
                    });
                    let activity = io.activity();
                    let connection = hyper::server::conn::http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(Duration::from_secs(10))
                        .serve_connection(TokioIo::new(io), service);
                    let _ = crate::listener::until_idle(connection, &activity, crate::listener::IDLE_TIMEOUT).await;
                });
            }
            () = &mut shutdown => break,
        }
    }
}

fn scrape<B>(metrics: &Metrics, map: &CertMap, request: &Request<B>) -> Response<Full<Bytes>> {
    let (status, body, content_type) = if let Err(e) = crate::host::request_host(request) {
        (
            StatusCode::BAD_REQUEST,
            format!("livecert edge: {e} (RFC 9112 §3.2)\n"),
            "text/plain; charset=utf-8",
        )
    } else if request.uri().path() != "/metrics" {
        (
            StatusCode::NOT_FOUND,
            "livecert edge: metrics are at /metrics\n".to_owned(),
            "text/plain; charset=utf-8",
        )
    } else if request.method() != Method::GET && request.method() != Method::HEAD {
        (
            StatusCode::METHOD_NOT_ALLOWED,
            "livecert edge: use GET\n".to_owned(),
            "text/plain; charset=utf-8",
        )
    } else {
        (
            StatusCode::OK,
            metrics.render(map),
            "text/plain; version=0.0.4; charset=utf-8",
        )
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    response
}

/// A label value as the text format writes it: `\`, `"` and newlines escaped.
fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_is_failed_minus_refused_the_histogram_is_cumulative_and_client_errors_are_apart() {
        let m = Metrics::default();
        m.handshake_ok();
        for _ in 0..3 {
            m.handshake_failed();
        }
        m.refused_counter().fetch_add(2, Ordering::Relaxed);
        m.upstream_answered(Duration::from_millis(3));
        m.upstream_answered(Duration::from_secs(60));
        m.plain_request(PlainOutcome::Redirected);
        m.plain_request(PlainOutcome::Redirected);
        m.plain_request(PlainOutcome::BadRequest);
        m.upstream_failed();
        m.client_body_error();
        m.client_body_error();
        let (master_key, _) = livecert_core::secret::MasterKey::generate().unwrap();
        let opener = livecert_store::CertKeyOpener::new(std::sync::Arc::new(master_key));
        let text = m.render(&CertMap::empty(opener));
        for line in [
            "livecert_edge_handshakes_total{outcome=\"ok\"} 1",
            "livecert_edge_handshakes_total{outcome=\"refused\"} 2",
            "livecert_edge_handshakes_total{outcome=\"error\"} 1",
            "livecert_edge_map_domains 0",
            "livecert_edge_upstream_duration_seconds_bucket{le=\"0.001\"} 0",
            "livecert_edge_upstream_duration_seconds_bucket{le=\"0.005\"} 1",
            "livecert_edge_upstream_duration_seconds_bucket{le=\"10\"} 1",
            "livecert_edge_upstream_duration_seconds_bucket{le=\"+Inf\"} 2",
            "livecert_edge_upstream_duration_seconds_count 2",
            "livecert_edge_upstream_duration_seconds_sum 60.003",
            "livecert_edge_http_requests_total{outcome=\"redirected\"} 2",
            "livecert_edge_http_requests_total{outcome=\"forwarded\"} 0",
            "livecert_edge_http_requests_total{outcome=\"bad_request\"} 1",
            "livecert_edge_upstream_failures_total 1",
            "livecert_edge_client_body_errors_total 2",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
