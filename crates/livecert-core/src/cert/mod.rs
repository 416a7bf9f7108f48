//! Certificate uploads: what SetLiveDomainCertificate accepts, normalises and refuses
//! (spec/certificates.md), and whether a chain covers a domain (§5).
//!
//! PLACEHOLDER CONTRACT — being implemented; the public items below are the interface.

use crate::error::ApiError;
use crate::names::DomainName;
use crate::secret::Secret;

/// Largest SSLPub in bytes (operations.md row 20).
pub const MAX_SSL_PUB_BYTES: usize = 64 * 1024;
/// Largest SSLPri in bytes (operations.md row 20).
pub const MAX_SSL_PRI_BYTES: usize = 16 * 1024;
/// Most PEM blocks in SSLPub, counted before de-duplication (operations.md row 20).
pub const MAX_SSL_PUB_BLOCKS: usize = 10;

/// The algorithm of a private key (and of the leaf's public key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlgorithm {
    /// RSA, 2048–8192 bits.
    Rsa,
    /// ECDSA on P-256.
    EcdsaP256,
    /// ECDSA on P-384.
    EcdsaP384,
    /// Ed25519.
    Ed25519,
}

impl KeyAlgorithm {
    /// Stable name for storage and display: `RSA`, `ECDSA-P256`, `ECDSA-P384`, `Ed25519`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rsa => "RSA",
            Self::EcdsaP256 => "ECDSA-P256",
            Self::EcdsaP384 => "ECDSA-P384",
            Self::Ed25519 => "Ed25519",
        }
    }

    /// Inverse of [`KeyAlgorithm::as_str`].
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "RSA" => Some(Self::Rsa),
            "ECDSA-P256" => Some(Self::EcdsaP256),
            "ECDSA-P384" => Some(Self::EcdsaP384),
            "Ed25519" => Some(Self::Ed25519),
            _ => None,
        }
    }
}

/// The facts kept for every record (certificates.md §6), derived once at upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertFacts {
    /// SHA-256 of the leaf DER, lower-case hex (64 characters).
    pub fingerprint_sha256: String,
    /// SHA-256 of the leaf's SubjectPublicKeyInfo DER, lower-case hex.
    pub spki_sha256: String,
    /// The leaf's subject CN, if any.
    pub subject_cn: Option<String>,
    /// The leaf's DNS SANs, lower case, in certificate order.
    pub dns_sans: Vec<String>,
    /// The leaf issuer's CN, if any.
    pub issuer_cn: Option<String>,
    /// The leaf issuer's O, if any.
    pub issuer_org: Option<String>,
    /// The leaf's serial number, lower-case hex without leading zeros.
    pub serial_hex: String,
    /// The leaf's notBefore, Unix seconds.
    pub not_before: i64,
    /// The leaf's notAfter, Unix seconds.
    pub not_after: i64,
    /// The key's algorithm.
    pub key_algorithm: KeyAlgorithm,
    /// The key's size in bits (RSA modulus; 256 / 384 for ECDSA; 256 for Ed25519).
    pub key_bits: u32,
}

/// An upload that passed every check: the normalised chain, the key, and the leaf's facts.
#[derive(Debug, Clone)]
pub struct CheckedUpload {
    /// The normalised chain (§4): leaf first, each block standard PEM (64-character lines, `\n`).
    pub chain_pem: String,
    /// The same chain as DER, leaf first.
    pub chain_der: Vec<Vec<u8>>,
    /// The private key as normalised PEM (its own block type), loadable by rustls.
    pub private_key_pem: Secret,
    /// The leaf's facts.
    pub facts: CertFacts,
}

/// Checks SSLPub and SSLPri for `SSLProtocol=on`, `CertType=upload`: operations.md rows 17–21, in
/// order, with the layered codes of certificates.md §2–§4. `now` is Unix seconds from the clock.
pub fn check_upload(ssl_pub: Option<&[u8]>, ssl_pri: Option<&[u8]>, now: i64) -> Result<CheckedUpload, ApiError> {
    let _ = (ssl_pub, ssl_pri, now);
    Err(ApiError::bare(crate::error::ErrorCode::InternalError))
}

/// Whether a record with these facts covers `domain` (certificates.md §5).
pub fn covers(facts: &CertFacts, domain: &DomainName) -> bool {
    let _ = (facts, domain);
    false
}

/// The generated CertName of operations.md row 22.
pub fn generated_cert_name(facts: &CertFacts) -> String {
    let _ = facts;
    String::from("cert")
}
