//! StartLiveDomain: brings a domain back `online`; the edge serves it again (operations.md, Domains).
//! Its certificate binding, kept while it was offline, is served again as it was.

/// The checked input: `DomainName` and `DryRun` ([`super::DomainChangeInput`]).
pub type StartLiveDomainInput = super::DomainChangeInput;
