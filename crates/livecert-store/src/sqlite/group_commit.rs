//! Group commit: one writer thread owns the write connection and turns concurrent write calls
//! into few transactions, so that one `fsync` acknowledges many calls.
//!
//! A call is a closure over the connection sent on a channel with a tokio oneshot for its answer.
//! The writer blocks for the first queued call, then takes whatever else is already queued (at
//! most [`MAX_GROUP`]) and runs the group:
//!
//! ```text
//! BEGIN IMMEDIATE
//!   SAVEPOINT call; <call 1>; RELEASE call            -- success
//!   SAVEPOINT call; <call 2>; ROLLBACK TO call; RELEASE call   -- refusal or failure: only call 2 undone
//!   SAVEPOINT call; <call 3>; ROLLBACK TO call; RELEASE call   -- dry run: undone whatever happened
//!   ...
//! COMMIT                                              -- WAL + synchronous=FULL: durable on return
//! answer every call of the group
//! ```
//!
//! After a COMMIT of a group with at least one real (not dry-run) call, the writer reads the change
//! counter and, if it moved, publishes it on the store's change channel
//! ([`crate::Store::subscribe_changes`]) before answering the calls: the edge in the same process
//! learns of a change before the API answers it. A failed group, or one of dry runs only, publishes
//! nothing.
//!
//! No call is answered before COMMIT returns, so an acknowledged write survives `kill -9` and
//! power loss. If BEGIN fails every call gets its error (`Unavailable` when busy); if COMMIT or a
//! savepoint statement fails, or SQLite rolls the transaction back on its own (disk full, I/O
//! error), the whole group is rolled back and every call gets [`StoreError::Failed`]. A call that
//! panics is answered `Failed` and only its savepoint is rolled back.
//!
//! A dry-run call ([`Writer::call_with`] with `dry_run = true`) runs exactly like any other call,
//! on the same transaction state, and is answered with its own result, but its savepoint is always
//! rolled back: it writes nothing, and the change counter (bumped by triggers inside the
//! savepoint) does not move. It is still answered only after its group's COMMIT, so it gets
//! `Failed` when the group fails, like its neighbours. (A constraint checked only at COMMIT — a
//! deferred foreign key — would not be seen by a dry run; the schema has none.) Operator requests that must
//! run outside a transaction (a WAL checkpoint) are queued on the same channel and run between
//! groups. The thread ends when the last [`Writer`] handle is dropped, after answering what is queued.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::sync::Arc;

use rusqlite::Connection;
use tokio::sync::{oneshot, watch};

use crate::key_cache::KeyCache;
use crate::sqlite::{sql_error, sql_failed};
pub(crate) use crate::Touches;
use crate::{StoreError, WriteError};

/// Most calls in one transaction.
pub(crate) const MAX_GROUP: usize = 256;

/// A handle to the writer thread; dropping the last one stops it.
#[derive(Clone)]
pub(crate) struct Writer {
    queue: mpsc::Sender<Message>,
}

impl Writer {
    /// Starts the writer thread on `conn` (already configured: WAL, `synchronous=FULL`,
    /// foreign keys, busy timeout), publishing the change counter on `changes` after each commit
    /// that moved it.
    pub(crate) fn start(
        conn: Connection,
        keys: Arc<KeyCache>,
        changes: watch::Sender<u64>,
    ) -> Result<Self, StoreError> {
        let (queue, inbox) = mpsc::channel();
        std::thread::Builder::new()
            .name("livecert-store-writer".into())
            .spawn(move || run(&conn, &inbox, &keys, &changes))
            .map_err(|e| StoreError::Unavailable(format!("cannot start the writer thread: {e}")))?;
        Ok(Self { queue })
    }

    /// Runs `work` inside the next group's transaction, in its own savepoint, and returns its
    /// result once the group has committed. An `Err` from `work` rolls back only its savepoint.
    /// (The store calls [`Writer::call_with`]; this is for the tests.)
    #[cfg(test)]
    pub(crate) async fn call<T, F>(&self, touches: Touches, work: F) -> Result<T, WriteError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, WriteError> + Send + 'static,
    {
        self.call_with(touches, false, work).await
    }

