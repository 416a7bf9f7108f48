//! DescribeLiveUserDomains: the caller's domains, newest `GmtCreated` first, then by name,
//! filtered by the keyword, status and type, one page at a time.

use livecert_core::ops::describe_live_user_domains::DescribeLiveUserDomainsInput;
use livecert_core::params::Params;
use livecert_core::timefmt::format_utc;
use serde_json::{json, Map, Value};

use crate::api::{AppState, Caller, Failure, OpResult};

/// Handles DescribeLiveUserDomains. Errors: the input's (`InvalidParameter` naming the
/// parameter), `Forbidden.RAM`.
pub async fn handle(state: &AppState, caller: &Caller, params: &Params) -> OpResult {
    let input = DescribeLiveUserDomainsInput::parse(params)?;
    caller.authorize(None)?;
    let domains = state
        .store
        .domains(caller.account_id)
        .await
        .map_err(|e| Failure::store(&e))?;
    let matching: Vec<_> = domains
        .into_iter()
        .filter(|d| {
            input.matches(
                d.name.as_str(),
                d.status.as_str(),
                &d.live_domain_type,
                &d.region,
                d.resource_group_id.as_deref(),
            )
        })
        .collect();
    let page: Vec<Value> = matching[input.page(matching.len())]
        .iter()
        .map(|d| {
            json!({
                "DomainName": d.name.as_str(),
                "LiveDomainStatus": d.status.as_str(),
                "LiveDomainType": d.live_domain_type,
                "RegionName": d.region,
                "Cname": format!("{}.{}", d.name, state.config.cname_suffix),
                "GmtCreated": format_utc(d.created),
                "GmtModified": format_utc(d.modified),
                "Description": d.description,
                "ResourceGroupId": d.resource_group_id.clone().unwrap_or_default(),
            })
        })
        .collect();
    let mut fields = Map::new();
    fields.insert("PageNumber".into(), input.page_number.into());
    fields.insert("PageSize".into(), input.page_size.into());
    fields.insert("TotalCount".into(), matching.len().into());
    fields.insert("Domains".into(), json!({ "PageData": page }));
    Ok(fields)
}
