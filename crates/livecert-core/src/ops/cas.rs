//! The certificate service CAS (2020-04-07) over the account's certificate library: the typed
//! inputs of `UploadUserCertificate`, `GetUserCertificateDetail`, `ListUserCertificateOrder` and
//! `DeleteUserCertificate`, and the rules that decide what a listing shows.
//!
//! The wire contract is the official SDKs' request models (`alibabacloud-cas20200407` 3.9.4 on
//! PyPI, `@alicloud/cas20200407` 3.0.0 on npm): every parameter travels in the query (V3) or the
//! form body (V1, `@alicloud/pop-core`); booleans arrive as `true`/`false` in any case (Python
//! sends `True`). Alibaba Cloud documents no CAS-specific error codes for these operations ("the
//! operation returns only common errors"), so refusals use the common codes (`MissingParameter`,
//! `InvalidParameter`) and the library's own (`Certificate.NotFind`, `DeleteFailed`, and the
//! certificate codes of certificates.md); docs/decisions.md, "CAS".

use crate::error::{ApiError, ErrorCode};
use crate::names::{CertName, DomainName};
use crate::params::Params;

/// The longest `ShowSize` a listing accepts.
pub const MAX_SHOW_SIZE: u32 = 1000;
/// `ShowSize` when absent (the SDK model's documented default).
pub const DEFAULT_SHOW_SIZE: u32 = 50;
/// A certificate that expires within this many seconds is `WILLEXPIRED` (30 days).
pub const WILL_EXPIRE_SECS: i64 = 30 * 86_400;

/// `UploadUserCertificate`: `Name`, `Cert`, `Key` (the SM pairs `EncryptCert`/`EncryptPrivateKey`,
/// `SignCert`/`SignPrivateKey` are refused: livecert serves no SM certificates).
#[derive(Debug, Clone)]
pub struct UploadUserCertificateInput {
    /// `Name`: the record's CertName, unique in the account's library.
    pub name: CertName,
    /// `Cert`: the chain PEM, as sent (checked by `cert::check_upload`).
    pub cert: Vec<u8>,
    /// `Key`: the private key PEM, as sent.
    pub key: Vec<u8>,
}

impl UploadUserCertificateInput {
    /// Parses the parameters.
    ///
    /// Errors: `MissingParameter` naming `Name`, `Cert` or `Key`; `InvalidParameter` naming
    /// `Name` (a control character, more than 128 characters) or an SM parameter.
    pub fn parse(params: &Params) -> Result<Self, ApiError> {
        let raw_name = params
            .non_empty_text("Name")?
            .ok_or_else(|| ApiError::missing("Name"))?;
        let name = CertName::parse(raw_name)
            .map_err(|e| ApiError::invalid("Name", e.detail.replace("CertName", "Name")))?;
        for sm in [
            "EncryptCert",
            "EncryptPrivateKey",
            "SignCert",
            "SignPrivateKey",
        ] {
            if params.non_empty_text(sm)?.is_some() {
                return Err(ApiError::invalid(
                    sm,
                    "livecert keeps no SM (ShangMi) certificates: send the certificate in Cert and its key in Key.",
                ));
            }
        }
        let cert = required_bytes(params, "Cert")?;
        let key = required_bytes(params, "Key")?;
        Ok(Self { name, cert, key })
    }
}

/// `GetUserCertificateDetail`: `CertId` and `CertFilter`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetUserCertificateDetailInput {
    /// `CertId`.
    pub cert_id: u64,
    /// `CertFilter=true`: leave the PEM fields out.
    pub cert_filter: bool,
}

impl GetUserCertificateDetailInput {
    /// Parses the parameters. Errors: `MissingParameter` / `InvalidParameter` naming `CertId` or
    /// `CertFilter`.
    pub fn parse(params: &Params) -> Result<Self, ApiError> {
        Ok(Self {
            cert_id: required_cert_id(params)?,
            cert_filter: super::optional_bool(params, "CertFilter")?,
        })
    }
}

/// `DeleteUserCertificate`: `CertId`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteUserCertificateInput {
    /// `CertId`.
    pub cert_id: u64,
}