    /// [`Writer::call`], or with `dry_run` the same call whose savepoint is rolled back whatever
    /// `work` returned: its result is answered (after the group's COMMIT, as always), nothing it
    /// did is kept.
    pub(crate) async fn call_with<T, F>(
        &self,
        touches: Touches,
        dry_run: bool,
        work: F,
    ) -> Result<T, WriteError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, WriteError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let call = Call {
            work: Some(work),
            outcome: None,
            reply,
            touches,
            dry_run,
        };
        self.queue
            .send(Message::Call(Box::new(call)))
            .map_err(|_| writer_stopped())?;
        answer.await.map_err(|_| writer_stopped())?
    }

    /// [`Writer::call`] for a thread outside the tokio runtime (the audit flusher): blocks until
    /// the group has committed. Must not be called from async code.
    pub(crate) fn call_blocking<T, F>(&self, touches: Touches, work: F) -> Result<T, WriteError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, WriteError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let call = Call {
            work: Some(work),
            outcome: None,
            reply,
            touches,
            dry_run: false,
        };
        self.queue
            .send(Message::Call(Box::new(call)))
            .map_err(|_| writer_stopped())?;
        answer.blocking_recv().map_err(|_| writer_stopped())?
    }

    /// Runs `PRAGMA wal_checkpoint(TRUNCATE)` between groups.
    pub(crate) async fn checkpoint(&self) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Message::Checkpoint(reply))
            .map_err(|_| writer_stopped())?;
        answer.await.map_err(|_| writer_stopped())?
    }
}

/// One queued request.
enum Message {
    Call(Box<dyn Job>),
    Checkpoint(oneshot::Sender<Result<(), StoreError>>),
}

/// A write call with its answer channel, type-erased for the queue.
trait Job: Send {
    /// Runs the work; `true` when it succeeded and its savepoint is to be released.
    fn run(&mut self, conn: &Connection) -> bool;
    /// What the call touches.
    fn touches(&self) -> Touches;
    /// A dry run: its savepoint is rolled back even when it succeeded.
    fn dry_run(&self) -> bool;
    /// Sends the answer: the work's own result if the group committed, else the group's error.
    fn answer(self: Box<Self>, group: Result<(), &StoreError>);
}

struct Call<T, F> {
    work: Option<F>,
    outcome: Option<Result<T, WriteError>>,
    reply: oneshot::Sender<Result<T, WriteError>>,
    touches: Touches,
    dry_run: bool,
}

impl<T, F> Job for Call<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> Result<T, WriteError> + Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let Some(work) = self.work.take() else {
            return false;
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| work(conn))).unwrap_or_else(|_| {
            tracing::error!("a store write call panicked; its savepoint is rolled back");
            Err(StoreError::Failed("the write call panicked".into()).into())
        });
        let ok = outcome.is_ok();
        self.outcome = Some(outcome);
        ok
    }

    fn touches(&self) -> Touches {
        self.touches
    }

    fn dry_run(&self) -> bool {
        self.dry_run
    }

    fn answer(self: Box<Self>, group: Result<(), &StoreError>) {
        let result = match group {
            Ok(()) => self.outcome.unwrap_or_else(|| {
                Err(StoreError::Failed("the write call did not run".into()).into())
            }),
            Err(e) => Err(WriteError::Store(e.clone())),
        };
        // The caller may have gone away (request cancelled); its write stands either way.
        let _ = self.reply.send(result);
    }
}

