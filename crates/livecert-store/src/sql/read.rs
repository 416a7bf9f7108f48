//! The queries and their row mapping, written once for both backends ([`crate::db::Tx`]). Each
//! function takes a plain connection, so the same query serves reads and the writer (which
//! re-reads inside its transaction); statements are prepared through the connection's cache.
//!
//! Data read back is never trusted to be well formed: a value that does not map (an unknown
//! status, a domain name that no longer parses) is [`StoreError::Failed`].

use crate::db::{
    db_id, get, get_opt_u64, get_u64, query, query_one, query_opt, snapshot, take, Dialect, Row, Tx,
};
use crate::{
    AccountId, CertRecord, CertStatus, DomainRecord, DomainStatus, EdgeBinding, EdgeRecord,
    Principal, RecordType, SealedKey, StoreError, StsInfo,
};
use livecert_core::cert::{stored_chain_der, CertFacts, KeyAlgorithm};
use livecert_core::names::{CertName, DomainName};

/// The columns [`domain_from_row`] reads, in order.
pub(crate) const DOMAIN_COLUMNS: &str =
    "name, account_id, status, live_domain_type, region, scope, \
     check_url, top_level_domain, resource_group_id, description, https, cert_id, locked, \
     safe_mode, protected_mode, https_required, functions, created, modified, origin";

/// The columns [`cert_from_row`] reads, in order (never the private key).
pub(crate) const CERT_COLUMNS: &str = "cert_id, account_id, cert_name, cert_type, status, \
     chain_pem, fingerprint_sha256, spki_sha256, subject_cn, dns_sans, issuer_cn, issuer_org, \
     serial_hex, not_before, not_after, key_algorithm, key_bits, created, last_changed";

/// An AccessKey row: the secret still sealed, with its principal, the documents of the policies
/// attached to its user, and its STS columns.
pub(crate) struct AccessKeyRow {
    pub(crate) account_id: AccountId,
    pub(crate) secret_sealed: Vec<u8>,
    pub(crate) active: bool,
    pub(crate) account_active: bool,
    pub(crate) principal: Principal,
    pub(crate) policies: Vec<String>,
    pub(crate) sts: Option<StsInfo>,
}

/// One sealed secret of the store, to check the master key against.
pub(crate) enum SealedSecret {
    /// The secret of AccessKey `id`.
    AccessKey { id: String, sealed: Vec<u8> },
    /// The private key of record `cert_id`.
    CertKey { cert_id: u64, sealed: Vec<u8> },
}

/// The AccessKey `id` with its account's status, its user and that user's policies, read in one
/// snapshot.
pub(crate) async fn access_key(
    conn: &impl Tx,
    id: &str,
) -> Result<Option<AccessKeyRow>, StoreError> {
    snapshot(conn, async move {
        let row = query_opt(
            conn,
            "SELECT k.account_id, k.secret_sealed, k.status, a.status, k.user_id, u.name, \
             k.sts_expires_at, k.sts_token_sha256, k.sts_session_policy \
             FROM access_keys k JOIN accounts a ON a.id = k.account_id \
             LEFT JOIN ram_users u ON u.id = k.user_id WHERE k.id = $1",
            &[&id],
        )
        .await?;
        let Some(r) = row else {
            return Ok(None);
        };
        let principal = match get_opt_u64(&r, 4)? {
            None => Principal::Root,
            Some(user_id) => Principal::User {
                user_id,
                user_name: get(&r, 5)?,
            },
        };
        let sts = match get::<Option<i64>>(&r, 6)? {
            None => None,
            Some(expires_at) => Some(StsInfo {
                expires_at,
                token_sha256: get::<Vec<u8>>(&r, 7)?.try_into().map_err(|_| {
                    StoreError::Failed("a SecurityToken hash is not 32 bytes".into())
                })?,
                session_policy: get(&r, 8)?,
            }),
        };
        let policies = match &principal {
            Principal::User { user_id, .. } => user_policy_documents(conn, *user_id).await?,
            Principal::Root => Vec::new(),
        };
        Ok(Some(AccessKeyRow {
            account_id: get_u64(&r, 0)?,
            secret_sealed: get(&r, 1)?,
            active: flag_text(&r, 2, "active", "inactive")?,
            account_active: flag_text(&r, 3, "active", "suspended")?,
            principal,
            policies,
            sts,
        }))
    })
    .await
}

