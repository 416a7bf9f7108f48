//! `livecert admin ca …`: the built-in test CA that issues `CertType=free` certificates — its root
//! certificate exported for clients to trust.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;
use serde_json::json;

use super::report::{fields, Report};
use crate::datadir::DataDir;

/// `livecert admin ca …`.
#[derive(Debug, Subcommand)]
pub enum CaCommand {
    /// Print the test CA's root certificate (PEM) for clients to trust; created if missing.
    Export {
        /// Write the PEM to this file instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// `ca export`: the test CA's root certificate (`<data-dir>/test-ca.pem`), created as `serve`
/// would create it if it does not exist yet, on stdout or in `--out` (mode 0644: it is public).
pub(super) fn ca(data_dir: &Path, command: CaCommand, now: i64) -> anyhow::Result<Report> {
    let CaCommand::Export { out } = command;
    let dir = DataDir::open(data_dir)?;
    let ca = crate::issuer::TestCa::open_or_create(dir.path(), &dir.master_key(false)?, now)?;
    let pem = ca.root_pem().to_owned();
    let Some(out) = out else {
        return Ok(Report::new(json!({ "Certificate": pem }), pem));
    };
    std::fs::write(&out, &pem).with_context(|| format!("writing {}", out.display()))?;
    let file = out.display().to_string();
    Ok(Report::new(
        json!({ "Certificate": pem, "File": file }),
        fields(&[("File", file.clone())]),
    ))
}
