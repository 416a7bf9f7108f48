//! The audit log (spec/access.md, Audit): every state-changing call whose signature verified is
//! recorded, off the request path, in batches.
//!
//! [`Store::record_audit`] never waits: it puts the entry on a bounded in-memory queue
//! ([`QUEUE_CAPACITY`] entries) and returns; when the queue is full the entry is dropped and
//! counted ([`Store::audit_dropped`]) rather than making the caller wait. A flusher thread takes
//! entries off the queue and hands them to the backend's [`AuditSink`] whenever it holds
//! [`BATCH_SIZE`] entries or [`FLUSH_INTERVAL`] has passed since the first entry of the batch —
//! so a flood of calls from one account costs the others at most one extra insert per batch,
//! never a wait on a lock or a queue. With SQLite the sink is one write call of the store's writer
//! (it shares its group commit and its single write lock); with PostgreSQL it is one multi-row
//! `INSERT` in a transaction of its own (no write lock: audit rows never decide anything).
//! [`Store::flush_audit`] writes everything recorded before it and waits for the commit.
//!
//! When the last handle of a store is dropped, the flusher writes what is queued before it stops
//! (the drop waits for it), so entries recorded before a clean shutdown survive the restart.
//! A batch that cannot be written (after [`WRITE_TRIES`] tries) is logged and counted as dropped.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::{AccountId, Backend, Store, StoreError};

/// Entries the queue holds before new ones are dropped.
pub const QUEUE_CAPACITY: usize = 65_536;
/// Entries written in one batch at most.
pub const BATCH_SIZE: usize = 512;
/// The longest an entry waits in the queue before its batch is written.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(100);
/// Tries at writing one batch (the database may be busy with another process).
const WRITE_TRIES: usize = 3;

/// One audited call. Never carries a parameter that holds a secret (`SSLPri`, a signature, an
/// AccessKey secret, a SecurityToken).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Unix seconds when the call was answered.
    pub time: i64,
    /// The call's RequestId.
    pub request_id: String,
    /// The account the key acts for.
    pub account_id: AccountId,
    /// `root`, or the RAM user's name ([`crate::Principal::name`]).
    pub principal: String,
    /// The AccessKeyId that signed the call.
    pub access_key_id: String,
    /// The client's IP address.
    pub source_ip: String,
    /// The operation, e.g. `SetLiveDomainCertificate`.
    pub operation: String,
    /// `DomainName`, when the call names one.
    pub domain: Option<String>,
    /// `CertName`, when the call names one.
    pub cert_name: Option<String>,
    /// `CertId`, when the call names or produced one.
    pub cert_id: Option<u64>,
    /// `OK`, or the error code answered.
    pub outcome: String,
}

/// Which entries [`Store::audit_entries`] lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only this account's entries.
    pub account: Option<AccountId>,
    /// Only entries at or after this time (Unix seconds).
    pub since: Option<i64>,
    /// Only entries naming this domain (ASCII case ignored).
    pub domain: Option<String>,
    /// At most this many entries, newest first; 0 lists every entry that passes.
    pub limit: usize,
}

impl Store {
    /// Records an audited call. Never waits and never fails: the entry is queued and written in
    /// the next batch (within [`FLUSH_INTERVAL`]); if the queue is full it is dropped and counted
    /// in [`Store::audit_dropped`].
    pub fn record_audit(&self, entry: AuditEntry) {
        self.inner.audit.record(entry);
    }

