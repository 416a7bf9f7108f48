//! DescribeLiveDomainCertificateInfo: a domain's binding (operations.md). While the ACME issuer
//! issues a free certificate for a domain that is not yet bound, the entry names the record with
//! `Status` `applying` (or `failed`) and `SSLProtocol` `off`; the latest attempt's ACME problem
//! document, if any, is added as `Problem` (docs/acme.md).

use livecert_core::ops::describe_live_domain_certificate_info::{
    cert_domain_name, cert_life, cert_org, DescribeLiveDomainCertificateInfoInput,
};
use livecert_core::params::Params;
use livecert_core::timefmt::format_utc;
use livecert_store::{CertStatus, OrderPurpose, OrderState, RecordType};
use serde_json::{json, Map, Value};

use super::owned_domain;
use crate::api::{AppState, Caller, Failure, OpResult};

/// Handles DescribeLiveDomainCertificateInfo. Errors: the input's, `IllegalOperationDomain`.
pub async fn handle(state: &AppState, caller: &Caller, params: &Params) -> OpResult {
    let input = DescribeLiveDomainCertificateInfoInput::parse(params)?;
    caller.authorize(None)?;
    let domain = owned_domain(state, caller, &input.domain).await?;
    let record = match (domain.https, domain.cert_id) {
        (true, Some(id)) => state
            .store
            .certificate(caller.account_id, id)
            .await
            .map_err(|e| Failure::store(&e))?,
        _ => None,
    };
    // A free certificate's order: what Describe says while it is being issued, or why it failed.
    let order = match &record {
        Some(r) if r.cert_type != RecordType::Free => None,
        _ => state
            .store
            .latest_acme_order_for_domain(caller.account_id, &domain.name)
            .await
            .map_err(|e| Failure::store(&e))?,
    };
    let mut info = match record {
        Some(r) => json!({
            "DomainName": domain.name.as_str(),
            "CertName": r.cert_name.as_str(),
            "CertDomainName": cert_domain_name(&r.facts),
            "CertExpireTime": format_utc(r.facts.not_after),
            "CertLife": cert_life(r.facts.not_before, r.facts.not_after),
            "CertOrg": cert_org(&r.facts),
            "CertType": r.cert_type.as_str(),
            "SSLProtocol": "on",
            "SSLPub": r.chain_pem,
            "Status": shown_status(r.status),
        }),
        None => match order
            .as_ref()
            .filter(|o| o.purpose == OrderPurpose::Issue && o.state != OrderState::Valid)
        {
            Some(o) => json!({
                "DomainName": domain.name.as_str(),
                "CertName": o.cert_name.as_str(),
                "CertDomainName": o.domain.as_str(),
                "CertExpireTime": "",
                "CertLife": "",
                "CertOrg": "",
                "CertType": RecordType::Free.as_str(),
                "SSLProtocol": "off",
                "SSLPub": "",
                "Status": if o.state == OrderState::Pending { CertStatus::Applying } else { CertStatus::Failed }.as_str(),
            }),
            None => json!({
                "DomainName": domain.name.as_str(),
                "CertName": "",
                "CertDomainName": "",
                "CertExpireTime": "",
                "CertLife": "",
                "CertOrg": "",
                "CertType": "",
                "SSLProtocol": "off",
                "SSLPub": "",
                "Status": "",
            }),
        },
    };
    if let (Some(problem), Some(entry)) = (
        order.as_ref().and_then(super::order_problem),
        info.as_object_mut(),
    ) {
        entry.insert("Problem".into(), problem);
    }
    let mut fields = Map::new();
    fields.insert(
        "CertInfos".into(),
        json!({ "CertInfo": Value::Array(vec![info]) }),
    );
    Ok(fields)
}

/// `Status`: the bound record's status (`success`, and for free records `applying` or `failed`,
/// `revoked` for one the operator revoked), never empty for a bound record: the real service
/// answers `success` for an effective certificate, and tools read it (issue 12; spec/operations.md
/// said empty for uploads: docs/decisions.md, "CAS and STS beside Live").
fn shown_status(status: CertStatus) -> &'static str {
    status.as_str()
}
