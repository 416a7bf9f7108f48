//! The ACME issuer's statements (issue 13), written once for both backends: the request that
//! reserves a free record and queues its order, the lease a node takes on an order, the
//! challenges every edge node answers, an order's end (the record filled and bound, or failed),
//! the renewals that fall due, and the reads of `livecert admin acme status` and Describe.
//!
//! Nothing here sees key material in the clear: the ACME account's credentials and an issued
//! certificate's private key arrive sealed; a challenge row holds only the key authorization the
//! edge answers with in public.

use livecert_core::cert::CheckedUpload;
use livecert_core::names::{CertName, DomainName};
use livecert_core::ops::set_live_domain_certificate::{
    decide_free_request, free_already_ordered, free_order_delay_secs, FreeRequest,
    FREE_FAILURE_WINDOW_SECS,
};

use crate::db::{db_id, execute, get, get_u64, query, query_opt, take, Row, Tx};
use crate::sql::{read, write};
use crate::{
    AccountId, AcmeChallenge, AcmeOrder, AcmeProblem, ChallengeKind, FreeRequested,
    OrderCompletion, OrderPurpose, OrderState, RecordType, StoreError, WriteError,
};

/// A free record's next renewal, over `certificates c` left-joined with `acme_renewals r`: the
/// time the ACME issuer stored, or two thirds of the way from notBefore to notAfter.
const RENEW_AT: &str = "COALESCE(r.renew_at, c.not_before + (c.not_after - c.not_before) * 2 / 3)";

/// The columns [`order_from_row`] reads, from `acme_orders o` joined with `certificates c`.
const ORDER_COLUMNS: &str = "o.id, o.account_id, o.cert_id, c.cert_name, o.domain, o.purpose, \
     o.state, o.attempts, o.next_attempt, o.lease_owner, o.lease_until, o.order_url, \
     o.challenge_type, o.problem_type, o.problem_detail, o.problem_identifier, o.created, \
     o.updated";

/// `acme_orders o` with the name of the record each order fills (a record deleted meanwhile
/// leaves its orders with an empty name).
const ORDERS_FROM: &str =
    "acme_orders o LEFT JOIN certificates c ON c.cert_id = o.cert_id AND c.account_id = o.account_id";

