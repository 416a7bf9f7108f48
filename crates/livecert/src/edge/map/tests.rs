//! Tests of the SNI map: names, exact then one-label wildcard lookup, which domains are served,
//! deltas, and each record's sealed key (opened once, kept across updates, refused alone).

use livecert_core::names::DomainName;
use livecert_core::secret::{MasterKey, AAD_CERT_KEY};
use livecert_store::EdgeDelta;
use rcgen::{CertificateParams, KeyPair};

use super::*;

/// Seals keys as the store does and opens them as the edge does.
struct Keys {
    master: Arc<MasterKey>,
}

impl Keys {
    fn new() -> Self {
        Self {
            master: Arc::new(MasterKey::generate().unwrap().0),
        }
    }

    fn opener(&self) -> CertKeyOpener {
        CertKeyOpener::new(Arc::clone(&self.master))
    }

    /// A record `cert_id` with a new self-signed P-256 certificate for `names`.
    fn record(&self, cert_id: u64, names: &[&str]) -> EdgeRecord {
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let cert = CertificateParams::new(names)
            .unwrap()
            .self_signed(&key)
            .unwrap();
        EdgeRecord {
            cert_id,
            status: "success".to_owned(),
            not_after: 2_000_000_000,
            chain_der: vec![cert.der().to_vec()],
            key_sealed: SealedKey::new(
                self.master
                    .seal(AAD_CERT_KEY, key.serialize_pem().as_bytes())
                    .unwrap(),
            ),
        }
    }
}

fn binding(name: &str, record: Option<&EdgeRecord>) -> EdgeBinding {
    EdgeBinding {
        domain: DomainName::parse(name).unwrap(),
        domain_status: DomainStatus::Online,
        origin: None,
        https_required: false,
        record: record.cloned(),
    }
}

fn snapshot(change_counter: u64, bindings: Vec<EdgeBinding>) -> EdgeSnapshot {
    EdgeSnapshot {
        change_counter,
        bindings,
    }
}

fn delta(change_counter: u64, changed: Vec<EdgeBinding>, removed: &[&str]) -> EdgeDelta {
    EdgeDelta {
        change_counter,
        changed,
        removed: removed
            .iter()
            .map(|n| DomainName::parse(n).unwrap())
            .collect(),
    }
}

fn record_of<'m>(map: &'m CertMap, name: &str) -> &'m Arc<Record> {
    map.lookup(name)
        .and_then(|(_, e)| e.record.as_ref())
        .unwrap_or_else(|| panic!("{name} has no record"))
}

fn leaf(map: &CertMap, name: &str) -> Option<Vec<u8>> {
    map.certified_key(name)
        .map(|k| k.end_entity_cert().unwrap().to_vec())
}

#[test]
fn names_are_lower_cased_and_lose_one_trailing_dot() {
    assert_eq!(normalise("Live.Example.COM."), "live.example.com");
    assert_eq!(normalise("a.example.com.."), "a.example.com.");
}

#[test]
fn exact_then_wildcard_of_one_label_then_nothing() {
    let keys = Keys::new();
    let r = keys.record(1, &["a.example.com", "*.example.com"]);
    let map = CertMap::build(
        snapshot(
            1,
            vec![
                binding("a.example.com", Some(&r)),
                binding("*.example.com", Some(&r)),
            ],
        ),
        None,
        keys.opener(),
    );
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
    assert_eq!(map.records(), 1, "one record shared by both domains");
    assert_eq!(leaf(&map, "b.example.com"), Some(r.chain_der[0].clone()));
}

