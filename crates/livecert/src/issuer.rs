//! Issuers for `CertType=free` (spec/operations.md rows 36–37): the [`Issuer`] trait and the
//! built-in test CA, [`TestCa`].
//!
//! An issuer turns a domain name into a certificate chain and its private key, for exactly that
//! name. What it returns goes through core's `check_upload`, the very checks an upload passes, so
//! the record stored for it has the same facts (certificates.md §6) as an uploaded one and a
//! broken issuer cannot store a broken record.
//!
//! The test CA issues at once: its root (ECDSA P-256, self-signed, CA, ten years) is created on
//! first start in the data directory — `test-ca.pem` (the certificate, to be trusted by clients:
//! `livecert admin ca export`) and `test-ca.key.sealed` (the private key sealed with the master
//! key under [`AAD_TEST_CA_KEY`]), both mode 0600 — and each certificate it issues is a 90-day
//! ECDSA P-256 leaf for the one name, signed by that root; the chain returned is leaf + root.
//!
//! An asynchronous issuer, the ACME issuer of [`crate::acme`], answers [`Issuer::start`] with
//! [`Issuance::Pending`]: `api::ops::free::set_free` then reserves the record in status
//! `applying` and queues its order in the store, and calls [`Issuer::ordered`] so that the
//! issuer's worker takes it up; the worker later fills and binds the record, or marks it `failed`.
//! The test CA keeps the default [`Issuer::start`]: always [`Issuance::Issued`], at once.

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write as _};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use livecert_core::cert::{check_upload, CheckedUpload};
use livecert_core::names::DomainName;
use livecert_core::secret::{MasterKey, AAD_TEST_CA_KEY};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SerialNumber, PKCS_ECDSA_P256_SHA256,
};
use time::OffsetDateTime;
use zeroize::Zeroizing;

/// The test CA's root certificate in the data directory.
pub const TEST_CA_CERT_FILE: &str = "test-ca.pem";
/// The test CA's private key, sealed with the master key, in the data directory.
pub const TEST_CA_KEY_FILE: &str = "test-ca.key.sealed";
/// How long the test CA's root is valid.
pub const ROOT_VALIDITY_DAYS: i64 = 3650;
/// How long a certificate the test CA issues is valid (row 37: 90 days).
pub const LEAF_VALIDITY_DAYS: i64 = 90;
/// notBefore of what the test CA signs is this far before the issuing time, so that a client
/// whose clock is a little behind accepts a certificate issued a moment ago.
pub const BACKDATE_SECS: i64 = 3600;

const DAY_SECS: i64 = 86_400;

/// Issues certificates for `CertType=free`. Implementations must be cheap to share between
/// requests (`Arc<dyn Issuer>` in `AppState`).
pub trait Issuer: Send + Sync {
    /// Row 36 without issuing anything: whether this issuer would refuse `domain` (a wildcard
    /// domain, a name it does not serve). Used first by every call, DryRun included.
    ///
    /// Errors: [`IssueError::Refused`] with the reason for the client.
    fn check(&self, domain: &DomainName) -> Result<(), IssueError>;

    /// Issues a certificate for exactly `domain` (DNS SAN and CN), valid from about `now` (Unix
    /// seconds), and returns it checked by core's `check_upload` (normalised chain, leaf first;
    /// the private key; the leaf's facts). Must have no side effect beyond issuing, so that a
    /// DryRun may rehearse with it.
    ///
    /// Errors: [`IssueError::Refused`] (row 36); [`IssueError::Failed`] when the issuer is
    /// broken (an internal error, not the client's).
    fn issue(&self, domain: &DomainName, now: i64) -> Result<CheckedUpload, IssueError>;

