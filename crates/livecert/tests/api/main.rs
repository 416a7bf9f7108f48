//! Integration tests of the livecert API over real HTTP against a server each test starts
//! in-process (`harness`), with certificates generated at test time (`certs`).

mod access;
mod acme;
mod admin;
mod cas;
mod cas_service;
mod certs;
mod crash;
mod domains;
mod edge;
mod errors;
mod faults;
mod fixtures;
mod flows;
mod free;
mod harness;
mod limits;
mod listeners;
mod malformed;
mod multinode;
mod official_hostnames;
mod postgres;
mod sdk;
mod shared_limits;
mod tls;