/// HTTPS off, revoked and certificate-less records are entries without a record, and an
/// offline domain an entry without anything: the resolver refuses them like unknown names —
/// without falling through to the wildcard of another domain.
#[test]
fn only_online_domains_and_entries_without_a_record_are_not_served() {
    let keys = Keys::new();
    let wild = keys.record(1, &["*.example.com"]);
    let mut revoked = keys.record(2, &["revoked.example.com"]);
    revoked.status = REVOKED.to_owned();
    let mut empty = keys.record(3, &["empty.example.com"]);
    empty.chain_der.clear();
    let mut offline = binding("offline.example.com", Some(&keys.record(4, &["x"])));
    offline.domain_status = DomainStatus::Offline;
    let map = CertMap::build(
        snapshot(
            9,
            vec![
                binding("*.example.com", Some(&wild)),
                binding("plain.example.com", None),
                binding("revoked.example.com", Some(&revoked)),
                binding("empty.example.com", Some(&empty)),
                offline,
            ],
        ),
        None,
        keys.opener(),
    );
    assert_eq!((map.len(), map.served(), map.records()), (5, 1, 1));
    assert_eq!(map.change_counter(), 9);
    let (_, stopped) = map.lookup("offline.example.com").unwrap();
    assert!(!stopped.online && stopped.record.is_none());
    assert!(map.certified_key("offline.example.com").is_none());
    for name in [
        "plain.example.com",
        "revoked.example.com",
        "empty.example.com",
    ] {
        let (domain, entry) = map.lookup(name).unwrap();
        assert_eq!(domain, name);
        assert!(entry.record.is_none(), "{name}");
        assert!(map.certified_key(name).is_none(), "{name}");
    }
    assert!(map.certified_key("other.example.com").is_some());
}

#[test]
fn a_delta_adds_changes_and_removes_domains_and_wildcards() {
    let keys = Keys::new();
    let a = keys.record(1, &["a.example.com"]);
    let map = CertMap::build(
        snapshot(1, vec![binding("a.example.com", Some(&a))]),
        None,
        keys.opener(),
    );
    let wild = keys.record(2, &["*.example.com"]);
    let added = map.apply(delta(
        2,
        vec![
            binding("*.example.com", Some(&wild)),
            binding("plain.example.com", None),
        ],
        &[],
    ));
    assert_eq!(added.change_counter(), 2);
    assert_eq!((added.len(), added.served()), (3, 2));
    assert_eq!(
        leaf(&added, "b.example.com"),
        Some(wild.chain_der[0].clone())
    );
    assert!(leaf(&added, "plain.example.com").is_none());
    // The map it came from is unchanged.
    assert_eq!((map.len(), map.change_counter()), (1, 1));
    assert!(map.lookup("b.example.com").is_none());

    // Changed: a rotated, plain.example.com gets HTTPS and an origin, the wildcard goes.
    let rotated = keys.record(1, &["a.example.com"]);
    let plain = keys.record(3, &["plain.example.com"]);
    let mut with_origin = binding("plain.example.com", Some(&plain));
    with_origin.origin = Some("http://127.0.0.1:8081".to_owned());
    with_origin.https_required = true;
    let changed = added.apply(delta(
        5,
        vec![binding("a.example.com", Some(&rotated)), with_origin],
        &["*.example.com"],
    ));
    assert_eq!(
        (changed.len(), changed.served(), changed.records()),
        (2, 2, 2)
    );
    assert_eq!(
        leaf(&changed, "a.example.com"),
        Some(rotated.chain_der[0].clone())
    );
    assert_eq!(leaf(&added, "a.example.com"), Some(a.chain_der[0].clone()));
    let (_, entry) = changed.lookup("plain.example.com").unwrap();
    assert!(entry.https_required);
    assert_eq!(
        entry.origin,
        Some(Origin::parse("http://127.0.0.1:8081").unwrap())
    );
    assert!(changed.lookup("b.example.com").is_none());

    // Stopped (offline) and deleted: gone; an unknown removal changes nothing.
    let mut stopped = binding("a.example.com", Some(&rotated));
    stopped.domain_status = DomainStatus::Offline;
    let gone = changed.apply(delta(
        7,
        vec![stopped],
        &["plain.example.com", "never.example.com"],
    ));
    assert_eq!(gone.len(), 1, "the stopped domain keeps an entry");
    assert!(!gone.lookup("a.example.com").unwrap().1.online);
    assert_eq!((gone.served(), gone.records()), (0, 0));
}

