//! The backend seam: what a store operation needs of a database, and nothing more.
//!
//! Every store operation (`crate::sql`) is written once, as an `async fn` generic over [`Tx`]: a
//! connection inside the call's transaction (a write), or a plain read connection. Two types
//! implement it, one per backend:
//!
//! - `crate::sqlite::SqliteTx` runs each statement at once on its rusqlite connection and returns
//!   a ready future, so an operation over it completes in one poll ([`now_or_fail`]): the SQLite
//!   writer thread and the read pool run operations synchronously, as before the seam.
//! - `crate::postgres::PgTx` awaits tokio-postgres on the backend's runtime.
//!
//! What the seam carries:
//!
//! - statements written with PostgreSQL's `$1`, `$2`… placeholders (the SQLite side rewrites them
//!   to `?1`, `?2`…), prepared through the connection's statement cache;
//! - parameters as [`Param`]s (anything that is [`SqlParam`]); an id (`u64`) is stored as a signed
//!   64-bit integer, a list of strings as a JSON array text in SQLite and `TEXT[]` in PostgreSQL;
//! - rows as owned [`Row`]s of [`Cell`]s, read with [`get`] (a boolean is an integer in SQLite, a
//!   list of strings is JSON text in SQLite);
//! - [`snapshot`]: one consistent view for reads made of several statements;
//! - [`Tx::dialect`], for the few statements the two SQL dialects write differently.
//!
//! Below the seam, and not part of it: the SQLite group-commit writer and read pool
//! (`crate::sqlite`), the PostgreSQL pool, write lock and runtime (`crate::postgres`), each
//! backend's schema and migrations, the PostgreSQL shared limits and change feed.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use crate::StoreError;

/// The SQL dialect behind a [`Tx`], for the statements the two write differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// SQLite (3.35 or later: `RETURNING`, `IS DISTINCT FROM` since 3.39).
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// A statement parameter.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Param<'a> {
    /// SQL NULL.
    Null,
    /// A signed 64-bit integer.
    Int(i64),
    /// An id: stored as a signed 64-bit integer; above `i64::MAX` the statement fails.
    Id(u64),
    /// A boolean (an integer 0/1 in SQLite).
    Bool(bool),
    /// Text.
    Text(&'a str),
    /// Bytes (BLOB / BYTEA).
    Bytes(&'a [u8]),
    /// A list of strings: a JSON array text in SQLite, `TEXT[]` in PostgreSQL.
    Texts(&'a [String]),
    /// A list of borrowed strings, as [`Param::Texts`].
    Strs(&'a [&'a str]),
}

/// A value that can be bound to a statement.
pub(crate) trait SqlParam: Sync {
    /// The parameter this value binds as.
    fn param(&self) -> Param<'_>;
}

impl SqlParam for i64 {
    fn param(&self) -> Param<'_> {
        Param::Int(*self)
    }
}

impl SqlParam for u64 {
    fn param(&self) -> Param<'_> {
        Param::Id(*self)
    }
}

impl SqlParam for bool {
    fn param(&self) -> Param<'_> {
        Param::Bool(*self)
    }
}

impl SqlParam for str {
    fn param(&self) -> Param<'_> {
        Param::Text(self)
    }
}

impl SqlParam for &str {
    fn param(&self) -> Param<'_> {
        Param::Text(self)
    }
}

impl SqlParam for String {
    fn param(&self) -> Param<'_> {
        Param::Text(self)
    }
}

impl SqlParam for &[u8] {
    fn param(&self) -> Param<'_> {
        Param::Bytes(self)
    }
}

impl SqlParam for Vec<u8> {
    fn param(&self) -> Param<'_> {
        Param::Bytes(self)
    }
}

impl SqlParam for Vec<String> {
    fn param(&self) -> Param<'_> {
        Param::Texts(self)
    }
}

impl SqlParam for Vec<&str> {
    fn param(&self) -> Param<'_> {
        Param::Strs(self)
    }
}

