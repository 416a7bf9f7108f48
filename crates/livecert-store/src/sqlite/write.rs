//! The write calls: each function runs on the writer's connection inside the call's savepoint
//! ([`super::group_commit`]) and either succeeds whole or returns an error that rolls its
//! savepoint back. Rules are re-checked here, against what the transaction sees, so that a
//! decision can never rest on a state another call changed in between.
//!
//! Secrets arrive already sealed; nothing here sees plaintext key material.

use rusqlite::{params, Connection, OptionalExtension};

use livecert_core::cert::CheckedUpload;
use livecert_core::names::{CertName, DomainName};
use livecert_core::ops::set_live_domain_certificate::{
    decide_cas, decide_upload, CasCandidate, CertRef, LibraryRecord, LibrarySnapshot, LibraryWrite,
};

use crate::rules;
use crate::sqlite::read;
use crate::sqlite::sql_failed;
use crate::{
    AccountId, CertDeletion, CertRecord, DomainFlags, DomainRecord, DomainStatus, NewDomain,
    OffOutcome, RecordType, StoreError, UploadOutcome, WriteError,
};

/// Tries at generating an unused account id before giving up (a collision needs ~10^8 accounts
/// to be likely at all).
const ACCOUNT_ID_TRIES: usize = 8;

/// A new account; returns its id.
pub(crate) fn create_account(conn: &Connection, now: i64) -> Result<AccountId, WriteError> {
    for _ in 0..ACCOUNT_ID_TRIES {
        let id = crate::random::account_id()?;
        let inserted = conn
            .prepare_cached(
                "INSERT INTO accounts (id, status, created) VALUES (?1, 'active', ?2) \
                 ON CONFLICT (id) DO NOTHING",
            )
            .and_then(|mut s| s.execute(params![id, now]))
            .map_err(sql_failed)?;
        if inserted == 1 {
            return Ok(id);
        }
    }
    Err(StoreError::Failed("could not find an unused account id".into()).into())
}

/// Root credentials on an empty store: `None` if any account exists.
pub(crate) fn bootstrap(
    conn: &Connection,
    access_key_id: &str,
    secret_sealed: &[u8],
    now: i64,
) -> Result<Option<AccountId>, WriteError> {
    let any: bool = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM accounts)")
        .and_then(|mut s| s.query_row([], |r| r.get(0)))
        .map_err(sql_failed)?;
    if any {
        return Ok(None);
    }
    let account_id = create_account(conn, now)?;
    crate::sqlite::ram::insert_access_key(
        conn,
        account_id,
        None,
        access_key_id,
        secret_sealed,
        now,
        None,
    )?;
    Ok(Some(account_id))
}

/// Sets an account's status. Errors: `Failed` if there is no such account.
pub(crate) fn set_account_active(
    conn: &Connection,
    account_id: AccountId,
    active: bool,
) -> Result<(), WriteError> {
    let status = if active { "active" } else { "suspended" };
    let sql = "UPDATE accounts SET status = ?2 WHERE id = ?1";
    set_status(conn, sql, &account_id, status, || {
        format!("no account {account_id}")
    })
}

/// Sets an AccessKey's status. Errors: `Failed` if there is no such key.
pub(crate) fn set_access_key_active(
    conn: &Connection,
    access_key_id: &str,
    active: bool,
) -> Result<(), WriteError> {
    let status = if active { "active" } else { "inactive" };
    let sql = "UPDATE access_keys SET status = ?2 WHERE id = ?1";
    set_status(conn, sql, &access_key_id, status, || {
        format!("no AccessKey {access_key_id}")
    })
}

/// Runs a one-row status `UPDATE` (`?1` the id, `?2` the status); no row is `Failed(missing())`.
fn set_status(
    conn: &Connection,
    sql: &str,
    id: &dyn rusqlite::ToSql,
    status: &str,
    missing: impl FnOnce() -> String,
) -> Result<(), WriteError> {
    let n = conn
        .prepare_cached(sql)
        .and_then(|mut s| s.execute(params![id, status]))
        .map_err(sql_failed)?;
    if n == 0 {
        return Err(StoreError::Failed(missing()).into());
    }
    Ok(())
}

