//! A refused call ([`Failure`]): what the client sees and the cause for the log; the one mapping of
//! store errors to API errors; what a handler returns ([`OpResult`]).

use livecert_core::error::{ApiError, ErrorCode};
use livecert_store::StoreError;
use serde_json::{Map, Value};

/// A refused call: what the client sees, and the cause for the log (never sent).
#[derive(Debug)]
pub struct Failure {
    /// What the client sees.
    pub error: ApiError,
    /// The cause, for the log.
    pub cause: Option<String>,
    /// For `Throttling.User`: milliseconds until a call would be allowed (`x-acs-retry-after`).
    pub retry_after_ms: Option<u64>,
    /// For `Forbidden.RAM`: the `AccessDeniedDetail` object (access.md).
    pub access_denied_detail: Option<Box<Map<String, Value>>>,
}

impl From<ApiError> for Failure {
    fn from(error: ApiError) -> Self {
        Self {
            error,
            cause: None,
            retry_after_ms: None,
            access_denied_detail: None,
        }
    }
}

impl Failure {
    /// A failure with a cause for the log.
    pub fn with_cause(error: ApiError, cause: impl Into<String>) -> Self {
        Self {
            error,
            cause: Some(cause.into()),
            retry_after_ms: None,
            access_denied_detail: None,
        }
    }

    /// A failed write of an operation that documents a storage code (rows 14 and 27:
    /// `DeleteFailed`, `CertStorage.failed`): that code, saying that the store refused the write
    /// and `what_remains`; `ServiceUnavailable` when the store cannot be reached at all. The cause
    /// goes to the log. With [`Failure::store`], the one mapping of store errors to API errors.
    pub fn storage(code: ErrorCode, e: &StoreError, what_remains: &str) -> Self {
        match e {
            StoreError::Unavailable(_) => Self::store(e),
            StoreError::Failed(_) | StoreError::Secret(_) => Self::with_cause(
                ApiError::new(
                    code,
                    format!("The store refused the write; {what_remains}. Try again later."),
                ),
                e.to_string(),
            ),
        }
    }

    /// A store failure outside any operation-specific mapping: `ServiceUnavailable` when the store
    /// is unreachable, `InternalError` otherwise.
    pub fn store(e: &StoreError) -> Self {
        let code = match e {
            StoreError::Unavailable(_) => ErrorCode::ServiceUnavailable,
            StoreError::Failed(_) | StoreError::Secret(_) => ErrorCode::InternalError,
        };
        Self::with_cause(ApiError::bare(code), e.to_string())
    }
}

/// What a handler returns: the response fields after `RequestId`.
pub type OpResult = Result<Map<String, Value>, Failure>;
