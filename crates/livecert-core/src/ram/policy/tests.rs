//! Tests of the policy document: the access.md example, the forms that parse, refusals that point
//! at the problem and say what to fix, and property tests (no panic; deep nesting refused).

use proptest::prelude::*;

use super::*;

/// The grammar example of access.md, completed into a whole document.
const ACCESS_MD_EXAMPLE: &str = r#"{"Version":"1","Statement":[{"Effect":"Allow",
  "Action": ["live:Describe*", "live:SetLiveDomainCertificate"],
  "Resource": "acs:cdn:*:1234567890123456:domain/live.example.com",
  "Condition": {"IpAddress":{"acs:SourceIp":["10.0.0.0/8"]}, "Bool":{"acs:SecureTransport":"true"}}}]}"#;

fn refuse(text: &str) -> PolicyError {
    Policy::parse(text).expect_err(text)
}

#[test]
fn the_access_md_example_parses() {
    let p = Policy::parse(ACCESS_MD_EXAMPLE).unwrap();
    assert_eq!(p.statements().len(), 1);
    let s = &p.statements()[0];
    assert_eq!(s.effect(), Effect::Allow);
    assert_eq!(s.actions.patterns.len(), 2);
    assert!(!s.actions.negated);
    assert_eq!(s.conditions.len(), 2);
}

#[test]
fn a_string_and_a_one_element_list_mean_the_same() {
    let one = Policy::parse(
        r#"{"Version":"1","Statement":[{"Effect":"Deny","Action":"live:*","Resource":"*",
                "Condition":{"IpAddress":{"acs:SourceIp":"10.0.0.0/8"}}}]}"#,
    )
    .unwrap();
    let list = Policy::parse(
        r#"{"Version":"1","Statement":[{"Effect":"Deny","Action":["live:*"],"Resource":["*"],
                "Condition":{"IpAddress":{"acs:SourceIp":["10.0.0.0/8"]}}}]}"#,
    )
    .unwrap();
    assert_eq!(one, list);
}

#[test]
fn valid_forms() {
    for text in [
        // NotAction, NotResource, no Resource, empty Condition, order of fields.
        r#"{"Statement":[{"NotAction":"live:Set*","Effect":"Allow"}],"Version":"1"}"#,
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","NotResource":["acs:cdn:*:1:domain/a.com"]}]}"#,
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"live:*","Condition":{}}]}"#,
        // Every operator family, booleans as JSON and as strings, several statements.
        r#"{"Version":"1","Statement":[
                {"Effect":"Allow","Action":"live:*","Resource":"*","Condition":{
                    "StringEquals":{"acs:SourceVpc":"vpc-1"},
                    "StringNotEqualsIgnoreCase":{"acs:AccessId":["a","b"]},
                    "StringLike":{"live:Tag":"x*"},
                    "NotIpAddress":{"acs:SourceIp":["2001:db8::/32","192.0.2.1"]},
                    "Bool":{"acs:SecureTransport":true},
                    "DateLessThan":{"acs:CurrentTime":"2026-12-01T00:00:00Z"},
                    "DateGreaterThan":{"acs:CurrentTime":["2026-01-01T00:00:00+08:00"]}}},
                {"Effect":"Deny","Action":["live:SetLiveDomainCertificate"],
                 "Resource":["acs:live:cn-shanghai:*:domain/*.example.com","acs:oss:*:*:*"]}]}"#,
        // White space and a BOM-free UTF-8 domain pattern.
        "\n  {\"Version\" : \"1\" ,\n \"Statement\" : [ {\"Effect\":\"Allow\",\"Action\":\"live:*\",\"Resource\":\"acs:cdn:*:*:domain/é*\"} ] }\n",
    ] {
        Policy::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    }
}

