//! CAS `GetUserCertificateDetail`: one record of the library by CertId, with the fields of the
//! SDK's response model. `Cert` is the chain unless `CertFilter=true`; `Key` is always empty.

use livecert_core::ops::cas::{self, GetUserCertificateDetailInput};
use livecert_core::params::Params;
use serde_json::{json, Map, Value};

use super::{algorithm, common_name, date, instance_id, issuer, CERT_IDENTIFIER_REGION};
use crate::api::{AppState, Caller, Failure, OpResult};

/// Handles GetUserCertificateDetail. Errors: `MissingParameter` / `InvalidParameter` (CertId,
/// CertFilter), `Forbidden.RAM`, `Certificate.NotFind` (not in the caller's library).
pub async fn handle(state: &AppState, caller: &Caller, params: &Params) -> OpResult {
    let input = GetUserCertificateDetailInput::parse(params)?;
    caller.authorize(None)?;
    let record = state
        .store
        .certificate(caller.account_id, input.cert_id)
        .await
        .map_err(|e| Failure::store(&e))?
        .ok_or_else(|| cas::not_found(input.cert_id))?;
    let f = &record.facts;
    let chain: Vec<Value> = vec![json!({
        "CommonName": common_name(&record),
        "IssuerCommonName": f.issuer_cn.clone().unwrap_or_default(),
        "NotBefore": f.not_before * 1000,
        "NotAfter": f.not_after * 1000,
        "RemainDay": (f.not_after - caller.now).max(0) / 86_400,
    })];
    let mut fields = Map::new();
    for (name, value) in [
        ("Id", json!(record.cert_id)),
        ("Name", json!(record.cert_name.as_str())),
        (
            "CertIdentifier",
            json!(format!("{}-{CERT_IDENTIFIER_REGION}", record.cert_id)),
        ),
        ("Common", json!(common_name(&record))),
        ("Sans", json!(f.dns_sans.join(","))),
        ("Issuer", json!(issuer(&record))),
        ("OrgName", json!("")),
        ("Province", json!("")),
        ("City", json!("")),
        ("Country", json!("")),
        ("Algorithm", json!(algorithm(&record))),
        ("Fingerprint", json!(f.fingerprint_sha256)),
        ("Sha2", json!(f.fingerprint_sha256)),
        ("SerialNo", json!(f.serial_hex)),
        ("StartDate", json!(date(f.not_before))),
        ("EndDate", json!(date(f.not_after))),
        ("NotBefore", json!(f.not_before * 1000)),
        ("NotAfter", json!(f.not_after * 1000)),
        ("Expired", json!(f.not_after < caller.now)),
        ("BuyInAliyun", json!(false)),
        ("OrderId", json!(0)),
        ("InstanceId", json!(instance_id(&record))),
        ("ResourceGroupId", json!("")),
        ("CertChain", Value::Array(chain)),
    ] {
        fields.insert(name.into(), value);
    }
    if !input.cert_filter {
        // The private key never leaves the store (docs/decisions.md, "CAS"): `Key` is empty.
        for (name, value) in [
            ("Cert", record.chain_pem.as_str()),
            ("Key", ""),
            ("EncryptCert", ""),
            ("EncryptPrivateKey", ""),
            ("SignCert", ""),
            ("SignPrivateKey", ""),
        ] {
            fields.insert(name.into(), json!(value));
        }
    }
    Ok(fields)
}