/// AddLiveDomain: online, HTTPS off. Refused with `DomainAlreadyExist` if any account has it.
pub(crate) fn add_domain(
    conn: &Connection,
    account_id: AccountId,
    domain: &NewDomain,
    now: i64,
) -> Result<(), WriteError> {
    if read::domain_any(conn, domain.name.as_str())
        .map_err(sql_failed)?
        .is_some()
    {
        return Err(rules::domain_already_exists(&domain.name));
    }
    conn.prepare_cached(
        "INSERT INTO domains (name, account_id, status, live_domain_type, region, scope, \
         check_url, top_level_domain, resource_group_id, created, modified) \
         VALUES (?1, ?2, 'online', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
    )
    .and_then(|mut s| {
        s.execute(params![
            domain.name.as_str(),
            account_id,
            domain.live_domain_type,
            domain.region,
            domain.scope,
            domain.check_url,
            domain.top_level_domain,
            domain.resource_group_id,
            now
        ])
    })
    .map_err(sql_failed)?;
    Ok(())
}

/// DeleteLiveDomain: removes the domain and its binding (the record stays).
pub(crate) fn delete_domain(
    conn: &Connection,
    account_id: AccountId,
    name: &DomainName,
) -> Result<(), WriteError> {
    domain_for_change(conn, account_id, name)?;
    conn.prepare_cached("DELETE FROM domains WHERE name = ?1")
        .and_then(|mut s| s.execute(params![name.as_str()]))
        .map_err(sql_failed)?;
    Ok(())
}

/// StartLiveDomain / StopLiveDomain. Returns whether the status changed.
pub(crate) fn set_domain_status(
    conn: &Connection,
    account_id: AccountId,
    name: &DomainName,
    status: DomainStatus,
    now: i64,
) -> Result<bool, WriteError> {
    let domain = domain_for_change(conn, account_id, name)?;
    if domain.status == status {
        return Ok(false);
    }
    conn.prepare_cached("UPDATE domains SET status = ?2, modified = ?3 WHERE name = ?1")
        .and_then(|mut s| s.execute(params![name.as_str(), status.as_str(), now]))
        .map_err(sql_failed)?;
    Ok(true)
}

/// Operator flags of a domain (`livecert admin`), whoever owns it.
///
/// Errors: refused with `IllegalOperationDomain` if there is no such domain.
pub(crate) fn set_domain_flags(
    conn: &Connection,
    name: &DomainName,
    flags: &DomainFlags,
    now: i64,
) -> Result<(), WriteError> {
    let functions = serde_json::to_string(&flags.functions)
        .map_err(|e| StoreError::Failed(format!("functions: {e}")))?;
    let n = conn
        .prepare_cached(
            "UPDATE domains SET locked = ?2, safe_mode = ?3, protected_mode = ?4, \
             https_required = ?5, functions = ?6, modified = ?7 WHERE name = ?1",
        )
        .and_then(|mut s| {
            s.execute(params![
                name.as_str(),
                flags.locked,
                flags.safe_mode,
                flags.protected_mode,
                flags.https_required,
                functions,
                now
            ])
        })
        .map_err(sql_failed)?;
    if n == 0 {
        return Err(rules::not_your_domain(name));
    }
    Ok(())
}

/// A domain's origin (`livecert admin domain set --origin`), whoever owns it.
///
/// Errors: refused with `IllegalOperationDomain` if there is no such domain.
pub(crate) fn set_domain_origin(
    conn: &Connection,
    name: &DomainName,
    origin: Option<&str>,
    now: i64,
) -> Result<(), WriteError> {
    let n = conn
        .prepare_cached("UPDATE domains SET origin = ?2, modified = ?3 WHERE name = ?1")
        .and_then(|mut s| s.execute(params![name.as_str(), origin, now]))
        .map_err(sql_failed)?;
    if n == 0 {
        return Err(rules::not_your_domain(name));
    }
    Ok(())
}

