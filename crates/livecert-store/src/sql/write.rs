//! The write calls, written once for both backends: each function runs inside the call's
//! transaction (SQLite: the call's savepoint in the writer's group commit; PostgreSQL: the call's
//! transaction after the write lock) and either succeeds whole or returns an error that rolls it
//! back. Rules are re-checked here, against what the transaction sees (`crate::rules`, core's
//! decisions), so that a decision can never rest on a state another call changed in between.
//!
//! Secrets arrive already sealed; nothing here sees plaintext key material.

use livecert_core::cert::CheckedUpload;
use livecert_core::names::{CertName, DomainName};
use livecert_core::ops::set_live_domain_certificate::{
    decide_cas, decide_upload, CasCandidate, CertRef, LibraryRecord, LibrarySnapshot, LibraryWrite,
};

use crate::db::{db_id, execute, get, get_u64, query_one, query_opt, SqlParam, Tx};
use crate::rules;
use crate::sql::read;
use crate::{
    AccountId, CertDeletion, CertRecord, CertStatus, DomainFlags, DomainRecord, DomainStatus,
    NewDomain, OffOutcome, RecordType, StoreError, UploadOutcome, WriteError,
};

/// Tries at generating an unused account id before giving up.
const ACCOUNT_ID_TRIES: usize = 8;

/// A new account; returns its id.
pub(crate) async fn create_account(conn: &impl Tx, now: i64) -> Result<AccountId, WriteError> {
    for _ in 0..ACCOUNT_ID_TRIES {
        let id = crate::random::account_id()?;
        let inserted = execute(
            conn,
            "INSERT INTO accounts (id, status, created) VALUES ($1, 'active', $2) \
             ON CONFLICT (id) DO NOTHING",
            &[&db_id(id)?, &now],
        )
        .await?;
        if inserted == 1 {
            return Ok(id);
        }
    }
    Err(StoreError::Failed("could not find an unused account id".into()).into())
}

/// Root credentials on an empty store: `None` if any account exists.
pub(crate) async fn bootstrap(
    conn: &impl Tx,
    access_key_id: &str,
    secret_sealed: &[u8],
    now: i64,
) -> Result<Option<AccountId>, WriteError> {
    if !read::no_accounts(conn).await? {
        return Ok(None);
    }
    let account_id = create_account(conn, now).await?;
    crate::sql::ram::insert_access_key(
        conn,
        account_id,
        None,
        access_key_id,
        secret_sealed,
        now,
        None,
    )
    .await?;
    Ok(Some(account_id))
}

/// Sets an account's status. Errors: `Failed` if there is no such account.
pub(crate) async fn set_account_active(
    conn: &impl Tx,
    account_id: AccountId,
    active: bool,
) -> Result<(), WriteError> {
    let status = if active { "active" } else { "suspended" };
    let n = execute(
        conn,
        "UPDATE accounts SET status = $2 WHERE id = $1",
        &[&db_id(account_id)?, &status],
    )
    .await?;
    if n == 0 {
        return Err(StoreError::Failed(format!("no account {account_id}")).into());
    }
    Ok(())
}

/// Sets an AccessKey's status. Errors: `Failed` if there is no such key.
pub(crate) async fn set_access_key_active(
    conn: &impl Tx,
    access_key_id: &str,
    active: bool,
) -> Result<(), WriteError> {
    let status = if active { "active" } else { "inactive" };
    let n = execute(
        conn,
        "UPDATE access_keys SET status = $2 WHERE id = $1",
        &[&access_key_id, &status],
    )
    .await?;
    if n == 0 {
        return Err(StoreError::Failed(format!("no AccessKey {access_key_id}")).into());
    }
    Ok(())
}

