//! DescribeLiveCertificateDetail: one library record by CertName; never its private key.

use livecert_core::error::{ApiError, ErrorCode};
use livecert_core::ops::describe_live_certificate_detail::DescribeLiveCertificateDetailInput;
use livecert_core::params::Params;
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
    Ok(fields)
}
