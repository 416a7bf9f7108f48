//! DescribeLiveCertificateList: the caller's library, or the records bound to some domains.

use livecert_core::ops::describe_live_certificate_list::DescribeLiveCertificateListInput;
use livecert_core::params::Params;
use serde_json::{json, Map, Value};

use super::owned_domain;
use crate::api::{AppState, Caller, Failure, OpResult};

/// Handles DescribeLiveCertificateList. Errors: the input's, `IllegalOperationDomain` for an
/// unknown or foreign name in `DomainName`.
pub async fn handle(state: &AppState, caller: &Caller, params: &Params) -> OpResult {
    let input = DescribeLiveCertificateListInput::parse(params)?;
    caller.authorize(None)?;
    if let Some(domains) = &input.domains {
        for d in domains {
            owned_domain(state, caller, d).await?;
        }
    }
    let records = state
        .store
        .list_certificates(caller.account_id, input.domains.as_deref())
        .await
        .map_err(|e| Failure::store(&e))?;
    let certs: Vec<Value> = records
        .iter()
        .map(|r| {
            json!({
                "CertId": r.cert_id,
                "CertName": r.cert_name.as_str(),
                "Common": r.facts.subject_cn.clone().unwrap_or_default(),
                "Fingerprint": r.facts.fingerprint_sha256,
                "Issuer": r.facts.issuer_cn.clone().unwrap_or_default(),
                "LastTime": r.last_changed,
            })
        })
        .collect();
    let mut fields = Map::new();
    fields.insert(
        "CertificateListModel".into(),
        json!({ "Count": certs.len(), "CertList": { "Cert": Value::Array(certs) } }),
    );
    Ok(fields)
}