/// Rows 7–11 and 22–26 of a `CertType=free` request to an asynchronous issuer: reserves the
/// record (a new one in status `applying`, or the one `CertName` names with `ForceSet=1`) and
/// queues an order to issue its certificate for exactly `domain`, due at `now` — later when the
/// domain's orders failed within the last day (core's `free_order_delay_secs`). The domain's
/// binding does not change until the order is valid. An order already in flight for the domain
/// is answered as it is, without a second one, when the call names no CertName (`name_given`
/// false: `cert_name` was generated) or that order's; another CertName is refused after its own
/// checks (core's `free_already_ordered`). An order in flight for the named record (a renewal)
/// is answered as it is.
pub(crate) async fn request_free(
    conn: &impl Tx,
    account_id: AccountId,
    domain: &DomainName,
    cert_name: &CertName,
    name_given: bool,
    force_set: bool,
    now: i64,
) -> Result<FreeRequested, WriteError> {
    crate::rules::require_online(&write::domain_for_change(conn, account_id, domain).await?)?;
    let account = db_id(account_id)?;
    let in_flight = query_opt(
        conn,
        &format!(
            "SELECT {ORDER_COLUMNS} FROM {ORDERS_FROM} WHERE o.domain = $1 AND o.account_id = $2 \
             AND o.state = 'pending' AND o.purpose = 'issue' ORDER BY o.id LIMIT 1"
        ),
        &[&domain.as_str(), &account],
    )
    .await?;
    let in_flight = in_flight
        .map(|mut row| order_from_row(&mut row))
        .transpose()?;
    if let Some(order) = in_flight
        .as_ref()
        .filter(|o| !name_given || o.cert_name == *cert_name)
    {
        return Ok(FreeRequested::AlreadyOrdered {
            cert_id: order.cert_id,
            cert_name: order.cert_name.clone(),
        });
    }
    let snapshot = write::library_snapshot(conn, account_id, cert_name, "").await?;
    let decision = decide_free_request(
        snapshot.by_name.as_ref(),
        &snapshot.bound_to_named,
        force_set,
        domain,
    )
    .map_err(WriteError::Refused)?;
    if let Some(order) = in_flight {
        return Err(WriteError::Refused(free_already_ordered(
            domain,
            order.cert_name.as_str(),
            order.cert_id,
        )));
    }
    let cert_id = match decision {
        FreeRequest::Create => insert_applying(conn, account_id, cert_name, domain, now).await?,
        FreeRequest::Reissue { cert_id } => {
            let pending = query_opt(
                conn,
                "SELECT 1 FROM acme_orders WHERE cert_id = $1 AND state = 'pending'",
                &[&db_id(cert_id)?],
            )
            .await?;
            if pending.is_some() {
                return Ok(FreeRequested::AlreadyOrdered {
                    cert_id,
                    cert_name: cert_name.clone(),
                });
            }
            execute(
                conn,
                "UPDATE certificates SET status = 'applying', last_changed = $2 \
                 WHERE cert_id = $1 AND status = 'failed'",
                &[&db_id(cert_id)?, &now],
            )
            .await?;
            cert_id
        }
    };
    let failures = query_opt(
        conn,
        "SELECT COUNT(*) FROM acme_orders WHERE domain = $1 AND account_id = $2 \
         AND purpose = 'issue' AND state = 'failed' AND updated >= $3",
        &[
            &domain.as_str(),
            &account,
            &(now - FREE_FAILURE_WINDOW_SECS),
        ],
    )
    .await?
    .map(|r| get::<i64>(&r, 0))
    .transpose()?
    .unwrap_or(0);
    let due = now + free_order_delay_secs(u32::try_from(failures).unwrap_or(u32::MAX));
    let row = query_opt(
        conn,
        "INSERT INTO acme_orders (account_id, cert_id, domain, purpose, state, next_attempt, \
         created, updated) VALUES ($1, $2, $3, 'issue', 'pending', $4, $5, $5) RETURNING id",
        &[&account, &db_id(cert_id)?, &domain.as_str(), &due, &now],
    )
    .await?
    .ok_or_else(|| StoreError::Failed("the order was not inserted".into()))?;
    Ok(FreeRequested::Ordered {
        order_id: get_u64(&row, 0)?,
        cert_id,
        cert_name: cert_name.clone(),
    })
}

/// Inserts the record a free certificate will fill: type `free`, status `applying`, its one name
/// `domain`, no certificate or key yet (empty chain, fingerprint and serial; validity 0–0; the
/// key type it will get, ECDSA P-256).
async fn insert_applying(
    conn: &impl Tx,
    account_id: AccountId,
    cert_name: &CertName,
    domain: &DomainName,
    now: i64,
) -> Result<u64, WriteError> {
    let cert_id = write::next_cert_id(conn).await?;
    let names = vec![domain.as_str().to_owned()];
    let no_key: &[u8] = &[];
    execute(
        conn,
        "INSERT INTO certificates (cert_id, account_id, cert_name, cert_type, status, chain_pem, \
         private_key_sealed, fingerprint_sha256, spki_sha256, subject_cn, dns_sans, issuer_cn, \
         issuer_org, serial_hex, not_before, not_after, key_algorithm, key_bits, created, \
         last_changed) VALUES ($1, $2, $3, 'free', 'applying', '', $4, '', '', NULL, $5, NULL, \
         NULL, '', 0, 0, 'ECDSA-P256', 256, $6, $6)",
        &[
            &db_id(cert_id)?,
            &db_id(account_id)?,
            &cert_name.as_str(),
            &no_key,
            &names,
            &now,
        ],
    )
    .await?;
    Ok(cert_id)
}

