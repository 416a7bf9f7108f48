//! The SQLite backend: how connections are opened and configured, the pool of read-only
//! connections, and the mapping of SQLite errors to [`StoreError`].
//!
//! One write connection belongs to the writer thread ([`group_commit`]); reads use a small pool
//! of read-only connections that WAL lets run beside the writer without blocking it. Every
//! connection has a busy timeout and a prepared-statement cache; the write connection turns on
//! WAL, `synchronous=FULL` (a commit returns only after the WAL is on disk) and foreign keys.
//!
//! - [`schema`]: migrations applied on open.
//! - [`group_commit`]: the writer thread.
//! - [`tx`]: the seam's implementation ([`SqliteTx`]): the store's statements (`crate::sql`) run
//!   on a connection of this backend.
//! - [`audit`](mod@audit): the audit flusher's batch insert.

pub(crate) mod audit;
pub(crate) mod group_commit;
pub(crate) mod schema;
pub(crate) mod tx;

pub(crate) use tx::SqliteTx;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::StoreError;

/// How long a statement waits for a lock held by another connection or process.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Prepared statements cached per connection.
const STATEMENT_CACHE: usize = 64;
/// Idle read connections kept open.
const MAX_IDLE_READERS: usize = 32;
/// The WAL file is truncated to at most this many bytes after a checkpoint.
const WAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;

/// Opens the write connection at `path`, creating the file if needed (mode 0600, whatever the
/// umask: see [`make_private`]), and configures it.
///
/// Errors: `Unavailable` when the file cannot be created, made private or opened, or WAL cannot
/// be turned on.
pub(crate) fn open_writer(path: &Path) -> Result<Connection, StoreError> {
    make_private(path)?;
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| StoreError::Unavailable(format!("cannot open {}: {e}", path.display())))?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(sql_unavailable)?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(sql_unavailable)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Unavailable(format!(
            "cannot turn on WAL for {} (journal mode is {mode})",
            path.display()
        )));
    }
    conn.execute_batch(&format!(
        "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA journal_size_limit = {WAL_SIZE_LIMIT};"
    ))
    .map_err(sql_unavailable)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// The files of a SQLite database: the database, its WAL and its shared-memory index.
const DATABASE_FILE_SUFFIXES: [&str; 3] = ["", "-wal", "-shm"];

/// Makes the database at `path` readable by its owner only, whatever the umask: creates it empty
/// with mode 0600 when it does not exist (SQLite takes an empty file as a new database), and takes
/// the group and other bits off it and off its `-wal` and `-shm` files when they exist (a store
/// created by an earlier version, or copied in). SQLite creates `-wal` and `-shm` with the
/// database file's own mode (its unix VFS), so they are 0600 from then on.
///
/// Errors: `Unavailable` when the file cannot be created or its mode cannot be changed.
fn make_private(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let failed = |what: &Path, e: std::io::Error| {
        StoreError::Unavailable(format!(
            "cannot make {} private to its owner: {e}",
            what.display()
        ))
    };
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| failed(path, e))?;
    for suffix in DATABASE_FILE_SUFFIXES {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let file = PathBuf::from(name);
        let mode = match std::fs::metadata(&file) {
            Ok(metadata) => metadata.permissions().mode(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(failed(&file, e)),
        };
        if mode & 0o077 != 0 {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode & 0o700))
                .map_err(|e| failed(&file, e))?;
        }
    }
    Ok(())
}

/// Fsyncs the directory that holds `path`, so that a newly created database file survives a power
/// loss (SQLite itself syncs the directory when it creates the WAL).
pub(crate) fn sync_parent_dir(path: &Path) {
    #[cfg(unix)]
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        if let Err(e) = std::fs::File::open(dir).and_then(|d| d.sync_all()) {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot fsync the database directory");
        }
    }
}

/// The SQLite backend of a [`crate::Store`]: the writer thread and the read pool.
pub(crate) struct SqliteBackend {
    /// The group-committing writer.
    pub(crate) writer: group_commit::Writer,
    readers: Arc<ReadPool>,
}

