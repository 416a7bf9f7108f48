//! What every listener does with a connection before HTTP sees it: the API (plain or TLS), the
//! edge's TLS and plain-HTTP ports and the metrics port all accept through [`Listener`] and read
//! a connection's first bytes with [`first_bytes`].
//!
//! - **A connection that sends nothing is closed.** A client has [`FIRST_BYTE_TIMEOUT`] from
//!   accept to send its first byte (on a TLS port, its ClientHello: [`first_byte`]), a TLS client
//!   [`TLS_HANDSHAKE_TIMEOUT`] from accept to finish its handshake, and then again
//!   [`FIRST_BYTE_TIMEOUT`] to send the bytes that tell HTTP/1 from HTTP/2 (the first byte of an
//!   HTTP/1 request, or the whole 24-byte HTTP/2 preface). From there hyper's own timers take
//!   over (an HTTP/1 request's headers within 30 s). Without this, a connection that never sends
//!   a byte holds a file descriptor forever: hyper-util's HTTP/1-or-2 detection waits without a
//!   timer, and a thousand such sockets exhaust the default file limit.
//! - **A connection that moves nothing is closed.** Once HTTP runs, a connection that moves no
//!   byte either way for [`IDLE_TIMEOUT`] is closed ([`until_idle`], with the [`Activity`] of its
//!   [`Replay`]): an HTTP/2 connection that sent its preface and then nothing (hyper has no idle
//!   timeout for HTTP/2), or a client that stopped reading its response (its writes block), would
//!   otherwise hold a descriptor forever. HTTP/1's idle keep-alives end earlier, at hyper's 30 s
//!   header deadline.
//! - **accept() never spins.** When accept fails — most often `EMFILE`/`ENFILE`, the process or
//!   the system out of file descriptors, which leaves the pending connection in the kernel's
//!   queue and the listener readable — [`Listener::accept`] waits before it tries again, from
//!   [`ACCEPT_BACKOFF_MIN`] doubling to [`ACCEPT_BACKOFF_MAX`], and accepts again as soon as a
//!   descriptor is free (at most [`ACCEPT_BACKOFF_MAX`] later). The first failure of a run is
//!   logged as a warning, the others at debug level, and the first success after them at info.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tracing::{debug, info, warn};

/// How long a new connection has to send its first byte, and a TLS connection, once its
/// handshake is done, the first bytes of HTTP: long enough for a client on a slow link (a
/// ClientHello is one packet), short enough that a client holding sockets open without a word
/// costs a descriptor for seconds, not forever. `serve` and `edge` take a lower value for tests
/// (the hidden `--first-byte-timeout-ms`).
pub const FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a TLS client has, counted from accept, to complete its handshake (the API over TLS
/// and the edge alike).
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a connection serving HTTP may move no byte, read or written, before it is closed:
/// longer than any wait livecert itself imposes on a request (the edge waits 60 s for an origin's
/// response headers), so only a connection nobody uses is cut. `serve` and `edge` take it from
/// their settings (tests lower it).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(120);

/// The first wait after accept() failed.
pub const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(5);

/// The longest wait between two failed accept() calls: once descriptors are free again, a
/// listener accepts at most this much later.
pub const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// The HTTP/2 connection preface (RFC 9113 §3.4), whose bytes tell HTTP/2 from HTTP/1.
const H2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// A listening socket whose [`Listener::accept`] backs off instead of spinning when accept()
/// fails.
#[derive(Debug)]
pub struct Listener {
    inner: TcpListener,
    /// Names the listener in the log: `API`, `edge`, `edge HTTP`, `metrics`.
    name: &'static str,
    /// accept() failures since the last success.
    failures: u64,
    /// The last wait; zero after a success.
    backoff: Duration,
}

impl Listener {
    /// Wraps `inner`; `name` is logged with its accept failures.
    pub fn new(inner: TcpListener, name: &'static str) -> Self {
        Self {
            inner,
            name,
            failures: 0,
            backoff: Duration::ZERO,
        }
    }

    /// The next connection and its peer. Never fails: a failed accept() is logged and retried
    /// after a wait that doubles with each failure in a row ([`next_backoff`]). Cancel-safe (a
    /// `select!` branch may drop it at any await).
    pub async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        loop {
            match self.inner.accept().await {
                Ok(accepted) => {
                    if self.failures > 0 {
                        info!(
                            listener = self.name,
                            failed_accepts = self.failures,
                            "accepting connections again"
                        );
                        self.failures = 0;
                        self.backoff = Duration::ZERO;
                    }
                    return accepted;
                }
                Err(e) => {
                    self.failures += 1;
                    self.backoff = next_backoff(self.backoff);
                    if self.failures == 1 {
                        warn!(listener = self.name, error = %e, "accept failed; retrying, waiting up to {} ms between tries, until it succeeds", ACCEPT_BACKOFF_MAX.as_millis());
                    } else {
                        debug!(listener = self.name, error = %e, failures = self.failures, "accept failed again");
                    }
                    tokio::time::sleep(self.backoff).await;
                }
            }
        }
    }
}

