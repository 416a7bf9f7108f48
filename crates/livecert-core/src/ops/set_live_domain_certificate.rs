//! SetLiveDomainCertificate: its typed input (decision-table rows 1–5 of spec/operations.md) and
//! the library decision of rows 22–29, a pure function of what the store holds, so that every
//! backend applies the same rules inside its transaction.

use crate::cert::{self, CertFacts, CheckedUpload};
use crate::error::{ApiError, ErrorCode};
use crate::names::{CertName, DomainName};
use crate::params::Params;

/// Largest accepted `CertId`: 2^53 − 1 (the largest integer a JSON number keeps exactly).
pub const MAX_CERT_ID: u64 = (1 << 53) - 1;

/// `SSLProtocol`: whether HTTPS is to be on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslProtocol {
    /// `on`.
    On,
    /// `off` (the default).
    Off,
}

/// `CertType`: where the certificate comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertType {
    /// `upload` (the default): SSLPub and SSLPri are given.
    Upload,
    /// `cas`: a record already in the caller's library, by CertName or CertId.
    Cas,
    /// `free`: livecert issues one.
    Free,
}

impl CertType {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Upload => "upload",
            Self::Cas => "cas",
            Self::Free => "free",
        }
    }
}

/// The checked input (rows 1–5). `SSLPub` and `SSLPri` stay bytes: their checks are rows 17–21.
#[derive(Debug, Clone)]
pub struct SetLiveDomainCertificateInput {
    /// `DomainName`.
    pub domain: DomainName,
    /// `SSLProtocol` (absent → off).
    pub ssl_protocol: SslProtocol,
    /// `CertType` (absent or empty → upload).
    pub cert_type: CertType,
    /// `CertName` (absent or empty → `None`, generated at row 22).
    pub cert_name: Option<CertName>,
    /// `CertId` (1..2^53−1).
    pub cert_id: Option<u64>,
    /// `ForceSet=1`.
    pub force_set: bool,
    /// `DryRun=true`.
    pub dry_run: bool,
    /// `SSLPub` as decoded bytes.
    pub ssl_pub: Option<Vec<u8>>,
    /// `SSLPri` as decoded bytes.
    pub ssl_pri: Option<Vec<u8>>,
}

