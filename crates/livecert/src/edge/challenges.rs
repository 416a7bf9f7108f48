//! The ACME challenges this edge answers for livecert's own ACME issuer (`crate::acme`, issue 13):
//! HTTP-01 (RFC 8555 §8.3) on the plain-HTTP port and TLS-ALPN-01 (RFC 8737) on the TLS port.
//!
//! The book is an immutable map swapped whole, like the certificate map: the TLS resolver reads it
//! during a handshake without touching the database. Its content is the store's
//! `acme_challenges` table, so that whichever edge node the CA reaches answers: every node reads
//! the table every [`REFRESH_INTERVAL`] ([`follow`]), and the node whose worker stored a
//! challenge also adds it at once ([`ChallengeBook::insert`]). The ACME worker waits
//! [`PROPAGATION`] after storing a challenge before telling the CA to validate it.
//!
//! A TLS-ALPN-01 challenge is answered with a self-signed certificate for the domain that carries
//! the SHA-256 of the key authorization in the critical `id-pe-acmeIdentifier` extension, made by
//! each node in memory when the challenge enters its book (its key is never stored); it is
//! presented only to a ClientHello whose ALPN offers exactly `acme-tls/1` (RFC 8737 §3), and such
//! a connection is closed after the handshake.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use livecert_store::{AcmeChallenge, ChallengeKind, Store};
use rcgen::{CertificateParams, CustomExtension, KeyPair, PKCS_ECDSA_P256_SHA256};
use rustls::crypto::aws_lc_rs::sign::any_supported_type;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::sign::CertifiedKey;
use sha2::{Digest, Sha256};
use tracing::{debug, warn};

use crate::clock::{Clock, SystemClock};

/// The ALPN protocol of TLS-ALPN-01 (RFC 8737 §6.2).
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

/// How often each edge node reads the store's challenges.
pub const REFRESH_INTERVAL: Duration = Duration::from_millis(100);

/// How long the ACME worker waits after storing a challenge before the CA may validate it: two
/// reads of every node, so that any edge node the CA reaches answers.
pub const PROPAGATION: Duration = Duration::from_millis(250);

/// Challenges read from the store at most (a bound on the book whatever the table holds).
pub const MAX_CHALLENGES: usize = 10_000;

/// One challenge as the edge answers it.
#[derive(Clone)]
struct Answer {
    key_authorization: String,
    /// TLS-ALPN-01 only: the validation certificate for the domain.
    validation: Option<Arc<CertifiedKey>>,
}

#[derive(Default, Clone)]
struct Book {
    /// HTTP-01: token → key authorization.
    http: HashMap<String, Answer>,
    /// TLS-ALPN-01: domain (lower case) → the answer for it.
    alpn: HashMap<String, Answer>,
}

/// The challenges this edge answers, swapped whole.
#[derive(Default)]
pub struct ChallengeBook {
    current: RwLock<Arc<Book>>,
}

impl std::fmt::Debug for ChallengeBook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let book = self.load();
        f.debug_struct("ChallengeBook")
            .field("http", &book.http.len())
            .field("alpn", &book.alpn.len())
            .finish()
    }
}

impl ChallengeBook {
    fn load(&self) -> Arc<Book> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    fn swap(&self, book: Book) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(book);
    }

    /// The key authorization for HTTP-01 `token`, if this edge holds the challenge.
    pub fn http_answer(&self, token: &str) -> Option<String> {
        self.load()
            .http
            .get(token)
            .map(|a| a.key_authorization.clone())
    }

    /// The TLS-ALPN-01 validation certificate for `domain` (lower case), if this edge holds a
    /// challenge for it.
    pub fn alpn_answer(&self, domain: &str) -> Option<Arc<CertifiedKey>> {
        self.load()
            .alpn
            .get(domain)
            .and_then(|a| a.validation.clone())
    }

    /// Adds one challenge at once (the worker of this node stored it).
    pub fn insert(&self, challenge: &AcmeChallenge) {
        let mut book = (*self.load()).clone();
        add(&mut book, challenge, None);
        self.swap(book);
    }

    /// Replaces the book with `challenges` (the store's), keeping the validation certificates
    /// already made for unchanged TLS-ALPN-01 challenges.
    pub fn replace(&self, challenges: &[AcmeChallenge]) {
        let old = self.load();
        let mut book = Book::default();
        for challenge in challenges {
            add(&mut book, challenge, Some(&old));
        }
        self.swap(book);
    }
}

fn add(book: &mut Book, challenge: &AcmeChallenge, old: Option<&Book>) {
    match challenge.kind {
        ChallengeKind::Http01 => {
            book.http.insert(
                challenge.token.clone(),
                Answer {
                    key_authorization: challenge.key_authorization.clone(),
                    validation: None,
                },
            );
        }
        ChallengeKind::TlsAlpn01 => {
            let domain = challenge.domain.to_ascii_lowercase();
            let kept = old
                .and_then(|o| o.alpn.get(&domain))
                .filter(|a| a.key_authorization == challenge.key_authorization)
                .and_then(|a| a.validation.clone());
            let validation =
                kept.or_else(|| match validation_certificate(&domain, &challenge.key_authorization) {
                    Ok(key) => Some(Arc::new(key)),
                    Err(e) => {
                        warn!(domain = %domain, error = %e, "could not make the TLS-ALPN-01 certificate");
                        None
                    }
                });
            book.alpn.insert(
                domain,
                Answer {
                    key_authorization: challenge.key_authorization.clone(),
                    validation,
                },
            );
        }
    }
}

