//! The ACME account of this installation (RFC 8555 §7.3): created on the directory at the first
//! order, its credentials (account URL and PKCS#8 key, instant-acme's `AccountCredentials`) sealed
//! with the master key in the store, and reused by every node and every later start. Two nodes
//! that create one at the same moment both register with the CA, but only the first one's
//! credentials are kept; the other node uses those.
//!
//! The directory's HTTPS is verified against the system's roots, or against the PEM roots of
//! `--acme-ca-roots` (a private CA, Pebble).

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use bytes::Bytes;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use instant_acme::{
    Account, AccountBuilder, AccountCredentials, BodyWrapper, ExternalAccountKey, NewAccount,
};
use livecert_store::Store;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use tracing::info;

use super::AcmeConfig;
use crate::clock::Clock;

/// The account for `config.directory`: the one kept in the store, or a new one registered now
/// (terms of service agreed, `config.email` as contact, with External Account Binding when
/// configured) and kept.
///
/// Errors: the roots cannot be read, the store fails or holds credentials that do not open or
/// parse, the CA refuses the account or cannot be reached.
pub async fn load_or_create(
    store: &Store,
    config: &AcmeConfig,
    clock: &dyn Clock,
) -> anyhow::Result<Account> {
    if let Some(account) = load(store, config).await? {
        return Ok(account);
    }
    let contact = config.email.as_ref().map(|e| format!("mailto:{e}"));
    let contacts: Vec<&str> = contact.iter().map(String::as_str).collect();
    let eab = config
        .eab
        .as_ref()
        .map(|(kid, key)| ExternalAccountKey::new(kid.clone(), key));
    let (account, credentials) = builder(config)?
        .create(
            &NewAccount {
                contact: &contacts,
                terms_of_service_agreed: true,
                only_return_existing: false,
            },
            config.directory.clone(),
            eab.as_ref(),
        )
        .await
        .with_context(|| {
            format!(
                "creating an ACME account on {} (is --acme-directory the CA's directory URL, and does the CA answer?)",
                config.directory
            )
        })?;
    let json = zeroize::Zeroizing::new(
        serde_json::to_vec(&credentials).context("serialising the ACME account credentials")?,
    );
    let kept = store
        .put_acme_account(&config.directory, &json, clock.now())
        .await
        .context("keeping the ACME account credentials")?;
    if kept {
        info!(directory = %config.directory, account = %account.id(), "ACME account created");
        return Ok(account);
    }
    // Another node registered first: use its account, so that the installation keeps one.
    load(store, config)
        .await?
        .context("the ACME account kept by another node vanished")
}

/// The account kept in the store for `config.directory`, if any.
async fn load(store: &Store, config: &AcmeConfig) -> anyhow::Result<Option<Account>> {
    let Some(secret) = store
        .acme_account(&config.directory)
        .await
        .context("reading the ACME account credentials")?
    else {
        return Ok(None);
    };
    let credentials: AccountCredentials = serde_json::from_slice(secret.expose())
        .context("the stored ACME account credentials do not parse")?;
    let account = builder(config)?
        .from_credentials(credentials)
        .await
        .with_context(|| format!("reaching the ACME directory {}", config.directory))?;
    Ok(Some(account))
}

/// An account builder whose HTTP client trusts `config.ca_roots` (all the certificates of that
/// PEM file), or the system's roots.
fn builder(config: &AcmeConfig) -> anyhow::Result<AccountBuilder> {
    let Some(path) = &config.ca_roots else {
        return Account::builder().context("loading the system's roots for the ACME directory");
    };
    Ok(Account::builder_with_http(Box::new(client_with_roots(
        path,
    )?)))
}

/// An HTTPS client (HTTP/1.1 and HTTP/2, rustls with aws-lc-rs) trusting only the certificates of
/// the PEM file at `path`.
///
/// Errors: as [`load_roots`].
pub fn client_with_roots(
    path: &Path,
) -> anyhow::Result<Client<hyper_rustls::HttpsConnector<HttpConnector>, BodyWrapper<Bytes>>> {
    let roots = load_roots(path)?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS versions for the ACME client")?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(CONNECT_TIMEOUT));
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_only()
        .enable_http1()
        .enable_http2()
        .wrap_connector(http);
    Ok(Client::builder(TokioExecutor::new()).build(connector))
}

/// How long the ACME client waits for the CA to accept a connection.
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The certificates of the PEM file at `path` (`--acme-ca-roots`), as roots; `serve` reads them
/// at start, so that a wrong path stops it there.
///
/// Errors: the file cannot be read, holds no certificate, or one that rustls refuses as a root.
pub fn load_roots(path: &Path) -> anyhow::Result<rustls::RootCertStore> {
    let mut roots = rustls::RootCertStore::empty();
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .with_context(|| format!("--acme-ca-roots {}: cannot read it", path.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("--acme-ca-roots {}: not PEM certificates", path.display()))?;
    anyhow::ensure!(
        !certs.is_empty(),
        "--acme-ca-roots {}: no certificate in it",
        path.display()
    );
    for cert in certs {
        roots.add(cert).with_context(|| {
            format!(
                "--acme-ca-roots {}: a certificate rustls refuses",
                path.display()
            )
        })?;
    }
    Ok(roots)
}