impl SetLiveDomainCertificateInput {
    /// Parses the parameters: rows 1–5 in order, then `DryRun`.
    ///
    /// Errors: `MissingParameter` (row 1), `InvalidParameter` (row 2, and a bad `DryRun`),
    /// `InvalidSSLProtocol.ValueNotSupported` (row 3), `SetDomainCertificate.ParameterError` naming
    /// the parameter (row 4), `InvalidCertName.TooLong` (row 5).
    pub fn parse(params: &Params) -> Result<Self, ApiError> {
        let domain = super::required_domain(params)?;

        let ssl_protocol = match params.text("SSLProtocol")? {
            None => None,
            Some("on") => Some(SslProtocol::On),
            Some("off") => Some(SslProtocol::Off),
            Some(other) => {
                return Err(ApiError::new(
                    ErrorCode::InvalidSslProtocolValueNotSupported,
                    format!(
                        "SSLProtocol is \"{}\"; use on or off (lower case).",
                        truncate(other)
                    ),
                ))
            }
        };

        let param_error =
            |detail: String| ApiError::new(ErrorCode::SetDomainCertificateParameterError, detail);
        let cert_type = match params.non_empty_text("CertType")? {
            None => None,
            Some("upload") => Some(CertType::Upload),
            Some("cas") => Some(CertType::Cas),
            Some("free") => Some(CertType::Free),
            Some(other) => {
                return Err(param_error(format!(
                    "CertType is \"{}\"; use upload, cas or free (lower case).",
                    truncate(other)
                )))
            }
        };
        let force_set = match params.non_empty_text("ForceSet")? {
            None | Some("0") => false,
            Some("1") => true,
            Some(other) => {
                return Err(param_error(format!(
                    "ForceSet is \"{}\"; use 1 or 0.",
                    truncate(other)
                )));
            }
        };
        let cert_id = match params.non_empty_text("CertId")? {
            None => None,
            Some(raw) => match raw.parse::<u64>() {
                Ok(id) if (1..=MAX_CERT_ID).contains(&id) => Some(id),
                _ => {
                    return Err(param_error(format!(
                        "CertId is \"{}\"; use the integer CertId of a library record (1 to {MAX_CERT_ID}).",
                        truncate(raw)
                    )))
                }
            },
        };
        let cert_name = match params.non_empty_text("CertName")? {
            None => None,
            Some(raw) => Some(CertName::parse(raw)?),
        };
        let ssl_pub = params.bytes("SSLPub").map(<[u8]>::to_vec);
        let ssl_pri = params.bytes("SSLPri").map(<[u8]>::to_vec);

        let ssl_protocol = if let Some(p) = ssl_protocol {
            p
        } else {
            let given = [
                ("SSLPub", ssl_pub.as_ref().is_some_and(|v| !v.is_empty())),
                ("SSLPri", ssl_pri.as_ref().is_some_and(|v| !v.is_empty())),
                ("CertName", cert_name.is_some()),
                ("CertId", cert_id.is_some()),
                ("CertType", cert_type.is_some_and(|t| t != CertType::Upload)),
            ];
            if let Some((name, _)) = given.iter().find(|(_, g)| *g) {
                return Err(param_error(format!(
                        "{name} is given but SSLProtocol is absent, which would turn HTTPS off; send SSLProtocol=on (or off to turn HTTPS off)."
                    )));
            }
            SslProtocol::Off
        };

        Ok(Self {
            domain,
            ssl_protocol,
            cert_type: cert_type.unwrap_or(CertType::Upload),
            cert_name,
            cert_id,
            force_set,
            dry_run: super::optional_bool(params, "DryRun")?,
            ssl_pub,
            ssl_pri,
        })
    }
}

/// Operator-set domain functions that exclude HTTPS (operations.md row 16: `FunctionMutex`), each
/// with the reason shown to the caller.
pub const HTTPS_MUTEX_FUNCTIONS: &[(&str, &str)] = &[
    (
        "http_only",
        "the domain is configured to serve viewers over plain HTTP only",
    ),
    (
        "rtmp_only",
        "the domain is configured to serve RTMP only, which has no TLS",
    ),
];

/// The first of `functions` that excludes HTTPS, with its reason (row 16).
pub fn https_mutex_function(functions: &[String]) -> Option<(&str, &'static str)> {
    functions.iter().find_map(|f| {
        HTTPS_MUTEX_FUNCTIONS
            .iter()
            .find(|(name, _)| *name == f.as_str())
            .map(|(_, reason)| (f.as_str(), *reason))
    })
}

/// A library record as far as the upload decision needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LibraryRecord {
    /// `CertId`.
    pub cert_id: u64,
    /// `CertName`.
    pub cert_name: String,
    /// The normalised chain PEM: *same content* means byte-identical (operations.md).
    pub chain_pem: String,
    /// Leaf SHA-256, lower-case hex.
    pub fingerprint_sha256: String,
    /// `success`, `applying`, `failed` or `revoked`.
    pub status: String,
}

/// What the store holds that rows 23–26 look at, read inside the write transaction.
#[derive(Debug, Clone, Default)]
pub struct LibrarySnapshot {
    /// The record with the requested (or generated) CertName, if any.
    pub by_name: Option<LibraryRecord>,
    /// The name of a record with the same leaf under another name, if any.
    pub same_leaf_other_name: Option<String>,
    /// The domains bound to `by_name`.
    pub bound_to_named: Vec<DomainName>,
}

