//! Queries and row mapping. Each function takes a plain connection, so the same query serves the
//! read pool and the writer (which re-reads inside its transaction). Statements are prepared
//! through the connection's cache.
//!
//! Data read from the database is never trusted to be well formed: a value that does not map
//! (an unknown status, a domain name that no longer parses, bad JSON) is a
//! `FromSqlConversionFailure`, which the caller turns into [`crate::StoreError::Failed`].

use rusqlite::types::Type;
use rusqlite::{params, Connection, OptionalExtension, Row};

use livecert_core::cert::{stored_chain_der, CertFacts, KeyAlgorithm};
use livecert_core::names::{CertName, DomainName};

use crate::{
    AccountId, CertRecord, DomainRecord, DomainStatus, EdgeBinding, EdgeRecord, Principal,
    SealedKey, StsInfo, UserId,
};

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

/// The AccessKey `id` with its account's status, its user and that user's policies, read in one
/// transaction.
pub(crate) fn access_key(
    conn: &mut Connection,
    id: &str,
) -> rusqlite::Result<Option<AccessKeyRow>> {
    let tx = conn.transaction()?;
    let row = tx
        .prepare_cached(
            "SELECT k.account_id, k.secret_sealed, k.status, a.status, k.user_id, u.name, \
             k.sts_expires_at, k.sts_token_sha256, k.sts_session_policy \
             FROM access_keys k JOIN accounts a ON a.id = k.account_id \
             LEFT JOIN ram_users u ON u.id = k.user_id WHERE k.id = ?1",
        )?
        .query_row(params![id], |r| {
            let principal = match r.get::<_, Option<UserId>>(4)? {
                None => Principal::Root,
                Some(user_id) => Principal::User {
                    user_id,
                    user_name: r.get(5)?,
                },
            };
            let sts = match r.get::<_, Option<i64>>(6)? {
                None => None,
                Some(expires_at) => Some(StsInfo {
                    expires_at,
                    token_sha256: r
                        .get::<_, Vec<u8>>(7)?
                        .try_into()
                        .map_err(|_| bad(7, "a SecurityToken hash is not 32 bytes".to_owned()))?,
                    session_policy: r.get(8)?,
                }),
            };
            Ok(AccessKeyRow {
                account_id: r.get(0)?,
                secret_sealed: r.get(1)?,
                active: flag_text(r, 2, "active", "inactive")?,
                account_active: flag_text(r, 3, "active", "suspended")?,
                principal,
                policies: Vec::new(),
                sts,
            })
        })
        .optional()?;
    let row = match row {
        Some(mut row) => {
            if let Principal::User { user_id, .. } = &row.principal {
                row.policies = user_policy_documents(&tx, *user_id)?;
            }
            Some(row)
        }
        None => None,
    };
    tx.commit()?;
    Ok(row)
}

/// The documents of the policies attached to user `user_id`, by policy name.
fn user_policy_documents(conn: &Connection, user_id: UserId) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT p.document FROM ram_attachments t JOIN ram_policies p ON p.id = t.policy_id \
         WHERE t.user_id = ?1 ORDER BY p.name, p.id",
    )?;
    let rows = stmt.query_map(params![user_id], |r| r.get(0))?;
    rows.collect()
}

/// The domain `name` whoever owns it.
pub(crate) fn domain_any(conn: &Connection, name: &str) -> rusqlite::Result<Option<DomainRecord>> {
    conn.prepare_cached(&format!(
        "SELECT {DOMAIN_COLUMNS} FROM domains WHERE name = ?1"
    ))?
    .query_row(params![name], domain_from_row)
    .optional()
}

/// The domain `name` if `account_id` owns it.
pub(crate) fn domain(
    conn: &Connection,
    account_id: AccountId,
    name: &str,
) -> rusqlite::Result<Option<DomainRecord>> {
    Ok(domain_any(conn, name)?.filter(|d| d.account_id == account_id))
}

/// Every domain of `account_id`, newest first, then by name.
pub(crate) fn domains_of(
    conn: &Connection,
    account_id: AccountId,
) -> rusqlite::Result<Vec<DomainRecord>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {DOMAIN_COLUMNS} FROM domains WHERE account_id = ?1 ORDER BY created DESC, name"
    ))?;
    let rows = stmt.query_map(params![account_id], domain_from_row)?;
    rows.collect()
}

