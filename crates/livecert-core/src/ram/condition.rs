//! Statement conditions (spec/access.md, "RAM policies": "Conditions to support").
//!
//! A `Condition` block is `{operator: {key: value | [values]}}`. Within one key the values OR;
//! every key of every operator must hold (AND). The operators are declared once in
//! `operators!`; each belongs to one family that fixes which keys it accepts and how its values
//! are read:
//!
//! | family | operators | keys | values |
//! | --- | --- | --- | --- |
//! | string | `StringEquals`, `StringNotEquals`, `StringLike`, `StringNotLike`, and each with `IgnoreCase` | any known key | strings (booleans read as `"true"`/`"false"`) |
//! | IP | `IpAddress`, `NotIpAddress` | `acs:SourceIp` | IPv4/IPv6 addresses or CIDRs |
//! | Bool | `Bool` | `acs:SecureTransport`, or a key from the context map | `true`/`false` (JSON or strings) |
//! | date | `DateLessThan`, `DateGreaterThan` | `acs:CurrentTime` | RFC 3339 times, e.g. `2026-12-01T00:00:00Z` |
//!
//! A key absent from the request context (no source IP, a context-map key not supplied) fails the
//! condition for every operator, the negated ones included: a policy that says "not from this
//! network" does not grant access to a request whose network is unknown.

use std::borrow::Cow;
use std::net::IpAddr;

use super::matcher::{wildcard_match, wildcard_match_ignore_case};
use super::RequestContext;
use crate::timefmt;

/// Declares the condition operators: one row per variant with its policy name and family.
macro_rules! operators {
    ($( $variant:ident => ($name:literal, $family:expr), )*) => {
        /// A condition operator, by its policy name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum Operator {
            $( $variant, )*
        }

        impl Operator {
            /// Every operator, in table order.
            pub(crate) const ALL: &'static [Operator] = &[$(Operator::$variant),*];

            /// The name as written in a policy (case-sensitive).
            pub(crate) const fn name(self) -> &'static str {
                match self { $(Operator::$variant => $name,)* }
            }

            /// How the operator reads its key and values.
            pub(crate) const fn family(self) -> Family {
                match self { $(Operator::$variant => $family,)* }
            }
        }
    };
}

operators! {
    StringEquals => ("StringEquals", Family::Str { like: false, negated: false, ignore_case: false }),
    StringNotEquals => ("StringNotEquals", Family::Str { like: false, negated: true, ignore_case: false }),
    StringEqualsIgnoreCase => ("StringEqualsIgnoreCase", Family::Str { like: false, negated: false, ignore_case: true }),
    StringNotEqualsIgnoreCase => ("StringNotEqualsIgnoreCase", Family::Str { like: false, negated: true, ignore_case: true }),
    StringLike => ("StringLike", Family::Str { like: true, negated: false, ignore_case: false }),
    StringNotLike => ("StringNotLike", Family::Str { like: true, negated: true, ignore_case: false }),
    StringLikeIgnoreCase => ("StringLikeIgnoreCase", Family::Str { like: true, negated: false, ignore_case: true }),
    StringNotLikeIgnoreCase => ("StringNotLikeIgnoreCase", Family::Str { like: true, negated: true, ignore_case: true }),
    IpAddress => ("IpAddress", Family::Ip { negated: false }),
    NotIpAddress => ("NotIpAddress", Family::Ip { negated: true }),
    Bool => ("Bool", Family::Bool),
    DateLessThan => ("DateLessThan", Family::Date { before: true }),
    DateGreaterThan => ("DateGreaterThan", Family::Date { before: false }),
}

/// What an operator compares and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    /// String comparison: exact (or ASCII case-folded), or wildcard (`Like`).
    Str {
        like: bool,
        negated: bool,
        ignore_case: bool,
    },
    /// Source address in one of the networks.
    Ip { negated: bool },
    /// A boolean key equal to one of the values.
    Bool,
    /// The current time before (`DateLessThan`) or after (`DateGreaterThan`) one of the values.
    Date { before: bool },
}

/// A condition key, resolved when the policy is parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Key {
    /// `acs:SourceIp`: [`RequestContext::source_ip`].
    SourceIp,
    /// `acs:SecureTransport`: [`RequestContext::secure_transport`].
    SecureTransport,
    /// `acs:CurrentTime`: [`RequestContext::current_time`].
    CurrentTime,
    /// Any other key, looked up (case-insensitively) in [`RequestContext::extra_keys`].
    Other(String),
}

