//! AddLiveDomain: adds a streaming domain, `online` at once with HTTPS off (spec/README.md,
//! decision 1; operations.md, Domains).

use crate::error::ApiError;
use crate::names::DomainName;
use crate::params::Params;

/// Accepted `LiveDomainType` values.
pub const LIVE_DOMAIN_TYPES: &[&str] = &["liveVideo", "liveEdge"];
/// Accepted `Scope` values.
pub const SCOPES: &[&str] = &["domestic", "overseas", "global"];

/// The checked input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddLiveDomainInput {
    /// `DomainName`, required.
    pub domain: DomainName,
    /// `LiveDomainType`, required: `liveVideo` or `liveEdge`.
    pub live_domain_type: String,
    /// `Region`, required: 1–64 characters of letters, digits and `-`.
    pub region: String,
    /// `Scope`: `domestic`, `overseas` or `global` (default `domestic`).
    pub scope: String,
    /// `CheckUrl`, optional, kept as given.
    pub check_url: Option<String>,
    /// `TopLevelDomain`, optional, kept as given.
    pub top_level_domain: Option<String>,
    /// `ResourceGroupId`, optional, kept as given.
    pub resource_group_id: Option<String>,
    /// `DryRun`.
    pub dry_run: bool,
}

impl AddLiveDomainInput {
    /// Parses the parameters. Errors: `MissingParameter` for an absent required parameter,
    /// `InvalidParameter` naming the parameter for a value outside its enumeration or syntax.
    pub fn parse(params: &Params) -> Result<Self, ApiError> {
        let domain = super::required_domain(params)?;
        let live_domain_type = super::optional_enum(params, "LiveDomainType", LIVE_DOMAIN_TYPES)?
            .ok_or_else(|| ApiError::missing("LiveDomainType"))?
            .to_owned();
        let region = params
            .non_empty_text("Region")?
            .ok_or_else(|| ApiError::missing("Region"))?;
        if region.len() > 64
            || !region
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(ApiError::invalid(
                "Region",
                "Use a region id such as cn-shanghai.",
            ));
        }
        let scope = super::optional_enum(params, "Scope", SCOPES)?
            .unwrap_or("domestic")
            .to_owned();
        let text = |name: &str, max: usize| -> Result<Option<String>, ApiError> {
            match params.non_empty_text(name)? {
                Some(v) if v.chars().count() > max => Err(ApiError::invalid(
                    name,
                    format!("It is longer than {max} characters."),
                )),
                v => Ok(v.map(str::to_owned)),
            }
        };
        Ok(Self {
            domain,
            live_domain_type,
            region: region.to_owned(),
            scope,
            check_url: text("CheckUrl", 2048)?,
            top_level_domain: text("TopLevelDomain", 253)?,
            resource_group_id: text("ResourceGroupId", 64)?,
            dry_run: super::optional_bool(params, "DryRun")?,
        })
    }
}