/// Each refusal with where it points and what its message must say:
/// `(document, line, column, fragment of the message)`.
#[rustfmt::skip]
const REFUSALS: &[(&str, usize, usize, &str)] = &[
    ("", 1, 1, "ends early"),
    ("{\"Version\":\"1\",\n\"Statement\":[}", 2, 14, "not valid JSON"),
    (r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*"}]} x"#, 1, 63, "trailing characters"),
    ("[]", 1, 1, "a policy document"),
    (r#"{"Version":"2","Statement":[]}"#, 1, 14, "Version \"2\" is not supported; write \"Version\": \"1\""),
    (r#"{"Version":1,"Statement":[]}"#, 1, 12, "Version as the string \"1\""),
    (r#"{"Statement":[{"Effect":"Allow","Action":"*"}]}"#, 1, 47, "lacks \"Version\""),
    (r#"{"Version":"1"}"#, 1, 15, "lacks \"Statement\""),
    (r#"{"Version":"1","Statement":[]}"#, 1, 29, "Statement is empty"),
    (r#"{"Version":"1","Statement":{}}"#, 1, 27, "Statement as a list"),
    (r#"{"Version":"1","Id":"x","Statement":[]}"#, 1, 19, "unknown top-level field \"Id\""),
    (r#"{"Version":"1","Version":"1","Statement":[]}"#, 1, 24, "\"Version\" appears twice"),
    ("{\"Version\":\"1\",\"Statement\":[\n{\"Effect\":\"Allow\",\"Action\":\"*\"},\n{\"Effect\":\"allow\",\"Action\":\"*\"}]}", 3, 17,
        "Statement[1].Effect: \"allow\" is not an effect; write \"Allow\" or \"Deny\""),
    (r#"{"Version":"1","Statement":[{"Effect":true,"Action":"*"}]}"#, 1, 42, "Statement[0].Effect as \"Allow\" or \"Deny\""),
    (r#"{"Version":"1","Statement":[{"Action":"*"}]}"#, 1, 42, "Statement[0] lacks Effect"),
    (r#"{"Version":"1","Statement":[{"Effect":"Allow"}]}"#, 1, 46, "Statement[0] lacks Action"),
    (r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","NotAction":"*"}]}"#, 1, 70, "Statement[0] has both Action and NotAction"),
    (r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","NotResource":"*"}]}"#, 1, 87, "has both Resource and NotResource"),
    (r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Sid":"x"}]}"#, 1, 64, "Statement[0]: unknown field \"Sid\""),
    (r#"{"Version":"1","Statement":[{"Effect":"Allow","action":"*"}]}"#, 1, 54, "unknown field \"action\""),
    (r#"{"Version":"1","Statement":[{"Effect":"Allow","Effect":"Deny","Action":"*"}]}"#, 1, 54, "\"Effect\" appears twice"),
    (r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":[]}]}"#, 1, 57, "Statement[0].Action is an empty list"),
    (r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"Describe*"}]}"#, 1, 66, "\"Describe*\" is not an action"),
    (r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":["live:*", 7]}]}"#, 1, 67, "each entry of Statement[0].Action"),
    (r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":[["live:*"]]}]}"#, 1, 57, "each entry of Statement[0].Action"),
    (r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"acs:cdn:123"}]}"#, 1, 83, "Statement[0].Resource: the resource \"acs:cdn:123\" does not have five colon-separated segments"),
    (r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":["*",""]}]}"#, 1, 77, "Statement[0].Resource: the resource is empty"),
    (r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Condition":{"NumericEquals":{"live:n":"1"}}}]}"#, 1, 87, "Statement[0].Condition: unknown condition operator \"NumericEquals\"; the operators are StringEquals"),
    (r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Condition":{"StringEquals":{"acs:Nope":"1"}}}]}"#, 1, 98, "Statement[0].Condition.StringEquals: unknown global condition key \"acs:Nope\""),
    (r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Condition":{"IpAddress":{"acs:SourceVpc":"1"}}}]}"#, 1, 100, "IpAddress does not apply to \"acs:SourceVpc\"; use it with acs:SourceIp"),
    (r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Condition":{"IpAddress":{"acs:SourceIp":["10.0.0.0/8","10.0.0.0/40"]}}}]}"#, 1, 127, "Statement[0].Condition.IpAddress.acs:SourceIp: \"10.0.0.0/40\" is not an IP address or CIDR"),
    (r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Condition":{"DateLessThan":{"acs:CurrentTime":"2026-12-01"}}}]}"#, 1, 118, "\"2026-12-01\" is not a date; write an RFC 3339 time"),
    (r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Condition":{"Bool":{"acs:SecureTransport":"yes"}}}]}"#, 1, 107, "\"yes\" is not a boolean"),
    (r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Condition":{"StringEquals":{"acs:SourceVpc":5}}}]}"#, 1, 105, "invalid type: integer `5`, expected Statement[0].Condition.StringEquals.acs:SourceVpc as a string"),
    (r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Condition":{"StringEquals":{"acs:SourceVpc":[]}}}]}"#, 1, 106, "acs:SourceVpc is an empty list"),
    (r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Condition":{"Bool":{"acs:SecureTransport":true},"Bool":{}}}]}"#, 1, 114, "\"Bool\" appears twice"),
    (r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Condition":[]}]}"#, 1, 71, "Statement[0].Condition as an object"),
];

#[test]
fn refusals_point_at_the_problem_and_say_what_to_fix() {
    for &(text, line, column, fragment) in REFUSALS {
        let err = refuse(text);
        assert!(
            err.message.contains(fragment),
            "{text}\n  message: {}\n  wanted: {fragment}",
            err.message
        );
        assert_eq!(
            (err.line, err.column),
            (line, column),
            "{text}: {}",
            err.message
        );
        assert!(err
            .to_string()
            .starts_with(&format!("line {line}, column {column}: ")));
    }
}

/// Fragments of policy text, glued at random: most of the results are near-misses of the
/// grammar, which exercises the refusals far more than uniform noise does.
fn fragments() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "\"Version\"",
        "\"1\"",
        "\"Statement\"",
        "\"Effect\"",
        "\"Allow\"",
        "\"Deny\"",
        "\"Action\"",
        "\"NotAction\"",
        "\"Resource\"",
        "\"NotResource\"",
        "\"Condition\"",
        "\"IpAddress\"",
        "\"acs:SourceIp\"",
        "\"10.0.0.0/8\"",
        "\"Bool\"",
        "\"acs:SecureTransport\"",
        "true",
        "\"DateLessThan\"",
        "\"acs:CurrentTime\"",
        "\"2026-12-01T00:00:00Z\"",
        "\"live:*\"",
        "\"*\"",
        "\"acs:cdn:*:1:domain/a\"",
        "1",
        "null",
        "\"StringLike\"",
        "\"acs:SourceVpc\"",
        "\"\\u0000\"",
        " ",
    ]);
    prop::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

proptest! {
    #[test]
    fn parse_never_panics_on_arbitrary_text(text in ".{0,200}") {
        let _ = Policy::parse(&text);
    }

    #[test]
    fn parse_never_panics_on_grammar_fragments(text in fragments()) {
        if let Err(e) = Policy::parse(&text) {
            prop_assert!(e.line >= 1 && e.column >= 1);
            prop_assert!(!e.message.is_empty());
        }
    }

    #[test]
    fn parse_never_panics_on_mutations_of_a_valid_policy(
        at in 0usize..400, len in 0usize..8, insert in ".{0,4}",
    ) {
        let base = ACCESS_MD_EXAMPLE;
        let at = at.min(base.len());
        let end = (at + len).min(base.len());
        if base.is_char_boundary(at) && base.is_char_boundary(end) {
            let text = format!("{}{insert}{}", &base[..at], &base[end..]);
            let _ = Policy::parse(&text);
        }
    }
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    let text = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(Policy::parse(&text).is_err());
    let text = format!(
        r#"{{"Version":"1","Statement":[{{"Effect":"Allow","Action":{}}}]}}"#,
        "[".repeat(100_000)
    );
    assert!(Policy::parse(&text).is_err());
}