/// One value as it appears in the policy text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scalar<'a> {
    Str(&'a str),
    Bool(bool),
}

/// A network: an address with a prefix length (a single address has the full length).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

/// The values of one key, read according to the operator's family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Test {
    Str {
        like: bool,
        negated: bool,
        ignore_case: bool,
        values: Vec<String>,
    },
    Ip {
        negated: bool,
        nets: Vec<IpNet>,
    },
    Bool(Vec<bool>),
    Date {
        before: bool,
        times: Vec<i64>,
    },
}

/// One `operator: {key: values}` pair; a statement holds when all of its conditions hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Condition {
    pub(crate) key: Key,
    pub(crate) test: Test,
}

/// The global keys (`acs:` prefix) a policy may name, compared case-insensitively.
const GLOBAL_KEYS: &[&str] = &[
    "acs:SourceIp",
    "acs:SecureTransport",
    "acs:CurrentTime",
    "acs:SourceVpc",
    "acs:SourceVpcIp",
    "acs:AccessId",
    "acs:MFAPresent",
    "acs:PrincipalARN",
];

/// Global key prefixes followed by a free name (`acs:RequestTag/<tag-key>`).
const GLOBAL_KEY_PREFIXES: &[&str] = &["acs:RequestTag/", "acs:ResourceTag/"];

impl Operator {
    /// Looks an operator up by its exact (case-sensitive) name.
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|op| op.name() == name)
    }

    /// The supported names, for error messages.
    pub(crate) fn names() -> String {
        Self::ALL
            .iter()
            .map(|op| op.name())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Checks that `key` is known and that this operator applies to it.
    pub(crate) fn key(self, key: &str) -> Result<Key, String> {
        let resolved = resolve_key(key)?;
        let fits = match self.family() {
            Family::Str { .. } => true,
            Family::Ip { .. } => resolved == Key::SourceIp,
            Family::Date { .. } => resolved == Key::CurrentTime,
            Family::Bool => !matches!(resolved, Key::SourceIp | Key::CurrentTime),
        };
        if fits {
            Ok(resolved)
        } else {
            let wanted = match self.family() {
                Family::Ip { .. } => "acs:SourceIp",
                Family::Date { .. } => "acs:CurrentTime",
                _ => "acs:SecureTransport",
            };
            Err(format!(
                "{} does not apply to \"{}\"; use it with {wanted}",
                self.name(),
                key.escape_debug()
            ))
        }
    }

    /// What the values of this operator look like, for error messages.
    pub(crate) fn expecting(self) -> &'static str {
        match self.family() {
            Family::Str { .. } => "a string or a list of strings",
            Family::Ip { .. } => {
                "an IP address or CIDR (\"10.0.0.0/8\", \"2001:db8::/32\") or a list of them"
            }
            Family::Bool => "true or false (or \"true\"/\"false\")",
            Family::Date { .. } => {
                "an RFC 3339 time such as \"2026-12-01T00:00:00Z\" or a list of them"
            }
        }
    }
}

/// Reads a string value (booleans become `"true"` / `"false"`). Never fails; the `Result` matches
/// the other readers, which the parser calls through one function-pointer type.
#[allow(clippy::unnecessary_wraps)]
pub(crate) fn string_value(value: Scalar<'_>) -> Result<String, String> {
    Ok(match value {
        Scalar::Str(s) => s.to_owned(),
        Scalar::Bool(b) => b.to_string(),
    })
}

