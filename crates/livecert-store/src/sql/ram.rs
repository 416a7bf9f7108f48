//! Accounts, RAM users, AccessKeys, policies and temporary credentials, written once for both
//! backends: the write calls (inside the call's transaction, like [`super::write`]) and the
//! listings.
//!
//! Operator mistakes (an unknown or duplicate name, a key of another account) are refusals,
//! `InvalidParameter` naming the offending argument, with nothing written. Secrets arrive sealed
//! and SecurityTokens hashed; nothing here sees plaintext key material.
//!
//! User and policy names are compared and ordered without regard to ASCII case (`lower()` folds
//! ASCII only in both databases: PostgreSQL's columns are `COLLATE "C"`, SQLite's `lower()` is
//! ASCII-only).

use crate::db::{db_id, execute, get, get_u64, query, query_one, query_opt, snapshot, Tx};
use crate::rules::refused;
use crate::sql::read::flag_text;
use crate::{
    AccessKeyInfo, AccountId, AccountInfo, PolicyInfo, StoreError, UserId, UserInfo, WriteError,
};

/// Expired temporary credentials are kept this long (so that the API can tell "expired" from
/// "unknown"), then deleted by the next [`issue_sts`].
pub(crate) const STS_RETENTION_SECS: i64 = 86_400;

/// A temporary credential to insert: the row's STS columns.
pub(crate) struct NewSts {
    pub(crate) expires_at: i64,
    pub(crate) token_sha256: [u8; 32],
    pub(crate) session_policy: Option<String>,
}

/// A new RAM user; returns its id.
pub(crate) async fn create_user(
    conn: &impl Tx,
    account_id: AccountId,
    name: &str,
    now: i64,
) -> Result<UserId, WriteError> {
    require_account(conn, account_id).await?;
    if find_user(conn, account_id, name).await?.is_some() {
        return Err(refused(
            "UserName",
            format!("account {account_id} already has a user named {name}."),
        ));
    }
    let row = query_one(
        conn,
        "INSERT INTO ram_users (account_id, name, created) VALUES ($1, $2, $3) RETURNING id",
        &[&db_id(account_id)?, &name, &now],
    )
    .await?;
    Ok(get_u64(&row, 0)?)
}

/// Deletes a user with its keys (temporary ones too) and its attachments (foreign keys cascade).
pub(crate) async fn delete_user(
    conn: &impl Tx,
    account_id: AccountId,
    name: &str,
) -> Result<(), WriteError> {
    let user_id = user(conn, account_id, name).await?;
    execute(
        conn,
        "DELETE FROM ram_users WHERE id = $1",
        &[&db_id(user_id)?],
    )
    .await?;
    Ok(())
}

/// The id of user `name` of the account, refused if there is none.
pub(crate) async fn user(
    conn: &impl Tx,
    account_id: AccountId,
    name: &str,
) -> Result<UserId, WriteError> {
    find_user(conn, account_id, name).await?.ok_or_else(|| {
        refused(
            "UserName",
            format!("account {account_id} has no user named {name}."),
        )
    })
}

/// Inserts a new AccessKey (long-term when `sts` is `None`). An id that exists is a store failure
/// (generated ids do not collide).
pub(crate) async fn insert_access_key(
    conn: &impl Tx,
    account_id: AccountId,
    user_id: Option<UserId>,
    access_key_id: &str,
    secret_sealed: &[u8],
    now: i64,
    sts: Option<&NewSts>,
) -> Result<(), WriteError> {
    require_account(conn, account_id).await?;
    let user_id = user_id.map(db_id).transpose()?;
    execute(
        conn,
        "INSERT INTO access_keys (id, account_id, user_id, secret_sealed, status, created, \
         sts_expires_at, sts_token_sha256, sts_session_policy) \
         VALUES ($1, $2, $3, $4, 'active', $5, $6, $7, $8)",
        &[
            &access_key_id,
            &db_id(account_id)?,
            &user_id,
            &secret_sealed,
            &now,
            &sts.map(|s| s.expires_at),
            &sts.map(|s| s.token_sha256.as_slice()),
            &sts.and_then(|s| s.session_policy.as_deref()),
        ],
    )
    .await?;
    Ok(())
}