impl SqliteBackend {
    /// A backend writing through `writer` and reading the database at `path`.
    pub(crate) fn new(writer: group_commit::Writer, path: &Path) -> Self {
        Self {
            writer,
            readers: Arc::new(ReadPool::new(path)),
        }
    }

    /// Runs a read on a pooled read-only connection: on the calling thread when a connection is
    /// idle, else on tokio's blocking pool. A read in WAL mode never waits for the writer, and the
    /// pages it reads are in SQLite's cache or the OS's, so it takes microseconds: less than
    /// handing it to another thread and waking the caller (issue 14's profile: a third of the
    /// server's CPU under a Describe load went to those hand-offs).
    pub(crate) async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        if let Some(conn) = self.readers.take_idle() {
            return self.readers.run(conn, f);
        }
        let readers = Arc::clone(&self.readers);
        tokio::task::spawn_blocking(move || readers.with(f))
            .await
            .map_err(|e| StoreError::Failed(format!("read task failed: {e}")))?
    }
}

/// A pool of read-only connections. A read takes an idle connection (or opens one), runs, and
/// gives it back; at most [`MAX_IDLE_READERS`] stay open.
pub(crate) struct ReadPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl ReadPool {
    /// A pool for the database at `path` (which must exist and be in WAL mode).
    pub(crate) fn new(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Runs `f` on a read connection, idle or new. Blocks: call it from `spawn_blocking`.
    pub(crate) fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = match self.take_idle() {
            Some(conn) => conn,
            None => self.open()?,
        };
        self.run(conn, f)
    }

    /// An idle connection, if there is one.
    fn take_idle(&self) -> Option<Connection> {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
    }

    /// Runs `f` on `conn`, then keeps `conn` for the next read (unless enough are idle).
    fn run<T>(
        &self,
        mut conn: Connection,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let result = f(&mut conn);
        if !conn.is_autocommit() {
            // A read transaction left open by an error: end it, or drop the connection.
            if conn.execute_batch("ROLLBACK").is_err() {
                return result;
            }
        }
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
        result
    }

    fn open(&self) -> Result<Connection, StoreError> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| {
            StoreError::Unavailable(format!("cannot open {}: {e}", self.path.display()))
        })?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(sql_unavailable)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(conn)
    }
}

/// A statement failed: [`StoreError::Failed`] with SQLite's message. (By value, for `map_err`.)
#[allow(clippy::needless_pass_by_value)]
pub(crate) fn sql_failed(e: rusqlite::Error) -> StoreError {
    StoreError::Failed(e.to_string())
}

/// The database cannot be used now: [`StoreError::Unavailable`] with SQLite's message.
#[allow(clippy::needless_pass_by_value)]
pub(crate) fn sql_unavailable(e: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

/// Busy, locked or unopenable → `Unavailable`; anything else → `Failed`.
pub(crate) fn sql_error(e: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode as C;
    match e.sqlite_error_code() {
        Some(C::DatabaseBusy | C::DatabaseLocked | C::CannotOpen | C::NotADatabase) => {
            sql_unavailable(e)
        }
        _ => sql_failed(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The durability settings are in effect on the write connection.
    #[test]
    fn the_writer_is_wal_synchronous_full_with_foreign_keys() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open_writer(&dir.path().join("t.db")).unwrap();
        let pragma = |name: &str| -> String {
            conn.query_row(&format!("PRAGMA {name}"), [], |r| {
                r.get::<_, rusqlite::types::Value>(0)
            })
            .map(|v| format!("{v:?}"))
            .unwrap()
        };
        assert_eq!(pragma("journal_mode"), "Text(\"wal\")");
        assert_eq!(pragma("synchronous"), "Integer(2)"); // FULL
        assert_eq!(pragma("foreign_keys"), "Integer(1)");
        assert_eq!(pragma("busy_timeout"), "Integer(5000)");
        assert_eq!(
            pragma("journal_size_limit"),
            format!("Integer({WAL_SIZE_LIMIT})")
        );
    }
}