/// AddLiveDomain: online, HTTPS off. Refused with `DomainAlreadyExist` if any account has it.
pub(crate) async fn add_domain(
    conn: &impl Tx,
    account_id: AccountId,
    domain: &NewDomain,
    now: i64,
) -> Result<(), WriteError> {
    if read::domain_any(conn, domain.name.as_str())
        .await?
        .is_some()
    {
        return Err(rules::domain_already_exists(&domain.name));
    }
    execute(
        conn,
        "INSERT INTO domains (name, account_id, status, live_domain_type, region, scope, \
         check_url, top_level_domain, resource_group_id, created, modified) \
         VALUES ($1, $2, 'online', $3, $4, $5, $6, $7, $8, $9, $9)",
        &[
            &domain.name.as_str(),
            &db_id(account_id)?,
            &domain.live_domain_type,
            &domain.region,
            &domain.scope,
            &domain.check_url,
            &domain.top_level_domain,
            &domain.resource_group_id,
            &now,
        ],
    )
    .await?;
    Ok(())
}

/// DeleteLiveDomain: removes the domain and its binding (the record stays).
pub(crate) async fn delete_domain(
    conn: &impl Tx,
    account_id: AccountId,
    name: &DomainName,
) -> Result<(), WriteError> {
    domain_for_change(conn, account_id, name).await?;
    execute(
        conn,
        "DELETE FROM domains WHERE name = $1",
        &[&name.as_str()],
    )
    .await?;
    Ok(())
}

/// StartLiveDomain / StopLiveDomain. Returns whether the status changed.
pub(crate) async fn set_domain_status(
    conn: &impl Tx,
    account_id: AccountId,
    name: &DomainName,
    status: DomainStatus,
    now: i64,
) -> Result<bool, WriteError> {
    let domain = domain_for_change(conn, account_id, name).await?;
    if domain.status == status {
        return Ok(false);
    }
    execute(
        conn,
        "UPDATE domains SET status = $2, modified = $3 WHERE name = $1",
        &[&name.as_str(), &status.as_str(), &now],
    )
    .await?;
    Ok(true)
}

/// Operator flags of a domain (`livecert admin`), whoever owns it.
///
/// Errors: refused with `IllegalOperationDomain` if there is no such domain.
pub(crate) async fn set_domain_flags(
    conn: &impl Tx,
    name: &DomainName,
    flags: &DomainFlags,
    now: i64,
) -> Result<(), WriteError> {
    let n = execute(
        conn,
        "UPDATE domains SET locked = $2, safe_mode = $3, protected_mode = $4, \
         https_required = $5, functions = $6, modified = $7 WHERE name = $1",
        &[
            &name.as_str(),
            &flags.locked,
            &flags.safe_mode,
            &flags.protected_mode,
            &flags.https_required,
            &flags.functions,
            &now,
        ],
    )
    .await?;
    if n == 0 {
        return Err(rules::not_your_domain(name));
    }
    Ok(())
}

/// A domain's origin (`livecert admin domain set --origin`), whoever owns it.
///
/// Errors: refused with `IllegalOperationDomain` if there is no such domain.
pub(crate) async fn set_domain_origin(
    conn: &impl Tx,
    name: &DomainName,
    origin: Option<&str>,
    now: i64,
) -> Result<(), WriteError> {
    let n = execute(
        conn,
        "UPDATE domains SET origin = $2, modified = $3 WHERE name = $1",
        &[&name.as_str(), &origin, &now],
    )
    .await?;
    if n == 0 {
        return Err(rules::not_your_domain(name));
    }
    Ok(())
}

/// Rows 7–15 of SetLiveDomainCertificate with `SSLProtocol=off`.
pub(crate) async fn set_https_off(
    conn: &impl Tx,
    account_id: AccountId,
    name: &DomainName,
    now: i64,
) -> Result<OffOutcome, WriteError> {
    let domain = domain_for_change(conn, account_id, name).await?;
    rules::require_online(&domain)?;
    rules::allow_https_off(&domain)?;
    if !domain.https {
        return Ok(OffOutcome::AlreadyOff);
    }
    execute(
        conn,
        "UPDATE domains SET https = false, cert_id = NULL, modified = $2 WHERE name = $1",
        &[&name.as_str(), &now],
    )
    .await?;
    Ok(OffOutcome::TurnedOff)
}