/// The writer thread's loop.
fn run(
    conn: &Connection,
    inbox: &mpsc::Receiver<Message>,
    keys: &KeyCache,
    changes: &watch::Sender<u64>,
) {
    let mut jobs: Vec<Box<dyn Job>> = Vec::with_capacity(MAX_GROUP);
    let mut checkpoints = Vec::new();
    while let Ok(first) = inbox.recv() {
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Call(job) => jobs.push(job),
                Message::Checkpoint(reply) => checkpoints.push(reply),
            }
            if jobs.len() < MAX_GROUP {
                next = inbox.try_recv().ok();
            }
        }
        if !jobs.is_empty() {
            let group = run_group(conn, &mut jobs);
            if let Err(e) = &group {
                tracing::warn!(calls = jobs.len(), error = %e, "a write group failed");
            } else {
                if jobs
                    .iter()
                    .any(|j| j.touches() == Touches::Keys && !j.dry_run())
                {
                    keys.invalidate();
                }
                if jobs.iter().any(|j| !j.dry_run()) {
                    publish_change_counter(conn, changes);
                }
            }
            for job in jobs.drain(..) {
                job.answer(group.as_ref().copied());
            }
        }
        for reply in checkpoints.drain(..) {
            let _ = reply.send(checkpoint(conn));
        }
    }
}

/// Runs one group in one transaction; see the module documentation.
fn run_group(conn: &Connection, jobs: &mut [Box<dyn Job>]) -> Result<(), StoreError> {
    exec(conn, "BEGIN IMMEDIATE").map_err(sql_error)?;
    for job in jobs.iter_mut() {
        if let Err(e) = run_one(conn, job.as_mut()) {
            rollback(conn);
            return Err(e);
        }
    }
    if let Err(e) = exec(conn, "COMMIT") {
        rollback(conn);
        return Err(StoreError::Failed(format!("commit failed: {e}")));
    }
    Ok(())
}

/// Runs one call in its own savepoint, rolled back if the call failed or is a dry run. An error
/// here is fatal for the group.
fn run_one(conn: &Connection, job: &mut dyn Job) -> Result<(), StoreError> {
    exec(conn, "SAVEPOINT call").map_err(sql_failed)?;
    let ok = job.run(conn);
    if conn.is_autocommit() {
        return Err(StoreError::Failed(
            "SQLite rolled the transaction back (I/O error, disk full or busy)".into(),
        ));
    }
    if !ok || job.dry_run() {
        exec(conn, "ROLLBACK TO call").map_err(sql_failed)?;
    }
    exec(conn, "RELEASE call").map_err(sql_failed)?;
    Ok(())
}

/// Reads the change counter after a commit and publishes it if it moved. A failed read is only
/// logged: the edge's poll of the counter catches up.
fn publish_change_counter(conn: &Connection, changes: &watch::Sender<u64>) {
    match crate::db::now_or_fail(crate::sql::read::change_counter(
        &crate::sqlite::SqliteTx::new(conn),
    )) {
        Ok(counter) => {
            changes.send_if_modified(|published| {
                let moved = *published != counter;
                *published = counter;
                moved
            });
        }
        Err(e) => tracing::warn!(error = %e, "cannot read the change counter after a commit"),
    }
}

fn rollback(conn: &Connection) {
    if !conn.is_autocommit() {
        if let Err(e) = conn.execute_batch("ROLLBACK") {
            tracing::error!(error = %e, "rollback of a failed write group failed");
        }
    }
}

fn checkpoint(conn: &Connection) -> Result<(), StoreError> {
    let (busy, _, _): (i64, i64, i64) = conn
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .map_err(sql_failed)?;
    if busy != 0 {
        return Err(StoreError::Unavailable(
            "the WAL checkpoint could not finish: readers are active; retry".into(),
        ));
    }
    Ok(())
}

