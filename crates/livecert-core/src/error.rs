//! The client-facing error table and the one error type every layer converts into.
//!
//! Every code livecert can answer is declared once, in [`error_codes!`]: its wire code, its HTTP
//! status and its documented message. The messages are wire strings copied verbatim (typos
//! included) from the public API page of SetLiveDomainCertificate (`shared/api-doc/`) and from the
//! generic-code table of `spec/protocol.md` §7; clients may match on them. A code that the API page
//! documents with two messages has two variants ([`ErrorCode::CertificateMissMatch`] and
//! [`ErrorCode::CertificateMissMatchKey`]; [`ErrorCode::CertificateStatusErrorCas`] and
//! [`ErrorCode::CertificateStatusError`]).
//!
//! [`ApiError`] pairs a code with a detail sentence that tells the caller what to fix. The rendered
//! message is the documented message, then a space and the detail (`spec/operations.md`, Messages).

use std::fmt;

/// Declares the error table: one row per variant with `(code, HTTP status, message)`.
///
/// Generates [`ErrorCode`], [`ErrorCode::ALL`] and the `code`, `http_status` and `message`
/// accessors, so that no parallel `match` can drift from the table.
macro_rules! error_codes {
    ($( $(#[$doc:meta])* $variant:ident => ($code:literal, $status:literal, $message:literal), )*) => {
        /// One row of the error table: a wire code with its HTTP status and documented message.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ErrorCode {
            $( $(#[$doc])* $variant, )*
        }

        impl ErrorCode {
            /// Every row of the table, in declaration order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),*];

            /// The wire code, e.g. `Certificate.MissMatch`.
            pub const fn code(self) -> &'static str {
                match self { $(ErrorCode::$variant => $code,)* }
            }

            /// The HTTP status the code is answered with.
            pub const fn http_status(self) -> u16 {
                match self { $(ErrorCode::$variant => $status,)* }
            }

            /// The documented message, verbatim. `MissingParameter` and `InvalidParameter` carry a
            /// `<Name>` placeholder that [`ApiError`] fills with the parameter's name.
            pub const fn message(self) -> &'static str {
                match self { $(ErrorCode::$variant => $message,)* }
            }
        }
    };
}

error_codes! {
    // ---- Generic codes: spec/protocol.md §7 -------------------------------------------------
    /// A required parameter or header is absent.
    MissingParameter => ("MissingParameter", 400, "The input parameter \"<Name>\" that is mandatory for processing this request is not supplied."),
    /// A malformed value with no specific code.
    InvalidParameter => ("InvalidParameter", 400, "The specified parameter \"<Name>\" is not valid."),
    /// No usable signature, an unparsable Authorization header, or an unsigned `x-acs-*` header.
    IncompleteSignature => ("IncompleteSignature", 400, "The request signature does not conform to Aliyun standards."),
    /// A signature method other than `HMAC-SHA1` (V1) or `ACS3-HMAC-SHA256` (V3).
    InvalidSignatureMethod => ("InvalidSignatureMethod", 400, "Specified signature method is not valid."),
    /// Wrong signature or body hash.
    SignatureDoesNotMatch => ("SignatureDoesNotMatch", 400, "Specified signature is not matched with our calculation."),
    /// Unknown or ill-formed AccessKeyId.
    InvalidAccessKeyIdNotFound => ("InvalidAccessKeyId.NotFound", 404, "Specified access key is not found."),
    /// The AccessKey is disabled.
    InvalidAccessKeyIdInactive => ("InvalidAccessKeyId.Inactive", 400, "Specified access key is disabled."),
    /// The temporary credential has expired.
    InvalidSecurityTokenExpired => ("InvalidSecurityToken.Expired", 400, "Specified SecurityToken is expired."),
    /// Unknown or garbled SecurityToken.
    InvalidSecurityTokenMalformed => ("InvalidSecurityToken.Malformed", 400, "Specified SecurityToken is malformed."),
    /// Timestamp / `x-acs-date` does not parse.
    InvalidTimeStampFormat => ("InvalidTimeStamp.Format", 400, "Specified time stamp or date value is not well formatted."),
    /// Timestamp / `x-acs-date` more than 15 minutes from the server clock.
    InvalidTimeStampExpired => ("InvalidTimeStamp.Expired", 400, "Specified time stamp or date value is expired."),
    /// The nonce was seen before for this AccessKeyId inside the clock window.
    SignatureNonceUsed => ("SignatureNonceUsed", 400, "Specified signature nonce was used already."),
    /// Unknown operation or path.
    InvalidActionNotFound => ("InvalidAction.NotFound", 404, "Specified api is not found, please check your url and method."),
    /// A version other than `2016-11-01`.
    InvalidVersion => ("InvalidVersion", 400, "Specified parameter Version is not valid."),
    /// A method other than GET or POST.
    UnsupportedHttpMethod => ("UnsupportedHTTPMethod", 400, "This http method is not supported."),
    /// A body over 1 MiB.
    RequestEntityTooLarge => ("RequestEntityTooLarge", 413, "The request body is too large."),
    /// The account's quota for this operation is spent.
    ThrottlingUser => ("Throttling.User", 400, "Request was denied due to user flow control."),
    /// A RAM policy does not allow the call.
    ForbiddenRam => ("Forbidden.RAM", 403, "User not authorized to operate on the specified resource, or this API doesn't support RAM."),
    /// `DryRun=true` and every check passed.
    DryRunOperation => ("DryRunOperation", 400, "Request validation has been passed with DryRun flag set."),
    /// A bug: the generic message goes out, the cause goes to the log.
    InternalError => ("InternalError", 500, "The request processing has failed due to some unknown error."),
    /// The store is unreachable or the nonce store is full.
    ServiceUnavailable => ("ServiceUnavailable", 503, "The request has failed due to a temporary failure of the server."),

    // ---- SetLiveDomainCertificate: shared/api-doc (35 rows, 33 distinct codes) ----------------
    /// `SSLProtocol` is neither `on` nor `off`.
    InvalidSslProtocolValueNotSupported => ("InvalidSSLProtocol.ValueNotSupported", 400, "The specified value of parameter SSLProtocol is not supported."),
    /// `SSLPub` absent or empty with HTTPS on and `CertType=upload`.
    SslPubMissingParameter => ("SSLPub.MissingParameter", 400, "An input parameter \"SSLPub\" that is mandatory for processing the request is not supplied."),
    /// `SSLPri` absent with HTTPS on and `CertType=upload`.
    SslPriMissingParameter => ("SSLPri.MissingParameter", 400, "An input parameter \"SSLPri\" that is mandatory for processing the request is not supplied."),
    /// `SSLPub` holds no recognised PEM block.
    InvalidSslPub => ("InvalidSSLPub", 400, "The SSLPub you provided is malformed!"),
    /// `SSLPri` holds no recognised key block, or more than one key.
    InvalidSslPri => ("InvalidSSLPri", 400, "The SSLPri you provided is malformed!"),
    /// The first documented message of `Certificate.MissMatch`; livecert answers the other one
    /// ([`ErrorCode::CertificateMissMatchKey`], operations.md "Messages"). Kept so the table holds
    /// every documented row.
    CertificateMissMatch => ("Certificate.MissMatch", 400, "The SSLPri does not math the specified Certificate!"),
    /// `SSLPub` or `SSLPri` over its size limit.
    InvalidCertificateTooLong => ("InvalidCertificate.TooLong", 400, "The Certificate you provided is over the max length!"),
    /// `CertName` longer than 128 characters.
    InvalidCertNameTooLong => ("InvalidCertName.TooLong", 400, "The Certificate name you provided is over the max length 128!"),
    /// No such domain, or it belongs to another account.
    IllegalOperationDomain => ("IllegalOperationDomain", 400, "You are not authorized to operate the domain."),
    /// HTTPS may not be turned off for a domain that requires it.
    CertificateNotPermittedOff => ("Certificate.NotPermittedOff", 400, "Turn off certificate will change domain scheduling, please contact customer service"),
    /// The record was stored but does not cover the domain, whose binding is unchanged.
    CertificateSettedNotEffect => ("Certificate.SettedNotEffect", 400, "Certificate was successfully setted but does't take effect for protecting current service, please contact customer service"),
    /// No such record in the caller's library.
    CertificateNotFind => ("Certificate.NotFind", 400, "Not find the certificate info."),
    /// The caller's account is suspended.
    AuthenticationFailed => ("AuthenticationFailed", 400, "Authentication failed."),
    /// A parameter combination or value that has no more specific code.
    SetDomainCertificateParameterError => ("SetDomainCertificate.ParameterError", 400, "Parameters have error."),
    /// SSLPub and SSLPri are both unreadable, or swapped.
    InvalidSslPubOrInvalidSslPri => ("InvalidSSLPubOrInvalidSSLPri", 400, "The SSLPri or SSLPub you provided is malformed!"),
    /// The private key matches no certificate in SSLPub (the message livecert answers).
    CertificateMissMatchKey => ("Certificate.MissMatch", 400, "The certificate is not match the private key."),
    /// A `cas` record that is revoked or not yet issued (operations.md row 33).
    CertificateStatusErrorCas => ("Certificate.StatusError", 400, "Certificate is not exist or its status is error."),
    /// Storage failed while turning HTTPS off (row 14).
    DeleteFailed => ("DeleteFailed", 400, "Delete certificate is failed."),
    /// The name exists with other content and `ForceSet` is not 1 (row 23).
    CertificateDuplicated => ("Certificate.Duplicated", 400, "The certificate name is duplicated."),
    /// A certificate that is not X.509, or a chain that cannot be ordered.
    CertificateFormatError => ("Certificate.FormatError", 400, "The certificate format is error."),
    /// A leaf that is not yet valid, or a `free` request the issuer refuses.
    CertificateStatusError => ("Certificate.StatusError", 400, "The certificate status is error."),
    /// `SSLPri` empty or only white space.
    CertificateKeyNull => ("Certificate.KeyNull", 400, "The private key is not null."),
    /// The key is unsupported, encrypted or malformed.
    KeyMalformed => ("Key.Malformed", 400, "The private key format is error."),
    /// Storage failed while writing a certificate (row 27).
    CertStorageFailed => ("CertStorage.failed", 400, "The certificate storage failed."),
    /// The same leaf exists under another name (row 24).
    CertificateContentDuplicated => ("CertificateContent.Duplicated", 400, "The certificate is already uploaded, please don't upload again."),
    /// The leaf (or a `cas` record) has expired.
    CertificateExpired => ("Certificate.Expired", 400, "The certificate is expired."),
    /// The domain is offline or configuring.
    InvalidDomainNotOnline => ("InvalidDomain.notOnline", 400, "The domain is not online, please check the domain status and try again later."),
    /// Base64 that does not decode, or a value that was percent-encoded twice.
    DecodeError => ("Decode.Error", 400, "The certificate sslpub or sslpri decode error."),
    /// SSLPub is not UTF-8 or contains NUL.
    SslPubError => ("sslPub.Error", 400, "The SSLPub encoded failed."),
    /// SSLPri is not UTF-8 or contains NUL.
    SslPriError => ("sslPri.Error", 400, "The SSLPri encoded failed."),
    /// The domain is in safe mode.
    DomainInSafeMode => ("DomainInSafeMode", 400, "This domain is in the safe mode. if you want to do this operation, please contact us!"),
    /// The domain is in protected mode.
    DomainInProtectedMode => ("DomainInProtectedMode", 400, "This domain is in the protected mode. if you want to do this operation, please contact us!"),
    /// The domain has a function that excludes HTTPS.
    FunctionMutex => ("FunctionMutex", 400, "Function is mutex with other function."),
    /// The domain is locked by the operator.
    IllegalOperation => ("IllegalOperation", 403, "Illegal domain operate is not permitted."),
    /// `CertType=cas` with neither `CertName` nor `CertId`.
    CertNameMissingParameter => ("CertName.MissingParameter", 404, "The CertName parameter is required."),

    // ---- Other operations: spec/operations.md ---------------------------------------------
    /// DescribeLiveCertificateDetail: no record of that name in the caller's library.
    CertNameNotFound => ("CertNameNotFound", 404, "The cert name is not found."),
    /// AddLiveDomain: the domain was already added, by any account.
    DomainAlreadyExist => ("DomainAlreadyExist", 400, "The domain already exists."),
}

impl ErrorCode {
    /// The anchor of this code in `docs/errors.md` (lower case, dots removed), used in `Recommend`.
    pub fn doc_anchor(self) -> String {
        self.code().to_ascii_lowercase().replace('.', "")
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The one client-facing error: a row of the table, the name for a `<Name>` placeholder, and a
/// detail sentence that tells the caller what to fix.
///
/// The cause of an `InternalError` or `ServiceUnavailable` never goes into `detail`: the caller
/// logs it with the RequestId and the client sees the generic message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The table row.
    pub code: ErrorCode,
    /// The parameter name that fills `<Name>` in `MissingParameter` / `InvalidParameter`.
    pub name: Option<String>,
    /// What exactly went wrong and how to fix it; may be empty.
    pub detail: String,
}

impl ApiError {
    /// An error with a detail sentence.
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self {
            code,
            name: None,
            detail: detail.into(),
        }
    }

    /// An error with no detail beyond the documented message.
    pub fn bare(code: ErrorCode) -> Self {
        Self {
            code,
            name: None,
            detail: String::new(),
        }
    }

    /// `MissingParameter` naming the absent parameter or header.
    pub fn missing(name: impl Into<String>) -> Self {
        Self {
            code: ErrorCode::MissingParameter,
            name: Some(name.into()),
            detail: String::new(),
        }
    }

    /// `InvalidParameter` naming the parameter, with what is wrong.
    pub fn invalid(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            code: ErrorCode::InvalidParameter,
            name: Some(name.into()),
            detail: detail.into(),
        }
    }

    /// The message as sent: the documented message (with `<Name>` filled), then a space and the
    /// detail when there is one.
    pub fn message(&self) -> String {
        let base = self.code.message();
        let base = match &self.name {
            Some(name) => base.replace("<Name>", name),
            None => base.to_owned(),
        };
        if self.detail.is_empty() {
            base
        } else if base.ends_with(['.', '!', '?']) {
            format!("{base} {}", self.detail)
        } else {
            // A documented message without a full stop (Certificate.SettedNotEffect's) still
            // ends its sentence before livecert's detail.
            format!("{base}. {}", self.detail)
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.code(), self.message())
    }
}

