//! `livecert admin`: operator actions on the store — accounts, RAM users, AccessKeys, policies,
//! temporary credentials, the audit log (spec/access.md), and the operator modes of domains and
//! library records (`operator`: spec/operations.md rows 8–10, 12, 16, 33). docs/admin.md shows
//! every command.
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

use std::fmt::Write as _;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use livecert_core::ram::Policy;
use livecert_core::secret::Secret;
use livecert_core::timefmt::{format_utc, parse_utc};
use livecert_store::{
    AccessKeyInfo, AccountId, AuditEntry, AuditFilter, PolicyInfo, Store, StoreError, UserInfo,
    WriteError,
};
use serde_json::{json, Value};

mod operator;

pub use operator::{CertCommand, DomainCommand, Switch};

use crate::clock::{Clock, SystemClock};
use crate::datadir::DataDir;
use crate::server::{open_store_at, StoreLocation};

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
    /// Copy an SQLite store into a new PostgreSQL database (stop `serve` first).
    Migrate(MigrateArgs),
}

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

/// `livecert admin account …`.
#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Create an account (random 16-digit id, active). Creates the store if there is none.
    Create,
    /// List every account.
    List,
    /// Suspend an account: its state-changing calls get AuthenticationFailed.
    Suspend {
        /// The account id.
        id: AccountId,
    },
    /// Reactivate a suspended account.
    Resume {
        /// The account id.
        id: AccountId,
    },
}

/// `livecert admin user …`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a RAM user: 1–64 of A-Z a-z 0-9 . _ @ -, unique in the account.
    Create {
        /// The account.
        #[arg(long)]
        account: AccountId,
        /// The user's name.
        name: String,
    },
    /// List the account's users with their policies.
    List {
        /// The account.
        #[arg(long)]
        account: AccountId,
    },
    /// Delete a user with its AccessKeys and policy attachments.
    Delete {
        /// The account.
        #[arg(long)]
        account: AccountId,
        /// The user's name.
        name: String,
    },
}

/// `livecert admin key …`.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Generate an AccessKey for the account (root credentials) or one of its users; the secret
    /// is printed once.
    Create {
        /// The account.
        #[arg(long)]
        account: AccountId,
        /// The user (default: root credentials of the account).
        #[arg(long)]
        user: Option<String>,
    },
    /// Import an AccessKey with a given id and secret (tests use testid/testsecret).
    Import {
        /// The account.
        #[arg(long)]
        account: AccountId,
        /// The user (default: root credentials of the account).
        #[arg(long)]
        user: Option<String>,
        /// The AccessKeyId: 1–128 printable ASCII characters.
        #[arg(long)]
        id: String,
        /// The secret (visible in the process list: prefer --secret-file).
        #[arg(
            long,
            required_unless_present = "secret_file",
            conflicts_with = "secret_file"
        )]
        secret: Option<String>,
        /// A file holding the secret (one line; `-` for stdin).
        #[arg(long)]
        secret_file: Option<PathBuf>,
    },
    /// List the account's AccessKeys (never their secrets).
    List {
        /// The account.
        #[arg(long)]
        account: AccountId,
    },
    /// Disable an AccessKey: calls signed with it are refused.
    Disable {
        /// The AccessKeyId.
        id: String,
    },
    /// Enable a disabled AccessKey.
    Enable {
        /// The AccessKeyId.
        id: String,
    },
    /// Delete an AccessKey.
    Delete {
        /// The AccessKeyId.
        id: String,
    },
}

