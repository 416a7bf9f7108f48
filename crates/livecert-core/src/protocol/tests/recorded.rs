//! The recorded SDK requests (`shared/fixtures/sdk-requests`): every one verifies, and a flipped
//! byte does not.

use std::path::{Path, PathBuf};

use super::*;
use crate::error::ErrorCode;

/// Parses a recorded `.http` file: request line, CRLF headers, empty line, body.
fn parse_http(raw: &[u8]) -> Owned {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of head");
    let head = std::str::from_utf8(&raw[..split]).unwrap();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap().split(' ');
    let method = request_line.next().unwrap().to_owned();
    let target = request_line.next().unwrap();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let headers = lines
        .map(|line| {
            let (name, value) = line.split_once(':').unwrap();
            (name.to_ascii_lowercase(), value.trim().as_bytes().to_vec())
        })
        .collect();
    Owned {
        method,
        path: path.to_owned(),
        raw_query: query.as_bytes().to_vec(),
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/sdk-requests")
}

/// Changes the first byte of the `DomainName` value (signed in every fixture) from `l` to `m`.
fn flip_domain_name(req: &Owned) -> Owned {
    let mut out = req.clone();
    let needle = b"DomainName=";
    let source = if out.raw_query.windows(needle.len()).any(|w| w == needle) {
        &mut out.raw_query
    } else {
        &mut out.body
    };
    let at = source
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("a DomainName");
    let byte = &mut source[at + needle.len()];
    assert_eq!(*byte, b'l');
    *byte = b'm';
    out
}

// ---- Recorded SDK requests ----------------------------------------------------------------------

#[test]
fn every_recorded_http_request_verifies_and_a_flipped_byte_does_not() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .expect("shared/fixtures/sdk-requests beside the repository")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "http"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 26);
    for file in &files {
        let label = file.file_stem().unwrap().to_string_lossy().into_owned();
        let req = parse_http(&std::fs::read(file).unwrap());
        let prepared = req
            .outcome()
            .unwrap_or_else(|e| panic!("{label}: {}", e.message()));
        assert_eq!(prepared.access_key_id, "testid", "{label}");
        let expected_format = if label.contains("formatxml") {
            Format::Xml
        } else {
            Format::Json
        };
        assert_eq!(prepared.format, expected_format, "{label}");
        assert_eq!(
            matches!(prepared.scheme, Scheme::V3 { .. }),
            label.contains("-acs3-"),
            "{label}"
        );

        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(file.with_extension("json")).unwrap()).unwrap();
        assert_eq!(
            json["string_to_sign"].as_str().unwrap(),
            string_to_sign(&req.http(), &prepared),
            "{label}"
        );

        let flipped = flip_domain_name(&req);
        let error = flipped.outcome().unwrap_err();
        assert_eq!(error.code, ErrorCode::SignatureDoesNotMatch, "{label}");
        assert_string_to_sign_marker(&error);
    }
}

#[test]
fn every_line_of_all_requests_jsonl_verifies() {
    // `verify_sig.py all-requests.jsonl` reports MATCH for all 70 lines (error probes included:
    // they differ in what the recording server answered, not in their signatures).
    let text = std::fs::read_to_string(fixtures_dir().join("all-requests.jsonl")).unwrap();
    let mut count = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let rec: serde_json::Value = serde_json::from_str(line).unwrap();
        let label = rec["label"].as_str().unwrap_or_default();
        let headers = rec["headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                let name = h[0].as_str().unwrap().to_ascii_lowercase();
                (name, h[1].as_str().unwrap().as_bytes().to_vec())
            })
            .collect();
        let req = Owned {
            method: rec["method"].as_str().unwrap().to_owned(),
            path: rec["path"].as_str().unwrap().to_owned(),
            raw_query: rec["query"].as_str().unwrap().as_bytes().to_vec(),
            headers,
            body: rec["body"].as_str().unwrap().as_bytes().to_vec(),
        };
        let prepared = prepare(&req.http()).unwrap_or_else(|r| panic!("{label}: {:?}", r.error));
        verify(&req.http(), &prepared, &secret())
            .unwrap_or_else(|e| panic!("{label}: {}", e.message()));
        count += 1;
    }
    assert_eq!(count, 70);
}
