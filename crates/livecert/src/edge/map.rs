//! The certificate map (spec/edge.md, "Certificate choice by SNI"): an immutable map from each
//! domain to what the edge serves for it, built from one [`EdgeSnapshot`] at start, then
//! brought forward by applying each [`EdgeDelta`] ([`CertMap::apply`]) into a new map that is
//! swapped in whole ([`SharedMap::store`]). The resolver ([`SniResolver`]) only reads it: no
//! database access during a handshake.
//!
//! Names are compared lower case with one trailing dot removed ([`normalise`]); a name is looked
//! up as itself, then as the wildcard `*.<parent>` (one label), then not at all. The map is keyed
//! by the bound domains only, never by the names written inside certificates.
//!
//! Each domain is one [`Entry`]: whether it is online, its origin, its `https_required` flag and,
//! when it is served over TLS, its [`Record`]; a domain with HTTPS off (or whose record is revoked
//! or does not load) has no record, and an offline domain (StopLiveDomain) has neither record nor
//! origin: the resolver refuses both exactly as an unknown name — they do not fall through to a
//! wildcard, since the name is another domain's, perhaps another tenant's. The plain-HTTP port
//! serves online entries, with a record or not. A record holds the DER chain and the still-sealed private key; its
//! signing key ([`CertifiedKey`]) is built on the record's first handshake (the key opened with
//! the store's [`CertKeyOpener`]) and cached. A record is shared by the domains bound to it, and
//! kept, cache included, by every new map while its chain and sealed key are unchanged.
//!
//! The maps are persistent hash maps (`imbl`): a new map shares all but the changed paths with the
//! one before, so applying a delta of one domain costs microseconds whatever the size of the map.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

use livecert_store::{
    CertKeyOpener, DomainStatus, EdgeBinding, EdgeDelta, EdgeRecord, EdgeSnapshot, SealedKey,
};
use rustls::crypto::aws_lc_rs::sign::any_supported_type;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tracing::warn;

use super::origin::Origin;

/// The record status the edge never serves.
pub const REVOKED: &str = "revoked";

/// What the edge serves as of one value of the change counter. Immutable once built; cloning it
/// is cheap (the maps are shared).
#[derive(Debug, Clone)]
pub struct CertMap {
    change_counter: u64,
    /// When this map was built, Unix seconds.
    built_at: i64,
    /// Domain (lower case; a wildcard is `*.parent`) → its entry.
    domains: imbl::HashMap<Arc<str>, Arc<Entry>>,
    /// CertId → the record its domains share, and how many entries of this map hold it.
    records: imbl::HashMap<u64, (Arc<Record>, usize)>,
    /// How many entries have a record (are served over TLS).
    served: usize,
    /// Opens the records' sealed keys on their first handshake.
    opener: CertKeyOpener,
}

/// One domain as the edge serves it.
#[derive(Debug)]
pub struct Entry {
    /// The domain is `online`; an offline entry (StopLiveDomain) only keeps its name from falling
    /// through to a wildcard, and has no record and no origin.
    pub online: bool,
    /// Its record (shared by every domain bound to it); `None`: not served over TLS (HTTPS off,
    /// or a record that is revoked or does not load).
    pub record: Option<Arc<Record>>,
    /// Its origin (`livecert admin domain set --origin`); `None`: the edge's default.
    pub origin: Option<Origin>,
    /// HTTPS is required (`livecert admin domain set --https-required`): the plain-HTTP port
    /// redirects to HTTPS instead of forwarding.
    pub https_required: bool,
}

/// One certificate record as the edge holds it: the DER chain (leaf first) and the sealed key,
/// with the signing key built on first use.
#[derive(Debug)]
pub struct Record {
    /// The record's CertId.
    pub cert_id: u64,
    /// The leaf's notAfter, Unix seconds.
    pub not_after: i64,
    chain: Vec<CertificateDer<'static>>,
    key_sealed: SealedKey,
    certified: OnceLock<Option<Arc<CertifiedKey>>>,
}

/// A name as the edge compares it: lower case, one trailing dot removed.
pub fn normalise(name: &str) -> String {
    let name = name.strip_suffix('.').unwrap_or(name);
    name.to_ascii_lowercase()
}

impl CertMap {
    /// An empty map at change counter 0, whose records' keys `opener` opens.
    pub fn empty(opener: CertKeyOpener) -> Self {
        Self {
            change_counter: 0,
            built_at: unix_now(),
            domains: imbl::HashMap::new(),
            records: imbl::HashMap::new(),
            served: 0,
            opener,
        }
    }