/// The documents of the policies attached to user `user_id`, by policy name (ASCII case ignored).
async fn user_policy_documents(conn: &impl Tx, user_id: u64) -> Result<Vec<String>, StoreError> {
    let rows = query(
        conn,
        "SELECT p.document FROM ram_attachments t JOIN ram_policies p ON p.id = t.policy_id \
         WHERE t.user_id = $1 ORDER BY lower(p.name), p.id",
        &[&db_id(user_id)?],
    )
    .await?;
    rows.iter().map(|r| get(r, 0)).collect()
}

/// The domain `name` whoever owns it.
pub(crate) async fn domain_any(
    conn: &impl Tx,
    name: &str,
) -> Result<Option<DomainRecord>, StoreError> {
    query_opt(
        conn,
        &format!("SELECT {DOMAIN_COLUMNS} FROM domains WHERE name = $1"),
        &[&name],
    )
    .await?
    .as_mut()
    .map(domain_from_row)
    .transpose()
}

/// The domain `name` if `account_id` owns it.
pub(crate) async fn domain(
    conn: &impl Tx,
    account_id: AccountId,
    name: &str,
) -> Result<Option<DomainRecord>, StoreError> {
    Ok(domain_any(conn, name)
        .await?
        .filter(|d| d.account_id == account_id))
}

/// Every domain of `account_id`, newest first, then by name.
pub(crate) async fn domains_of(
    conn: &impl Tx,
    account_id: AccountId,
) -> Result<Vec<DomainRecord>, StoreError> {
    let mut rows = query(
        conn,
        &format!(
            "SELECT {DOMAIN_COLUMNS} FROM domains WHERE account_id = $1 ORDER BY created DESC, name"
        ),
        &[&db_id(account_id)?],
    )
    .await?;
    rows.iter_mut().map(domain_from_row).collect()
}

/// The names of the domains bound to `cert_id`, by name.
pub(crate) async fn domains_bound_to(
    conn: &impl Tx,
    cert_id: u64,
) -> Result<Vec<DomainName>, StoreError> {
    let rows = query(
        conn,
        "SELECT name FROM domains WHERE cert_id = $1 ORDER BY name",
        &[&db_id(cert_id)?],
    )
    .await?;
    rows.iter().map(|r| domain_name(r, 0)).collect()
}

/// Record `cert_id` of `account_id`'s library.
pub(crate) async fn certificate(
    conn: &impl Tx,
    account_id: AccountId,
    cert_id: u64,
) -> Result<Option<CertRecord>, StoreError> {
    query_opt(
        conn,
        &format!("SELECT {CERT_COLUMNS} FROM certificates WHERE cert_id = $1 AND account_id = $2"),
        &[&db_id(cert_id)?, &db_id(account_id)?],
    )
    .await?
    .as_mut()
    .map(cert_from_row)
    .transpose()
}

/// Record `cert_id`, whoever owns it (operator reads).
pub(crate) async fn certificate_any(
    conn: &impl Tx,
    cert_id: u64,
) -> Result<Option<CertRecord>, StoreError> {
    query_opt(
        conn,
        &format!("SELECT {CERT_COLUMNS} FROM certificates WHERE cert_id = $1"),
        &[&db_id(cert_id)?],
    )
    .await?
    .as_mut()
    .map(cert_from_row)
    .transpose()
}

/// Record `name` of `account_id`'s library.
pub(crate) async fn certificate_by_name(
    conn: &impl Tx,
    account_id: AccountId,
    name: &str,
) -> Result<Option<CertRecord>, StoreError> {
    query_opt(
        conn,
        &format!(
            "SELECT {CERT_COLUMNS} FROM certificates WHERE account_id = $1 AND cert_name = $2"
        ),
        &[&db_id(account_id)?, &name],
    )
    .await?
    .as_mut()
    .map(cert_from_row)
    .transpose()
}