/// Rows 7–11 and 23–29 of SetLiveDomainCertificate with `SSLProtocol=on`, `CertType=upload` (and
/// row 37 for `CertType=free`: `cert_type` is the type a created or replaced record gets).
/// `key_sealed` is the upload's private key, sealed with the master key. Returns the outcome and
/// whether a new record was created (a dry run reports such a record's CertId as 0).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn set_upload(
    conn: &impl Tx,
    account_id: AccountId,
    name: &DomainName,
    cert_name: &CertName,
    force_set: bool,
    upload: &CheckedUpload,
    key_sealed: &[u8],
    cert_type: RecordType,
    now: i64,
) -> Result<(UploadOutcome, bool), WriteError> {
    rules::require_online(&domain_for_change(conn, account_id, name).await?)?;
    let snapshot = library_snapshot(
        conn,
        account_id,
        cert_name,
        &upload.facts.fingerprint_sha256,
    )
    .await?;
    let decision =
        decide_upload(&snapshot, upload, force_set, name).map_err(WriteError::Refused)?;
    let created = matches!(decision.write, LibraryWrite::Create);
    let cert_id = match decision.write {
        LibraryWrite::Create => {
            insert_certificate(
                conn, account_id, cert_name, upload, key_sealed, cert_type, now,
            )
            .await?
        }
        LibraryWrite::Replace { cert_id } => {
            replace_certificate(
                conn, account_id, cert_id, upload, key_sealed, cert_type, now,
            )
            .await?;
            cert_id
        }
        LibraryWrite::Unchanged { cert_id } => cert_id,
    };
    let cert_name = cert_name.clone();
    if decision.bind {
        bind(conn, name, cert_id, now).await?;
        Ok((UploadOutcome::Bound { cert_id, cert_name }, created))
    } else {
        Ok((
            UploadOutcome::StoredNotEffective { cert_id, cert_name },
            created,
        ))
    }
}