/// Inserts a long-term AccessKey with a given id for the account (`user_id` `None`) or one of its
/// users, or replaces the sealed secret of the same id held by the same principal (its status is
/// kept).
///
/// Refused: the id is held by another account, another principal, or is temporary.
pub(crate) async fn import_access_key(
    conn: &impl Tx,
    account_id: AccountId,
    user_id: Option<UserId>,
    access_key_id: &str,
    secret_sealed: &[u8],
    now: i64,
) -> Result<(), WriteError> {
    let holder = query_opt(
        conn,
        "SELECT account_id, user_id, sts_expires_at IS NOT NULL FROM access_keys WHERE id = $1",
        &[&access_key_id],
    )
    .await?
    .map(|r| {
        Ok::<_, StoreError>((
            get_u64(&r, 0)?,
            crate::db::get_opt_u64(&r, 1)?,
            get::<bool>(&r, 2)?,
        ))
    })
    .transpose()?;
    match holder {
        None => {
            insert_access_key(
                conn,
                account_id,
                user_id,
                access_key_id,
                secret_sealed,
                now,
                None,
            )
            .await
        }
        Some((owner, _, _)) if owner != account_id => Err(refused(
            "AccessKeyId",
            format!("AccessKeyId {access_key_id} belongs to another account."),
        )),
        Some((_, holder, false)) if holder == user_id => {
            execute(
                conn,
                "UPDATE access_keys SET secret_sealed = $2 WHERE id = $1",
                &[&access_key_id, &secret_sealed],
            )
            .await?;
            Ok(())
        }
        Some(_) => Err(refused(
            "AccessKeyId",
            format!(
                "AccessKeyId {access_key_id} is held by another principal of account {account_id}, \
                 or is temporary."
            ),
        )),
    }
}

/// Deletes an AccessKey (any: root, user or temporary).
pub(crate) async fn delete_access_key(
    conn: &impl Tx,
    access_key_id: &str,
) -> Result<(), WriteError> {
    let n = execute(
        conn,
        "DELETE FROM access_keys WHERE id = $1",
        &[&access_key_id],
    )
    .await?;
    if n == 0 {
        return Err(refused(
            "AccessKeyId",
            format!("there is no AccessKey {access_key_id}."),
        ));
    }
    Ok(())
}

/// A new named policy document.
pub(crate) async fn create_policy(
    conn: &impl Tx,
    account_id: AccountId,
    name: &str,
    document: &str,
    now: i64,
) -> Result<(), WriteError> {
    require_account(conn, account_id).await?;
    if find_policy(conn, account_id, name).await?.is_some() {
        return Err(refused(
            "PolicyName",
            format!("account {account_id} already has a policy named {name}."),
        ));
    }
    execute(
        conn,
        "INSERT INTO ram_policies (account_id, name, document, created) VALUES ($1, $2, $3, $4)",
        &[&db_id(account_id)?, &name, &document, &now],
    )
    .await?;
    Ok(())
}

/// Deletes a policy and its attachments.
pub(crate) async fn delete_policy(
    conn: &impl Tx,
    account_id: AccountId,
    name: &str,
) -> Result<(), WriteError> {
    let policy_id = policy(conn, account_id, name).await?;
    execute(
        conn,
        "DELETE FROM ram_policies WHERE id = $1",
        &[&policy_id],
    )
    .await?;
    Ok(())
}

