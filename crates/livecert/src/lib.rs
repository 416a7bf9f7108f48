//! livecert, the binary's library: configuration, the HTTP API, the signed client, and the data
//! directory. `main.rs` only parses the command line and wires these together.
//!
//! Code map:
//! - [`admin`]: `livecert admin`: operator actions on the store (accounts, users, keys, policies,
//!   STS, audit), beside a running serve.
//! - [`api`]: the RPC protocol pipeline and one handler per operation.
//! - [`clock`]: the injectable clock.
//! - [`datadir`]: master key, credentials file, serve lock.
//! - [`edge`]: the HTTPS edge: certificate choice by SNI over a map swapped whole, live updates.
//! - [`host`]: the one host a request names (RFC 9112 §3.2, RFC 9113 §8.3.1), for every listener.
//! - [`issuer`]: issuers for `CertType=free`: the [`issuer::Issuer`] trait and the built-in test
//!   CA kept in the data directory.
//! - [`listener`]: what every listener does before HTTP: accept without spinning, close a
//!   connection that sends nothing.
//! - [`official_hostnames`]: `serve --official-hostnames`: the API's certificate for
//!   `*.aliyuncs.com` from the data directory's CA.
//! - [`server`]: `livecert serve`: opens the store, bootstraps the first account, serves.
//! - [`store_location`]: where `--store` points and how `serve`, `edge` and `admin` open it.
//! - [`tlsfiles`]: the operator's own PEM chain and key (`--tls-cert`, `--default-cert`).
//! - [`client`]: `livecert call`: signs a request with core's signer and prints the response.

pub mod acme;
pub mod admin;
pub mod api;
pub mod client;
pub mod clock;
pub mod datadir;
pub mod edge;
pub mod host;
pub mod issuer;
pub mod listener;
pub mod official_hostnames;
pub mod server;
pub mod store_location;
pub mod tlsfiles;
