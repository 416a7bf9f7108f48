//! What every case needs: the [`Backend`] a case runs against, test certificates made with
//! rcgen, and small builders.
//!
//! A backend is a factory: [`Backend::open`] opens a [`Store`] on the backend's one database
//! (opening again reopens the same data; [`Backend::open_with_key`] with another master key), and
//! the hooks that must reach under the API — injecting a failure, reading the bytes at rest and
//! dumping every row — are the backend's to implement. Both backends are here: [`Sqlite`] in a
//! temporary directory, [`Postgres`] in a fresh database on the server named by
//! `LIVECERT_TEST_POSTGRES` (default [`DEFAULT_TEST_POSTGRES`]), dropped with the backend.

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

/// The server the PostgreSQL cases create their databases on, unless `LIVECERT_TEST_POSTGRES`
/// names another (a URL whose user may `CREATE DATABASE`).
pub const DEFAULT_TEST_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// PostgreSQL: a fresh database `livecert_test_<random>` per backend, dropped (connections
/// included) when the backend is dropped. A server that cannot be reached fails the test with a
/// message that says how to start it.
pub struct Postgres {
    admin_url: String,
    database: String,
    url: String,
    master_key: Secret,
}

impl Postgres {
    /// A fresh, empty database with a new master key.
    pub fn new() -> Self {
        let admin_url = std::env::var("LIVECERT_TEST_POSTGRES")
            .unwrap_or_else(|_| DEFAULT_TEST_POSTGRES.to_owned());
        let mut random = [0u8; 8];
        aws_lc_rs::rand::fill(&mut random).unwrap();
        let database = format!("livecert_test_{}", hex(&random));
        if let Err(e) = simple_query(&admin_url, &format!("CREATE DATABASE {database}")) {
            panic!(
                "PostgreSQL at {admin_url} cannot be used for the PostgreSQL conformance cases \
                 ({e}). Start it with `pg_ctlcluster --skip-systemctl-redirect $(ls \
                 /etc/postgresql) main start` (./scripts/test does), or set LIVECERT_TEST_POSTGRES \
                 to a server where this user may CREATE DATABASE."
            );
        }
        let (_, master_key) = MasterKey::generate().unwrap();
        let url = with_database(&admin_url, &database);
        Self {
            admin_url,
            database,
            url,
            master_key,
        }
    }

    /// The database's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Opens a store on this database, with its master key, reached at `url` (another route to
    /// the same server, such as a proxy).
    pub fn open_at(&self, url: &str) -> Store {
        let key = MasterKey::from_base64(self.master_key.expose_str().unwrap()).unwrap();
        Store::open_postgres(url, Arc::new(key)).unwrap()
    }

    /// Runs `sql` on the database; every value of the rows it returns as text.
    pub fn query(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        simple_query(&self.url, sql).unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// The tables of the store's schema, by name.
    fn tables(&self) -> Vec<String> {
        self.query(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() \
             ORDER BY tablename COLLATE \"C\"",
        )
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .collect()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Err(e) = simple_query(
            &self.admin_url,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.database),
        ) {
            eprintln!("could not drop the test database {}: {e}", self.database);
        }
    }
}

impl Backend for Postgres {
    fn open(&self) -> Store {
        let key = MasterKey::from_base64(self.master_key.expose_str().unwrap()).unwrap();
        self.open_with_key(key)
    }

    fn open_with_key(&self, master_key: MasterKey) -> Store {
        Store::open_postgres(&self.url, Arc::new(master_key)).unwrap()
    }

    fn inject_insert_failure(&self, cert_name: &str) {
        self.query(&format!(
            "CREATE FUNCTION inject_failure() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'injected'; END $$; \
             CREATE TRIGGER inject_failure BEFORE INSERT ON certificates FOR EACH ROW \
             WHEN (NEW.cert_name = '{}') EXECUTE FUNCTION inject_failure()",
            cert_name.replace('\'', "''")
        ));
    }

    /// Every value of every column of every table, read back with SQL: text as its UTF-8 bytes,
    /// `bytea` as its bytes, anything else as its text form.
    fn raw_bytes(&self) -> Vec<u8> {
        let mut all = Vec::new();
        for table in self.tables() {
            let columns = self.query(&format!(
                "SELECT column_name, data_type FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = '{table}' \
                 ORDER BY ordinal_position"
            ));
            for column in columns {
                let (Some(name), Some(kind)) = (&column[0], &column[1]) else {
                    continue;
                };
                for row in self.query(&format!("SELECT \"{name}\"::text FROM \"{table}\"")) {
                    let Some(text) = row.into_iter().next().flatten() else {
                        continue;
                    };
                    if kind == "bytea" {
                        all.extend(unhex(text.strip_prefix("\\x").unwrap_or(&text)));
                    } else {
                        all.extend(text.into_bytes());
                    }
                }
            }
        }
        all
    }

    fn dump(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        for table in self.tables() {
            let _ = writeln!(out, "[{table}]");
            for row in self.query(&format!(
                "SELECT t::text FROM \"{table}\" t ORDER BY t::text COLLATE \"C\""
            )) {
                let _ = writeln!(out, "{row:?}");
            }
        }
        out
    }
}

/// Runs `sql` (one or more statements) on a connection of its own, from a thread of its own (the
/// cases run inside a tokio runtime, where blocking on another is not allowed); returns the rows
/// of the statements, every value as text.
fn simple_query(url: &str, sql: &str) -> Result<Vec<Vec<Option<String>>>, String> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| e.to_string())?;
                runtime.block_on(async {
                    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                        .await
                        .map_err(|e| e.to_string())?;
                    let connection = tokio::spawn(connection);
                    let messages = client.simple_query(sql).await.map_err(|e| e.to_string())?;
                    drop(client);
                    let _ = connection.await;
                    Ok(messages
                        .into_iter()
                        .filter_map(|m| match m {
                            tokio_postgres::SimpleQueryMessage::Row(row) => Some(
                                (0..row.len())
                                    .map(|i| row.get(i).map(str::to_owned))
                                    .collect(),
                            ),
                            _ => None,
                        })
                        .collect())
                })
            })
            .join()
            .unwrap()
    })
}

/// `url` with its database replaced by `database` (query parameters kept).
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{database}?{query}"),
        None => format!("{base}/{database}"),
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn unhex(text: &str) -> Vec<u8> {
    text.as_bytes()
        .chunks(2)
        .filter_map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|p| u8::from_str_radix(p, 16).ok())
        })
        .collect()
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