    /// Starts issuing for `domain` at `now`: issued at once ([`Issuance::Issued`], the default,
    /// through [`Issuer::issue`]), or to be issued later by the issuer's own worker from an order
    /// the caller queues in the store ([`Issuance::Pending`]).
    ///
    /// Errors: as [`Issuer::issue`].
    fn start(&self, domain: &DomainName, now: i64) -> Result<Issuance, IssueError> {
        self.issue(domain, now)
            .map(|issued| Issuance::Issued(Box::new(issued)))
    }

    /// Tells an asynchronous issuer that an order was queued in the store (its worker wakes up
    /// rather than waiting for its next poll). Does nothing by default.
    fn ordered(&self) {}

    /// The issuer's own metrics in the Prometheus text format, appended to the API's
    /// `GET /metrics`; empty by default.
    fn metrics_text(&self) -> String {
        String::new()
    }
}

/// How an issuer answered [`Issuer::start`].
#[derive(Debug)]
pub enum Issuance {
    /// The certificate, issued at once and checked by `check_upload`.
    Issued(Box<CheckedUpload>),
    /// The issuer works asynchronously: the caller queues an order in the store
    /// (`Store::request_free`), which the issuer's worker fills later.
    Pending,
}

/// Why an issuer did not issue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IssueError {
    /// Row 36: the issuer refuses this domain; the text is the reason, shown to the client with
    /// `Certificate.StatusError`.
    #[error("{0}")]
    Refused(String),
    /// The issuer failed (for the log; the client sees `InternalError`).
    #[error("the issuer failed: {0}")]
    Failed(String),
}

/// The built-in test CA: a private root kept in the data directory that issues at once.
pub struct TestCa {
    root_pem: String,
    issuer: rcgen::Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCa").finish_non_exhaustive()
    }
}

impl TestCa {
    /// Loads the test CA of the data directory `dir`, creating its root first if there is none.
    /// Creation is safe against another process creating it at the same time (the first one to
    /// publish its key wins; the other loads it). `now` is Unix seconds (the root is valid from
    /// an hour before).
    ///
    /// Errors: unreadable or inconsistent files, a key that does not open with `master_key`, an
    /// expired root (remove both files to create a new one; clients must then trust the new one).
    pub fn open_or_create(dir: &Path, master_key: &MasterKey, now: i64) -> anyhow::Result<Self> {
        if let Some(ca) = Self::open(dir, master_key, now)? {
            return Ok(ca);
        }
        create_root(dir, master_key, now)?;
        Self::open(dir, master_key, now)?
            .with_context(|| format!("the test CA in {} vanished after creation", dir.display()))
    }

    /// Loads the test CA of the data directory `dir`; `None` if it has not been created.
    ///
    /// Errors: as [`TestCa::open_or_create`].
    pub fn open(dir: &Path, master_key: &MasterKey, now: i64) -> anyhow::Result<Option<Self>> {
        let (cert_path, key_path) = (dir.join(TEST_CA_CERT_FILE), dir.join(TEST_CA_KEY_FILE));
        let sealed = match fs::read(&key_path) {
            Ok(sealed) => sealed,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("reading {}", key_path.display())),
        };
        let root_pem = read_published_cert(&cert_path, &key_path)?;
        let key_pem = master_key.open(AAD_TEST_CA_KEY, &sealed).with_context(|| {
            format!(
                "{} does not open with this master key (is it the key this data directory was \
                 created with?)",
                key_path.display()
            )
        })?;
        let key_pem = Zeroizing::new(
            key_pem
                .expose_str()
                .with_context(|| format!("{} is not a PEM key", key_path.display()))?
                .to_owned(),
        );
        // The upload checks tell a mismatched key (MissMatch) and an expired root apart.
        check_upload(Some(root_pem.as_bytes()), Some(key_pem.as_bytes()), now).map_err(|e| {
            anyhow::anyhow!(
                "the test CA in {} is not usable ({e}); remove {TEST_CA_CERT_FILE} and \
                 {TEST_CA_KEY_FILE} to create a new one (clients must then trust the new root)",
                dir.display()
            )
        })?;
        let key = KeyPair::from_pem(&key_pem)
            .with_context(|| format!("reading the key in {}", key_path.display()))?;
        let issuer = rcgen::Issuer::from_ca_cert_pem(&root_pem, key)
            .with_context(|| format!("reading {}", cert_path.display()))?;
        Ok(Some(Self { root_pem, issuer }))
    }

    /// The root certificate PEM that clients trust (`livecert admin ca export`).
    pub fn root_pem(&self) -> &str {
        &self.root_pem
    }

    /// `<dir>/test-ca.pem`.
    pub fn cert_path(dir: &Path) -> PathBuf {
        dir.join(TEST_CA_CERT_FILE)
    }
}

