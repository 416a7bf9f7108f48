//! Accounts, RAM users, AccessKeys, policies and temporary credentials: the write calls (run on
//! the writer's connection inside the call's savepoint, like [`super::write`]) and the listings.
//!
//! Operator mistakes (an unknown or duplicate name, a key of another account) are refusals,
//! `InvalidParameter` naming the offending argument, with nothing written. Secrets arrive sealed
//! and SecurityTokens hashed; nothing here sees plaintext key material.

use rusqlite::{params, Connection, OptionalExtension};

use crate::rules::refused;
use crate::sqlite::read::flag_text;
use crate::sqlite::sql_failed;
use crate::{AccessKeyInfo, AccountId, AccountInfo, PolicyInfo, UserId, UserInfo, WriteError};

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
pub(crate) fn create_user(
    conn: &Connection,
    account_id: AccountId,
    name: &str,
    now: i64,
) -> Result<UserId, WriteError> {
    require_account(conn, account_id)?;
    if find_user(conn, account_id, name)?.is_some() {
        return Err(refused(
            "UserName",
            format!("account {account_id} already has a user named {name}."),
        ));
    }
    conn.prepare_cached("INSERT INTO ram_users (account_id, name, created) VALUES (?1, ?2, ?3)")
        .and_then(|mut s| s.execute(params![account_id, name, now]))
        .map_err(sql_failed)?;
    Ok(conn.last_insert_rowid() as UserId)
}

/// Deletes a user with its keys (temporary ones too) and its attachments (foreign keys cascade).
pub(crate) fn delete_user(
    conn: &Connection,
    account_id: AccountId,
    name: &str,
) -> Result<(), WriteError> {
    let user_id = user(conn, account_id, name)?;
    conn.prepare_cached("DELETE FROM ram_users WHERE id = ?1")
        .and_then(|mut s| s.execute(params![user_id]))
        .map_err(sql_failed)?;
    Ok(())
}

/// The id of user `name` of the account, refused if there is none.
pub(crate) fn user(
    conn: &Connection,
    account_id: AccountId,
    name: &str,
) -> Result<UserId, WriteError> {
    find_user(conn, account_id, name)?.ok_or_else(|| {
        refused(
            "UserName",
            format!("account {account_id} has no user named {name}."),
        )
    })
}

/// Inserts a new AccessKey (long-term when `sts` is `None`). An id that exists is a store failure
/// (generated ids do not collide).
pub(crate) fn insert_access_key(
    conn: &Connection,
    account_id: AccountId,
    user_id: Option<UserId>,
    access_key_id: &str,
    secret_sealed: &[u8],
    now: i64,
    sts: Option<&NewSts>,
) -> Result<(), WriteError> {
    require_account(conn, account_id)?;
    conn.prepare_cached(
        "INSERT INTO access_keys (id, account_id, user_id, secret_sealed, status, created, \
         sts_expires_at, sts_token_sha256, sts_session_policy) \
         VALUES (?1, ?2, ?3, ?4, 'active', ?5, ?6, ?7, ?8)",
    )
    .and_then(|mut s| {
        s.execute(params![
            access_key_id,
            account_id,
            user_id,
            secret_sealed,
            now,
            sts.map(|s| s.expires_at),
            sts.map(|s| s.token_sha256.as_slice()),
            sts.and_then(|s| s.session_policy.as_deref()),
        ])
    })
    .map_err(sql_failed)?;
    Ok(())
}

