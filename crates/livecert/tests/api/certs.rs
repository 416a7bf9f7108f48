//! Certificates generated at test time: self-signed leaves and small CA chains, ECDSA P-256 with
//! rcgen and RSA-2048 with keys from the `openssl` CLI.

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use time::OffsetDateTime;

/// A generated certificate (or chain) and its key, as PEM.
#[derive(Debug, Clone)]
pub struct Generated {
    /// Leaf first, then the intermediates.
    pub chain_pem: String,
    /// The leaf's private key (PKCS#8 PEM).
    pub key_pem: String,
    /// The leaf's notAfter, Unix seconds.
    pub not_after: i64,
}

/// Key algorithm for generated leaves.
#[derive(Debug, Clone, Copy)]
pub enum Alg {
    P256,
    Rsa2048,
}

fn key(alg: Alg) -> KeyPair {
    match alg {
        Alg::P256 => KeyPair::generate().expect("P-256 key"),
        Alg::Rsa2048 => {
            let out = std::process::Command::new("openssl")
                .args([
                    "genpkey",
                    "-algorithm",
                    "RSA",
                    "-pkeyopt",
                    "rsa_keygen_bits:2048",
                ])
                .output()
                .expect("openssl runs");
            assert!(out.status.success(), "openssl genpkey failed");
            KeyPair::from_pem(&String::from_utf8_lossy(&out.stdout)).expect("RSA key loads")
        }
    }
}

fn params(names: &[&str], not_before: i64, not_after: i64) -> CertificateParams {
    let mut p = CertificateParams::new(names.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
        .expect("params");
    if let Some(first) = names.first() {
        p.distinguished_name.push(DnType::CommonName, *first);
    }
    p.not_before = OffsetDateTime::from_unix_timestamp(not_before).expect("time");
    p.not_after = OffsetDateTime::from_unix_timestamp(not_after).expect("time");
    p
}

/// A self-signed leaf for `names`, valid from `not_before` to `not_after` (Unix seconds).
pub fn self_signed(names: &[&str], not_before: i64, not_after: i64, alg: Alg) -> Generated {
    let key = key(alg);
    let cert = params(names, not_before, not_after)
        .self_signed(&key)
        .expect("self-signed");
    Generated {
        chain_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        not_after,
    }
}

/// A leaf for `names` issued by a fresh intermediate CA (itself issued by a fresh root); the chain
/// is leaf then intermediate.
pub fn issued(names: &[&str], not_before: i64, not_after: i64, alg: Alg) -> Generated {
    let root_key = KeyPair::generate().expect("root key");
    let mut root_params = params(&[], not_before - 86_400, not_after + 86_400);
    root_params
        .distinguished_name
        .push(DnType::CommonName, "livecert test root");
    root_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let root = root_params.self_signed(&root_key).expect("root");
    let root_issuer = Issuer::new(root_params, root_key);
    let _ = root;
    let mid_key = KeyPair::generate().expect("intermediate key");
    let mut mid_params = params(&[], not_before - 3600, not_after + 3600);
    mid_params
        .distinguished_name
        .push(DnType::CommonName, "livecert test intermediate");
    mid_params
        .distinguished_name
        .push(DnType::OrganizationName, "livecert tests");
    mid_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let mid = mid_params
        .signed_by(&mid_key, &root_issuer)
        .expect("intermediate");
    let mid_issuer = Issuer::new(mid_params, mid_key);
    let leaf_key = key(alg);
    let leaf = params(names, not_before, not_after)
        .signed_by(&leaf_key, &mid_issuer)
        .expect("leaf");
    Generated {
        chain_pem: format!("{}{}", leaf.pem(), mid.pem()),
        key_pem: leaf_key.serialize_pem(),
        not_after,
    }
}