/// Takes the lease of up to `limit` due orders for `owner` until `lease_until`: pending orders
/// whose next attempt is due and whose lease is free or has run out (a node that died is taken
/// over), oldest due first, at most `per_account` held by `owner` for any one account (so one
/// account's flood waits behind its own orders only). Each order taken counts one attempt.
pub(crate) async fn claim_orders(
    conn: &impl Tx,
    owner: &str,
    now: i64,
    lease_until: i64,
    limit: usize,
    per_account: usize,
) -> Result<Vec<AcmeOrder>, WriteError> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let mut held = std::collections::HashMap::<u64, usize>::new();
    for row in query(
        conn,
        "SELECT account_id, COUNT(*) FROM acme_orders WHERE state = 'pending' \
         AND lease_owner = $1 AND lease_until >= $2 GROUP BY account_id",
        &[&owner, &now],
    )
    .await?
    {
        let count: i64 = get(&row, 1)?;
        held.insert(
            get_u64(&row, 0)?,
            usize::try_from(count).unwrap_or(usize::MAX),
        );
    }
    let scan = i64::try_from(limit.saturating_mul(8)).unwrap_or(i64::MAX);
    let candidates = query(
        conn,
        &format!(
            "SELECT {ORDER_COLUMNS} FROM {ORDERS_FROM} WHERE o.state = 'pending' \
             AND o.next_attempt <= $1 AND (o.lease_until IS NULL OR o.lease_until < $1) \
             ORDER BY o.next_attempt, o.id LIMIT $2"
        ),
        &[&now, &scan],
    )
    .await?;
    let mut claimed = Vec::new();
    for mut row in candidates {
        if claimed.len() == limit {
            break;
        }
        let mut order = order_from_row(&mut row)?;
        let count = held.entry(order.account_id).or_default();
        if *count >= per_account {
            continue;
        }
        let taken = execute(
            conn,
            "UPDATE acme_orders SET lease_owner = $2, lease_until = $3, attempts = attempts + 1, \
             updated = $4 WHERE id = $1 AND state = 'pending' \
             AND (lease_until IS NULL OR lease_until < $4)",
            &[&db_id(order.id)?, &owner, &lease_until, &now],
        )
        .await?;
        if taken == 1 {
            *count += 1;
            order.lease_owner = Some(owner.to_owned());
            order.lease_until = Some(lease_until);
            order.attempts += 1;
            claimed.push(order);
        }
    }
    Ok(claimed)
}

/// Extends `owner`'s lease on an order to `lease_until` and notes its ACME order URL and
/// challenge type when given. Returns whether `owner` still holds the lease (`false`: another
/// node took the order over, and this one must stop working on it).
pub(crate) async fn renew_lease(
    conn: &impl Tx,
    order_id: u64,
    owner: &str,
    lease_until: i64,
    order_url: Option<&str>,
    challenge: Option<ChallengeKind>,
    now: i64,
) -> Result<bool, WriteError> {
    let n = execute(
        conn,
        "UPDATE acme_orders SET lease_until = $3, order_url = COALESCE($4, order_url), \
         challenge_type = COALESCE($5, challenge_type), updated = $6 \
         WHERE id = $1 AND lease_owner = $2 AND state = 'pending'",
        &[
            &db_id(order_id)?,
            &owner,
            &lease_until,
            &order_url,
            &challenge.map(ChallengeKind::as_str),
            &now,
        ],
    )
    .await?;
    Ok(n == 1)
}

/// Gives back every lease `owner` holds on pending orders (a node that stops cleanly), so that
/// they are due again at once; returns how many. Their challenges are removed.
pub(crate) async fn release_leases(
    conn: &impl Tx,
    owner: &str,
    now: i64,
) -> Result<u64, WriteError> {
    execute(
        conn,
        "DELETE FROM acme_challenges WHERE order_id IN (SELECT id FROM acme_orders \
         WHERE lease_owner = $1 AND state = 'pending')",
        &[&owner],
    )
    .await?;
    Ok(execute(
        conn,
        "UPDATE acme_orders SET lease_owner = NULL, lease_until = NULL, updated = $2 \
         WHERE lease_owner = $1 AND state = 'pending'",
        &[&owner, &now],
    )
    .await?)
}

/// Stores a challenge for the edge to answer (replacing one with the same token).
pub(crate) async fn put_challenge(
    conn: &impl Tx,
    challenge: &AcmeChallenge,
) -> Result<(), WriteError> {
    execute(
        conn,
        "INSERT INTO acme_challenges (token, domain, challenge_type, key_authorization, order_id, \
         expires) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (token) DO UPDATE SET \
         domain = excluded.domain, challenge_type = excluded.challenge_type, \
         key_authorization = excluded.key_authorization, order_id = excluded.order_id, \
         expires = excluded.expires",
        &[
            &challenge.token,
            &challenge.domain,
            &challenge.kind.as_str(),
            &challenge.key_authorization,
            &db_id(challenge.order_id)?,
            &challenge.expires,
        ],
    )
    .await?;
    Ok(())
}

