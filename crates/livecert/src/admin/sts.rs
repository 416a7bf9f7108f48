//! `livecert admin sts …`: temporary credentials that act as a user until they expire, with an
//! optional session policy; shown once.

use std::path::PathBuf;

use clap::Subcommand;
use livecert_core::timefmt::format_utc;
use livecert_store::{AccountId, Store};
use serde_json::json;

use super::policy::read_policy;
use super::report::{fields, secret_text, Report};
use super::write_error;

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

pub(super) async fn sts(store: &Store, command: StsCommand, now: i64) -> anyhow::Result<Report> {
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
