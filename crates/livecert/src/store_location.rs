//! Where a store lives and how a command opens it: `--store` (`sqlite://<path>`, the default
//! `<data-dir>/livecert.db`, or a PostgreSQL URL) and the master key of the data directory. Used
//! by `serve`, `edge` and `admin` alike, so that none of them depends on another.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use livecert_core::secret::MasterKey;
use livecert_store::Store;

use crate::datadir::DataDir;

/// Where `--store` points: `sqlite://<path>` (the default: `<data-dir>/livecert.db`) or
/// `postgres://…` / `postgresql://…` (libpq's URL form, e.g.
/// `postgres://livecert:secret@db.internal:5432/livecert`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// An SQLite database file.
    Sqlite(PathBuf),
    /// A PostgreSQL database, by URL.
    Postgres(String),
}

impl StoreLocation {
    /// The store named by `--store`, or the data directory's SQLite database.
    /// Errors: an unsupported URL scheme.
    pub fn parse(dir: &DataDir, store_url: Option<&str>) -> anyhow::Result<Self> {
        match store_url {
            None => Ok(Self::Sqlite(dir.sqlite_path())),
            Some(url) => {
                if let Some(path) = url.strip_prefix("sqlite://") {
                    Ok(Self::Sqlite(PathBuf::from(path)))
                } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
                    Ok(Self::Postgres(url.to_owned()))
                } else {
                    bail!(
                        "--store {}: use sqlite://<path> or postgres://user@host:port/database",
                        livecert_store::redact_url(url)
                    )
                }
            }
        }
    }

    /// For messages and logs: the path, or the URL with its password hidden.
    pub fn describe(&self) -> String {
        match self {
            Self::Sqlite(path) => path.display().to_string(),
            Self::Postgres(url) => livecert_store::redact_url(url),
        }
    }
}

/// Opens the store named by `--store` (or the data directory's SQLite database) with the master
/// key; a missing `master.key` is generated only for a new store (an SQLite file that does not
/// exist yet, a PostgreSQL database without any account).
/// Errors: an unsupported URL scheme, an unreadable or missing master key, a store that cannot be
/// opened.
pub async fn open_store(dir: &DataDir, store_url: Option<&str>) -> anyhow::Result<Store> {
    open_store_at(dir, &StoreLocation::parse(dir, store_url)?, true).await
}

/// Opens the store at `location`. `may_generate_key`: a missing master key may be generated for
/// a new store (`serve`, `admin account create`); otherwise (`edge`, other `admin` commands) a
/// missing key is an error.
/// Errors: as [`open_store`].
pub async fn open_store_at(
    dir: &DataDir,
    location: &StoreLocation,
    may_generate_key: bool,
) -> anyhow::Result<Store> {
    match location {
        StoreLocation::Sqlite(path) => {
            let master_key = Arc::new(dir.master_key(may_generate_key && !path.exists())?);
            Store::open_sqlite(path, master_key)
                .with_context(|| format!("opening the store {}", path.display()))
        }
        StoreLocation::Postgres(url) => {
            let opening = || format!("opening the store {}", livecert_store::redact_url(url));
            if let Some(key) = dir.existing_master_key()? {
                return Store::open_postgres(url, Arc::new(key)).with_context(opening);
            }
            if !may_generate_key {
                // The data directory's own message for a missing key.
                dir.master_key(false)?;
            }
            // A new key only for a database in which nothing can have been sealed yet.
            let (key, text) = MasterKey::generate().context("generating a master key")?;
            let store = Store::open_postgres(url, Arc::new(key)).with_context(opening)?;
            if !store.is_empty().await.with_context(opening)? {
                dir.master_key(false)?;
            }
            dir.save_master_key(&text)?;
            Ok(store)
        }
    }
}
