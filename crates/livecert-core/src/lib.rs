//! livecert-core: the pure logic of livecert. No I/O, no async runtime, no database, no sockets;
//! the clock is passed in as Unix seconds.
//!
//! Code map:
//! - [`error`]: the error table (code, HTTP status, documented message) and [`error::ApiError`].
//! - [`action`]: the operation table (wire name, state-changing, rate limit).
//! - [`params`]: query ∪ form-body parameter decoding.
//! - [`protocol`]: scheme detection, V1 and V3 signatures (verify and sign), clock window.
//! - [`names`]: checked names ([`names::DomainName`], [`names::CertName`]).
//! - [`cert`]: certificate and key parsing, normalisation, chain ordering, coverage.
//! - [`ops`]: typed inputs of each operation and SetLiveDomainCertificate's library decisions.
//! - [`ratelimit`]: GCRA arithmetic for the per-account, per-operation rate limits.
//! - [`secret`]: redacted secret bytes and the master key that seals them at rest.
//! - [`timefmt`]: wire timestamps.
//! - [`ram`]: RAM policies: parsing with error positions, evaluation, `AccessDeniedDetail`.

pub mod action;
pub mod cert;
pub mod error;
pub mod names;
pub mod ops;
pub mod params;
pub mod protocol;
pub mod ram;
pub mod ratelimit;
pub mod secret;
pub mod timefmt;

pub use error::{ApiError, ErrorCode};