/// What to do with the library (rows 25, 29; 26 refuses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LibraryWrite {
    /// Insert a new record.
    Create,
    /// Nothing changes in the library, not even LastTime (row 25).
    Unchanged {
        /// The existing record.
        cert_id: u64,
    },
    /// Replace the record's content in place, same CertId (ForceSet=1).
    Replace {
        /// The record replaced.
        cert_id: u64,
    },
}

/// The decision of rows 22–29 for an upload that passed rows 17–21.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadDecision {
    /// The library write.
    pub write: LibraryWrite,
    /// Whether the domain is bound (row 29); `false` is row 28: the write is committed, the
    /// binding unchanged, and the answer `Certificate.SettedNotEffect`.
    pub bind: bool,
}

/// The CertName a record is stored under: the given one, or the generated one of row 22.
pub fn effective_cert_name(given: Option<&CertName>, upload: &CheckedUpload) -> CertName {
    given
        .cloned()
        .unwrap_or_else(|| CertName::from_trusted(cert::generated_cert_name(&upload.facts)))
}

/// Rows 23–29 given the library snapshot.
///
/// Errors: `Certificate.Duplicated` (row 23), `CertificateContent.Duplicated` (row 24),
/// `SetDomainCertificate.ParameterError` naming the domains a forced replacement would not cover
/// (row 26). Row 27 (storage) is the store's; row 28 is `bind: false`.
pub fn decide_upload(
    snapshot: &LibrarySnapshot,
    upload: &CheckedUpload,
    force_set: bool,
    domain: &DomainName,
) -> Result<UploadDecision, ApiError> {
    let same_content = snapshot
        .by_name
        .as_ref()
        .is_some_and(|r| r.chain_pem == upload.chain_pem);
    // Row 25 would bind the record as it stands: a record the operator revoked is not usable
    // (row 33's rule), whatever ForceSet says.
    if let Some(r) = snapshot.by_name.as_ref().filter(|r| r.status == "revoked") {
        if same_content {
            return Err(ApiError::new(
                ErrorCode::CertificateStatusError,
                format!(
                    "CertName \"{}\" (CertId {}) holds this certificate but the operator revoked it; upload a new certificate, or use another CertName.",
                    r.cert_name, r.cert_id
                ),
            ));
        }
    }
    if !force_set {
        if let Some(existing) = snapshot.by_name.as_ref().filter(|_| !same_content) {
            return Err(name_taken(existing));
        }
        if let (false, Some(other)) = (same_content, snapshot.same_leaf_other_name.as_ref()) {
            return Err(ApiError::new(
                ErrorCode::CertificateContentDuplicated,
                format!(
                    "This certificate is already in your library as \"{other}\"; bind it with CertType=cas and CertName={other}."
                ),
            ));
        }
    }
    let write = match &snapshot.by_name {
        Some(r) if same_content => LibraryWrite::Unchanged { cert_id: r.cert_id },
        Some(r) => {
            let uncovered: Vec<&str> = snapshot
                .bound_to_named
                .iter()
                .filter(|d| !cert::covers(&upload.facts, d))
                .map(DomainName::as_str)
                .collect();
            if !uncovered.is_empty() {
                return Err(not_covered(&uncovered, &r.cert_name));
            }
            LibraryWrite::Replace { cert_id: r.cert_id }
        }
        None => LibraryWrite::Create,
    };
    Ok(UploadDecision {
        write,
        bind: cert::covers(&upload.facts, domain),
    })
}

/// Row 23: `CertName` names a record with other content and `ForceSet` is not 1.
fn name_taken(existing: &LibraryRecord) -> ApiError {
    let content = if existing.fingerprint_sha256.is_empty() {
        match existing.status.as_str() {
            "failed" => "a free certificate whose issuance failed".to_owned(),
            _ => "a free certificate still being issued".to_owned(),
        }
    } else {
        format!("leaf SHA-256 {}", existing.fingerprint_sha256)
    };
    ApiError::new(
        ErrorCode::CertificateDuplicated,
        format!(
            "CertName \"{}\" already holds another certificate (CertId {}, {content}); send ForceSet=1 to replace it, or choose another CertName.",
            existing.cert_name, existing.cert_id
        ),
    )
}

