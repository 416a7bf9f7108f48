//! DeleteLiveDomain: removes a domain and its certificate binding; the library record stays
//! (operations.md, Domains). The name is free to be added again, by any account.

/// The checked input: `DomainName` and `DryRun` ([`super::DomainChangeInput`]).
pub type DeleteLiveDomainInput = super::DomainChangeInput;