/// The names of the domains bound to `cert_id`, by name.
pub(crate) fn domains_bound_to(
    conn: &Connection,
    cert_id: u64,
) -> rusqlite::Result<Vec<DomainName>> {
    let mut stmt =
        conn.prepare_cached("SELECT name FROM domains WHERE cert_id = ?1 ORDER BY name")?;
    let rows = stmt.query_map(params![cert_id], |r| domain_name(r, 0))?;
    rows.collect()
}

/// Record `cert_id` of `account_id`'s library.
pub(crate) fn certificate(
    conn: &Connection,
    account_id: AccountId,
    cert_id: u64,
) -> rusqlite::Result<Option<CertRecord>> {
    conn.prepare_cached(&format!(
        "SELECT {CERT_COLUMNS} FROM certificates WHERE cert_id = ?1 AND account_id = ?2"
    ))?
    .query_row(params![cert_id, account_id], cert_from_row)
    .optional()
}

/// Record `cert_id`, whoever owns it (operator reads).
pub(crate) fn certificate_any(
    conn: &Connection,
    cert_id: u64,
) -> rusqlite::Result<Option<CertRecord>> {
    conn.prepare_cached(&format!(
        "SELECT {CERT_COLUMNS} FROM certificates WHERE cert_id = ?1"
    ))?
    .query_row(params![cert_id], cert_from_row)
    .optional()
}

/// Record `name` of `account_id`'s library.
pub(crate) fn certificate_by_name(
    conn: &Connection,
    account_id: AccountId,
    name: &str,
) -> rusqlite::Result<Option<CertRecord>> {
    conn.prepare_cached(&format!(
        "SELECT {CERT_COLUMNS} FROM certificates WHERE account_id = ?1 AND cert_name = ?2"
    ))?
    .query_row(params![account_id, name], cert_from_row)
    .optional()
}

/// `account_id`'s whole library, by CertId.
pub(crate) fn library(
    conn: &Connection,
    account_id: AccountId,
) -> rusqlite::Result<Vec<CertRecord>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {CERT_COLUMNS} FROM certificates WHERE account_id = ?1 ORDER BY cert_id"
    ))?;
    let rows = stmt.query_map(params![account_id], cert_from_row)?;
    rows.collect()
}

/// The records of `account_id` bound to any of `domains` (the account's own domains only), each
/// once, by CertId.
pub(crate) fn library_bound_to(
    conn: &Connection,
    account_id: AccountId,
    domains: &[DomainName],
) -> rusqlite::Result<Vec<CertRecord>> {
    let names: Vec<&str> = domains.iter().map(DomainName::as_str).collect();
    let names = serde_json::to_string(&names)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {CERT_COLUMNS} FROM certificates WHERE account_id = ?1 AND cert_id IN \
         (SELECT cert_id FROM domains WHERE account_id = ?1 AND cert_id IS NOT NULL \
          AND name IN (SELECT value FROM json_each(?2))) \
         ORDER BY cert_id"
    ))?;
    let rows = stmt.query_map(params![account_id, names], cert_from_row)?;
    rows.collect()
}

/// The sealed private key of record `cert_id`.
pub(crate) fn private_key_sealed(
    conn: &Connection,
    cert_id: u64,
) -> rusqlite::Result<Option<Vec<u8>>> {
    conn.prepare_cached("SELECT private_key_sealed FROM certificates WHERE cert_id = ?1")?
        .query_row(params![cert_id], |r| r.get(0))
        .optional()
}

/// The columns [`edge_binding_from_row`] reads, in order: a domain with its record, if any
/// (`FROM domains d LEFT JOIN certificates c ON c.cert_id = d.cert_id`).
const EDGE_COLUMNS: &str = "d.name, d.status, d.origin, d.https_required, \
     c.cert_id, c.status, c.not_after, c.chain_pem, c.private_key_sealed";

