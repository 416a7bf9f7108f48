//! What every case needs: the [`Backend`] a case runs against, test certificates made with
//! rcgen, and small builders.
//!
//! A backend is a factory: [`Backend::open`] opens a [`Store`] on the backend's one database
//! (opening again reopens the same data; [`Backend::open_with_key`] with another master key), and
//! the hooks that must reach under the API — injecting a failure, reading the bytes at rest and
//! dumping every row — are the backend's to implement. The
//! SQLite backend is here; a PostgreSQL backend implements the same trait and runs the same cases.

use std::path::PathBuf;
use std::sync::Arc;

use aws_lc_rs::digest::{digest, SHA256};
use livecert_core::cert::{CertFacts, CheckedUpload, KeyAlgorithm};
use livecert_core::names::{CertName, DomainName};
use livecert_core::secret::{MasterKey, Secret};
use livecert_store::{AccountId, NewDomain, Store};
use rcgen::{CertificateParams, DnType, KeyPair, PublicKeyData};

/// A backend the suite runs against.
pub trait Backend: Send + Sync {
    /// Opens a store on this backend's database (the same data every time).
    fn open(&self) -> Store;
    /// Opens a store on the same database with another master key.
    fn open_with_key(&self, master_key: MasterKey) -> Store;
    /// Makes every later insertion of a library record named `cert_name` fail inside the database
    /// (a trigger; the product has no test hooks).
    fn inject_insert_failure(&self, cert_name: &str);
    /// Every byte the backend keeps at rest (files, WAL), after the store flushed what it could.
    fn raw_bytes(&self) -> Vec<u8>;
    /// Every row of every table (sequences and the change counter included), in a stable order
    /// and text form: equal dumps mean equal content.
    fn dump(&self) -> String;
}

/// SQLite in a fresh temporary directory.
pub struct Sqlite {
    dir: tempfile::TempDir,
    master_key: Secret,
}

impl Sqlite {
    /// A fresh, empty database with a new master key.
    pub fn new() -> Self {
        let (_, master_key) = MasterKey::generate().unwrap();
        Self {
            dir: tempfile::tempdir().unwrap(),
            master_key,
        }
    }

    fn db(&self) -> PathBuf {
        self.dir.path().join("livecert.db")
    }
}

impl Backend for Sqlite {
    fn open(&self) -> Store {
        let key = MasterKey::from_base64(self.master_key.expose_str().unwrap()).unwrap();
        self.open_with_key(key)
    }

    fn open_with_key(&self, master_key: MasterKey) -> Store {
        Store::open_sqlite(&self.db(), Arc::new(master_key)).unwrap()
    }

    fn inject_insert_failure(&self, cert_name: &str) {
        let conn = rusqlite::Connection::open(self.db()).unwrap();
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .unwrap();
        conn.execute_batch(&format!(
            "CREATE TRIGGER inject_failure BEFORE INSERT ON certificates \
             WHEN NEW.cert_name = '{}' BEGIN SELECT RAISE(ABORT, 'injected'); END",
            cert_name.replace('\'', "''")
        ))
        .unwrap();
    }

    fn dump(&self) -> String {
        use std::fmt::Write as _;
        let conn = rusqlite::Connection::open_with_flags(
            self.db(),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap();
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .unwrap();
        let tables: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let mut out = String::new();
        for table in tables {
            let _ = writeln!(out, "[{table}]");
            let mut stmt = conn
                .prepare(&format!("SELECT * FROM \"{table}\" ORDER BY rowid"))
                .unwrap();
            let columns = stmt.column_count();
            let mut rows = stmt.query([]).unwrap();
            while let Some(row) = rows.next().unwrap() {
                let values: Vec<rusqlite::types::Value> =
                    (0..columns).map(|i| row.get(i).unwrap()).collect();
                let _ = writeln!(out, "{values:?}");
            }
        }
        out
    }

    fn raw_bytes(&self) -> Vec<u8> {
        let mut all = Vec::new();
        for entry in std::fs::read_dir(self.dir.path()).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                all.extend(std::fs::read(path).unwrap());
            }
        }
        all
    }
}

/// A test certificate: self-signed, ECDSA P-256, for `names` (the first is also the CN).
pub fn upload(names: &[&str]) -> CheckedUpload {
    let key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name.push(DnType::CommonName, names[0]);
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&[0x01, 0x2a]));
    let cert = params.self_signed(&key).unwrap();
    let der = cert.der().to_vec();
    CheckedUpload {
        chain_pem: cert.pem().replace("\r\n", "\n"),
        facts: CertFacts {
            fingerprint_sha256: sha256_hex(&der),
            spki_sha256: sha256_hex(&key.subject_public_key_info()),
            subject_cn: Some(names[0].to_owned()),
            dns_sans: names.iter().map(|n| n.to_ascii_lowercase()).collect(),
            issuer_cn: Some(names[0].to_owned()),
            issuer_org: None,
            serial_hex: "12a".to_owned(),
            // rcgen's default validity: 1975-01-01 to 4096-01-01.
            not_before: 157_766_400,
            not_after: 67_706_294_400,
            key_algorithm: KeyAlgorithm::EcdsaP256,
            key_bits: 256,
        },
        chain_der: vec![der],
        private_key_pem: Secret::new(key.serialize_pem().into_bytes()),
    }
}

/// The same leaf as `original` with another chain text (an extra intermediate block appended):
/// other content, same leaf fingerprint.
pub fn same_leaf_other_chain(original: &CheckedUpload) -> CheckedUpload {
    let extra = upload(&["intermediate.test"]);
    let mut changed = original.clone();
    changed.chain_pem.push_str(&extra.chain_pem);
    changed.chain_der.push(extra.chain_der[0].clone());
    changed
}

/// A domain name (panics on bad test input).
pub fn dn(name: &str) -> DomainName {
    DomainName::parse(name).unwrap()
}

/// A CertName (panics on bad test input).
pub fn cn(name: &str) -> CertName {
    CertName::parse(name).unwrap()
}

/// AddLiveDomain parameters for `name`.
pub fn new_domain(name: &str) -> NewDomain {
    NewDomain {
        name: dn(name),
        live_domain_type: "liveVideo".into(),
        region: "cn-shanghai".into(),
        scope: "domestic".into(),
        check_url: None,
        top_level_domain: None,
        resource_group_id: None,
    }
}

/// A new account with the given domains added at `NOW`.
pub async fn account_with(store: &Store, domains: &[&str]) -> AccountId {
    let account = store.create_account(NOW).await.unwrap();
    for d in domains {
        store.add_domain(account, new_domain(d), NOW).await.unwrap();
    }
    account
}

/// The clock of the tests: 2026-01-01T00:00:00Z.
pub const NOW: i64 = 1_767_225_600;

fn sha256_hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    digest(&SHA256, bytes)
        .as_ref()
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}
