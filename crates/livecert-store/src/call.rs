//! How a [`crate::Store`] method runs a store operation on its backend: [`read_call!`] and
//! [`write_call!`] take the operation once, as a block over `tx: &impl Tx` (`crate::db`), and run
//! it on whichever backend the store has — SQLite's writer thread (in the call's savepoint of a
//! group commit) or read pool, PostgreSQL's runtime (in the call's transaction, under the write
//! lock) or pool. A write ends as the store's [`crate::WriteMode`] says: committed, or rolled back
//! after every check and statement (DryRun).

use crate::postgres::PgBackend;
use crate::sqlite::SqliteBackend;

/// Where a store keeps its data.
pub(crate) enum Backend {
    /// SQLite: the writer thread and the read pool.
    Sqlite(SqliteBackend),
    /// PostgreSQL: the pool and the runtime it runs on.
    Postgres(PgBackend),
}

/// What a write call touches beyond its own answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Touches {
    /// Domains or certificates only.
    Library,
    /// Accounts, AccessKeys, RAM users or policies: the key cache is cleared after the commit.
    Keys,
    /// The audit log only: nothing that is cached.
    Log,
}

/// Runs a write operation on the store's backend: `|tx| { … }` is the operation, a block that may
/// `.await` the statements of `crate::sql` over `tx` and yields `Result<T, WriteError>`. It runs
/// in the call's transaction (SQLite: its savepoint of the writer's group; PostgreSQL: its own
/// transaction after the write lock), which commits — or, when the store's mode is
/// [`crate::WriteMode::DryRun`], rolls back whatever the block returned. Inside an API call's
/// [`crate::CallAudit`] scope, the first write that commits also inserts the call's audit entry
/// in the same transaction, with the outcome `outcome:` names for the result (`OK` when not
/// given), and marks it written once committed.
macro_rules! write_call {
    ($store:expr, $touches:expr, |$tx:ident| $body:block $(,)?) => {
        write_call!($store, $touches, |$tx| $body, outcome: |_| "OK")
    };
    ($store:expr, $touches:expr, |$tx:ident| $body:block, outcome: $outcome:expr $(,)?) => {{
        let dry_run = $store.mode == $crate::WriteMode::DryRun;
        let audit = $crate::audit::CallAudit::for_write(dry_run);
        let entry = audit.as_ref().map(|(_, entry)| entry.clone());
        let result = match &$store.inner.backend {
            $crate::call::Backend::Sqlite(s) => {
                s.writer
                    .call_with($touches, dry_run, move |c| {
                        let $tx = &$crate::sqlite::SqliteTx::new(c);
                        $crate::db::now_or_fail($crate::sql::audit::with_entry(
                            $tx,
                            async move $body,
                            entry,
                            $outcome,
                        ))
                    })
                    .await
            }
            $crate::call::Backend::Postgres(p) => {
                p.write($touches, dry_run, move |c| {
                    Box::pin(async move {
                        let $tx = &$crate::postgres::PgTx::new(c);
                        $crate::sql::audit::with_entry($tx, async move $body, entry, $outcome)
                            .await
                    })
                })
                .await
            }
        };
        if let (Some((call, _)), Ok(_)) = (&audit, &result) {
            call.mark_written();
            $store.inner.audit.note_pending();
        }
        result
    }};
}

/// Runs a read operation on the store's backend, as [`write_call!`] does a write: `|tx| { … }`
/// yields `Result<T, StoreError>`, on a pooled read connection (outside any transaction: the
/// block opens a `crate::db::snapshot` if it reads several statements that must agree).
macro_rules! read_call {
    ($store:expr, |$tx:ident| $body:block $(,)?) => {
        match &$store.inner.backend {
            $crate::call::Backend::Sqlite(s) => {
                s.read(move |c| {
                    let $tx = &$crate::sqlite::SqliteTx::new(c);
                    $crate::db::now_or_fail(async move $body)
                })
                .await
            }
            $crate::call::Backend::Postgres(p) => {
                p.read(move |c| {
                    Box::pin(async move {
                        let $tx = &$crate::postgres::PgTx::new(c);
                        $body
                    })
                })
                .await
            }
        }
    };
}

pub(crate) use read_call;
pub(crate) use write_call;