/// Reads a `Bool` value: a JSON boolean or the strings `true` / `false` (any case).
pub(crate) fn bool_value(value: Scalar<'_>) -> Result<bool, String> {
    match value {
        Scalar::Bool(b) => Ok(b),
        Scalar::Str(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Scalar::Str(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        Scalar::Str(s) => Err(format!(
            "\"{}\" is not a boolean; write true or false",
            s.escape_debug()
        )),
    }
}

/// Reads an `IpAddress` value: an address or a CIDR.
pub(crate) fn ip_value(value: Scalar<'_>) -> Result<IpNet, String> {
    match value {
        Scalar::Str(s) => IpNet::parse(s),
        Scalar::Bool(b) => Err(format!(
            "{b} is not an IP address; write an address or CIDR such as \"10.0.0.0/8\""
        )),
    }
}

/// Reads a date value into Unix seconds.
pub(crate) fn date_value(value: Scalar<'_>) -> Result<i64, String> {
    let text = match value {
        Scalar::Str(s) => s,
        Scalar::Bool(b) => {
            return Err(format!(
                "{b} is not a date; write an RFC 3339 time such as \"2026-12-01T00:00:00Z\""
            ))
        }
    };
    timefmt::parse_utc(text).ok_or_else(|| {
        format!(
            "\"{}\" is not a date; write an RFC 3339 time such as \"2026-12-01T00:00:00Z\"",
            text.escape_debug()
        )
    })
}

impl Condition {
    /// Whether the condition holds for the request. An absent key never holds.
    pub(crate) fn holds(&self, ctx: &RequestContext<'_>) -> bool {
        match &self.test {
            Test::Str {
                like,
                negated,
                ignore_case,
                values,
            } => {
                let Some(actual) = self.string_of(ctx) else {
                    return false;
                };
                let any = values.iter().any(|v| match (like, ignore_case) {
                    (false, false) => v == actual.as_ref(),
                    (false, true) => v.eq_ignore_ascii_case(&actual),
                    (true, false) => wildcard_match(v, &actual),
                    (true, true) => wildcard_match_ignore_case(v, &actual),
                });
                any != *negated
            }
            Test::Ip { negated, nets } => ctx
                .source_ip
                .is_some_and(|ip| nets.iter().any(|n| n.contains(ip)) != *negated),
            Test::Bool(values) => {
                let actual = match &self.key {
                    Key::SecureTransport => Some(ctx.secure_transport),
                    Key::Other(name) => {
                        extra(ctx, name).and_then(|v| bool_value(Scalar::Str(v)).ok())
                    }
                    Key::SourceIp | Key::CurrentTime => None,
                };
                actual.is_some_and(|b| values.contains(&b))
            }
            Test::Date { before, times } => times.iter().any(|&t| {
                if *before {
                    ctx.current_time < t
                } else {
                    ctx.current_time > t
                }
            }),
        }
    }

    /// The key's value as a string, or `None` when the request does not have it.
    fn string_of<'c>(&self, ctx: &RequestContext<'c>) -> Option<Cow<'c, str>> {
        match &self.key {
            Key::SourceIp => ctx
                .source_ip
                .map(|ip| Cow::Owned(ip.to_canonical().to_string())),
            Key::SecureTransport => Some(Cow::Borrowed(if ctx.secure_transport {
                "true"
            } else {
                "false"
            })),
            Key::CurrentTime => Some(Cow::Owned(timefmt::format_utc(ctx.current_time))),
            Key::Other(name) => extra(ctx, name).map(Cow::Borrowed),
        }
    }
}

impl IpNet {
    /// Parses `addr` or `addr/prefix` (IPv4 or IPv6). Host bits below the prefix are ignored.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let bad = |why: &str| {
            Err(format!(
                "\"{}\" is not an IP address or CIDR: {why}; write e.g. \"10.0.0.0/8\", \"192.0.2.7\" or \"2001:db8::/32\"",
                text.escape_debug()
            ))
        };
        let (addr_text, prefix_text) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let Ok(addr) = addr_text.parse::<IpAddr>() else {
            return bad("the address does not parse");
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix_text {
            None => max,
            Some(p) if !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()) => {
                match p.parse::<u8>() {
                    Ok(n) if n <= max => n,
                    _ => return bad(&format!("the prefix length is over {max}")),
                }
            }
            Some(_) => return bad("the prefix length is not a number"),
        };
        Ok(Self { addr, prefix })
    }

    /// Whether `ip` is inside the network. IPv4-mapped IPv6 addresses (`::ffff:10.1.2.3`) count as
    /// IPv4; IPv4 and IPv6 never match each other otherwise.
    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                (u32::from(net) ^ u32::from(ip)) & mask == 0
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                (u128::from(net) ^ u128::from(ip)) & mask == 0
            }
            _ => false,
        }
    }
}

