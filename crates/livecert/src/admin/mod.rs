//! `livecert admin`: operator actions on the store — accounts, RAM users, AccessKeys, policies,
//! temporary credentials, the audit log (spec/access.md), and the operator modes of domains and
//! library records (`domain`, `cert`: spec/operations.md rows 8–10, 12, 16, 33). docs/admin.md
//! shows every command.
//!
//! It opens the store directly, beside a running `serve` (SQLite in WAL mode lets both write; it
//! does not take serve's lock), with the same `--data-dir` / `--store` options and the same master
//! key, which it checks against the store's secrets before changing anything, so that no secret
//! is ever sealed under the wrong key. A running `serve` sees every change within a second (its
//! AccessKey cache trusts an entry at most that long). Output is an aligned table, or with
//! `--json` one JSON document on stdout for scripts; errors go to stderr and the exit status is 1.
//!
//! Decisions where the spec is silent:
//! - on a data directory without a store, only `account create` runs (it creates the store and
//!   the master key); every other command refuses, so that a mistyped `--data-dir` does not
//!   quietly create an empty store;
//! - secrets (a created key's, temporary credentials') are printed once on stdout and never
//!   logged; `key import` takes the secret from `--secret-file` as well as `--secret`, so that it
//!   need not appear in the process list;
//! - `migrate` copies an SQLite store into a new PostgreSQL database
//!   (`livecert_store::migrate`); unlike the other commands it names both stores itself and takes
//!   `serve`'s lock on the SQLite one, so it refuses to run beside a `serve`;
//! - account ids are JSON strings (16 digits exceed the integers JSON tools keep exactly); times
//!   are `yyyy-MM-ddTHH:mm:ssZ`.
//!
//! Code map: this file holds the command tree's root ([`AdminArgs`], [`AdminCommand`]), the
//! dispatch, the store opened and checked, and what every command shares (errors as the operator
//! reads them, input from a file or stdin); one file per noun of the command tree (`account`,
//! `user`, `key`, `policy`, `sts`, `audit`, `domain`, `cert`, `ca`, `acme`, `migrate`); `report` renders
//! what a command prints.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use livecert_store::{Store, StoreError, WriteError};

mod account;
mod acme;
mod audit;
mod ca;
mod cert;
mod domain;
mod key;
mod migrate;
mod policy;
mod report;
mod sts;
mod user;

pub use account::AccountCommand;
pub use acme::{AcmeCommand, StatusArgs as AcmeStatusArgs};
pub use audit::AuditArgs;
pub use ca::CaCommand;
pub use cert::CertCommand;
pub use domain::{DomainCommand, Switch};
pub use key::KeyCommand;
pub use migrate::MigrateArgs;
pub use policy::PolicyCommand;
pub use sts::StsCommand;
pub use user::UserCommand;

use crate::clock::{Clock, SystemClock};
use crate::datadir::DataDir;
use crate::store_location::{open_store_at, StoreLocation};
use report::Report;

/// `livecert admin [--data-dir D] [--store URL] [--json] <command>`.
#[derive(Debug, Args)]
pub struct AdminArgs {
    /// Data directory: master.key, credentials, livecert.db.
    #[arg(
        long,
        default_value = "./livecert-data",
        env = "LIVECERT_DATA_DIR",
        global = true
    )]
    pub data_dir: PathBuf,
    /// Store URL: sqlite://<path> (default: sqlite://<data-dir>/livecert.db) or
    /// postgres://user@host:port/database. Given before the command; not for `migrate`, which
    /// names its two stores with --from and --to.
    #[arg(long)]
    pub store: Option<String>,
    /// Print one JSON document on stdout instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: AdminCommand,
}

/// The admin commands.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Accounts: create, list, suspend, resume.
    #[command(subcommand)]
    Account(AccountCommand),
    /// RAM users of an account: create, list, delete.
    #[command(subcommand)]
    User(UserCommand),
    /// AccessKeys: create, import, list, disable, enable, delete.
    #[command(subcommand)]
    Key(KeyCommand),
    /// RAM policies: create, list, show, attach, detach, delete.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Temporary credentials (STS) for a user.
    #[command(subcommand)]
    Sts(StsCommand),
    /// List the audit log, newest first.
    Audit(AuditArgs),
    /// Domains' operator flags: set, show.
    #[command(subcommand)]
    Domain(DomainCommand),
    /// Library records: revoke, delete.
    #[command(subcommand)]
    Cert(CertCommand),
    /// The built-in test CA that issues `CertType=free` certificates.
    #[command(subcommand)]
    Ca(CaCommand),
    /// The ACME issuer (`serve --acme-directory`): orders in flight, recent failures, renewals.
    #[command(subcommand)]
    Acme(AcmeCommand),
    /// Copy an SQLite store into a new PostgreSQL database (stop `serve` first).
    Migrate(MigrateArgs),
}