/// Rows 7–15 of SetLiveDomainCertificate with `SSLProtocol=off`.
pub(crate) fn set_https_off(
    conn: &Connection,
    account_id: AccountId,
    name: &DomainName,
    now: i64,
) -> Result<OffOutcome, WriteError> {
    let domain = domain_for_change(conn, account_id, name)?;
    rules::require_online(&domain)?;
    rules::allow_https_off(&domain)?;
    if !domain.https {
        return Ok(OffOutcome::AlreadyOff);
    }
    conn.prepare_cached(
        "UPDATE domains SET https = 0, cert_id = NULL, modified = ?2 WHERE name = ?1",
    )
    .and_then(|mut s| s.execute(params![name.as_str(), now]))
    .map_err(sql_failed)?;
    Ok(OffOutcome::TurnedOff)
}

/// Rows 7–11 and 23–29 of SetLiveDomainCertificate with `SSLProtocol=on`, `CertType=upload` (and
/// row 37, `CertType=free`, for a certificate the issuer returned: `cert_type` is the type a
/// created or replaced record gets). `key_sealed` is the upload's private key, sealed with the
/// master key. Returns the outcome and
/// whether a new record was created (a dry run reports such a record's CertId as 0).
#[allow(clippy::too_many_arguments)]
pub(crate) fn set_upload(
    conn: &Connection,
    account_id: AccountId,
    name: &DomainName,
    cert_name: &CertName,
    force_set: bool,
    upload: &CheckedUpload,
    key_sealed: &[u8],
    cert_type: RecordType,
    now: i64,
) -> Result<(UploadOutcome, bool), WriteError> {
    rules::require_online(&domain_for_change(conn, account_id, name)?)?;
    let snapshot = library_snapshot(
        conn,
        account_id,
        cert_name,
        &upload.facts.fingerprint_sha256,
    )?;
    let decision =
        decide_upload(&snapshot, upload, force_set, name).map_err(WriteError::Refused)?;
    let created = matches!(decision.write, LibraryWrite::Create);
    let cert_id = match decision.write {
        LibraryWrite::Create => insert_certificate(
            conn, account_id, cert_name, upload, key_sealed, cert_type, now,
        )?,
        LibraryWrite::Replace { cert_id } => {
            replace_certificate(
                conn, account_id, cert_id, upload, key_sealed, cert_type, now,
            )?;
            cert_id
        }
        LibraryWrite::Unchanged { cert_id } => cert_id,
    };
    let cert_name = cert_name.clone();
    if decision.bind {
        bind(conn, name, cert_id, now)?;
        Ok((UploadOutcome::Bound { cert_id, cert_name }, created))
    } else {
        Ok((
            UploadOutcome::StoredNotEffective { cert_id, cert_name },
            created,
        ))
    }
}

/// Binds an existing record of the account's library to the domain (rows 7–11, 31–35 for
/// `CertType=cas`): the record named by `cert` (CertName, CertId or both) is resolved here, inside
/// the transaction, and core's [`decide_cas`] applies rows 31–34 to it.
pub(crate) fn bind_certificate(
    conn: &Connection,
    account_id: AccountId,
    name: &DomainName,
    cert: &CertRef,
    now: i64,
) -> Result<(), WriteError> {
    rules::require_online(&domain_for_change(conn, account_id, name)?)?;
    let by_name = match cert.name() {
        Some(n) => read::certificate_by_name(conn, account_id, n.as_str()).map_err(sql_failed)?,
        None => None,
    };
    let by_id = match cert.id() {
        Some(id) => read::certificate(conn, account_id, id).map_err(sql_failed)?,
        None => None,
    };
    fn candidate(r: &CertRecord) -> CasCandidate<'_> {
        CasCandidate {
            cert_id: r.cert_id,
            cert_name: r.cert_name.as_str(),
            status: &r.status,
            facts: &r.facts,
        }
    }
    let cert_id = decide_cas(
        cert,
        by_name.as_ref().map(candidate),
        by_id.as_ref().map(candidate),
        name,
        now,
    )
    .map_err(WriteError::Refused)?;
    bind(conn, name, cert_id, now)
}

