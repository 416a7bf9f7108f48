//! `livecert admin user …`: an account's RAM users — create, list (with their policies), delete.

use clap::Subcommand;
use livecert_core::timefmt::format_utc;
use livecert_store::{AccountId, Store, UserInfo};
use serde_json::{json, Value};

use super::account::require_account;
use super::report::{fields, list_or_dash, table, Report};
use super::{store_error, write_error};

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

pub(super) async fn user(store: &Store, command: UserCommand, now: i64) -> anyhow::Result<Report> {
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

fn user_json(u: &UserInfo) -> Value {
    json!({
        "UserId": u.id,
        "UserName": u.name,
        "Created": format_utc(u.created),
        "Policies": u.policies,
    })
}
