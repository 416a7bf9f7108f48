//! DescribeLiveDomainDetail: one domain's configuration.

use livecert_core::ops::describe_live_domain_detail::DescribeLiveDomainDetailInput;
use livecert_core::params::Params;
use livecert_core::timefmt::format_utc;
use serde_json::{json, Map};

use super::owned_domain;
use crate::api::{AppState, Caller, Failure, OpResult};

/// Handles DescribeLiveDomainDetail. Errors: the input's, `IllegalOperationDomain`.
pub async fn handle(state: &AppState, caller: &Caller, params: &Params) -> OpResult {
    let input = DescribeLiveDomainDetailInput::parse(params)?;
    caller.authorize(Some(&input.domain))?;
    let domain = owned_domain(state, caller, &input.domain).await?;
    let (ssl_pub, cert_name) = match (domain.https, domain.cert_id) {
        (true, Some(id)) => match state
            .store
            .certificate(caller.account_id, id)
            .await
            .map_err(|e| Failure::store(&e))?
        {
            Some(record) => (record.chain_pem, record.cert_name.as_str().to_owned()),
            None => (String::new(), String::new()),
        },
        _ => (String::new(), String::new()),
    };
    let detail = json!({
        "DomainName": domain.name.as_str(),
        "DomainStatus": domain.status.as_str(),
        "LiveDomainType": domain.live_domain_type,
        "Region": domain.region,
        "Scope": domain.scope,
        "SSLProtocol": if domain.https { "on" } else { "off" },
        "SSLPub": ssl_pub,
        "CertName": cert_name,
        "Cname": format!("{}.{}", domain.name, state.config.cname_suffix),
        "Description": domain.description,
        "GmtCreated": format_utc(domain.created),
        "GmtModified": format_utc(domain.modified),
        "ResourceGroupId": domain.resource_group_id.unwrap_or_default(),
    });
    let mut fields = Map::new();
    fields.insert("DomainDetail".into(), detail);
    Ok(fields)
}
