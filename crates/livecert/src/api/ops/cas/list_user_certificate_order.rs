//! CAS `ListUserCertificateOrder`: the library, filtered by `OrderType`, `Status` and `Keyword`,
//! by CertId, one page at a time. `CPACK` and `BUY` list orders, which livecert has none of.

use livecert_core::ops::cas::{ListStatus, ListUserCertificateOrderInput};
use livecert_core::ops::describe_live_domain_certificate_info::cert_org;
use livecert_core::params::Params;
use livecert_store::{CertStatus, RecordType};
use serde_json::{json, Map, Value};

use super::{common_name, date, instance_id};
use crate::api::{AppState, Caller, Failure, OpResult};

/// Handles ListUserCertificateOrder: `CertificateOrderList` (a JSON array), `CurrentPage`,
/// `ShowSize`, `TotalCount`. Errors: `InvalidParameter` (OrderType, Status, CurrentPage,
/// ShowSize), `Forbidden.RAM`.
pub async fn handle(state: &AppState, caller: &Caller, params: &Params) -> OpResult {
    let input = ListUserCertificateOrderInput::parse(params)?;
    caller.authorize(None)?;
    let records = state
        .store
        .list_certificates(caller.account_id, None)
        .await
        .map_err(|e| Failure::store(&e))?;
    let shown: Vec<_> = records
        .iter()
        .filter(|r| matches!(r.status, CertStatus::Success | CertStatus::Revoked))
        .map(|r| {
            let status = ListStatus::of(
                r.facts.not_after,
                r.status == CertStatus::Revoked,
                caller.now,
            );
            (r, status)
        })
        .filter(|(r, status)| input.shows(r.cert_type == RecordType::Upload, *status))
        .filter(|(r, _)| match &input.keyword {
            None => true,
            Some(k) => {
                common_name(r).to_ascii_lowercase().contains(k)
                    || r.facts.dns_sans.iter().any(|s| s.contains(k.as_str()))
                    || r.cert_name.as_str().to_ascii_lowercase().contains(k)
                    || instance_id(r).contains(k.as_str())
            }
        })
        .collect();
    let total = shown.len();
    let skip = usize::try_from((input.current_page - 1).saturating_mul(input.show_size))
        .unwrap_or(usize::MAX);
    let take = usize::try_from(input.show_size).unwrap_or(usize::MAX);
    let page: Vec<Value> = shown
        .iter()
        .skip(skip)
        .take(take)
        .map(|(r, status)| {
            let f = &r.facts;
            json!({
                "CertificateId": r.cert_id,
                "Name": r.cert_name.as_str(),
                "CommonName": common_name(r),
                "Sans": f.dns_sans.join(","),
                "Issuer": cert_org(&r.facts),
                "StartDate": date(f.not_before),
                "EndDate": date(f.not_after),
                "Expired": f.not_after < caller.now,
                "Status": status.as_str(),
                "Fingerprint": f.fingerprint_sha256,
                "Sha2": f.fingerprint_sha256,
                "SerialNo": f.serial_hex,
                "OrgName": "",
                "Province": "",
                "City": "",
                "Country": "",
                "ResourceGroupId": "",
                "Upload": r.cert_type == RecordType::Upload,
                "InstanceId": instance_id(r),
            })
        })
        .collect();
    let mut fields = Map::new();
    fields.insert("CertificateOrderList".into(), Value::Array(page));
    fields.insert("CurrentPage".into(), json!(input.current_page));
    fields.insert("ShowSize".into(), json!(input.show_size));
    fields.insert("TotalCount".into(), json!(total));
    Ok(fields)
}
