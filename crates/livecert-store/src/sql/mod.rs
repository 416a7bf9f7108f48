//! The store's statements, written once above the backend seam ([`crate::db::Tx`]): every
//! function is generic over the connection and runs the same SQL on SQLite and PostgreSQL (the
//! few dialect differences are chosen by [`crate::db::Tx::dialect`] where they occur).
//!
//! - [`read`]: the queries and their row mapping, with the row types both backends read.
//! - [`write`](mod@write): the write calls for domains and the certificate library.
//! - [`ram`]: accounts, RAM users, AccessKeys, policies and temporary credentials.
//! - [`acme`]: the ACME issuer's orders, leases, challenges, renewals and account.
//! - [`audit`](mod@audit): the audit entry a change writes in its own transaction, and the
//!   listing.
//!
//! A new store operation goes here, once: an `async fn` taking `conn: &impl Tx`, called from a
//! `Store` method through `read_call!` or `write_call!` (`crate::call`).

pub(crate) mod acme;
pub(crate) mod audit;
pub(crate) mod ram;
pub(crate) mod read;
pub(crate) mod write;
