//! `livecert admin migrate`: an SQLite store copied into a new PostgreSQL database
//! (`livecert_store::migrate`), under `serve`'s lock on the SQLite one.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::Args;
use livecert_store::StoreError;
use serde_json::{json, Value};

use super::report::{table, Report};
use crate::datadir::DataDir;

/// `livecert admin migrate --from sqlite://<path> --to postgres://<url>`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The SQLite store to copy: sqlite://<path> (only read).
    #[arg(long)]
    pub from: String,
    /// The PostgreSQL database to copy it into: postgres://user@host:port/database (new, or
    /// without accounts).
    #[arg(long)]
    pub to: String,
}

/// `migrate`: copies the SQLite store `--from` into the empty PostgreSQL database `--to` with
/// the data directory's master key (secrets stay sealed under it), refusing while a `serve` holds
/// the SQLite store's lock; prints the rows copied per table.
pub(super) async fn migrate(data_dir: &Path, args: &MigrateArgs) -> anyhow::Result<Report> {
    let Some(path) = args.from.strip_prefix("sqlite://") else {
        bail!("--from must be sqlite://<path> (the data directory's livecert.db)");
    };
    let path = PathBuf::from(path);
    if !(args.to.starts_with("postgres://") || args.to.starts_with("postgresql://")) {
        bail!("--to must be postgres://user@host:port/database");
    }
    if !path.is_file() {
        bail!("there is no SQLite store {}: check --from", path.display());
    }
    let dir = DataDir::open(data_dir)?;
    let key = dir.master_key(false)?;
    // Writes a running serve made after the copy would be lost: it must be stopped.
    let _lock = DataDir::lock_for_serve(&path)
        .context("stop `livecert serve` on this store before migrating it")?;
    let target = livecert_store::redact_url(&args.to);
    let report = livecert_store::migrate::sqlite_to_postgres(&path, &args.to, Arc::new(key))
        .await
        .map_err(|e| match e {
            StoreError::Secret(_) => anyhow::Error::new(e).context(
                "the master key does not open the SQLite store's secrets: pass the --data-dir \
                 (master.key, or LIVECERT_MASTER_KEY) the store was created with; nothing was written",
            ),
            other => anyhow::Error::new(other).context(format!(
                "migrating {} into {target} (nothing was written to PostgreSQL)",
                path.display()
            )),
        })?;
    let rows: Vec<Vec<String>> = report
        .tables
        .iter()
        .map(|(table, count)| vec![(*table).to_owned(), count.to_string()])
        .collect();
    let mut text = table(&["Table", "Rows"], &rows);
    let _ = writeln!(text, "Change counter {}", report.change_counter);
    let _ = writeln!(text, "Next CertId    {}", report.next_cert_id);
    let counts: serde_json::Map<String, Value> = report
        .tables
        .iter()
        .map(|(table, count)| ((*table).to_owned(), json!(count)))
        .collect();
    Ok(Report {
        json: json!({
            "Tables": counts,
            "ChangeCounter": report.change_counter,
            "NextCertId": report.next_cert_id,
        }),
        text,
        note: Some(format!(
            "Copied into {target}. Start serve with --store {target} and the same master key; \
             keep {} as a backup.",
            path.display()
        )),
    })
}