/// Row 36 for every issuer: a wildcard domain is refused, with what to do instead.
///
/// Errors: [`IssueError::Refused`] for a wildcard domain.
pub fn refuse_wildcard(domain: &DomainName) -> Result<(), IssueError> {
    if domain.is_wildcard() {
        return Err(IssueError::Refused(format!(
            "{domain} is a wildcard domain; CertType=free issues a certificate for exactly one \
             name. Upload a wildcard certificate with CertType=upload instead."
        )));
    }
    Ok(())
}

impl Issuer for TestCa {
    fn check(&self, domain: &DomainName) -> Result<(), IssueError> {
        refuse_wildcard(domain)
    }

    fn issue(&self, domain: &DomainName, now: i64) -> Result<CheckedUpload, IssueError> {
        self.check(domain)?;
        let (chain, key_pem) = self
            .sign_leaf(&[domain.as_str().to_owned()], now)
            .map_err(|e| IssueError::Failed(format!("{e:#} for {domain}")))?;
        check_upload(Some(chain.as_bytes()), Some(key_pem.as_bytes()), now)
            .map_err(|e| IssueError::Failed(format!("checking what was issued for {domain}: {e}")))
    }
}

impl TestCa {
    /// A server certificate for `names` (DNS SANs, wildcards allowed; the first is the CN), valid
    /// from about `now` (Unix seconds) for the test CA's leaf lifetime: the chain PEM (leaf, root)
    /// and the private key PEM. For `serve --official-hostnames`, whose API certificate is issued
    /// at each start.
    ///
    /// Errors: no name, a name rcgen refuses, signing failures.
    pub fn issue_server(
        &self,
        names: &[String],
        now: i64,
    ) -> anyhow::Result<(String, Zeroizing<String>)> {
        if names.is_empty() {
            bail!("a server certificate needs at least one name");
        }
        self.sign_leaf(names, now)
    }

    /// Signs a new P-256 leaf for `names` with the root: `(chain PEM, key PEM)`.
    fn sign_leaf(&self, names: &[String], now: i64) -> anyhow::Result<(String, Zeroizing<String>)> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).context("generating a key")?;
        let mut params =
            CertificateParams::new(names.to_vec()).context("naming the certificate")?;
        params.distinguished_name = DistinguishedName::new();
        if let Some(first) = names.first() {
            params
                .distinguished_name
                .push(DnType::CommonName, first.as_str());
        }
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        params.serial_number = Some(random_serial().context("a serial")?);
        let not_before = now - BACKDATE_SECS;
        (params.not_before, params.not_after) =
            validity(not_before, LEAF_VALIDITY_DAYS).context("validity")?;
        let leaf = params.signed_by(&key, &self.issuer).context("signing")?;
        let chain = format!("{}{}", leaf.pem(), self.root_pem);
        Ok((chain, Zeroizing::new(key.serialize_pem())))
    }
}

