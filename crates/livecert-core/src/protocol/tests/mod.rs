//! Tests of the protocol as a whole: the recorded SDK requests (`shared/fixtures/sdk-requests`),
//! one crafted request per error of [`prepare`], [`check_timestamp`] and [`verify`], the response
//! format, and property tests (no panic on any input; sign → verify round trips). This file holds
//! what they share: the owned request and the builders of signed V1 and V3 requests.

mod errors;
mod format;
mod properties;
mod recorded;

use super::*;

/// The instant every fixture verifies at (fixtures README).
const NOW_TEXT: &str = "2026-11-29T22:37:30Z";

fn now() -> i64 {
    timefmt::parse_utc(NOW_TEXT).unwrap()
}

fn secret() -> Secret {
    Secret::new("testsecret")
}

/// An owned request, for building [`HttpRequest`]s in tests.
#[derive(Debug, Clone)]
struct Owned {
    method: String,
    path: String,
    raw_query: Vec<u8>,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

impl Owned {
    fn http(&self) -> HttpRequest<'_> {
        HttpRequest {
            method: &self.method,
            path: &self.path,
            raw_query: &self.raw_query,
            headers: &self.headers,
            body: &self.body,
        }
    }

    fn set_header(&mut self, name: &str, value: &str) {
        self.headers.retain(|(n, _)| n != name);
        self.headers
            .push((name.to_owned(), value.as_bytes().to_vec()));
    }

    fn remove_header(&mut self, name: &str) {
        self.headers.retain(|(n, _)| n != name);
    }

    /// Runs the server's pipeline up to the signature; the first error's code and name.
    fn outcome(&self) -> Result<Prepared, ApiError> {
        let prepared = prepare(&self.http()).map_err(|r| r.error)?;
        check_timestamp(&prepared.timestamp, now())?;
        verify(&self.http(), &prepared, &secret())?;
        Ok(prepared)
    }
}

fn assert_string_to_sign_marker(error: &ApiError) {
    let message = error.message();
    let at = message
        .find(STRING_TO_SIGN_MARKER)
        .expect("marker in the message");
    assert!(
        !message[..at].contains(':'),
        "a colon before the marker: {message}"
    );
}

// ---- Request builders ---------------------------------------------------------------------------

fn pairs(list: &[(&str, &str)]) -> Vec<Pair> {
    list.iter()
        .map(|(n, v)| ((*n).to_owned(), v.as_bytes().to_vec()))
        .collect()
}

/// A V1 GET, signed at `timestamp`, whose signed pairs `edit` may change before they are sent.
fn v1_at(timestamp: &str, edit: impl FnOnce(&mut Vec<Pair>)) -> Owned {
    let params = pairs(&[
        ("Action", "DescribeLiveDomainCertificateInfo"),
        ("Version", "2016-11-01"),
        ("DomainName", "live.example.com"),
    ]);
    let mut signed = sign_v1("GET", &params, "testid", &secret(), "nonce-1", timestamp);
    edit(&mut signed);
    Owned {
        method: "GET".to_owned(),
        path: "/".to_owned(),
        raw_query: encode_pairs(&signed).into_bytes(),
        headers: vec![("host".to_owned(), b"127.0.0.1:8080".to_vec())],
        body: Vec::new(),
    }
}

fn v1(edit: impl FnOnce(&mut Vec<Pair>)) -> Owned {
    v1_at(NOW_TEXT, edit)
}

fn set_pair(pairs: &mut Vec<Pair>, name: &str, value: &str) {
    pairs.retain(|(n, _)| n != name);
    pairs.push((name.to_owned(), value.as_bytes().to_vec()));
}

fn remove_pair(pairs: &mut Vec<Pair>, name: &str) {
    pairs.retain(|(n, _)| n != name);
}

/// A V3 POST with a form body, signed at `date`, with `extra` query pairs.
fn v3_at(date: &str, extra: &[(&str, &str)]) -> Owned {
    let mut query = pairs(&[("DomainName", "live.example.com")]);
    query.extend(pairs(extra));
    let body = b"CertName=mycert".to_vec();
    let headers = sign_v3(
        &V3Request {
            method: "POST",
            host: "127.0.0.1:8080",
            action: "DescribeLiveCertificateDetail",
            version: "2016-11-01",
            query: &query,
            body: &body,
            access_key_id: "testid",
            nonce: "nonce-3",
            date,
            security_token: None,
        },
        &secret(),
    );
    let mut headers: Vec<(String, Vec<u8>)> = headers
        .into_iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.into_bytes()))
        .collect();
    headers.push((
        "content-type".to_owned(),
        b"application/x-www-form-urlencoded".to_vec(),
    ));
    Owned {
        method: "POST".to_owned(),
        path: "/".to_owned(),
        raw_query: encode_pairs(&query).into_bytes(),
        headers,
        body,
    }
}

fn v3(edit: impl FnOnce(&mut Owned)) -> Owned {
    let mut req = v3_at(NOW_TEXT, &[]);
    edit(&mut req);
    req
}

fn raw(query: &str) -> Owned {
    Owned {
        method: "GET".to_owned(),
        path: "/".to_owned(),
        raw_query: query.as_bytes().to_vec(),
        headers: Vec::new(),
        body: Vec::new(),
    }
}

fn authorization(req: &Owned) -> String {
    let (_, value) = req
        .headers
        .iter()
        .find(|(n, _)| n == "authorization")
        .unwrap();
    String::from_utf8(value.clone()).unwrap()
}

fn shift(seconds: i64) -> String {
    timefmt::format_utc(now() + seconds)
}