/// The challenges that have not expired at `now`, at most `limit`, oldest order first.
pub(crate) async fn challenges(
    conn: &impl Tx,
    now: i64,
    limit: usize,
) -> Result<Vec<AcmeChallenge>, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    query(
        conn,
        "SELECT token, domain, challenge_type, key_authorization, order_id, expires \
         FROM acme_challenges WHERE expires > $1 ORDER BY order_id, token LIMIT $2",
        &[&now, &limit],
    )
    .await?
    .into_iter()
    .map(|mut r| {
        let kind: &str = get(&r, 2)?;
        let kind = ChallengeKind::from_name(kind)
            .ok_or_else(|| StoreError::Failed(format!("unknown challenge type {kind:?}")))?;
        Ok(AcmeChallenge {
            token: take(&mut r, 0)?,
            domain: take(&mut r, 1)?,
            kind,
            key_authorization: take(&mut r, 3)?,
            order_id: get_u64(&r, 4)?,
            expires: get(&r, 5)?,
        })
    })
    .collect()
}

/// The end of a valid order held by `owner`: the record is filled with `issued` (its key
/// `key_sealed`), status `success`, in place (same CertId); an issuance binds it to its domain,
/// HTTPS on, when the domain still allows the change (rows 7–11); a renewal only replaces the
/// content, so that every domain bound to the record is served the new certificate. The
/// record's next renewal is `renew_at`. The order's challenges are removed, and an audit entry
/// says what happened.
///
/// Errors: `Failed` when `owner` no longer holds the order (another node took it over).
pub(crate) async fn complete_order(
    conn: &impl Tx,
    order_id: u64,
    owner: &str,
    issued: &CheckedUpload,
    key_sealed: &[u8],
    renew_at: i64,
    now: i64,
) -> Result<OrderCompletion, WriteError> {
    let order = held_order(conn, order_id, owner).await?;
    let record = read::certificate(conn, order.account_id, order.cert_id).await?;
    let completion = if record.is_none() {
        OrderCompletion::RecordGone
    } else if record
        .as_ref()
        .is_some_and(|r| r.status == crate::CertStatus::Revoked)
    {
        // The operator revoked the record while the order ran: a new certificate must not
        // bring it back into service.
        OrderCompletion::RecordRevoked
    } else {
        write::replace_certificate(
            conn,
            order.account_id,
            order.cert_id,
            issued,
            key_sealed,
            RecordType::Free,
            now,
        )
        .await?;
        execute(
            conn,
            "INSERT INTO acme_renewals (cert_id, renew_at) VALUES ($1, $2) \
             ON CONFLICT (cert_id) DO UPDATE SET renew_at = excluded.renew_at",
            &[&db_id(order.cert_id)?, &renew_at],
        )
        .await?;
        match order.purpose {
            OrderPurpose::Renew => OrderCompletion::Renewed,
            OrderPurpose::Issue => {
                let domain = read::domain(conn, order.account_id, order.domain.as_str()).await?;
                match crate::rules::domain_for_change(domain, &order.domain)
                    .and_then(|d| crate::rules::require_online(&d).map(|()| d))
                {
                    Ok(_) => {
                        write::bind(conn, &order.domain, order.cert_id, now).await?;
                        OrderCompletion::Bound
                    }
                    Err(e) => OrderCompletion::StoredNotBound(match e {
                        WriteError::Refused(e) => e.message().clone(),
                        WriteError::Store(e) => e.to_string(),
                    }),
                }
            }
        }
    };
    let state = match completion {
        OrderCompletion::RecordGone | OrderCompletion::RecordRevoked => "failed",
        _ => "valid",
    };
    end_order(conn, &order, state, None, now).await?;
    let outcome = match &completion {
        OrderCompletion::Bound | OrderCompletion::Renewed => "OK".to_owned(),
        OrderCompletion::StoredNotBound(why) => format!("OK, not bound: {why}"),
        OrderCompletion::RecordGone => "Failed: the record was deleted during the order".into(),
        OrderCompletion::RecordRevoked => {
            "Failed: the operator revoked the record during the order; nothing stored".into()
        }
    };
    audit(conn, &order, &outcome, now).await?;
    Ok(completion)
}