impl<T: SqlParam> SqlParam for Option<T> {
    fn param(&self) -> Param<'_> {
        self.as_ref().map_or(Param::Null, SqlParam::param)
    }
}

/// A parameter list, as the statements write it: `&[&a, &b]`.
pub(crate) type Params<'a> = [&'a dyn SqlParam];

/// One column value of a [`Row`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    /// SQL NULL.
    Null,
    /// An integer.
    Int(i64),
    /// A floating-point number (no column of livecert's is one; kept for completeness).
    Real(f64),
    /// A boolean (PostgreSQL `BOOLEAN`).
    Bool(bool),
    /// Text.
    Text(String),
    /// Bytes.
    Bytes(Vec<u8>),
    /// A list of strings (PostgreSQL `TEXT[]`).
    Texts(Vec<String>),
}

/// A row read back: its cells, in the statement's column order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Row(pub(crate) Vec<Cell>);

/// A Rust value read from a [`Cell`]. Data read back is never trusted: a cell of another type is
/// an error (the caller's `Failed`).
pub(crate) trait FromCell<'a>: Sized {
    /// The value of `cell`, or why it is not one.
    fn from_cell(cell: &'a Cell) -> Result<Self, String>;
}

fn wrong(cell: &Cell, want: &str) -> String {
    let have = match cell {
        Cell::Null => "NULL",
        Cell::Int(_) => "an integer",
        Cell::Real(_) => "a real",
        Cell::Bool(_) => "a boolean",
        Cell::Text(_) => "text",
        Cell::Bytes(_) => "bytes",
        Cell::Texts(_) => "a text array",
    };
    format!("expected {want}, found {have}")
}

impl FromCell<'_> for i64 {
    fn from_cell(cell: &Cell) -> Result<Self, String> {
        match cell {
            Cell::Int(v) => Ok(*v),
            other => Err(wrong(other, "an integer")),
        }
    }
}

impl FromCell<'_> for bool {
    fn from_cell(cell: &Cell) -> Result<Self, String> {
        match cell {
            Cell::Bool(v) => Ok(*v),
            Cell::Int(v) => Ok(*v != 0),
            other => Err(wrong(other, "a boolean")),
        }
    }
}

impl<'a> FromCell<'a> for &'a str {
    fn from_cell(cell: &'a Cell) -> Result<Self, String> {
        match cell {
            Cell::Text(v) => Ok(v),
            other => Err(wrong(other, "text")),
        }
    }
}

impl FromCell<'_> for String {
    fn from_cell(cell: &Cell) -> Result<Self, String> {
        <&str>::from_cell(cell).map(str::to_owned)
    }
}

impl FromCell<'_> for Vec<u8> {
    fn from_cell(cell: &Cell) -> Result<Self, String> {
        match cell {
            Cell::Bytes(v) => Ok(v.clone()),
            other => Err(wrong(other, "bytes")),
        }
    }
}

impl FromCell<'_> for Vec<String> {
    fn from_cell(cell: &Cell) -> Result<Self, String> {
        match cell {
            Cell::Texts(v) => Ok(v.clone()),
            Cell::Text(json) => serde_json::from_str(json)
                .map_err(|e| format!("expected a JSON array of strings: {e}")),
            other => Err(wrong(other, "a list of strings")),
        }
    }
}

impl<'a, T: FromCell<'a>> FromCell<'a> for Option<T> {
    fn from_cell(cell: &'a Cell) -> Result<Self, String> {
        match cell {
            Cell::Null => Ok(None),
            other => T::from_cell(other).map(Some),
        }
    }
}

/// A value moved out of a [`Cell`], without copying its text or bytes (for the row mappers that
/// own their row).
pub(crate) trait TakeCell: Sized {
    /// The value of `cell`, or why it is not one.
    fn take_cell(cell: Cell) -> Result<Self, String>;
}

impl TakeCell for String {
    fn take_cell(cell: Cell) -> Result<Self, String> {
        match cell {
            Cell::Text(v) => Ok(v),
            other => Err(wrong(&other, "text")),
        }
    }
}

