//! The operations livecert answers, declared once as a table (spec/operations.md, spec/access.md).
//!
//! Each row gives the wire name (`Action` / `x-acs-action`), whether the operation changes state
//! (state-changing operations check the account status and accept `DryRun`), the default rate
//! limit in calls per second per account (access.md, "Rate limits"), and the RAM resource the
//! operation is authorized on (operations.md): the domain it names
//! (`acs:cdn:*:<accountId>:domain/<DomainName>`) or `*`. The RAM action is `live:<wire name>`.

use std::fmt;

/// The API version livecert implements (protocol.md §2).
pub const API_VERSION: &str = "2016-11-01";

/// Declares the action table and generates [`Action`] with its accessors.
macro_rules! actions {
    ($( $(#[$doc:meta])* $variant:ident => ($wire:literal, state_changing: $sc:literal, per_second: $rate:literal, resource: $res:ident), )*) => {
        /// One operation of the API.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Action {
            $( $(#[$doc])* $variant, )*
        }

        impl Action {
            /// Every operation, in table order.
            pub const ALL: &'static [Action] = &[$(Action::$variant),*];

            /// The wire name, e.g. `SetLiveDomainCertificate`.
            pub const fn wire_name(self) -> &'static str {
                match self { $(Action::$variant => $wire,)* }
            }

            /// Whether the operation changes state.
            pub const fn is_state_changing(self) -> bool {
                match self { $(Action::$variant => $sc,)* }
            }

            /// Default rate limit: calls per second per account.
            pub const fn per_second(self) -> u32 {
                match self { $(Action::$variant => $rate,)* }
            }

            /// The RAM resource the operation is authorized on.
            pub const fn ram_resource(self) -> RamResource {
                match self { $(Action::$variant => RamResource::$res,)* }
            }

            /// Looks an operation up by its exact wire name.
            pub fn from_wire_name(name: &str) -> Option<Self> {
                match name { $($wire => Some(Action::$variant),)* _ => None }
            }
        }
    };
}

actions! {
    /// Adds a streaming domain (online at once, HTTPS off).
    AddLiveDomain => ("AddLiveDomain", state_changing: true, per_second: 100, resource: Domain),
    /// Reads one domain's configuration.
    DescribeLiveDomainDetail => ("DescribeLiveDomainDetail", state_changing: false, per_second: 100, resource: Domain),
    /// Binds a certificate to a domain and switches HTTPS on or off: the core operation.
    SetLiveDomainCertificate => ("SetLiveDomainCertificate", state_changing: true, per_second: 30, resource: Domain),
    /// Reads a domain's certificate binding.
    DescribeLiveDomainCertificateInfo => ("DescribeLiveDomainCertificateInfo", state_changing: false, per_second: 100, resource: Any),
    /// Lists the caller's certificate library, or the records bound to some domains.
    DescribeLiveCertificateList => ("DescribeLiveCertificateList", state_changing: false, per_second: 50, resource: Any),
    /// Reads one library record by CertName (never its private key).
    DescribeLiveCertificateDetail => ("DescribeLiveCertificateDetail", state_changing: false, per_second: 50, resource: Any),
    /// Removes a domain and its certificate binding (the library record stays).
    DeleteLiveDomain => ("DeleteLiveDomain", state_changing: true, per_second: 100, resource: Domain),
    /// Brings a domain back online.
    StartLiveDomain => ("StartLiveDomain", state_changing: true, per_second: 100, resource: Domain),
    /// Takes a domain offline: the edge stops serving it.
    StopLiveDomain => ("StopLiveDomain", state_changing: true, per_second: 100, resource: Domain),
    /// Lists the caller's domains, filtered and paged.
    DescribeLiveUserDomains => ("DescribeLiveUserDomains", state_changing: false, per_second: 100, resource: Any),
}

/// What an operation is authorized on (access.md: "Operations without a resource use `*`").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RamResource {
    /// The domain named by `DomainName`: `acs:cdn:*:<accountId>:domain/<DomainName>`.
    Domain,
    /// `*`.
    Any,
}

impl Action {
    /// The RAM action name, `live:<wire name>` (access.md).
    pub fn ram_action(self) -> String {
        format!("live:{}", self.wire_name())
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.wire_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip_and_are_exact() {
        for &a in Action::ALL {
            assert_eq!(Action::from_wire_name(a.wire_name()), Some(a));
        }
        assert_eq!(Action::from_wire_name("setlivedomaincertificate"), None);
        assert_eq!(Action::SetLiveDomainCertificate.per_second(), 30);
        assert_eq!(
            Action::SetLiveDomainCertificate.ram_action(),
            "live:SetLiveDomainCertificate"
        );
    }

    #[test]
    fn domain_lifecycle_rows() {
        // operations.md, Domains: state-changing ones on the domain, the listing on `*`.
        for a in [
            Action::DeleteLiveDomain,
            Action::StartLiveDomain,
            Action::StopLiveDomain,
        ] {
            assert!(a.is_state_changing(), "{a}");
            assert_eq!(a.per_second(), 100, "{a}");
            assert_eq!(a.ram_resource(), RamResource::Domain, "{a}");
        }
        let list = Action::DescribeLiveUserDomains;
        assert!(!list.is_state_changing());
        assert_eq!(list.per_second(), 100);
        assert_eq!(list.ram_resource(), RamResource::Any);
    }
}