/// Attaches a policy to a user; `false` if it already was.
pub(crate) async fn attach_policy(
    conn: &impl Tx,
    account_id: AccountId,
    policy_name: &str,
    user_name: &str,
) -> Result<bool, WriteError> {
    let policy_id = policy(conn, account_id, policy_name).await?;
    let user_id = user(conn, account_id, user_name).await?;
    let n = execute(
        conn,
        "INSERT INTO ram_attachments (account_id, policy_id, user_id) VALUES ($1, $2, $3) \
         ON CONFLICT (policy_id, user_id) DO NOTHING",
        &[&db_id(account_id)?, &policy_id, &db_id(user_id)?],
    )
    .await?;
    Ok(n == 1)
}

/// Detaches a policy from a user; `false` if it was not attached.
pub(crate) async fn detach_policy(
    conn: &impl Tx,
    account_id: AccountId,
    policy_name: &str,
    user_name: &str,
) -> Result<bool, WriteError> {
    let policy_id = policy(conn, account_id, policy_name).await?;
    let user_id = user(conn, account_id, user_name).await?;
    let n = execute(
        conn,
        "DELETE FROM ram_attachments WHERE policy_id = $1 AND user_id = $2",
        &[&policy_id, &db_id(user_id)?],
    )
    .await?;
    Ok(n == 1)
}

/// Temporary credentials for a user, after deleting those that expired more than
/// [`STS_RETENTION_SECS`] ago (any account).
pub(crate) async fn issue_sts(
    conn: &impl Tx,
    account_id: AccountId,
    user_name: &str,
    access_key_id: &str,
    secret_sealed: &[u8],
    sts: &NewSts,
    now: i64,
) -> Result<(), WriteError> {
    let user_id = user(conn, account_id, user_name).await?;
    execute(
        conn,
        "DELETE FROM access_keys WHERE sts_expires_at IS NOT NULL AND sts_expires_at < $1",
        &[&now.saturating_sub(STS_RETENTION_SECS)],
    )
    .await?;
    insert_access_key(
        conn,
        account_id,
        Some(user_id),
        access_key_id,
        secret_sealed,
        now,
        Some(sts),
    )
    .await
}

/// Every account, oldest first.
pub(crate) async fn accounts(conn: &impl Tx) -> Result<Vec<AccountInfo>, StoreError> {
    let rows = query(
        conn,
        "SELECT id, status, created FROM accounts ORDER BY created, id",
        &[],
    )
    .await?;
    rows.iter()
        .map(|r| {
            Ok(AccountInfo {
                id: get_u64(r, 0)?,
                active: flag_text(r, 1, "active", "suspended")?,
                created: get(r, 2)?,
            })
        })
        .collect()
}

