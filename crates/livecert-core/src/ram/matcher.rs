//! Wildcards and resource names (spec/access.md, "RAM policies").
//!
//! `*` matches any run of characters (none included) and `?` exactly one character; every other
//! character matches itself. [`wildcard_match`] compares case-sensitively (resources),
//! [`wildcard_match_ignore_case`] folds ASCII letters (action names, the domain part of a
//! resource). Both are one iterative pass with a single star-backtrack point, so they run in
//! O(pattern × subject) time at worst and never blow up on patterns like `a*a*a*…b`.
//!
//! A policy resource is `*` (or only stars), which matches everything, or
//! `acs:<service>:<region>:<account>:<relative>`. It matches a request resource
//! `acs:cdn:*:<accountId>:domain/<DomainName>` when its service matches `cdn` or `live`, whatever
//! its region says, when its account matches the account, and when its relative part matches
//! `domain/<DomainName>` — with the service, the `domain/` type and the domain compared ignoring
//! ASCII case when the pattern spells `domain/` (in any case). A request resource `*` (an operation without a resource) is matched only by
//! a policy resource made of stars.

/// Whether `pattern` matches the whole of `subject`, case-sensitively: `*` matches any run of
/// characters, `?` exactly one character.
pub fn wildcard_match(pattern: &str, subject: &str) -> bool {
    glob(pattern.as_bytes(), subject.as_bytes(), false)
}

/// Like [`wildcard_match`], with ASCII letters compared case-insensitively (`live:describe*`
/// matches `live:DescribeLiveCertificateList`). Non-ASCII characters compare exactly.
pub fn wildcard_match_ignore_case(pattern: &str, subject: &str) -> bool {
    glob(pattern.as_bytes(), subject.as_bytes(), true)
}

/// A policy `Resource` entry, checked and split when the policy is parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ResourcePattern {
    /// Only stars: every request resource, `*` included.
    Any,
    /// `acs:<service>:<region>:<account>:<relative>`.
    Arn {
        /// Whether the service segment matches `cdn` or `live`; when not, the entry names another
        /// product and never matches a livecert resource.
        live_service: bool,
        /// The account segment, a wildcard pattern.
        account: String,
        /// The relative part.
        relative: Relative,
    },
}

/// The relative part of a policy resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Relative {
    /// `domain/<pattern>`: the pattern after `domain/`, matched case-insensitively.
    Domain(String),
    /// Anything else (`*`, `dom*`), matched case-sensitively against `domain/<DomainName>`.
    Other(String),
}

/// A request resource, split once per evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RequestResource<'a> {
    /// `*`: an operation without a resource.
    Star,
    /// `acs:cdn:*:<account>:<relative>` (service `cdn` or `live`).
    Arn { account: &'a str, relative: &'a str },
    /// Any other string: matched only by a policy resource made of stars.
    Other,
}