/// Row 26: a forced replacement of `cert_name` would not cover `uncovered`, bound to it.
fn not_covered(uncovered: &[&str], cert_name: &str) -> ApiError {
    ApiError::new(
        ErrorCode::SetDomainCertificateParameterError,
        format!(
            "The new certificate does not cover {}, bound to CertName \"{cert_name}\"; nothing was changed. Include those names in the certificate, or upload it under another CertName.",
            uncovered.join(", "),
        ),
    )
}

/// What a `CertType=free` request does to the library when the issuer works asynchronously
/// (ACME): the certificate is not known yet, so the request reserves a record for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FreeRequest {
    /// A new record in status `applying`, filled and bound when the order is valid.
    Create,
    /// The record named by `CertName` (with `ForceSet=1`) is filled anew when the order is valid;
    /// until then it keeps its content and, if it had one, its status.
    Reissue {
        /// The record.
        cert_id: u64,
    },
}

/// Rows 22–26 for `CertType=free` with an asynchronous issuer, given the record `CertName` names
/// (if any) and the domains bound to it: the certificate will be issued for exactly `domain`.
///
/// Errors: `Certificate.Duplicated` when the name is taken and `ForceSet` is not 1 (row 23);
/// `Certificate.StatusError` when the named record was revoked by the operator;
/// `SetDomainCertificate.ParameterError` when the record is bound to other domains, which a
/// certificate for `domain` alone would not cover (row 26).
pub fn decide_free_request(
    by_name: Option<&LibraryRecord>,
    bound_to_named: &[DomainName],
    force_set: bool,
    domain: &DomainName,
) -> Result<FreeRequest, ApiError> {
    let Some(existing) = by_name else {
        return Ok(FreeRequest::Create);
    };
    if !force_set {
        return Err(name_taken(existing));
    }
    if existing.status == "revoked" {
        // A certificate issued later must not bring a record the operator revoked back into
        // service (its bindings stay while it is revoked).
        return Err(ApiError::new(
            ErrorCode::CertificateStatusError,
            format!(
                "CertName \"{}\" (CertId {}) was revoked by the operator; request the free certificate under another CertName.",
                existing.cert_name, existing.cert_id
            ),
        ));
    }
    let uncovered: Vec<&str> = bound_to_named
        .iter()
        .filter(|d| *d != domain)
        .map(DomainName::as_str)
        .collect();
    if !uncovered.is_empty() {
        return Err(not_covered(&uncovered, &existing.cert_name));
    }
    Ok(FreeRequest::Reissue {
        cert_id: existing.cert_id,
    })
}

/// A `CertType=free` call naming a CertName other than `in_flight`'s while the free certificate
/// for `domain` is being issued under `in_flight` (CertId `cert_id`): refused, so that a second
/// order does not race the first for the domain.
pub fn free_already_ordered(domain: &DomainName, in_flight: &str, cert_id: u64) -> ApiError {
    ApiError::new(
        ErrorCode::SetDomainCertificateParameterError,
        format!(
            "A free certificate for {domain} is already being issued as CertName \"{in_flight}\" (CertId {cert_id}); DescribeLiveDomainCertificateInfo shows when it is done. Call again with that CertName, or none, to wait for it."
        ),
    )
}

/// How far back failed orders of a domain count for [`free_order_delay_secs`], in seconds.
pub const FREE_FAILURE_WINDOW_SECS: i64 = 86_400;

