//! `livecert admin cert …`: the operator's modes of a library record (row 33's `revoked`; deleting
//! an unbound record), on any account's record: the operator names it by CertId.
//!
//! Decisions where the spec is silent:
//! - `cert revoke` of a revoked record changes nothing. There is no un-revoke: the certificate
//!   comes back as a new record, uploaded under another CertName with `ForceSet=1`.
//! - `cert delete` refuses while any domain is bound to the record and names those domains.

use anyhow::{bail, Context};
use clap::Subcommand;
use livecert_core::names::DomainName;
use livecert_store::{CertDeletion, CertRecord, Store};
use serde_json::json;

use super::report::{fields, list_or_dash, Report};
use super::store_error;

/// `livecert admin cert …`.
#[derive(Debug, Subcommand)]
pub enum CertCommand {
    /// Revoke a record: status `revoked`. Its bindings stay, the edge stops serving it, and
    /// CertType=cas refuses to bind it (Certificate.StatusError).
    Revoke {
        /// The CertId.
        cert_id: u64,
    },
    /// Delete a record from its account's library; refused while a domain is bound to it.
    Delete {
        /// The CertId.
        cert_id: u64,
    },
}

/// Runs `cert revoke|delete`.
pub(super) async fn cert(store: &Store, command: CertCommand, now: i64) -> anyhow::Result<Report> {
    match command {
        CertCommand::Revoke { cert_id } => {
            let record = existing_record(store, cert_id).await?;
            if record.status != livecert_store::CertStatus::Revoked {
                store
                    .set_certificate_status(cert_id, "revoked", now)
                    .await
                    .map_err(store_error)?;
            }
            let bound = store.domains_bound_to(cert_id).await.map_err(store_error)?;
            let bound: Vec<String> = bound.iter().map(|d| d.as_str().to_owned()).collect();
            Ok(Report::new(
                json!({
                    "CertId": cert_id,
                    "CertName": record.cert_name.as_str(),
                    "AccountId": record.account_id.to_string(),
                    "Status": "revoked",
                    "Domains": bound,
                }),
                fields(&[
                    ("CertId", cert_id.to_string()),
                    ("CertName", record.cert_name.as_str().to_owned()),
                    ("AccountId", record.account_id.to_string()),
                    ("Status", "revoked".into()),
                    ("Domains", list_or_dash(&bound)),
                ]),
            ))
        }
        CertCommand::Delete { cert_id } => {
            let record = existing_record(store, cert_id).await?;
            match store
                .delete_certificate(cert_id)
                .await
                .map_err(store_error)?
            {
                CertDeletion::Deleted => Ok(Report::new(
                    json!({
                        "CertId": cert_id,
                        "CertName": record.cert_name.as_str(),
                        "AccountId": record.account_id.to_string(),
                        "Deleted": true,
                    }),
                    format!(
                        "Deleted CertId {cert_id} (\"{}\") of account {}.\n",
                        record.cert_name, record.account_id
                    ),
                )),
                CertDeletion::Bound(domains) => {
                    let names: Vec<&str> = domains.iter().map(DomainName::as_str).collect();
                    bail!(
                        "CertId {cert_id} is bound to {}; bind {} to another certificate or turn HTTPS off first",
                        names.join(", "),
                        if names.len() == 1 { "it" } else { "them" }
                    )
                }
                CertDeletion::NotFound => bail!("there is no record with CertId {cert_id}"),
            }
        }
    }
}

async fn existing_record(store: &Store, cert_id: u64) -> anyhow::Result<CertRecord> {
    store
        .certificate_any(cert_id)
        .await
        .map_err(store_error)?
        .with_context(|| format!("there is no record with CertId {cert_id}"))
}