    /// Writes every entry recorded before this call and waits for the commit (for tests, and for
    /// `serve` on shutdown).
    ///
    /// Errors: the batch could not be written (its entries are counted as dropped).
    pub async fn flush_audit(&self) -> Result<(), StoreError> {
        let Some(queue) = self.inner.audit.sender.clone() else {
            return Err(StoreError::Unavailable(
                "the audit flusher has stopped".into(),
            ));
        };
        let (reply, answer) = oneshot::channel();
        // A blocking send: the queue may be full, and the flusher is draining it.
        tokio::task::spawn_blocking(move || queue.send(Message::Flush(reply)))
            .await
            .map_err(|e| StoreError::Failed(format!("audit flush task failed: {e}")))?
            .map_err(|_| StoreError::Unavailable("the audit flusher has stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Unavailable("the audit flusher has stopped".into()))?
    }

    /// Entries dropped since this store was opened: recorded while the queue was full, or in a
    /// batch that could not be written. A metric: it only increases.
    pub fn audit_dropped(&self) -> u64 {
        self.inner.audit.dropped.load(Ordering::Relaxed)
    }

    /// The entries that pass `filter`, newest first (by time, then most recently recorded), at
    /// most `filter.limit` (0: all). Entries still queued are not seen: call
    /// [`Store::flush_audit`] first to include them.
    pub async fn audit_entries(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
        let filter = filter.clone();
        match &self.inner.backend {
            Backend::Sqlite(s) => {
                s.read(move |c| {
                    crate::sqlite::audit::entries(c, &filter).map_err(crate::sqlite::sql_error)
                })
                .await
            }
            Backend::Postgres(p) => {
                p.read(move |c| {
                    Box::pin(async move { crate::postgres::audit::entries(c, &filter).await })
                })
                .await
            }
        }
    }
}

/// Writes one batch for the flusher thread, blocking until it is committed (the backend's part of
/// the audit log). `Unavailable` is retried; any other error drops the batch.
pub(crate) type AuditSink =
    Box<dyn FnMut(Arc<Vec<AuditEntry>>) -> Result<(), StoreError> + Send + 'static>;

/// The queue and its flusher thread; see the module documentation.
pub(crate) struct AuditQueue {
    sender: Option<SyncSender<Message>>,
    dropped: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

enum Message {
    Entry(Box<AuditEntry>),
    Flush(oneshot::Sender<Result<(), StoreError>>),
}

impl AuditQueue {
    /// Starts the flusher, which writes through `sink`.
    pub(crate) fn start(sink: AuditSink) -> Result<Self, StoreError> {
        let (sender, inbox) = mpsc::sync_channel(QUEUE_CAPACITY);
        let dropped = Arc::new(AtomicU64::new(0));
        let counter = dropped.clone();
        let thread = std::thread::Builder::new()
            .name("livecert-audit".into())
            .spawn(move || {
                let mut sink = sink;
                run(&inbox, &mut sink, &counter);
            })
            .map_err(|e| StoreError::Unavailable(format!("cannot start the audit thread: {e}")))?;
        Ok(Self {
            sender: Some(sender),
            dropped,
            thread: Some(thread),
        })
    }

    fn record(&self, entry: AuditEntry) {
        let sent = match &self.sender {
            Some(sender) => match sender.try_send(Message::Entry(Box::new(entry))) {
                Ok(()) => true,
                Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
            },
            None => false,
        };
        if !sent {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Drop for AuditQueue {
    /// Stops the flusher after it has written what is queued.
    fn drop(&mut self) {
        drop(self.sender.take());
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("the audit flusher panicked");
            }
        }
    }
}

/// The flusher's loop: gather a batch (up to [`BATCH_SIZE`] entries, for at most
/// [`FLUSH_INTERVAL`] after its first one, or until a flush request), write it, answer flushes.
fn run(inbox: &Receiver<Message>, sink: &mut AuditSink, dropped: &AtomicU64) {
    let mut batch: Vec<AuditEntry> = Vec::with_capacity(BATCH_SIZE);
    let mut waiters = Vec::new();
    while let Ok(first) = inbox.recv() {
        let deadline = Instant::now() + FLUSH_INTERVAL;
        let mut stopped = false;
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Entry(entry) => batch.push(*entry),
                Message::Flush(reply) => {
                    waiters.push(reply);
                    break;
                }
            }
            if batch.len() >= BATCH_SIZE {
                break;
            }
            match inbox.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(message) => next = Some(message),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => stopped = true,
            }
        }
        let result = write(sink, std::mem::take(&mut batch), dropped);
        for reply in waiters.drain(..) {
            let _ = reply.send(result.clone());
        }
        if stopped {
            break;
        }
    }
}

/// Writes one batch through the sink, retrying while the database is unavailable; on failure
/// counts the batch as dropped.
fn write(
    sink: &mut AuditSink,
    batch: Vec<AuditEntry>,
    dropped: &AtomicU64,
) -> Result<(), StoreError> {
    if batch.is_empty() {
        return Ok(());
    }
    let batch = Arc::new(batch);
    let mut last = None;
    for attempt in 0..WRITE_TRIES {
        match sink(batch.clone()) {
            Ok(()) => return Ok(()),
            Err(e @ StoreError::Unavailable(_)) if attempt + 1 < WRITE_TRIES => {
                last = Some(e);
                std::thread::sleep(FLUSH_INTERVAL);
            }
            Err(e) => {
                last = Some(e);
                break;
            }
        }
    }
    let error =
        last.unwrap_or_else(|| StoreError::Failed("the audit batch was not written".into()));
    dropped.fetch_add(batch.len() as u64, Ordering::Relaxed);
    tracing::warn!(entries = batch.len(), error = %error, "audit entries could not be written and are dropped");
    Err(error)
}