    /// Builds the map from a whole snapshot: an entry per domain (an offline one with neither
    /// record nor origin), with its record unless HTTPS is off or the record is `revoked` or its chain is empty (warned). Records of
    /// `previous` whose chain and sealed key are unchanged are reused, with their cached signing
    /// keys. The snapshot's chains and keys are moved in, not copied.
    pub fn build(
        snapshot: EdgeSnapshot,
        previous: Option<&CertMap>,
        opener: CertKeyOpener,
    ) -> Self {
        let mut map = Self::empty(opener);
        map.change_counter = snapshot.change_counter;
        let reusable = previous.map(|p| &p.records);
        for binding in snapshot.bindings {
            map.upsert(binding, reusable);
        }
        map
    }

    /// The map brought forward by `delta` (from [`livecert_store::Store::edge_changes_since`]
    /// this map's counter): its removed domains taken out, its changed domains replaced as
    /// [`CertMap::build`] would make them, every other entry and record shared with this map.
    #[must_use]
    pub fn apply(&self, delta: EdgeDelta) -> Self {
        let mut next = self.clone();
        next.change_counter = delta.change_counter;
        next.built_at = unix_now();
        for name in &delta.removed {
            next.remove(&normalise(name.as_str()));
        }
        for binding in delta.changed {
            next.upsert(binding, None);
        }
        next
    }

    /// The change counter this map reflects.
    pub fn change_counter(&self) -> u64 {
        self.change_counter
    }

    /// When this map was built or last brought forward, Unix seconds.
    pub fn built_at(&self) -> i64 {
        self.built_at
    }

    /// Every domain with its entry (offline ones included), in no particular order.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &Entry)> {
        self.domains.iter().map(|(d, e)| (&**d, &**e))
    }

    /// How many domains the map holds (online or not, served over TLS or not).
    pub fn len(&self) -> usize {
        self.domains.len()
    }

    /// Whether the map holds no domain.
    pub fn is_empty(&self) -> bool {
        self.domains.is_empty()
    }

    /// How many domains are served over TLS (entries with a record).
    pub fn served(&self) -> usize {
        self.served
    }

    /// How many distinct records the entries hold.
    pub fn records(&self) -> usize {
        self.records.len()
    }

    /// The handle that opens the records' sealed keys.
    pub fn opener(&self) -> &CertKeyOpener {
        &self.opener
    }

    /// The domain that answers for `name` (SNI or Host) and its entry: the exact domain,
    /// then the wildcard `*.<parent>`, else `None`. The entry may be offline, or have no record
    /// (not served over TLS).
    pub fn lookup(&self, name: &str) -> Option<(&str, &Entry)> {
        let name = normalise(name);
        if name.is_empty() || name.starts_with("*.") {
            return None;
        }
        if let Some((key, entry)) = self.domains.get_key_value(name.as_str()) {
            return Some((&**key, &**entry));
        }
        let (_, parent) = name.split_once('.')?;
        if parent.is_empty() {
            return None;
        }
        self.domains
            .get_key_value(format!("*.{parent}").as_str())
            .map(|(key, entry)| (&**key, &**entry))
    }

    /// The signing key for `name` (SNI), built on its record's first handshake; `None` when no
    /// entry answers for the name, the entry has no record, or the key does not load.
    pub fn certified_key(&self, name: &str) -> Option<Arc<CertifiedKey>> {
        let (_, entry) = self.lookup(name)?;
        entry.record.as_ref()?.certified_key(&self.opener)
    }

    /// Replaces (or adds, or with an offline status removes) the entry of `binding`'s domain.
    fn upsert(
        &mut self,
        binding: EdgeBinding,
        reusable: Option<&imbl::HashMap<u64, (Arc<Record>, usize)>>,
    ) {
        let name = normalise(binding.domain.as_str());
        self.remove(&name);
        if binding.domain_status != DomainStatus::Online {
            let stopped = Entry {
                online: false,
                record: None,
                origin: None,
                https_required: false,
            };
            self.domains.insert(Arc::from(name), Arc::new(stopped));
            return;
        }
        let record = binding
            .record
            .and_then(|record| self.hold_record(record, reusable));
        if record.is_some() {
            self.served += 1;
        }
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
        let entry = Entry {
            online: true,
            record,
            origin,
            https_required: binding.https_required,
        };
        self.domains.insert(Arc::from(name), Arc::new(entry));
    }

    /// Takes the entry of `name` out, releasing its record.
    fn remove(&mut self, name: &str) {
        let Some(entry) = self.domains.remove(name) else {
            return;
        };
        let Some(record) = &entry.record else {
            return;
        };
        self.served -= 1;
        let cert_id = record.cert_id;
        let unused = match self.records.get_mut(&cert_id) {
            // A record replaced in the index by a newer content of the same CertId is no longer
            // counted: only the current one is.
            Some((held, users)) if Arc::ptr_eq(held, record) => {
                *users -= 1;
                *users == 0
            }
            _ => false,
        };
        if unused {
            self.records.remove(&cert_id);
        }
    }

    /// The record to serve for `record`, counted as held once more: the one this map (or
    /// `reusable`) already holds for its CertId if its content is the same, else a new one. `None`
    /// for a revoked record or one without a certificate (warned).
    fn hold_record(
        &mut self,
        record: EdgeRecord,
        reusable: Option<&imbl::HashMap<u64, (Arc<Record>, usize)>>,
    ) -> Option<Arc<Record>> {
        if record.status == REVOKED {
            return None;
        }
        let cert_id = record.cert_id;
        if let Some((held, users)) = self.records.get_mut(&cert_id) {
            if held.same_content(&record) {
                *users += 1;
                return Some(Arc::clone(held));
            }
        }
        let held = match reusable.and_then(|r| r.get(&cert_id)) {
            Some((previous, _)) if previous.same_content(&record) => Arc::clone(previous),
            _ => Arc::new(Record::new(record)?),
        };
        self.records.insert(cert_id, (Arc::clone(&held), 1));
        Some(held)
    }
}

