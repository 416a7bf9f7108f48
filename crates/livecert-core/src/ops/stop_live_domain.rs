//! StopLiveDomain: takes a domain `offline`; the edge stops serving it (operations.md, Domains).
//! The domain keeps its certificate binding; StartLiveDomain brings it back as it was.

/// The checked input: `DomainName` and `DryRun` ([`super::DomainChangeInput`]).
pub type StopLiveDomainInput = super::DomainChangeInput;
