//! Certificate uploads: what SetLiveDomainCertificate accepts, normalises and refuses
//! (spec/certificates.md), and whether a chain covers a domain (§5).
//!
//! [`check_upload`] runs operations.md rows 17–21 in order. Row 21 is the layered check of
//! certificates.md: the text layer (UTF-8, no NUL), the silent normalisation of §1, the early
//! refusals with a hint of §2, then the layers of §3 — block kinds, base64, DER and key support,
//! key match, chain order, validity — where the first failing layer decides and each layer names
//! its code for "SSLPub fails", "SSLPri fails" and "both fail" in one `Layer` row. What passes
//! comes out normalised: the chain leaf first in standard PEM, the key in standard PEM, and the
//! facts of §6, so nothing downstream parses a certificate again.
//!
//! Code map:
//! - [`pem`]: the text-level PEM tokenizer (normalisation, blocks, double-encoding detection).
//! - `key`: private keys — supported kinds, refusals with their fix, the public key to match.
//! - `chain`: the leaf and the order of the chain (§4).
//! - `facts`: the facts of §6, coverage (§5) and generated names (row 22).

mod chain;
mod details;
mod facts;
mod key;
pub mod pem;
#[cfg(test)]
mod testutil;

use base64::Engine as _;
use sha2::{Digest, Sha256};
use x509_parser::certificate::X509Certificate;
use zeroize::Zeroizing;

use crate::error::{ApiError, ErrorCode};
use crate::secret::Secret;
use crate::timefmt::format_utc;
use chain::{Cert, LeafError};
use pem::{Block, Kind, PemError};

pub use details::{chain_details, ChainEntry, LeafSubject};
pub use facts::{covers, generated_cert_name, GENERATED_NAME_BASE_CHARS};
pub use key::{MAX_RSA_BITS, MIN_RSA_BITS};

/// How far in the future a leaf's notBefore may be, in seconds (certificates.md §3: 5 minutes).
pub const NOT_BEFORE_GRACE_SECS: i64 = 300;

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
pub fn check_upload(
    ssl_pub: Option<&[u8]>,
    ssl_pri: Option<&[u8]>,
    now: i64,
) -> Result<CheckedUpload, ApiError> {
    let (pub_raw, pri_raw) = check_presence_and_size(ssl_pub, ssl_pri)?;

    // Row 21. The text layer comes first: nothing below can read bytes that are not text.
    let (pub_text, pri_text) =
        Layer::TEXT.check(text_of(Param::Pub, pub_raw), text_of(Param::Pri, pri_raw))?;
    let pub_text = pem::normalise(pub_text);
    let pri_text = Zeroizing::new(pem::normalise(pri_text));

    // §2, refused early with a hint.
    refuse_double_encoding(&pub_text, &pri_text)?;
    let pub_blocks = pem::tokenize(&pub_text);
    let pri_blocks = pem::tokenize(&pri_text).map(Zeroizing::new);
    let pri_blocks = pri_blocks.as_ref().map(|b| b.as_slice());
    let pub_blocks = pub_blocks.as_deref();
    refuse_swapped(pub_blocks, pri_blocks)?;
    refuse_several_keys(pri_blocks)?;
    refuse_spaces(pub_blocks, pri_blocks)?;

    // §3, layer by layer.
    let (cert_blocks, key_block) = Layer::KIND.check(
        certificate_blocks(pub_blocks, pri_blocks),
        key_block(pri_blocks, pub_blocks),
    )?;
    let (cert_ders, key_der) =
        Layer::BASE64.check(decode_certificates(&cert_blocks), decode_key(key_block))?;
    let (certs, key) = Layer::DER.check(
        parse_certificates(&cert_blocks, &cert_ders),
        key::load(key_block, &key_der),
    )?;
    let leaf = find_leaf(&certs, &key)?;
    let order = chain::order(&certs, leaf)
        .map_err(|why| ApiError::new(ErrorCode::CertificateFormatError, why))?;
    let leaf_cert = certs
        .get(leaf)
        .map(|c| &c.x509)
        .ok_or_else(|| ApiError::bare(ErrorCode::InternalError))?;
    check_validity(leaf_cert, now)?;

    let chain_der: Vec<Vec<u8>> = order
        .iter()
        .filter_map(|&i| certs.get(i))
        .map(|c| c.x509.as_raw().to_vec())
        .collect();
    let chain_pem: String = chain_der
        .iter()
        .map(|der| pem::encode("CERTIFICATE", der))
        .collect();
    let facts = facts::derive(leaf_cert, &key);
    Ok(CheckedUpload {
        chain_pem,
        chain_der,
        private_key_pem: key.pem,
        facts,
    })
}