/// The wait after one more failed accept(): [`ACCEPT_BACKOFF_MIN`], then twice the last, at most
/// [`ACCEPT_BACKOFF_MAX`].
pub fn next_backoff(last: Duration) -> Duration {
    if last.is_zero() {
        ACCEPT_BACKOFF_MIN
    } else {
        (last * 2).min(ACCEPT_BACKOFF_MAX)
    }
}

/// Waits at most `within` for the peer of `stream` to send its first byte, without reading it
/// (the TLS handshake reads it). `false`: nothing came in time, or the peer closed or reset the
/// connection first.
pub async fn first_byte(stream: &TcpStream, within: Duration) -> bool {
    let mut byte = [0u8; 1];
    matches!(
        tokio::time::timeout(within, stream.peek(&mut byte)).await,
        Ok(Ok(n)) if n > 0
    )
}

/// Reads, within `within`, the first bytes of HTTP on `stream`: enough to tell HTTP/1 from
/// HTTP/2 (one byte that departs from the HTTP/2 preface, or the whole preface), and gives back
/// the stream with those bytes replayed first.
/// Errors: `TimedOut` when they did not come in time, `UnexpectedEof` when the peer closed the
/// connection without sending a byte, or the read's own error.
pub async fn first_bytes<S>(mut stream: S, within: Duration) -> io::Result<Replay<S>>
where
    S: AsyncRead + Unpin,
{
    let mut buf = [0u8; H2_PREFACE.len()];
    let read = tokio::time::timeout(within, read_prefix(&mut stream, &mut buf)).await;
    match read {
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("no request within {} ms", within.as_millis()),
        )),
        Ok(Err(e)) => Err(e),
        Ok(Ok(0)) => Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "closed before sending a byte",
        )),
        Ok(Ok(n)) => Ok(Replay {
            prefix: Bytes::copy_from_slice(&buf[..n]),
            inner: stream,
            activity: Activity::new(),
        }),
    }
}

/// Reads into `buf` until a byte departs from the HTTP/2 preface, the whole preface is there, or
/// the peer closed its side; returns how many bytes were read.
async fn read_prefix<S>(stream: &mut S, buf: &mut [u8; H2_PREFACE.len()]) -> io::Result<usize>
where
    S: AsyncRead + Unpin,
{
    let mut filled = 0;
    while filled < buf.len() {
        let n = stream.read(&mut buf[filled..]).await?;
        if n == 0 {
            break;
        }
        filled += n;
        if buf[..filled] != H2_PREFACE[..filled] {
            break;
        }
    }
    Ok(filled)
}

/// A stream whose first reads return bytes already read from it ([`first_bytes`]); writes go
/// straight through. Every read or write that moves a byte is noted in its [`Activity`].
#[derive(Debug)]
pub struct Replay<S> {
    prefix: Bytes,
    inner: S,
    activity: Activity,
}

impl<S> Replay<S> {
    /// The wrapped stream.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// When this stream last moved a byte (a handle that stays valid after the stream moved into
    /// hyper).
    pub fn activity(&self) -> Activity {
        self.activity.clone()
    }
}

/// When a connection last moved a byte, read or written (shared between its stream and whoever
/// watches it).
#[derive(Debug, Clone)]
pub struct Activity {
    since: Instant,
    /// Milliseconds from `since` to the last byte moved.
    last_ms: Arc<AtomicU64>,
}