/// A record shared by several domains is one `Arc`, and it stays the same (its signing key
/// cached) across deltas that do not change its content — a domain's settings, another domain
/// bound to it, a snapshot reload; a content change replaces it for every domain bound.
#[test]
fn an_unchanged_record_keeps_its_cached_key_across_updates() {
    let keys = Keys::new();
    let ab = keys.record(7, &["a.example.com", "b.example.com", "c.example.com"]);
    let map = CertMap::build(
        snapshot(
            1,
            vec![
                binding("a.example.com", Some(&ab)),
                binding("b.example.com", Some(&ab)),
            ],
        ),
        None,
        keys.opener(),
    );
    assert!(Arc::ptr_eq(
        record_of(&map, "a.example.com"),
        record_of(&map, "b.example.com")
    ));
    assert!(!record_of(&map, "a.example.com").is_loaded());
    let key = map.certified_key("a.example.com").unwrap();
    assert!(record_of(&map, "b.example.com").is_loaded());

    let mut b = binding("b.example.com", Some(&ab));
    b.origin = Some("http://127.0.0.1:1".to_owned());
    let next = map.apply(delta(2, vec![b, binding("c.example.com", Some(&ab))], &[]));
    assert_eq!(next.records(), 1);
    for name in ["a.example.com", "b.example.com", "c.example.com"] {
        assert!(Arc::ptr_eq(
            record_of(&next, name),
            record_of(&map, "a.example.com")
        ));
        assert!(Arc::ptr_eq(&next.certified_key(name).unwrap(), &key));
    }

    // A whole reload with the same content reuses it too.
    let reloaded = CertMap::build(
        snapshot(
            2,
            vec![
                binding("a.example.com", Some(&ab)),
                binding("c.example.com", Some(&ab)),
            ],
        ),
        Some(&next),
        keys.opener(),
    );
    assert!(Arc::ptr_eq(
        &reloaded.certified_key("c.example.com").unwrap(),
        &key
    ));

    // The content changes (fanned out to every domain bound): one new record for all.
    let renewed = keys.record(7, &["a.example.com", "b.example.com", "c.example.com"]);
    let rotated = next.apply(delta(
        3,
        ["a.example.com", "b.example.com", "c.example.com"]
            .iter()
            .map(|n| binding(n, Some(&renewed)))
            .collect(),
        &[],
    ));
    assert_eq!(rotated.records(), 1);
    let new_key = rotated.certified_key("b.example.com").unwrap();
    assert!(!Arc::ptr_eq(&new_key, &key));
    for name in ["a.example.com", "c.example.com"] {
        assert!(Arc::ptr_eq(&rotated.certified_key(name).unwrap(), &new_key));
    }
    assert_eq!(
        leaf(&rotated, "a.example.com"),
        Some(renewed.chain_der[0].clone())
    );

    // Unbinding every domain releases the record.
    let released = rotated.apply(delta(
        4,
        ["a.example.com", "b.example.com", "c.example.com"]
            .iter()
            .map(|n| binding(n, None))
            .collect(),
        &[],
    ));
    assert_eq!(
        (released.len(), released.served(), released.records()),
        (3, 0, 0)
    );
}

/// A key that does not open (another master key) is not served, and does not stop the others.
#[test]
fn a_key_that_does_not_open_is_refused_alone() {
    let keys = Keys::new();
    let other = Keys::new();
    let good = keys.record(1, &["good.example.com"]);
    let foreign = other.record(2, &["bad.example.com"]);
    let map = CertMap::build(
        snapshot(
            1,
            vec![
                binding("good.example.com", Some(&good)),
                binding("bad.example.com", Some(&foreign)),
            ],
        ),
        None,
        keys.opener(),
    );
    assert!(map.certified_key("bad.example.com").is_none());
    assert!(map.certified_key("good.example.com").is_some());
}
