//! RAM policy evaluation (spec/access.md, "RAM policies"): parse a policy document, decide whether
//! a request is allowed, and describe a denial.
//!
//! - [`Policy::parse`] reads Alibaba's RAM policy language, version 1, and refuses anything else
//!   with a [`PolicyError`] that gives the line, the column and what to fix.
//! - [`evaluate`] decides a request, described by a [`RequestContext`], against the principal's
//!   policies: any applicable `Deny` → [`Decision::ExplicitDeny`]; else any applicable `Allow` →
//!   [`Decision::Allow`]; else [`Decision::ImplicitDeny`]. A statement applies when its action,
//!   its resource and every one of its conditions match.
//! - [`resource_for_domain`] builds the resource a request on a domain presents;
//!   [`AccessDeniedDetail`] is the body of a `Forbidden.RAM` denial.
//!
//! Root credentials bypass policies and cross-account access is refused before RAM is consulted
//! (access.md); both are the caller's business, not this module's.
//!
//! Choices where access.md is silent:
//! - `Version` is required; `Statement` is a non-empty list; repeated fields are refused.
//! - A statement without `Resource`/`NotResource` applies to every resource.
//! - `NotAction`/`NotResource` apply to everything their list does not match.
//! - A policy resource is `*` (only stars) or `acs:<service>:<region>:<account>:<relative>`;
//!   anything else is refused. Services other than `cdn`/`live` parse but never match.
//! - A request resource `*` (an operation without a resource) is matched only by a policy
//!   resource made of stars, so `acs:cdn:*:<account>:domain/*` does not grant list operations.
//! - The domain compares case-insensitively only when the pattern spells `domain/` literally;
//!   a relative part like `dom*` is matched case-sensitively as a whole.
//! - Negated condition operators (`StringNotEquals`, `NotIpAddress`, …) hold when the value
//!   matches none of the listed values; on a key the request does not have, every operator fails.
//! - Names are case-sensitive: fields, `Effect` values, operators. Condition keys are not.
//! - Condition keys: the built-in three, the other documented `acs:` global keys,
//!   `acs:RequestTag/…`, `acs:ResourceTag/…`, or any `<service>:<name>`; an unknown `acs:` key is
//!   refused.
//! - `IgnoreCase` and the action/domain comparisons fold ASCII letters only.
//! - Times compare at second precision; `DateLessThan` is strict (`now < t`), as is
//!   `DateGreaterThan`. IPv4-mapped IPv6 sources count as IPv4.

mod condition;
mod matcher;
mod policy;

use std::net::IpAddr;

pub use matcher::{wildcard_match, wildcard_match_ignore_case};
pub use policy::{Effect, Policy, PolicyError, Statement};

use matcher::RequestResource;

/// What a request asks for, as RAM sees it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestContext<'a> {
    /// The RAM action, `live:<Action>` (e.g. `live:SetLiveDomainCertificate`; see
    /// [`crate::action::Action::ram_action`]).
    pub action: &'a str,
    /// The resource: [`resource_for_domain`] for an operation on a domain, `*` for operations
    /// without a resource.
    pub resource: &'a str,
    /// The caller's address (`acs:SourceIp`); `None` when unknown, which fails every IP
    /// condition.
    pub source_ip: Option<IpAddr>,
    /// Whether the call came over HTTPS (`acs:SecureTransport`).
    pub secure_transport: bool,
    /// The server's clock in Unix seconds (`acs:CurrentTime`).
    pub current_time: i64,
    /// Further condition keys and their values (e.g. `("acs:SourceVpc", "vpc-…")`); keys compare
    /// case-insensitively. A key not listed here is absent, which fails any condition on it.
    pub extra_keys: &'a [(&'a str, &'a str)],
}

/// The outcome of [`evaluate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    /// An `Allow` statement applies and no `Deny` does.
    Allow,
    /// No statement allows the request.
    ImplicitDeny,
    /// A `Deny` statement applies.
    ExplicitDeny,
}

