//! DescribeLiveUserDomains: the caller's domains, filtered and paged (operations.md, Domains).
//!
//! The store lists an account's domains newest `GmtCreated` first, then by name; this module
//! decides which of them match ([`DescribeLiveUserDomainsInput::matches`]) and which slice of the
//! matches a page holds ([`DescribeLiveUserDomainsInput::page`]).
//!
//! Decisions where the spec is silent:
//! - The `DomainName` keyword is compared case-insensitively (names are stored lower case); it is
//!   1–253 characters of letters, digits, `-`, `.` and `*`, anything else is `InvalidParameter`.
//! - `DomainStatus` accepts every status Alibaba documents (`online`, `offline`, `configuring`,
//!   `configure_failed`, `checking`, `check_failed`); the ones livecert never assigns match
//!   nothing.
//! - A page past the last match is empty; `TotalCount` still counts every match.

use std::ops::Range;

use crate::error::ApiError;
use crate::params::Params;

/// Accepted `DomainSearchType` values; the first is the default.
pub const SEARCH_TYPES: &[&str] = &["fuzzy_match", "pre_match", "suf_match", "full_match"];
/// Accepted `DomainStatus` values.
pub const DOMAIN_STATUSES: &[&str] = &[
    "online",
    "offline",
    "configuring",
    "configure_failed",
    "checking",
    "check_failed",
];
/// Default `PageSize`.
pub const DEFAULT_PAGE_SIZE: u32 = 20;
/// Largest `PageSize`.
pub const MAX_PAGE_SIZE: u32 = 50;
/// Longest `DomainName` keyword, in characters (the longest domain name).
pub const MAX_KEYWORD_CHARS: usize = 253;

/// How the `DomainName` keyword matches a domain name (`DomainSearchType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchType {
    /// `fuzzy_match` (default): the name contains the keyword.
    Fuzzy,
    /// `pre_match`: the name starts with the keyword.
    Prefix,
    /// `suf_match`: the name ends with the keyword.
    Suffix,
    /// `full_match`: the name is the keyword.
    Full,
}

/// The checked input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeLiveUserDomainsInput {
    /// `DomainName`, the keyword, lower case; `None`: every domain.
    pub keyword: Option<String>,
    /// `DomainSearchType`.
    pub search_type: SearchType,
    /// `DomainStatus`: only domains in this status.
    pub domain_status: Option<String>,
    /// `LiveDomainType`: only domains of this type.
    pub live_domain_type: Option<String>,
    /// `RegionName`: only domains of this region (as AddLiveDomain's `Region` gave it).
    pub region_name: Option<String>,
    /// `ResourceGroupId`: only domains of this resource group.
    pub resource_group_id: Option<String>,
    /// `PageNumber`, from 1 (default 1).
    pub page_number: u32,
    /// `PageSize`, 1–50 (default 20).
    pub page_size: u32,
}

impl DescribeLiveUserDomainsInput {
    /// Parses the parameters. Errors: `InvalidParameter` naming the parameter for a keyword
    /// outside its syntax, a value outside an enumeration, or a page number or size out of range.
    pub fn parse(params: &Params) -> Result<Self, ApiError> {
        let keyword = match params.non_empty_text("DomainName")? {
            None => None,
            Some(k) => Some(parse_keyword(k)?),
        };
        let search_type = match super::optional_enum(params, "DomainSearchType", SEARCH_TYPES)? {
            None | Some("fuzzy_match") => SearchType::Fuzzy,
            Some("pre_match") => SearchType::Prefix,
            Some("suf_match") => SearchType::Suffix,
            Some(_) => SearchType::Full,
        };
        let domain_status =
            super::optional_enum(params, "DomainStatus", DOMAIN_STATUSES)?.map(str::to_owned);
        let live_domain_type = super::optional_enum(
            params,
            "LiveDomainType",
            super::add_live_domain::LIVE_DOMAIN_TYPES,
        )?
        .map(str::to_owned);
        let region_name = params.non_empty_text("RegionName")?.map(str::to_owned);
        let resource_group_id = params.non_empty_text("ResourceGroupId")?.map(str::to_owned);
        let page_number = super::page_param(params, "PageNumber", u32::MAX)?.unwrap_or(1);
        let page_size =
            super::page_param(params, "PageSize", MAX_PAGE_SIZE)?.unwrap_or(DEFAULT_PAGE_SIZE);
        Ok(Self {
            keyword,
            search_type,
            domain_status,
            live_domain_type,
            region_name,
            resource_group_id,
            page_number,
            page_size,
        })
    }