/// The DER of each certificate of a chain as [`check_upload`] normalised and stored it
/// ([`CheckedUpload::chain_pem`]: standard PEM, leaf first), in order: what the edge serves. The
/// inverse of that encoding, so the certificates are not parsed again, only decoded.
///
/// Errors (a stored chain altered by hand): the armour does not pair up, a block is not a
/// certificate, or its base64 does not decode; the text says which block.
pub fn stored_chain_der(chain_pem: &str) -> Result<Vec<Vec<u8>>, String> {
    let blocks =
        pem::tokenize(chain_pem).map_err(|e| format!("the chain is not well-formed PEM: {e}"))?;
    blocks
        .iter()
        .enumerate()
        .map(|(i, block)| {
            if !is_certificate(block.kind()) {
                return Err(format!(
                    "block #{} of the chain is {}, not a certificate",
                    i + 1,
                    block.label
                ));
            }
            base64::engine::general_purpose::STANDARD
                .decode(&block.body)
                .map_err(|e| {
                    format!(
                        "certificate #{} of the chain does not decode: {}",
                        i + 1,
                        base64_reason(&e)
                    )
                })
        })
        .collect()
}

/// Which parameter a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Param {
    Pub,
    Pri,
}

impl Param {
    fn name(self) -> &'static str {
        match self {
            Self::Pub => "SSLPub",
            Self::Pri => "SSLPri",
        }
    }
}

/// One layer of certificates.md §3: the code when SSLPub fails, when SSLPri fails, when both do.
struct Layer {
    pub_fails: ErrorCode,
    pri_fails: ErrorCode,
    both_fail: ErrorCode,
}

impl Layer {
    /// Not UTF-8 / contains NUL.
    const TEXT: Self = Self::row(
        ErrorCode::SslPubError,
        ErrorCode::SslPriError,
        ErrorCode::SslPubError,
    );
    /// No PEM block of a recognised kind (or a block that does not belong).
    const KIND: Self = Self::row(
        ErrorCode::InvalidSslPub,
        ErrorCode::InvalidSslPri,
        ErrorCode::InvalidSslPubOrInvalidSslPri,
    );
    /// The base64 body does not decode.
    const BASE64: Self = Self::row(
        ErrorCode::DecodeError,
        ErrorCode::DecodeError,
        ErrorCode::DecodeError,
    );
    /// The DER is not an X.509 certificate / the key is not supported.
    const DER: Self = Self::row(
        ErrorCode::CertificateFormatError,
        ErrorCode::KeyMalformed,
        ErrorCode::CertificateFormatError,
    );

    const fn row(pub_fails: ErrorCode, pri_fails: ErrorCode, both_fail: ErrorCode) -> Self {
        Self {
            pub_fails,
            pri_fails,
            both_fail,
        }
    }

    /// Both parameters' results at this layer, or the layer's error; details are sentences.
    fn check<A, B>(
        &self,
        ssl_pub: Result<A, String>,
        ssl_pri: Result<B, String>,
    ) -> Result<(A, B), ApiError> {
        match (ssl_pub, ssl_pri) {
            (Ok(a), Ok(b)) => Ok((a, b)),
            (Err(why), Ok(_)) => Err(ApiError::new(self.pub_fails, why)),
            (Ok(_), Err(why)) => Err(ApiError::new(self.pri_fails, why)),
            (Err(pub_why), Err(pri_why)) => Err(ApiError::new(
                self.both_fail,
                format!("{pub_why} {pri_why}"),
            )),
        }
    }
}

