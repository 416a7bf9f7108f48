//! The HTTP API: the RPC protocol of spec/protocol.md in front of the operations of
//! spec/operations.md.
//!
//! A request flows: listener → [`handle`] (method, path, size limit, RequestId) → parameters
//! (query ∪ form body) and scheme, action, version ([`livecert_core::protocol::prepare`]) →
//! AccessKey → timestamp → signature → nonce → the operation's typed parse → account status
//! (state-changing operations) → its handler ([`ops`]) → one store transaction → render
//! ([`render`]). Every failure is one [`ApiError`] rendered in one place; its cause is logged once
//! with the RequestId.
//!
//! Code map: `server` the listeners and connections ([`serve`], [`serve_with`]); `pipeline` the
//! request pipeline ([`handle`]) up to the dispatch to [`ops`]; `state` the shared state
//! ([`AppState`]); `caller` who is calling and [`Caller::authorize`]; `failure` a refused call
//! ([`Failure`]); [`render`] the response; [`nonce`] and [`ratelimit`] the replay and quota
//! checks, [`Answer`] what they return. This file only declares and re-exports.
//!
//! [`ApiError`]: livecert_core::error::ApiError

mod answer;
mod caller;
mod failure;
pub mod nonce;
pub mod ops;
mod pipeline;
pub mod ratelimit;
pub mod render;
mod server;
mod state;

pub use answer::Answer;
pub use caller::Caller;
pub use failure::{Failure, OpResult};
pub use pipeline::{handle, BODY_READ_TIMEOUT, MAX_BODY_BYTES};
pub use server::{
    serve, serve_with, tls_config, tls_config_from_pem, HEADER_READ_TIMEOUT,
    MAX_H2_HEADER_LIST_BYTES,
};
pub use state::{ApiConfig, AppState, PolicyCache};
