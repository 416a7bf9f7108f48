//! DescribeLiveCertificateDetail: one library record by CertName; never its private key. A free
//! record also shows its `Status` (`applying`, `success`, `failed`) and, when its latest ACME
//! attempt failed, that attempt's problem document as `Problem` (docs/acme.md).

use livecert_core::error::{ApiError, ErrorCode};
use livecert_core::ops::describe_live_certificate_detail::DescribeLiveCertificateDetailInput;
use livecert_core::params::Params;
use livecert_store::RecordType;
use serde_json::{Map, Value};

use crate::api::{AppState, Caller, Failure, OpResult};

/// Handles DescribeLiveCertificateDetail. Errors: the input's, `CertNameNotFound`.
pub async fn handle(state: &AppState, caller: &Caller, params: &Params) -> OpResult {
    let input = DescribeLiveCertificateDetailInput::parse(params)?;
    caller.authorize(None)?;
    let record = state
        .store
        .certificate_by_name(caller.account_id, &input.cert_name)
        .await
        .map_err(|e| Failure::store(&e))?
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::CertNameNotFound,
                format!("Your library has no certificate named \"{}\"; DescribeLiveCertificateList lists them.", input.cert_name),
            )
        })?;
    let mut fields = Map::new();
    fields.insert("CertId".into(), Value::from(record.cert_id));
    fields.insert("CertName".into(), Value::from(record.cert_name.as_str()));
    fields.insert("Cert".into(), Value::from(record.chain_pem));
    if record.cert_type == RecordType::Free {
        // livecert's addition for free records: where issuance stands, and why it failed.
        fields.insert("Status".into(), Value::from(record.status.as_str()));
        let order = state
            .store
            .latest_acme_order_for_record(record.cert_id)
            .await
            .map_err(|e| Failure::store(&e))?;
        if let Some(problem) = order.as_ref().and_then(super::order_problem) {
            fields.insert("Problem".into(), problem);
        }
    }
    Ok(fields)
}