/// An attempt of an order held by `owner` that did not end in a certificate. `retry_at`: the
/// order stays pending, due again then, the lease given up, the problem kept for Describe and
/// `livecert admin acme status`; `None`: the order is `failed` for good, and a record still
/// `applying` becomes `failed` (a record that already had a certificate keeps it). The order's
/// challenges are removed either way; an audit entry records the problem.
///
/// Errors: `Failed` when `owner` no longer holds the order.
pub(crate) async fn fail_order(
    conn: &impl Tx,
    order_id: u64,
    owner: &str,
    problem: &AcmeProblem,
    retry_at: Option<i64>,
    now: i64,
) -> Result<(), WriteError> {
    let order = held_order(conn, order_id, owner).await?;
    if let Some(at) = retry_at {
        execute(
            conn,
            "UPDATE acme_orders SET next_attempt = $2, lease_owner = NULL, lease_until = NULL, \
             problem_type = $3, problem_detail = $4, problem_identifier = $5, updated = $6 \
             WHERE id = $1",
            &[
                &db_id(order.id)?,
                &at,
                &problem.problem_type,
                &problem.detail,
                &problem.identifier,
                &now,
            ],
        )
        .await?;
        delete_challenges(conn, order.id).await?;
    } else {
        end_order(conn, &order, "failed", Some(problem), now).await?;
        execute(
            conn,
            "UPDATE certificates SET status = 'failed', last_changed = $2 \
             WHERE cert_id = $1 AND status = 'applying'",
            &[&db_id(order.cert_id)?, &now],
        )
        .await?;
    }
    let outcome = match retry_at {
        Some(at) => format!("Failed: {problem}; retried at {at}"),
        None => format!("Failed: {problem}"),
    };
    audit(conn, &order, &outcome, now).await
}

/// The order `owner` holds. Errors: `Failed` when it does not (any more).
async fn held_order(conn: &impl Tx, order_id: u64, owner: &str) -> Result<AcmeOrder, WriteError> {
    let mut row = query_opt(
        conn,
        &format!(
            "SELECT {ORDER_COLUMNS} FROM {ORDERS_FROM} WHERE o.id = $1 AND o.lease_owner = $2 \
             AND o.state = 'pending'"
        ),
        &[&db_id(order_id)?, &owner],
    )
    .await?
    .ok_or_else(|| {
        StoreError::Failed(format!(
            "order {order_id} is no longer held by this node (another node took it over)"
        ))
    })?;
    Ok(order_from_row(&mut row)?)
}

/// Moves an order to its final `state`, with its problem (or none), lease given up and
/// challenges removed.
async fn end_order(
    conn: &impl Tx,
    order: &AcmeOrder,
    state: &str,
    problem: Option<&AcmeProblem>,
    now: i64,
) -> Result<(), WriteError> {
    execute(
        conn,
        "UPDATE acme_orders SET state = $2, lease_owner = NULL, lease_until = NULL, \
         problem_type = $3, problem_detail = $4, problem_identifier = $5, updated = $6 \
         WHERE id = $1",
        &[
            &db_id(order.id)?,
            &state,
            &problem.map(|p| p.problem_type.as_str()),
            &problem.map(|p| p.detail.as_str()),
            &problem.and_then(|p| p.identifier.as_deref()),
            &now,
        ],
    )
    .await?;
    delete_challenges(conn, order.id).await
}

async fn delete_challenges(conn: &impl Tx, order_id: u64) -> Result<(), WriteError> {
    execute(
        conn,
        "DELETE FROM acme_challenges WHERE order_id = $1",
        &[&db_id(order_id)?],
    )
    .await?;
    Ok(())
}

/// The audit entry of an order's end: principal `livecert` (the issuer, not a caller), the
/// operation `IssueFreeCertificate` or `RenewFreeCertificate`.
async fn audit(
    conn: &impl Tx,
    order: &AcmeOrder,
    outcome: &str,
    now: i64,
) -> Result<(), WriteError> {
    const MAX_OUTCOME: usize = 1000;
    let outcome: String = outcome.chars().take(MAX_OUTCOME).collect();
    let entry = crate::AuditEntry {
        time: now,
        request_id: format!("acme-order-{}", order.id),
        account_id: order.account_id,
        principal: "livecert".into(),
        access_key_id: String::new(),
        source_ip: String::new(),
        operation: match order.purpose {
            OrderPurpose::Issue => "IssueFreeCertificate",
            OrderPurpose::Renew => "RenewFreeCertificate",
        }
        .into(),
        domain: Some(order.domain.as_str().to_owned()),
        cert_name: Some(order.cert_name.as_str().to_owned()),
        cert_id: Some(order.cert_id),
        outcome,
    };
    crate::sql::audit::insert_entry(conn, &entry).await
}

