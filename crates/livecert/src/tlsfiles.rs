//! PEM files an operator hands the binary for its own TLS (`serve --tls-cert/--tls-key`, the
//! edge's `--default-cert/--default-key`): a chain, leaf first, and its private key (PKCS#8,
//! SEC1 or PKCS#1), checked to belong together when loaded, never at handshake time.

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context};
use rustls::crypto::aws_lc_rs::sign::any_supported_type;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;

/// Reads the chain in `cert` and the key in `key`.
/// Errors: a file that cannot be read, no certificate in `cert`, no key in `key`.
pub fn read(
    cert: &Path,
    key: &Path,
) -> anyhow::Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .with_context(|| format!("reading the certificates of {}", cert.display()))?;
    if chain.is_empty() {
        bail!("{} holds no certificate", cert.display());
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("reading the private key of {}", key.display()))?;
    Ok((chain, key))
}

/// The chain of `cert` with the signing key of `key` (aws-lc-rs), checked to match.
/// Errors: as [`read`]; a key type the provider does not sign with; a key that is not the
/// leaf's.
pub fn certified_key(cert: &Path, key: &Path) -> anyhow::Result<Arc<CertifiedKey>> {
    let (chain, key_der) = read(cert, key)?;
    let signing = any_supported_type(&key_der)
        .with_context(|| format!("loading the private key of {}", key.display()))?;
    let certified = CertifiedKey::new(chain, signing);
    certified.keys_match().with_context(|| {
        format!(
            "the key of {} is not the key of the first certificate of {}",
            key.display(),
            cert.display()
        )
    })?;
    Ok(Arc::new(certified))
}