/// `livecert admin policy …`.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Create a policy from a JSON document (checked before it is stored).
    Create {
        /// The account.
        #[arg(long)]
        account: AccountId,
        /// The policy's name: 1–128 of A-Z a-z 0-9 . _ -, unique in the account.
        #[arg(long)]
        name: String,
        /// The policy document (`-` for stdin).
        #[arg(long)]
        file: PathBuf,
    },
    /// List the account's policies with the users they are attached to.
    List {
        /// The account.
        #[arg(long)]
        account: AccountId,
    },
    /// Show a policy's document.
    Show {
        /// The account.
        #[arg(long)]
        account: AccountId,
        /// The policy's name.
        #[arg(long)]
        name: String,
    },
    /// Attach a policy to a user.
    Attach {
        /// The account.
        #[arg(long)]
        account: AccountId,
        /// The policy's name.
        #[arg(long)]
        name: String,
        /// The user's name.
        #[arg(long)]
        user: String,
    },
    /// Detach a policy from a user.
    Detach {
        /// The account.
        #[arg(long)]
        account: AccountId,
        /// The policy's name.
        #[arg(long)]
        name: String,
        /// The user's name.
        #[arg(long)]
        user: String,
    },
    /// Delete a policy (detaching it from every user).
    Delete {
        /// The account.
        #[arg(long)]
        account: AccountId,
        /// The policy's name.
        #[arg(long)]
        name: String,
    },
}

/// `livecert admin sts …`.
#[derive(Debug, Subcommand)]
pub enum StsCommand {
    /// Issue temporary credentials that act as a user until they expire.
    Issue {
        /// The account.
        #[arg(long)]
        account: AccountId,
        /// The user they act as.
        #[arg(long)]
        user: String,
        /// Lifetime in seconds, 900 to 43200.
        #[arg(long)]
        duration: u64,
        /// A session policy that narrows the user's own (`-` for stdin).
        #[arg(long)]
        policy_file: Option<PathBuf>,
    },
}

/// `livecert admin audit …`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only this account's entries.
    #[arg(long)]
    pub account: Option<AccountId>,
    /// Only entries at or after this time, yyyy-MM-ddTHH:mm:ssZ.
    #[arg(long)]
    pub since: Option<String>,
    /// Only entries naming this domain.
    #[arg(long)]
    pub domain: Option<String>,
    /// At most this many entries, newest first (0: all).
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
}

/// Runs one admin command and prints its result on stdout.
pub async fn run(args: AdminArgs) -> anyhow::Result<()> {
    let json = args.json;
    let report = match &args.command {
        AdminCommand::Migrate(_) if args.store.is_some() => anyhow::bail!(
            "migrate names its stores with --from sqlite://… and --to postgres://…; drop --store"
        ),
        AdminCommand::Migrate(migration) => migrate(&args.data_dir, migration).await?,
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
        AdminCommand::Account(command) => account(&store, command, now).await?,
        AdminCommand::User(command) => user(&store, command, now).await?,
        AdminCommand::Key(command) => key(&store, command, now).await?,
        AdminCommand::Policy(command) => policy(&store, command, now).await?,
        AdminCommand::Sts(command) => sts(&store, command, now).await?,
        AdminCommand::Audit(args) => audit(&store, args).await?,
        AdminCommand::Domain(command) => operator::domain(&store, command, now).await?,
        AdminCommand::Cert(command) => operator::cert(&store, command, now).await?,
        AdminCommand::Ca(command) => ca(&args.data_dir, command, now)?,
        AdminCommand::Migrate(_) => bail!("`migrate` names its own stores: --from and --to"),
    })
}

