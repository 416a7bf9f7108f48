//! Tests of certificate uploads: operations.md rows 17–21 in order, the layer table of
//! certificates.md §3, the early refusals of §2, normalisation (§1), chain order (§4), validity and
//! coverage (§5). This file holds the shared upload fixture; the tests are in one file per theme.

mod acceptance;
mod chain;
mod properties;
mod refusals;

use std::sync::OnceLock;

use proptest::prelude::*;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use time::{Duration, OffsetDateTime};

use super::testutil::{fixtures, now, openssl, p256, rcgen_key, self_signed_leaf, Ca};
use super::*;
use crate::names::DomainName;

/// root → intermediate → leaf (P-256, `www.example.com` and `example.com`), a cross-signing
/// root, and a second key.
struct Upload {
    root: Ca,
    inter: Ca,
    other_root: Ca,
    leaf_key: KeyPair,
    leaf_key_pem: String,
    leaf: rcgen::Certificate,
    other_key_pem: String,
}

fn upload() -> &'static Upload {
    static UPLOAD: OnceLock<Upload> = OnceLock::new();
    UPLOAD.get_or_init(|| {
        let root = Ca::root("Test Root");
        let inter = root.intermediate("Test Intermediate");
        let other_root = Ca::root("Other Root");
        let (leaf_key, leaf_key_pem) = p256();
        let leaf = inter.leaf(
            &leaf_key,
            Some("www.example.com"),
            &["www.example.com", "example.com"],
        );
        let (_, other_key_pem) = p256();
        Upload {
            root,
            inter,
            other_root,
            leaf_key,
            leaf_key_pem,
            leaf,
            other_key_pem,
        }
    })
}

impl Upload {
    fn chain(&self) -> String {
        format!(
            "{}{}{}",
            self.leaf.pem(),
            self.inter.cert.pem(),
            self.root.cert.pem()
        )
    }
}

fn check(ssl_pub: &str, ssl_pri: &str) -> Result<CheckedUpload, ApiError> {
    check_upload(Some(ssl_pub.as_bytes()), Some(ssl_pri.as_bytes()), now())
}

/// The refusal, asserting its code.
fn refused(ssl_pub: &str, ssl_pri: &str, code: ErrorCode) -> ApiError {
    match check(ssl_pub, ssl_pri) {
        Ok(_) => panic!("accepted; expected {code:?}"),
        Err(e) => {
            assert_eq!(e.code, code, "{}", e.message());
            e
        }
    }
}

fn normalised(pems: &[&str]) -> String {
    pems.iter()
        .map(|p| {
            let blocks = pem::tokenize(&pem::normalise(p)).unwrap();
            let der = base64::engine::general_purpose::STANDARD
                .decode(&blocks[0].body)
                .unwrap();
            pem::encode("CERTIFICATE", &der)
        })
        .collect()
}
