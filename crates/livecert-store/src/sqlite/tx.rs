//! SQLite below the seam: [`SqliteTx`] implements [`crate::db::Tx`] over a rusqlite connection,
//! running each statement at once and answering with a ready future.

use std::borrow::Cow;
use std::future::{ready, Future};

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, ToSql};

use crate::db::{Cell, Dialect, Param, Params, Row, Tx};
use crate::sqlite::sql_error;
use crate::StoreError;

/// A SQLite connection seen through the seam: the writer's connection inside a call's savepoint,
/// or a read connection of the pool.
pub(crate) struct SqliteTx<'c> {
    conn: &'c Connection,
}

impl<'c> SqliteTx<'c> {
    /// The seam over `conn`.
    pub(crate) fn new(conn: &'c Connection) -> Self {
        Self { conn }
    }

    fn run_execute(&self, sql: &str, params: &Params<'_>) -> Result<u64, StoreError> {
        let values: Vec<Bound<'_>> = params.iter().map(|p| Bound(p.param())).collect();
        let mut statement = self
            .conn
            .prepare_cached(&placeholders(sql))
            .map_err(sql_error)?;
        let n = statement
            .execute(rusqlite::params_from_iter(values.iter()))
            .map_err(sql_error)?;
        Ok(n as u64)
    }

    fn run_query(&self, sql: &str, params: &Params<'_>) -> Result<Vec<Row>, StoreError> {
        let values: Vec<Bound<'_>> = params.iter().map(|p| Bound(p.param())).collect();
        let mut statement = self
            .conn
            .prepare_cached(&placeholders(sql))
            .map_err(sql_error)?;
        let columns = statement.column_count();
        let mut rows = statement
            .query(rusqlite::params_from_iter(values.iter()))
            .map_err(sql_error)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(sql_error)? {
            let mut cells = Vec::with_capacity(columns);
            for idx in 0..columns {
                cells.push(match row.get_ref(idx).map_err(sql_error)? {
                    ValueRef::Null => Cell::Null,
                    ValueRef::Integer(v) => Cell::Int(v),
                    ValueRef::Real(v) => Cell::Real(v),
                    ValueRef::Text(v) => Cell::Text(
                        std::str::from_utf8(v)
                            .map_err(|e| StoreError::Failed(format!("column {idx}: {e}")))?
                            .to_owned(),
                    ),
                    ValueRef::Blob(v) => Cell::Bytes(v.to_vec()),
                });
            }
            out.push(Row(cells));
        }
        Ok(out)
    }
}

impl Tx for SqliteTx<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn execute(
        &self,
        sql: &str,
        params: &Params<'_>,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send {
        ready(self.run_execute(sql, params))
    }

    fn query(
        &self,
        sql: &str,
        params: &Params<'_>,
    ) -> impl Future<Output = Result<Vec<Row>, StoreError>> + Send {
        ready(self.run_query(sql, params))
    }

    fn batch(&self, sql: &str) -> impl Future<Output = Result<(), StoreError>> + Send {
        ready(self.conn.execute_batch(sql).map_err(sql_error))
    }
}

/// PostgreSQL's `$1` placeholders as SQLite's `?1` (the same numbered parameters). No statement of
/// livecert's has a `$` anywhere else.
fn placeholders(sql: &str) -> Cow<'_, str> {
    if sql.contains('$') {
        Cow::Owned(sql.replace('$', "?"))
    } else {
        Cow::Borrowed(sql)
    }
}

/// A [`Param`] as rusqlite binds it.
struct Bound<'a>(Param<'a>);

impl ToSql for Bound<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self.0 {
            Param::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Param::Int(v) => ToSqlOutput::Borrowed(ValueRef::Integer(v)),
            Param::Id(v) => {
                let v = i64::try_from(v)
                    .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
                ToSqlOutput::Borrowed(ValueRef::Integer(v))
            }
            Param::Bool(v) => ToSqlOutput::Borrowed(ValueRef::Integer(i64::from(v))),
            Param::Text(v) => ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes())),
            Param::Bytes(v) => ToSqlOutput::Borrowed(ValueRef::Blob(v)),
            Param::Texts(v) => ToSqlOutput::Owned(serde_json::to_string(v).map_err(json)?.into()),
            Param::Strs(v) => ToSqlOutput::Owned(serde_json::to_string(v).map_err(json)?.into()),
        })
    }
}

fn json(e: serde_json::Error) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(Box::new(e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{get, now_or_fail, query_one};

    #[test]
    fn statements_written_for_postgresql_run_on_sqlite() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (id INTEGER, flag INTEGER, names TEXT, b BLOB)")
            .unwrap();
        let tx = SqliteTx::new(&conn);
        let names = vec!["a.com".to_owned()];
        let n = now_or_fail(tx.execute(
            "INSERT INTO t VALUES ($2, $1, $3, $4)",
            &[&true, &7_u64, &names, &vec![1_u8, 2]],
        ))
        .unwrap();
        assert_eq!(n, 1);
        let row = now_or_fail(query_one(&tx, "SELECT id, flag, names, b FROM t", &[])).unwrap();
        assert_eq!(get::<i64>(&row, 0).unwrap(), 7);
        assert!(get::<bool>(&row, 1).unwrap());
        assert_eq!(get::<Vec<String>>(&row, 2).unwrap(), names);
        assert_eq!(get::<Vec<u8>>(&row, 3).unwrap(), [1, 2]);
        let too_big = now_or_fail(tx.execute("INSERT INTO t (id) VALUES ($1)", &[&u64::MAX]));
        assert!(matches!(too_big, Err(StoreError::Failed(_))));
    }
}