impl DeleteUserCertificateInput {
    /// Parses the parameters. Errors: `MissingParameter` / `InvalidParameter` naming `CertId`.
    pub fn parse(params: &Params) -> Result<Self, ApiError> {
        Ok(Self {
            cert_id: required_cert_id(params)?,
        })
    }
}

/// `OrderType` of a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderType {
    /// `CPACK`: orders from resource packs (the default). livecert sells nothing: always empty.
    Cpack,
    /// `BUY`: purchase orders: always empty.
    Buy,
    /// `UPLOAD`: the uploaded records of the library.
    Upload,
    /// `CERT`: every issued or uploaded record (`free` records too).
    Cert,
}

/// A certificate's listing status (the `Status` filter and field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListStatus {
    /// Valid, more than [`WILL_EXPIRE_SECS`] left.
    Issued,
    /// Valid, at most [`WILL_EXPIRE_SECS`] left.
    WillExpired,
    /// Past its notAfter.
    Expired,
    /// Revoked by the operator.
    Revoked,
    /// One of the order states of CPACK/BUY (`PAYED`, `CHECKING`, …): as a filter it matches
    /// no record of the library.
    OrderState,
}

impl ListStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Issued => "ISSUED",
            Self::WillExpired => "WILLEXPIRED",
            Self::Expired => "EXPIRED",
            Self::Revoked => "REVOKED",
            Self::OrderState => "",
        }
    }

    /// The status of a record that expires at `not_after` (Unix seconds), at `now`.
    pub fn of(not_after: i64, revoked: bool, now: i64) -> Self {
        if revoked {
            Self::Revoked
        } else if not_after < now {
            Self::Expired
        } else if not_after - now <= WILL_EXPIRE_SECS {
            Self::WillExpired
        } else {
            Self::Issued
        }
    }
}

/// `ListUserCertificateOrder`: the filter and the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListUserCertificateOrderInput {
    /// `OrderType`, `CPACK` when absent.
    pub order_type: OrderType,
    /// `Status`; absent: valid certificates only (`ISSUED` and `WILLEXPIRED`).
    pub status: Option<ListStatus>,
    /// `Keyword`: a substring of a domain name (CN or SAN), the name or the resource id, ASCII
    /// case ignored.
    pub keyword: Option<String>,
    /// `CurrentPage`, from 1.
    pub current_page: u32,
    /// `ShowSize`, 1 to [`MAX_SHOW_SIZE`].
    pub show_size: u32,
}

impl ListUserCertificateOrderInput {
    /// Parses the parameters.
    ///
    /// Errors: `InvalidParameter` naming `OrderType` or `Status` (not one of the documented
    /// values), `CurrentPage` (not a whole number from 1) or `ShowSize` (not 1 to
    /// [`MAX_SHOW_SIZE`]).
    pub fn parse(params: &Params) -> Result<Self, ApiError> {
        let order_type =
            match super::optional_enum(params, "OrderType", &["CPACK", "BUY", "UPLOAD", "CERT"])? {
                None | Some("CPACK") => OrderType::Cpack,
                Some("BUY") => OrderType::Buy,
                Some("UPLOAD") => OrderType::Upload,
                Some(_) => OrderType::Cert,
            };
        let status = match super::optional_enum(
            params,
            "Status",
            &[
                "PAYED",
                "CHECKING",
                "CHECKED_FAIL",
                "ISSUED",
                "WILLEXPIRED",
                "EXPIRED",
                "NOTACTIVATED",
                "REVOKED",
            ],
        )? {
            None => None,
            Some("ISSUED") => Some(ListStatus::Issued),
            Some("WILLEXPIRED") => Some(ListStatus::WillExpired),
            Some("EXPIRED") => Some(ListStatus::Expired),
            // The order states of CPACK/BUY (PAYED, CHECKING, …) match no library record.
            Some("REVOKED") => Some(ListStatus::Revoked),
            Some(_) => Some(ListStatus::OrderState),
        };
        let keyword = params
            .non_empty_text("Keyword")?
            .map(str::to_ascii_lowercase);
        let current_page = super::page_param(params, "CurrentPage", u32::MAX)?.unwrap_or(1);
        let show_size =
            super::page_param(params, "ShowSize", MAX_SHOW_SIZE)?.unwrap_or(DEFAULT_SHOW_SIZE);
        Ok(Self {
            order_type,
            status,
            keyword,
            current_page,
            show_size,
        })
    }