/// `account_id`'s whole library, by CertId.
pub(crate) async fn library(
    conn: &impl Tx,
    account_id: AccountId,
) -> Result<Vec<CertRecord>, StoreError> {
    let mut rows = query(
        conn,
        &format!("SELECT {CERT_COLUMNS} FROM certificates WHERE account_id = $1 ORDER BY cert_id"),
        &[&db_id(account_id)?],
    )
    .await?;
    rows.iter_mut().map(cert_from_row).collect()
}

/// The records of `account_id` bound to any of `domains` (the account's own domains only), each
/// once, by CertId.
pub(crate) async fn library_bound_to(
    conn: &impl Tx,
    account_id: AccountId,
    domains: &[DomainName],
) -> Result<Vec<CertRecord>, StoreError> {
    let names: Vec<&str> = domains.iter().map(DomainName::as_str).collect();
    // The list is a TEXT[] in PostgreSQL, a JSON array text in SQLite.
    let member = match conn.dialect() {
        Dialect::Postgres => "name = ANY ($2)",
        Dialect::Sqlite => "name IN (SELECT value FROM json_each($2))",
    };
    let mut rows = query(
        conn,
        &format!(
            "SELECT {CERT_COLUMNS} FROM certificates WHERE account_id = $1 AND cert_id IN \
             (SELECT cert_id FROM domains WHERE account_id = $1 AND cert_id IS NOT NULL \
              AND {member}) \
             ORDER BY cert_id"
        ),
        &[&db_id(account_id)?, &names],
    )
    .await?;
    rows.iter_mut().map(cert_from_row).collect()
}

/// The sealed private key of record `cert_id`.
pub(crate) async fn private_key_sealed(
    conn: &impl Tx,
    cert_id: u64,
) -> Result<Option<Vec<u8>>, StoreError> {
    query_opt(
        conn,
        "SELECT private_key_sealed FROM certificates WHERE cert_id = $1",
        &[&db_id(cert_id)?],
    )
    .await?
    .map(|r| get(&r, 0))
    .transpose()
}

/// The columns [`edge_binding_from_row`] reads, in order: a domain with its record, if any
/// (`FROM domains d LEFT JOIN certificates c ON c.cert_id = d.cert_id`).
const EDGE_COLUMNS: &str = "d.name, d.status, d.origin, d.https_required, \
     c.cert_id, c.status, c.not_after, c.chain_pem, c.private_key_sealed";

/// The change counter and every domain with its record if HTTPS is on, by domain name, read in
/// one snapshot so that the rows are exactly the state the counter names.
pub(crate) async fn edge_snapshot(conn: &impl Tx) -> Result<(u64, Vec<EdgeBinding>), StoreError> {
    snapshot(conn, async move {
        let counter = change_counter(conn).await?;
        let mut rows = query(
            conn,
            &format!(
                "SELECT {EDGE_COLUMNS} FROM domains d \
                 LEFT JOIN certificates c ON c.cert_id = d.cert_id ORDER BY d.name"
            ),
            &[],
        )
        .await?;
        let bindings = rows
            .iter_mut()
            .map(|r| edge_binding_from_row(r, 0))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((counter, bindings))
    })
    .await
}

/// The change counter, the domains whose last edge-relevant change is after `since` (as
/// [`edge_snapshot`] reads them) and the names of those deleted since, each by name, read in one
/// snapshot.
pub(crate) async fn edge_changes_since(
    conn: &impl Tx,
    since: u64,
) -> Result<(u64, Vec<EdgeBinding>, Vec<DomainName>), StoreError> {
    // A counter above i64::MAX cannot be stored: nothing changed after it.
    let since = i64::try_from(since).unwrap_or(i64::MAX);
    let (counter, mut changed, mut removed) = snapshot(conn, async move {
        let counter = change_counter(conn).await?;
        let mut rows = query(conn, &edge_changes_sql(), &[&since]).await?;
        let mut changed = Vec::new();
        let mut removed = Vec::new();
        for r in &mut rows {
            if get::<bool>(r, 1)? {
                removed.push(domain_name(r, 0)?);
            } else {
                changed.push(edge_binding_from_row(r, 2)?);
            }
        }
        Ok((counter, changed, removed))
    })
    .await?;
    // Sorted here, not by the query: an ORDER BY on the name lets SQLite prefer walking the
    // primary key (every row) over the counter index to avoid a sort.
    changed.sort_unstable_by(|a, b| a.domain.as_str().cmp(b.domain.as_str()));
    removed.sort_unstable_by(|a, b| a.as_str().cmp(b.as_str()));
    Ok((counter, changed, removed))
}