impl TakeCell for Vec<u8> {
    fn take_cell(cell: Cell) -> Result<Self, String> {
        match cell {
            Cell::Bytes(v) => Ok(v),
            other => Err(wrong(&other, "bytes")),
        }
    }
}

impl TakeCell for Vec<String> {
    fn take_cell(cell: Cell) -> Result<Self, String> {
        match cell {
            Cell::Texts(v) => Ok(v),
            other => Vec::<String>::from_cell(&other),
        }
    }
}

impl<T: TakeCell> TakeCell for Option<T> {
    fn take_cell(cell: Cell) -> Result<Self, String> {
        match cell {
            Cell::Null => Ok(None),
            other => T::take_cell(other).map(Some),
        }
    }
}

/// A connection a store operation runs on: inside the call's transaction (writes), or a plain
/// read connection. See the module documentation.
///
/// Errors of every method: `Unavailable` when the database cannot be used now (SQLite busy or
/// locked, a PostgreSQL connection lost or a lock not granted in time), `Failed` for a statement
/// that fails (a constraint, a type).
pub(crate) trait Tx {
    /// The dialect, for the statements the two backends write differently.
    fn dialect(&self) -> Dialect;

    /// Runs a statement; returns the number of rows it changed.
    fn execute(
        &self,
        sql: &str,
        params: &Params<'_>,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Runs a query; returns its rows.
    fn query(
        &self,
        sql: &str,
        params: &Params<'_>,
    ) -> impl Future<Output = Result<Vec<Row>, StoreError>> + Send;

    /// Runs statements without parameters or results (`BEGIN`, `COMMIT`, `ROLLBACK`).
    fn batch(&self, sql: &str) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The statement that opens a read-only view of one state of the database.
    fn snapshot_begin(&self) -> &'static str {
        match self.dialect() {
            Dialect::Sqlite => "BEGIN",
            Dialect::Postgres => "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
        }
    }
}

/// Runs a statement; returns the number of rows it changed.
pub(crate) async fn execute(
    tx: &impl Tx,
    sql: &str,
    params: &Params<'_>,
) -> Result<u64, StoreError> {
    tx.execute(sql, params).await
}

/// Runs a query; returns its rows.
pub(crate) async fn query(
    tx: &impl Tx,
    sql: &str,
    params: &Params<'_>,
) -> Result<Vec<Row>, StoreError> {
    tx.query(sql, params).await
}

/// Runs a query that returns at most one row (a second row is `Failed`).
pub(crate) async fn query_opt(
    tx: &impl Tx,
    sql: &str,
    params: &Params<'_>,
) -> Result<Option<Row>, StoreError> {
    let mut rows = tx.query(sql, params).await?;
    if rows.len() > 1 {
        return Err(StoreError::Failed(format!(
            "a query for one row returned {}",
            rows.len()
        )));
    }
    Ok(rows.pop())
}

/// Runs a query that returns exactly one row (none or more is `Failed`).
pub(crate) async fn query_one(
    tx: &impl Tx,
    sql: &str,
    params: &Params<'_>,
) -> Result<Row, StoreError> {
    query_opt(tx, sql, params)
        .await?
        .ok_or_else(|| StoreError::Failed("a query for one row returned none".into()))
}

/// Runs `work` inside a read-only transaction that sees one state of the database (SQLite: a
/// deferred transaction on a read connection; PostgreSQL: `REPEATABLE READ, READ ONLY`). On an
/// error the backend's read helper rolls back.
pub(crate) async fn snapshot<T>(
    tx: &impl Tx,
    work: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    tx.batch(tx.snapshot_begin()).await?;
    let value = work.await?;
    tx.batch("COMMIT").await?;
    Ok(value)
}

/// Column `idx` of `row`; a value that does not convert is `Failed`.
pub(crate) fn get<'a, T: FromCell<'a>>(row: &'a Row, idx: usize) -> Result<T, StoreError> {
    let cell = row
        .0
        .get(idx)
        .ok_or_else(|| StoreError::Failed(format!("column {idx}: no such column")))?;
    T::from_cell(cell).map_err(|e| StoreError::Failed(format!("column {idx}: {e}")))
}