/// Rows 17–20: presence, emptiness and size.
fn check_presence_and_size<'a>(
    ssl_pub: Option<&'a [u8]>,
    ssl_pri: Option<&'a [u8]>,
) -> Result<(&'a [u8], &'a [u8]), ApiError> {
    let Some(pub_raw) = ssl_pub.filter(|v| !v.is_empty()) else {
        return Err(ApiError::new(
            ErrorCode::SslPubMissingParameter,
            "With SSLProtocol=on and CertType=upload, send the certificate chain in PEM as SSLPub.",
        ));
    };
    let Some(pri_raw) = ssl_pri else {
        return Err(ApiError::new(
            ErrorCode::SslPriMissingParameter,
            "With SSLProtocol=on and CertType=upload, send the certificate's private key in PEM \
             as SSLPri.",
        ));
    };
    if pri_raw.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(
            ErrorCode::CertificateKeyNull,
            "SSLPri is empty: send the certificate's private key in PEM.",
        ));
    }
    if pub_raw.len() > MAX_SSL_PUB_BYTES {
        return Err(ApiError::new(
            ErrorCode::InvalidCertificateTooLong,
            format!(
                "SSLPub is {} bytes; the limit is {MAX_SSL_PUB_BYTES} bytes (64 KiB). Send only \
                 the leaf certificate and its intermediates.",
                pub_raw.len()
            ),
        ));
    }
    let blocks = pem::count_blocks(pub_raw);
    if blocks > MAX_SSL_PUB_BLOCKS {
        return Err(ApiError::new(
            ErrorCode::InvalidCertificateTooLong,
            format!(
                "SSLPub holds {blocks} PEM blocks; the limit is {MAX_SSL_PUB_BLOCKS} (duplicates \
                 count). Send only the leaf certificate and its intermediates."
            ),
        ));
    }
    if pri_raw.len() > MAX_SSL_PRI_BYTES {
        return Err(ApiError::new(
            ErrorCode::InvalidCertificateTooLong,
            format!(
                "SSLPri is {} bytes; the limit is {MAX_SSL_PRI_BYTES} bytes (16 KiB). Send \
                 exactly one private key.",
                pri_raw.len()
            ),
        ));
    }
    Ok((pub_raw, pri_raw))
}

/// The text layer: UTF-8 without NUL. The error never quotes the value (SSLPri is secret).
fn text_of(param: Param, raw: &[u8]) -> Result<&str, String> {
    let name = param.name();
    let convert = match param {
        Param::Pub => {
            "convert a DER certificate with `openssl x509 -inform der -in cert.der -out cert.pem`"
        }
        Param::Pri => "convert a DER key with `openssl pkey -inform der -in key.der -out key.pem`",
    };
    // A byte-order mark, or ASCII text with a NUL before or after its first character.
    let utf16 = raw.starts_with(&[0xff, 0xfe])
        || raw.starts_with(&[0xfe, 0xff])
        || matches!(raw, [0, x, ..] | [x, 0, ..] if *x != 0);
    let hint = if utf16 {
        "It looks like UTF-16 text: save it as UTF-8.".to_owned()
    } else {
        format!(
            "Send the PEM text itself: {convert}, and a PKCS#12 (.pfx) file with `openssl pkcs12 \
             -in file.pfx -nodes -out all.pem`."
        )
    };
    let text = std::str::from_utf8(raw).map_err(|e| {
        format!(
            "{name} is not UTF-8 text (the first invalid byte is at offset {}). {hint}",
            e.valid_up_to()
        )
    })?;
    if let Some(at) = text.find('\0') {
        return Err(format!(
            "{name} contains a NUL character at offset {at}. {hint}"
        ));
    }
    Ok(text)
}

/// §2: percent sequences in or next to the armour: the value was URL-encoded twice.
fn refuse_double_encoding(pub_text: &str, pri_text: &str) -> Result<(), ApiError> {
    let which = match (
        pem::looks_double_encoded(pub_text),
        pem::looks_double_encoded(pri_text),
    ) {
        (false, false) => return Ok(()),
        (true, false) => "SSLPub contains",
        (false, true) => "SSLPri contains",
        (true, true) => "SSLPub and SSLPri contain",
    };
    Err(ApiError::new(
        ErrorCode::DecodeError,
        format!(
            "{which} percent-encoded sequences (such as %0A, %20 or %2B) around the PEM armour: \
             the value was URL-encoded twice. Encode it once: the SDKs already encode every \
             parameter, so pass the PEM text unchanged."
        ),
    ))
}

