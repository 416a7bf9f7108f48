//! The audit log (spec/access.md, Audit): every state-changing call whose signature verified is
//! recorded.
//!
//! **A call that changed something** is recorded in the transaction of its change: the API runs
//! the call inside a [`CallAudit`] scope, and the first write of that call that commits (not a
//! DryRun) appends the entry to `audit_pending` in its own transaction (SQLite: in its savepoint
//! of the group's transaction; PostgreSQL: in the call's transaction), with the outcome the call
//! answers (`OK`, or row 28's code for a record stored but not bound). So an acknowledged change
//! always has its entry, crash or not, and an entry never describes a change that was rolled back.
//! `audit_pending` has no secondary index, so the change pays one appended row; the flusher moves
//! its rows into `audit_log` (which has three indexes) in batches, in the order they were written,
//! within [`FLUSH_INTERVAL`] (at the next start after a crash), and [`Store::audit_entries`]
//! reads both tables.
//!
//! **Every other audited call** — refused before or by its write, or whose write failed — is
//! recorded off the request path: [`Store::record_audit`] never waits; it puts the entry on an
//! in-memory queue and returns. Each account may have at most [`QUEUE_PER_ACCOUNT`] entries
//! waiting; beyond that its entries are dropped and counted ([`Store::audit_dropped`]), so a flood
//! of refused calls from one account can never push another account's entries out. A flusher
//! thread takes entries off the queue and hands them to the backend's [`AuditSink`] whenever it
//! holds [`BATCH_SIZE`] entries or [`FLUSH_INTERVAL`] has passed since the first entry of the
//! batch. With SQLite the sink is one write call of the store's writer (it shares its group commit
//! and its single write lock); with PostgreSQL it is one multi-row `INSERT` in a transaction of
//! its own (no write lock: audit rows never decide anything). [`Store::flush_audit`] writes
//! everything recorded before it and waits for the commit.
//!
//! When the last handle of a store is dropped, the flusher writes what is queued before it stops
//! (the drop waits for it), so entries recorded before a clean shutdown survive the restart.
//! A batch that cannot be written (after [`WRITE_TRIES`] tries) is logged and counted as dropped.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::{AccountId, Store, StoreError};

/// Entries one account may have waiting in the queue before its new ones are dropped: a few
/// seconds of the account's whole default quota, far above what refused calls need. Every
/// account has its own share, so the queue holds at most this many entries per account.
pub const QUEUE_PER_ACCOUNT: usize = 4_096;
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

impl AuditEntry {
    /// The entry with `outcome` as its outcome code.
    #[must_use]
    pub fn answered(mut self, outcome: &str) -> Self {
        outcome.clone_into(&mut self.outcome);
        self
    }
}

tokio::task_local! {
    /// The audit entry of the API call this task is running, if any ([`CallAudit::scope`]).
    static CALL_AUDIT: CallAudit;
}

/// The audit entry of one API call, to be written in the transaction of the call's change.
///
/// The API builds it before the call runs (its outcome is filled in by whoever writes it) and runs
/// the call inside [`CallAudit::scope`]. The first write call of the store made in that scope that
/// is not a DryRun carries the entry into its transaction, with outcome `OK` (or the code the call
/// answers although its change is committed: row 28's `Certificate.SettedNotEffect`); once that
/// write has committed, [`CallAudit::written`] is true. If no write of the call committed
/// (refused, failed, a DryRun, a read), the entry is not written: the caller records it with the
/// outcome it answered through [`Store::record_audit`].
///
/// Writes made outside a scope (`livecert admin`, the audit flusher) carry no entry.
#[derive(Debug, Clone)]
pub struct CallAudit {
    state: Arc<Mutex<(AuditEntry, bool)>>,
}

impl CallAudit {
    /// The entry of a call about to run.
    pub fn new(entry: AuditEntry) -> Self {
        Self {
            state: Arc::new(Mutex::new((entry, false))),
        }
    }