fn exec(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

fn writer_stopped() -> StoreError {
    StoreError::Unavailable("the store's writer thread has stopped".into())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rusqlite::Connection;
    use tokio::sync::watch;

    use super::{Touches, Writer};
    use crate::key_cache::KeyCache;
    use crate::{StoreError, WriteError};

    fn writer() -> (tempfile::TempDir, Writer, std::path::PathBuf) {
        let (dir, writer, path, _) = writer_with_changes();
        (dir, writer, path)
    }

    /// A writer on a table `t` whose inserts move a change counter, with the channel it
    /// publishes the counter on.
    fn writer_with_changes() -> (
        tempfile::TempDir,
        Writer,
        std::path::PathBuf,
        watch::Receiver<u64>,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let conn = crate::sqlite::open_writer(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE parent (id INTEGER PRIMARY KEY);
             CREATE TABLE t (v INTEGER PRIMARY KEY,
                 parent INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED);
             CREATE TABLE changes (id INTEGER PRIMARY KEY, counter INTEGER NOT NULL);
             INSERT INTO changes (id, counter) VALUES (1, 0);
             CREATE TRIGGER t_inserted AFTER INSERT ON t
             BEGIN UPDATE changes SET counter = counter + 1 WHERE id = 1; END;",
        )
        .unwrap();
        let (changes, subscribed) = watch::channel(0);
        let writer = Writer::start(conn, Arc::new(KeyCache::default()), changes).unwrap();
        (dir, writer, path, subscribed)
    }

    fn insert(v: i64, parent: Option<i64>) -> impl FnOnce(&Connection) -> Result<(), WriteError> {
        move |c| {
            c.execute("INSERT INTO t (v, parent) VALUES (?1, ?2)", (v, parent))
                .map(|_| ())
                .map_err(|e| StoreError::Failed(e.to_string()).into())
        }
    }

    fn rows(path: &std::path::Path) -> Vec<i64> {
        let c = Connection::open(path).unwrap();
        let mut s = c.prepare("SELECT v FROM t ORDER BY v").unwrap();
        s.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// A call that fails or panics is rolled back alone; the others of its group commit.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_or_panicking_call_is_rolled_back_alone() {
        let (_dir, writer, path) = writer();
        let writer = Arc::new(writer);
        let mut tasks = Vec::new();
        for v in 0..50_i64 {
            let writer = writer.clone();
            tasks.push(tokio::spawn(async move {
                match v {
                    10 => {
                        writer
                            .call(Touches::Library, |c| {
                                insert(10, None)(c)?;
                                panic!("boom");
                            })
                            .await
                    }
                    // Inserts a row, then fails: its row must not stay.
                    20 => {
                        writer
                            .call(Touches::Library, |c| {
                                insert(20, None)(c)?;
                                insert(20, None)(c)
                            })
                            .await
                    }
                    v => writer.call(Touches::Library, insert(v, None)).await,
                }
            }));
        }
        for (v, t) in tasks.into_iter().enumerate() {
            let r = t.await.unwrap();
            if v == 10 || v == 20 {
                assert!(
                    matches!(r, Err(WriteError::Store(StoreError::Failed(_)))),
                    "{v}: {r:?}"
                );
            } else {
                r.unwrap();
            }
        }
        let expected: Vec<i64> = (0..50).filter(|v| *v != 10 && *v != 20).collect();
        assert_eq!(rows(&path), expected);
    }

    /// A dry-run call is answered with its own result, succeeded or failed, and keeps nothing;
    /// the calls of its group around it commit.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_dry_run_call_is_answered_and_rolled_back() {
        let (_dir, writer, path) = writer();
        let writer = Arc::new(writer);
        let mut tasks = Vec::new();
        for v in 0..40_i64 {
            let writer = writer.clone();
            tasks.push(tokio::spawn(async move {
                match v % 4 {
                    // Dry run that succeeds: answered with its value, its row not kept.
                    1 => {
                        writer
                            .call_with(Touches::Library, true, move |c| {
                                insert(v, None)(c)?;
                                c.query_row("SELECT count(*) FROM t WHERE v = ?1", [v], |r| {
                                    r.get::<_, i64>(0)
                                })
                                .map_err(|e| StoreError::Failed(e.to_string()).into())
                            })
                            .await
                    }
                    // Dry run that fails after writing: answered with its error.
                    3 => {
                        writer
                            .call_with(Touches::Keys, true, move |c| {
                                insert(v, None)(c)?;
                                insert(v, None)(c)?;
                                Ok(0)
                            })
                            .await
                    }
                    _ => writer
                        .call(Touches::Library, insert(v, None))
                        .await
                        .map(|()| 1),
                }
            }));
        }
        for (v, t) in tasks.into_iter().enumerate() {
            let r = t.await.unwrap();
            if v % 4 == 3 {
                assert!(
                    matches!(r, Err(WriteError::Store(StoreError::Failed(_)))),
                    "{v}: {r:?}"
                );
            } else {
                assert_eq!(r.unwrap(), 1, "{v}");
            }
        }
        let expected: Vec<i64> = (0..40).filter(|v| v % 2 == 0).collect();
        assert_eq!(rows(&path), expected);
    }

    /// A COMMIT that fails (a deferred foreign key checked at commit) fails every call of the
    /// group and keeps none of their writes; the writer goes on.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_commit_fails_the_whole_group() {
        let (_dir, writer, path) = writer();
        let writer = Arc::new(writer);
        // Hold the writer in a first call so that the next calls queue into one group.
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let blocker = {
            let writer = writer.clone();
            tokio::spawn(async move {
                writer
                    .call(Touches::Library, move |c| {
                        let _ = wait.recv();
                        insert(100, None)(c)
                    })
                    .await
            })
        };
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let mut tasks = Vec::new();
        for v in 0..5_i64 {
            let writer = writer.clone();
            // Call 3 breaks the deferred foreign key: only COMMIT notices.
            let parent = (v == 3).then_some(999);
            tasks.push(tokio::spawn(async move {
                writer.call(Touches::Library, insert(v, parent)).await
            }));
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        release.send(()).unwrap();
        blocker.await.unwrap().unwrap();
        for t in tasks {
            let r = t.await.unwrap();
            assert!(
                matches!(r, Err(WriteError::Store(StoreError::Failed(_)))),
                "{r:?}"
            );
        }
        assert_eq!(rows(&path), vec![100]);
        writer
            .call(Touches::Library, insert(7, None))
            .await
            .unwrap();
        assert_eq!(rows(&path), vec![7, 100]);
        writer.checkpoint().await.unwrap();
    }

    /// The change counter is published after a commit that moved it, before the calls are
    /// answered; a dry run, a failed call and a failed group publish nothing.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_commit_that_moved_the_counter_is_published_and_nothing_else() {
        let (_dir, writer, _path, mut changes) = writer_with_changes();
        writer
            .call(Touches::Library, insert(1, None))
            .await
            .unwrap();
        // Published before the call was answered.
        assert!(changes.has_changed().unwrap());
        assert_eq!(*changes.borrow_and_update(), 1);

        writer
            .call_with(Touches::Library, true, insert(2, None))
            .await
            .unwrap();
        let failed = writer
            .call(Touches::Library, |c| {
                insert(3, None)(c)?;
                insert(3, None)(c)
            })
            .await;
        assert!(failed.is_err());
        // A group whose COMMIT fails (a deferred foreign key).
        let group = writer.call(Touches::Library, insert(4, Some(999))).await;
        assert!(matches!(
            group,
            Err(WriteError::Store(StoreError::Failed(_)))
        ));
        // A write that does not move the counter.
        writer
            .call(Touches::Library, |c| {
                c.execute("INSERT INTO parent (id) VALUES (1)", [])
                    .map(|_| ())
                    .map_err(|e| StoreError::Failed(e.to_string()).into())
            })
            .await
            .unwrap();
        assert!(!changes.has_changed().unwrap());

        writer
            .call(Touches::Library, insert(5, Some(1)))
            .await
            .unwrap();
        assert!(changes.has_changed().unwrap());
        assert_eq!(*changes.borrow_and_update(), 2);
    }
}
