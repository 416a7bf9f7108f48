//! Accounts, RAM users, AccessKeys, policies and temporary credentials (spec/access.md): the
//! operator's side, as `livecert admin` drives it. The request side reads all of it through one
//! call, [`Store::access_key`].
//!
//! Every write here is a write call of the store's backend (SQLite's group-committing writer, or
//! a PostgreSQL transaction) and clears the AccessKey cache when it commits; another process sees
//! it within the cache's one second. Operator mistakes are
//! [`WriteError::Refused`] with `InvalidParameter` naming the argument (`UserName`, `PolicyName`,
//! `AccessKeyId`, `AccountId`, `DurationSeconds`, `PolicyDocument`), nothing written.
//!
//! Rules where the spec is silent:
//! - user names: 1–64 characters of `[A-Za-z0-9._@-]`, not `root` (the audit log's name for root
//!   credentials); policy names: 1–128 characters of `[A-Za-z0-9._-]`; both unique per account
//!   without regard to ASCII case, and kept as given;
//! - policy documents (and session policies) are at most [`MAX_POLICY_DOCUMENT_BYTES`] bytes
//!   (Alibaba's limit for a custom policy); the store keeps the text, the binary parses it first;
//! - temporary credentials last [`STS_MIN_DURATION_SECS`]–[`STS_MAX_DURATION_SECS`] seconds, are
//!   deleted one day after they expire, and are deleted with their user;
//! - an imported AccessKeyId may not begin with `STS.` (reserved for temporary credentials).

use livecert_core::secret::{Secret, AAD_ACCESS_KEY_SECRET};

use crate::call::{read_call, write_call, Touches};
use crate::random;
use crate::rules::refused;
use crate::sql::ram::{self, NewSts};
use crate::{AccountId, Store, StoreError, UserId, WriteError};

/// The largest policy document (or session policy) kept, in bytes.
pub const MAX_POLICY_DOCUMENT_BYTES: usize = 6_144;
/// The shortest lifetime of temporary credentials, in seconds.
pub const STS_MIN_DURATION_SECS: u64 = 900;
/// The longest lifetime of temporary credentials, in seconds.
pub const STS_MAX_DURATION_SECS: u64 = 43_200;

/// An account as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountInfo {
    /// The 16-digit id.
    pub id: AccountId,
    /// `active` (not suspended).
    pub active: bool,
    /// Unix seconds.
    pub created: i64,
}

/// A RAM user as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    /// The user's id (never reused).
    pub id: UserId,
    /// The name as created.
    pub name: String,
    /// Unix seconds.
    pub created: i64,
    /// The names of the policies attached to it, by name.
    pub policies: Vec<String>,
}

/// An AccessKey as listed: never its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKeyInfo {
    /// The AccessKeyId.
    pub id: String,
    /// The user it belongs to; `None`: root credentials of the account.
    pub user: Option<String>,
    /// Status `active`.
    pub active: bool,
    /// Unix seconds.
    pub created: i64,
    /// For temporary credentials, when they expire (Unix seconds).
    pub expires_at: Option<i64>,
}

/// A policy as listed or shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyInfo {
    /// The name as created.
    pub name: String,
    /// The document, as given.
    pub document: String,
    /// Unix seconds.
    pub created: i64,
    /// The names of the users it is attached to, by name.
    pub users: Vec<String>,
}

/// Temporary credentials, as issued: shown once.
#[derive(Debug, Clone)]
pub struct StsCredentials {
    /// `STS.` + 24 letters and digits.
    pub access_key_id: String,
    /// 30 letters and digits; stored sealed.
    pub access_key_secret: Secret,
    /// 64 characters of the base64url alphabet; only its SHA-256 is stored.
    pub security_token: Secret,
    /// Unix seconds.
    pub expires_at: i64,
}

impl Store {
    /// Every account, oldest first.
    pub async fn accounts(&self) -> Result<Vec<AccountInfo>, StoreError> {
        read_call!(self, |tx| { ram::accounts(tx).await })
    }