/// RFC 8737 §3: a self-signed certificate for exactly `domain` with the critical
/// `id-pe-acmeIdentifier` extension holding SHA-256(`key_authorization`), with a fresh P-256 key.
///
/// Errors: rcgen refuses the name, or the key does not load into rustls.
pub fn validation_certificate(
    domain: &str,
    key_authorization: &str,
) -> anyhow::Result<CertifiedKey> {
    let digest: [u8; 32] = Sha256::digest(key_authorization.as_bytes()).into();
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let mut params = CertificateParams::new(vec![domain.to_owned()])?;
    params
        .custom_extensions
        .push(CustomExtension::new_acme_identifier(&digest));
    let cert = params.self_signed(&key)?;
    let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let signing = any_supported_type(&der)?;
    Ok(CertifiedKey::new(vec![cert.der().clone()], signing))
}

/// Whether a ClientHello's ALPN list is a TLS-ALPN-01 validation: exactly `acme-tls/1`.
pub fn is_acme_validation<'a>(alpn: Option<impl Iterator<Item = &'a [u8]>>) -> bool {
    let Some(mut offered) = alpn else {
        return false;
    };
    offered.next() == Some(ACME_TLS_ALPN) && offered.next().is_none()
}

/// Reads the store's challenges into `book` every [`REFRESH_INTERVAL`], forever (the caller
/// aborts the task). A failed read keeps the book as it is and is logged once per outage.
pub async fn follow(store: Store, book: Arc<ChallengeBook>) {
    let mut ticker = tokio::time::interval(REFRESH_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        ticker.tick().await;
        let now = SystemClock.now();
        match store.acme_challenges(now, MAX_CHALLENGES).await {
            Ok(challenges) => {
                if std::mem::take(&mut failing) {
                    debug!("the edge reads the ACME challenges again");
                }
                book.replace(&challenges);
            }
            Err(e) => {
                if !failing {
                    warn!(error = %e, "the edge cannot read the ACME challenges; keeping the ones it has");
                    failing = true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn challenge(kind: ChallengeKind, token: &str, domain: &str) -> AcmeChallenge {
        AcmeChallenge {
            token: token.into(),
            domain: domain.into(),
            kind,
            key_authorization: format!("{token}.thumbprint"),
            order_id: 1,
            expires: i64::MAX,
        }
    }

    #[test]
    fn http_challenges_are_answered_by_token_until_replaced() {
        let book = ChallengeBook::default();
        book.insert(&challenge(ChallengeKind::Http01, "tok1", "a.example"));
        assert_eq!(book.http_answer("tok1").as_deref(), Some("tok1.thumbprint"));
        assert_eq!(book.http_answer("tok2"), None);
        book.replace(&[challenge(ChallengeKind::Http01, "tok2", "a.example")]);
        assert_eq!(book.http_answer("tok1"), None);
        assert_eq!(book.http_answer("tok2").as_deref(), Some("tok2.thumbprint"));
    }

    #[test]
    fn the_tls_alpn_certificate_carries_the_key_authorization_digest() {
        let book = ChallengeBook::default();
        book.insert(&challenge(ChallengeKind::TlsAlpn01, "tok", "Live.Example"));
        let key = book.alpn_answer("live.example").expect("answer");
        let (_, cert) = x509_parser::parse_x509_certificate(key.cert[0].as_ref()).expect("x509");
        let ext = cert
            .extensions()
            .iter()
            .find(|e| e.oid.to_id_string() == "1.3.6.1.5.5.7.1.31")
            .expect("acmeIdentifier");
        assert!(ext.critical);
        let digest: [u8; 32] = Sha256::digest(b"tok.thumbprint").into();
        // The extension's value is an OCTET STRING of the digest.
        assert_eq!(&ext.value[2..], &digest);
        assert_eq!(ext.value[..2], [0x04, 0x20]);
        let first = Arc::clone(&key);
        book.replace(&[challenge(ChallengeKind::TlsAlpn01, "tok", "live.example")]);
        let kept = book.alpn_answer("live.example").expect("kept");
        assert!(
            Arc::ptr_eq(&first, &kept),
            "an unchanged challenge keeps its certificate"
        );
    }

    #[test]
    fn only_an_alpn_list_of_exactly_acme_tls_is_a_validation() {
        let list = |protos: &[&'static [u8]]| protos.to_vec();
        assert!(is_acme_validation(Some(list(&[ACME_TLS_ALPN]).into_iter())));
        assert!(!is_acme_validation(Some(
            list(&[b"h2", ACME_TLS_ALPN]).into_iter()
        )));
        assert!(!is_acme_validation(Some(list(&[b"h2"]).into_iter())));
        assert!(!is_acme_validation(None::<std::vec::IntoIter<&[u8]>>));
    }
}