/// Inserts a long-term AccessKey with a given id for the account (`user_id` `None`) or one of its
/// users, or replaces the sealed secret of the same id held by the same principal (its status is
/// kept).
///
/// Refused: the id is held by another account, another principal, or is temporary.
pub(crate) fn import_access_key(
    conn: &Connection,
    account_id: AccountId,
    user_id: Option<UserId>,
    access_key_id: &str,
    secret_sealed: &[u8],
    now: i64,
) -> Result<(), WriteError> {
    let holder: Option<(AccountId, Option<UserId>, bool)> = conn
        .prepare_cached(
            "SELECT account_id, user_id, sts_expires_at IS NOT NULL FROM access_keys WHERE id = ?1",
        )
        .and_then(|mut s| {
            s.query_row(params![access_key_id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()
        })
        .map_err(sql_failed)?;
    match holder {
        None => insert_access_key(
            conn,
            account_id,
            user_id,
            access_key_id,
            secret_sealed,
            now,
            None,
        ),
        Some((owner, _, _)) if owner != account_id => Err(refused(
            "AccessKeyId",
            format!("AccessKeyId {access_key_id} belongs to another account."),
        )),
        Some((_, holder, false)) if holder == user_id => {
            conn.prepare_cached("UPDATE access_keys SET secret_sealed = ?2 WHERE id = ?1")
                .and_then(|mut s| s.execute(params![access_key_id, secret_sealed]))
                .map_err(sql_failed)?;
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
pub(crate) fn delete_access_key(conn: &Connection, access_key_id: &str) -> Result<(), WriteError> {
    let n = conn
        .prepare_cached("DELETE FROM access_keys WHERE id = ?1")
        .and_then(|mut s| s.execute(params![access_key_id]))
        .map_err(sql_failed)?;
    if n == 0 {
        return Err(refused(
            "AccessKeyId",
            format!("there is no AccessKey {access_key_id}."),
        ));
    }
    Ok(())
}

/// A new named policy document.
pub(crate) fn create_policy(
    conn: &Connection,
    account_id: AccountId,
    name: &str,
    document: &str,
    now: i64,
) -> Result<(), WriteError> {
    require_account(conn, account_id)?;
    if find_policy(conn, account_id, name)?.is_some() {
        return Err(refused(
            "PolicyName",
            format!("account {account_id} already has a policy named {name}."),
        ));
    }
    conn.prepare_cached(
        "INSERT INTO ram_policies (account_id, name, document, created) VALUES (?1, ?2, ?3, ?4)",
    )
    .and_then(|mut s| s.execute(params![account_id, name, document, now]))
    .map_err(sql_failed)?;
    Ok(())
}

/// Deletes a policy and its attachments.
pub(crate) fn delete_policy(
    conn: &Connection,
    account_id: AccountId,
    name: &str,
) -> Result<(), WriteError> {
    let policy_id = policy(conn, account_id, name)?;
    conn.prepare_cached("DELETE FROM ram_policies WHERE id = ?1")
        .and_then(|mut s| s.execute(params![policy_id]))
        .map_err(sql_failed)?;
    Ok(())
}

/// Attaches a policy to a user; `false` if it already was.
pub(crate) fn attach_policy(
    conn: &Connection,
    account_id: AccountId,
    policy_name: &str,
    user_name: &str,
) -> Result<bool, WriteError> {
    let policy_id = policy(conn, account_id, policy_name)?;
    let user_id = user(conn, account_id, user_name)?;
    let n = conn
        .prepare_cached(
            "INSERT INTO ram_attachments (account_id, policy_id, user_id) VALUES (?1, ?2, ?3) \
             ON CONFLICT (policy_id, user_id) DO NOTHING",
        )
        .and_then(|mut s| s.execute(params![account_id, policy_id, user_id]))
        .map_err(sql_failed)?;
    Ok(n == 1)
}

/// Detaches a policy from a user; `false` if it was not attached.
pub(crate) fn detach_policy(
    conn: &Connection,
    account_id: AccountId,
    policy_name: &str,
    user_name: &str,
) -> Result<bool, WriteError> {
    let policy_id = policy(conn, account_id, policy_name)?;
    let user_id = user(conn, account_id, user_name)?;
    let n = conn
        .prepare_cached("DELETE FROM ram_attachments WHERE policy_id = ?1 AND user_id = ?2")
        .and_then(|mut s| s.execute(params![policy_id, user_id]))
        .map_err(sql_failed)?;
    Ok(n == 1)
}

/// Temporary credentials for a user, after deleting those that expired more than
/// [`STS_RETENTION_SECS`] ago (any account).
pub(crate) fn issue_sts(
    conn: &Connection,
    account_id: AccountId,
    user_name: &str,
    access_key_id: &str,
    secret_sealed: &[u8],
    sts: &NewSts,
    now: i64,
) -> Result<(), WriteError> {
    let user_id = user(conn, account_id, user_name)?;
    conn.prepare_cached(
        "DELETE FROM access_keys WHERE sts_expires_at IS NOT NULL AND sts_expires_at < ?1",
    )
    .and_then(|mut s| s.execute(params![now.saturating_sub(STS_RETENTION_SECS)]))
    .map_err(sql_failed)?;
    insert_access_key(
        conn,
        account_id,
        Some(user_id),
        access_key_id,
        secret_sealed,
        now,
        Some(sts),
    )
}

/// Every account, oldest first.
pub(crate) fn accounts(conn: &Connection) -> rusqlite::Result<Vec<AccountInfo>> {
    let mut stmt =
        conn.prepare_cached("SELECT id, status, created FROM accounts ORDER BY created, id")?;
    let rows = stmt.query_map([], |r| {
        Ok(AccountInfo {
            id: r.get(0)?,
            active: flag_text(r, 1, "active", "suspended")?,
            created: r.get(2)?,
        })
    })?;
    rows.collect()
}

/// The account's users, by name, each with the names of its policies.
pub(crate) fn users(
    conn: &mut Connection,
    account_id: AccountId,
) -> rusqlite::Result<Vec<UserInfo>> {
    let tx = conn.transaction()?;
    let mut users: Vec<UserInfo> = {
        let mut stmt = tx.prepare_cached(
            "SELECT id, name, created FROM ram_users WHERE account_id = ?1 ORDER BY name, id",
        )?;
        let rows = stmt.query_map(params![account_id], |r| {
            Ok(UserInfo {
                id: r.get(0)?,
                name: r.get(1)?,
                created: r.get(2)?,
                policies: Vec::new(),
            })
        })?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    {
        let mut stmt = tx.prepare_cached(
            "SELECT t.user_id, p.name FROM ram_attachments t \
             JOIN ram_policies p ON p.id = t.policy_id \
             WHERE t.account_id = ?1 ORDER BY p.name, p.id",
        )?;
        let mut rows = stmt.query(params![account_id])?;
        while let Some(r) = rows.next()? {
            let user_id: UserId = r.get(0)?;
            if let Some(u) = users.iter_mut().find(|u| u.id == user_id) {
                u.policies.push(r.get(1)?);
            }
        }
    }
    tx.commit()?;
    Ok(users)
}

/// The account's AccessKeys (never their secrets), oldest first.
pub(crate) fn access_keys(
    conn: &Connection,
    account_id: AccountId,
) -> rusqlite::Result<Vec<AccessKeyInfo>> {
    let mut stmt = conn.prepare_cached(
        "SELECT k.id, u.name, k.status, k.created, k.sts_expires_at FROM access_keys k \
         LEFT JOIN ram_users u ON u.id = k.user_id \
         WHERE k.account_id = ?1 ORDER BY k.created, k.id",
    )?;
    let rows = stmt.query_map(params![account_id], |r| {
        Ok(AccessKeyInfo {
            id: r.get(0)?,
            user: r.get(1)?,
            active: flag_text(r, 2, "active", "inactive")?,
            created: r.get(3)?,
            expires_at: r.get(4)?,
        })
    })?;
    rows.collect()
}

/// The account's policies (`name`: only that one), by name, each with its document and the names
/// of the users it is attached to.
pub(crate) fn policies(
    conn: &mut Connection,
    account_id: AccountId,
    name: Option<&str>,
) -> rusqlite::Result<Vec<PolicyInfo>> {
    let tx = conn.transaction()?;
    let mut policies: Vec<(i64, PolicyInfo)> = {
        let mut stmt = tx.prepare_cached(
            "SELECT id, name, document, created FROM ram_policies \
             WHERE account_id = ?1 AND (?2 IS NULL OR name = ?2) ORDER BY name, id",
        )?;
        let rows = stmt.query_map(params![account_id, name], |r| {
            Ok((
                r.get(0)?,
                PolicyInfo {
                    name: r.get(1)?,
                    document: r.get(2)?,
                    created: r.get(3)?,
                    users: Vec::new(),
                },
            ))
        })?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    {
        let mut stmt = tx.prepare_cached(
            "SELECT t.policy_id, u.name FROM ram_attachments t \
             JOIN ram_users u ON u.id = t.user_id \
             WHERE t.account_id = ?1 ORDER BY u.name, u.id",
        )?;
        let mut rows = stmt.query(params![account_id])?;
        while let Some(r) = rows.next()? {
            let policy_id: i64 = r.get(0)?;
            if let Some((_, p)) = policies.iter_mut().find(|(id, _)| *id == policy_id) {
                p.users.push(r.get(1)?);
            }
        }
    }
    tx.commit()?;
    Ok(policies.into_iter().map(|(_, p)| p).collect())
}

fn require_account(conn: &Connection, account_id: AccountId) -> Result<(), WriteError> {
    let exists: bool = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM accounts WHERE id = ?1)")
        .and_then(|mut s| s.query_row(params![account_id], |r| r.get(0)))
        .map_err(sql_failed)?;
    if exists {
        Ok(())
    } else {
        Err(refused(
            "AccountId",
            format!("there is no account {account_id}."),
        ))
    }
}

fn find_user(
    conn: &Connection,
    account_id: AccountId,
    name: &str,
) -> Result<Option<UserId>, WriteError> {
    conn.prepare_cached("SELECT id FROM ram_users WHERE account_id = ?1 AND name = ?2")
        .and_then(|mut s| {
            s.query_row(params![account_id, name], |r| r.get(0))
                .optional()
        })
        .map_err(|e| sql_failed(e).into())
}

fn find_policy(
    conn: &Connection,
    account_id: AccountId,
    name: &str,
) -> Result<Option<i64>, WriteError> {
    conn.prepare_cached("SELECT id FROM ram_policies WHERE account_id = ?1 AND name = ?2")
        .and_then(|mut s| {
            s.query_row(params![account_id, name], |r| r.get(0))
                .optional()
        })
        .map_err(|e| sql_failed(e).into())
}

fn policy(conn: &Connection, account_id: AccountId, name: &str) -> Result<i64, WriteError> {
    find_policy(conn, account_id, name)?.ok_or_else(|| {
        refused(
            "PolicyName",
            format!("account {account_id} has no policy named {name}."),
        )
    })
}
