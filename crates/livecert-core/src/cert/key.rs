//! Private keys (certificates.md §3): which are supported, why the others are refused, and the
//! public key that finds the leaf.
//!
//! A key is read in two steps. First its algorithm, size and curve are read with the RustCrypto
//! `pkcs8` / `pkcs1` / `sec1` decoders, so that every refusal can say exactly what the key is and
//! what to do instead (RSA 2048–8192 bits, ECDSA P-256 / P-384 and Ed25519 are supported). Then
//! the key is proven whole and its SubjectPublicKeyInfo derived, which is compared with the
//! certificates' to find the leaf: an RSA key in PKCS#1 or plain PKCS#8 by the number checks of
//! aws-lc's `RSA_check_key`, done here in variable time ([`rsa_numbers_agree`]); any other key by
//! loading it with the TLS provider the edge uses (rustls with aws-lc-rs). Either way a key that
//! passes is one the edge can serve. A key whose label does not match its encoding (a PKCS#1 body
//! under `PRIVATE KEY`) is read by what it is: that is a difference of form only.

use pkcs1::RsaPrivateKey;
use pkcs8::{ObjectIdentifier, PrivateKeyInfo};
use rustls::crypto::aws_lc_rs::sign::{any_ecdsa_type, any_eddsa_type, any_supported_type};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer};
use rustls::SignatureAlgorithm;
use sec1::EcPrivateKey;

use super::pem::{self, Block};
use super::KeyAlgorithm;
use crate::secret::Secret;

/// Smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: u32 = 2048;
/// Largest RSA modulus accepted, in bits.
pub const MAX_RSA_BITS: u32 = 8192;

/// A private key that passed every check.
pub struct PrivateKey {
    /// The key's algorithm.
    pub algorithm: KeyAlgorithm,
    /// The key's size in bits.
    pub bits: u32,
    /// The SubjectPublicKeyInfo DER derived from the private key by the TLS provider.
    pub spki_der: Vec<u8>,
    /// The key as standard PEM under the label of its encoding.
    pub pem: Secret,
}

/// The DER encodings of a private key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    /// PKCS#8 `PrivateKeyInfo`, label `PRIVATE KEY`.
    Pkcs8,
    /// PKCS#1 `RSAPrivateKey`, label `RSA PRIVATE KEY`.
    Pkcs1,
    /// SEC1 `ECPrivateKey`, label `EC PRIVATE KEY`.
    Sec1,
}

impl Encoding {
    fn label(self) -> &'static str {
        match self {
            Self::Pkcs8 => "PRIVATE KEY",
            Self::Pkcs1 => "RSA PRIVATE KEY",
            Self::Sec1 => "EC PRIVATE KEY",
        }
    }
}

/// What reading a DER as one encoding found.
enum Reading {
    /// The DER is not in this encoding.
    NotThisEncoding,
    /// The DER is a key of this encoding that livecert refuses; the text says why and what to do.
    Refused(String),
    /// A supported key.
    Supported(KeyAlgorithm, u32),
}

const SUPPORTED: &str =
    "Supported keys: RSA of 2048 to 8192 bits, ECDSA on P-256 or P-384, and Ed25519.";
const DECRYPT_FIX: &str = "Remove the passphrase with `openssl pkey -in key.pem -out \
                           key-plain.pem` and send key-plain.pem.";

const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_RSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
const OID_EC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_DSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10040.4.1");
const OID_X25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.110");
const OID_X448: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.111");
const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const OID_ED448: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.113");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");

/// Names of the curves people actually meet, for the refusal message.
const CURVE_NAMES: &[(&str, &str)] = &[
    ("1.3.132.0.35", "P-521"),
    ("1.2.840.10045.3.1.1", "P-192"),
    ("1.3.132.0.33", "P-224"),
    ("1.3.132.0.10", "secp256k1"),
    ("1.3.36.3.3.2.8.1.1.7", "brainpoolP256r1"),
    ("1.3.36.3.3.2.8.1.1.11", "brainpoolP384r1"),
    ("1.3.36.3.3.2.8.1.1.13", "brainpoolP512r1"),
    ("1.2.156.10197.1.301", "SM2"),
];