impl ResourcePattern {
    /// Checks and splits one `Resource` entry. The error says what the entry should look like.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        const SHAPE: &str =
            "a resource is \"*\" or \"acs:<service>:<region>:<account>:<relative>\", \
                             e.g. \"acs:cdn:*:1234567890123456:domain/live.example.com\"";
        if text.is_empty() {
            return Err(format!("the resource is empty; {SHAPE}"));
        }
        if text.bytes().all(|b| b == b'*') {
            return Ok(Self::Any);
        }
        if text.chars().any(char::is_whitespace) || text.chars().any(char::is_control) {
            return Err(format!(
                "the resource \"{}\" contains white space or control characters; {SHAPE}",
                text.escape_debug()
            ));
        }
        let parts: Vec<&str> = text.splitn(5, ':').collect();
        let [acs, service, _region, account, relative] = parts[..] else {
            return Err(format!(
                "the resource \"{}\" does not have five colon-separated segments; {SHAPE}",
                text.escape_debug()
            ));
        };
        if acs != "acs" {
            return Err(format!(
                "the resource \"{}\" does not start with \"acs:\"; {SHAPE}",
                text.escape_debug()
            ));
        }
        for (name, value) in [
            ("service", service),
            ("account", account),
            ("relative", relative),
        ] {
            if value.is_empty() {
                return Err(format!(
                    "the {name} segment of \"{}\" is empty; use \"*\" for any; {SHAPE}",
                    text.escape_debug()
                ));
            }
        }
        // The service and the `domain/` type are names, not data: compared ignoring ASCII case, so
        // that `acs:CDN:…:Domain/x` (a Deny an operator wrote) applies rather than silently never
        // matching.
        let relative = match relative
            .get(..7)
            .filter(|p| p.eq_ignore_ascii_case("domain/"))
            .and_then(|_| relative.get(7..))
        {
            Some(domain) => Relative::Domain(domain.to_owned()),
            None => Relative::Other(relative.to_owned()),
        };
        Ok(Self::Arn {
            live_service: wildcard_match_ignore_case(service, "cdn")
                || wildcard_match_ignore_case(service, "live"),
            account: account.to_owned(),
            relative,
        })
    }

    /// Whether this entry matches the request resource.
    pub(crate) fn matches(&self, request: RequestResource<'_>) -> bool {
        match (self, request) {
            (Self::Any, _) => true,
            (
                Self::Arn {
                    live_service,
                    account,
                    relative,
                },
                RequestResource::Arn {
                    account: req_account,
                    relative: req_relative,
                },
            ) => {
                *live_service
                    && wildcard_match(account, req_account)
                    && match relative {
                        Relative::Domain(pattern) => req_relative
                            .strip_prefix("domain/")
                            .is_some_and(|domain| wildcard_match_ignore_case(pattern, domain)),
                        Relative::Other(pattern) => wildcard_match(pattern, req_relative),
                    }
            }
            (Self::Arn { .. }, RequestResource::Star | RequestResource::Other) => false,
        }
    }
}

impl<'a> RequestResource<'a> {
    /// Splits a request resource: `*`, `acs:<cdn|live>:<region>:<account>:<relative>`, or other.
    pub(crate) fn parse(text: &'a str) -> Self {
        if text == "*" {
            return Self::Star;
        }
        let mut parts = text.splitn(5, ':');
        match (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) {
            (Some("acs"), Some("cdn" | "live"), Some(_region), Some(account), Some(relative)) => {
                Self::Arn { account, relative }
            }
            _ => Self::Other,
        }
    }
}