/// Sets a record's status (`success`, `applying`, `failed`, `revoked`), whoever owns it.
/// Errors: `Failed` if there is no such record or the status is not one of those.
pub(crate) fn set_certificate_status(
    conn: &Connection,
    cert_id: u64,
    status: &str,
    now: i64,
) -> Result<(), WriteError> {
    let n = conn
        .prepare_cached("UPDATE certificates SET status = ?2, last_changed = ?3 WHERE cert_id = ?1")
        .and_then(|mut s| s.execute(params![cert_id, status, now]))
        .map_err(sql_failed)?;
    if n == 0 {
        return Err(StoreError::Failed(format!("no record with CertId {cert_id}")).into());
    }
    Ok(())
}

/// Deletes a record, whoever owns it, unless a domain is bound to it (operator action).
pub(crate) fn delete_certificate(
    conn: &Connection,
    cert_id: u64,
) -> Result<CertDeletion, WriteError> {
    if read::certificate_any(conn, cert_id)
        .map_err(sql_failed)?
        .is_none()
    {
        return Ok(CertDeletion::NotFound);
    }
    let bound = read::domains_bound_to(conn, cert_id).map_err(sql_failed)?;
    if !bound.is_empty() {
        return Ok(CertDeletion::Bound(bound));
    }
    conn.prepare_cached("DELETE FROM certificates WHERE cert_id = ?1")
        .and_then(|mut s| s.execute(params![cert_id]))
        .map_err(sql_failed)?;
    Ok(CertDeletion::Deleted)
}

/// Rows 7–10 ([`rules::domain_for_change`]) on the domain as the transaction sees it.
fn domain_for_change(
    conn: &Connection,
    account_id: AccountId,
    name: &DomainName,
) -> Result<DomainRecord, WriteError> {
    let domain = read::domain(conn, account_id, name.as_str()).map_err(sql_failed)?;
    rules::domain_for_change(domain, name)
}

/// What rows 23–26 look at, read inside the transaction.
fn library_snapshot(
    conn: &Connection,
    account_id: AccountId,
    cert_name: &CertName,
    fingerprint: &str,
) -> Result<LibrarySnapshot, WriteError> {
    let by_name = conn
        .prepare_cached(
            "SELECT cert_id, cert_name, chain_pem, fingerprint_sha256, status FROM certificates \
             WHERE account_id = ?1 AND cert_name = ?2",
        )
        .and_then(|mut s| {
            s.query_row(params![account_id, cert_name.as_str()], |r| {
                Ok(LibraryRecord {
                    cert_id: r.get(0)?,
                    cert_name: r.get(1)?,
                    chain_pem: r.get(2)?,
                    fingerprint_sha256: r.get(3)?,
                    status: r.get(4)?,
                })
            })
            .optional()
        })
        .map_err(sql_failed)?;
    let same_leaf_other_name = conn
        .prepare_cached(
            "SELECT cert_name FROM certificates \
             WHERE account_id = ?1 AND fingerprint_sha256 = ?2 AND cert_name <> ?3 \
             ORDER BY cert_id LIMIT 1",
        )
        .and_then(|mut s| {
            s.query_row(params![account_id, fingerprint, cert_name.as_str()], |r| {
                r.get(0)
            })
            .optional()
        })
        .map_err(sql_failed)?;
    let bound_to_named = match &by_name {
        Some(record) => read::domains_bound_to(conn, record.cert_id).map_err(sql_failed)?,
        None => Vec::new(),
    };
    Ok(LibrarySnapshot {
        by_name,
        same_leaf_other_name,
        bound_to_named,
    })
}