/// Queues a renewal, due at `now`, for each free record in status `success` that is bound to a
/// domain, has no order in flight and whose renewal time has come: its `acme_renewals` time, or
/// two thirds of its lifetime when it has none (a record issued before ACME was configured).
/// At most `limit` per call; returns how many were queued.
pub(crate) async fn schedule_renewals(
    conn: &impl Tx,
    now: i64,
    limit: usize,
) -> Result<u64, WriteError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    Ok(execute(
        conn,
        &format!(
            "INSERT INTO acme_orders (account_id, cert_id, domain, purpose, state, next_attempt, \
         created, updated) \
         SELECT c.account_id, c.cert_id, MIN(d.name), 'renew', 'pending', $1, $1, $1 \
         FROM certificates c JOIN domains d ON d.cert_id = c.cert_id \
         LEFT JOIN acme_renewals r ON r.cert_id = c.cert_id \
         WHERE c.cert_type = 'free' AND c.status = 'success' \
         AND {RENEW_AT} <= $1 \
         AND NOT EXISTS (SELECT 1 FROM acme_orders p WHERE p.cert_id = c.cert_id \
                         AND p.state = 'pending') \
         GROUP BY c.cert_id, c.account_id ORDER BY c.cert_id LIMIT $2"
        ),
        &[&now, &limit],
    )
    .await?)
}

/// Deletes ended orders (valid or failed) last changed before `before`, except each record's
/// latest, which Describe and `livecert admin acme status` read; at most `limit` per call.
/// Returns how many were deleted. Keeps the table bounded by the records it serves.
pub(crate) async fn prune_orders(
    conn: &impl Tx,
    before: i64,
    limit: usize,
) -> Result<u64, WriteError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    Ok(execute(
        conn,
        "DELETE FROM acme_orders WHERE id IN (SELECT o.id FROM acme_orders o \
         WHERE o.state <> 'pending' AND o.updated < $1 AND EXISTS \
         (SELECT 1 FROM acme_orders n WHERE n.cert_id = o.cert_id AND n.id > o.id) \
         ORDER BY o.id LIMIT $2)",
        &[&before, &limit],
    )
    .await?)
}

/// Each domain bound to a free record in status `success`, with the record's next renewal (Unix
/// seconds, as [`schedule_renewals`] computes it), by domain name.
pub(crate) async fn renewal_times(conn: &impl Tx) -> Result<Vec<(String, i64)>, StoreError> {
    query(
        conn,
        &format!(
            "SELECT d.name, {RENEW_AT} \
         FROM domains d JOIN certificates c ON c.cert_id = d.cert_id \
         LEFT JOIN acme_renewals r ON r.cert_id = c.cert_id \
         WHERE c.cert_type = 'free' AND c.status = 'success' ORDER BY d.name"
        ),
        &[],
    )
    .await?
    .into_iter()
    .map(|mut r| Ok((take(&mut r, 0)?, get(&r, 1)?)))
    .collect()
}

/// The orders `livecert admin acme status` lists: every pending order, then the orders that
/// failed at or after `failed_since` and are their record's latest (a record asked for again
/// shows its new order instead), newest first, at most `limit` (0: all).
pub(crate) async fn orders_for_status(
    conn: &impl Tx,
    failed_since: i64,
    limit: usize,
) -> Result<Vec<AcmeOrder>, StoreError> {
    let limit = if limit == 0 {
        i64::MAX
    } else {
        i64::try_from(limit).unwrap_or(i64::MAX)
    };
    query(
        conn,
        &format!(
            "SELECT {ORDER_COLUMNS} FROM {ORDERS_FROM} WHERE o.state = 'pending' \
             OR (o.state = 'failed' AND o.updated >= $1 AND NOT EXISTS \
                 (SELECT 1 FROM acme_orders n WHERE n.cert_id = o.cert_id AND n.id > o.id)) \
             ORDER BY CASE WHEN o.state = 'pending' THEN 0 ELSE 1 END, o.id DESC LIMIT $2"
        ),
        &[&failed_since, &limit],
    )
    .await?
    .into_iter()
    .map(|mut r| order_from_row(&mut r))
    .collect()
}