/// Binds an existing record of the account's library to the domain (rows 7–11, 31–35 for
/// `CertType=cas`): the record named by `cert` is resolved here, inside the transaction, and
/// core's [`decide_cas`] applies rows 31–34 to it.
pub(crate) async fn bind_certificate(
    conn: &impl Tx,
    account_id: AccountId,
    name: &DomainName,
    cert: &CertRef,
    now: i64,
) -> Result<(), WriteError> {
    rules::require_online(&domain_for_change(conn, account_id, name).await?)?;
    let by_name = match cert.name() {
        Some(n) => read::certificate_by_name(conn, account_id, n.as_str()).await?,
        None => None,
    };
    let by_id = match cert.id() {
        Some(id) => read::certificate(conn, account_id, id).await?,
        None => None,
    };
    fn candidate(r: &CertRecord) -> CasCandidate<'_> {
        CasCandidate {
            cert_id: r.cert_id,
            cert_name: r.cert_name.as_str(),
            status: r.status.as_str(),
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
    bind(conn, name, cert_id, now).await
}

/// Sets a record's status, whoever owns it. Errors: `Failed` if there is no such record.
pub(crate) async fn set_certificate_status(
    conn: &impl Tx,
    cert_id: u64,
    status: CertStatus,
    now: i64,
) -> Result<(), WriteError> {
    let n = execute(
        conn,
        "UPDATE certificates SET status = $2, last_changed = $3 WHERE cert_id = $1",
        &[&db_id(cert_id)?, &status.as_str(), &now],
    )
    .await?;
    if n == 0 {
        return Err(StoreError::Failed(format!("no record with CertId {cert_id}")).into());
    }
    Ok(())
}

/// Deletes a record, whoever owns it, unless a domain is bound to it (operator action).
///
/// `owner`: the account whose library it must be in (an API call: another account's record is
/// `NotFound`), or `None` for the operator.
pub(crate) async fn delete_certificate(
    conn: &impl Tx,
    owner: Option<AccountId>,
    cert_id: u64,
) -> Result<CertDeletion, WriteError> {
    let record = match owner {
        Some(account_id) => read::certificate(conn, account_id, cert_id).await?,
        None => read::certificate_any(conn, cert_id).await?,
    };
    if record.is_none() {
        return Ok(CertDeletion::NotFound);
    }
    let bound = read::domains_bound_to(conn, cert_id).await?;
    if !bound.is_empty() {
        return Ok(CertDeletion::Bound(bound));
    }
    execute(
        conn,
        "DELETE FROM certificates WHERE cert_id = $1",
        &[&db_id(cert_id)?],
    )
    .await?;
    Ok(CertDeletion::Deleted)
}

/// CAS `UploadUserCertificate`: a new `upload` record named `cert_name` in status `success`, bound
/// to nothing; returns its CertId. Refused (core's `cas::name_taken`) when the account's library
/// already has a record of that name.
pub(crate) async fn add_record(
    conn: &impl Tx,
    account_id: AccountId,
    cert_name: &CertName,
    upload: &CheckedUpload,
    key_sealed: &[u8],
    now: i64,
) -> Result<u64, WriteError> {
    if let Some(taken) = read::certificate_by_name(conn, account_id, cert_name.as_str()).await? {
        return Err(WriteError::Refused(livecert_core::ops::cas::name_taken(
            cert_name,
            taken.cert_id,
        )));
    }
    insert_certificate(
        conn,
        account_id,
        cert_name,
        upload,
        key_sealed,
        RecordType::Upload,
        now,
    )
    .await
}

/// Rows 7–10 ([`rules::domain_for_change`]) on the domain as the transaction sees it.
pub(crate) async fn domain_for_change(
    conn: &impl Tx,
    account_id: AccountId,
    name: &DomainName,
) -> Result<DomainRecord, WriteError> {
    let domain = read::domain(conn, account_id, name.as_str()).await?;
    rules::domain_for_change(domain, name)
}

/// What rows 23–26 look at, read inside the transaction.
pub(crate) async fn library_snapshot(
    conn: &impl Tx,
    account_id: AccountId,
    cert_name: &CertName,
    fingerprint: &str,
) -> Result<LibrarySnapshot, WriteError> {
    let account = db_id(account_id)?;
    let by_name = query_opt(
        conn,
        "SELECT cert_id, cert_name, chain_pem, fingerprint_sha256, status FROM certificates \
         WHERE account_id = $1 AND cert_name = $2",
        &[&account, &cert_name.as_str()],
    )
    .await?
    .map(|r| {
        Ok::<_, StoreError>(LibraryRecord {
            cert_id: get_u64(&r, 0)?,
            cert_name: get(&r, 1)?,
            chain_pem: get(&r, 2)?,
            fingerprint_sha256: get(&r, 3)?,
            status: get(&r, 4)?,
        })
    })
    .transpose()?;
    let same_leaf_other_name = query_opt(
        conn,
        "SELECT cert_name FROM certificates \
         WHERE account_id = $1 AND fingerprint_sha256 = $2 AND cert_name <> $3 \
         ORDER BY cert_id LIMIT 1",
        &[&account, &fingerprint, &cert_name.as_str()],
    )
    .await?
    .map(|r| get(&r, 0))
    .transpose()?;
    let bound_to_named = match &by_name {
        Some(record) => read::domains_bound_to(conn, record.cert_id).await?,
        None => Vec::new(),
    };
    Ok(LibrarySnapshot {
        by_name,
        same_leaf_other_name,
        bound_to_named,
    })
}

/// Inserts a new record of `cert_type` in status `success` with the next CertId of the global
/// counter (a row: a rolled-back transaction gives its id back).
async fn insert_certificate(
    conn: &impl Tx,
    account_id: AccountId,
    cert_name: &CertName,
    upload: &CheckedUpload,
    key_sealed: &[u8],
    cert_type: RecordType,
    now: i64,
) -> Result<u64, WriteError> {
    let cert_id = next_cert_id(conn).await?;
    let content = RecordContent::new(cert_id, account_id, upload, key_sealed, cert_type, now)?;
    let name = cert_name.as_str();
    let mut params = content.params();
    params.push(&name);
    execute(
        conn,
        &format!(
            "INSERT INTO certificates (cert_id, account_id, cert_name, status, created, {RECORD_CONTENT}) \
             VALUES ($1, $2, $18, 'success', $16, {RECORD_CONTENT_VALUES})"
        ),
        &params,
    )
    .await?;
    Ok(cert_id)
}

/// The next CertId of the global counter (a row: a rolled-back transaction gives its id back).
pub(crate) async fn next_cert_id(conn: &impl Tx) -> Result<u64, WriteError> {
    let row = query_one(
        conn,
        "UPDATE sequences SET next = next + 1 WHERE name = 'cert_id' RETURNING next - 1",
        &[],
    )
    .await?;
    Ok(get_u64(&row, 0)?)
}

/// Replaces a record's content in place: same CertId and name; it becomes a record of
/// `cert_type` in status `success`, changed at `now`.
pub(crate) async fn replace_certificate(
    conn: &impl Tx,
    account_id: AccountId,
    cert_id: u64,
    upload: &CheckedUpload,
    key_sealed: &[u8],
    cert_type: RecordType,
    now: i64,
) -> Result<(), WriteError> {
    let content = RecordContent::new(cert_id, account_id, upload, key_sealed, cert_type, now)?;
    let n = execute(
        conn,
        &format!(
            "UPDATE certificates SET status = 'success', ({RECORD_CONTENT}) = ({RECORD_CONTENT_VALUES}) \
             WHERE cert_id = $1 AND account_id = $2"
        ),
        &content.params(),
    )
    .await?;
    if n != 1 {
        return Err(
            StoreError::Failed(format!("record {cert_id} vanished during the write")).into(),
        );
    }
    Ok(())
}

/// The columns an upload writes into a record, created or replaced (with [`RECORD_CONTENT_VALUES`]
/// and [`RecordContent::params`]).
const RECORD_CONTENT: &str = "chain_pem, private_key_sealed, fingerprint_sha256, spki_sha256, \
     subject_cn, dns_sans, issuer_cn, issuer_org, serial_hex, not_before, not_after, \
     key_algorithm, key_bits, last_changed, cert_type";

/// The placeholders of [`RECORD_CONTENT`]: `$3`–`$17` of [`RecordContent::params`] (`$1` the
/// CertId, `$2` the account).
const RECORD_CONTENT_VALUES: &str =
    "$3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17";

/// What an upload writes into a record, as statement parameters.
struct RecordContent<'a> {
    cert_id: i64,
    account_id: i64,
    upload: &'a CheckedUpload,
    key_sealed: &'a [u8],
    key_algorithm: &'static str,
    key_bits: i64,
    now: i64,
    cert_type: &'static str,
}