/// Creates a root and publishes it in `dir`, unless another process publishes one first.
fn create_root(dir: &Path, master_key: &MasterKey, now: i64) -> anyhow::Result<()> {
    let key =
        KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).context("generating the test CA key")?;
    let mut params = CertificateParams::default();
    let mut tag = [0u8; 4];
    SystemRandom::new()
        .fill(&mut tag)
        .map_err(|_| anyhow::anyhow!("the system random generator failed"))?;
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(
        DnType::CommonName,
        format!("livecert test CA {}", hex::encode(tag)),
    );
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.serial_number = Some(random_serial()?);
    (params.not_before, params.not_after) = validity(now - BACKDATE_SECS, ROOT_VALIDITY_DAYS)?;
    let root = params
        .self_signed(&key)
        .context("signing the test CA root")?;
    let key_pem = Zeroizing::new(key.serialize_pem());
    let sealed = master_key
        .seal(AAD_TEST_CA_KEY, key_pem.as_bytes())
        .context("sealing the test CA key")?;

    // Publish: the key by a hard link (fails if a key exists: another process won), then the
    // certificate by a rename. A reader that finds the key waits briefly for the certificate.
    let suffix = hex::encode(tag);
    let key_tmp = dir.join(format!(".{TEST_CA_KEY_FILE}.{suffix}.tmp"));
    let cert_tmp = dir.join(format!(".{TEST_CA_CERT_FILE}.{suffix}.tmp"));
    write_private(&key_tmp, &sealed)?;
    write_private(&cert_tmp, root.pem().as_bytes())?;
    let published = fs::hard_link(&key_tmp, dir.join(TEST_CA_KEY_FILE));
    let _ = fs::remove_file(&key_tmp);
    match published {
        Ok(()) => {
            fs::rename(&cert_tmp, dir.join(TEST_CA_CERT_FILE))
                .with_context(|| format!("publishing {TEST_CA_CERT_FILE}"))?;
            if let Ok(d) = fs::File::open(dir) {
                let _ = d.sync_all();
            }
            Ok(())
        }
        Err(e) => {
            let _ = fs::remove_file(&cert_tmp);
            if e.kind() == ErrorKind::AlreadyExists {
                Ok(())
            } else {
                Err(e).with_context(|| format!("publishing {TEST_CA_KEY_FILE}"))
            }
        }
    }
}

/// The certificate beside a published key; waits up to two seconds for a concurrent creator to
/// rename it into place.
fn read_published_cert(cert_path: &Path, key_path: &Path) -> anyhow::Result<String> {
    for _ in 0..20 {
        match fs::read_to_string(cert_path) {
            Ok(pem) => return Ok(pem),
            Err(e) if e.kind() == ErrorKind::NotFound => {
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => return Err(e).with_context(|| format!("reading {}", cert_path.display())),
        }
    }
    bail!(
        "{} exists without {}: remove it to create a new test CA",
        key_path.display(),
        cert_path.display()
    )
}

/// A positive random 128-bit serial number.
fn random_serial() -> anyhow::Result<SerialNumber> {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| anyhow::anyhow!("the system random generator failed"))?;
    bytes[0] = (bytes[0] & 0x7f) | 0x01;
    Ok(SerialNumber::from_slice(&bytes))
}

/// notBefore and notAfter for a validity of `days` from `not_before` (Unix seconds).
fn validity(not_before: i64, days: i64) -> anyhow::Result<(OffsetDateTime, OffsetDateTime)> {
    let from = OffsetDateTime::from_unix_timestamp(not_before).context("notBefore out of range")?;
    let to = OffsetDateTime::from_unix_timestamp(not_before + days * DAY_SECS)
        .context("notAfter out of range")?;
    Ok((from, to))
}

