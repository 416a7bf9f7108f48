//! `livecert admin policy …`: an account's RAM policies — create (checked by core's parser before
//! it is stored), list, show, attach, detach, delete.

use std::path::{Path, PathBuf};

use anyhow::bail;
use clap::Subcommand;
use livecert_core::ram::Policy;
use livecert_core::timefmt::format_utc;
use livecert_store::{AccountId, PolicyInfo, Store};
use serde_json::{json, Value};

use super::account::require_account;
use super::report::{fields, list_or_dash, table, Report};
use super::{read_input, store_error, write_error};

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

pub(super) async fn policy(
    store: &Store,
    command: PolicyCommand,
    now: i64,
) -> anyhow::Result<Report> {
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

/// Reads a policy document and checks it with core's RAM policy parser
/// ([`Policy::parse`]); a document that does not parse is refused with its line and column.
pub(super) fn read_policy(path: &Path) -> anyhow::Result<String> {
    let document = read_input(path)?;
    if let Err(e) = Policy::parse(&document) {
        bail!("{}: {e}", path.display());
    }
    Ok(document)
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
