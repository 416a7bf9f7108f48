//! CAS `GetUserCertificateDetail`: one record of the library by CertId, with the fields of the
//! SDK's response model. `Cert` is the chain unless `CertFilter=true`; `Key` is always empty.

use livecert_core::ops::cas::{self, GetUserCertificateDetailInput};
use livecert_core::ops::describe_live_domain_certificate_info::cert_org;
use livecert_core::params::Params;
use serde_json::{json, Map, Value};

use super::{algorithm, common_name, date, instance_id, CERT_IDENTIFIER_REGION};
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
    // The chain's certificates and the leaf's subject, read again from the stored chain (this
    // read is rare); a chain that does not parse shows its leaf's facts only.
    let (entries, subject) = match livecert_core::cert::chain_details(&record.chain_pem) {
        // A free record still being issued (status applying, or failed) has no chain yet.
        _ if record.chain_pem.is_empty() => {
            (Vec::new(), livecert_core::cert::LeafSubject::default())
        }
        Ok(details) => details,
        Err(why) => {
            tracing::warn!(cert_id = record.cert_id, %why, "a stored chain does not parse");
            let leaf = livecert_core::cert::ChainEntry {
                common_name: common_name(&record),
                issuer_common_name: f.issuer_cn.clone().unwrap_or_default(),
                not_before: f.not_before,
                not_after: f.not_after,
            };
            (vec![leaf], livecert_core::cert::LeafSubject::default())
        }
    };
    let chain: Vec<Value> = entries
        .iter()
        .map(|c| {
            json!({
                "CommonName": c.common_name,
                "IssuerCommonName": c.issuer_common_name,
                "NotBefore": c.not_before * 1000,
                "NotAfter": c.not_after * 1000,
                "RemainDay": (c.not_after - caller.now).max(0) / 86_400,
            })
        })
        .collect();
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
        ("Issuer", json!(cert_org(&record.facts))),
        ("OrgName", json!(subject.organization.unwrap_or_default())),
        ("Province", json!(subject.province.unwrap_or_default())),
        ("City", json!(subject.locality.unwrap_or_default())),
        ("Country", json!(subject.country.unwrap_or_default())),
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