/// Resolves a key name: the built-in keys, the other documented global keys, or a service key
/// `<service>:<name>`. The error says what a key looks like.
fn resolve_key(key: &str) -> Result<Key, String> {
    for (name, resolved) in [
        ("acs:SourceIp", Key::SourceIp),
        ("acs:SecureTransport", Key::SecureTransport),
        ("acs:CurrentTime", Key::CurrentTime),
    ] {
        if key.eq_ignore_ascii_case(name) {
            return Ok(resolved);
        }
    }
    let Some((service, name)) = key.split_once(':') else {
        return Err(format!(
            "unknown condition key \"{}\"; a key is \"<service>:<name>\", e.g. \"acs:SourceIp\"",
            key.escape_debug()
        ));
    };
    let well_formed = !service.is_empty()
        && service
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !name.is_empty()
        && !name.chars().any(|c| c.is_whitespace() || c.is_control());
    if !well_formed {
        return Err(format!(
            "unknown condition key \"{}\"; a key is \"<service>:<name>\", e.g. \"acs:SourceIp\"",
            key.escape_debug()
        ));
    }
    if service.eq_ignore_ascii_case("acs") {
        let known = GLOBAL_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key))
            || GLOBAL_KEY_PREFIXES.iter().any(|p| {
                key.len() > p.len()
                    && key
                        .get(..p.len())
                        .is_some_and(|head| head.eq_ignore_ascii_case(p))
            });
        if !known {
            return Err(format!(
                "unknown global condition key \"{}\"; the acs: keys are {}, acs:RequestTag/<tag> and acs:ResourceTag/<tag>",
                key.escape_debug(),
                GLOBAL_KEYS.join(", ")
            ));
        }
    }
    Ok(Key::Other(key.to_owned()))
}