/// The change counter and every domain with its record if HTTPS is on, by domain name, read in
/// one read transaction so that the rows are exactly the state the counter names.
pub(crate) fn edge_snapshot(conn: &mut Connection) -> rusqlite::Result<(u64, Vec<EdgeBinding>)> {
    let tx = conn.transaction()?;
    let counter = change_counter(&tx)?;
    let bindings = {
        let mut stmt = tx.prepare_cached(&format!(
            "SELECT {EDGE_COLUMNS} FROM domains d \
             LEFT JOIN certificates c ON c.cert_id = d.cert_id ORDER BY d.name"
        ))?;
        let rows = stmt.query_map([], |r| edge_binding_from_row(r, 0))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()?
    };
    tx.commit()?;
    Ok((counter, bindings))
}

/// The change counter, the domains whose last edge-relevant change is after `since` (as
/// [`edge_snapshot`] reads them) and the names of those deleted since, each by name, read in one
/// read transaction.
pub(crate) fn edge_changes_since(
    conn: &mut Connection,
    since: u64,
) -> rusqlite::Result<(u64, Vec<EdgeBinding>, Vec<DomainName>)> {
    let tx = conn.transaction()?;
    let counter = change_counter(&tx)?;
    let mut changed = Vec::new();
    let mut removed = Vec::new();
    {
        let mut stmt = tx.prepare_cached(&edge_changes_sql())?;
        let mut rows = stmt.query(params![since])?;
        while let Some(r) = rows.next()? {
            if r.get::<_, bool>(1)? {
                removed.push(domain_name(r, 0)?);
            } else {
                changed.push(edge_binding_from_row(r, 2)?);
            }
        }
    }
    tx.commit()?;
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
         WHERE e.counter > ?1"
    )
}

/// Maps the [`EDGE_COLUMNS`] of a row, from column `at`. The chain is decoded to DER here, from
/// the borrowed text (no copy of the PEM is kept); a chain that does not decode gives an empty
/// chain, logged.
fn edge_binding_from_row(r: &Row<'_>, at: usize) -> rusqlite::Result<EdgeBinding> {
    let domain = domain_name(r, at)?;
    let record = match r.get::<_, Option<u64>>(at + 4)? {
        None => None,
        Some(cert_id) => {
            let chain_pem = r.get_ref(at + 7)?.as_str().map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(at + 7, Type::Text, e.into())
            })?;
            let chain_der = match stored_chain_der(chain_pem) {
                Ok(der) => der,
                Err(why) => {
                    tracing::warn!(cert_id, %why, "a stored chain does not decode: the edge cannot serve it");
                    Vec::new()
                }
            };
            Some(EdgeRecord {
                cert_id,
                status: r.get(at + 5)?,
                not_after: r.get(at + 6)?,
                chain_der,
                key_sealed: SealedKey::new(r.get(at + 8)?),
            })
        }
    };
    Ok(EdgeBinding {
        domain,
        domain_status: {
            let text: String = r.get(at + 1)?;
            DomainStatus::from_name(&text)
                .ok_or_else(|| bad(at + 1, format!("unknown domain status {text:?}")))?
        },
        origin: r.get(at + 2)?,
        https_required: r.get(at + 3)?,
        record,
    })
}

/// Every account id, oldest first.
pub(crate) fn account_ids(conn: &Connection) -> rusqlite::Result<Vec<AccountId>> {
    let mut stmt = conn.prepare_cached("SELECT id FROM accounts ORDER BY created, id")?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    rows.collect()
}

/// Whether there is no account at all.
pub(crate) fn no_accounts(conn: &Connection) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT NOT EXISTS (SELECT 1 FROM accounts)")?
        .query_row([], |r| r.get(0))
}

/// One sealed secret of the store, to check the master key against.
pub(crate) enum SealedSecret {
    /// The secret of AccessKey `id`.
    AccessKey { id: String, sealed: Vec<u8> },
    /// The private key of record `cert_id`.
    CertKey { cert_id: u64, sealed: Vec<u8> },
}