impl Record {
    /// A record from the store's; `None` (warned) if it has no certificate.
    fn new(record: EdgeRecord) -> Option<Self> {
        if record.chain_der.is_empty() {
            warn!(
                cert_id = record.cert_id,
                "record has no certificate: not served"
            );
            return None;
        }
        Some(Self {
            cert_id: record.cert_id,
            not_after: record.not_after,
            chain: record
                .chain_der
                .into_iter()
                .map(CertificateDer::from)
                .collect(),
            key_sealed: record.key_sealed,
            certified: OnceLock::new(),
        })
    }

    /// Whether `record` has this record's chain, sealed key and notAfter.
    fn same_content(&self, record: &EdgeRecord) -> bool {
        self.key_sealed == record.key_sealed
            && self.not_after == record.not_after
            && self.chain.len() == record.chain_der.len()
            && self
                .chain
                .iter()
                .zip(&record.chain_der)
                .all(|(held, new)| held.as_ref() == new.as_slice())
    }

    /// The chain, leaf first.
    pub fn chain(&self) -> &[CertificateDer<'static>] {
        &self.chain
    }

    /// Whether the signing key has been built (the record had its first handshake).
    pub fn is_loaded(&self) -> bool {
        self.certified.get().is_some()
    }

    /// The signing key with its chain, built on first call (the sealed key opened with `opener`)
    /// and cached; `None` (logged once) if the key does not open or load.
    pub fn certified_key(&self, opener: &CertKeyOpener) -> Option<Arc<CertifiedKey>> {
        self.certified
            .get_or_init(|| {
                let built = opener
                    .open(&self.key_sealed)
                    .map_err(|e| e.to_string())
                    .and_then(|pem| {
                        PrivateKeyDer::from_pem_slice(pem.expose()).map_err(|e| e.to_string())
                    })
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
#[derive(Debug)]
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

/// rustls's certificate choice: the SNI looked up in the current map. No SNI, no entry, or an
/// entry without a record (HTTPS off, revoked): the operator's default certificate if there is one (`--default-cert`), else `None`, and rustls
/// ends the handshake with `access_denied` before any certificate; each such refusal is counted
/// in `refused` (the metrics' `outcome="refused"`). A bound domain is never answered with the
/// default certificate, nor an unbound name with any tenant's.
#[derive(Debug)]
pub struct SniResolver {
    map: Arc<SharedMap>,
    refused: Arc<AtomicU64>,
    default: Option<Arc<CertifiedKey>>,
    challenges: Option<Arc<super::challenges::ChallengeBook>>,
}

impl SniResolver {
    /// A resolver over `map`, counting refusals in `refused`.
    pub fn new(map: Arc<SharedMap>, refused: Arc<AtomicU64>) -> Self {
        Self {
            map,
            refused,
            default: None,
            challenges: None,
        }
    }

    /// The same resolver, answering a TLS-ALPN-01 validation (a ClientHello offering exactly
    /// `acme-tls/1`, RFC 8737) for a domain `challenges` holds with its validation certificate.
    #[must_use]
    pub fn with_challenges(
        mut self,
        challenges: Option<Arc<super::challenges::ChallengeBook>>,
    ) -> Self {
        self.challenges = challenges;
        self
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
        if let (Some(book), Some(name)) = (&self.challenges, client_hello.server_name()) {
            if super::challenges::is_acme_validation(client_hello.alpn()) {
                if let Some(validation) = book.alpn_answer(&normalise(name)) {
                    return Some(validation);
                }
            }
        }
        let map = self.map.load();
        let Some(record) = client_hello
            .server_name()
            .and_then(|n| map.lookup(n))
            .and_then(|(_, entry)| entry.record.as_ref())
        else {
            if self.default.is_none() {
                self.refused.fetch_add(1, Ordering::Relaxed);
            }
            return self.default.clone();
        };
        record.certified_key(map.opener())
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests;
