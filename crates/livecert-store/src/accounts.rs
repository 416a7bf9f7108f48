//! Accounts and root credentials: the first start's bootstrap, new accounts, imported root
//! AccessKeys, the AccessKey lookup behind every signature check (with its cache), and the
//! operator's status changes. RAM users, policies and STS are `access.rs`.

use std::time::Instant;

use livecert_core::secret::{Secret, AAD_ACCESS_KEY_SECRET};

use crate::call::{read_call, write_call, Touches};
use crate::error::store_only;
use crate::random;
use crate::sql;
use crate::{AccessKeyEntry, AccountId, NewCredentials, Store, StoreError};

impl Store {
    /// On an empty store (no accounts): creates one account with root credentials (a generated
    /// `LTAI…` AccessKeyId of 24 characters and a 30-character secret) and returns them; otherwise `None`.
    pub async fn bootstrap(&self, now: i64) -> Result<Option<NewCredentials>, StoreError> {
        let access_key_id = random::access_key_id()?;
        let secret = random::access_key_secret()?;
        let sealed = self.seal(AAD_ACCESS_KEY_SECRET, &secret)?;
        let key_id = access_key_id.clone();
        let account = write_call!(self, Touches::Keys, |tx| {
            sql::write::bootstrap(tx, &key_id, &sealed, now).await
        })
        .map_err(store_only)?;
        Ok(account.map(|account_id| NewCredentials {
            account_id,
            access_key_id,
            access_key_secret: Secret::new(secret.to_vec()),
        }))
    }

    /// Creates an account (random 16-digit id, `active`).
    pub async fn create_account(&self, now: i64) -> Result<AccountId, StoreError> {
        write_call!(self, Touches::Keys, |tx| {
            sql::write::create_account(tx, now).await
        })
        .map_err(store_only)
    }

    /// Imports a root AccessKey with a given id and secret for an account (tests use `testid`/`testsecret`).
    /// Replaces the secret if the id exists as root credentials of the same account; the key's
    /// status is kept (a new key is `active`).
    ///
    /// Errors: `Failed` if the id is not 1–128 printable ASCII characters or begins with `STS.`,
    /// belongs to another account or to a user of this one, or the account does not exist.
    pub async fn import_access_key(
        &self,
        account_id: AccountId,
        access_key_id: &str,
        secret: &Secret,
        now: i64,
    ) -> Result<(), StoreError> {
        self.import_root_access_key(account_id, access_key_id, secret, now)
            .await
    }

    /// Looks an AccessKey up, with its opened secret, its principal, the documents of the
    /// policies attached to its user and, for temporary credentials, their expiry, token hash and
    /// session policy. An expired temporary credential is still returned (the caller compares
    /// `sts.expires_at` with its clock and answers accordingly). Served from an in-memory cache
    /// that a write through this store clears and that trusts an entry at most one second (so a
    /// change by another process — a key, a user, a policy, an attachment — is seen within a
    /// second).
    ///
    /// Errors: `Secret` if the stored secret does not open with this master key.
    pub async fn access_key(
        &self,
        access_key_id: &str,
    ) -> Result<Option<AccessKeyEntry>, StoreError> {
        if let Some(entry) = self.inner.keys.get(access_key_id) {
            return Ok(Some(entry));
        }
        let generation = self.inner.keys.generation();
        let loaded = Instant::now();
        let id = access_key_id.to_owned();
        let row = read_call!(self, |tx| { sql::read::access_key(tx, &id).await })?;
        let Some(row) = row else {
            return Ok(None);
        };
        let secret = self
            .inner
            .master_key
            .open(AAD_ACCESS_KEY_SECRET, &row.secret_sealed)
            .map_err(|e| StoreError::Secret(format!("AccessKey {access_key_id}: {e}")))?;
        let entry = AccessKeyEntry {
            access_key_id: access_key_id.to_owned(),
            account_id: row.account_id,
            secret,
            active: row.active,
            account_active: row.account_active,
            principal: row.principal,
            policies: row.policies,
            sts: row.sts,
        };
        self.inner.keys.put(generation, loaded, entry.clone());
        Ok(Some(entry))
    }

    /// Every account id, oldest first.
    pub async fn account_ids(&self) -> Result<Vec<AccountId>, StoreError> {
        read_call!(self, |tx| { sql::read::account_ids(tx).await })
    }

    /// Operator action: suspends (`false`) or reactivates (`true`) an account.
    ///
    /// Errors: `Failed` if there is no such account.
    pub async fn set_account_active(
        &self,
        account_id: AccountId,
        active: bool,
    ) -> Result<(), StoreError> {
        write_call!(self, Touches::Keys, |tx| {
            sql::write::set_account_active(tx, account_id, active).await
        })
        .map_err(store_only)
    }

    /// Operator action: deactivates (`false`) or reactivates (`true`) an AccessKey.
    ///
    /// Errors: `Failed` if there is no such key.
    pub async fn set_access_key_active(
        &self,
        access_key_id: &str,
        active: bool,
    ) -> Result<(), StoreError> {
        let id = access_key_id.to_owned();
        write_call!(self, Touches::Keys, |tx| {
            sql::write::set_access_key_active(tx, &id, active).await
        })
        .map_err(store_only)
    }
}