/// Runs one admin command and prints its result on stdout.
pub async fn run(args: AdminArgs) -> anyhow::Result<()> {
    let json = args.json;
    let report = match &args.command {
        AdminCommand::Migrate(_) if args.store.is_some() => anyhow::bail!(
            "migrate names its stores with --from sqlite://… and --to postgres://…; drop --store"
        ),
        AdminCommand::Migrate(migration) => migrate::migrate(&args.data_dir, migration).await?,
        _ => on_store(args).await?,
    };
    if json {
        let text = serde_json::to_string_pretty(&report.json).context("rendering JSON")?;
        println!("{text}");
    } else {
        print!("{}", report.text);
    }
    if let Some(note) = report.note {
        eprintln!("{note}");
    }
    Ok(())
}

/// Runs a command on the store named by `--data-dir` / `--store`.
async fn on_store(args: AdminArgs) -> anyhow::Result<Report> {
    let store = open(&args).await?;
    let now = SystemClock.now();
    Ok(match args.command {
        AdminCommand::Account(command) => account::account(&store, command, now).await?,
        AdminCommand::User(command) => user::user(&store, command, now).await?,
        AdminCommand::Key(command) => key::key(&store, command, now).await?,
        AdminCommand::Policy(command) => policy::policy(&store, command, now).await?,
        AdminCommand::Sts(command) => sts::sts(&store, command, now).await?,
        AdminCommand::Audit(args) => audit::audit(&store, args).await?,
        AdminCommand::Domain(command) => domain::domain(&store, command, now).await?,
        AdminCommand::Cert(command) => cert::cert(&store, command, now).await?,
        AdminCommand::Ca(command) => ca::ca(&args.data_dir, command, now)?,
        AdminCommand::Acme(command) => acme::acme(&store, command, now).await?,
        AdminCommand::Migrate(_) => bail!("`migrate` names its own stores: --from and --to"),
    })
}

/// Opens the store named by the options, checks the master key against it, and refuses a store
/// that does not exist unless the command is `account create`.
async fn open(args: &AdminArgs) -> anyhow::Result<Store> {
    let creates = matches!(args.command, AdminCommand::Account(AccountCommand::Create));
    if !creates && args.store.is_none() && !args.data_dir.exists() {
        bail!(
            "there is no data directory {}: run `livecert serve` or `livecert admin account create` first, or pass --data-dir",
            args.data_dir.display()
        );
    }
    let dir = DataDir::open(&args.data_dir)?;
    let location = StoreLocation::parse(&dir, args.store.as_deref())?;
    if let StoreLocation::Sqlite(path) = &location {
        if !creates && !path.exists() {
            bail!(
                "there is no store {}: run `livecert serve` or `livecert admin account create` first, or pass --data-dir / --store",
                path.display()
            );
        }
    }
    let store = open_store_at(&dir, &location, creates).await?;
    store.verify_master_key().await.context(
        "the master key does not open this store's secrets: use the master.key (or LIVECERT_MASTER_KEY) the store was created with",
    )?;
    Ok(store)
}

/// The contents of `path`, or of stdin for `-`.
fn read_input(path: &Path) -> anyhow::Result<String> {
    if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading stdin")?;
        return Ok(text);
    }
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

/// A store refusal or failure as the operator reads it.
fn write_error(e: WriteError) -> anyhow::Error {
    match e {
        WriteError::Refused(api) if !api.detail.is_empty() => anyhow::anyhow!("{}", api.detail),
        WriteError::Refused(api) => anyhow::anyhow!("{}", api.message()),
        WriteError::Store(e) => store_error(e),
    }
}

fn store_error(e: StoreError) -> anyhow::Error {
    anyhow::Error::new(e)
}
