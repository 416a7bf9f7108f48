//! Moving a store from SQLite to PostgreSQL (`livecert admin migrate`): every table copied row for
//! row, sealed secrets as bytes, in one PostgreSQL write transaction.
//!
//! The steps of [`sqlite_to_postgres`]:
//!
//! 1. Open the SQLite database (applying its migrations, so an older data directory is brought up
//!    to date) and check that the master key opens one of its sealed secrets
//!    ([`Store::verify_master_key`]): nothing is re-encrypted, so PostgreSQL needs the same key.
//! 2. Read every table in one SQLite read transaction (one consistent state; SQLite is only
//!    read).
//! 3. Open the PostgreSQL database (applying its migrations) and, in one write transaction under
//!    the write lock every PostgreSQL write takes: refuse if it holds any account or audit row
//!    (never merge); insert the rows in foreign-key order (accounts, sequences, certificates,
//!    domains, RAM users, policies, attachments, AccessKeys, the audit log) with their ids; replace
//!    `edge_changes` (the domain triggers filled it while inserting) with SQLite's; set the change
//!    counter to SQLite's, the CertId counter past every copied CertId, and the identity sequences
//!    of RAM users, policies and the audit log past every id SQLite ever gave; count the rows of
//!    every table and compare them with SQLite's. Any failure rolls everything back.
//!
//! Rate-limit buckets and nonces are not copied: SQLite keeps them in the memory of its one
//! `serve`, which must be stopped for the move.

use std::path::Path;
use std::sync::Arc;

use livecert_core::secret::MasterKey;
use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags};
use tokio_postgres::types::ToSql;

use crate::postgres::{execute, get, query_one, Conn};
use crate::sqlite::sql_failed;
use crate::{Backend, Store, StoreError, Touches, WriteError};

/// What [`sqlite_to_postgres`] copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    /// Rows per table, in the order copied (the same count in both databases).
    pub tables: Vec<(&'static str, u64)>,
    /// The change counter, now PostgreSQL's.
    pub change_counter: u64,
    /// The next CertId PostgreSQL gives.
    pub next_cert_id: u64,
}

/// How a column's SQLite value becomes a PostgreSQL parameter.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// INTEGER → BIGINT.
    Int,
    /// INTEGER 0/1 → BOOLEAN.
    Bool,
    /// TEXT → TEXT.
    Text,
    /// BLOB → BYTEA (sealed secrets: copied as bytes).
    Blob,
    /// A JSON array of strings → TEXT[].
    Array,
}

/// One copied table: its name, columns, and whether its ids come from an identity column.
struct Table {
    name: &'static str,
    columns: &'static [(&'static str, Kind)],
    identity: bool,
}

use Kind::{Array, Blob, Bool, Int, Text};