/// Column `idx` of `row`, moved out (the cell is left NULL); a value that does not convert is
/// `Failed`.
pub(crate) fn take<T: TakeCell>(row: &mut Row, idx: usize) -> Result<T, StoreError> {
    let cell = row
        .0
        .get_mut(idx)
        .ok_or_else(|| StoreError::Failed(format!("column {idx}: no such column")))?;
    T::take_cell(std::mem::replace(cell, Cell::Null))
        .map_err(|e| StoreError::Failed(format!("column {idx}: {e}")))
}

/// An unsigned id stored as a signed 64-bit integer.
pub(crate) fn get_u64(row: &Row, idx: usize) -> Result<u64, StoreError> {
    let value: i64 = get(row, idx)?;
    u64::try_from(value)
        .map_err(|_| StoreError::Failed(format!("column {idx}: negative id {value}")))
}

/// An optional unsigned id stored as a signed 64-bit integer.
pub(crate) fn get_opt_u64(row: &Row, idx: usize) -> Result<Option<u64>, StoreError> {
    let value: Option<i64> = get(row, idx)?;
    value
        .map(|v| {
            u64::try_from(v)
                .map_err(|_| StoreError::Failed(format!("column {idx}: negative id {v}")))
        })
        .transpose()
}

/// An id as the signed 64-bit integer it is stored as.
///
/// Errors: `Failed` for an id above `i64::MAX` (no stored id is).
pub(crate) fn db_id(id: u64) -> Result<i64, StoreError> {
    i64::try_from(id).map_err(|_| StoreError::Failed(format!("id {id} is out of range")))
}

/// Drives an operation over a `SqliteTx` to its end in one poll: every statement of that
/// backend completes at once, so the future is ready when first polled. A future that is not
/// (it would have awaited something other than the seam) is `Failed`, never a hang or a panic.
pub(crate) fn now_or_fail<T, E: From<StoreError>>(
    work: impl Future<Output = Result<T, E>>,
) -> Result<T, E> {
    let mut work = pin!(work);
    match work.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(value) => value,
        Poll::Pending => Err(StoreError::Failed(
            "a SQLite store operation did not complete at once".into(),
        )
        .into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_convert_to_what_the_column_holds_and_nothing_else() {
        let row = Row(vec![
            Cell::Int(7),
            Cell::Int(1),
            Cell::Text("[\"a\",\"b\"]".into()),
            Cell::Null,
            Cell::Int(-1),
        ]);
        assert_eq!(get::<i64>(&row, 0).unwrap(), 7);
        assert!(get::<bool>(&row, 1).unwrap());
        assert_eq!(get::<Vec<String>>(&row, 2).unwrap(), ["a", "b"]);
        assert_eq!(get::<Option<String>>(&row, 3).unwrap(), None);
        assert!(matches!(get::<String>(&row, 0), Err(StoreError::Failed(_))));
        assert!(matches!(get_u64(&row, 4), Err(StoreError::Failed(_))));
        assert!(matches!(get::<i64>(&row, 9), Err(StoreError::Failed(_))));
        let mut row = row;
        assert_eq!(take::<Vec<String>>(&mut row, 2).unwrap(), ["a", "b"]);
        assert_eq!(take::<Option<String>>(&mut row, 2).unwrap(), None, "taken");
        assert!(matches!(
            take::<String>(&mut row, 0),
            Err(StoreError::Failed(_))
        ));
    }

    #[test]
    fn an_operation_that_would_wait_fails_instead_of_hanging() {
        let pending = std::future::pending::<Result<(), StoreError>>();
        assert!(matches!(now_or_fail(pending), Err(StoreError::Failed(_))));
        let ready = async { Ok::<_, StoreError>(3) };
        assert_eq!(now_or_fail(ready).unwrap(), 3);
    }
}