/// §2: a key and no certificate in SSLPub, a certificate and no key in SSLPri.
fn refuse_swapped(
    pub_blocks: Result<&[Block], &PemError>,
    pri_blocks: Result<&[Block], &PemError>,
) -> Result<(), ApiError> {
    let (Ok(pub_blocks), Ok(pri_blocks)) = (pub_blocks, pri_blocks) else {
        return Ok(());
    };
    let has = |blocks: &[Block], wanted: fn(Kind) -> bool| blocks.iter().any(|b| wanted(b.kind()));
    if !has(pub_blocks, is_certificate)
        && has(pub_blocks, is_key)
        && !has(pri_blocks, is_key)
        && has(pri_blocks, is_certificate)
    {
        return Err(ApiError::new(
            ErrorCode::InvalidSslPubOrInvalidSslPri,
            "SSLPub holds a private key and no certificate, and SSLPri holds a certificate and no \
             key: the two values are swapped. Send the certificate chain as SSLPub and the \
             private key as SSLPri.",
        ));
    }
    Ok(())
}

/// §2: more than one private key in SSLPri (the same block pasted twice counts once).
fn refuse_several_keys(pri_blocks: Result<&[Block], &PemError>) -> Result<(), ApiError> {
    let Ok(pri_blocks) = pri_blocks else {
        return Ok(());
    };
    let mut keys: Vec<&Block> = Vec::new();
    for block in pri_blocks.iter().filter(|b| is_key(b.kind())) {
        if !keys.contains(&block) {
            keys.push(block);
        }
    }
    if keys.len() > 1 {
        return Err(ApiError::new(
            ErrorCode::InvalidSslPri,
            format!(
                "SSLPri holds {} different private keys; it must hold exactly one key: the key of \
                 the certificate in SSLPub. Remove the others.",
                keys.len()
            ),
        ));
    }
    Ok(())
}

/// §2: white space between base64 characters in a block body.
fn refuse_spaces(
    pub_blocks: Result<&[Block], &PemError>,
    pri_blocks: Result<&[Block], &PemError>,
) -> Result<(), ApiError> {
    let spaced = |blocks: Result<&[Block], &PemError>| {
        blocks.ok().and_then(|blocks| {
            blocks
                .iter()
                .find(|b| b.spaces_in_body)
                .map(|b| b.label.clone())
        })
    };
    let where_ = match (spaced(pub_blocks), spaced(pri_blocks)) {
        (None, None) => return Ok(()),
        (Some(label), None) => format!("the {label} block in SSLPub contains"),
        (None, Some(label)) => format!("the {label} block in SSLPri contains"),
        (Some(a), Some(b)) => {
            format!("the {a} block in SSLPub and the {b} block in SSLPri contain")
        }
    };
    Err(ApiError::new(
        ErrorCode::DecodeError,
        format!(
            "The base64 body of {where_} spaces. Two usual causes: a `+` was sent unencoded and \
             arrived as a space (it must travel as %2B: let the SDK encode the value), or the \
             line breaks were replaced by spaces (keep the PEM's line breaks)."
        ),
    ))
}

fn is_certificate(kind: Kind) -> bool {
    matches!(kind, Kind::Certificate { .. })
}

fn is_key(kind: Kind) -> bool {
    kind == Kind::PrivateKey
}

/// What an unexpected block is, for the refusal.
fn other_block_hint(label: &str) -> &'static str {
    match label {
        "PKCS7" | "CMS" => {
            "Extract its certificates with `openssl pkcs7 -print_certs -in chain.p7b`."
        }
        "CERTIFICATE REQUEST" | "NEW CERTIFICATE REQUEST" => {
            "That is the signing request, not the certificate the CA issued."
        }
        "PUBLIC KEY" | "RSA PUBLIC KEY" => {
            "A public key is neither a certificate nor the private key."
        }
        _ => "Remove it.",
    }
}