/// The tables copied row for row, in foreign-key order. (`sequences`, `changes` and
/// `edge_changes` are set apart.)
const TABLES: &[Table] = &[
    Table {
        name: "accounts",
        columns: &[("id", Int), ("status", Text), ("created", Int)],
        identity: false,
    },
    Table {
        name: "certificates",
        columns: &[
            ("cert_id", Int),
            ("account_id", Int),
            ("cert_name", Text),
            ("cert_type", Text),
            ("status", Text),
            ("chain_pem", Text),
            ("private_key_sealed", Blob),
            ("fingerprint_sha256", Text),
            ("spki_sha256", Text),
            ("subject_cn", Text),
            ("dns_sans", Array),
            ("issuer_cn", Text),
            ("issuer_org", Text),
            ("serial_hex", Text),
            ("not_before", Int),
            ("not_after", Int),
            ("key_algorithm", Text),
            ("key_bits", Int),
            ("created", Int),
            ("last_changed", Int),
        ],
        identity: false,
    },
    Table {
        name: "domains",
        columns: &[
            ("name", Text),
            ("account_id", Int),
            ("status", Text),
            ("live_domain_type", Text),
            ("region", Text),
            ("scope", Text),
            ("check_url", Text),
            ("top_level_domain", Text),
            ("resource_group_id", Text),
            ("description", Text),
            ("https", Bool),
            ("cert_id", Int),
            ("locked", Bool),
            ("safe_mode", Bool),
            ("protected_mode", Bool),
            ("https_required", Bool),
            ("functions", Array),
            ("created", Int),
            ("modified", Int),
            ("origin", Text),
        ],
        identity: false,
    },
    Table {
        name: "ram_users",
        columns: &[
            ("id", Int),
            ("account_id", Int),
            ("name", Text),
            ("created", Int),
        ],
        identity: true,
    },
    Table {
        name: "ram_policies",
        columns: &[
            ("id", Int),
            ("account_id", Int),
            ("name", Text),
            ("document", Text),
            ("created", Int),
        ],
        identity: true,
    },
    Table {
        name: "ram_attachments",
        columns: &[("account_id", Int), ("policy_id", Int), ("user_id", Int)],
        identity: false,
    },
    Table {
        name: "access_keys",
        columns: &[
            ("id", Text),
            ("account_id", Int),
            ("user_id", Int),
            ("secret_sealed", Blob),
            ("status", Text),
            ("created", Int),
            ("sts_expires_at", Int),
            ("sts_token_sha256", Blob),
            ("sts_session_policy", Text),
        ],
        identity: false,
    },
    Table {
        name: "audit_log",
        columns: &[
            ("id", Int),
            ("time", Int),
            ("request_id", Text),
            ("account_id", Int),
            ("principal", Text),
            ("access_key_id", Text),
            ("source_ip", Text),
            ("operation", Text),
            ("domain", Text),
            ("cert_name", Text),
            ("cert_id", Int),
            ("outcome", Text),
        ],
        identity: true,
    },
    Table {
        name: "audit_pending",
        columns: &[
            ("id", Int),
            ("time", Int),
            ("request_id", Text),
            ("account_id", Int),
            ("principal", Text),
            ("access_key_id", Text),
            ("source_ip", Text),
            ("operation", Text),
            ("domain", Text),
            ("cert_name", Text),
            ("cert_id", Int),
            ("outcome", Text),
        ],
        identity: true,
    },
    Table {
        name: "edge_changes",
        columns: &[("domain", Text), ("counter", Int)],
        identity: false,
    },
];

/// One value, typed for PostgreSQL (NULL keeps its column's type).
#[derive(Debug)]
enum Param {
    Int(Option<i64>),
    Bool(Option<bool>),
    Text(Option<String>),
    Blob(Option<Vec<u8>>),
    Array(Vec<String>),
}

impl Param {
    fn sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Self::Int(v) => v,
            Self::Bool(v) => v,
            Self::Text(v) => v,
            Self::Blob(v) => v,
            Self::Array(v) => v,
        }
    }

    /// `value` of column `column` of `table` as `kind`; a value of another type is `Failed`.
    fn from_sqlite(
        table: &str,
        column: &str,
        kind: Kind,
        value: Value,
    ) -> Result<Self, StoreError> {
        let wrong = |value: &Value| {
            StoreError::Failed(format!(
                "{table}.{column}: unexpected SQLite value {:?}",
                value.data_type()
            ))
        };
        Ok(match (kind, value) {
            (Kind::Int, Value::Null) => Self::Int(None),
            (Kind::Int, Value::Integer(i)) => Self::Int(Some(i)),
            (Kind::Bool, Value::Null) => Self::Bool(None),
            (Kind::Bool, Value::Integer(i)) => Self::Bool(Some(i != 0)),
            (Kind::Text, Value::Null) => Self::Text(None),
            (Kind::Text, Value::Text(s)) => Self::Text(Some(s)),
            (Kind::Blob, Value::Null) => Self::Blob(None),
            (Kind::Blob, Value::Blob(b)) => Self::Blob(Some(b)),
            (Kind::Array, Value::Text(s)) => {
                Self::Array(serde_json::from_str(&s).map_err(|e| {
                    StoreError::Failed(format!(
                        "{table}.{column}: not a JSON array of strings: {e}"
                    ))
                })?)
            }
            (_, other) => return Err(wrong(&other)),
        })
    }
}

/// Everything read from SQLite.
struct Source {
    /// Rows of each of [`TABLES`], in its order.
    rows: Vec<Vec<Vec<Param>>>,
    /// `sequences`: name and next value.
    sequences: Vec<(String, i64)>,
    /// The change counter.
    counter: i64,
    /// The highest id SQLite's AUTOINCREMENT gave, per table (`sqlite_sequence`).
    autoincrement: Vec<(String, i64)>,
}