    /// Whether a record of this listing's kind (`uploaded`: an `upload` record, else `free`)
    /// with `status` is shown.
    pub fn shows(&self, uploaded: bool, status: ListStatus) -> bool {
        let kind = match self.order_type {
            OrderType::Cpack | OrderType::Buy => false,
            OrderType::Upload => uploaded,
            OrderType::Cert => true,
        };
        kind && match self.status {
            None => matches!(status, ListStatus::Issued | ListStatus::WillExpired),
            Some(wanted) => wanted == status,
        }
    }
}

/// `Certificate.NotFind` for a CertId that is not in the caller's library (another account's
/// record is reported the same way: never reveal which).
pub fn not_found(cert_id: u64) -> ApiError {
    ApiError::new(
        ErrorCode::CertificateNotFind,
        format!("No certificate with CertId {cert_id} in this account's library; list them with ListUserCertificateOrder (OrderType=CERT)."),
    )
}

/// The refusal of an upload under a Name the library already has (the real service answers
/// "The certificate name already exists."; no code is documented).
pub fn name_taken(name: &CertName, cert_id: u64) -> ApiError {
    ApiError::invalid(
        "Name",
        format!(
            "The certificate name already exists: {name} is CertId {cert_id}. Choose another Name, or delete that certificate first."
        ),
    )
}

/// `DeleteFailed` for a record some domains still serve, naming them (at most 10).
pub fn still_bound(cert_id: u64, domains: &[DomainName]) -> ApiError {
    let shown: Vec<&str> = domains.iter().take(10).map(DomainName::as_str).collect();
    let more = domains.len().saturating_sub(shown.len());
    let tail = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    ApiError::new(
        ErrorCode::DeleteFailed,
        format!(
            "CertId {cert_id} is bound to {}{tail}; bind those domains to another certificate (SetLiveDomainCertificate) or turn HTTPS off first.",
            shown.join(", ")
        ),
    )
}

/// A refusal of `cert::check_upload` as CAS answers it: `InvalidParameter` naming `Cert` or `Key`
/// (the parameters CAS calls the chain and the key), with the certificate rule's own code and
/// explanation in the message, Live's parameter names replaced by CAS's. `MissingParameter` and
/// `InvalidParameter` pass unchanged.
pub fn certificate_refusal(e: ApiError) -> ApiError {
    if matches!(
        e.code,
        ErrorCode::MissingParameter | ErrorCode::InvalidParameter
    ) {
        return e;
    }
    let key_side = matches!(
        e.code,
        ErrorCode::SslPriMissingParameter
            | ErrorCode::InvalidSslPri
            | ErrorCode::SslPriError
            | ErrorCode::CertificateKeyNull
            | ErrorCode::KeyMalformed
    );
    let detail = e.detail.replace("SSLPub", "Cert").replace("SSLPri", "Key");
    let rule = e.code.code();
    let message = if detail.is_empty() {
        format!(
            "{rule}: {}",
            e.code
                .message()
                .replace("SSLPub", "Cert")
                .replace("SSLPri", "Key")
        )
    } else {
        format!("{rule}: {detail}")
    };
    ApiError::invalid(if key_side { "Key" } else { "Cert" }, message)
}

fn required_bytes(params: &Params, name: &str) -> Result<Vec<u8>, ApiError> {
    match params.bytes(name) {
        Some(b) if !b.is_empty() => Ok(b.to_vec()),
        _ => Err(ApiError::missing(name)),
    }
}

