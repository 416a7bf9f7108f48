//! `livecert admin account …`: accounts — create (the store too, on a data directory without
//! one), list, suspend, resume.

use anyhow::bail;
use clap::Subcommand;
use livecert_core::timefmt::format_utc;
use livecert_store::{AccountId, Store};
use serde_json::{json, Value};

use super::report::{fields, table, Report};
use super::store_error;

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

pub(super) async fn account(
    store: &Store,
    command: AccountCommand,
    now: i64,
) -> anyhow::Result<Report> {
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

/// Refuses an unknown account (listings would otherwise print an empty table).
pub(super) async fn require_account(store: &Store, id: AccountId) -> anyhow::Result<()> {
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

fn account_status(active: bool) -> &'static str {
    if active {
        "active"
    } else {
        "suspended"
    }
}