/// Copies the SQLite store at `sqlite_path` into the PostgreSQL database at `postgres_url` (see
/// the module documentation), with `master_key`, the key of the SQLite store. Returns the rows
/// copied per table. Blocks while it opens the databases (as [`Store::open_sqlite`] and
/// [`Store::open_postgres`] do); must run inside a tokio runtime.
///
/// The caller makes sure no `serve` writes to the SQLite database meanwhile (`livecert admin
/// migrate` refuses while one holds its lock): writes after the read would not be copied.
///
/// Errors: `Unavailable` if a database cannot be opened (the SQLite file must exist);
/// `Secret` if `master_key` does not open the SQLite store's secrets (nothing was written);
/// `Failed` if PostgreSQL already holds an account or audit rows, a row does not convert or
/// insert, or the counts differ (nothing was written).
pub async fn sqlite_to_postgres(
    sqlite_path: &Path,
    postgres_url: &str,
    master_key: Arc<MasterKey>,
) -> Result<MigrationReport, StoreError> {
    if !sqlite_path.is_file() {
        return Err(StoreError::Unavailable(format!(
            "there is no SQLite database {}",
            sqlite_path.display()
        )));
    }
    {
        let source = Store::open_sqlite(sqlite_path, Arc::clone(&master_key))?;
        source.verify_master_key().await?;
    }
    let path = sqlite_path.to_owned();
    let source = tokio::task::spawn_blocking(move || read_sqlite(&path))
        .await
        .map_err(|e| StoreError::Failed(format!("read task failed: {e}")))??;
    let target = Store::open_postgres(postgres_url, master_key)?;
    let Backend::Postgres(backend) = &target.inner.backend else {
        return Err(StoreError::Failed("not a PostgreSQL store".into()));
    };
    let report = backend
        .write(Touches::Keys, false, move |conn| {
            Box::pin(async move { copy(conn, &source).await.map_err(WriteError::Store) })
        })
        .await
        .map_err(|e| match e {
            WriteError::Store(e) => e,
            WriteError::Refused(e) => StoreError::Failed(e.to_string()),
        })?;
    Ok(report)
}

/// Reads every table of the SQLite database at `path` in one read transaction.
fn read_sqlite(path: &Path) -> Result<Source, StoreError> {
    let mut conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| StoreError::Unavailable(format!("cannot open {}: {e}", path.display())))?;
    conn.busy_timeout(crate::sqlite::BUSY_TIMEOUT)
        .map_err(crate::sqlite::sql_unavailable)?;
    let tx = conn.transaction().map_err(crate::sqlite::sql_error)?;
    let mut rows = Vec::with_capacity(TABLES.len());
    for table in TABLES {
        let names: Vec<&str> = table.columns.iter().map(|(name, _)| *name).collect();
        let sql = format!("SELECT {} FROM {}", names.join(", "), table.name);
        let mut statement = tx.prepare(&sql).map_err(sql_failed)?;
        let mut result = statement.query([]).map_err(sql_failed)?;
        let mut table_rows = Vec::new();
        while let Some(row) = result.next().map_err(sql_failed)? {
            let mut values = Vec::with_capacity(table.columns.len());
            for (i, (column, kind)) in table.columns.iter().enumerate() {
                let value: Value = row.get(i).map_err(sql_failed)?;
                values.push(Param::from_sqlite(table.name, column, *kind, value)?);
            }
            table_rows.push(values);
        }
        rows.push(table_rows);
    }
    let sequences = collect(&tx, "SELECT name, next FROM sequences")?;
    let autoincrement = collect(&tx, "SELECT name, seq FROM sqlite_sequence")?;
    let counter = tx
        .query_row("SELECT counter FROM changes WHERE id = 1", [], |r| r.get(0))
        .map_err(sql_failed)?;
    drop(tx);
    Ok(Source {
        rows,
        sequences,
        counter,
        autoincrement,
    })
}

/// The (name, integer) pairs a query returns.
fn collect(conn: &Connection, sql: &str) -> Result<Vec<(String, i64)>, StoreError> {
    let mut statement = conn.prepare(sql).map_err(sql_failed)?;
    let rows = statement
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(sql_failed)?;
    rows.collect::<Result<_, _>>().map_err(sql_failed)
}