impl std::error::Error for ApiError {}

/// Builds an [`ApiError`]: `api_error!(Code)`, `api_error!(Code, "detail {}", x)`.
#[macro_export]
macro_rules! api_error {
    ($code:ident) => {
        $crate::error::ApiError::bare($crate::error::ErrorCode::$code)
    };
    ($code:ident, $($arg:tt)+) => {
        $crate::error::ApiError::new($crate::error::ErrorCode::$code, format!($($arg)+))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The API page's error table (shared/api-doc), transcribed: status, code, message.
    const API_PAGE_ROWS: &[(u16, &str, &str)] = &[
        (400, "InvalidSSLProtocol.ValueNotSupported", "The specified value of parameter SSLProtocol is not supported."),
        (400, "SSLPub.MissingParameter", "An input parameter \"SSLPub\" that is mandatory for processing the request is not supplied."),
        (400, "SSLPri.MissingParameter", "An input parameter \"SSLPri\" that is mandatory for processing the request is not supplied."),
        (400, "InvalidSSLPub", "The SSLPub you provided is malformed!"),
        (400, "InvalidSSLPri", "The SSLPri you provided is malformed!"),
        (400, "Certificate.MissMatch", "The SSLPri does not math the specified Certificate!"),
        (400, "InvalidCertificate.TooLong", "The Certificate you provided is over the max length!"),
        (400, "InvalidCertName.TooLong", "The Certificate name you provided is over the max length 128!"),
        (400, "IllegalOperationDomain", "You are not authorized to operate the domain."),
        (400, "Certificate.NotPermittedOff", "Turn off certificate will change domain scheduling, please contact customer service"),
        (400, "Certificate.SettedNotEffect", "Certificate was successfully setted but does't take effect for protecting current service, please contact customer service"),
        (400, "Certificate.NotFind", "Not find the certificate info."),
        (400, "AuthenticationFailed", "Authentication failed."),
        (400, "SetDomainCertificate.ParameterError", "Parameters have error."),
        (400, "InvalidSSLPubOrInvalidSSLPri", "The SSLPri or SSLPub you provided is malformed!"),
        (400, "Certificate.MissMatch", "The certificate is not match the private key."),
        (400, "Certificate.StatusError", "Certificate is not exist or its status is error."),
        (400, "DeleteFailed", "Delete certificate is failed."),
        (400, "Certificate.Duplicated", "The certificate name is duplicated."),
        (400, "Certificate.FormatError", "The certificate format is error."),
        (400, "Certificate.StatusError", "The certificate status is error."),
        (400, "Certificate.KeyNull", "The private key is not null."),
        (400, "Key.Malformed", "The private key format is error."),
        (400, "CertStorage.failed", "The certificate storage failed."),
        (400, "CertificateContent.Duplicated", "The certificate is already uploaded, please don't upload again."),
        (400, "Certificate.Expired", "The certificate is expired."),
        (400, "InvalidDomain.notOnline", "The domain is not online, please check the domain status and try again later."),
        (400, "Decode.Error", "The certificate sslpub or sslpri decode error."),
        (400, "sslPub.Error", "The SSLPub encoded failed."),
        (400, "sslPri.Error", "The SSLPri encoded failed."),
        (400, "DomainInSafeMode", "This domain is in the safe mode. if you want to do this operation, please contact us!"),
        (400, "DomainInProtectedMode", "This domain is in the protected mode. if you want to do this operation, please contact us!"),
        (400, "FunctionMutex", "Function is mutex with other function."),
        (403, "IllegalOperation", "Illegal domain operate is not permitted."),
        (404, "CertName.MissingParameter", "The CertName parameter is required."),
    ];

    #[test]
    fn every_api_page_row_is_one_table_row() {
        assert_eq!(API_PAGE_ROWS.len(), 35);
        for &(status, code, message) in API_PAGE_ROWS {
            let matches: Vec<_> = ErrorCode::ALL
                .iter()
                .filter(|c| c.code() == code && c.message() == message)
                .collect();
            assert_eq!(matches.len(), 1, "row {code} / {message}");
            assert_eq!(matches[0].http_status(), status, "status of {code}");
        }
    }

    #[test]
    fn codes_with_two_messages_are_exactly_the_documented_ones() {
        let mut codes: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.code()).collect();
        codes.sort_unstable();
        let dups: Vec<&str> = codes
            .windows(2)
            .filter(|w| w[0] == w[1])
            .map(|w| w[0])
            .collect();
        assert_eq!(dups, ["Certificate.MissMatch", "Certificate.StatusError"]);
    }

    #[test]
    fn message_fills_name_and_appends_detail() {
        let e = ApiError::missing("DomainName");
        assert_eq!(
            e.message(),
            "The input parameter \"DomainName\" that is mandatory for processing this request is not supplied."
        );
        let e = api_error!(
            CertificateExpired,
            "notAfter is {}.",
            "2020-01-01T00:00:00Z"
        );
        assert_eq!(
            e.message(),
            "The certificate is expired. notAfter is 2020-01-01T00:00:00Z."
        );
    }
    #[test]
    fn docs_errors_md_lists_every_code_with_its_status_and_message() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/errors.md");
        let doc = std::fs::read_to_string(path).expect("docs/errors.md exists");
        for code in ErrorCode::ALL {
            let heading = format!("## {}\n", code.code());
            assert!(
                doc.contains(&heading),
                "docs/errors.md lacks a section for {}",
                code.code()
            );
            let anchor = format!("<a id=\"{}\"></a>", code.doc_anchor());
            assert!(
                doc.contains(&anchor),
                "docs/errors.md lacks the anchor of {}",
                code.code()
            );
            assert!(
                doc.contains(&format!("`{}`", code.message())),
                "docs/errors.md lacks the message of {code:?}"
            );
            assert!(
                doc.contains(&format!("HTTP {}", code.http_status())),
                "status of {}",
                code.code()
            );
        }
    }
}