impl Decision {
    /// Whether the request may proceed.
    pub fn is_allowed(self) -> bool {
        self == Self::Allow
    }

    /// `NoPermissionType` of [`AccessDeniedDetail`]: `"ImplicitDeny"` or `"ExplicitDeny"`; `None`
    /// for [`Decision::Allow`].
    pub fn no_permission_type(self) -> Option<&'static str> {
        match self {
            Self::Allow => None,
            Self::ImplicitDeny => Some("ImplicitDeny"),
            Self::ExplicitDeny => Some("ExplicitDeny"),
        }
    }
}

/// Decides a request against every statement of `policies` (access.md: "no matching Allow →
/// deny (implicit); any matching Deny → deny (explicit), whatever allows"). The order of policies
/// and statements does not matter. Pure and allocation-free except for string conditions on
/// `acs:SourceIp` or `acs:CurrentTime`.
pub fn evaluate(policies: &[&Policy], ctx: &RequestContext<'_>) -> Decision {
    let resource = RequestResource::parse(ctx.resource);
    let mut allowed = false;
    for statement in policies.iter().flat_map(|p| p.statements()) {
        match statement.effect() {
            Effect::Deny if statement.applies(ctx, resource) => return Decision::ExplicitDeny,
            Effect::Allow if !allowed => allowed = statement.applies(ctx, resource),
            Effect::Allow | Effect::Deny => {}
        }
    }
    if allowed {
        Decision::Allow
    } else {
        Decision::ImplicitDeny
    }
}

/// The resource a request on a domain presents: `acs:cdn:*:<accountId>:domain/<DomainName>`
/// (access.md).
pub fn resource_for_domain(account_id: u64, domain: &str) -> String {
    format!("acs:cdn:*:{account_id}:domain/{domain}")
}

/// The `AccessDeniedDetail` of a `Forbidden.RAM` answer (access.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessDeniedDetail {
    /// The RAM action refused, e.g. `live:SetLiveDomainCertificate`.
    pub auth_action: String,
    /// `"SubUser"` (a RAM user) or `"AssumedRoleUser"` (temporary credentials).
    pub auth_principal_type: String,
    /// The principal's display name.
    pub auth_principal_display_name: String,
    /// The account that owns the principal (its 16-digit id).
    pub auth_principal_owner_id: String,
    /// `"ImplicitDeny"` or `"ExplicitDeny"` ([`Decision::no_permission_type`]).
    pub no_permission_type: String,
    /// `"AccountLevelIdentityBasedPolicy"` (the user's policies) or `"SessionPolicy"` (the policy
    /// of temporary credentials).
    pub policy_type: String,
}