    /// Creates a RAM user of the account; returns its id.
    ///
    /// Refusals: `UserName` ill-formed, `root`, or taken in the account; `AccountId` unknown.
    pub async fn create_user(
        &self,
        account_id: AccountId,
        name: &str,
        now: i64,
    ) -> Result<UserId, WriteError> {
        check_user_name(name)?;
        let name = name.to_owned();
        write_call!(self, Touches::Keys, |tx| {
            ram::create_user(tx, account_id, &name, now).await
        })
    }

    /// The account's users, by name, with the names of their policies.
    pub async fn users(&self, account_id: AccountId) -> Result<Vec<UserInfo>, StoreError> {
        read_call!(self, |tx| { ram::users(tx, account_id).await })
    }

    /// Deletes a user, its AccessKeys (temporary ones too) and its policy attachments.
    ///
    /// Refusals: `UserName` unknown in the account.
    pub async fn delete_user(&self, account_id: AccountId, name: &str) -> Result<(), WriteError> {
        let name = name.to_owned();
        write_call!(self, Touches::Keys, |tx| {
            ram::delete_user(tx, account_id, &name).await
        })
    }

    /// Generates an AccessKey (`LTAI` + 20 letters and digits, a 30-character secret) for the
    /// account's root credentials (`user` `None`) or one of its users, and returns the id and
    /// the secret (shown once; stored sealed).
    ///
    /// Refusals: `AccountId` unknown; `UserName` unknown in the account.
    pub async fn create_access_key(
        &self,
        account_id: AccountId,
        user: Option<&str>,
        now: i64,
    ) -> Result<(String, Secret), WriteError> {
        let access_key_id = random::access_key_id()?;
        let secret = random::access_key_secret()?;
        let sealed = self.seal(AAD_ACCESS_KEY_SECRET, &secret)?;
        let id = access_key_id.clone();
        let user = user.map(str::to_owned);
        write_call!(self, Touches::Keys, |tx| {
            let user_id = match user.as_deref() {
                Some(u) => Some(ram::user(tx, account_id, u).await?),
                None => None,
            };
            ram::insert_access_key(tx, account_id, user_id, &id, &sealed, now, None).await
        })?;
        Ok((access_key_id, Secret::new(secret.to_vec())))
    }

    /// Imports an AccessKey with a given id and secret for a user of the account. Replaces the
    /// secret if the id is already that user's (its status is kept; a new key is `active`).
    ///
    /// Refusals: `AccessKeyId` not 1–128 printable ASCII characters, beginning with `STS.`, or
    /// held by another account or principal; `UserName` unknown in the account.
    pub async fn import_user_access_key(
        &self,
        account_id: AccountId,
        user: &str,
        access_key_id: &str,
        secret: &Secret,
        now: i64,
    ) -> Result<(), WriteError> {
        check_imported_id(access_key_id)?;
        let sealed = self.seal(AAD_ACCESS_KEY_SECRET, secret.expose())?;
        let id = access_key_id.to_owned();
        let user = user.to_owned();
        write_call!(self, Touches::Keys, |tx| {
            let user_id = ram::user(tx, account_id, &user).await?;
            ram::import_access_key(tx, account_id, Some(user_id), &id, &sealed, now).await
        })
    }

    /// The account's AccessKeys — root, users' and temporary — oldest first, never their secrets.
    pub async fn access_keys(
        &self,
        account_id: AccountId,
    ) -> Result<Vec<AccessKeyInfo>, StoreError> {
        read_call!(self, |tx| { ram::access_keys(tx, account_id).await })
    }

    /// Operator action: deletes an AccessKey (root, user or temporary).
    ///
    /// Refusals: `AccessKeyId` unknown.
    pub async fn delete_access_key(&self, access_key_id: &str) -> Result<(), WriteError> {
        let id = access_key_id.to_owned();
        write_call!(self, Touches::Keys, |tx| {
            ram::delete_access_key(tx, &id).await
        })
    }