impl Activity {
    /// An activity whose last byte moved now.
    pub fn new() -> Self {
        Self {
            since: Instant::now(),
            last_ms: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Notes that a byte moved now.
    pub fn touch(&self) {
        let ms = u64::try_from(self.since.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    /// Completes once no byte has moved for `limit`.
    pub async fn idle(&self, limit: Duration) {
        loop {
            let last = self.since + Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
            let deadline = last + limit;
            if Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep_until(deadline).await;
        }
    }
}

impl Default for Activity {
    fn default() -> Self {
        Self::new()
    }
}

/// Runs `connection` until it ends, or until `activity` shows no byte moved for `idle`: then the
/// connection is dropped, which closes it. `None` when it was closed for being idle.
pub async fn until_idle<F: Future>(
    connection: F,
    activity: &Activity,
    idle: Duration,
) -> Option<F::Output> {
    tokio::select! {
        output = connection => Some(output),
        () = activity.idle(idle) => None,
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Replay<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.prefix.has_remaining() {
            let n = self.prefix.len().min(buf.remaining());
            buf.put_slice(&self.prefix[..n]);
            self.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let read = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        read
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Replay<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(written, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        written
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(written, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_accept_backoff_doubles_from_the_minimum_to_the_maximum() {
        let mut wait = Duration::ZERO;
        let mut waits = Vec::new();
        for _ in 0..12 {
            wait = next_backoff(wait);
            waits.push(wait.as_millis());
        }
        assert_eq!(
            waits,
            [5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000, 1000]
        );
    }

    /// Reads everything `replay` yields.
    async fn read_all<S: AsyncRead + Unpin>(mut replay: Replay<S>) -> Vec<u8> {
        let mut out = Vec::new();
        replay.read_to_end(&mut out).await.expect("read");
        out
    }

    #[tokio::test]
    async fn the_first_bytes_are_replayed_before_the_rest() {
        for request in [
            &b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"[..],
            &b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00"[..],
            &b"PUT / HTTP/1.1\r\n\r\n"[..],
        ] {
            let replay = first_bytes(request, Duration::from_secs(1))
                .await
                .expect("first bytes");
            assert_eq!(read_all(replay).await, request);
        }
    }

    #[tokio::test]
    async fn a_connection_is_dropped_once_it_moved_nothing_for_the_idle_timeout() {
        let (mut client, server) = tokio::io::duplex(1024);
        tokio::io::AsyncWriteExt::write_all(&mut client, b"GET / HTTP/1.1\r\n")
            .await
            .expect("write");
        let mut replay = first_bytes(server, Duration::from_secs(1))
            .await
            .expect("first bytes");
        let activity = replay.activity();
        let idle = Duration::from_millis(400);
        // A connection that keeps moving bytes is never idle: 8 reads 100 ms apart.
        let busy = async {
            let mut buf = [0u8; 64];
            for _ in 0..8 {
                let n = replay.read(&mut buf).await.expect("read");
                assert!(n > 0, "the client's bytes");
                tokio::time::sleep(Duration::from_millis(100)).await;
                tokio::io::AsyncWriteExt::write_all(&mut client, b"x")
                    .await
                    .expect("write");
            }
            "ended by itself"
        };
        assert_eq!(
            until_idle(busy, &activity, idle).await,
            Some("ended by itself")
        );
        // One that moves nothing is closed once the idle timeout has passed since its last byte.
        let started = Instant::now();
        assert_eq!(
            until_idle(std::future::pending::<()>(), &activity, idle).await,
            None
        );
        assert!(started.elapsed() < idle + Duration::from_secs(5));
    }

    #[tokio::test]
    async fn a_peer_that_sends_nothing_or_a_partial_preface_is_cut_off() {
        let (client, server) = tokio::io::duplex(64);
        let silent = first_bytes(server, Duration::from_millis(50)).await;
        assert_eq!(silent.expect_err("silent").kind(), io::ErrorKind::TimedOut);
        drop(client);

        let (mut client, server) = tokio::io::duplex(64);
        tokio::io::AsyncWriteExt::write_all(&mut client, b"PRI * HT")
            .await
            .expect("write");
        let partial = first_bytes(server, Duration::from_millis(50)).await;
        assert_eq!(
            partial.expect_err("partial preface").kind(),
            io::ErrorKind::TimedOut
        );

        let (client, server) = tokio::io::duplex(64);
        drop(client);
        let closed = first_bytes(server, Duration::from_secs(1)).await;
        assert_eq!(
            closed.expect_err("closed").kind(),
            io::ErrorKind::UnexpectedEof
        );
    }
}
