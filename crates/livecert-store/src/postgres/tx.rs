//! PostgreSQL below the seam: [`PgTx`] implements [`crate::db::Tx`] over a pooled tokio-postgres
//! connection (its statement cache included).

use std::error::Error;

use bytes::BytesMut;
use tokio_postgres::types::{IsNull, ToSql, Type};

use crate::db::{Cell, Dialect, Param, Params, Row, Tx};
use crate::postgres::{pg_error, Conn};
use crate::StoreError;

/// A PostgreSQL connection seen through the seam: inside a write call's transaction, or a pooled
/// read connection.
pub(crate) struct PgTx<'c> {
    conn: &'c Conn,
}

impl<'c> PgTx<'c> {
    /// The seam over `conn`.
    pub(crate) fn new(conn: &'c Conn) -> Self {
        Self { conn }
    }
}

impl Tx for PgTx<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    async fn execute(&self, sql: &str, params: &Params<'_>) -> Result<u64, StoreError> {
        let statement = self.conn.prepare_cached(sql).await.map_err(pg_error)?;
        let bound: Vec<Bound<'_>> = params.iter().map(|p| Bound(p.param())).collect();
        let refs: Vec<&(dyn ToSql + Sync)> =
            bound.iter().map(|b| b as &(dyn ToSql + Sync)).collect();
        self.conn.execute(&statement, &refs).await.map_err(pg_error)
    }

    async fn query(&self, sql: &str, params: &Params<'_>) -> Result<Vec<Row>, StoreError> {
        let statement = self.conn.prepare_cached(sql).await.map_err(pg_error)?;
        let bound: Vec<Bound<'_>> = params.iter().map(|p| Bound(p.param())).collect();
        let refs: Vec<&(dyn ToSql + Sync)> =
            bound.iter().map(|b| b as &(dyn ToSql + Sync)).collect();
        let rows = self.conn.query(&statement, &refs).await.map_err(pg_error)?;
        rows.iter().map(cells).collect()
    }

    async fn batch(&self, sql: &str) -> Result<(), StoreError> {
        self.conn.batch_execute(sql).await.map_err(pg_error)
    }
}

/// A row's cells, by each column's type.
fn cells(row: &tokio_postgres::Row) -> Result<Row, StoreError> {
    let mut out = Vec::with_capacity(row.len());
    for (idx, column) in row.columns().iter().enumerate() {
        let failed = |e: tokio_postgres::Error| StoreError::Failed(format!("column {idx}: {e}"));
        let ty = column.type_();
        let cell = if *ty == Type::INT8 {
            row.try_get::<_, Option<i64>>(idx)
                .map_err(failed)?
                .map(Cell::Int)
        } else if *ty == Type::INT4 {
            row.try_get::<_, Option<i32>>(idx)
                .map_err(failed)?
                .map(|v| Cell::Int(v.into()))
        } else if *ty == Type::INT2 {
            row.try_get::<_, Option<i16>>(idx)
                .map_err(failed)?
                .map(|v| Cell::Int(v.into()))
        } else if *ty == Type::BOOL {
            row.try_get::<_, Option<bool>>(idx)
                .map_err(failed)?
                .map(Cell::Bool)
        } else if *ty == Type::BYTEA {
            row.try_get::<_, Option<Vec<u8>>>(idx)
                .map_err(failed)?
                .map(Cell::Bytes)
        } else if *ty == Type::TEXT_ARRAY || *ty == Type::VARCHAR_ARRAY {
            row.try_get::<_, Option<Vec<String>>>(idx)
                .map_err(failed)?
                .map(Cell::Texts)
        } else if *ty == Type::FLOAT8 {
            row.try_get::<_, Option<f64>>(idx)
                .map_err(failed)?
                .map(Cell::Real)
        } else {
            // TEXT, VARCHAR, NAME and anything else that reads as a string.
            row.try_get::<_, Option<String>>(idx)
                .map_err(failed)?
                .map(Cell::Text)
        };
        out.push(cell.unwrap_or(Cell::Null));
    }
    Ok(Row(out))
}

/// A [`Param`] as tokio-postgres binds it: each variant as the Rust type PostgreSQL's column
/// takes (`BIGINT`, `BOOLEAN`, `TEXT`, `BYTEA`, `TEXT[]`).
#[derive(Debug)]
struct Bound<'a>(Param<'a>);

impl ToSql for Bound<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        self.to_sql_checked(ty, out)
    }

    fn accepts(_: &Type) -> bool {
        // Checked per value, by the inner type (`to_sql_checked`).
        true
    }

    fn to_sql_checked(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        match self.0 {
            Param::Null => Ok(IsNull::Yes),
            Param::Int(v) => v.to_sql_checked(ty, out),
            Param::Id(v) => i64::try_from(v)?.to_sql_checked(ty, out),
            Param::Bool(v) => v.to_sql_checked(ty, out),
            Param::Text(v) => v.to_sql_checked(ty, out),
            Param::Bytes(v) => v.to_sql_checked(ty, out),
            Param::Texts(v) => v.to_sql_checked(ty, out),
            Param::Strs(v) => v.to_sql_checked(ty, out),
        }
    }
}