/// The account's users, by name (ASCII case ignored), each with the names of its policies, read
/// in one snapshot.
pub(crate) async fn users(
    conn: &impl Tx,
    account_id: AccountId,
) -> Result<Vec<UserInfo>, StoreError> {
    let account = db_id(account_id)?;
    snapshot(conn, async move {
        let rows = query(
            conn,
            "SELECT id, name, created FROM ram_users WHERE account_id = $1 \
             ORDER BY lower(name), id",
            &[&account],
        )
        .await?;
        let mut users = rows
            .iter()
            .map(|r| {
                Ok(UserInfo {
                    id: get_u64(r, 0)?,
                    name: get(r, 1)?,
                    created: get(r, 2)?,
                    policies: Vec::new(),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let attachments = query(
            conn,
            "SELECT t.user_id, p.name FROM ram_attachments t \
             JOIN ram_policies p ON p.id = t.policy_id \
             WHERE t.account_id = $1 ORDER BY lower(p.name), p.id",
            &[&account],
        )
        .await?;
        for r in &attachments {
            let user_id = get_u64(r, 0)?;
            if let Some(u) = users.iter_mut().find(|u| u.id == user_id) {
                u.policies.push(get(r, 1)?);
            }
        }
        Ok(users)
    })
    .await
}

/// The account's AccessKeys (never their secrets), oldest first.
pub(crate) async fn access_keys(
    conn: &impl Tx,
    account_id: AccountId,
) -> Result<Vec<AccessKeyInfo>, StoreError> {
    let rows = query(
        conn,
        "SELECT k.id, u.name, k.status, k.created, k.sts_expires_at FROM access_keys k \
         LEFT JOIN ram_users u ON u.id = k.user_id \
         WHERE k.account_id = $1 ORDER BY k.created, k.id",
        &[&db_id(account_id)?],
    )
    .await?;
    rows.iter()
        .map(|r| {
            Ok(AccessKeyInfo {
                id: get(r, 0)?,
                user: get(r, 1)?,
                active: flag_text(r, 2, "active", "inactive")?,
                created: get(r, 3)?,
                expires_at: get(r, 4)?,
            })
        })
        .collect()
}

/// The account's policies (`name`: only that one, ASCII case ignored), by name, each with its
/// document and the names of the users it is attached to, read in one snapshot.
pub(crate) async fn policies(
    conn: &impl Tx,
    account_id: AccountId,
    name: Option<&str>,
) -> Result<Vec<PolicyInfo>, StoreError> {
    let account = db_id(account_id)?;
    snapshot(conn, async move {
        let rows = query(
            conn,
            "SELECT id, name, document, created FROM ram_policies \
             WHERE account_id = $1 AND (CAST($2 AS TEXT) IS NULL OR lower(name) = lower(CAST($2 AS TEXT))) \
             ORDER BY lower(name), id",
            &[&account, &name],
        )
        .await?;
        let mut policies = rows
            .iter()
            .map(|r| {
                Ok((
                    get::<i64>(r, 0)?,
                    PolicyInfo {
                        name: get(r, 1)?,
                        document: get(r, 2)?,
                        created: get(r, 3)?,
                        users: Vec::new(),
                    },
                ))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let attachments = query(
            conn,
            "SELECT t.policy_id, u.name FROM ram_attachments t \
             JOIN ram_users u ON u.id = t.user_id \
             WHERE t.account_id = $1 ORDER BY lower(u.name), u.id",
            &[&account],
        )
        .await?;
        for r in &attachments {
            let policy_id: i64 = get(r, 0)?;
            if let Some((_, p)) = policies.iter_mut().find(|(id, _)| *id == policy_id) {
                p.users.push(get(r, 1)?);
            }
        }
        Ok(policies.into_iter().map(|(_, p)| p).collect())
    })
    .await
}

async fn require_account(conn: &impl Tx, account_id: AccountId) -> Result<(), WriteError> {
    let row = query_one(
        conn,
        "SELECT EXISTS (SELECT 1 FROM accounts WHERE id = $1)",
        &[&db_id(account_id)?],
    )
    .await?;
    if get::<bool>(&row, 0)? {
        Ok(())
    } else {
        Err(refused(
            "AccountId",
            format!("there is no account {account_id}."),
        ))
    }
}

async fn find_user(
    conn: &impl Tx,
    account_id: AccountId,
    name: &str,
) -> Result<Option<UserId>, WriteError> {
    let row = query_opt(
        conn,
        "SELECT id FROM ram_users WHERE account_id = $1 AND lower(name) = lower($2)",
        &[&db_id(account_id)?, &name],
    )
    .await?;
    Ok(row.map(|r| get_u64(&r, 0)).transpose()?)
}

async fn find_policy(
    conn: &impl Tx,
    account_id: AccountId,
    name: &str,
) -> Result<Option<i64>, WriteError> {
    let row = query_opt(
        conn,
        "SELECT id FROM ram_policies WHERE account_id = $1 AND lower(name) = lower($2)",
        &[&db_id(account_id)?, &name],
    )
    .await?;
    Ok(row.map(|r| get(&r, 0)).transpose()?)
}

async fn policy(conn: &impl Tx, account_id: AccountId, name: &str) -> Result<i64, WriteError> {
    find_policy(conn, account_id, name).await?.ok_or_else(|| {
        refused(
            "PolicyName",
            format!("account {account_id} has no policy named {name}."),
        )
    })
}