/// `migrate`: copies the SQLite store `--from` into the empty PostgreSQL database `--to` with
/// the data directory's master key (secrets stay sealed under it), refusing while a `serve` holds
/// the SQLite store's lock; prints the rows copied per table.
async fn migrate(data_dir: &Path, args: &MigrateArgs) -> anyhow::Result<Report> {
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

/// `ca export`: the test CA's root certificate (`<data-dir>/test-ca.pem`), created as `serve`
/// would create it if it does not exist yet, on stdout or in `--out` (mode 0644: it is public).
fn ca(data_dir: &Path, command: CaCommand, now: i64) -> anyhow::Result<Report> {
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

/// What a command prints: a JSON document (`--json`) or text, and an optional note for stderr.
struct Report {
    json: Value,
    text: String,
    note: Option<String>,
}

impl Report {
    fn new(json: Value, text: String) -> Self {
        Self {
            json,
            text,
            note: None,
        }
    }
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

async fn account(store: &Store, command: AccountCommand, now: i64) -> anyhow::Result<Report> {
    match command {
        AccountCommand::Create => {
            let id = store.create_account(now).await.map_err(store_error)?;
            Ok(Report::new(
                json!({"AccountId": id.to_string(), "Status": "active", "Created": format_utc(now)}),
                fields(&[
                    ("AccountId", id.to_string()),
                    ("Status", "active".into()),
                    ("Created", format_utc(now)),
                ]),
            ))
        }
        AccountCommand::List => {
            let accounts = store.accounts().await.map_err(store_error)?;
            let rows: Vec<Vec<String>> = accounts
                .iter()
                .map(|a| {
                    vec![
                        a.id.to_string(),
                        account_status(a.active).into(),
                        format_utc(a.created),
                    ]
                })
                .collect();
            let list: Vec<Value> = accounts
                .iter()
                .map(|a| {
                    json!({
                        "AccountId": a.id.to_string(),
                        "Status": account_status(a.active),
                        "Created": format_utc(a.created),
                    })
                })
                .collect();
            Ok(Report::new(
                json!({ "Accounts": list }),
                table(&["ACCOUNT ID", "STATUS", "CREATED"], &rows),
            ))
        }
        AccountCommand::Suspend { id } | AccountCommand::Resume { id } => {
            let active = matches!(command, AccountCommand::Resume { .. });
            require_account(store, id).await?;
            store
                .set_account_active(id, active)
                .await
                .map_err(store_error)?;
            let status = account_status(active);
            Ok(Report::new(
                json!({"AccountId": id.to_string(), "Status": status}),
                fields(&[("AccountId", id.to_string()), ("Status", status.into())]),
            ))
        }
    }
}

async fn user(store: &Store, command: UserCommand, now: i64) -> anyhow::Result<Report> {
    match command {
        UserCommand::Create { account, name } => {
            let id = store
                .create_user(account, &name, now)
                .await
                .map_err(write_error)?;
            Ok(Report::new(
                json!({
                    "AccountId": account.to_string(),
                    "UserId": id,
                    "UserName": name,
                    "Created": format_utc(now),
                }),
                fields(&[
                    ("AccountId", account.to_string()),
                    ("UserId", id.to_string()),
                    ("UserName", name),
                    ("Created", format_utc(now)),
                ]),
            ))
        }
        UserCommand::List { account } => {
            require_account(store, account).await?;
            let users = store.users(account).await.map_err(store_error)?;
            Ok(Report::new(
                json!({
                    "AccountId": account.to_string(),
                    "Users": users.iter().map(user_json).collect::<Vec<_>>(),
                }),
                table(
                    &["USER ID", "USER NAME", "CREATED", "POLICIES"],
                    &users
                        .iter()
                        .map(|u| {
                            vec![
                                u.id.to_string(),
                                u.name.clone(),
                                format_utc(u.created),
                                list_or_dash(&u.policies),
                            ]
                        })
                        .collect::<Vec<_>>(),
                ),
            ))
        }
        UserCommand::Delete { account, name } => {
            store
                .delete_user(account, &name)
                .await
                .map_err(write_error)?;
            Ok(Report::new(
                json!({"AccountId": account.to_string(), "UserName": name, "Deleted": true}),
                format!("Deleted user {name} of account {account}, with its AccessKeys.\n"),
            ))
        }
    }
}

async fn key(store: &Store, command: KeyCommand, now: i64) -> anyhow::Result<Report> {
    let enable = matches!(command, KeyCommand::Enable { .. });
    match command {
        KeyCommand::Create { account, user } => {
            let (id, secret) = store
                .create_access_key(account, user.as_deref(), now)
                .await
                .map_err(write_error)?;
            let secret = secret_text(&secret)?;
            let mut report = Report::new(
                json!({
                    "AccountId": account.to_string(),
                    "UserName": user,
                    "AccessKeyId": id,
                    "AccessKeySecret": secret,
                }),
                fields(&[
                    ("AccountId", account.to_string()),
                    ("Principal", user.clone().unwrap_or_else(|| "root".into())),
                    ("AccessKeyId", id.clone()),
                    ("AccessKeySecret", secret.clone()),
                ]),
            );
            report.note =
                Some("The AccessKeySecret is shown only now; it cannot be shown again.".into());
            Ok(report)
        }
        KeyCommand::Import {
            account,
            user,
            id,
            secret,
            secret_file,
        } => {
            let secret = match (secret, secret_file) {
                (Some(s), _) => Secret::new(s.into_bytes()),
                (None, Some(path)) => {
                    let text = read_input(&path)?;
                    let line = text.trim_end_matches(['\r', '\n']);
                    if line.is_empty() || line.contains('\n') {
                        bail!("{} must hold the secret on one line", path.display());
                    }
                    Secret::new(line.as_bytes().to_vec())
                }
                (None, None) => bail!("give --secret or --secret-file"),
            };
            if secret.expose().is_empty() {
                bail!("the secret is empty");
            }
            match &user {
                None => store
                    .import_access_key(account, &id, &secret, now)
                    .await
                    .map_err(store_error)?,
                Some(u) => store
                    .import_user_access_key(account, u, &id, &secret, now)
                    .await
                    .map_err(write_error)?,
            }
            Ok(Report::new(
                json!({"AccountId": account.to_string(), "UserName": user, "AccessKeyId": id}),
                fields(&[
                    ("AccountId", account.to_string()),
                    ("Principal", user.clone().unwrap_or_else(|| "root".into())),
                    ("AccessKeyId", id),
                ]),
            ))
        }
        KeyCommand::List { account } => {
            require_account(store, account).await?;
            let keys = store.access_keys(account).await.map_err(store_error)?;
            Ok(Report::new(
                json!({
                    "AccountId": account.to_string(),
                    "AccessKeys": keys.iter().map(key_json).collect::<Vec<_>>(),
                }),
                table(
                    &["ACCESS KEY ID", "PRINCIPAL", "STATUS", "CREATED", "EXPIRES"],
                    &keys
                        .iter()
                        .map(|k| {
                            vec![
                                k.id.clone(),
                                k.user.clone().unwrap_or_else(|| "root".into()),
                                key_status(k.active).into(),
                                format_utc(k.created),
                                k.expires_at.map_or_else(|| "-".into(), format_utc),
                            ]
                        })
                        .collect::<Vec<_>>(),
                ),
            ))
        }
        KeyCommand::Disable { id } | KeyCommand::Enable { id } => {
            let active = enable;
            store
                .set_access_key_active(&id, active)
                .await
                .map_err(|e| match e {
                    StoreError::Failed(_) => {
                        anyhow::anyhow!("there is no AccessKey {id}")
                    }
                    other => store_error(other),
                })?;
            let status = key_status(active);
            Ok(Report::new(
                json!({"AccessKeyId": id, "Status": status}),
                fields(&[("AccessKeyId", id.clone()), ("Status", status.into())]),
            ))
        }
        KeyCommand::Delete { id } => {
            store.delete_access_key(&id).await.map_err(write_error)?;
            Ok(Report::new(
                json!({"AccessKeyId": id, "Deleted": true}),
                format!("Deleted AccessKey {id}.\n"),
            ))
        }
    }
}

async fn policy(store: &Store, command: PolicyCommand, now: i64) -> anyhow::Result<Report> {
    let attach = matches!(command, PolicyCommand::Attach { .. });
    match command {
        PolicyCommand::Create {
            account,
            name,
            file,
        } => {
            let document = read_policy(&file)?;
            store
                .create_policy(account, &name, &document, now)
                .await
                .map_err(write_error)?;
            Ok(Report::new(
                json!({"AccountId": account.to_string(), "PolicyName": name, "Created": format_utc(now)}),
                fields(&[
                    ("AccountId", account.to_string()),
                    ("PolicyName", name),
                    ("Created", format_utc(now)),
                ]),
            ))
        }
        PolicyCommand::List { account } => {
            require_account(store, account).await?;
            let policies = store.policies(account).await.map_err(store_error)?;
            Ok(Report::new(
                json!({
                    "AccountId": account.to_string(),
                    "Policies": policies.iter().map(|p| policy_json(p, false)).collect::<Vec<_>>(),
                }),
                table(
                    &["POLICY NAME", "CREATED", "USERS"],
                    &policies
                        .iter()
                        .map(|p| {
                            vec![
                                p.name.clone(),
                                format_utc(p.created),
                                list_or_dash(&p.users),
                            ]
                        })
                        .collect::<Vec<_>>(),
                ),
            ))
        }
        PolicyCommand::Show { account, name } => {
            let Some(p) = store.policy(account, &name).await.map_err(store_error)? else {
                bail!("account {account} has no policy named {name}");
            };
            let mut text = fields(&[
                ("PolicyName", p.name.clone()),
                ("Created", format_utc(p.created)),
                ("Users", list_or_dash(&p.users)),
            ]);
            text.push('\n');
            text.push_str(&p.document);
            if !p.document.ends_with('\n') {
                text.push('\n');
            }
            Ok(Report::new(policy_json(&p, true), text))
        }
        PolicyCommand::Attach {
            account,
            name,
            user,
        }
        | PolicyCommand::Detach {
            account,
            name,
            user,
        } => {
            let changed = if attach {
                store.attach_policy(account, &name, &user).await
            } else {
                store.detach_policy(account, &name, &user).await
            }
            .map_err(write_error)?;
            let text = match (attach, changed) {
                (true, true) => format!("Attached policy {name} to user {user}.\n"),
                (true, false) => format!("Policy {name} was already attached to user {user}.\n"),
                (false, true) => format!("Detached policy {name} from user {user}.\n"),
                (false, false) => format!("Policy {name} was not attached to user {user}.\n"),
            };
            Ok(Report::new(
                json!({
                    "AccountId": account.to_string(),
                    "PolicyName": name,
                    "UserName": user,
                    "Attached": attach,
                    "Changed": changed,
                }),
                text,
            ))
        }
        PolicyCommand::Delete { account, name } => {
            store
                .delete_policy(account, &name)
                .await
                .map_err(write_error)?;
            Ok(Report::new(
                json!({"AccountId": account.to_string(), "PolicyName": name, "Deleted": true}),
                format!("Deleted policy {name}, detached from every user.\n"),
            ))
        }
    }
}

async fn sts(store: &Store, command: StsCommand, now: i64) -> anyhow::Result<Report> {
    let StsCommand::Issue {
        account,
        user,
        duration,
        policy_file,
    } = command;
    let session_policy = policy_file.as_deref().map(read_policy).transpose()?;
    let creds = store
        .issue_sts(account, &user, duration, session_policy, now)
        .await
        .map_err(write_error)?;
    let secret = secret_text(&creds.access_key_secret)?;
    let token = secret_text(&creds.security_token)?;
    let expiration = format_utc(creds.expires_at);
    let mut report = Report::new(
        json!({
            "AccessKeyId": creds.access_key_id,
            "AccessKeySecret": secret,
            "SecurityToken": token,
            "Expiration": expiration,
        }),
        fields(&[
            ("AccessKeyId", creds.access_key_id.clone()),
            ("AccessKeySecret", secret.clone()),
            ("SecurityToken", token.clone()),
            ("Expiration", expiration.clone()),
        ]),
    );
    report.note = Some(format!(
        "Temporary credentials of user {user} in account {account}, shown only now; they expire at {expiration}."
    ));
    Ok(report)
}

async fn audit(store: &Store, args: AuditArgs) -> anyhow::Result<Report> {
    let since = args
        .since
        .as_deref()
        .map(|s| parse_utc(s).with_context(|| format!("--since {s}: use yyyy-MM-ddTHH:mm:ssZ")))
        .transpose()?;
    let filter = AuditFilter {
        account: args.account,
        since,
        domain: args.domain,
        limit: args.limit,
    };
    let entries = store.audit_entries(&filter).await.map_err(store_error)?;
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            vec![
                format_utc(e.time),
                e.account_id.to_string(),
                e.principal.clone(),
                e.access_key_id.clone(),
                e.source_ip.clone(),
                e.operation.clone(),
                e.domain.clone().unwrap_or_else(|| "-".into()),
                match (&e.cert_name, e.cert_id) {
                    (Some(n), Some(id)) => format!("{n} ({id})"),
                    (Some(n), None) => n.clone(),
                    (None, Some(id)) => id.to_string(),
                    (None, None) => "-".into(),
                },
                e.outcome.clone(),
                e.request_id.clone(),
            ]
        })
        .collect();
    Ok(Report::new(
        json!({ "Entries": entries.iter().map(audit_json).collect::<Vec<_>>() }),
        table(
            &[
                "TIME",
                "ACCOUNT",
                "PRINCIPAL",
                "ACCESS KEY ID",
                "SOURCE IP",
                "OPERATION",
                "DOMAIN",
                "CERT",
                "OUTCOME",
                "REQUEST ID",
            ],
            &rows,
        ),
    ))
}

/// Reads a policy document and checks it with core's RAM policy parser
/// ([`Policy::parse`]); a document that does not parse is refused with its line and column.
fn read_policy(path: &Path) -> anyhow::Result<String> {
    let document = read_input(path)?;
    if let Err(e) = Policy::parse(&document) {
        bail!("{}: {e}", path.display());
    }
    Ok(document)
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

/// Refuses an unknown account (listings would otherwise print an empty table).
async fn require_account(store: &Store, id: AccountId) -> anyhow::Result<()> {
    let known = store
        .accounts()
        .await
        .map_err(store_error)?
        .iter()
        .any(|a| a.id == id);
    if known {
        Ok(())
    } else {
        bail!("there is no account {id}")
    }
}

fn user_json(u: &UserInfo) -> Value {
    json!({
        "UserId": u.id,
        "UserName": u.name,
        "Created": format_utc(u.created),
        "Policies": u.policies,
    })
}

fn key_json(k: &AccessKeyInfo) -> Value {
    json!({
        "AccessKeyId": k.id,
        "UserName": k.user,
        "Status": key_status(k.active),
        "Created": format_utc(k.created),
        "Expiration": k.expires_at.map(format_utc),
    })
}

fn policy_json(p: &PolicyInfo, with_document: bool) -> Value {
    let mut value = json!({
        "PolicyName": p.name,
        "Created": format_utc(p.created),
        "Users": p.users,
    });
    if with_document {
        value["PolicyDocument"] = Value::String(p.document.clone());
    }
    value
}

fn audit_json(e: &AuditEntry) -> Value {
    json!({
        "Time": format_utc(e.time),
        "RequestId": e.request_id,
        "AccountId": e.account_id.to_string(),
        "Principal": e.principal,
        "AccessKeyId": e.access_key_id,
        "SourceIp": e.source_ip,
        "Operation": e.operation,
        "DomainName": e.domain,
        "CertName": e.cert_name,
        "CertId": e.cert_id,
        "Outcome": e.outcome,
    })
}

fn account_status(active: bool) -> &'static str {
    if active {
        "active"
    } else {
        "suspended"
    }
}

fn key_status(active: bool) -> &'static str {
    if active {
        "active"
    } else {
        "inactive"
    }
}

