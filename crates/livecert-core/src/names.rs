//! Checked names: a parameter becomes one of these types before a handler sees it.
//!
//! - [`DomainName`]: RFC 1123 host names, optionally a wildcard (`*.example.com`), stored lower case
//!   (spec/operations.md, "Domain names").
//! - [`CertName`]: a certificate library name, 1–128 Unicode scalar values without control
//!   characters, compared exactly (operations.md, `CertName`).

use std::fmt;

use crate::error::{ApiError, ErrorCode};

/// Longest domain name in characters (RFC 1035 §2.3.4, without the trailing dot).
pub const MAX_DOMAIN_LEN: usize = 253;
/// Longest label in characters (RFC 1035 §2.3.4).
pub const MAX_LABEL_LEN: usize = 63;
/// Longest CertName in Unicode scalar values (API page: `InvalidCertName.TooLong`).
pub const MAX_CERT_NAME_CHARS: usize = 128;

/// A streaming domain: lower case, RFC 1123 labels, optionally a leading `*.` wildcard label.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DomainName(String);

/// Why a string is not a [`DomainName`]; the text says what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DomainNameError(String);

impl DomainName {
    /// Parses a domain name. `.example.com` is read as `*.example.com`; case is folded to lower.
    ///
    /// Errors: empty, over 253 characters, a label empty or over 63 characters, a character other
    /// than letters, digits and `-`, a label starting or ending with `-`, a trailing dot, a
    /// wildcard anywhere but the whole first label, or a wildcard with fewer than two labels after it.
    pub fn parse(input: &str) -> Result<Self, DomainNameError> {
        let err = |why: &str| {
            Err(DomainNameError(format!(
                "\"{}\" is not a valid domain name: {why}.",
                input.escape_debug()
            )))
        };
        if input.is_empty() {
            return err("it is empty");
        }
        let lower = input.to_ascii_lowercase();
        let (wildcard, rest) = if let Some(rest) = lower.strip_prefix("*.") {
            (true, rest)
        } else if let Some(rest) = lower.strip_prefix('.') {
            (true, rest)
        } else {
            (false, lower.as_str())
        };
        if rest.ends_with('.') {
            return err("remove the trailing dot");
        }
        let total = rest.len() + if wildcard { 2 } else { 0 };
        if total > MAX_DOMAIN_LEN {
            return err("it is longer than 253 characters");
        }
        let labels: Vec<&str> = rest.split('.').collect();
        if wildcard && labels.len() < 2 {
            return err("a wildcard needs at least two labels after \"*.\"");
        }
        for label in &labels {
            if label.is_empty() {
                return err("it has an empty label");
            }
            if label.len() > MAX_LABEL_LEN {
                return err("a label is longer than 63 characters");
            }
            if label.contains('*') {
                return err("\"*\" is allowed only as the whole first label");
            }
            if !label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            {
                return err("only letters, digits and hyphens are allowed in a label");
            }
            if label.starts_with('-') || label.ends_with('-') {
                return err("a label may not start or end with a hyphen");
            }
        }
        Ok(Self(if wildcard {
            format!("*.{rest}")
        } else {
            rest.to_owned()
        }))
    }

    /// The name, lower case (`*.example.com` for a wildcard domain).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is a wildcard domain (`*.parent`).
    pub fn is_wildcard(&self) -> bool {
        self.0.starts_with("*.")
    }
}

impl fmt::Display for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DomainName({})", self.0)
    }
}

impl From<DomainNameError> for ApiError {
    fn from(e: DomainNameError) -> Self {
        ApiError::invalid("DomainName", e.0)
    }
}

/// A certificate library name: 1–128 Unicode scalar values, no control characters, case-sensitive.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CertName(String);

impl CertName {
    /// Parses a CertName (operations.md rows 4 and 5).
    ///
    /// Errors: control characters → `SetDomainCertificate.ParameterError`; more than 128
    /// characters → `InvalidCertName.TooLong`; empty → `SetDomainCertificate.ParameterError`
    /// (callers treat an empty CertName as absent before calling this).
    pub fn parse(input: &str) -> Result<Self, ApiError> {
        if input.is_empty() {
            return Err(ApiError::new(
                ErrorCode::SetDomainCertificateParameterError,
                "CertName is empty: give 1 to 128 characters.",
            ));
        }
        if let Some(c) = input
            .chars()
            .find(|&c| c.is_control() || is_noncharacter(c))
        {
            let kind = if c.is_control() {
                "control character"
            } else {
                "noncharacter"
            };
            return Err(ApiError::new(
                ErrorCode::SetDomainCertificateParameterError,
                format!(
                    "CertName contains the {kind} U+{:04X}: remove it.",
                    c as u32
                ),
            ));
        }
        let n = input.chars().count();
        if n > MAX_CERT_NAME_CHARS {
            return Err(ApiError::new(
                ErrorCode::InvalidCertNameTooLong,
                format!("CertName has {n} characters; the limit is {MAX_CERT_NAME_CHARS}."),
            ));
        }
        Ok(Self(input.to_owned()))
    }

    /// Wraps a name that livecert generated or read back from its own store.
    ///
    /// The caller guarantees the rules of [`CertName::parse`]; generated names always follow them.
    pub fn from_trusted(name: String) -> Self {
        Self(name)
    }

    /// The name as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CertName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for CertName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CertName({:?})", self.0)
    }
}

/// Unicode noncharacters (U+FDD0–U+FDEF and the last two code points of every plane): never
/// meant for interchange, and U+FFFE / U+FFFF cannot appear in XML responses.
fn is_noncharacter(c: char) -> bool {
    let v = c as u32;
    (0xFDD0..=0xFDEF).contains(&v) || (v & 0xFFFE) == 0xFFFE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_names_fold_case_and_read_leading_dot_as_wildcard() {
        assert_eq!(
            DomainName::parse("Live.Example.COM").unwrap().as_str(),
            "live.example.com"
        );
        assert_eq!(
            DomainName::parse(".example.com").unwrap().as_str(),
            "*.example.com"
        );
        assert!(DomainName::parse("*.example.com").unwrap().is_wildcard());
        assert!(DomainName::parse("localhost").is_ok());
    }

    #[test]
    fn domain_names_refuse_what_rfc_1123_refuses() {
        for bad in [
            "",
            "example.com.",
            "a..b",
            "-a.com",
            "a-.com",
            "a_b.com",
            "a.*.com",
            "*.com",
            "*",
            "exa mple.com",
            "ünicode.com",
        ] {
            assert!(DomainName::parse(bad).is_err(), "{bad:?} should be refused");
        }
        let long_label = format!("{}.com", "a".repeat(64));
        assert!(DomainName::parse(&long_label).is_err());
        let long = format!("{}.com", vec!["a".repeat(63); 4].join("."));
        assert!(DomainName::parse(&long).is_err());
    }

    #[test]
    fn cert_names_count_characters_not_bytes() {
        assert!(CertName::parse(&"é".repeat(128)).is_ok());
        assert_eq!(
            CertName::parse(&"é".repeat(129)).unwrap_err().code,
            ErrorCode::InvalidCertNameTooLong
        );
        assert_eq!(
            CertName::parse("a\u{7}b").unwrap_err().code,
            ErrorCode::SetDomainCertificateParameterError
        );
        assert_eq!(
            CertName::parse("bad\u{FFFE}xml").unwrap_err().code,
            ErrorCode::SetDomainCertificateParameterError
        );
        assert!(DomainName::parse("a\u{1}b.com")
            .unwrap_err()
            .to_string()
            .contains("a\\u{1}b.com"));
    }
}