/// How long a new `CertType=free` order for a domain waits (seconds) when `recent_failures` of
/// that domain's orders failed within [`FREE_FAILURE_WINDOW_SECS`]: nothing after none, then 1,
/// 2, 4 … minutes, at most an hour — so that a client that keeps asking for a domain the CA
/// cannot validate does not make livecert hammer the CA (whose own limits, e.g. Let's Encrypt's
/// failed-validation limit, would then block the account for everyone).
pub fn free_order_delay_secs(recent_failures: u32) -> i64 {
    if recent_failures == 0 {
        return 0;
    }
    let steps = (recent_failures - 1).min(6);
    (60_i64 << steps).min(3600)
}

/// The CertName of a free certificate requested from an asynchronous issuer: `given`, or row 22's
/// shape with what is known before issuance — `<DomainName>-<yyyymmdd of now, UTC>-<suffix>`,
/// where `suffix` is 8 lower-case hex characters the caller draws at random (the leaf's
/// fingerprint and notAfter are not known yet).
pub fn applying_cert_name(
    given: Option<&CertName>,
    domain: &DomainName,
    now: i64,
    suffix: &str,
) -> CertName {
    given.cloned().unwrap_or_else(|| {
        let base: String = domain
            .as_str()
            .chars()
            .take(cert::GENERATED_NAME_BASE_CHARS)
            .collect();
        CertName::from_trusted(format!(
            "{base}-{}-{suffix}",
            crate::timefmt::format_yyyymmdd(now)
        ))
    })
}

/// The `Certificate.SettedNotEffect` error of rows 28 and 34: the record is stored but does not
/// cover the domain, which keeps its previous state.
pub fn not_effective_error(
    cert_name: &str,
    upload_names: &[String],
    domain: &DomainName,
) -> ApiError {
    let names = if upload_names.is_empty() {
        "no names".to_owned()
    } else {
        upload_names.join(", ")
    };
    ApiError::new(
        ErrorCode::CertificateSettedNotEffect,
        format!(
            "The certificate is stored as CertName \"{cert_name}\" but covers {names}, not {domain}; {domain} keeps its previous certificate state."
        ),
    )
}

/// Which library record `CertType=cas` names: by `CertName`, by `CertId`, or by both, which must
/// then name the same record (rows 30–31). Built from the input with [`CertRef::for_cas`], or from
/// a CertId alone (`From<u64>`) by callers that already hold one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertRef {
    name: Option<CertName>,
    id: Option<u64>,
}

impl CertRef {
    /// Row 30: at least one of `CertName` and `CertId`.
    ///
    /// Errors: `CertName.MissingParameter` when neither is given.
    pub fn for_cas(name: Option<&CertName>, id: Option<u64>) -> Result<Self, ApiError> {
        if name.is_none() && id.is_none() {
            return Err(missing_cert_ref());
        }
        Ok(Self {
            name: name.cloned(),
            id,
        })
    }

    /// The `CertName`, if given.
    pub fn name(&self) -> Option<&CertName> {
        self.name.as_ref()
    }

    /// The `CertId`, if given.
    pub fn id(&self) -> Option<u64> {
        self.id
    }
}

impl From<u64> for CertRef {
    fn from(id: u64) -> Self {
        Self {
            name: None,
            id: Some(id),
        }
    }
}

/// A library record as far as rows 31–34 look at it.
#[derive(Debug, Clone, Copy)]
pub struct CasCandidate<'a> {
    /// `CertId`.
    pub cert_id: u64,
    /// `CertName`.
    pub cert_name: &'a str,
    /// `success`, `applying`, `failed` or `revoked`.
    pub status: &'a str,
    /// The leaf's facts.
    pub facts: &'a CertFacts,
}