/// The matcher: pattern and subject are UTF-8 bytes. Literal bytes compare one by one (equal
/// UTF-8 sequences are equal characters); `?` and a star's extension step over one whole
/// character. On a mismatch the last star swallows one more character and matching resumes
/// after it; earlier stars never need revisiting, which bounds the work by
/// pattern length × subject length.
fn glob(pattern: &[u8], subject: &[u8], fold: bool) -> bool {
    let eq = |a: u8, b: u8| {
        if fold {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    let (mut p, mut s) = (0usize, 0usize);
    // (pattern index just after the last star, subject index where that star's run ends)
    let mut star: Option<(usize, usize)> = None;
    while s < subject.len() {
        match pattern.get(p) {
            Some(b'*') => {
                p += 1;
                star = Some((p, s));
                continue;
            }
            Some(b'?') => {
                p += 1;
                s = next_char(subject, s);
                continue;
            }
            Some(&c) if eq(c, subject[s]) => {
                p += 1;
                s += 1;
                continue;
            }
            _ => {}
        }
        match star {
            Some((after_star, run_end)) => {
                let run_end = next_char(subject, run_end);
                star = Some((after_star, run_end));
                p = after_star;
                s = run_end;
            }
            None => return false,
        }
    }
    pattern[p.min(pattern.len())..].iter().all(|&c| c == b'*')
}

/// The index just after the UTF-8 character starting at `i` (clamped to the end).
fn next_char(bytes: &[u8], i: usize) -> usize {
    let width = match bytes.get(i) {
        Some(&b) if b < 0x80 => 1,
        Some(&b) if b >= 0xF0 => 4,
        Some(&b) if b >= 0xE0 => 3,
        Some(&b) if b >= 0xC0 => 2,
        _ => 1,
    };
    (i + width).min(bytes.len())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// A regex-free reference: the textbook recursion over characters, exponential but exact.
    fn reference(pattern: &[char], subject: &[char], fold: bool) -> bool {
        let eq = |a: char, b: char| {
            if fold {
                a.eq_ignore_ascii_case(&b)
            } else {
                a == b
            }
        };
        match pattern.split_first() {
            None => subject.is_empty(),
            Some(('*', rest)) => (0..=subject.len()).any(|k| reference(rest, &subject[k..], fold)),
            Some(('?', rest)) => !subject.is_empty() && reference(rest, &subject[1..], fold),
            Some((&c, rest)) => subject
                .split_first()
                .is_some_and(|(&d, tail)| eq(c, d) && reference(rest, tail, fold)),
        }
    }

    /// (pattern, subject, case-sensitive result, case-insensitive result)
    #[rustfmt::skip]
    const CASES: &[(&str, &str, bool, bool)] = &[
        ("*", "", true, true),
        ("*", "anything", true, true),
        ("", "", true, true),
        ("", "a", false, false),
        ("?", "", false, false),
        ("?", "é", true, true),
        ("??", "é", false, false),
        ("a?c", "abc", true, true),
        ("a?c", "ac", false, false),
        ("live:Describe*", "live:DescribeLiveCertificateList", true, true),
        ("live:describe*", "live:DescribeLiveCertificateList", false, true),
        ("live:Describe*", "live:SetLiveDomainCertificate", false, false),
        ("live:*Certificate", "live:SetLiveDomainCertificate", true, true),
        ("live:*Certificate", "live:DescribeLiveCertificateList", false, false),
        ("*.example.com", "live.example.com", true, true),
        ("*.example.com", "example.com", false, false),
        ("*.EXAMPLE.com", "live.example.com", false, true),
        ("a*b*c", "aXbYc", true, true),
        ("a*b*c", "aXbY", false, false),
        ("*a", "ba", true, true),
        ("a**", "a", true, true),
        ("é*", "éa", true, true),
        ("É*", "éa", false, false),
    ];

    #[test]
    fn documented_wildcard_cases() {
        for &(pattern, subject, exact, folded) in CASES {
            assert_eq!(
                wildcard_match(pattern, subject),
                exact,
                "{pattern} ~ {subject}"
            );
            assert_eq!(
                wildcard_match_ignore_case(pattern, subject),
                folded,
                "{pattern} ~i {subject}"
            );
        }
    }

    #[test]
    fn adversarial_patterns_finish() {
        // With naive recursion this is exponential; here it is at most pattern × subject steps.
        let pattern = format!("{}b", "a*".repeat(40));
        let subject = "a".repeat(20_000);
        assert!(!wildcard_match(&pattern, &subject));
        let subject = format!("{subject}b");
        assert!(wildcard_match(&pattern, &subject));
        assert!(!wildcard_match(&"*a".repeat(200), &"b".repeat(20_000)));
    }

    /// access.md: "A policy resource matches it when its service segment is `cdn` or `live`, its
    /// region segment is anything (a concrete region matches too), and its account and relative
    /// parts match by the wildcard rules." `(policy resource, request resource, matches)`; `R` is
    /// the request resource of `live.example.com` in account 1234567890123456.
    #[rustfmt::skip]
    const RESOURCE_CASES: &[(&str, &str, bool)] = &[
        ("*", R, true),
        ("*", "*", true),
        ("**", "*", true),
        ("*", "something-else", true),
        ("acs:cdn:*:1234567890123456:domain/live.example.com", R, true),
        ("acs:live:*:1234567890123456:domain/live.example.com", R, true),
        ("acs:*:*:1234567890123456:domain/live.example.com", R, true),
        ("acs:c?n:*:1234567890123456:domain/live.example.com", R, true),
        ("acs:oss:*:1234567890123456:domain/live.example.com", R, false),
        ("acs:CDN:*:1234567890123456:domain/live.example.com", R, true),
        ("acs:cdn:cn-hangzhou:1234567890123456:domain/live.example.com", R, true),
        ("acs:cdn::1234567890123456:domain/live.example.com", R, true),
        ("acs:cdn:*:*:domain/live.example.com", R, true),
        ("acs:cdn:*:1234*:domain/live.example.com", R, true),
        ("acs:cdn:*:6543210987654321:domain/live.example.com", R, false),
        ("acs:cdn:*:1234567890123456:domain/*", R, true),
        ("acs:cdn:*:1234567890123456:domain/*.example.com", R, true),
        ("acs:cdn:*:1234567890123456:domain/*.example.org", R, false),
        ("acs:cdn:*:1234567890123456:domain/LIVE.Example.COM", R, true),
        ("acs:cdn:*:1234567890123456:domain/liv?.example.com", R, true),
        ("acs:cdn:*:1234567890123456:domain/live?.example.com", R, false),
        ("acs:cdn:*:1234567890123456:*", R, true),
        ("acs:cdn:*:1234567890123456:dom*", R, true),
        ("acs:cdn:*:1234567890123456:Domain/live.example.com", R, true),
        ("acs:cdn:*:1234567890123456:domain/*", "*", false),
        ("acs:*:*:*:*", "*", false),
        ("acs:cdn:*:1234567890123456:domain/*", "something-else", false),
        ("acs:cdn:*:1234567890123456:domain/*", "acs:oss:*:1234567890123456:domain/live.example.com", false),
        ("acs:cdn:*:1234567890123456:domain/*", "acs:live:*:1234567890123456:domain/live.example.com", true),
    ];
    const R: &str = "acs:cdn:*:1234567890123456:domain/live.example.com";

    #[test]
    fn documented_resource_cases() {
        for &(policy, request, expected) in RESOURCE_CASES {
            let pattern = ResourcePattern::parse(policy).unwrap();
            assert_eq!(
                pattern.matches(RequestResource::parse(request)),
                expected,
                "{policy} ~ {request}"
            );
        }
    }

    #[test]
    fn malformed_resources_are_refused_with_the_shape() {
        for bad in [
            "",
            "acs:cdn:*:123",
            "arn:cdn:*:123:domain/x",
            "domain/x",
            "acs::*:123:domain/x",
            "acs:cdn:*::domain/x",
            "acs:cdn:*:123:",
            "acs:cdn:*:123:domain/a b",
        ] {
            let err = ResourcePattern::parse(bad).unwrap_err();
            assert!(
                err.contains("acs:<service>:<region>:<account>:<relative>"),
                "{bad}: {err}"
            );
        }
    }

    proptest! {
        #[test]
        fn agrees_with_the_reference(
            pattern in "[ab*?Aé]{0,8}",
            subject in "[abAé]{0,10}",
        ) {
            let p: Vec<char> = pattern.chars().collect();
            let s: Vec<char> = subject.chars().collect();
            prop_assert_eq!(wildcard_match(&pattern, &subject), reference(&p, &s, false));
            prop_assert_eq!(
                wildcard_match_ignore_case(&pattern, &subject),
                reference(&p, &s, true)
            );
        }

        #[test]
        fn never_panics_on_any_text(pattern in ".{0,12}", subject in ".{0,12}") {
            let _ = wildcard_match(&pattern, &subject);
            let _ = wildcard_match_ignore_case(&pattern, &subject);
            if let Ok(p) = ResourcePattern::parse(&pattern) {
                let _ = p.matches(RequestResource::parse(&subject));
            }
        }
    }
}