    /// Keeps a named policy document for the account. The store does not parse it: the caller
    /// does (with core's RAM policy parser) before calling.
    ///
    /// Refusals: `PolicyName` ill-formed or taken in the account; `PolicyDocument` empty or
    /// longer than [`MAX_POLICY_DOCUMENT_BYTES`]; `AccountId` unknown.
    pub async fn create_policy(
        &self,
        account_id: AccountId,
        name: &str,
        document: &str,
        now: i64,
    ) -> Result<(), WriteError> {
        check_policy_name(name)?;
        check_document("PolicyDocument", document)?;
        let name = name.to_owned();
        let document = document.to_owned();
        write_call!(self, Touches::Keys, |tx| {
            ram::create_policy(tx, account_id, &name, &document, now).await
        })
    }

    /// The account's policies, by name, with their documents and users.
    pub async fn policies(&self, account_id: AccountId) -> Result<Vec<PolicyInfo>, StoreError> {
        read_call!(self, |tx| { ram::policies(tx, account_id, None).await })
    }

    /// One policy of the account by name (ASCII case ignored), with its document and users.
    pub async fn policy(
        &self,
        account_id: AccountId,
        name: &str,
    ) -> Result<Option<PolicyInfo>, StoreError> {
        let name = name.to_owned();
        read_call!(self, |tx| {
            ram::policies(tx, account_id, Some(&name))
                .await
                .map(|mut p| p.pop())
        })
    }

    /// Deletes a policy and detaches it from every user.
    ///
    /// Refusals: `PolicyName` unknown in the account.
    pub async fn delete_policy(&self, account_id: AccountId, name: &str) -> Result<(), WriteError> {
        let name = name.to_owned();
        write_call!(self, Touches::Keys, |tx| {
            ram::delete_policy(tx, account_id, &name).await
        })
    }

    /// Attaches a policy to a user of the same account; `false` if it already was (nothing
    /// changes). The user's keys carry the document from their next lookup.
    ///
    /// Refusals: `PolicyName` or `UserName` unknown in the account.
    pub async fn attach_policy(
        &self,
        account_id: AccountId,
        policy: &str,
        user: &str,
    ) -> Result<bool, WriteError> {
        let (policy, user) = (policy.to_owned(), user.to_owned());
        write_call!(self, Touches::Keys, |tx| {
            ram::attach_policy(tx, account_id, &policy, &user).await
        })
    }

    /// Detaches a policy from a user; `false` if it was not attached (nothing changes).
    ///
    /// Refusals: `PolicyName` or `UserName` unknown in the account.
    pub async fn detach_policy(
        &self,
        account_id: AccountId,
        policy: &str,
        user: &str,
    ) -> Result<bool, WriteError> {
        let (policy, user) = (policy.to_owned(), user.to_owned());
        write_call!(self, Touches::Keys, |tx| {
            ram::detach_policy(tx, account_id, &policy, &user).await
        })
    }

    /// Issues temporary credentials for a user: they act as the user, narrowed by
    /// `session_policy` when given, until `now + duration_secs`. The secret is stored sealed, the
    /// SecurityToken only as its SHA-256; both are returned once. Temporary credentials that
    /// expired more than a day ago (any account) are deleted in the same transaction.
    ///
    /// Refusals: `DurationSeconds` outside
    /// [`STS_MIN_DURATION_SECS`]–[`STS_MAX_DURATION_SECS`]; `Policy` empty or too long;
    /// `UserName` unknown in the account.
    pub async fn issue_sts(
        &self,
        account_id: AccountId,
        user: &str,
        duration_secs: u64,
        session_policy: Option<String>,
        now: i64,
    ) -> Result<StsCredentials, WriteError> {
        if !(STS_MIN_DURATION_SECS..=STS_MAX_DURATION_SECS).contains(&duration_secs) {
            return Err(refused(
                "DurationSeconds",
                format!(
                    "temporary credentials last {STS_MIN_DURATION_SECS} to {STS_MAX_DURATION_SECS} seconds, not {duration_secs}."
                ),
            ));
        }
        if let Some(policy) = &session_policy {
            check_document("Policy", policy)?;
        }
        let access_key_id = random::sts_access_key_id()?;
        let secret = random::access_key_secret()?;
        let token = random::security_token()?;
        let sealed = self.seal(AAD_ACCESS_KEY_SECRET, &secret)?;
        let expires_at = now.saturating_add(duration_secs as i64);
        let sts = NewSts {
            expires_at,
            token_sha256: sha256(&token),
            session_policy,
        };
        let id = access_key_id.clone();
        let user = user.to_owned();
        write_call!(self, Touches::Keys, |tx| {
            ram::issue_sts(tx, account_id, &user, &id, &sealed, &sts, now).await
        })?;
        Ok(StsCredentials {
            access_key_id,
            access_key_secret: Secret::new(secret.to_vec()),
            security_token: Secret::new(token.to_vec()),
            expires_at,
        })
    }

