//! The store's errors: [`StoreError`] (the database) and [`WriteError`] (a write the decision
//! table may refuse inside its transaction).

use livecert_core::error::ApiError;

/// A store failure. The binary maps `Unavailable` to `ServiceUnavailable` and `Failed` to the
/// operation's storage code (`CertStorage.failed`, `DeleteFailed`) or `InternalError`. The text is
/// for the log, never for the client.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or opened (busy beyond the timeout, I/O error on open).
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A statement or commit failed (constraint, trigger abort, disk full, corruption).
    #[error("store write failed: {0}")]
    Failed(String),
    /// A sealed secret could not be opened (wrong master key).
    #[error("secret could not be opened: {0}")]
    Secret(String),
}

/// The outcome of a call that the decision table may refuse inside the transaction.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Refused by a rule (nothing was written).
    #[error("{0}")]
    Refused(ApiError),
    /// The store failed (nothing was written).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// For calls that the rules never refuse: a refusal would be a bug, reported as `Failed`.
pub(crate) fn store_only(e: WriteError) -> StoreError {
    match e {
        WriteError::Store(e) => e,
        WriteError::Refused(api) => StoreError::Failed(format!("unexpected refusal: {api}")),
    }
}
