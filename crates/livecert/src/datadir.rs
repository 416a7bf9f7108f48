//! The data directory (spec/README.md): `master.key`, `credentials`, the SQLite database
//! `livecert.db`, and `<database>.serve-lock`, which keeps a second `serve` off the same SQLite
//! store (spec/protocol.md §5: nonces and rate limits live in one process). With a PostgreSQL
//! store the directory holds the master key, the credentials and the test CA; there is no lock
//! (several `serve` nodes share the database).
//!
//! Files holding secrets are created with mode 0600 and never logged.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use livecert_core::secret::{MasterKey, Secret};
use livecert_store::NewCredentials;

/// Environment variable that overrides `<data-dir>/master.key` (base64 of 32 bytes).
pub const MASTER_KEY_ENV: &str = "LIVECERT_MASTER_KEY";

/// A data directory, created with mode 0700 if missing.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// Opens the directory, creating it (and its parents) when missing. Whatever the umask, a new
    /// directory is readable by its owner only (mode 0700), and every file livecert writes in it —
    /// the database and its `-wal` and `-shm`, the master key, the credentials, the test CA, the
    /// serve lock — is created with mode 0600. An existing directory's mode is the operator's and
    /// is left alone (it may be shared, as `/tmp` is), with a warning when it lets others in.
    ///
    /// Errors: the directory cannot be created, is not a directory, or its mode cannot be set.
    pub fn open(root: &Path) -> anyhow::Result<Self> {
        if root.exists() {
            let metadata = fs::metadata(root)
                .with_context(|| format!("reading the data directory {}", root.display()))?;
            if !metadata.is_dir() {
                bail!("the data directory {} is not a directory", root.display());
            }
            let mode = metadata.permissions().mode() & 0o7777;
            if mode & 0o077 != 0 {
                tracing::warn!(dir = %root.display(), mode = format!("{mode:o}"), "the data directory lets other users in; its files are private (0600), but `chmod 700` it unless it is shared on purpose");
            }
        } else {
            fs::create_dir_all(root)
                .with_context(|| format!("creating the data directory {}", root.display()))?;
            fs::set_permissions(root, fs::Permissions::from_mode(0o700))
                .with_context(|| format!("setting the mode of {} to 0700", root.display()))?;
        }
        Ok(Self {
            root: root.to_path_buf(),
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// `<data-dir>/livecert.db`.
    pub fn sqlite_path(&self) -> PathBuf {
        self.root.join("livecert.db")
    }

    /// `<data-dir>/credentials`.
    pub fn credentials_path(&self) -> PathBuf {
        self.root.join("credentials")
    }

    /// The master key: `LIVECERT_MASTER_KEY` if set, else `<data-dir>/master.key`, generated
    /// (mode 0600) when neither exists and `may_generate` (a new store). Errors: unreadable or
    /// malformed key; no key for an existing store (a new key could open none of its secrets).
    pub fn master_key(&self, may_generate: bool) -> anyhow::Result<MasterKey> {
        if let Some(key) = self.existing_master_key()? {
            return Ok(key);
        }
        if !may_generate {
            bail!(
                "the store already exists but {} is missing: restore it, or set {MASTER_KEY_ENV} to the key the store was created with (a new key could open none of its private keys and AccessKey secrets)",
                self.master_key_path().display()
            );
        }
        let (key, text) = MasterKey::generate().context("generating a master key")?;
        self.save_master_key(&text)?;
        Ok(key)
    }

    /// The master key if there is one: `LIVECERT_MASTER_KEY` if set, else `<data-dir>/master.key`
    /// if it exists. Errors: unreadable or malformed key.
    pub fn existing_master_key(&self) -> anyhow::Result<Option<MasterKey>> {
        if let Ok(text) = std::env::var(MASTER_KEY_ENV) {
            return MasterKey::from_base64(&text)
                .map(Some)
                .with_context(|| format!("{MASTER_KEY_ENV} is not a valid master key"));
        }
        let path = self.master_key_path();
        if !path.exists() {
            return Ok(None);
        }
        let text =
            fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        MasterKey::from_base64(&text)
            .map(Some)
            .with_context(|| format!("{} is not a valid master key", path.display()))
    }

    /// Writes a newly generated master key (its base64 text) to `<data-dir>/master.key`, mode
    /// 0600; fails if the file exists.
    pub fn save_master_key(&self, text: &Secret) -> anyhow::Result<()> {
        let mut contents = text.expose().to_vec();
        contents.push(b'\n');
        write_private(&self.master_key_path(), &contents)
    }

    fn master_key_path(&self) -> PathBuf {
        self.root.join("master.key")
    }

    /// Takes the exclusive lock of `serve` on a SQLite store: the file `<database>.serve-lock`
    /// beside the database (so that two data directories naming the same `--store` are caught too);
    /// fails if another process holds it. The lock lasts as long as the returned file is open.
    pub fn lock_for_serve(database: &Path) -> anyhow::Result<File> {
        let mut name = database.as_os_str().to_owned();
        name.push(".serve-lock");
        let path = PathBuf::from(name);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => Ok(file),
            Err(fs::TryLockError::WouldBlock) => bail!(
                "another `livecert serve` is using the store {} (SQLite keeps nonces and rate limits in one process); stop it, or use PostgreSQL for several nodes",
                database.display()
            ),
            Err(fs::TryLockError::Error(e)) => {
                Err(e).with_context(|| format!("locking {}", path.display()))
            }
        }
    }

    /// Writes `<data-dir>/credentials` (mode 0600) as the `KEY=value` lines the Alibaba SDKs and
    /// CLI read from the environment.
    pub fn write_credentials(&self, creds: &NewCredentials) -> anyhow::Result<PathBuf> {
        let path = self.credentials_path();
        let secret = creds.access_key_secret.expose_str().unwrap_or_default();
        let text = format!(
            "ALIBABA_CLOUD_ACCESS_KEY_ID={}\nALIBABA_CLOUD_ACCESS_KEY_SECRET={secret}\n",
            creds.access_key_id
        );
        write_private(&path, text.as_bytes())?;
        Ok(path)
    }
}

/// Creates `path` with mode 0600 and writes `contents`, synced to disk.
fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let mut file = OpenOptions::new()
        .create_new(true)
        .write(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(contents)
        .with_context(|| format!("writing {}", path.display()))?;
    file.sync_all()
        .with_context(|| format!("syncing {}", path.display()))?;
    Ok(())
}

/// Reads a credentials file of `KEY=value` lines (as written by [`DataDir::write_credentials`]).
/// Returns (AccessKeyId, AccessKeySecret).
pub fn read_credentials(path: &Path) -> anyhow::Result<(String, String)> {
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut id = None;
    let mut secret = None;
    for line in text.lines() {
        let line = line.trim().trim_start_matches("export ").trim();
        if let Some(v) = line.strip_prefix("ALIBABA_CLOUD_ACCESS_KEY_ID=") {
            id = Some(v.trim_matches('"').to_owned());
        } else if let Some(v) = line.strip_prefix("ALIBABA_CLOUD_ACCESS_KEY_SECRET=") {
            secret = Some(v.trim_matches('"').to_owned());
        }
    }
    match (id, secret) {
        (Some(i), Some(s)) => Ok((i, s)),
        _ => bail!(
            "{} must hold ALIBABA_CLOUD_ACCESS_KEY_ID=… and ALIBABA_CLOUD_ACCESS_KEY_SECRET=… lines",
            path.display()
        ),
    }
}