/// Reads, checks and loads the private key of `block` (whose base64 body decoded to `der`).
///
/// The error is the detail sentence of a `Key.Malformed` refusal: what the key is, why it is
/// refused, and how to fix it.
pub fn load(block: &Block, der: &[u8]) -> Result<PrivateKey, String> {
    if block.is_encrypted() {
        return Err(format!(
            "SSLPri is an encrypted private key; livecert needs it without a passphrase. \
             {DECRYPT_FIX}"
        ));
    }
    match block.label.as_str() {
        "OPENSSH PRIVATE KEY" => {
            return Err(
                "SSLPri is an OpenSSH-format key, which TLS servers cannot read. Convert a copy \
                 with `ssh-keygen -p -m PEM -f key` (it rewrites the file as PEM) and send the \
                 result."
                    .to_owned(),
            )
        }
        "DSA PRIVATE KEY" => return Err(dsa_refusal()),
        _ => {}
    }
    let preferred = match block.label.as_str() {
        "RSA PRIVATE KEY" => Encoding::Pkcs1,
        "EC PRIVATE KEY" => Encoding::Sec1,
        _ => Encoding::Pkcs8,
    };
    let mut order = vec![preferred];
    order.extend(
        [Encoding::Pkcs8, Encoding::Pkcs1, Encoding::Sec1]
            .into_iter()
            .filter(|e| *e != preferred),
    );
    let found = order
        .into_iter()
        .find_map(|encoding| match read(encoding, der) {
            Reading::NotThisEncoding => None,
            Reading::Refused(why) => Some(Err(why)),
            Reading::Supported(algorithm, bits) => Some(Ok((encoding, algorithm, bits))),
        });
    let (encoding, algorithm, bits) = match found {
        Some(result) => result?,
        None => {
            return Err(format!(
                "SSLPri's {} block is not a PKCS#8, PKCS#1 or SEC1 private key: it is damaged or \
                 not a key. Export the key again as PEM. {SUPPORTED}",
                block.label
            ))
        }
    };
    let key_der = match encoding {
        Encoding::Pkcs8 => PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(der)),
        Encoding::Pkcs1 => PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(der)),
        Encoding::Sec1 => PrivateKeyDer::Sec1(PrivateSec1KeyDer::from(der)),
    };
    let damaged = || {
        format!(
            "SSLPri reads as a {} key but cannot be loaded: its parts do not agree (the key is \
             damaged). Export it again from where it was generated.",
            algorithm.as_str()
        )
    };
    let spki_der = match rsa_spki(encoding, der) {
        Some(spki) => spki,
        None => provider_spki(&key_der, algorithm).ok_or_else(damaged)?,
    };
    let pem = Secret::new(pem::encode(encoding.label(), der).into_bytes());
    Ok(PrivateKey {
        algorithm,
        bits,
        spki_der,
        pem,
    })
}

/// The SubjectPublicKeyInfo DER of `key_der` as the TLS provider derives it when it loads the key
/// for `algorithm` (the load runs every check the provider makes); `None` if it refuses the key.
fn provider_spki(key_der: &PrivateKeyDer<'_>, algorithm: KeyAlgorithm) -> Option<Vec<u8>> {
    // The loader of the key's own type: `any_supported_type` would parse an EC key as RSA first.
    let signing_key = match (algorithm, key_der) {
        (KeyAlgorithm::Rsa, _) => any_supported_type(key_der).ok()?,
        (KeyAlgorithm::EcdsaP256 | KeyAlgorithm::EcdsaP384, _) => any_ecdsa_type(key_der).ok()?,
        (KeyAlgorithm::Ed25519, PrivateKeyDer::Pkcs8(pkcs8)) => any_eddsa_type(pkcs8).ok()?,
        (KeyAlgorithm::Ed25519, _) => return None,
    };
    let expected = match algorithm {
        KeyAlgorithm::Rsa => SignatureAlgorithm::RSA,
        KeyAlgorithm::EcdsaP256 | KeyAlgorithm::EcdsaP384 => SignatureAlgorithm::ECDSA,
        KeyAlgorithm::Ed25519 => SignatureAlgorithm::ED25519,
    };
    if signing_key.algorithm() != expected {
        return None;
    }
    Some(signing_key.public_key()?.as_ref().to_vec())
}

