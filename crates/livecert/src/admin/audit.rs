//! `livecert admin audit`: the audit log, newest first, filtered by account, time and domain.

use anyhow::Context;
use clap::Args;
use livecert_core::timefmt::{format_utc, parse_utc};
use livecert_store::{AccountId, AuditEntry, AuditFilter, Store};
use serde_json::{json, Value};

use super::report::{table, Report};
use super::store_error;

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

pub(super) async fn audit(store: &Store, args: AuditArgs) -> anyhow::Result<Report> {
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