    /// Whether a domain passes every filter: its lower-case name, status, `LiveDomainType`,
    /// region and resource group (`None`: none).
    pub fn matches(
        &self,
        name: &str,
        status: &str,
        live_domain_type: &str,
        region: &str,
        resource_group_id: Option<&str>,
    ) -> bool {
        let name_matches = match &self.keyword {
            None => true,
            Some(k) => match self.search_type {
                SearchType::Fuzzy => name.contains(k.as_str()),
                SearchType::Prefix => name.starts_with(k.as_str()),
                SearchType::Suffix => name.ends_with(k.as_str()),
                SearchType::Full => name == k,
            },
        };
        name_matches
            && self.domain_status.as_deref().is_none_or(|s| s == status)
            && self
                .live_domain_type
                .as_deref()
                .is_none_or(|t| t == live_domain_type)
            && self.region_name.as_deref().is_none_or(|r| r == region)
            && self
                .resource_group_id
                .as_deref()
                .is_none_or(|g| Some(g) == resource_group_id)
    }

    /// The indexes of the requested page among `total` matches (empty past the last one).
    pub fn page(&self, total: usize) -> Range<usize> {
        let size = usize::try_from(self.page_size).unwrap_or(usize::MAX);
        let start = usize::try_from(self.page_number - 1)
            .unwrap_or(usize::MAX)
            .saturating_mul(size)
            .min(total);
        start..start.saturating_add(size).min(total)
    }
}