/// The SubjectPublicKeyInfo DER (`rsaEncryption`, NULL parameters, RFC 3279 §2.3.1) of an RSA key
/// in one of the two shapes servers are given — PKCS#1, or PKCS#8 v1 whose algorithm parameters
/// are NULL or absent — whose numbers agree ([`rsa_numbers_agree`]); `None` for any other key,
/// which is then loaded and checked by the TLS provider ([`provider_spki`]).
///
/// This replaces the provider's load at upload because that load is aws-lc's `RSA_check_key`
/// with constant-time bignum division, ≈ 300 µs of a 2048-bit key; the checks here are the same
/// ones in variable time (docs/decisions.md, "The RSA key check").
fn rsa_spki(encoding: Encoding, der: &[u8]) -> Option<Vec<u8>> {
    use pkcs8::der::asn1::{AnyRef, BitStringRef};
    use pkcs8::der::Encode;
    use pkcs8::spki::{AlgorithmIdentifierRef, SubjectPublicKeyInfoRef};

    let pkcs1_der = match encoding {
        Encoding::Pkcs1 => der,
        Encoding::Pkcs8 => {
            let info = PrivateKeyInfo::try_from(der).ok()?;
            let plain = info.algorithm.oid == OID_RSA
                && info.public_key.is_none()
                && info.algorithm.parameters.is_none_or(AnyRef::is_null);
            if !plain {
                return None;
            }
            info.private_key
        }
        Encoding::Sec1 => return None,
    };
    let key = RsaPrivateKey::try_from(pkcs1_der).ok()?;
    if !rsa_numbers_agree(&key) {
        return None;
    }
    let public = pkcs1::RsaPublicKey {
        modulus: key.modulus,
        public_exponent: key.public_exponent,
    }
    .to_der()
    .ok()?;
    SubjectPublicKeyInfoRef {
        algorithm: AlgorithmIdentifierRef {
            oid: OID_RSA,
            parameters: Some(AnyRef::NULL),
        },
        subject_public_key: BitStringRef::from_bytes(&public).ok()?,
    }
    .to_der()
    .ok()
}

/// Whether the numbers of a two-prime RSA private key agree, by the conditions of aws-lc's
/// `RSA_check_key` (crypto/fipsmodule/rsa/rsa.c), which the edge's TLS provider applies when it
/// loads the key:
///
/// - n odd and at most 16,384 bits; e odd, of 2 to 33 bits;
/// - 1 < p < n, 1 < q < n and p·q = n;
/// - d·e ≡ 1 (mod p−1) and (mod q−1);
/// - dP = d mod (p−1), dQ = d mod (q−1);
/// - qInv < p and q·qInv ≡ 1 (mod p).
///
/// Like `RSA_check_key` it does not test p and q for primality. It runs in variable time: the
/// key is the caller's own, just received, so its timing tells nobody anything they lack.
#[allow(clippy::many_single_char_names)] // RFC 8017's names for the key's numbers
fn rsa_numbers_agree(key: &RsaPrivateKey<'_>) -> bool {
    use num_bigint::BigUint;

    if key.version() != pkcs1::Version::TwoPrime {
        return false;
    }
    let int = |u: pkcs1::UintRef<'_>| BigUint::from_bytes_be(u.as_bytes());
    let (n, e, d) = (
        int(key.modulus),
        int(key.public_exponent),
        int(key.private_exponent),
    );
    let (p, q) = (int(key.prime1), int(key.prime2));
    let (dp, dq, qinv) = (int(key.exponent1), int(key.exponent2), int(key.coefficient));
    let one = BigUint::from(1u8);
    let public_good = n.bit(0) && n.bits() <= 16_384 && e.bit(0) && (2..=33).contains(&e.bits());
    if !public_good || p <= one || q <= one || p >= n || q >= n || &p * &q != n {
        return false;
    }
    let (pm1, qm1) = (&p - 1u8, &q - 1u8);
    let de = &d * &e;
    &de % &pm1 == one
        && &de % &qm1 == one
        && &d % &pm1 == dp
        && &d % &qm1 == dq
        && qinv < p
        && (&q * &qinv) % &p == one
}

