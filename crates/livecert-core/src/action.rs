//! The operations livecert answers, declared once as a table (spec/operations.md, spec/access.md).
//!
//! Each row gives the product and the wire name (`Action` / `x-acs-action`), whether the operation
//! changes state (state-changing operations check the account status and are audited; those of
//! Live accept `DryRun`), the default rate limit in calls per second per account (access.md, "Rate
//! limits"), and the RAM resource the operation is authorized on (operations.md): the domain it
//! names (`acs:cdn:*:<accountId>:domain/<DomainName>`), `*`, or nothing (an operation any valid
//! credential may call). The RAM action is `<product's RAM namespace>:<wire name>`, e.g.
//! `live:SetLiveDomainCertificate`, `yundun-cert:UploadUserCertificate`.
//!
//! One listener answers three products, told apart by the action and its version (`Version` /
//! `x-acs-version`): ApsaraVideo Live 2016-11-01, the certificate service CAS 2020-04-07 and STS
//! 2015-04-01. No wire name belongs to two of them.

use std::fmt;

/// The API version of ApsaraVideo Live, livecert's main product (protocol.md §2).
pub const API_VERSION: &str = "2016-11-01";

/// A product this listener answers, with the one API version it implements of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Product {
    /// ApsaraVideo Live (`live`), 2016-11-01.
    Live,
    /// Certificate Management Service (`cas`), 2020-04-07: the account's certificate library.
    Cas,
    /// Security Token Service (`sts`), 2015-04-01: `GetCallerIdentity`.
    Sts,
}

impl Product {
    /// Every product, in the order messages list them.
    pub const ALL: [Product; 3] = [Product::Live, Product::Cas, Product::Sts];

    /// The product code, as in the official hostnames (`live.aliyuncs.com`).
    pub const fn code(self) -> &'static str {
        match self {
            Product::Live => "live",
            Product::Cas => "cas",
            Product::Sts => "sts",
        }
    }

    /// The API version implemented (`Version` / `x-acs-version`).
    pub const fn version(self) -> &'static str {
        match self {
            Product::Live => API_VERSION,
            Product::Cas => "2020-04-07",
            Product::Sts => "2015-04-01",
        }
    }

    /// The RAM namespace of the product's actions (CAS's is `yundun-cert`, as in Alibaba Cloud's
    /// RAM documentation for the certificate service).
    pub const fn ram_namespace(self) -> &'static str {
        match self {
            Product::Live => "live",
            Product::Cas => "yundun-cert",
            Product::Sts => "sts",
        }
    }
}

/// Declares the action table and generates [`Action`] with its accessors.
macro_rules! actions {
    ($( $(#[$doc:meta])* $variant:ident => ($product:ident, $wire:literal, state_changing: $sc:literal, per_second: $rate:literal, resource: $res:ident), )*) => {
        /// One operation of the API.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Action {
            $( $(#[$doc])* $variant, )*
        }

        impl Action {
            /// Every operation, in table order.
            pub const ALL: &'static [Action] = &[$(Action::$variant),*];

            /// The product the operation belongs to.
            pub const fn product(self) -> Product {
                match self { $(Action::$variant => Product::$product,)* }
            }

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
    AddLiveDomain => (Live, "AddLiveDomain", state_changing: true, per_second: 100, resource: Domain),
    /// Reads one domain's configuration.
    DescribeLiveDomainDetail => (Live, "DescribeLiveDomainDetail", state_changing: false, per_second: 100, resource: Domain),
    /// Binds a certificate to a domain and switches HTTPS on or off: the core operation.
    SetLiveDomainCertificate => (Live, "SetLiveDomainCertificate", state_changing: true, per_second: 30, resource: Domain),
    /// Reads a domain's certificate binding.
    DescribeLiveDomainCertificateInfo => (Live, "DescribeLiveDomainCertificateInfo", state_changing: false, per_second: 100, resource: Any),
    /// Lists the caller's certificate library, or the records bound to some domains.
    DescribeLiveCertificateList => (Live, "DescribeLiveCertificateList", state_changing: false, per_second: 50, resource: Any),
    /// Reads one library record by CertName (never its private key).
    DescribeLiveCertificateDetail => (Live, "DescribeLiveCertificateDetail", state_changing: false, per_second: 50, resource: Any),
    /// Removes a domain and its certificate binding (the library record stays).
    DeleteLiveDomain => (Live, "DeleteLiveDomain", state_changing: true, per_second: 100, resource: Domain),
    /// Brings a domain back online.
    StartLiveDomain => (Live, "StartLiveDomain", state_changing: true, per_second: 100, resource: Domain),
    /// Takes a domain offline: the edge stops serving it.
    StopLiveDomain => (Live, "StopLiveDomain", state_changing: true, per_second: 100, resource: Domain),
    /// Lists the caller's domains, filtered and paged.
    DescribeLiveUserDomains => (Live, "DescribeLiveUserDomains", state_changing: false, per_second: 100, resource: Any),
    /// CAS: adds a certificate to the account's library (the library Live's `CertType=cas` binds from).
    UploadUserCertificate => (Cas, "UploadUserCertificate", state_changing: true, per_second: 100, resource: Any),
    /// CAS: reads one record of the library by CertId (never its private key).
    GetUserCertificateDetail => (Cas, "GetUserCertificateDetail", state_changing: false, per_second: 100, resource: Any),
    /// CAS: lists the library, paged.
    ListUserCertificateOrder => (Cas, "ListUserCertificateOrder", state_changing: false, per_second: 10, resource: Any),
    /// CAS: deletes a record no domain is bound to.
    DeleteUserCertificate => (Cas, "DeleteUserCertificate", state_changing: true, per_second: 100, resource: Any),
    /// STS: who the calling credentials are (any valid credential may ask).
    GetCallerIdentity => (Sts, "GetCallerIdentity", state_changing: false, per_second: 100, resource: Caller),
}

/// What an operation is authorized on (access.md: "Operations without a resource use `*`").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RamResource {
    /// The domain named by `DomainName`: `acs:cdn:*:<accountId>:domain/<DomainName>`.
    Domain,
    /// `*`.
    Any,
    /// None: no RAM check (STS `GetCallerIdentity` answers any valid credential about itself).
    Caller,
}

impl Action {
    /// The RAM action name, `<namespace>:<wire name>` (access.md), e.g.
    /// `live:SetLiveDomainCertificate`, `yundun-cert:UploadUserCertificate`.
    pub fn ram_action(self) -> String {
        format!("{}:{}", self.product().ram_namespace(), self.wire_name())
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
    fn each_product_has_its_version_and_namespace() {
        assert_eq!(Action::UploadUserCertificate.product(), Product::Cas);
        assert_eq!(
            Action::UploadUserCertificate.product().version(),
            "2020-04-07"
        );
        assert_eq!(
            Action::DeleteUserCertificate.ram_action(),
            "yundun-cert:DeleteUserCertificate"
        );
        assert_eq!(Action::GetCallerIdentity.product().version(), "2015-04-01");
        assert_eq!(
            Action::GetCallerIdentity.ram_resource(),
            RamResource::Caller
        );
        assert_eq!(Action::AddLiveDomain.product(), Product::Live);
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
