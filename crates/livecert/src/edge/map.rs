//! The certificate map (spec/edge.md, "Certificate choice by SNI"): an immutable map from each
//! domain bound through the API to its record's chain and key, built from one
//! [`EdgeSnapshot`] and replaced whole ([`SharedMap::store`]) when the store changes. The resolver
//! ([`SniResolver`]) only reads it: no database access during a handshake.
//!
//! Names are compared lower case with one trailing dot removed ([`normalise`]); a name is looked
//! up as itself, then as the wildcard `*.<parent>` (one label), then not at all. The map is keyed
//! by the bound domains only, never by the names written inside certificates.
//!
//! Each bound domain is one [`Entry`]: its record, its origin and its leaf's notAfter. Each record
//! is one [`Record`], shared by its domains. Its signing key ([`CertifiedKey`]) is
//! built on the record's first handshake and cached; a rebuilt map reuses the records whose chain
//! and key did not change, caches included.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

use livecert_core::secret::Secret;
use livecert_store::{DomainStatus, EdgeSnapshot};
use rustls::crypto::aws_lc_rs::sign::any_supported_type;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tracing::warn;

use super::origin::Origin;

/// The record status the edge never serves.
pub const REVOKED: &str = "revoked";

/// What the edge serves as of one value of the change counter. Immutable once built.
#[derive(Debug, Default)]
pub struct CertMap {
    change_counter: u64,
    /// When this map was built, Unix seconds.
    built_at: i64,
    /// Bound domain (lower case; a wildcard is `*.parent`) → its entry.
    domains: HashMap<String, Entry>,
}

/// One bound domain as the edge serves it.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Its record (shared by every domain bound to it).
    pub record: Arc<Record>,
    /// Its origin (`livecert admin domain set --origin`); `None`: the edge's default.
    pub origin: Option<Origin>,
    /// The leaf's notAfter, Unix seconds.
    pub not_after: i64,
    /// HTTPS is required (`livecert admin domain set --https-required`): the plain-HTTP port
    /// redirects to HTTPS instead of forwarding.
    pub https_required: bool,
}

/// One certificate record as the edge holds it: the DER chain (leaf first) and the key, with the
/// signing key built on first use.
#[derive(Debug)]
pub struct Record {
    /// The record's CertId.
    pub cert_id: u64,
    chain_pem: String,
    chain: Vec<CertificateDer<'static>>,
    key_pem: Secret,
    certified: OnceLock<Option<Arc<CertifiedKey>>>,
}

/// A name as the edge compares it: lower case, one trailing dot removed.
pub fn normalise(name: &str) -> String {
    let name = name.strip_suffix('.').unwrap_or(name);
    name.to_ascii_lowercase()
}

impl CertMap {
    /// Builds the map from a snapshot: only `online` domains whose record is not `revoked`.
    /// Records of `previous` whose chain and key are unchanged are reused (with their cached
    /// signing keys). A record whose chain does not parse is left out, with a warning.
    pub fn build(snapshot: &EdgeSnapshot, previous: Option<&CertMap>) -> Self {
        let mut reusable: HashMap<u64, &Arc<Record>> = HashMap::new();
        if let Some(previous) = previous {
            for entry in previous.domains.values() {
                reusable.insert(entry.record.cert_id, &entry.record);
            }
        }
        let mut records: HashMap<u64, Arc<Record>> = HashMap::new();
        let mut domains = HashMap::with_capacity(snapshot.bindings.len());
        for binding in &snapshot.bindings {
            if binding.domain_status != DomainStatus::Online || binding.cert_status == REVOKED {
                continue;
            }
            let record = if let Some(r) = records.get(&binding.cert_id) {
                Arc::clone(r)
            } else {
                let reused = reusable.get(&binding.cert_id).filter(|r| {
                    r.chain_pem == binding.chain_pem && r.key_pem == binding.private_key_pem
                });
                let record = match reused {
                    Some(r) => Arc::clone(r),
                    None => match Record::new(
                        binding.cert_id,
                        &binding.chain_pem,
                        binding.private_key_pem.clone(),
                    ) {
                        Some(r) => Arc::new(r),
                        None => continue,
                    },
                };
                records.insert(binding.cert_id, Arc::clone(&record));
                record
            };
            let origin = binding
                .origin
                .as_deref()
                .and_then(|o| match Origin::parse(o) {
                    Ok(origin) => Some(origin),
                    Err(e) => {
                        warn!(domain = %binding.domain, error = %e, "stored origin does not parse: the default origin is used");
                        None
                    }
                });
            domains.insert(
                normalise(binding.domain.as_str()),
                Entry {
                    record,
                    origin,
                    not_after: binding.not_after,
                    https_required: binding.https_required,
                },
            );
        }
        Self {
            change_counter: snapshot.change_counter,
            built_at: unix_now(),
            domains,
        }
    }

    /// The change counter this map reflects.
    pub fn change_counter(&self) -> u64 {
        self.change_counter
    }

    /// When this map was built, Unix seconds.
    pub fn built_at(&self) -> i64 {
        self.built_at
    }

    /// Every bound domain with its entry, in no particular order.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &Entry)> {
        self.domains.iter().map(|(d, e)| (d.as_str(), e))
    }

    /// How many domains the map serves.
    pub fn len(&self) -> usize {
        self.domains.len()
    }

    /// Whether the map serves no domain.
    pub fn is_empty(&self) -> bool {
        self.domains.is_empty()
    }

    /// The bound domain that serves `name` (SNI or Host) and its entry: the exact domain, then
    /// the wildcard `*.<parent>`, else `None`.
    pub fn lookup(&self, name: &str) -> Option<(&str, &Entry)> {
        let name = normalise(name);
        if name.is_empty() || name.starts_with("*.") {
            return None;
        }
        if let Some((key, entry)) = self.domains.get_key_value(&name) {
            return Some((key.as_str(), entry));
        }
        let (_, parent) = name.split_once('.')?;
        if parent.is_empty() {
            return None;
        }
        self.domains
            .get_key_value(&format!("*.{parent}"))
            .map(|(key, entry)| (key.as_str(), entry))
    }
}