/// Whether an RSA modulus of `bits` is accepted; the error is the refusal sentence.
pub fn check_rsa_bits(bits: u32) -> Result<(), String> {
    let fix = "Generate a new key (`openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
               -out key.pem`) and have the certificate issued for it.";
    if bits < MIN_RSA_BITS {
        Err(format!(
            "SSLPri is an RSA key of {bits} bits, too weak: the minimum is {MIN_RSA_BITS}. {fix}"
        ))
    } else if bits > MAX_RSA_BITS {
        Err(format!(
            "SSLPri is an RSA key of {bits} bits: the maximum is {MAX_RSA_BITS}. {fix}"
        ))
    } else {
        Ok(())
    }
}

/// Reads `der` as one encoding.
fn read(encoding: Encoding, der: &[u8]) -> Reading {
    match encoding {
        Encoding::Pkcs1 => match RsaPrivateKey::try_from(der) {
            Ok(key) => rsa_reading(&key),
            Err(_) => Reading::NotThisEncoding,
        },
        Encoding::Sec1 => match EcPrivateKey::try_from(der) {
            Ok(key) => ec_reading(key.parameters.and_then(sec1::EcParameters::named_curve)),
            Err(_) => Reading::NotThisEncoding,
        },
        Encoding::Pkcs8 => match PrivateKeyInfo::try_from(der) {
            Ok(info) => pkcs8_reading(&info),
            Err(_) => Reading::NotThisEncoding,
        },
    }
}

/// Reads the algorithm of a PKCS#8 key.
fn pkcs8_reading(info: &PrivateKeyInfo<'_>) -> Reading {
    let oid = info.algorithm.oid;
    if oid == OID_RSA {
        match RsaPrivateKey::try_from(info.private_key) {
            Ok(key) => rsa_reading(&key),
            Err(_) => Reading::Refused(format!(
                "SSLPri is a PKCS#8 RSA key whose inner RSA key cannot be read: it is damaged. \
                 Export it again. {SUPPORTED}"
            )),
        }
    } else if oid == OID_EC {
        let curve = info.algorithm.parameters_oid().ok().or_else(|| {
            EcPrivateKey::try_from(info.private_key)
                .ok()
                .and_then(|k| k.parameters)
                .and_then(sec1::EcParameters::named_curve)
        });
        ec_reading(curve)
    } else if oid == OID_ED25519 {
        Reading::Supported(KeyAlgorithm::Ed25519, 256)
    } else if oid == OID_RSA_PSS {
        Reading::Refused(format!(
            "SSLPri is an RSASSA-PSS key, which TLS certificates rarely use and livecert does not \
             serve. Use a plain RSA key (`openssl genpkey -algorithm RSA -out key.pem`). \
             {SUPPORTED}"
        ))
    } else if oid == OID_DSA {
        Reading::Refused(dsa_refusal())
    } else if oid == OID_X25519 || oid == OID_X448 {
        let name = if oid == OID_X25519 { "X25519" } else { "X448" };
        Reading::Refused(format!(
            "SSLPri is an {name} key, which agrees keys but cannot sign, so it cannot serve a \
             certificate. {SUPPORTED}"
        ))
    } else if oid == OID_ED448 {
        Reading::Refused(format!(
            "SSLPri is an Ed448 key, which livecert does not serve. {SUPPORTED}"
        ))
    } else {
        Reading::Refused(format!(
            "SSLPri is a key of algorithm {oid}, which livecert does not serve. {SUPPORTED}"
        ))
    }
}

fn rsa_reading(key: &RsaPrivateKey<'_>) -> Reading {
    let modulus = key.modulus.as_bytes();
    let bits = match modulus.first() {
        Some(first) => (modulus.len() as u32)
            .saturating_mul(8)
            .saturating_sub(first.leading_zeros()),
        None => 0,
    };
    match check_rsa_bits(bits) {
        Ok(()) => Reading::Supported(KeyAlgorithm::Rsa, bits),
        Err(why) => Reading::Refused(why),
    }
}

fn ec_reading(curve: Option<ObjectIdentifier>) -> Reading {
    let fix = "Generate a P-256 key (`openssl genpkey -algorithm EC -pkeyopt \
               ec_paramgen_curve:P-256 -out key.pem`) and have the certificate issued for it.";
    match curve {
        Some(oid) if oid == OID_P256 => Reading::Supported(KeyAlgorithm::EcdsaP256, 256),
        Some(oid) if oid == OID_P384 => Reading::Supported(KeyAlgorithm::EcdsaP384, 384),
        Some(oid) => {
            let text = oid.to_string();
            let name = CURVE_NAMES
                .iter()
                .find(|(o, _)| *o == text)
                .map_or_else(|| format!("the curve {text}"), |(_, n)| (*n).to_owned());
            Reading::Refused(format!(
                "SSLPri is an ECDSA key on {name}, which livecert does not serve. {SUPPORTED} \
                 {fix}"
            ))
        }
        None => Reading::Refused(format!(
            "SSLPri is an EC key that does not name its curve (explicit parameters). Rewrite it \
             with `openssl pkey -in key.pem -out key-named.pem` or generate a new one. \
             {SUPPORTED}"
        )),
    }
}

fn dsa_refusal() -> String {
    format!(
        "SSLPri is a DSA key; DSA is obsolete and TLS 1.3 has no DSA signatures. {SUPPORTED} \
         Generate one of these and have the certificate issued for it."
    )
}

#[cfg(test)]
mod tests {
    use super::super::pem::{normalise, tokenize};
    use super::super::testutil::{fixtures, openssl, openssl_in};
    use super::*;

    fn block_and_der(pem_text: &str) -> (Block, Vec<u8>) {
        use base64::Engine as _;
        let blocks = tokenize(&normalise(pem_text)).unwrap();
        let block = blocks
            .into_iter()
            .find(|b| b.kind() == pem::Kind::PrivateKey)
            .unwrap();
        let der = base64::engine::general_purpose::STANDARD
            .decode(&block.body)
            .unwrap();
        (block, der)
    }

    fn load_pem(pem_text: &str) -> Result<PrivateKey, String> {
        let (block, der) = block_and_der(pem_text);
        load(&block, &der)
    }

    /// §3: every supported algorithm in every supported encoding.
    #[test]
    fn supported_keys_in_every_encoding() {
        let f = fixtures();
        let cases: [(&str, &str, KeyAlgorithm, u32, &str); 7] = [
            (
                "RSA PKCS#8",
                &f.rsa2048_pkcs8,
                KeyAlgorithm::Rsa,
                2048,
                "PRIVATE KEY",
            ),
            (
                "RSA PKCS#1",
                &f.rsa2048_pkcs1,
                KeyAlgorithm::Rsa,
                2048,
                "RSA PRIVATE KEY",
            ),
            (
                "P-256 PKCS#8",
                &f.p256_pkcs8,
                KeyAlgorithm::EcdsaP256,
                256,
                "PRIVATE KEY",
            ),
            (
                "P-256 SEC1",
                &f.p256_sec1,
                KeyAlgorithm::EcdsaP256,
                256,
                "EC PRIVATE KEY",
            ),
            (
                "P-384 PKCS#8",
                &f.p384_pkcs8,
                KeyAlgorithm::EcdsaP384,
                384,
                "PRIVATE KEY",
            ),
            (
                "P-384 SEC1",
                &f.p384_sec1,
                KeyAlgorithm::EcdsaP384,
                384,
                "EC PRIVATE KEY",
            ),
            (
                "Ed25519 PKCS#8",
                &f.ed25519_pkcs8,
                KeyAlgorithm::Ed25519,
                256,
                "PRIVATE KEY",
            ),
        ];
        for (what, pem_text, algorithm, bits, label) in cases {
            let key = load_pem(pem_text).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!((key.algorithm, key.bits), (algorithm, bits), "{what}");
            let stored = key.pem.expose_str().unwrap();
            assert!(
                stored.starts_with(&format!("-----BEGIN {label}-----\n")),
                "{what}: {stored}"
            );
            assert_eq!(
                load_pem(stored).unwrap().spki_der,
                key.spki_der,
                "{what}: stored PEM reloads"
            );
        }
        // The same RSA key in both encodings has the same public key.
        assert_eq!(
            load_pem(&f.rsa2048_pkcs8).unwrap().spki_der,
            load_pem(&f.rsa2048_pkcs1).unwrap().spki_der
        );
    }

    /// The RSA key check agrees with the TLS provider's (aws-lc's `RSA_check_key`) on the fixture
    /// key and on keys with each number changed, and derives the provider's public key.
    #[test]
    #[allow(clippy::many_single_char_names)] // RFC 8017's names for the key's numbers
    fn the_rsa_check_agrees_with_the_tls_provider() {
        use num_bigint::BigUint;
        use pkcs1::UintRef;
        use pkcs8::der::Encode;

        let (_, der) = block_and_der(&fixtures().rsa2048_pkcs1);
        let key = RsaPrivateKey::try_from(der.as_slice()).unwrap();
        let int = |u: UintRef<'_>| BigUint::from_bytes_be(u.as_bytes());
        let original: [BigUint; 8] = [
            int(key.modulus),
            int(key.public_exponent),
            int(key.private_exponent),
            int(key.prime1),
            int(key.prime2),
            int(key.exponent1),
            int(key.exponent2),
            int(key.coefficient),
        ];
        let [n, e, d, p, q, dp, dq, qinv] = original.clone();
        let lambda = {
            let (pm1, qm1) = (&p - 1u8, &q - 1u8);
            let g = num_gcd(&pm1, &qm1);
            &pm1 * &qm1 / g
        };
        let encode = |numbers: &[BigUint; 8]| -> Vec<u8> {
            let bytes: Vec<Vec<u8>> = numbers.iter().map(BigUint::to_bytes_be).collect();
            let u = |i: usize| UintRef::new(&bytes[i]).unwrap();
            RsaPrivateKey {
                modulus: u(0),
                public_exponent: u(1),
                private_exponent: u(2),
                prime1: u(3),
                prime2: u(4),
                exponent1: u(5),
                exponent2: u(6),
                coefficient: u(7),
                other_prime_infos: None,
            }
            .to_der()
            .unwrap()
        };
        let mut cases: Vec<(String, [BigUint; 8])> =
            vec![("as generated".into(), original.clone())];
        let names = ["n", "e", "d", "p", "q", "dP", "dQ", "qInv"];
        for (i, name) in names.iter().enumerate() {
            for (how, change) in [("+1", 1u32), ("+2", 2), ("-2", 0)] {
                let mut numbers = original.clone();
                numbers[i] = if change == 0 {
                    &numbers[i] - 2u8
                } else {
                    &numbers[i] + change
                };
                cases.push((format!("{name}{how}"), numbers));
            }
        }
        let with = |changes: &[(usize, BigUint)]| {
            let mut numbers = original.clone();
            for (i, v) in changes {
                numbers[*i] = v.clone();
            }
            numbers
        };
        cases.extend([
            (
                "p and q swapped".into(),
                with(&[(3, q.clone()), (4, p.clone())]),
            ),
            (
                "dP and dQ swapped".into(),
                with(&[(5, dq.clone()), (6, dp.clone())]),
            ),
            (
                "d plus lambda (valid, unreduced)".into(),
                with(&[(2, &d + &lambda)]),
            ),
            ("dP unreduced".into(), with(&[(5, &dp + &p - 1u8)])),
            ("qInv unreduced".into(), with(&[(7, &qinv + &p)])),
            ("e = 1".into(), with(&[(1, BigUint::from(1u8))])),
            (
                "e = 2^33 + 1".into(),
                with(&[(1, (BigUint::from(1u8) << 33) + 1u8)]),
            ),
            (
                "p = 1, q = n".into(),
                with(&[(3, BigUint::from(1u8)), (4, n.clone())]),
            ),
            ("n even".into(), with(&[(0, &n + 1u8)])),
            ("qInv zero".into(), with(&[(7, BigUint::from(0u8))])),
        ]);
        let _ = e;
        for (what, numbers) in cases {
            let der = encode(&numbers);
            let provider = provider_spki(
                &PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(der.as_slice())),
                KeyAlgorithm::Rsa,
            );
            let ours = rsa_spki(Encoding::Pkcs1, &der);
            assert_eq!(ours.is_some(), provider.is_some(), "{what}");
            assert_eq!(ours, provider, "{what}: the same public key");
        }
        // PKCS#8 wraps the same check.
        let (_, der8) = block_and_der(&fixtures().rsa2048_pkcs8);
        let ours = rsa_spki(Encoding::Pkcs8, &der8);
        assert!(ours.is_some());
        assert_eq!(
            ours,
            provider_spki(
                &PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(der8.as_slice())),
                KeyAlgorithm::Rsa
            )
        );
    }

    fn num_gcd(a: &num_bigint::BigUint, b: &num_bigint::BigUint) -> num_bigint::BigUint {
        let (mut a, mut b) = (a.clone(), b.clone());
        while b != num_bigint::BigUint::from(0u8) {
            let r = &a % &b;
            a = b;
            b = r;
        }
        a
    }

    /// A body whose label does not say its encoding is read by what it is.
    #[test]
    fn a_mislabelled_key_is_read_by_its_encoding() {
        let f = fixtures();
        let pkcs1_as_pkcs8 = f.rsa2048_pkcs1.replace("RSA PRIVATE KEY", "PRIVATE KEY");
        let key = load_pem(&pkcs1_as_pkcs8).unwrap();
        assert!(key
            .pem
            .expose_str()
            .unwrap()
            .starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    }

    /// §3: each refused key says why and what to do.
    #[test]
    fn refused_keys_say_why_and_how_to_fix() {
        let f = fixtures();
        let cases: Vec<(&str, String, &str)> = vec![
            (
                "encrypted PKCS#8",
                f.p256_encrypted_pkcs8.clone(),
                "openssl pkey -in key.pem -out key-plain.pem",
            ),
            (
                "encrypted traditional",
                f.p256_encrypted_sec1.clone(),
                "openssl pkey -in key.pem -out key-plain.pem",
            ),
            ("RSA 1024", f.rsa1024.clone(), "minimum is 2048"),
            (
                "P-521 SEC1",
                openssl(&["ecparam", "-name", "secp521r1", "-genkey", "-noout"]),
                "P-521",
            ),
            (
                "P-521 PKCS#8",
                openssl(&[
                    "genpkey",
                    "-algorithm",
                    "EC",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-521",
                ]),
                "P-521",
            ),
            (
                "secp256k1",
                openssl(&[
                    "genpkey",
                    "-algorithm",
                    "EC",
                    "-pkeyopt",
                    "ec_paramgen_curve:secp256k1",
                ]),
                "secp256k1",
            ),
            (
                "X25519",
                openssl(&["genpkey", "-algorithm", "X25519"]),
                "X25519",
            ),
            (
                "Ed448",
                openssl(&["genpkey", "-algorithm", "Ed448"]),
                "Ed448",
            ),
            ("DSA PKCS#8", f.dsa_pkcs8.clone(), "DSA"),
            ("DSA traditional", f.dsa_traditional.clone(), "DSA"),
            (
                "OpenSSH",
                "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU=\n-----END \
                 OPENSSH PRIVATE KEY-----\n"
                    .to_owned(),
                "ssh-keygen -p -m PEM",
            ),
            (
                "damaged",
                "-----BEGIN PRIVATE KEY-----\nMAMCAQA=\n-----END PRIVATE KEY-----\n".to_owned(),
                "Export the key again",
            ),
        ];
        for (what, pem_text, needle) in cases {
            let err = load_pem(&pem_text)
                .err()
                .unwrap_or_else(|| panic!("{what} was accepted"));
            assert!(err.contains(needle), "{what}: {err}");
        }
    }

    /// A real OpenSSH key, when ssh-keygen is installed.
    #[test]
    fn openssh_keys_from_ssh_keygen_are_refused() {
        let Some(dir) = super::super::testutil::ssh_keygen_ed25519() else {
            // ssh-keygen is not installed: the label-only case in the test above still covers
            // the refusal.
            eprintln!("skipped: ssh-keygen not found");
            return;
        };
        let err = load_pem(&dir).err().unwrap();
        assert!(err.contains("ssh-keygen -p -m PEM"), "{err}");
    }

    #[test]
    fn rsa_limits_are_inclusive() {
        assert!(check_rsa_bits(2047).is_err());
        assert!(check_rsa_bits(2048).is_ok());
        assert!(check_rsa_bits(8192).is_ok());
        assert!(check_rsa_bits(8193)
            .unwrap_err()
            .contains("maximum is 8192"));
    }

    /// The key is re-read through OpenSSL's own PKCS#8 conversion: the same public key.
    #[test]
    fn spki_matches_openssl() {
        let f = fixtures();
        let key = load_pem(&f.p256_sec1).unwrap();
        let spki = openssl_in(
            &["pkey", "-pubout", "-outform", "DER"],
            f.p256_sec1.as_bytes(),
        );
        assert_eq!(key.spki_der, spki);
    }
}