/// Looks a key up in the request's context map, case-insensitively.
fn extra<'c>(ctx: &RequestContext<'c>, name: &str) -> Option<&'c str> {
    ctx.extra_keys
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|&(_, v)| v)
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    fn ctx(ip: Option<&str>, secure: bool, now: &str) -> RequestContext<'static> {
        RequestContext {
            action: "live:SetLiveDomainCertificate",
            resource: "*",
            source_ip: ip.map(|s| s.parse().unwrap()),
            secure_transport: secure,
            current_time: timefmt::parse_utc(now).unwrap(),
            extra_keys: &[("acs:SourceVpc", "vpc-123"), ("live:Flag", "TRUE")],
        }
    }

    fn condition(op: &str, key: &str, values: &[Scalar<'_>]) -> Result<Condition, String> {
        let op = Operator::from_name(op).ok_or("no such operator")?;
        let key = op.key(key)?;
        let test = match op.family() {
            Family::Str {
                like,
                negated,
                ignore_case,
            } => Test::Str {
                like,
                negated,
                ignore_case,
                values: values
                    .iter()
                    .map(|&v| string_value(v))
                    .collect::<Result<_, _>>()?,
            },
            Family::Ip { negated } => Test::Ip {
                negated,
                nets: values
                    .iter()
                    .map(|&v| ip_value(v))
                    .collect::<Result<_, _>>()?,
            },
            Family::Bool => Test::Bool(
                values
                    .iter()
                    .map(|&v| bool_value(v))
                    .collect::<Result<_, _>>()?,
            ),
            Family::Date { before } => Test::Date {
                before,
                times: values
                    .iter()
                    .map(|&v| date_value(v))
                    .collect::<Result<_, _>>()?,
            },
        };
        Ok(Condition { key, test })
    }

    use Scalar::{Bool as B, Str as S};

    const T0: &str = "2026-01-01T00:00:00Z";
    const IP: Option<&str> = Some("10.1.2.3");

    /// `(operator, key, values, source ip, secure transport, now, holds)`: access.md's list of
    /// conditions to support, each way round. The context map holds `acs:SourceVpc = vpc-123` and
    /// `live:Flag = TRUE`.
    #[rustfmt::skip]
    #[allow(clippy::type_complexity)]
    const CASES: &[(&str, &str, &[Scalar<'static>], Option<&str>, bool, &str, bool)] = &[
        ("IpAddress", "acs:SourceIp", &[S("10.0.0.0/8")], IP, true, T0, true),
        ("IpAddress", "acs:SourceIp", &[S("10.0.0.0/8")], Some("11.1.2.3"), true, T0, false),
        ("IpAddress", "acs:SourceIp", &[S("192.168.0.0/16"), S("10.0.0.0/8")], IP, true, T0, true),
        ("IpAddress", "acs:SourceIp", &[S("192.0.2.7")], Some("192.0.2.7"), true, T0, true),
        ("IpAddress", "acs:SourceIp", &[S("192.0.2.7")], Some("192.0.2.8"), true, T0, false),
        ("IpAddress", "acs:SourceIp", &[S("0.0.0.0/0")], Some("203.0.113.9"), true, T0, true),
        ("IpAddress", "acs:SourceIp", &[S("10.0.0.0/8")], Some("::ffff:10.9.9.9"), true, T0, true),
        ("IpAddress", "acs:SourceIp", &[S("2001:db8::/32")], Some("2001:db8:1::5"), true, T0, true),
        ("IpAddress", "acs:SourceIp", &[S("2001:db8::/32")], Some("2001:db9::5"), true, T0, false),
        ("IpAddress", "acs:SourceIp", &[S("::1")], Some("::1"), true, T0, true),
        ("IpAddress", "acs:SourceIp", &[S("10.0.0.0/8")], Some("2001:db8::1"), true, T0, false),
        ("IpAddress", "acs:SourceIp", &[S("10.0.0.0/8")], None, true, T0, false),
        ("IpAddress", "acs:sourceip", &[S("10.0.0.0/8")], IP, true, T0, true),
        ("NotIpAddress", "acs:SourceIp", &[S("10.0.0.0/8")], Some("11.1.2.3"), true, T0, true),
        ("NotIpAddress", "acs:SourceIp", &[S("10.0.0.0/8")], IP, true, T0, false),
        ("NotIpAddress", "acs:SourceIp", &[S("10.0.0.0/8")], None, true, T0, false),
        ("Bool", "acs:SecureTransport", &[S("true")], None, true, T0, true),
        ("Bool", "acs:SecureTransport", &[S("true")], None, false, T0, false),
        ("Bool", "acs:SecureTransport", &[B(false)], None, false, T0, true),
        ("Bool", "acs:SecureTransport", &[B(true), B(false)], None, false, T0, true),
        ("Bool", "live:Flag", &[B(true)], None, false, T0, true),
        ("Bool", "live:Absent", &[B(true)], None, false, T0, false),
        ("DateLessThan", "acs:CurrentTime", &[S("2026-12-01T00:00:00Z")], None, true, "2026-11-30T23:59:59Z", true),
        ("DateLessThan", "acs:CurrentTime", &[S("2026-12-01T00:00:00Z")], None, true, "2026-12-01T00:00:00Z", false),
        ("DateLessThan", "acs:CurrentTime", &[S("2026-12-01T08:00:00+08:00")], None, true, "2026-11-30T23:59:59Z", true),
        ("DateGreaterThan", "acs:CurrentTime", &[S("2026-12-01T00:00:00Z")], None, true, "2026-12-01T00:00:01Z", true),
        ("DateGreaterThan", "acs:CurrentTime", &[S("2026-12-01T00:00:00Z")], None, true, "2026-12-01T00:00:00Z", false),
        ("StringEquals", "acs:SourceVpc", &[S("vpc-123")], None, true, T0, true),
        ("StringEquals", "acs:SourceVpc", &[S("VPC-123")], None, true, T0, false),
        ("StringEqualsIgnoreCase", "acs:SourceVpc", &[S("VPC-123")], None, true, T0, true),
        ("StringNotEquals", "acs:SourceVpc", &[S("vpc-999"), S("vpc-888")], None, true, T0, true),
        ("StringNotEquals", "acs:SourceVpc", &[S("vpc-999"), S("vpc-123")], None, true, T0, false),
        ("StringNotEqualsIgnoreCase", "acs:SourceVpc", &[S("VPC-123")], None, true, T0, false),
        ("StringLike", "acs:SourceVpc", &[S("vpc-*")], None, true, T0, true),
        ("StringLike", "acs:SourceVpc", &[S("VPC-*")], None, true, T0, false),
        ("StringLikeIgnoreCase", "acs:SourceVpc", &[S("VPC-*")], None, true, T0, true),
        ("StringNotLike", "acs:SourceVpc", &[S("vpc-9*")], None, true, T0, true),
        ("StringNotLikeIgnoreCase", "acs:SourceVpc", &[S("VPC-1*")], None, true, T0, false),
        // Absent keys fail every operator, the negated ones too.
        ("StringEquals", "acs:AccessId", &[S("x")], None, true, T0, false),
        ("StringNotEquals", "acs:AccessId", &[S("x")], None, true, T0, false),
        ("StringNotLike", "live:Other", &[S("x*")], None, true, T0, false),
        // Built-in keys read as strings.
        ("StringEquals", "acs:SecureTransport", &[B(true)], None, true, T0, true),
        ("StringLike", "acs:SourceIp", &[S("10.*")], IP, true, T0, true),
        ("StringLike", "acs:CurrentTime", &[S("2026-01-*")], None, true, "2026-01-05T00:00:00Z", true),
    ];

    #[test]
    fn documented_conditions() {
        for &(op, key, values, ip, secure, now, expected) in CASES {
            let c = condition(op, key, values).unwrap();
            assert_eq!(
                c.holds(&ctx(ip, secure, now)),
                expected,
                "{op} {key} {values:?} ip={ip:?} secure={secure} now={now}"
            );
        }
    }

    /// `(operator, key, values, fragment of the refusal)`.
    #[rustfmt::skip]
    const REFUSALS: &[(&str, &str, &[Scalar<'static>], &str)] = &[
        ("IpAddress", "acs:SecureTransport", &[S("10.0.0.0/8")], "use it with acs:SourceIp"),
        ("DateLessThan", "acs:SourceIp", &[S("2026-01-01T00:00:00Z")], "use it with acs:CurrentTime"),
        ("Bool", "acs:SourceIp", &[B(true)], "use it with acs:SecureTransport"),
        ("IpAddress", "acs:SourceIp", &[S("10.0.0.0/33")], "prefix length is over 32"),
        ("IpAddress", "acs:SourceIp", &[S("2001:db8::/129")], "prefix length is over 128"),
        ("IpAddress", "acs:SourceIp", &[S("10.0.0/8")], "does not parse"),
        ("IpAddress", "acs:SourceIp", &[S("10.0.0.0/x")], "not a number"),
        ("IpAddress", "acs:SourceIp", &[S("10.0.0.0/")], "not a number"),
        ("IpAddress", "acs:SourceIp", &[B(true)], "not an IP address"),
        ("DateLessThan", "acs:CurrentTime", &[S("2026-12-01")], "2026-12-01T00:00:00Z"),
        ("DateLessThan", "acs:CurrentTime", &[S("tomorrow")], "not a date"),
        ("Bool", "acs:SecureTransport", &[S("yes")], "write true or false"),
        ("StringEquals", "acs:SourceIP6", &[S("x")], "unknown global condition key"),
        ("StringEquals", "SourceIp", &[S("x")], "<service>:<name>"),
        ("StringEquals", "acs:", &[S("x")], "<service>:<name>"),
        ("StringEquals", "a b:c", &[S("x")], "<service>:<name>"),
    ];

    #[test]
    fn refusals_say_what_to_write() {
        for &(op, key, values, needle) in REFUSALS {
            let err = condition(op, key, values).unwrap_err();
            assert!(err.contains(needle), "{op} {key}: {err}");
        }
        assert!(Operator::from_name("stringequals").is_none());
        assert!(Operator::from_name("NumericEquals").is_none());
        assert!(Operator::key(Operator::StringEquals, "acs:RequestTag/env").is_ok());
        assert!(Operator::key(Operator::StringEquals, "acs:RequestTag/").is_err());
    }

    #[test]
    fn networks_mask_host_bits_and_edges() {
        let net = IpNet::parse("10.1.2.3/8").unwrap();
        assert!(net.contains(IpAddr::V4(Ipv4Addr::new(10, 255, 0, 1))));
        let all6 = IpNet::parse("::/0").unwrap();
        assert!(all6.contains(IpAddr::V6(Ipv6Addr::LOCALHOST)));
        assert!(!all6.contains(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        let one = IpNet::parse("2001:db8::1/128").unwrap();
        assert!(one.contains("2001:db8::1".parse().unwrap()));
        assert!(!one.contains("2001:db8::2".parse().unwrap()));
    }
}