impl<'a> RecordContent<'a> {
    fn new(
        cert_id: u64,
        account_id: AccountId,
        upload: &'a CheckedUpload,
        key_sealed: &'a [u8],
        cert_type: RecordType,
        now: i64,
    ) -> Result<Self, StoreError> {
        Ok(Self {
            cert_id: db_id(cert_id)?,
            account_id: db_id(account_id)?,
            upload,
            key_sealed,
            key_algorithm: upload.facts.key_algorithm.as_str(),
            key_bits: i64::from(upload.facts.key_bits),
            now,
            cert_type: cert_type.as_str(),
        })
    }

    /// `$1` CertId, `$2` account, then the values of [`RECORD_CONTENT`] as `$3`–`$17`.
    fn params(&self) -> Vec<&dyn SqlParam> {
        let f = &self.upload.facts;
        vec![
            &self.cert_id,
            &self.account_id,
            &self.upload.chain_pem,
            &self.key_sealed,
            &f.fingerprint_sha256,
            &f.spki_sha256,
            &f.subject_cn,
            &f.dns_sans,
            &f.issuer_cn,
            &f.issuer_org,
            &f.serial_hex,
            &f.not_before,
            &f.not_after,
            &self.key_algorithm,
            &self.key_bits,
            &self.now,
            &self.cert_type,
        ]
    }
}

/// Binds the domain to `cert_id` with HTTPS on; touches the row only if that changes something,
/// so that re-uploading the same certificate leaves GmtModified and the change counter alone.
pub(crate) async fn bind(
    conn: &impl Tx,
    name: &DomainName,
    cert_id: u64,
    now: i64,
) -> Result<(), WriteError> {
    execute(
        conn,
        "UPDATE domains SET cert_id = $2, https = true, modified = $3 \
         WHERE name = $1 AND (cert_id IS DISTINCT FROM $2 OR NOT https)",
        &[&name.as_str(), &db_id(cert_id)?, &now],
    )
    .await?;
    Ok(())
}