fn required_cert_id(params: &Params) -> Result<u64, ApiError> {
    let raw = params
        .non_empty_text("CertId")?
        .ok_or_else(|| ApiError::missing("CertId"))?;
    match raw.parse::<u64>() {
        Ok(id) if id > 0 => Ok(id),
        _ => Err(ApiError::invalid(
            "CertId",
            "Give the certificate's id, a whole number from 1 (UploadUserCertificate's CertId).",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::from_pairs(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec())),
        )
    }

    #[test]
    fn an_upload_needs_name_cert_and_key_and_refuses_sm_pairs() {
        let e =
            UploadUserCertificateInput::parse(&params(&[("Cert", "x"), ("Key", "y")])).unwrap_err();
        assert_eq!(
            (e.code, e.name.as_deref()),
            (ErrorCode::MissingParameter, Some("Name"))
        );
        let e =
            UploadUserCertificateInput::parse(&params(&[("Name", "n"), ("Key", "y")])).unwrap_err();
        assert_eq!(e.name.as_deref(), Some("Cert"));
        let e = UploadUserCertificateInput::parse(&params(&[
            ("Name", "n"),
            ("SignCert", "s"),
            ("Cert", "x"),
            ("Key", "y"),
        ]))
        .unwrap_err();
        assert_eq!(
            (e.code, e.name.as_deref()),
            (ErrorCode::InvalidParameter, Some("SignCert"))
        );
        let long = "n".repeat(129);
        let e = UploadUserCertificateInput::parse(&params(&[
            ("Name", &long),
            ("Cert", "x"),
            ("Key", "y"),
        ]))
        .unwrap_err();
        assert_eq!(e.name.as_deref(), Some("Name"));
    }

    #[test]
    fn cert_ids_and_filters_parse_as_the_sdks_send_them() {
        let d = GetUserCertificateDetailInput::parse(&params(&[
            ("CertId", "12"),
            ("CertFilter", "True"),
        ]))
        .unwrap();
        assert_eq!((d.cert_id, d.cert_filter), (12, true));
        for bad in ["0", "-1", "x", "1.5"] {
            let e = DeleteUserCertificateInput::parse(&params(&[("CertId", bad)])).unwrap_err();
            assert_eq!(e.name.as_deref(), Some("CertId"), "{bad}");
        }
    }

    #[test]
    fn a_listing_defaults_to_resource_packs_and_valid_certificates() {
        let l = ListUserCertificateOrderInput::parse(&params(&[])).unwrap();
        assert_eq!(
            (l.order_type, l.current_page, l.show_size),
            (OrderType::Cpack, 1, 50)
        );
        assert!(
            !l.shows(true, ListStatus::Issued),
            "CPACK lists orders, not uploads"
        );
        let l = ListUserCertificateOrderInput::parse(&params(&[
            ("OrderType", "UPLOAD"),
            ("ShowSize", "100"),
        ]))
        .unwrap();
        assert!(l.shows(true, ListStatus::Issued));
        assert!(l.shows(true, ListStatus::WillExpired));
        assert!(!l.shows(true, ListStatus::Expired));
        assert!(
            !l.shows(false, ListStatus::Issued),
            "a free record is not an upload"
        );
        let l = ListUserCertificateOrderInput::parse(&params(&[
            ("OrderType", "CERT"),
            ("Status", "EXPIRED"),
        ]))
        .unwrap();
        assert!(l.shows(false, ListStatus::Expired));
        assert!(!l.shows(true, ListStatus::Issued));
        for (name, bad) in [
            ("ShowSize", "0"),
            ("ShowSize", "1001"),
            ("CurrentPage", "0"),
            ("OrderType", "upload"),
        ] {
            let e = ListUserCertificateOrderInput::parse(&params(&[(name, bad)])).unwrap_err();
            assert_eq!(e.name.as_deref(), Some(name), "{name}={bad}");
        }
    }

    #[test]
    fn certificate_refusals_name_cas_parameters() {
        let e = crate::cert::check_upload(Some(b"not a certificate"), Some(b"x"), 0).unwrap_err();
        let e = certificate_refusal(e);
        assert_eq!(
            (e.code, e.name.as_deref()),
            (ErrorCode::InvalidParameter, Some("Cert"))
        );
        assert!(
            e.detail.contains("Cert holds no certificate"),
            "{}",
            e.detail
        );
        assert!(
            e.detail.starts_with("InvalidSSLPub"),
            "the rule's code: {}",
            e.detail
        );
    }

    #[test]
    fn statuses_follow_the_clock() {
        let now = 1_000_000_000;
        assert_eq!(ListStatus::of(now - 1, false, now), ListStatus::Expired);
        assert_eq!(
            ListStatus::of(now + 10, false, now),
            ListStatus::WillExpired
        );
        assert_eq!(
            ListStatus::of(now + WILL_EXPIRE_SECS + 1, false, now),
            ListStatus::Issued
        );
        assert_eq!(ListStatus::of(now + 10, true, now), ListStatus::Revoked);
    }
}
