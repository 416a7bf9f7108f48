//! Grouped writes: each node's write calls go through one queue, and a task of the backend's
//! runtime runs whatever is queued (at most [`MAX_GROUP`] calls) in one transaction, each call in
//! a savepoint of its own, so that one write lock and one commit serve many calls:
//!
//! ```text
//! BEGIN; SELECT pg_advisory_xact_lock(WRITE_LOCK)           -- READ COMMITTED
//!   SAVEPOINT call; <call 1>; RELEASE call                   -- success
//!   SAVEPOINT call; <call 2>; ROLLBACK TO call; RELEASE call -- refusal, failure or dry run
//!   ...
//!   NOTIFY livecert_keys                                     -- if a kept call touched keys
//!   SELECT counter FROM changes
//! COMMIT                                                     -- ROLLBACK if no call was kept
//! answer every call of the group
//! ```
//!
//! Every statement of a call still runs after the lock, so it sees everything committed before
//! (by any node) and everything the calls before it in the group did: the rules re-checked inside
//! the transaction decide on the state the write applies to, as with one transaction per call.
//! No call is answered before its group has committed (or rolled back). If BEGIN or the lock
//! fails, every call gets that error (a lock not granted in time: `Unavailable`); if a savepoint
//! statement or COMMIT fails, the group is rolled back and every call gets the error as
//! `Failed`, as SQLite's group commit does (`crate::sqlite::group_commit`). Before, every call
//! was a transaction of its own holding the lock through its commit: two API nodes managed
//! ≈ 490 SetLiveDomainCertificate/s together (issue 14).

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, watch};

use super::{pg_error, rollback, BoxFuture, Checkout, Conn, PgTx, WRITE_LOCK};
use crate::key_cache::KeyCache;
use crate::{StoreError, Touches, WriteError};

/// Most calls in one transaction.
pub(crate) const MAX_GROUP: usize = 256;

/// A queued write call.
pub(crate) type Queued = Box<dyn GroupedCall>;

/// One write call of a group, whatever its result type.
pub(crate) trait GroupedCall: Send {
    /// Runs the call on `conn` inside its savepoint; whether its savepoint is kept.
    fn perform<'c>(&'c mut self, conn: &'c Conn) -> BoxFuture<'c, bool>;
    /// Whether the call, if kept, touched accounts, AccessKeys, users or policies.
    fn touches_keys(&self) -> bool;
    /// Answers the caller: its own result, or the group's failure.
    fn reply(self: Box<Self>, group: Result<(), &StoreError>);
}

/// A call and where its answer goes.
pub(crate) struct Call<T, F> {
    work: Option<F>,
    touches: Touches,
    dry_run: bool,
    result: Option<Result<T, WriteError>>,
    answer: oneshot::Sender<Result<T, WriteError>>,
}

impl<T, F> Call<T, F> {
    /// `work` as a call to queue, and the receiver of its answer.
    pub(crate) fn new(
        touches: Touches,
        dry_run: bool,
        work: F,
    ) -> (Self, oneshot::Receiver<Result<T, WriteError>>) {
        let (answer, answered) = oneshot::channel();
        let call = Self {
            work: Some(work),
            touches,
            dry_run,
            result: None,
            answer,
        };
        (call, answered)
    }
}

impl<T, F> GroupedCall for Call<T, F>
where
    T: Send + 'static,
    F: for<'c> FnOnce(&'c Conn) -> BoxFuture<'c, Result<T, WriteError>> + Send + 'static,
{
    fn perform<'c>(&'c mut self, conn: &'c Conn) -> BoxFuture<'c, bool> {
        Box::pin(async move {
            let Some(work) = self.work.take() else {
                return false;
            };
            let result = work(conn).await;
            let keep = result.is_ok() && !self.dry_run;
            self.result = Some(result);
            keep
        })
    }

    fn touches_keys(&self) -> bool {
        self.touches == Touches::Keys && !self.dry_run
    }

    fn reply(self: Box<Self>, group: Result<(), &StoreError>) {
        let answer = match group {
            Ok(()) => self.result.unwrap_or_else(|| {
                Err(StoreError::Failed("the write call did not run".into()).into())
            }),
            Err(e) => Err(e.clone().into()),
        };
        let _ = self.answer.send(answer);
    }
}

/// What the writer task needs of the backend.
pub(crate) struct Writer {
    pub(crate) pool: deadpool_postgres::Pool,
    pub(crate) keys: Arc<KeyCache>,
    pub(crate) changes: watch::Sender<u64>,
}

/// Runs the groups of `queue` one after the other until every sender is gone.
pub(crate) async fn write_groups(writer: Writer, mut queue: mpsc::UnboundedReceiver<Queued>) {
    let mut group: Vec<Queued> = Vec::with_capacity(MAX_GROUP);
    // Waits for one call, then takes whatever else is queued; 0 once every sender is gone.
    while queue.recv_many(&mut group, MAX_GROUP).await > 0 {
        let ended = write_group(&writer, &mut group).await;
        for call in group.drain(..) {
            call.reply(ended.as_ref().copied());
        }
    }
}

/// One group's transaction; `Ok` once committed (or rolled back because no call was kept).
async fn write_group(writer: &Writer, group: &mut [Queued]) -> Result<(), StoreError> {
    let conn = Checkout::get(&writer.pool).await?;
    conn.batch_execute(&format!(
        "BEGIN ISOLATION LEVEL READ COMMITTED; SELECT pg_advisory_xact_lock({WRITE_LOCK})"
    ))
    .await
    .map_err(pg_error)?;
    let mut kept = 0usize;
    let mut keys = false;
    for call in group.iter_mut() {
        let statement_failed =
            |e| StoreError::Failed(format!("a savepoint failed: {}", pg_error(e)));
        if let Err(e) = conn.batch_execute("SAVEPOINT call").await {
            rollback(conn).await;
            return Err(statement_failed(e));
        }
        let keep = call.perform(&conn).await;
        let end = if keep {
            "RELEASE SAVEPOINT call"
        } else {
            "ROLLBACK TO SAVEPOINT call; RELEASE SAVEPOINT call"
        };
        if let Err(e) = conn.batch_execute(end).await {
            rollback(conn).await;
            return Err(statement_failed(e));
        }
        if keep {
            kept += 1;
            keys |= call.touches_keys();
        }
    }
    if kept == 0 {
        rollback(conn).await;
        return Ok(());
    }
    if keys {
        // Delivered at COMMIT to the other nodes' change feeds, which clear their AccessKey caches.
        if let Err(e) = conn
            .batch_execute(&format!("NOTIFY {}", super::KEYS_NOTIFY_CHANNEL))
            .await
        {
            rollback(conn).await;
            return Err(StoreError::Failed(pg_error(e).to_string()));
        }
    }
    let counter = match crate::sql::read::change_counter(&PgTx::new(&conn)).await {
        Ok(counter) => counter,
        Err(e) => {
            rollback(conn).await;
            return Err(StoreError::Failed(e.to_string()));
        }
    };
    conn.batch_execute("COMMIT")
        .await
        .map_err(|e| StoreError::Failed(format!("commit failed: {}", pg_error(e))))?;
    conn.release();
    if keys {
        writer.keys.invalidate();
    }
    writer.changes.send_if_modified(|published| {
        let moved = counter > *published;
        if moved {
            *published = counter;
        }
        moved
    });
    Ok(())
}