impl AccessDeniedDetail {
    /// The fields under their wire names, in wire order (`AuthAction`, `AuthPrincipalType`,
    /// `AuthPrincipalDisplayName`, `AuthPrincipalOwnerId`, `NoPermissionType`, `PolicyType`), for
    /// rendering as a JSON object or nested XML elements.
    pub fn wire_fields(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AuthAction", self.auth_action.clone()),
            ("AuthPrincipalType", self.auth_principal_type.clone()),
            (
                "AuthPrincipalDisplayName",
                self.auth_principal_display_name.clone(),
            ),
            ("AuthPrincipalOwnerId", self.auth_principal_owner_id.clone()),
            ("NoPermissionType", self.no_permission_type.clone()),
            ("PolicyType", self.policy_type.clone()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::action::Action;
    use crate::timefmt;

    const ACCOUNT: u64 = 1_234_567_890_123_456;

    fn policy(statements: &str) -> Policy {
        let text = format!(r#"{{"Version":"1","Statement":[{statements}]}}"#);
        Policy::parse(&text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn request(action: Action, domain: Option<&str>, ip: &str) -> (String, String, IpAddr) {
        let resource = domain.map_or_else(|| "*".to_owned(), |d| resource_for_domain(ACCOUNT, d));
        (action.ram_action(), resource, ip.parse().unwrap())
    }

    fn decide(policies: &[&Policy], action: Action, domain: Option<&str>, ip: &str) -> Decision {
        let (action, resource, ip) = request(action, domain, ip);
        evaluate(
            policies,
            &RequestContext {
                action: &action,
                resource: &resource,
                source_ip: Some(ip),
                secure_transport: true,
                current_time: timefmt::parse_utc("2026-06-01T00:00:00Z").unwrap(),
                extra_keys: &[],
            },
        )
    }

    #[test]
    fn resource_for_domain_is_the_documented_shape() {
        assert_eq!(
            resource_for_domain(ACCOUNT, "live.example.com"),
            "acs:cdn:*:1234567890123456:domain/live.example.com"
        );
    }

    #[test]
    fn allow_on_one_domain_allows_it_and_implicitly_denies_another() {
        let p = policy(
            r#"{"Effect":"Allow","Action":"live:SetLiveDomainCertificate",
                "Resource":"acs:cdn:*:1234567890123456:domain/a.example.com"}"#,
        );
        let set = Action::SetLiveDomainCertificate;
        assert_eq!(
            decide(&[&p], set, Some("a.example.com"), "192.0.2.1"),
            Decision::Allow
        );
        assert_eq!(
            decide(&[&p], set, Some("b.example.com"), "192.0.2.1"),
            Decision::ImplicitDeny
        );
        // Another action on the same domain is not granted.
        assert_eq!(
            decide(
                &[&p],
                Action::DescribeLiveDomainCertificateInfo,
                Some("a.example.com"),
                "192.0.2.1"
            ),
            Decision::ImplicitDeny
        );
        // No policies at all: implicit deny.
        assert_eq!(
            decide(&[], set, Some("a.example.com"), "192.0.2.1"),
            Decision::ImplicitDeny
        );
    }

    #[test]
    fn describe_wildcard_allows_describes_and_not_set() {
        let p = policy(r#"{"Effect":"Allow","Action":"live:Describe*","Resource":"*"}"#);
        for &a in Action::ALL {
            let expected = if a.wire_name().starts_with("Describe") {
                Decision::Allow
            } else {
                Decision::ImplicitDeny
            };
            assert_eq!(
                decide(&[&p], a, Some("a.example.com"), "192.0.2.1"),
                expected,
                "{a}"
            );
            assert_eq!(
                decide(&[&p], a, None, "192.0.2.1"),
                expected,
                "{a} without resource"
            );
        }
        // Lower case in the policy still matches (actions are case-insensitive).
        let p = policy(r#"{"Effect":"Allow","Action":"LIVE:describe*","Resource":"*"}"#);
        assert_eq!(
            decide(
                &[&p],
                Action::DescribeLiveCertificateList,
                None,
                "192.0.2.1"
            ),
            Decision::Allow
        );
    }

    #[test]
    fn a_deny_on_a_domain_beats_a_wildcard_allow() {
        let allow = policy(r#"{"Effect":"Allow","Action":"live:*","Resource":"*"}"#);
        let deny = policy(
            r#"{"Effect":"Deny","Action":"live:SetLiveDomainCertificate",
                "Resource":"acs:live:*:*:domain/PROD.example.com"}"#,
        );
        let set = Action::SetLiveDomainCertificate;
        for order in [[&allow, &deny], [&deny, &allow]] {
            assert_eq!(
                decide(&order, set, Some("prod.example.com"), "192.0.2.1"),
                Decision::ExplicitDeny
            );
            assert_eq!(
                decide(&order, set, Some("dev.example.com"), "192.0.2.1"),
                Decision::Allow
            );
            assert_eq!(
                decide(
                    &order,
                    Action::DescribeLiveDomainDetail,
                    Some("prod.example.com"),
                    "192.0.2.1"
                ),
                Decision::Allow
            );
        }
    }

    #[test]
    fn source_ip_condition() {
        let p = policy(
            r#"{"Effect":"Allow","Action":"live:*","Resource":"*",
                "Condition":{"IpAddress":{"acs:SourceIp":["10.0.0.0/8","2001:db8::/32"]}}}"#,
        );
        let a = Action::DescribeLiveCertificateList;
        assert_eq!(decide(&[&p], a, None, "10.20.30.40"), Decision::Allow);
        assert_eq!(decide(&[&p], a, None, "2001:db8::7"), Decision::Allow);
        assert_eq!(decide(&[&p], a, None, "192.0.2.1"), Decision::ImplicitDeny);
        // A Deny from outside the office network overrides the grant.
        let fence = policy(
            r#"{"Effect":"Deny","Action":"*","Resource":"*",
                "Condition":{"NotIpAddress":{"acs:SourceIp":"10.0.0.0/8"}}}"#,
        );
        let open = policy(r#"{"Effect":"Allow","Action":"*","Resource":"*"}"#);
        assert_eq!(
            decide(&[&open, &fence], a, None, "192.0.2.1"),
            Decision::ExplicitDeny
        );
        assert_eq!(
            decide(&[&open, &fence], a, None, "10.0.0.1"),
            Decision::Allow
        );
    }

    #[test]
    fn conditions_and_together_and_values_or() {
        let p = policy(
            r#"{"Effect":"Allow","Action":"live:*","Resource":"*","Condition":{
                "Bool":{"acs:SecureTransport":"true"},
                "DateLessThan":{"acs:CurrentTime":"2026-12-01T00:00:00Z"},
                "StringEquals":{"acs:SourceVpc":["vpc-a","vpc-b"]}}}"#,
        );
        let ctx =
            |secure, time: &str, vpc: &'static [(&'static str, &'static str)]| RequestContext {
                action: "live:DescribeLiveCertificateList",
                resource: "*",
                source_ip: None,
                secure_transport: secure,
                current_time: timefmt::parse_utc(time).unwrap(),
                extra_keys: vpc,
            };
        let inside: &[(&str, &str)] = &[("acs:sourcevpc", "vpc-b")];
        assert_eq!(
            evaluate(&[&p], &ctx(true, "2026-06-01T00:00:00Z", inside)),
            Decision::Allow
        );
        assert_eq!(
            evaluate(&[&p], &ctx(false, "2026-06-01T00:00:00Z", inside)),
            Decision::ImplicitDeny
        );
        assert_eq!(
            evaluate(&[&p], &ctx(true, "2026-12-01T00:00:00Z", inside)),
            Decision::ImplicitDeny
        );
        assert_eq!(
            evaluate(
                &[&p],
                &ctx(true, "2026-06-01T00:00:00Z", &[("acs:SourceVpc", "vpc-c")])
            ),
            Decision::ImplicitDeny
        );
        assert_eq!(
            evaluate(&[&p], &ctx(true, "2026-06-01T00:00:00Z", &[])),
            Decision::ImplicitDeny
        );
    }

    #[test]
    fn not_action_and_not_resource() {
        let p = policy(
            r#"{"Effect":"Allow","NotAction":"live:Set*",
                "NotResource":"acs:cdn:*:1234567890123456:domain/secret.example.com"}"#,
        );
        let d = Action::DescribeLiveDomainDetail;
        assert_eq!(
            decide(&[&p], d, Some("a.example.com"), "192.0.2.1"),
            Decision::Allow
        );
        assert_eq!(decide(&[&p], d, None, "192.0.2.1"), Decision::Allow);
        assert_eq!(
            decide(&[&p], d, Some("secret.example.com"), "192.0.2.1"),
            Decision::ImplicitDeny
        );
        assert_eq!(
            decide(
                &[&p],
                Action::SetLiveDomainCertificate,
                Some("a.example.com"),
                "192.0.2.1"
            ),
            Decision::ImplicitDeny
        );
    }

    #[test]
    fn another_account_or_product_does_not_match() {
        let p = policy(
            r#"{"Effect":"Allow","Action":"live:*",
                "Resource":["acs:cdn:*:6543210987654321:domain/*","acs:oss:*:*:*"]}"#,
        );
        assert_eq!(
            decide(
                &[&p],
                Action::SetLiveDomainCertificate,
                Some("a.example.com"),
                "192.0.2.1"
            ),
            Decision::ImplicitDeny
        );
        // A domain-scoped resource does not cover operations without a resource.
        let p = policy(r#"{"Effect":"Allow","Action":"live:*","Resource":"acs:cdn:*:*:domain/*"}"#);
        assert_eq!(
            decide(
                &[&p],
                Action::DescribeLiveCertificateList,
                None,
                "192.0.2.1"
            ),
            Decision::ImplicitDeny
        );
        assert_eq!(
            decide(
                &[&p],
                Action::DescribeLiveDomainDetail,
                Some("x.example.com"),
                "192.0.2.1"
            ),
            Decision::Allow
        );
    }

    #[test]
    fn access_denied_detail_in_wire_order() {
        let d = AccessDeniedDetail {
            auth_action: "live:SetLiveDomainCertificate".into(),
            auth_principal_type: "SubUser".into(),
            auth_principal_display_name: "alice".into(),
            auth_principal_owner_id: "1234567890123456".into(),
            no_permission_type: Decision::ImplicitDeny.no_permission_type().unwrap().into(),
            policy_type: "AccountLevelIdentityBasedPolicy".into(),
        };
        let names: Vec<&str> = d.wire_fields().iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "AuthAction",
                "AuthPrincipalType",
                "AuthPrincipalDisplayName",
                "AuthPrincipalOwnerId",
                "NoPermissionType",
                "PolicyType"
            ]
        );
        assert_eq!(d.wire_fields()[4].1, "ImplicitDeny");
        assert_eq!(
            Decision::ExplicitDeny.no_permission_type(),
            Some("ExplicitDeny")
        );
        assert_eq!(Decision::Allow.no_permission_type(), None);
        assert!(Decision::Allow.is_allowed() && !Decision::ImplicitDeny.is_allowed());
    }

    // ---- Properties ---------------------------------------------------------------------------

    const ACTIONS: &[&str] = &[
        "*",
        "live:*",
        "live:Describe*",
        "live:SetLiveDomainCertificate",
        "live:describelive?omainDetail",
        "cdn:*",
    ];
    const RESOURCES: &[&str] = &[
        "*",
        "acs:cdn:*:1234567890123456:domain/*",
        "acs:live:*:*:domain/a.example.com",
        "acs:cdn:cn-hangzhou:1234567890123456:domain/*.example.com",
        "acs:cdn:*:6543210987654321:domain/*",
        "acs:oss:*:*:*",
    ];
    const CONDITIONS: &[&str] = &[
        "",
        r#","Condition":{"IpAddress":{"acs:SourceIp":"10.0.0.0/8"}}"#,
        r#","Condition":{"NotIpAddress":{"acs:SourceIp":["10.0.0.0/8","2001:db8::/32"]}}"#,
        r#","Condition":{"Bool":{"acs:SecureTransport":true}}"#,
        r#","Condition":{"DateLessThan":{"acs:CurrentTime":"2026-06-01T00:00:00Z"}}"#,
        r#","Condition":{"StringLike":{"acs:SourceVpc":"vpc-*"}}"#,
    ];
    const DOMAINS: &[Option<&str>] = &[
        None,
        Some("a.example.com"),
        Some("b.example.com"),
        Some("a.example.org"),
    ];
    const IPS: &[&str] = &["10.1.2.3", "192.0.2.1", "2001:db8::1", "::ffff:10.0.0.9"];

    /// A random statement: (deny?, NotAction?, action, resource or none, NotResource?, condition).
    fn statement() -> impl Strategy<Value = String> {
        (
            any::<bool>(),
            any::<bool>(),
            prop::sample::select(ACTIONS),
            prop::option::of(prop::sample::select(RESOURCES)),
            any::<bool>(),
            prop::sample::select(CONDITIONS),
        )
            .prop_map(|(deny, not_action, action, resource, not_resource, condition)| {
                let effect = if deny { "Deny" } else { "Allow" };
                let action_field = if not_action { "NotAction" } else { "Action" };
                let resource = resource.map_or_else(String::new, |r| {
                    let field = if not_resource { "NotResource" } else { "Resource" };
                    format!(r#","{field}":"{r}""#)
                });
                format!(r#"{{"Effect":"{effect}","{action_field}":"{action}"{resource}{condition}}}"#)
            })
    }

    #[derive(Debug, Clone)]
    struct Ctx {
        action: Action,
        domain: Option<&'static str>,
        ip: Option<IpAddr>,
        secure: bool,
        time: i64,
        vpc: bool,
    }

    fn request_ctx() -> impl Strategy<Value = Ctx> {
        (
            prop::sample::select(Action::ALL),
            prop::sample::select(DOMAINS),
            prop::option::of(prop::sample::select(IPS)),
            any::<bool>(),
            1_780_000_000i64..1_782_000_000,
            any::<bool>(),
        )
            .prop_map(|(action, domain, ip, secure, time, vpc)| Ctx {
                action,
                domain,
                ip: ip.map(|s| s.parse().unwrap()),
                secure,
                time,
                vpc,
            })
    }

    fn run(statements: &[String], c: &Ctx) -> Decision {
        let p = policy(&statements.join(","));
        let action = c.action.ram_action();
        let resource = c
            .domain
            .map_or_else(|| "*".to_owned(), |d| resource_for_domain(ACCOUNT, d));
        let keys: &[(&str, &str)] = if c.vpc {
            &[("acs:SourceVpc", "vpc-1")]
        } else {
            &[]
        };
        evaluate(
            &[&p],
            &RequestContext {
                action: &action,
                resource: &resource,
                source_ip: c.ip,
                secure_transport: c.secure,
                current_time: c.time,
                extra_keys: keys,
            },
        )
    }

    proptest! {
        /// Whatever the other statements say, a Deny that matches wins.
        #[test]
        fn an_explicit_deny_always_wins(
            mut statements in prop::collection::vec(statement(), 0..12),
            c in request_ctx(),
            at in any::<prop::sample::Index>(),
        ) {
            let deny = format!(
                r#"{{"Effect":"Deny","Action":"{}","Resource":"{}"}}"#,
                c.action.ram_action(),
                c.domain.map_or_else(|| "*".to_owned(), |d| resource_for_domain(ACCOUNT, d)),
            );
            let at = at.index(statements.len() + 1);
            statements.insert(at, deny);
            prop_assert_eq!(run(&statements, &c), Decision::ExplicitDeny);
        }

        /// Without an Allow statement nothing is ever allowed.
        #[test]
        fn no_allow_never_allows(
            statements in prop::collection::vec(statement(), 1..12),
            c in request_ctx(),
        ) {
            let denies: Vec<String> = statements
                .into_iter()
                .map(|s| s.replace(r#""Effect":"Allow""#, r#""Effect":"Deny""#))
                .collect();
            prop_assert_ne!(run(&denies, &c), Decision::Allow);
        }

        /// The decision is the documented function of the per-statement matches, whatever the
        /// order of the statements.
        #[test]
        fn decision_is_deny_then_allow_then_implicit(
            statements in prop::collection::vec(statement(), 1..12),
            c in request_ctx(),
        ) {
            let each: Vec<Decision> = statements.iter().map(|s| run(std::slice::from_ref(s), &c)).collect();
            let expected = if each.contains(&Decision::ExplicitDeny) {
                Decision::ExplicitDeny
            } else if each.contains(&Decision::Allow) {
                Decision::Allow
            } else {
                Decision::ImplicitDeny
            };
            prop_assert_eq!(run(&statements, &c), expected);
            let mut reversed = statements.clone();
            reversed.reverse();
            prop_assert_eq!(run(&reversed, &c), expected);
        }
    }
}
