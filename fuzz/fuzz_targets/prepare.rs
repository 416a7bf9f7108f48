//! The protocol pipeline (prepare, timestamp, verify) never panics on any request.
#![no_main]

use libfuzzer_sys::fuzz_target;
use livecert_core::protocol::{self, HttpRequest};
use livecert_core::secret::Secret;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |&b| b == 0);
    let query = parts.next().unwrap_or_default();
    let header = parts.next().unwrap_or_default();
    let body = parts.next().unwrap_or_default();
    let headers = vec![
        ("authorization".to_owned(), header.to_vec()),
        ("content-type".to_owned(), b"application/x-www-form-urlencoded".to_vec()),
        ("host".to_owned(), b"127.0.0.1:8080".to_vec()),
    ];
    let req = HttpRequest { method: "POST", path: "/", raw_query: query, headers: &headers, body };
    if let Ok(prepared) = protocol::prepare(&req) {
        let _ = protocol::check_timestamp(&prepared.timestamp, 1_795_991_850);
        let _ = protocol::verify(&req, &prepared, &Secret::new(b"testsecret".to_vec()));
    }
});