    /// Imports a root AccessKey (see [`Store::import_access_key`]): the store-failure flavour of
    /// the shared import, for the existing root API.
    pub(crate) async fn import_root_access_key(
        &self,
        account_id: AccountId,
        access_key_id: &str,
        secret: &Secret,
        now: i64,
    ) -> Result<(), StoreError> {
        check_imported_id(access_key_id).map_err(refusal_as_failure)?;
        let sealed = self.seal(AAD_ACCESS_KEY_SECRET, secret.expose())?;
        let id = access_key_id.to_owned();
        write_call!(self, Touches::Keys, |tx| {
            ram::import_access_key(tx, account_id, None, &id, &sealed, now).await
        })
        .map_err(refusal_as_failure)
    }
}

/// SHA-256 of `bytes`.
pub(crate) fn sha256(bytes: &[u8]) -> [u8; 32] {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// `[A-Za-z0-9._@-]{1,64}`, and not `root` in any case.
fn check_user_name(name: &str) -> Result<(), WriteError> {
    let well_formed = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'@' | b'-'));
    if !well_formed {
        return Err(refused(
            "UserName",
            "a user name is 1 to 64 letters, digits and the characters . _ @ -".into(),
        ));
    }
    if name.eq_ignore_ascii_case("root") {
        return Err(refused(
            "UserName",
            "root is reserved for the account's own credentials.".into(),
        ));
    }
    Ok(())
}

/// `[A-Za-z0-9._-]{1,128}`.
fn check_policy_name(name: &str) -> Result<(), WriteError> {
    if (1..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        Ok(())
    } else {
        Err(refused(
            "PolicyName",
            "a policy name is 1 to 128 letters, digits and the characters . _ -".into(),
        ))
    }
}

fn check_document(parameter: &str, document: &str) -> Result<(), WriteError> {
    if document.trim().is_empty() || document.len() > MAX_POLICY_DOCUMENT_BYTES {
        return Err(refused(
            parameter,
            format!("a policy document is 1 to {MAX_POLICY_DOCUMENT_BYTES} bytes."),
        ));
    }
    Ok(())
}

/// 1–128 visible ASCII characters (no space: it could not travel in a V3 `Credential`), not
/// beginning with `STS.`.
fn check_imported_id(id: &str) -> Result<(), WriteError> {
    if id.is_empty() || id.len() > 128 || !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(refused(
            "AccessKeyId",
            "an AccessKeyId is 1 to 128 printable ASCII characters".into(),
        ));
    }
    if id.starts_with(random::STS_ACCESS_KEY_ID_PREFIX) {
        return Err(refused(
            "AccessKeyId",
            "AccessKeyIds beginning with STS. are reserved for temporary credentials".into(),
        ));
    }
    Ok(())
}

fn refusal_as_failure(e: WriteError) -> StoreError {
    match e {
        WriteError::Store(e) => e,
        WriteError::Refused(api) => StoreError::Failed(api.detail),
    }
}