/// The kind layer for SSLPub: its certificate blocks, with whether each is `TRUSTED CERTIFICATE`.
///
/// `EC PARAMETERS` is skipped; a private key equal to SSLPri's (a combined file pasted whole) is
/// ignored; any other block is refused.
fn certificate_blocks<'a>(
    pub_blocks: Result<&'a [Block], &PemError>,
    pri_blocks: Result<&[Block], &PemError>,
) -> Result<Vec<(&'a Block, bool)>, String> {
    let blocks = pub_blocks.map_err(|e| format!("SSLPub is not well-formed PEM: {e}."))?;
    let pri_key = pri_blocks
        .ok()
        .and_then(|b| b.iter().find(|b| is_key(b.kind())));
    let mut certs = Vec::new();
    let (mut any_key, mut other_key) = (false, false);
    for block in blocks {
        match block.kind() {
            Kind::Certificate { trusted } => certs.push((block, trusted)),
            Kind::EcParameters => {}
            Kind::PrivateKey => {
                any_key = true;
                other_key |= Some(block) != pri_key;
            }
            Kind::Other => {
                return Err(format!(
                    "SSLPub holds a {} block, which is not a certificate. {}",
                    block.label,
                    other_block_hint(&block.label)
                ))
            }
        }
    }
    if certs.is_empty() {
        return Err(if any_key {
            "SSLPub holds a private key but no certificate: send the certificate chain \
             (-----BEGIN CERTIFICATE-----) as SSLPub and the key as SSLPri."
                .to_owned()
        } else {
            "SSLPub holds no certificate: send the certificate chain as PEM text, each \
             certificate between -----BEGIN CERTIFICATE----- and -----END CERTIFICATE-----."
                .to_owned()
        });
    }
    if other_key {
        return Err(
            "SSLPub holds a private key that is not the one in SSLPri. SSLPub takes the \
             certificates only: remove the key from it (a key pasted with its certificates is \
             ignored only when it is the same as SSLPri)."
                .to_owned(),
        );
    }
    Ok(certs)
}

/// The kind layer for SSLPri: its one key block.
///
/// `EC PARAMETERS` is skipped; a certificate that is also in SSLPub (a combined file pasted whole)
/// is ignored; any other block is refused.
fn key_block<'a>(
    pri_blocks: Result<&'a [Block], &PemError>,
    pub_blocks: Result<&[Block], &PemError>,
) -> Result<&'a Block, String> {
    let blocks = pri_blocks.map_err(|e| format!("SSLPri is not well-formed PEM: {e}."))?;
    let pub_certs: Vec<&Block> = pub_blocks
        .map(|b| b.iter().filter(|b| is_certificate(b.kind())).collect())
        .unwrap_or_default();
    let mut key = None;
    let mut other_cert = false;
    for block in blocks {
        match block.kind() {
            Kind::PrivateKey => key = key.or(Some(block)),
            Kind::EcParameters => {}
            Kind::Certificate { .. } if pub_certs.contains(&block) => {}
            Kind::Certificate { .. } => other_cert = true,
            Kind::Other => {
                return Err(format!(
                    "SSLPri holds a {} block, which is not a private key. {}",
                    block.label,
                    other_block_hint(&block.label)
                ))
            }
        }
    }
    let Some(key) = key else {
        return Err(if other_cert {
            "SSLPri holds a certificate but no private key: send the certificate's private key \
             (-----BEGIN PRIVATE KEY----- or the RSA / EC forms) as SSLPri."
                .to_owned()
        } else {
            "SSLPri holds no private key: send the key as PEM text, between -----BEGIN PRIVATE \
             KEY----- and -----END PRIVATE KEY----- (or the RSA / EC forms)."
                .to_owned()
        });
    };
    if other_cert {
        return Err(
            "SSLPri holds a certificate that is not in SSLPub. SSLPri takes the private key only: \
             remove the certificate (or send it in SSLPub)."
                .to_owned(),
        );
    }
    Ok(key)
}

/// Why a base64 body does not decode, in words.
fn base64_reason(e: &base64::DecodeError) -> String {
    match e {
        base64::DecodeError::InvalidByte(at, _) => {
            format!("a character at offset {at} is not base64")
        }
        base64::DecodeError::InvalidLength(_) => {
            "its length is not a whole number of base64 groups (it was cut off or has extra \
             characters)"
                .to_owned()
        }
        base64::DecodeError::InvalidLastSymbol(at, _) => {
            format!("its last character (offset {at}) cannot end base64 (it was cut off)")
        }
        base64::DecodeError::InvalidPadding => "its `=` padding is missing or misplaced".to_owned(),
    }
}

const BASE64_FIX: &str = "Copy the PEM again, whole and unchanged; a `+` must travel as %2B.";

