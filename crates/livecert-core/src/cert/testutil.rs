//! Test fixtures for the certificate checks, generated at test time: keys the `openssl` CLI makes
//! (the encodings and refused kinds rcgen cannot write) and certificate hierarchies rcgen makes.
//! Slow fixtures (RSA and DSA key generation) are made once per test binary in a `OnceLock`.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DistinguishedName, DnType, IsCa, Issuer,
    KeyPair, SerialNumber,
};
use time::{Duration, OffsetDateTime};

/// Keys generated once per test binary.
pub struct Fixtures {
    pub rsa2048_pkcs8: String,
    pub rsa2048_pkcs1: String,
    pub rsa1024: String,
    pub p256_pkcs8: String,
    pub p256_sec1: String,
    pub p256_encrypted_pkcs8: String,
    pub p256_encrypted_sec1: String,
    pub p384_pkcs8: String,
    pub p384_sec1: String,
    pub ed25519_pkcs8: String,
    pub dsa_traditional: String,
    pub dsa_pkcs8: String,
}

/// The shared key fixtures.
pub fn fixtures() -> &'static Fixtures {
    static FIXTURES: OnceLock<Fixtures> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        let rsa2048_pkcs8 = openssl(&[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ]);
        let p256_pkcs8 = openssl(&[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ]);
        let p384_pkcs8 = openssl(&[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-384",
        ]);
        let dsa_traditional = openssl(&["dsaparam", "-noout", "-genkey", "1024"]);
        Fixtures {
            rsa2048_pkcs1: traditional(&rsa2048_pkcs8),
            rsa1024: openssl(&[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:1024",
            ]),
            p256_sec1: traditional(&p256_pkcs8),
            p256_encrypted_pkcs8: openssl_text_in(
                &["pkey", "-aes256", "-passout", "pass:secret"],
                p256_pkcs8.as_bytes(),
            ),
            p256_encrypted_sec1: openssl_text_in(
                &["pkey", "-traditional", "-aes256", "-passout", "pass:secret"],
                p256_pkcs8.as_bytes(),
            ),
            p384_sec1: traditional(&p384_pkcs8),
            ed25519_pkcs8: openssl(&["genpkey", "-algorithm", "ED25519"]),
            dsa_pkcs8: openssl_text_in(&["pkey"], dsa_traditional.as_bytes()),
            rsa2048_pkcs8,
            p256_pkcs8,
            p384_pkcs8,
            dsa_traditional,
        }
    })
}

/// Runs `openssl` with `args`, returning stdout as text.
pub fn openssl(args: &[&str]) -> String {
    openssl_text_in(args, b"")
}

/// Runs `openssl` with `args` and `stdin`, returning stdout as text.
pub fn openssl_text_in(args: &[&str], stdin: &[u8]) -> String {
    String::from_utf8(openssl_in(args, stdin)).expect("openssl printed text")
}

/// Runs `openssl` with `args` and `stdin`, returning stdout.
pub fn openssl_in(args: &[&str], stdin: &[u8]) -> Vec<u8> {
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the openssl CLI is needed by these tests");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .expect("write stdin");
    let out = child.wait_with_output().expect("openssl ran");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// An Ed25519 key in OpenSSH format from `ssh-keygen`, or `None` when ssh-keygen is not installed.
pub fn ssh_keygen_ed25519() -> Option<String> {
    let dir = tempfile::tempdir().ok()?;
    let path = dir.path().join("id");
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok()?;
    if !status.success() {
        return None;
    }
    std::fs::read_to_string(path).ok()
}

/// Converts a PKCS#8 key to its traditional encoding (PKCS#1 for RSA, SEC1 for EC).
fn traditional(pkcs8: &str) -> String {
    openssl_text_in(&["pkey", "-traditional"], pkcs8.as_bytes())
}

/// An rcgen key pair for a PEM private key (PKCS#8 or converted to it).
pub fn rcgen_key(pem_text: &str) -> KeyPair {
    if let Ok(key) = KeyPair::from_pem(pem_text) {
        return key;
    }
    let pkcs8 = openssl_text_in(&["pkey"], pem_text.as_bytes());
    KeyPair::from_pem(&pkcs8).expect("rcgen reads the key")
}

/// A fresh P-256 key with its PKCS#8 PEM.
pub fn p256() -> (KeyPair, String) {
    let key = KeyPair::generate().expect("P-256 key");
    let pem_text = key.serialize_pem();
    (key, pem_text)
}

/// Unix seconds now.
pub fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

fn dn(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "Livecert Test");
    dn.push(DnType::CommonName, cn);
    dn
}