fn list_or_dash(items: &[String]) -> String {
    if items.is_empty() {
        "-".into()
    } else {
        items.join(",")
    }
}

fn secret_text(secret: &Secret) -> anyhow::Result<String> {
    secret
        .expose_str()
        .map(str::to_owned)
        .context("a generated secret is not text")
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

/// `name  value` lines, names padded to one width.
fn fields(pairs: &[(&str, String)]) -> String {
    let width = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (k, v) in pairs {
        let _ = writeln!(out, "{k:<width$}  {}", printable(v));
    }
    out
}

/// An aligned table: a header line, then one line per row; columns two spaces apart.
fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| printable(c)).collect())
        .collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut text = String::new();
        for (i, cell) in cells.enumerate() {
            if i > 0 {
                text.push_str("  ");
            }
            text.push_str(cell);
            let pad = widths[i].saturating_sub(cell.chars().count());
            text.extend(std::iter::repeat_n(' ', pad));
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&mut headers.iter().copied());
    for row in &rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
}

/// `text` with control characters replaced, so that stored text cannot drive the terminal.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_and_neutralise_control_characters() {
        let text = table(
            &["A", "LONGER"],
            &[
                vec!["wide-cell".into(), "x".into()],
                vec!["b\u{1b}[31m".into(), String::new()],
            ],
        );
        assert_eq!(text, "A          LONGER\nwide-cell  x\nb?[31m\n");
        assert_eq!(
            fields(&[("Id", "1".into()), ("Status", "ok".into())]),
            "Id      1\nStatus  ok\n"
        );
    }
}
