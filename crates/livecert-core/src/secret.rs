//! Secret values and their encryption at rest.
//!
//! - [`Secret`]: bytes that must never be printed or kept: `Debug` is redacted, the memory is
//!   zeroised on drop, and equality is constant-time.
//! - [`MasterKey`]: 32 bytes (base64 in `<data-dir>/master.key` or `LIVECERT_MASTER_KEY`,
//!   spec/access.md) that seal private keys and AccessKey secrets with AES-256-GCM (aws-lc-rs).
//!   A sealed value is `nonce (12 bytes) ‖ ciphertext ‖ tag (16 bytes)`, bound to an AAD label
//!   that names what it is, so a sealed AccessKey secret cannot be opened as a private key.

use std::fmt;

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine as _;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

/// AAD label for a certificate record's private key.
pub const AAD_CERT_KEY: &[u8] = b"livecert/v1/cert-private-key";
/// AAD label for an AccessKey secret.
pub const AAD_ACCESS_KEY_SECRET: &[u8] = b"livecert/v1/access-key-secret";
/// AAD label for the private key of the built-in test CA (`<data-dir>/test-ca.key.sealed`).
pub const AAD_TEST_CA_KEY: &[u8] = b"livecert/v1/test-ca-key";
/// Associated data for the ACME account credentials (its key) of the ACME issuer.
pub const AAD_ACME_ACCOUNT: &[u8] = b"livecert/v1/acme-account";

/// Bytes that are secret: redacted in `Debug`, zeroised on drop, compared in constant time.
#[derive(Clone, Zeroize)]
#[zeroize(drop)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Wraps secret bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    /// The secret bytes; keep the borrow short and never log it.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// The secret as UTF-8 text, if it is text.
    pub fn expose_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for Secret {}

/// Why a [`MasterKey`] could not be read or a sealed value could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// The master key text is not base64 of exactly 32 bytes.
    #[error("the master key must be base64 of exactly 32 bytes")]
    BadMasterKey,
    /// Opening failed: wrong master key, wrong label, or corrupted data.
    #[error("a sealed secret could not be opened: wrong master key or corrupted data")]
    OpenFailed,
    /// The system random source failed.
    #[error("the system random source failed")]
    Random,
}

/// The key that encrypts secrets at rest: 32 bytes, AES-256-GCM.
pub struct MasterKey {
    key: LessSafeKey,
}

impl MasterKey {
    /// Reads a master key from its base64 text (surrounding white space ignored).
    pub fn from_base64(text: &str) -> Result<Self, SecretError> {
        let bytes = Zeroizing::new(
            base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .map_err(|_| SecretError::BadMasterKey)?,
        );
        if bytes.len() != 32 {
            return Err(SecretError::BadMasterKey);
        }
        let unbound =
            UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| SecretError::BadMasterKey)?;
        Ok(Self {
            key: LessSafeKey::new(unbound),
        })
    }

    /// Generates a new random master key and returns it with its base64 text (to be written to
    /// `master.key` with mode 0600).
    pub fn generate() -> Result<(Self, Secret), SecretError> {
        let mut raw = Zeroizing::new([0u8; 32]);
        SystemRandom::new()
            .fill(raw.as_mut())
            .map_err(|_| SecretError::Random)?;
        let text = base64::engine::general_purpose::STANDARD.encode(raw.as_ref());
        let key = Self::from_base64(&text)?;
        Ok((key, Secret::new(text.into_bytes())))
    }

    /// Encrypts `plaintext` under `label` (one of the `AAD_*` constants): `nonce ‖ ciphertext ‖ tag`.
    pub fn seal(&self, label: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, SecretError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| SecretError::Random)?;
        let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + 16);
        out.extend_from_slice(&nonce);
        let mut body = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(label),
                &mut body,
            )
            .map_err(|_| SecretError::Random)?;
        out.extend_from_slice(&body);
        body.zeroize();
        Ok(out)
    }

    /// Decrypts a value made by [`MasterKey::seal`] with the same label.
    pub fn open(&self, label: &[u8], sealed: &[u8]) -> Result<Secret, SecretError> {
        if sealed.len() < NONCE_LEN + 16 {
            return Err(SecretError::OpenFailed);
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SecretError::OpenFailed)?;
        let mut buf = body.to_vec();
        let plain_len = self
            .key
            .open_in_place(nonce, Aad::from(label), &mut buf)
            .map_err(|_| SecretError::OpenFailed)?
            .len();
        buf.truncate(plain_len);
        Ok(Secret(buf))
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_then_open_round_trips_and_binds_the_label() {
        let (key, text) = MasterKey::generate().unwrap();
        let sealed = key
            .seal(AAD_CERT_KEY, b"-----BEGIN PRIVATE KEY-----")
            .unwrap();
        assert!(!sealed.windows(5).any(|w| w == b"BEGIN"));
        assert_eq!(
            key.open(AAD_CERT_KEY, &sealed).unwrap().expose(),
            b"-----BEGIN PRIVATE KEY-----"
        );
        assert_eq!(
            key.open(AAD_ACCESS_KEY_SECRET, &sealed),
            Err(SecretError::OpenFailed)
        );
        let again = MasterKey::from_base64(text.expose_str().unwrap()).unwrap();
        assert!(again.open(AAD_CERT_KEY, &sealed).is_ok());
        let (other, _) = MasterKey::generate().unwrap();
        assert_eq!(
            other.open(AAD_CERT_KEY, &sealed),
            Err(SecretError::OpenFailed)
        );
    }

    #[test]
    fn secrets_never_print() {
        let s = Secret::new(b"testsecret".to_vec());
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
        assert_eq!(s, Secret::new(b"testsecret".to_vec()));
        assert_ne!(s, Secret::new(b"testsecreT".to_vec()));
    }

    #[test]
    fn bad_master_keys_are_refused() {
        assert_eq!(
            MasterKey::from_base64("not base64!").unwrap_err(),
            SecretError::BadMasterKey
        );
        assert_eq!(
            MasterKey::from_base64("AAAA").unwrap_err(),
            SecretError::BadMasterKey
        );
    }
}
