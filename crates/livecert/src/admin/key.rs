//! `livecert admin key …`: AccessKeys of an account's root credentials or of its users —
//! create (the secret printed once), import, list (never the secrets), disable, enable, delete.

use std::path::PathBuf;

use anyhow::bail;
use clap::Subcommand;
use livecert_core::secret::Secret;
use livecert_core::timefmt::format_utc;
use livecert_store::{AccessKeyInfo, AccountId, Store, StoreError};
use serde_json::{json, Value};

use super::account::require_account;
use super::report::{fields, secret_text, table, Report};
use super::{read_input, store_error, write_error};

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

pub(super) async fn key(store: &Store, command: KeyCommand, now: i64) -> anyhow::Result<Report> {
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

fn key_json(k: &AccessKeyInfo) -> Value {
    json!({
        "AccessKeyId": k.id,
        "UserName": k.user,
        "Status": key_status(k.active),
        "Created": format_utc(k.created),
        "Expiration": k.expires_at.map(format_utc),
    })
}

fn key_status(active: bool) -> &'static str {
    if active {
        "active"
    } else {
        "inactive"
    }
}