    /// Runs `work` (the call) with this entry in scope for its writes.
    pub async fn scope<F: Future>(&self, work: F) -> F::Output {
        CALL_AUDIT.scope(self.clone(), work).await
    }

    /// Whether a write of the call committed the entry.
    pub fn written(&self) -> bool {
        self.lock().1
    }

    /// The entry (its outcome as built, until the caller sets it with [`AuditEntry::answered`]).
    pub fn entry(&self) -> AuditEntry {
        self.lock().0.clone()
    }

    /// For a write call that starts now: the scope's entry, when there is a scope, the write is
    /// not a DryRun and no earlier write of the call has committed the entry.
    pub(crate) fn for_write(dry_run: bool) -> Option<(Self, AuditEntry)> {
        if dry_run {
            return None;
        }
        CALL_AUDIT
            .try_with(|call| {
                let state = call.lock();
                (!state.1).then(|| (call.clone(), state.0.clone()))
            })
            .ok()
            .flatten()
    }

    /// Records that a write carried the entry and committed.
    pub(crate) fn mark_written(&self) {
        self.lock().1 = true;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (AuditEntry, bool)> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Store {
    /// Records an audited call that changed nothing (or whose change failed). Never waits and
    /// never fails: the entry is queued and written in the next batch (within
    /// [`FLUSH_INTERVAL`]); if its account already has [`QUEUE_PER_ACCOUNT`] entries waiting it is
    /// dropped and counted in [`Store::audit_dropped`].
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

    /// Entries dropped since this store was opened: recorded while their account's share of the
    /// queue was full, or in a batch that could not be written. A metric: it only increases.
    pub fn audit_dropped(&self) -> u64 {
        self.inner.audit.dropped.load(Ordering::Relaxed)
    }

    /// The entries that pass `filter`, newest first (by time, then most recently recorded), at
    /// most `filter.limit` (0: all). Entries still queued are not seen: call
    /// [`Store::flush_audit`] first to include them.
    pub async fn audit_entries(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
        let filter = filter.clone();
        crate::call::read_call!(self, |tx| { crate::sql::audit::entries(tx, &filter).await })
    }
}

/// Writes one batch for the flusher thread, blocking until it is committed (the backend's part of
/// the audit log): when the flag is set, first moves the entries written in changes' transactions
/// (`audit_pending`) into `audit_log`, then inserts the batch. `Unavailable` is retried; any other
/// error drops the batch (moved entries stay pending, and are moved by a later write).
pub(crate) type AuditSink =
    Box<dyn FnMut(Arc<Vec<AuditEntry>>, bool) -> Result<(), StoreError> + Send + 'static>;

/// The queue and its flusher thread; see the module documentation.
pub(crate) struct AuditQueue {
    sender: Option<Sender<Message>>,
    waiting: Arc<Waiting>,
    dropped: Arc<AtomicU64>,
    /// Entries were written in changes' transactions since the flusher last moved them (true at
    /// start: a crash may have left some).
    pending: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Entries waiting in the queue, by account (an account with none has no key).
#[derive(Default)]
struct Waiting {
    by_account: Mutex<HashMap<AccountId, usize>>,
}

impl Waiting {
    /// Takes one of `account`'s places, unless it holds [`QUEUE_PER_ACCOUNT`] already.
    fn take(&self, account: AccountId) -> bool {
        let mut map = self
            .by_account
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let waiting = map.entry(account).or_insert(0);
        if *waiting >= QUEUE_PER_ACCOUNT {
            return false;
        }
        *waiting += 1;
        true
    }

    /// Gives back the places of `accounts`' entries, taken off the queue (one per item).
    fn give_back(&self, accounts: impl IntoIterator<Item = AccountId>) {
        let mut map = self
            .by_account
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for account in accounts {
            if let Some(waiting) = map.get_mut(&account) {
                *waiting = waiting.saturating_sub(1);
                if *waiting == 0 {
                    map.remove(&account);
                }
            }
        }
    }
}

enum Message {
    Entry(Box<AuditEntry>),
    Flush(oneshot::Sender<Result<(), StoreError>>),
}

impl AuditQueue {
    /// Starts the flusher, which writes through `sink`.
    pub(crate) fn start(sink: AuditSink) -> Result<Self, StoreError> {
        let (sender, inbox) = mpsc::channel();
        let dropped = Arc::new(AtomicU64::new(0));
        let waiting = Arc::new(Waiting::default());
        let pending = Arc::new(AtomicBool::new(true));
        let mut flusher = Flusher {
            sink,
            dropped: dropped.clone(),
            waiting: waiting.clone(),
            pending: pending.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("livecert-audit".into())
            .spawn(move || flusher.run(&inbox))
            .map_err(|e| StoreError::Unavailable(format!("cannot start the audit thread: {e}")))?;
        Ok(Self {
            sender: Some(sender),
            waiting,
            dropped,
            pending,
            thread: Some(thread),
        })
    }

    /// Notes that an entry was written in a change's transaction: the flusher moves it into
    /// `audit_log` with its next write (within [`FLUSH_INTERVAL`]).
    pub(crate) fn note_pending(&self) {
        self.pending.store(true, Ordering::Release);
    }

    fn record(&self, entry: AuditEntry) {
        let account = entry.account_id;
        let sent = self.waiting.take(account)
            && match &self.sender {
                Some(sender) if sender.send(Message::Entry(Box::new(entry))).is_ok() => true,
                _ => {
                    self.waiting.give_back([account]);
                    false
                }
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

/// The flusher thread's state.
struct Flusher {
    sink: AuditSink,
    dropped: Arc<AtomicU64>,
    waiting: Arc<Waiting>,
    pending: Arc<AtomicBool>,
}

impl Flusher {
    /// The flusher's loop: gather a batch (up to [`BATCH_SIZE`] entries, for at most
    /// [`FLUSH_INTERVAL`] after its first one, or until a flush request), write it — moving the
    /// entries written in changes' transactions first — and answer flushes. With nothing queued,
    /// it still moves those entries every [`FLUSH_INTERVAL`]. When the queue closes it writes what
    /// is left and stops.
    fn run(&mut self, inbox: &Receiver<Message>) {
        let mut batch: Vec<AuditEntry> = Vec::with_capacity(BATCH_SIZE);
        let mut waiters = Vec::new();
        loop {
            let first = match inbox.recv_timeout(FLUSH_INTERVAL) {
                Ok(message) => message,
                Err(RecvTimeoutError::Timeout) => {
                    let _ = self.write(Vec::new(), false);
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let _ = self.write(Vec::new(), false);
                    break;
                }
            };
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
            self.waiting.give_back(batch.iter().map(|e| e.account_id));
            let result = self.write(std::mem::take(&mut batch), !waiters.is_empty());
            for reply in waiters.drain(..) {
                let _ = reply.send(result.clone());
            }
            if stopped {
                break;
            }
        }
    }

    /// Writes one batch through the sink, moving the pending entries first when some were noted
    /// (or `flush`), retrying while the database is unavailable; on failure counts the batch as
    /// dropped and keeps the pending entries noted for the next write.
    fn write(&mut self, batch: Vec<AuditEntry>, flush: bool) -> Result<(), StoreError> {
        let move_pending = self.pending.swap(false, Ordering::AcqRel) || flush;
        if batch.is_empty() && !move_pending {
            return Ok(());
        }
        let batch = Arc::new(batch);
        let mut last = None;
        for attempt in 0..WRITE_TRIES {
            match (self.sink)(batch.clone(), move_pending) {
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
        if move_pending {
            self.pending.store(true, Ordering::Release);
        }
        let error =
            last.unwrap_or_else(|| StoreError::Failed("the audit batch was not written".into()));
        self.dropped
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        tracing::warn!(entries = batch.len(), error = %error, "audit entries could not be written and are dropped");
        Err(error)
    }
}