/// Rows 31–34 for `CertType=cas`, given what the store's transaction sees: the caller's record
/// named by `CertName` (`by_name`, looked up only if the name is given) and by `CertId` (`by_id`,
/// likewise). Returns the CertId to bind (row 35).
///
/// Errors: `Certificate.NotFind` (no such record; with both given, either one missing),
/// `SetDomainCertificate.ParameterError` (both given, two different records), `Certificate.Expired`
/// (notAfter before `now`), `Certificate.StatusError` with the cas message (status not `success`),
/// `Certificate.SettedNotEffect` (the record does not cover `domain`; nothing changes).
pub fn decide_cas(
    cert: &CertRef,
    by_name: Option<CasCandidate<'_>>,
    by_id: Option<CasCandidate<'_>>,
    domain: &DomainName,
    now: i64,
) -> Result<u64, ApiError> {
    let not_find = |what: String| {
        ApiError::new(
            ErrorCode::CertificateNotFind,
            format!(
                "There is no {what} in your library; list it with DescribeLiveCertificateList."
            ),
        )
    };
    if let (Some(name), None) = (cert.name(), by_name) {
        return Err(not_find(format!("record named \"{name}\"")));
    }
    if let (Some(id), None) = (cert.id(), by_id) {
        return Err(not_find(format!("record with CertId {id}")));
    }
    let record = match (by_name, by_id) {
        (Some(n), Some(i)) if n.cert_id != i.cert_id => {
            return Err(ApiError::new(
                ErrorCode::SetDomainCertificateParameterError,
                format!(
                    "CertName \"{}\" is CertId {}, but CertId {} was sent (named \"{}\"); send one of them, or both naming the same record.",
                    n.cert_name, n.cert_id, i.cert_id, i.cert_name
                ),
            ))
        }
        (Some(r), _) | (None, Some(r)) => r,
        (None, None) => return Err(missing_cert_ref()),
    };
    let label = format!(
        "CertName \"{}\" (CertId {})",
        record.cert_name, record.cert_id
    );
    // A free record still being issued, or whose issuance failed, has no certificate yet, so no
    // validity to expire: its status is the answer (row 33).
    let unissued = matches!(record.status, "applying" | "failed");
    if record.facts.not_after < now && !unissued {
        return Err(ApiError::new(
            ErrorCode::CertificateExpired,
            format!(
                "{label} expired at {}; upload a renewed certificate and bind that.",
                crate::timefmt::format_utc(record.facts.not_after)
            ),
        ));
    }
    if record.status != "success" {
        let why = match record.status {
            "revoked" => "it was revoked by the operator and cannot be bound".to_owned(),
            "applying" => {
                "it is still being issued; try again once its status is success".to_owned()
            }
            "failed" => format!(
                "its issuance failed (DescribeLiveCertificateDetail shows why); request it again with CertType=free, CertName=\"{}\" and ForceSet=1",
                record.cert_name
            ),
            _ => "only records in status success can be bound".to_owned(),
        };
        return Err(ApiError::new(
            ErrorCode::CertificateStatusErrorCas,
            format!("{label} has status {}: {why}.", record.status),
        ));
    }
    if !cert::covers(record.facts, domain) {
        let names = cert_names(record.facts);
        let names = if names.is_empty() {
            "no names".to_owned()
        } else {
            names.join(", ")
        };
        return Err(ApiError::new(
            ErrorCode::CertificateSettedNotEffect,
            format!("{label} covers {names}, not {domain}; nothing was changed."),
        ));
    }
    Ok(record.cert_id)
}

/// The names a certificate is valid for, as shown in messages: its DNS SANs, else its CN.
pub fn cert_names(facts: &CertFacts) -> Vec<String> {
    if facts.dns_sans.is_empty() {
        facts.subject_cn.iter().cloned().collect()
    } else {
        facts.dns_sans.clone()
    }
}

/// Row 30: `CertType=cas` without `CertName` or `CertId`.
fn missing_cert_ref() -> ApiError {
    ApiError::new(
        ErrorCode::CertNameMissingParameter,
        "CertType=cas binds a record of your library: send its CertName (or its CertId).",
    )
}