/// A certificate authority: its parameters, key and (self- or cross-) signed certificate.
pub struct Ca {
    pub params: CertificateParams,
    pub key: KeyPair,
    pub cert: Certificate,
}

impl Ca {
    /// A self-signed root CA.
    pub fn root(cn: &str) -> Self {
        let key = KeyPair::generate().expect("key");
        let params = ca_params(cn, 1);
        let cert = params.self_signed(&key).expect("root");
        Self { params, key, cert }
    }

    /// An intermediate CA issued by `self`.
    pub fn intermediate(&self, cn: &str) -> Self {
        let key = KeyPair::generate().expect("key");
        let params = ca_params(cn, 2);
        let cert = params
            .signed_by(&key, &self.issuer())
            .expect("intermediate");
        Self { params, key, cert }
    }

    /// A cross-signed variant of `other`: the same subject and key, issued by `self`.
    pub fn cross_sign(&self, other: &Ca) -> Certificate {
        let mut params = ca_params(&cn_of(&other.params), 3);
        params.distinguished_name = other.params.distinguished_name.clone();
        params
            .signed_by(&other.key, &self.issuer())
            .expect("cross-signed")
    }

    /// A leaf for `key` with DNS SANs `names` (IP addresses become IP SANs), valid now.
    pub fn leaf(&self, key: &KeyPair, cn: Option<&str>, names: &[&str]) -> Certificate {
        let start = OffsetDateTime::now_utc() - Duration::days(1);
        self.leaf_valid(key, cn, names, start, start + Duration::days(90))
    }

    /// A leaf with the given validity.
    pub fn leaf_valid(
        &self,
        key: &KeyPair,
        cn: Option<&str>,
        names: &[&str],
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> Certificate {
        let params = leaf_params(cn, names, not_before, not_after);
        params.signed_by(key, &self.issuer()).expect("leaf")
    }

    fn issuer(&self) -> Issuer<'_, &KeyPair> {
        Issuer::from_params(&self.params, &self.key)
    }
}

/// A self-signed leaf for `key` (what `openssl req -x509` makes).
pub fn self_signed_leaf(key: &KeyPair, cn: Option<&str>, names: &[&str]) -> Certificate {
    let start = OffsetDateTime::now_utc() - Duration::days(1);
    let params = leaf_params(cn, names, start, start + Duration::days(90));
    params.self_signed(key).expect("self-signed leaf")
}

fn leaf_params(
    cn: Option<&str>,
    names: &[&str],
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> CertificateParams {
    let mut params =
        CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
            .expect("names");
    params.distinguished_name = DistinguishedName::new();
    if let Some(cn) = cn {
        params.distinguished_name.push(DnType::CommonName, cn);
    }
    params.use_authority_key_identifier_extension = true;
    params.not_before = not_before;
    params.not_after = not_after;
    let mut serial = not_after.unix_timestamp().to_be_bytes().to_vec();
    serial.extend(names.concat().bytes().take(8));
    params.serial_number = Some(SerialNumber::from_slice(&serial));
    params
}

fn ca_params(cn: &str, serial: u8) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.distinguished_name = dn(cn);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.use_authority_key_identifier_extension = true;
    params.serial_number = Some(SerialNumber::from_slice(&[serial, 0x5a]));
    params
}

fn cn_of(params: &CertificateParams) -> String {
    match params.distinguished_name.get(&DnType::CommonName) {
        Some(rcgen::DnValue::Utf8String(s)) => s.clone(),
        _ => String::from("ca"),
    }
}