/// The copy, inside the PostgreSQL write transaction.
async fn copy(conn: &Conn, source: &Source) -> Result<MigrationReport, StoreError> {
    let row = query_one(
        conn,
        "SELECT (SELECT count(*) FROM accounts), (SELECT count(*) FROM audit_log), \
         (SELECT counter FROM changes WHERE id = 1)",
        &[],
    )
    .await?;
    let (accounts, audit, counter_before): (i64, i64, i64) =
        (get(&row, 0)?, get(&row, 1)?, get(&row, 2)?);
    if accounts > 0 || audit > 0 {
        return Err(StoreError::Failed(format!(
            "the PostgreSQL database is not empty ({accounts} accounts, {audit} audit rows): \
             migrate only into a new database (nothing was written)"
        )));
    }
    for (table, rows) in TABLES.iter().zip(&source.rows) {
        if table.name == "edge_changes" {
            // The domain triggers recorded every inserted domain: SQLite's rows replace them.
            execute(conn, "DELETE FROM edge_changes", &[]).await?;
        }
        let names: Vec<&str> = table.columns.iter().map(|(name, _)| *name).collect();
        let placeholders: Vec<String> = (1..=names.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "INSERT INTO {} ({}){} VALUES ({})",
            table.name,
            names.join(", "),
            if table.identity {
                " OVERRIDING SYSTEM VALUE"
            } else {
                ""
            },
            placeholders.join(", ")
        );
        for row in rows {
            let params: Vec<&(dyn ToSql + Sync)> = row.iter().map(Param::sql).collect();
            execute(conn, &sql, &params)
                .await
                .map_err(|e| StoreError::Failed(format!("copying {}: {e}", table.name)))?;
        }
        if table.name == "certificates" {
            for (name, next) in &source.sequences {
                execute(
                    conn,
                    "INSERT INTO sequences (name, next) VALUES ($1, $2) \
                     ON CONFLICT (name) DO UPDATE SET next = excluded.next",
                    &[name, next],
                )
                .await?;
            }
            // Never below a copied CertId, whatever SQLite's counter said.
            execute(
                conn,
                "UPDATE sequences SET next = greatest(next, \
                 (SELECT coalesce(max(cert_id), 0) + 1 FROM certificates)) WHERE name = 'cert_id'",
                &[],
            )
            .await?;
        }
    }
    // Identity sequences continue after every id SQLite ever gave (AUTOINCREMENT never reuses
    // the id of a deleted row; sqlite_sequence remembers the highest).
    for table in TABLES.iter().filter(|t| t.identity) {
        let given = source
            .autoincrement
            .iter()
            .find(|(name, _)| name == table.name)
            .map_or(0, |(_, seq)| *seq);
        let sql = format!(
            "SELECT setval(pg_get_serial_sequence('{0}', 'id'), \
             greatest($1::bigint, (SELECT coalesce(max(id), 0) FROM {0}), 1), \
             greatest($1::bigint, (SELECT coalesce(max(id), 0) FROM {0})) > 0)",
            table.name
        );
        query_one(conn, &sql, &[&given]).await?;
    }
    let counter = source.counter.max(counter_before);
    execute(
        conn,
        "UPDATE changes SET counter = $1 WHERE id = 1",
        &[&counter],
    )
    .await?;
    let mut tables = Vec::with_capacity(TABLES.len());
    for (table, rows) in TABLES.iter().zip(&source.rows) {
        let row = query_one(conn, &format!("SELECT count(*) FROM {}", table.name), &[]).await?;
        let copied: i64 = get(&row, 0)?;
        let expected = u64::try_from(rows.len()).unwrap_or(u64::MAX);
        if u64::try_from(copied).ok() != Some(expected) {
            return Err(StoreError::Failed(format!(
                "{}: {copied} rows in PostgreSQL, {expected} in SQLite (nothing was written)",
                table.name
            )));
        }
        tables.push((table.name, expected));
    }
    let row = query_one(
        conn,
        "SELECT next FROM sequences WHERE name = 'cert_id'",
        &[],
    )
    .await?;
    let next_cert_id: i64 = get(&row, 0)?;
    Ok(MigrationReport {
        tables,
        change_counter: u64::try_from(counter).unwrap_or(0),
        next_cert_id: u64::try_from(next_cert_id).unwrap_or(0),
    })
}