/// Inserts a new record of `cert_type` in status `success` with the next CertId of the global
/// sequence.
fn insert_certificate(
    conn: &Connection,
    account_id: AccountId,
    cert_name: &CertName,
    upload: &CheckedUpload,
    key_sealed: &[u8],
    cert_type: RecordType,
    now: i64,
) -> Result<u64, WriteError> {
    let cert_id: u64 = conn
        .prepare_cached(
            "UPDATE sequences SET next = next + 1 WHERE name = 'cert_id' RETURNING next - 1",
        )
        .and_then(|mut s| s.query_row([], |r| r.get(0)))
        .map_err(sql_failed)?;
    let f = &upload.facts;
    let sans = dns_sans_json(upload)?;
    conn.prepare_cached(
        "INSERT INTO certificates (cert_id, account_id, cert_name, cert_type, status, chain_pem, \
         private_key_sealed, fingerprint_sha256, spki_sha256, subject_cn, dns_sans, issuer_cn, \
         issuer_org, serial_hex, not_before, not_after, key_algorithm, key_bits, created, \
         last_changed) \
         VALUES (?1, ?2, ?3, ?18, 'success', ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, \
         ?14, ?15, ?16, ?17, ?17)",
    )
    .and_then(|mut s| {
        s.execute(params![
            cert_id,
            account_id,
            cert_name.as_str(),
            upload.chain_pem,
            key_sealed,
            f.fingerprint_sha256,
            f.spki_sha256,
            f.subject_cn,
            sans,
            f.issuer_cn,
            f.issuer_org,
            f.serial_hex,
            f.not_before,
            f.not_after,
            f.key_algorithm.as_str(),
            f.key_bits,
            now,
            cert_type.as_str()
        ])
    })
    .map_err(sql_failed)?;
    Ok(cert_id)
}

/// Replaces a record's content in place: same CertId and name; it becomes a record of
/// `cert_type` in status `success`, changed at `now`.
fn replace_certificate(
    conn: &Connection,
    account_id: AccountId,
    cert_id: u64,
    upload: &CheckedUpload,
    key_sealed: &[u8],
    cert_type: RecordType,
    now: i64,
) -> Result<(), WriteError> {
    let f = &upload.facts;
    let sans = dns_sans_json(upload)?;
    let n = conn
        .prepare_cached(
            "UPDATE certificates SET cert_type = ?17, status = 'success', chain_pem = ?3, \
             private_key_sealed = ?4, fingerprint_sha256 = ?5, spki_sha256 = ?6, subject_cn = ?7, \
             dns_sans = ?8, issuer_cn = ?9, issuer_org = ?10, serial_hex = ?11, not_before = ?12, \
             not_after = ?13, key_algorithm = ?14, key_bits = ?15, last_changed = ?16 \
             WHERE cert_id = ?1 AND account_id = ?2",
        )
        .and_then(|mut s| {
            s.execute(params![
                cert_id,
                account_id,
                upload.chain_pem,
                key_sealed,
                f.fingerprint_sha256,
                f.spki_sha256,
                f.subject_cn,
                sans,
                f.issuer_cn,
                f.issuer_org,
                f.serial_hex,
                f.not_before,
                f.not_after,
                f.key_algorithm.as_str(),
                f.key_bits,
                now,
                cert_type.as_str()
            ])
        })
        .map_err(sql_failed)?;
    if n != 1 {
        return Err(
            StoreError::Failed(format!("record {cert_id} vanished during the write")).into(),
        );
    }
    Ok(())
}

/// Binds the domain to `cert_id` with HTTPS on; touches the row only if that changes something,
/// so that re-uploading the same certificate leaves GmtModified and the change counter alone.
fn bind(conn: &Connection, name: &DomainName, cert_id: u64, now: i64) -> Result<(), WriteError> {
    conn.prepare_cached(
        "UPDATE domains SET cert_id = ?2, https = 1, modified = ?3 \
         WHERE name = ?1 AND (cert_id IS NOT ?2 OR https = 0)",
    )
    .and_then(|mut s| s.execute(params![name.as_str(), cert_id, now]))
    .map_err(sql_failed)?;
    Ok(())
}

fn dns_sans_json(upload: &CheckedUpload) -> Result<String, WriteError> {
    serde_json::to_string(&upload.facts.dns_sans)
        .map_err(|e| StoreError::Failed(format!("dns_sans: {e}")).into())
}