/// The query of [`edge_changes_since`]: the changed domains through the counter index, with
/// their domain and record rows if they still exist.
fn edge_changes_sql() -> String {
    format!(
        "SELECT e.domain, d.name IS NULL, {EDGE_COLUMNS} FROM edge_changes e \
         LEFT JOIN domains d ON d.name = e.domain \
         LEFT JOIN certificates c ON c.cert_id = d.cert_id \
         WHERE e.counter > $1"
    )
}

/// Maps the [`EDGE_COLUMNS`] of a row, from column `at`. The chain is decoded to DER here; a chain
/// that does not decode gives an empty chain, logged.
fn edge_binding_from_row(r: &mut Row, at: usize) -> Result<EdgeBinding, StoreError> {
    let domain = domain_name(r, at)?;
    let record = match get_opt_u64(r, at + 4)? {
        None => None,
        Some(cert_id) => {
            let chain_pem: &str = get(r, at + 7)?;
            let chain_der = match stored_chain_der(chain_pem) {
                Ok(der) => der,
                Err(why) => {
                    tracing::warn!(cert_id, %why, "a stored chain does not decode: the edge cannot serve it");
                    Vec::new()
                }
            };
            Some(EdgeRecord {
                cert_id,
                status: get(r, at + 5)?,
                not_after: get(r, at + 6)?,
                chain_der,
                key_sealed: SealedKey::new(take(r, at + 8)?),
            })
        }
    };
    Ok(EdgeBinding {
        domain,
        domain_status: domain_status(r, at + 1)?,
        origin: take(r, at + 2)?,
        https_required: get(r, at + 3)?,
        record,
    })
}

/// Every account id, oldest first.
pub(crate) async fn account_ids(conn: &impl Tx) -> Result<Vec<AccountId>, StoreError> {
    let rows = query(conn, "SELECT id FROM accounts ORDER BY created, id", &[]).await?;
    rows.iter().map(|r| get_u64(r, 0)).collect()
}

/// Whether there is no account at all.
pub(crate) async fn no_accounts(conn: &impl Tx) -> Result<bool, StoreError> {
    let row = query_one(conn, "SELECT NOT EXISTS (SELECT 1 FROM accounts)", &[]).await?;
    get(&row, 0)
}

/// The first AccessKey secret by id; if there is none, the first private key by CertId; if there
/// is none either, `None`.
pub(crate) async fn any_sealed_secret(conn: &impl Tx) -> Result<Option<SealedSecret>, StoreError> {
    let key = query_opt(
        conn,
        "SELECT id, secret_sealed FROM access_keys ORDER BY id LIMIT 1",
        &[],
    )
    .await?;
    if let Some(r) = key {
        return Ok(Some(SealedSecret::AccessKey {
            id: get(&r, 0)?,
            sealed: get(&r, 1)?,
        }));
    }
    let cert = query_opt(
        conn,
        "SELECT cert_id, private_key_sealed FROM certificates ORDER BY cert_id LIMIT 1",
        &[],
    )
    .await?;
    cert.map(|r| {
        Ok(SealedSecret::CertKey {
            cert_id: get_u64(&r, 0)?,
            sealed: get(&r, 1)?,
        })
    })
    .transpose()
}

/// The change counter.
pub(crate) async fn change_counter(conn: &impl Tx) -> Result<u64, StoreError> {
    let row = query_one(conn, "SELECT counter FROM changes WHERE id = 1", &[]).await?;
    get_u64(&row, 0)
}

