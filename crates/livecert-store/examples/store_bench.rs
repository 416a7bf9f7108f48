//! Store throughput, without HTTP: concurrent `set_upload` calls (each a real write: a forced
//! replacement of a bound record, alternating between two certificates) and the reads of one
//! DescribeLiveDomainCertificateInfo call (`access_key` + `domain` + `certificate`).
//!
//! ```text
//! cargo run -p livecert-store --example store_bench [clients] [seconds]
//! ```
//!
//! Defaults: 16 clients, 5 seconds per phase. The database lives in a temporary directory (set
//! `TMPDIR` to measure another disk).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use livecert_core::cert::{CertFacts, CheckedUpload, KeyAlgorithm};
use livecert_core::names::{CertName, DomainName};
use livecert_core::secret::{MasterKey, Secret};
use livecert_store::{NewDomain, Store};

const NOW: i64 = 1_767_225_600;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let clients: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(16);
    let seconds: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let dir = tempfile::tempdir().expect("temp dir");
    let (key, _) = MasterKey::generate().expect("master key");
    let store = Store::open_sqlite(&dir.path().join("livecert.db"), Arc::new(key)).expect("open");
    let account = store.create_account(NOW).await.expect("account");
    store
        .import_access_key(account, "benchid", &Secret::new(&b"benchsecret"[..]), NOW)
        .await
        .expect("key");

    let mut work = Vec::new();
    for c in 0..clients {
        let name = format!("c{c}.bench.example");
        store
            .add_domain(
                account,
                NewDomain {
                    name: DomainName::parse(&name).expect("name"),
                    live_domain_type: "liveVideo".into(),
                    region: "cn-shanghai".into(),
                    scope: "domestic".into(),
                    check_url: None,
                    top_level_domain: None,
                    resource_group_id: None,
                },
                NOW,
            )
            .await
            .expect("domain");
        work.push((name.clone(), [upload(&name), upload(&name)]));
    }

    // Writes.
    let calls = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (name, ups) in work.clone() {
        let store = store.clone();
        let calls = calls.clone();
        tasks.push(tokio::spawn(async move {
            let domain = DomainName::parse(&name).expect("name");
            let cert_name = CertName::parse(&name).expect("cert name");
            let mut i = 0usize;
            while Instant::now() < deadline {
                store
                    .set_upload(
                        account,
                        &domain,
                        cert_name.clone(),
                        true,
                        ups[i % 2].clone(),
                        NOW,
                    )
                    .await
                    .expect("set_upload");
                i += 1;
                calls.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    let n = calls.load(Ordering::Relaxed);
    let secs = started.elapsed().as_secs_f64();
    println!(
        "set_upload: {clients} clients, {n} calls in {secs:.1} s = {:.0} calls/s",
        n as f64 / secs
    );

    // Reads.
    let cert_id = store
        .domain(account, &DomainName::parse(&work[0].0).expect("name"))
        .await
        .expect("domain")
        .and_then(|d| d.cert_id)
        .expect("bound");
    let calls = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (name, _) in work {
        let store = store.clone();
        let calls = calls.clone();
        tasks.push(tokio::spawn(async move {
            let domain = DomainName::parse(&name).expect("name");
            while Instant::now() < deadline {
                let key = store.access_key("benchid").await.expect("key");
                assert!(key.is_some());
                let d = store.domain(account, &domain).await.expect("domain");
                assert!(d.is_some());
                let r = store.certificate(account, cert_id).await.expect("cert");
                assert!(r.is_some());
                calls.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    let n = calls.load(Ordering::Relaxed);
    let secs = started.elapsed().as_secs_f64();
    println!(
        "describe reads (access_key + domain + certificate): {clients} clients, {n} calls in {secs:.1} s = {:.0} calls/s",
        n as f64 / secs
    );
}

fn upload(name: &str) -> CheckedUpload {
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = rcgen::CertificateParams::new(vec![name.to_owned()])
        .expect("params")
        .self_signed(&key)
        .expect("cert");
    let der = cert.der().to_vec();
    let fingerprint = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &der)
        .as_ref()
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            use std::fmt::Write as _;
            let _ = write!(s, "{b:02x}");
            s
        });
    CheckedUpload {
        chain_pem: cert.pem(),
        chain_der: vec![der],
        private_key_pem: Secret::new(key.serialize_pem().into_bytes()),
        facts: CertFacts {
            spki_sha256: fingerprint.clone(),
            fingerprint_sha256: fingerprint,
            subject_cn: None,
            dns_sans: vec![name.to_owned()],
            issuer_cn: None,
            issuer_org: None,
            serial_hex: "1".into(),
            not_before: 0,
            not_after: 67_706_294_400,
            key_algorithm: KeyAlgorithm::EcdsaP256,
            key_bits: 256,
        },
    }
}