/// Creates `path` with mode 0600 and writes `contents`, synced to disk.
fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let mut file = OpenOptions::new()
        .create_new(true)
        .write(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(contents)
        .with_context(|| format!("writing {}", path.display()))?;
    file.sync_all()
        .with_context(|| format!("syncing {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

    fn ca() -> (tempfile::TempDir, MasterKey, TestCa) {
        let dir = tempfile::tempdir().expect("temp dir");
        let (key, _) = MasterKey::generate().expect("master key");
        let ca = TestCa::open_or_create(dir.path(), &key, NOW).expect("test CA");
        (dir, key, ca)
    }

    fn dn(name: &str) -> DomainName {
        DomainName::parse(name).expect("domain")
    }

    /// Row 37: 90 days, exactly the domain, chain leaf + root, facts from check_upload.
    #[test]
    fn issues_a_90_day_certificate_for_exactly_the_domain() {
        let (_dir, _key, ca) = ca();
        let issued = ca.issue(&dn("live.example.com"), NOW).expect("issued");
        let f = &issued.facts;
        assert_eq!(f.dns_sans, ["live.example.com"]);
        assert_eq!(f.subject_cn.as_deref(), Some("live.example.com"));
        assert!(f
            .issuer_cn
            .as_deref()
            .is_some_and(|cn| cn.starts_with("livecert test CA ")));
        assert_eq!(f.not_after - f.not_before, LEAF_VALIDITY_DAYS * DAY_SECS);
        assert!(f.not_before <= NOW && NOW < f.not_after);
        assert_eq!(issued.chain_der.len(), 2, "leaf + root");
        assert!(issued.chain_pem.ends_with(ca.root_pem()));
    }

    /// Each issue has a fresh key and serial.
    #[test]
    fn every_certificate_has_its_own_key() {
        let (_dir, _key, ca) = ca();
        let a = ca.issue(&dn("a.example.com"), NOW).expect("a");
        let b = ca.issue(&dn("a.example.com"), NOW).expect("b");
        assert_ne!(a.facts.spki_sha256, b.facts.spki_sha256);
        assert_ne!(a.facts.serial_hex, b.facts.serial_hex);
    }

    /// Row 36: a wildcard domain is refused with a reason.
    #[test]
    fn wildcard_domains_are_refused() {
        let (_dir, _key, ca) = ca();
        let e = ca.issue(&dn("*.example.com"), NOW).expect_err("refused");
        assert!(
            matches!(&e, IssueError::Refused(r) if r.contains("wildcard")),
            "{e}"
        );
        assert!(ca.check(&dn("*.example.com")).is_err());
        assert!(ca.check(&dn("example.com")).is_ok());
    }

    /// The root is created once, kept (mode 0600, key sealed) and loaded again unchanged.
    #[test]
    fn the_root_is_kept_in_the_data_directory() {
        use std::os::unix::fs::PermissionsExt;
        let (dir, key, ca) = ca();
        for file in [TEST_CA_CERT_FILE, TEST_CA_KEY_FILE] {
            let mode = fs::metadata(dir.path().join(file))
                .expect("file")
                .permissions();
            assert_eq!(mode.mode() & 0o777, 0o600, "{file}");
        }
        let sealed = fs::read(dir.path().join(TEST_CA_KEY_FILE)).expect("key");
        assert!(!String::from_utf8_lossy(&sealed).contains("PRIVATE KEY"));
        let again = TestCa::open_or_create(dir.path(), &key, NOW + 10).expect("reopened");
        assert_eq!(again.root_pem(), ca.root_pem());
        // What the reopened CA issues chains to the same root.
        let issued = again.issue(&dn("x.example.com"), NOW + 10).expect("issued");
        assert!(issued.chain_pem.ends_with(ca.root_pem()));
    }

    /// Another master key cannot open the root's key: refuse to start rather than replace it.
    #[test]
    fn another_master_key_is_refused() {
        let (dir, _key, _ca) = ca();
        let (other, _) = MasterKey::generate().expect("master key");
        let e = TestCa::open_or_create(dir.path(), &other, NOW).expect_err("refused");
        assert!(e.to_string().contains("master key"), "{e:#}");
    }

    /// A data directory without a test CA opens as `None`.
    #[test]
    fn open_without_a_root_is_none() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (key, _) = MasterKey::generate().expect("master key");
        assert!(TestCa::open(dir.path(), &key, NOW).expect("open").is_none());
    }
}