impl Record {
    fn new(cert_id: u64, chain_pem: &str, key_pem: Secret) -> Option<Self> {
        let chain: Result<Vec<_>, _> =
            CertificateDer::pem_slice_iter(chain_pem.as_bytes()).collect();
        match chain {
            Ok(chain) if !chain.is_empty() => Some(Self {
                cert_id,
                chain_pem: chain_pem.to_owned(),
                chain,
                key_pem,
                certified: OnceLock::new(),
            }),
            Ok(_) => {
                warn!(cert_id, "record has no certificate: not served");
                None
            }
            Err(e) => {
                warn!(cert_id, error = %e, "record's chain does not parse: not served");
                None
            }
        }
    }

    /// The chain, leaf first.
    pub fn chain(&self) -> &[CertificateDer<'static>] {
        &self.chain
    }

    /// The signing key with its chain, built on first call and cached; `None` (logged once) if
    /// the key does not load.
    pub fn certified_key(&self) -> Option<Arc<CertifiedKey>> {
        self.certified
            .get_or_init(|| {
                let built = PrivateKeyDer::from_pem_slice(self.key_pem.expose())
                    .map_err(|e| e.to_string())
                    .and_then(|der| any_supported_type(&der).map_err(|e| e.to_string()))
                    .map(|key| Arc::new(CertifiedKey::new(self.chain.clone(), key)));
                match built {
                    Ok(k) => Some(k),
                    Err(e) => {
                        warn!(cert_id = self.cert_id, error = %e, "record's key does not load: not served");
                        None
                    }
                }
            })
            .clone()
    }
}

/// The current [`CertMap`], replaced whole. Readers take a clone of the `Arc` and never wait
/// for a build.
#[derive(Debug, Default)]
pub struct SharedMap {
    current: RwLock<Arc<CertMap>>,
}

impl SharedMap {
    /// A shared map holding `map`.
    pub fn new(map: CertMap) -> Self {
        Self {
            current: RwLock::new(Arc::new(map)),
        }
    }

    /// The current map.
    pub fn load(&self) -> Arc<CertMap> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Replaces the map.
    pub fn store(&self, map: CertMap) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(map);
    }
}

/// rustls's certificate choice: the SNI looked up in the current map. No SNI, or no entry: the
/// operator's default certificate if there is one (`--default-cert`), else `None`, and rustls
/// ends the handshake with `access_denied` before any certificate; each such refusal is counted
/// in `refused` (the metrics' `outcome="refused"`). A bound domain is never answered with the
/// default certificate, nor an unbound name with any tenant's.
#[derive(Debug)]
pub struct SniResolver {
    map: Arc<SharedMap>,
    refused: Arc<AtomicU64>,
    default: Option<Arc<CertifiedKey>>,
}

impl SniResolver {
    /// A resolver over `map`, counting refusals in `refused`.
    pub fn new(map: Arc<SharedMap>, refused: Arc<AtomicU64>) -> Self {
        Self {
            map,
            refused,
            default: None,
        }
    }

    /// The same resolver, answering names the map does not serve with `default`.
    #[must_use]
    pub fn with_default(mut self, default: Option<Arc<CertifiedKey>>) -> Self {
        self.default = default;
        self
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let map = self.map.load();
        let Some((_, entry)) = client_hello.server_name().and_then(|n| map.lookup(n)) else {
            if self.default.is_none() {
                self.refused.fetch_add(1, Ordering::Relaxed);
            }
            return self.default.clone();
        };
        entry.record.certified_key()
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map_of(names: &[&str]) -> CertMap {
        let record = Arc::new(Record {
            cert_id: 1,
            chain_pem: String::new(),
            chain: vec![CertificateDer::from(vec![0u8])],
            key_pem: Secret::new(Vec::new()),
            certified: OnceLock::new(),
        });
        CertMap {
            change_counter: 1,
            built_at: 0,
            domains: names
                .iter()
                .map(|n| {
                    let entry = Entry {
                        record: Arc::clone(&record),
                        origin: None,
                        not_after: 0,
                        https_required: false,
                    };
                    ((*n).to_owned(), entry)
                })
                .collect(),
        }
    }

    #[test]
    fn names_are_lower_cased_and_lose_one_trailing_dot() {
        assert_eq!(normalise("Live.Example.COM."), "live.example.com");
        assert_eq!(normalise("a.example.com.."), "a.example.com.");
    }

    #[test]
    fn exact_then_wildcard_of_one_label_then_nothing() {
        let map = map_of(&["a.example.com", "*.example.com"]);
        assert_eq!(
            map.lookup("A.EXAMPLE.com.").map(|m| m.0),
            Some("a.example.com")
        );
        assert_eq!(
            map.lookup("b.example.com").map(|m| m.0),
            Some("*.example.com")
        );
        assert_eq!(map.lookup("x.b.example.com").map(|m| m.0), None);
        assert_eq!(map.lookup("example.com").map(|m| m.0), None);
        assert_eq!(map.lookup("*.example.com").map(|m| m.0), None);
        assert_eq!(map.lookup("").map(|m| m.0), None);
        assert_eq!(map.lookup("com").map(|m| m.0), None);
    }
}
