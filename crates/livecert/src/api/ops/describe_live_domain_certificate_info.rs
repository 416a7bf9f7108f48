//! DescribeLiveDomainCertificateInfo: a domain's binding (operations.md).

use livecert_core::ops::describe_live_domain_certificate_info::{
    cert_domain_name, cert_life, cert_org, DescribeLiveDomainCertificateInfoInput,
};
use livecert_core::params::Params;
use livecert_core::timefmt::format_utc;
use livecert_store::CertStatus;
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
    let info = match record {
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
    };
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