/// The keyword, lower case. Errors: `InvalidParameter` naming `DomainName`.
fn parse_keyword(raw: &str) -> Result<String, ApiError> {
    if raw.chars().count() > MAX_KEYWORD_CHARS
        || !raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'*'))
    {
        return Err(ApiError::invalid(
            "DomainName",
            format!(
                "The keyword is 1–{MAX_KEYWORD_CHARS} letters, digits, '-', '.' or '*', such as example.com."
            ),
        ));
    }
    Ok(raw.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn parse(pairs: &[(&str, &str)]) -> Result<DescribeLiveUserDomainsInput, ApiError> {
        DescribeLiveUserDomainsInput::parse(&Params::from_pairs(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec())),
        ))
    }

    fn refused(pairs: &[(&str, &str)]) -> String {
        let e = parse(pairs).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidParameter, "{pairs:?}");
        e.name.unwrap_or_default()
    }

    #[test]
    fn defaults() {
        let input = parse(&[]).unwrap();
        assert_eq!(input.keyword, None);
        assert_eq!(input.search_type, SearchType::Fuzzy);
        assert_eq!(input.domain_status, None);
        assert_eq!(input.live_domain_type, None);
        assert_eq!((input.page_number, input.page_size), (1, 20));
        assert!(input.matches("a.example.com", "offline", "liveEdge", "cn-shanghai", None));
    }

    #[test]
    fn invalid_enumerations_and_paging_name_the_parameter() {
        assert_eq!(
            refused(&[("DomainSearchType", "FUZZY_MATCH")]),
            "DomainSearchType"
        );
        assert_eq!(
            refused(&[("DomainSearchType", "exact")]),
            "DomainSearchType"
        );
        assert_eq!(refused(&[("DomainStatus", "Online")]), "DomainStatus");
        assert_eq!(
            refused(&[("LiveDomainType", "liveAudio")]),
            "LiveDomainType"
        );
        for bad in ["0", "-1", "+1", "1.5", "x", "4294967296"] {
            assert_eq!(refused(&[("PageNumber", bad)]), "PageNumber", "{bad}");
        }
        for bad in ["0", "51", "+5", "20x"] {
            assert_eq!(refused(&[("PageSize", bad)]), "PageSize", "{bad}");
        }
        assert_eq!(refused(&[("DomainName", "a b")]), "DomainName");
        assert_eq!(refused(&[("DomainName", "a_b")]), "DomainName");
        assert_eq!(refused(&[("DomainName", &"a".repeat(254))]), "DomainName");
        let ok = parse(&[("PageNumber", "4294967295"), ("PageSize", "50")]).unwrap();
        assert_eq!((ok.page_number, ok.page_size), (u32::MAX, 50));
        assert_eq!(parse(&[("PageSize", "1")]).unwrap().page_size, 1);
    }

    #[test]
    fn each_search_type_matches_case_insensitively() {
        let names = ["live.example.com", "example.com.cn", "play.example.org"];
        let cases = [
            ("fuzzy_match", "EXAMPLE.COM", vec![0, 1]),
            ("pre_match", "live.", vec![0]),
            ("pre_match", "example", vec![1]),
            ("suf_match", ".example.com", vec![0]),
            ("suf_match", "org", vec![2]),
            ("full_match", "example.com", vec![]),
            ("full_match", "Example.Com.CN", vec![1]),
        ];
        for (search_type, keyword, expected) in cases {
            let input =
                parse(&[("DomainName", keyword), ("DomainSearchType", search_type)]).unwrap();
            let got: Vec<usize> = names
                .iter()
                .enumerate()
                .filter(|(_, n)| input.matches(n, "online", "liveVideo", "cn-shanghai", None))
                .map(|(i, _)| i)
                .collect();
            assert_eq!(got, expected, "{search_type} {keyword}");
        }
        // Without DomainSearchType the keyword is a fuzzy match.
        let input = parse(&[("DomainName", "ample")]).unwrap();
        assert!(input.matches(
            "live.example.com",
            "online",
            "liveVideo",
            "cn-shanghai",
            None
        ));
    }

    #[test]
    fn status_and_type_filters() {
        let input = parse(&[("DomainStatus", "offline"), ("LiveDomainType", "liveEdge")]).unwrap();
        assert!(input.matches("a.com", "offline", "liveEdge", "cn-shanghai", None));
        assert!(!input.matches("a.com", "online", "liveEdge", "cn-shanghai", None));
        assert!(!input.matches("a.com", "offline", "liveVideo", "cn-shanghai", None));
        let input = parse(&[("DomainStatus", "check_failed")]).unwrap();
        assert!(!input.matches("a.com", "online", "liveVideo", "cn-shanghai", None));
    }

    #[test]
    fn region_and_resource_group_filter_as_certimate_sends_them() {
        let input = parse(&[("RegionName", "cn-shanghai"), ("ResourceGroupId", "rg-1")]).unwrap();
        assert!(input.matches("a.com", "online", "liveVideo", "cn-shanghai", Some("rg-1")));
        assert!(!input.matches("a.com", "online", "liveVideo", "cn-beijing", Some("rg-1")));
        assert!(!input.matches("a.com", "online", "liveVideo", "cn-shanghai", None));
        let any = parse(&[]).unwrap();
        assert!(any.matches("a.com", "online", "liveVideo", "cn-beijing", None));
    }

    #[test]
    fn pages_slice_the_matches() {
        let page = |n: &str, size: &str, total| {
            parse(&[("PageNumber", n), ("PageSize", size)])
                .unwrap()
                .page(total)
        };
        assert_eq!(page("1", "2", 5), 0..2);
        assert_eq!(page("3", "2", 5), 4..5);
        assert_eq!(page("4", "2", 5), 5..5);
        assert_eq!(page("1", "50", 0), 0..0);
        assert_eq!(page("4294967295", "50", 7), 7..7);
    }
}