/// Shortens an echoed value so that an error message stays readable.
fn truncate(value: &str) -> String {
    const MAX: usize = 64;
    if value.chars().count() <= MAX {
        value.to_owned()
    } else {
        let cut: String = value.chars().take(MAX).collect();
        format!("{cut}…")
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

    fn code(pairs: &[(&str, &str)]) -> ErrorCode {
        SetLiveDomainCertificateInput::parse(&params(pairs))
            .unwrap_err()
            .code
    }

    #[test]
    fn rows_1_to_5_in_order() {
        assert_eq!(code(&[]), ErrorCode::MissingParameter);
        assert_eq!(
            code(&[("DomainName", "bad_name")]),
            ErrorCode::InvalidParameter
        );
        assert_eq!(
            code(&[("DomainName", "a.com"), ("SSLProtocol", "ON")]),
            ErrorCode::InvalidSslProtocolValueNotSupported
        );
        for bad in [
            ("CertType", "Upload"),
            ("ForceSet", "2"),
            ("CertId", "0"),
            ("CertId", "9007199254740992"),
            ("CertName", "a\tb"),
        ] {
            assert_eq!(
                code(&[("DomainName", "a.com"), ("SSLProtocol", "on"), bad]),
                ErrorCode::SetDomainCertificateParameterError,
                "{bad:?}"
            );
        }
        for given in [
            ("SSLPub", "x"),
            ("SSLPri", "x"),
            ("CertName", "n"),
            ("CertId", "5"),
            ("CertType", "cas"),
        ] {
            assert_eq!(
                code(&[("DomainName", "a.com"), given]),
                ErrorCode::SetDomainCertificateParameterError
            );
        }
        let long = "n".repeat(129);
        assert_eq!(
            code(&[
                ("DomainName", "a.com"),
                ("SSLProtocol", "on"),
                ("CertName", &long)
            ]),
            ErrorCode::InvalidCertNameTooLong
        );
    }

    fn facts(sans: &[&str], not_after: i64) -> CertFacts {
        CertFacts {
            fingerprint_sha256: "00".repeat(32),
            spki_sha256: "00".repeat(32),
            subject_cn: None,
            dns_sans: sans.iter().map(|s| (*s).to_owned()).collect(),
            issuer_cn: None,
            issuer_org: None,
            serial_hex: "1".to_owned(),
            not_before: 0,
            not_after,
            key_algorithm: cert::KeyAlgorithm::EcdsaP256,
            key_bits: 256,
        }
    }

    #[test]
    fn rows_30_to_35_in_order() {
        let domain = DomainName::parse("live.example.com").unwrap();
        let name = CertName::parse("mine").unwrap();
        assert_eq!(
            CertRef::for_cas(None, None).unwrap_err().code,
            ErrorCode::CertNameMissingParameter
        );
        let good = facts(&["*.example.com"], 100);
        let elsewhere = facts(&["other.example.org"], 100);
        let rec = |cert_id, status, facts| CasCandidate {
            cert_id,
            cert_name: "mine",
            status,
            facts,
        };
        let code = |r: &CertRef, n, i, now| decide_cas(r, n, i, &domain, now).unwrap_err().code;
        let by_name = CertRef::for_cas(Some(&name), None).unwrap();
        let both = CertRef::for_cas(Some(&name), Some(7)).unwrap();
        assert_eq!(code(&by_name, None, None, 0), ErrorCode::CertificateNotFind);
        assert_eq!(
            code(&both, Some(rec(7, "success", &good)), None, 0),
            ErrorCode::CertificateNotFind
        );
        assert_eq!(
            code(
                &both,
                Some(rec(8, "success", &good)),
                Some(rec(7, "success", &good)),
                0
            ),
            ErrorCode::SetDomainCertificateParameterError
        );
        assert_eq!(
            code(&by_name, Some(rec(7, "success", &good)), None, 101),
            ErrorCode::CertificateExpired
        );
        for status in ["revoked", "applying", "failed"] {
            assert_eq!(
                code(&by_name, Some(rec(7, status, &good)), None, 0),
                ErrorCode::CertificateStatusErrorCas
            );
        }
        assert_eq!(
            code(&by_name, Some(rec(7, "success", &elsewhere)), None, 0),
            ErrorCode::CertificateSettedNotEffect
        );
        let r = rec(7, "success", &good);
        assert_eq!(decide_cas(&both, Some(r), Some(r), &domain, 100), Ok(7));
        assert_eq!(
            decide_cas(&CertRef::from(7), None, Some(r), &domain, 0),
            Ok(7)
        );
    }

    #[test]
    fn defaults_are_off_and_upload() {
        let input = SetLiveDomainCertificateInput::parse(&params(&[
            ("DomainName", "A.com"),
            ("CertType", "upload"),
        ]))
        .unwrap();
        assert_eq!(input.ssl_protocol, SslProtocol::Off);
        assert_eq!(input.cert_type, CertType::Upload);
        assert_eq!(input.domain.as_str(), "a.com");
        assert!(!input.force_set);
    }

    fn record(status: &str, fingerprint: &str) -> LibraryRecord {
        LibraryRecord {
            cert_id: 7,
            cert_name: "n".into(),
            chain_pem: String::new(),
            fingerprint_sha256: fingerprint.into(),
            status: status.into(),
        }
    }

    #[test]
    fn a_free_request_creates_or_with_force_set_reissues_a_record_covering_its_domains() {
        let live = DomainName::parse("live.example.com").expect("domain");
        let www = DomainName::parse("www.example.com").expect("domain");
        assert_eq!(
            decide_free_request(None, &[], false, &live).expect("create"),
            FreeRequest::Create
        );
        let taken = decide_free_request(Some(&record("failed", "")), &[], false, &live)
            .expect_err("name taken");
        assert_eq!(taken.code, ErrorCode::CertificateDuplicated);
        assert!(
            taken
                .message()
                .contains("a free certificate whose issuance failed"),
            "{}",
            taken.message()
        );
        let upload = decide_free_request(Some(&record("success", "ab12")), &[], false, &live)
            .expect_err("name taken");
        assert!(upload.message().contains("leaf SHA-256 ab12"));
        assert_eq!(
            decide_free_request(
                Some(&record("success", "ab12")),
                std::slice::from_ref(&live),
                true,
                &live
            )
            .expect("reissue"),
            FreeRequest::Reissue { cert_id: 7 }
        );
        let revoked = decide_free_request(Some(&record("revoked", "ab12")), &[], true, &live)
            .expect_err("revoked");
        assert_eq!(revoked.code, ErrorCode::CertificateStatusError);
        let uncovered = decide_free_request(
            Some(&record("success", "ab12")),
            &[live.clone(), www],
            true,
            &live,
        )
        .expect_err("row 26");
        assert_eq!(
            uncovered.code,
            ErrorCode::SetDomainCertificateParameterError
        );
        assert!(uncovered.message().contains("www.example.com"));
    }

    #[test]
    fn repeated_failures_delay_a_domains_next_order_up_to_an_hour() {
        let delays: Vec<i64> = (0..9).map(free_order_delay_secs).collect();
        assert_eq!(delays, [0, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
    }

    #[test]
    fn an_applying_record_is_named_like_row_22_with_the_request_day() {
        let live = DomainName::parse("live.example.com").expect("domain");
        let given = CertName::parse("mine").expect("name");
        assert_eq!(
            applying_cert_name(Some(&given), &live, 0, "0badcafe").as_str(),
            "mine"
        );
        // 2026-12-08T01:00:00Z.
        assert_eq!(
            applying_cert_name(None, &live, 1_796_691_600, "0badcafe").as_str(),
            "live.example.com-20261208-0badcafe"
        );
    }
}