/// The latest order of `account_id` for `domain`, if any.
pub(crate) async fn latest_order_for_domain(
    conn: &impl Tx,
    account_id: AccountId,
    domain: &str,
) -> Result<Option<AcmeOrder>, StoreError> {
    query_opt(
        conn,
        &format!(
            "SELECT {ORDER_COLUMNS} FROM {ORDERS_FROM} WHERE o.domain = $1 AND o.account_id = $2 \
             ORDER BY o.id DESC LIMIT 1"
        ),
        &[&domain, &db_id(account_id)?],
    )
    .await?
    .map(|mut r| order_from_row(&mut r))
    .transpose()
}

/// The latest order of a record, if any.
pub(crate) async fn latest_order_for_record(
    conn: &impl Tx,
    cert_id: u64,
) -> Result<Option<AcmeOrder>, StoreError> {
    query_opt(
        conn,
        &format!(
            "SELECT {ORDER_COLUMNS} FROM {ORDERS_FROM} WHERE o.cert_id = $1 \
             ORDER BY o.id DESC LIMIT 1"
        ),
        &[&db_id(cert_id)?],
    )
    .await?
    .map(|mut r| order_from_row(&mut r))
    .transpose()
}

/// The sealed ACME account credentials kept for `directory`, if any.
pub(crate) async fn acme_account(
    conn: &impl Tx,
    directory: &str,
) -> Result<Option<Vec<u8>>, StoreError> {
    query_opt(
        conn,
        "SELECT credentials_sealed FROM acme_accounts WHERE directory = $1",
        &[&directory],
    )
    .await?
    .map(|mut r| take(&mut r, 0))
    .transpose()
}

/// Keeps sealed ACME account credentials for `directory` unless some are kept already (another
/// node created its account first); returns whether these were kept.
pub(crate) async fn put_acme_account(
    conn: &impl Tx,
    directory: &str,
    sealed: &[u8],
    now: i64,
) -> Result<bool, WriteError> {
    Ok(execute(
        conn,
        "INSERT INTO acme_accounts (directory, credentials_sealed, created) VALUES ($1, $2, $3) \
         ON CONFLICT (directory) DO NOTHING",
        &[&directory, &sealed, &now],
    )
    .await?
        == 1)
}

/// Maps a row of [`ORDER_COLUMNS`].
fn order_from_row(r: &mut Row) -> Result<AcmeOrder, StoreError> {
    let purpose: &str = get(r, 5)?;
    let purpose = OrderPurpose::from_name(purpose)
        .ok_or_else(|| StoreError::Failed(format!("unknown order purpose {purpose:?}")))?;
    let state: &str = get(r, 6)?;
    let state = OrderState::from_name(state)
        .ok_or_else(|| StoreError::Failed(format!("unknown order state {state:?}")))?;
    let domain: String = take(r, 4)?;
    let domain = DomainName::parse(&domain)
        .map_err(|e| StoreError::Failed(format!("stored order domain {domain:?}: {e}")))?;
    let attempts: i64 = get(r, 7)?;
    let problem_type: Option<String> = take(r, 13)?;
    let problem = problem_type.map(|problem_type| {
        Ok::<_, StoreError>(AcmeProblem {
            problem_type,
            detail: take::<Option<String>>(r, 14)?.unwrap_or_default(),
            identifier: take(r, 15)?,
        })
    });
    Ok(AcmeOrder {
        id: get_u64(r, 0)?,
        account_id: get_u64(r, 1)?,
        cert_id: get_u64(r, 2)?,
        cert_name: CertName::from_trusted(take::<Option<String>>(r, 3)?.unwrap_or_default()),
        domain,
        purpose,
        state,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        next_attempt: get(r, 8)?,
        lease_owner: take(r, 9)?,
        lease_until: get(r, 10)?,
        order_url: take(r, 11)?,
        challenge: take::<Option<String>>(r, 12)?
            .as_deref()
            .and_then(ChallengeKind::from_name),
        problem: problem.transpose()?,
        created: get(r, 16)?,
        updated: get(r, 17)?,
    })
}