/// Maps a row of [`DOMAIN_COLUMNS`].
pub(crate) fn domain_from_row(r: &mut Row) -> Result<DomainRecord, StoreError> {
    Ok(DomainRecord {
        name: domain_name(r, 0)?,
        account_id: get_u64(r, 1)?,
        status: domain_status(r, 2)?,
        live_domain_type: take(r, 3)?,
        region: take(r, 4)?,
        scope: take(r, 5)?,
        check_url: take(r, 6)?,
        top_level_domain: take(r, 7)?,
        resource_group_id: take(r, 8)?,
        description: take(r, 9)?,
        https: get(r, 10)?,
        cert_id: get_opt_u64(r, 11)?,
        locked: get(r, 12)?,
        safe_mode: get(r, 13)?,
        protected_mode: get(r, 14)?,
        https_required: get(r, 15)?,
        functions: take(r, 16)?,
        created: get(r, 17)?,
        modified: get(r, 18)?,
        origin: take(r, 19)?,
    })
}

/// Maps a row of [`CERT_COLUMNS`].
pub(crate) fn cert_from_row(r: &mut Row) -> Result<CertRecord, StoreError> {
    Ok(CertRecord {
        cert_id: get_u64(r, 0)?,
        account_id: get_u64(r, 1)?,
        cert_name: CertName::from_trusted(take(r, 2)?),
        cert_type: {
            let text: &str = get(r, 3)?;
            RecordType::from_name(text)
                .ok_or_else(|| StoreError::Failed(format!("unknown record type {text:?}")))?
        },
        status: {
            let text: &str = get(r, 4)?;
            CertStatus::from_name(text)
                .ok_or_else(|| StoreError::Failed(format!("unknown record status {text:?}")))?
        },
        chain_pem: take(r, 5)?,
        facts: CertFacts {
            fingerprint_sha256: take(r, 6)?,
            spki_sha256: take(r, 7)?,
            subject_cn: take(r, 8)?,
            dns_sans: take(r, 9)?,
            issuer_cn: take(r, 10)?,
            issuer_org: take(r, 11)?,
            serial_hex: take(r, 12)?,
            not_before: get(r, 13)?,
            not_after: get(r, 14)?,
            key_algorithm: {
                let text: &str = get(r, 15)?;
                KeyAlgorithm::from_name(text)
                    .ok_or_else(|| StoreError::Failed(format!("unknown key algorithm {text:?}")))?
            },
            key_bits: {
                let bits: i64 = get(r, 16)?;
                u32::try_from(bits)
                    .map_err(|_| StoreError::Failed(format!("key size {bits} out of range")))?
            },
        },
        created: get(r, 17)?,
        last_changed: get(r, 18)?,
    })
}

fn domain_name(r: &Row, idx: usize) -> Result<DomainName, StoreError> {
    let text: &str = get(r, idx)?;
    DomainName::parse(text).map_err(|e| StoreError::Failed(format!("stored domain name: {e}")))
}

fn domain_status(r: &Row, idx: usize) -> Result<DomainStatus, StoreError> {
    let text: &str = get(r, idx)?;
    DomainStatus::from_name(text)
        .ok_or_else(|| StoreError::Failed(format!("unknown domain status {text:?}")))
}

/// A status column that is `yes` or `no`.
pub(crate) fn flag_text(r: &Row, idx: usize, yes: &str, no: &str) -> Result<bool, StoreError> {
    let text: &str = get(r, idx)?;
    if text == yes {
        Ok(true)
    } else if text == no {
        Ok(false)
    } else {
        Err(StoreError::Failed(format!("unknown status {text:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The changes since a counter are found through the counter index, not by reading every
    /// row: the edge asks after each commit, whatever the number of domains.
    #[test]
    fn changes_since_a_counter_use_the_counter_index() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = crate::sqlite::open_writer(&dir.path().join("t.db")).unwrap();
        crate::sqlite::schema::migrate(&mut conn, 1).unwrap();
        let plan: Vec<String> = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {}", edge_changes_sql()))
            .unwrap()
            .query_map([5], |r| r.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            plan.iter()
                .any(|step| step.contains("edge_changes_by_counter (counter>?)")),
            "{plan:?}"
        );
        assert!(
            !plan.iter().any(|step| step.starts_with("SCAN")),
            "{plan:?}"
        );
    }
}