fn decode_certificates(blocks: &[(&Block, bool)]) -> Result<Vec<Vec<u8>>, String> {
    blocks
        .iter()
        .enumerate()
        .map(|(i, (block, _))| {
            base64::engine::general_purpose::STANDARD
                .decode(&block.body)
                .map_err(|e| {
                    format!(
                        "The base64 body of certificate #{} in SSLPub does not decode: {}. \
                         {BASE64_FIX}",
                        i + 1,
                        base64_reason(&e)
                    )
                })
        })
        .collect()
}

fn decode_key(block: &Block) -> Result<Zeroizing<Vec<u8>>, String> {
    base64::engine::general_purpose::STANDARD
        .decode(&block.body)
        .map(Zeroizing::new)
        .map_err(|e| {
            format!(
                "The base64 body of the private key in SSLPri does not decode: {}. {BASE64_FIX}",
                base64_reason(&e)
            )
        })
}

/// The DER layer for SSLPub: every certificate parsed, exact duplicates dropped (§4).
fn parse_certificates<'a>(
    blocks: &[(&Block, bool)],
    ders: &'a [Vec<u8>],
) -> Result<Vec<Cert<'a>>, String> {
    let mut certs: Vec<Cert<'a>> = Vec::with_capacity(ders.len());
    for (i, ((_, trusted), der)) in blocks.iter().zip(ders).enumerate() {
        let x509 = chain::parse(der, *trusted).map_err(|why| {
            format!(
                "Certificate #{} in SSLPub is not an X.509 certificate ({why}). Send each \
                 certificate in PEM as the CA issued it.",
                i + 1
            )
        })?;
        if !certs.iter().any(|c| c.x509.as_raw() == x509.as_raw()) {
            certs.push(Cert {
                x509,
                position: i + 1,
            });
        }
    }
    Ok(certs)
}

/// The leaf: the one certificate whose public key is the key's (§4).
fn find_leaf(certs: &[Cert<'_>], key: &key::PrivateKey) -> Result<usize, ApiError> {
    match chain::find_leaf(certs, &key.spki_der) {
        Ok(leaf) => Ok(leaf),
        Err(LeafError::Two(a, b)) => {
            let name = |i: usize| {
                certs
                    .get(i)
                    .map(|c| format!("#{} {}", c.position, chain::describe_long(&c.x509)))
                    .unwrap_or_default()
            };
            Err(ApiError::new(
                ErrorCode::CertificateFormatError,
                format!(
                    "SSLPub holds two different certificates for the private key: certificate {} \
                     and certificate {}. Keep only the one to serve (usually the newer) and its \
                     intermediates.",
                    name(a),
                    name(b)
                ),
            ))
        }
        Err(LeafError::NoMatch) => {
            let first = certs
                .first()
                .map(|c| hex::encode(Sha256::digest(c.x509.public_key().raw)))
                .unwrap_or_default();
            Err(ApiError::new(
                ErrorCode::CertificateMissMatchKey,
                format!(
                    "The private key's SPKI SHA-256 is {}, which matches no certificate in \
                     SSLPub; the first certificate's SPKI SHA-256 is {first}. Send the key the \
                     certificate was issued for (compare `openssl pkey -in key.pem -pubout \
                     -outform der | openssl dgst -sha256` with `openssl x509 -in cert.pem -noout \
                     -pubkey | openssl pkey -pubin -outform der | openssl dgst -sha256`).",
                    hex::encode(Sha256::digest(&key.spki_der))
                ),
            ))
        }
    }
}

/// The leaf's validity: expired, or not yet valid beyond the 5-minute grace.
fn check_validity(leaf: &X509Certificate<'_>, now: i64) -> Result<(), ApiError> {
    let not_after = leaf.validity().not_after.timestamp();
    let not_before = leaf.validity().not_before.timestamp();
    if not_after < now {
        return Err(ApiError::new(
            ErrorCode::CertificateExpired,
            format!(
                "The leaf certificate \"{}\" expired at {} (notAfter). Renew it and upload the \
                 new certificate.",
                chain::describe(leaf),
                format_utc(not_after)
            ),
        ));
    }
    if not_before > now.saturating_add(NOT_BEFORE_GRACE_SECS) {
        return Err(ApiError::new(
            ErrorCode::CertificateStatusError,
            format!(
                "The leaf certificate \"{}\" is not valid before {} (notBefore), more than 5 \
                 minutes from now. Upload it once it is valid, or check the clock of the machine \
                 that issued it.",
                chain::describe(leaf),
                format_utc(not_before)
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