/// The first AccessKey secret by id; if there is none, the first private key by CertId; if there
/// is none either, `None`.
pub(crate) fn any_sealed_secret(conn: &Connection) -> rusqlite::Result<Option<SealedSecret>> {
    let key = conn
        .prepare_cached("SELECT id, secret_sealed FROM access_keys ORDER BY id LIMIT 1")?
        .query_row([], |r| {
            Ok(SealedSecret::AccessKey {
                id: r.get(0)?,
                sealed: r.get(1)?,
            })
        })
        .optional()?;
    if key.is_some() {
        return Ok(key);
    }
    conn.prepare_cached(
        "SELECT cert_id, private_key_sealed FROM certificates ORDER BY cert_id LIMIT 1",
    )?
    .query_row([], |r| {
        Ok(SealedSecret::CertKey {
            cert_id: r.get(0)?,
            sealed: r.get(1)?,
        })
    })
    .optional()
}

/// The change counter.
pub(crate) fn change_counter(conn: &Connection) -> rusqlite::Result<u64> {
    conn.prepare_cached("SELECT counter FROM changes WHERE id = 1")?
        .query_row([], |r| r.get(0))
}

/// Maps a row of [`DOMAIN_COLUMNS`].
pub(crate) fn domain_from_row(r: &Row<'_>) -> rusqlite::Result<DomainRecord> {
    Ok(DomainRecord {
        name: domain_name(r, 0)?,
        account_id: r.get(1)?,
        status: {
            let text: String = r.get(2)?;
            DomainStatus::from_name(&text)
                .ok_or_else(|| bad(2, format!("unknown domain status {text:?}")))?
        },
        live_domain_type: r.get(3)?,
        region: r.get(4)?,
        scope: r.get(5)?,
        check_url: r.get(6)?,
        top_level_domain: r.get(7)?,
        resource_group_id: r.get(8)?,
        description: r.get(9)?,
        https: r.get(10)?,
        cert_id: r.get(11)?,
        locked: r.get(12)?,
        safe_mode: r.get(13)?,
        protected_mode: r.get(14)?,
        https_required: r.get(15)?,
        functions: json_strings(r, 16)?,
        created: r.get(17)?,
        modified: r.get(18)?,
        origin: r.get(19)?,
    })
}

/// Maps a row of [`CERT_COLUMNS`].
pub(crate) fn cert_from_row(r: &Row<'_>) -> rusqlite::Result<CertRecord> {
    Ok(CertRecord {
        cert_id: r.get(0)?,
        account_id: r.get(1)?,
        cert_name: CertName::from_trusted(r.get(2)?),
        cert_type: r.get(3)?,
        status: r.get(4)?,
        chain_pem: r.get(5)?,
        facts: CertFacts {
            fingerprint_sha256: r.get(6)?,
            spki_sha256: r.get(7)?,
            subject_cn: r.get(8)?,
            dns_sans: json_strings(r, 9)?,
            issuer_cn: r.get(10)?,
            issuer_org: r.get(11)?,
            serial_hex: r.get(12)?,
            not_before: r.get(13)?,
            not_after: r.get(14)?,
            key_algorithm: {
                let text: String = r.get(15)?;
                KeyAlgorithm::from_name(&text)
                    .ok_or_else(|| bad(15, format!("unknown key algorithm {text:?}")))?
            },
            key_bits: r.get(16)?,
        },
        created: r.get(17)?,
        last_changed: r.get(18)?,
    })
}

fn domain_name(r: &Row<'_>, idx: usize) -> rusqlite::Result<DomainName> {
    let text: String = r.get(idx)?;
    DomainName::parse(&text).map_err(|e| bad(idx, format!("stored domain name: {e}")))
}

fn json_strings(r: &Row<'_>, idx: usize) -> rusqlite::Result<Vec<String>> {
    let text: String = r.get(idx)?;
    serde_json::from_str(&text).map_err(|e| bad(idx, format!("stored JSON list: {e}")))
}

pub(crate) fn flag_text(r: &Row<'_>, idx: usize, yes: &str, no: &str) -> rusqlite::Result<bool> {
    let text: String = r.get(idx)?;
    if text == yes {
        Ok(true)
    } else if text == no {
        Ok(false)
    } else {
        Err(bad(idx, format!("unknown status {text:?}")))
    }
}

pub(crate) fn bad(idx: usize, why: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, why.into())
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
