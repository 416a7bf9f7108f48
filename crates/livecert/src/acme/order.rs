//! One ACME order (RFC 8555 §7.4) for exactly one domain, answered through livecert's own edge:
//! new order → for each pending authorization, the configured challenge stored for every edge
//! node (`Store::put_acme_challenge`, and at once in this node's book) → after
//! [`PROPAGATION`], the challenge set ready → poll until the order is ready → finalize with a CSR
//! for a fresh ECDSA P-256 key → poll for the chain → core's `check_upload`, the checks an upload
//! passes → the renewal time. A failure is returned as an [`AcmeProblem`] with what to do next
//! ([`FailureKind`]); the worker decides when to retry.

use std::time::{Duration, SystemTime};

use instant_acme::{
    Account, AuthorizationStatus, CertificateIdentifier, ChallengeType, Error, Identifier,
    NewOrder, OrderStatus, RetryPolicy,
};
use livecert_core::cert::{check_upload, CheckedUpload};
use livecert_store::{AcmeChallenge, AcmeOrder, AcmeProblem, ChallengeKind, Store};
use rcgen::{CertificateParams, DistinguishedName, KeyPair, PKCS_ECDSA_P256_SHA256};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use tracing::{debug, info};
use zeroize::Zeroizing;

use super::AcmeConfig;
use crate::clock::Clock;
use crate::edge::challenges::{ChallengeBook, PROPAGATION};

/// How long a challenge stays answerable after it is stored.
pub const CHALLENGE_TTL_SECS: i64 = 3600;

/// How long the worker polls an order for `ready`, and then for its certificate, before the
/// attempt is retried later.
pub const POLL_TIMEOUT: Duration = Duration::from_secs(120);

/// What an attempt's failure calls for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The CA could not validate the domain (RFC 8555 §6.7 `unauthorized`, `connection`, `dns`,
    /// `incorrectResponse`, `tls`, `caa`): an issuance fails for good; a renewal is retried with a
    /// long backoff.
    Validation,
    /// The CA's rate limit (`rateLimited`): retried after the CA's time, or an hour.
    RateLimited,
    /// The CA or the network failed for now (`serverInternal`, `badNonce` beyond instant-acme's
    /// own retry, timeouts, I/O): retried with backoff.
    Transient,
    /// The CA refuses the request as such (`rejectedIdentifier`, `malformed`, `badCSR`,
    /// `unsupportedIdentifier`, an account problem) or the certificate it issued does not pass
    /// the upload checks: fails for good.
    Refused,
    /// This node lost the order's lease: another node works on it; nothing is written.
    LeaseLost,
}

/// An attempt that did not end in a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// What the CA (or livecert) said.
    pub problem: AcmeProblem,
    /// What it calls for.
    pub kind: FailureKind,
    /// When the CA asked to be asked again (`Retry-After`), if it did.
    pub retry_after: Option<SystemTime>,
}

impl Failure {
    /// A failure of livecert's own (not the CA's answer), of type `livecert:<what>`.
    pub fn own(what: &str, detail: impl Into<String>, kind: FailureKind) -> Self {
        Self {
            problem: AcmeProblem {
                problem_type: format!("livecert:{what}"),
                detail: detail.into(),
                identifier: None,
            },
            kind,
            retry_after: None,
        }
    }
}

/// A certificate issued for an order.
#[derive(Debug)]
pub struct Issued {
    /// The chain and key, checked like an upload.
    pub upload: CheckedUpload,
    /// When to renew it (Unix seconds).
    pub renew_at: i64,
}

/// What one attempt works with.
pub struct Attempt<'a> {
    /// The ACME account.
    pub account: &'a Account,
    /// The store (challenges, the lease).
    pub store: &'a Store,
    /// This node's challenge book, when it runs an edge.
    pub book: Option<&'a ChallengeBook>,
    /// The settings.
    pub config: &'a AcmeConfig,
    /// The order, leased to `owner`.
    pub order: &'a AcmeOrder,
    /// This node.
    pub owner: &'a str,
    /// The one clock.
    pub clock: &'a dyn Clock,
}

/// Runs one attempt of `attempt.order` to its certificate.
///
/// Errors: a [`Failure`] with the CA's problem document (or livecert's own) and its kind.
pub async fn issue(attempt: &Attempt<'_>) -> Result<Issued, Failure> {
    let domain = attempt.order.domain.as_str().to_owned();
    let identifiers = [Identifier::Dns(domain.clone())];
    let mut order = attempt
        .account
        .new_order(&NewOrder::new(&identifiers))
        .await
        .map_err(|e| classify(e, &domain))?;
    let order_url = order.url().to_owned();
    info!(order_id = attempt.order.id, domain = %domain, order_url = %order_url, purpose = attempt.order.purpose.as_str(), "ACME order created");
    keep_lease(attempt, Some(&order_url)).await?;
    let wanted = match attempt.config.challenge {
        ChallengeKind::Http01 => ChallengeType::Http01,
        ChallengeKind::TlsAlpn01 => ChallengeType::TlsAlpn01,
    };
    let mut authorizations = order.authorizations();
    while let Some(authorization) = authorizations.next().await {
        let mut authorization = authorization.map_err(|e| classify(e, &domain))?;
        match authorization.status {
            AuthorizationStatus::Valid => continue,
            AuthorizationStatus::Pending => {}
            other => {
                return Err(Failure::own(
                    "authorization",
                    format!("the CA's authorization for {domain} is {other:?}, not pending"),
                    FailureKind::Transient,
                ))
            }
        }
        let Some(mut challenge) = authorization.challenge(wanted.clone()) else {
            return Err(Failure::own(
                "challenge",
                format!(
                    "the CA offers no {} challenge for {domain}; choose another with --acme-challenge",
                    attempt.config.challenge.as_str()
                ),
                FailureKind::Refused,
            ));
        };
        let stored = AcmeChallenge {
            token: challenge.token.clone(),
            domain: domain.clone(),
            kind: attempt.config.challenge,
            key_authorization: challenge.key_authorization().as_str().to_owned(),
            order_id: attempt.order.id,
            expires: attempt.clock.now() + CHALLENGE_TTL_SECS,
        };
        attempt
            .store
            .put_acme_challenge(stored.clone())
            .await
            .map_err(|e| Failure::own("store", e.to_string(), FailureKind::Transient))?;
        if let Some(book) = attempt.book {
            book.insert(&stored);
        }
        tokio::time::sleep(PROPAGATION).await;
        challenge
            .set_ready()
            .await
            .map_err(|e| classify(e, &domain))?;
    }
    // Polled at 50, 100, 200 … ms (a CA that is busy says when with Retry-After, which
    // instant-acme follows instead).
    let polling = RetryPolicy::new()
        .initial_delay(Duration::from_millis(50))
        .backoff(2.0)
        .timeout(POLL_TIMEOUT);
    let ready = order.poll_ready(&polling).await;
    match ready {
        Ok(OrderStatus::Ready) => {}
        Ok(_) | Err(Error::Api(_)) => {
            // The order is invalid: the failing challenge's problem says why.
            let order_problem = match ready {
                Err(e) => Some(classify(e, &domain)),
                Ok(_) => None,
            };
            let mut authorizations = order.authorizations();
            while let Some(authorization) = authorizations.next().await {
                let mut authorization = authorization.map_err(|e| classify(e, &domain))?;
                let state = authorization
                    .refresh()
                    .await
                    .map_err(|e| classify(e, &domain))?;
                let identifier = format!("dns:{}", state.identifier());
                if let Some(error) = state.challenges.iter().find_map(|c| c.error.clone()) {
                    let mut failure = classify(Error::Api(error), &domain);
                    failure.problem.identifier.get_or_insert(identifier);
                    return Err(failure);
                }
            }
            return Err(order_problem.unwrap_or_else(|| {
                Failure::own(
                    "order",
                    format!("the CA marked the order for {domain} invalid without a problem"),
                    FailureKind::Validation,
                )
            }));
        }
        Err(e) => return Err(classify(e, &domain)),
    }
    keep_lease(attempt, None).await?;
    let (csr, key_pem) = csr(&domain)?;
    order
        .finalize_csr(&csr)
        .await
        .map_err(|e| classify(e, &domain))?;
    let chain = order
        .poll_certificate(&polling)
        .await
        .map_err(|e| classify(e, &domain))?;
    let now = attempt.clock.now();
    let upload =
        check_upload(Some(chain.as_bytes()), Some(key_pem.as_bytes()), now).map_err(|e| {
            Failure::own(
                "certificate",
                format!("the CA's certificate for {domain} does not pass the upload checks: {e}"),
                FailureKind::Refused,
            )
        })?;
    let renew_at = renewal_time(attempt, &chain, &upload, now).await;
    debug!(order_id = attempt.order.id, domain = %domain, renew_at, "ACME certificate issued");
    Ok(Issued { upload, renew_at })
}

/// Extends the lease (noting the order URL once known). Errors: the lease is lost, or the store
/// fails (retried: the lease then runs out and the order is taken up again).
async fn keep_lease(attempt: &Attempt<'_>, order_url: Option<&str>) -> Result<(), Failure> {
    let now = attempt.clock.now();
    let lease = super::worker::secs(attempt.config.lease);
    match attempt
        .store
        .renew_acme_lease(
            attempt.order.id,
            attempt.owner,
            now.saturating_add(lease),
            order_url,
            Some(attempt.config.challenge),
            now,
        )
        .await
    {
        Ok(true) => Ok(()),
        Ok(false) => Err(Failure::own(
            "lease",
            "another node took the order over",
            FailureKind::LeaseLost,
        )),
        Err(e) => Err(Failure::own("store", e.to_string(), FailureKind::Transient)),
    }
}

/// A CSR (DER) for exactly `domain` with a fresh ECDSA P-256 key, and that key's PEM.
fn csr(domain: &str) -> Result<(Vec<u8>, Zeroizing<String>), Failure> {
    let broken = |e: rcgen::Error| Failure::own("csr", e.to_string(), FailureKind::Refused);
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(broken)?;
    let mut params = CertificateParams::new(vec![domain.to_owned()]).map_err(broken)?;
    params.distinguished_name = DistinguishedName::new();
    let csr = params.serialize_request(&key).map_err(broken)?;
    Ok((csr.der().to_vec(), Zeroizing::new(key.serialize_pem())))
}

/// When to renew what was issued: `--acme-renew-after-secs` after now when set; else a random
/// moment inside the CA's suggested window (RFC 9773 §4.2) when its directory offers renewal
/// information; else two thirds of the way from notBefore to notAfter.
async fn renewal_time(attempt: &Attempt<'_>, chain: &str, upload: &CheckedUpload, now: i64) -> i64 {
    if let Some(after) = attempt.config.renew_after {
        return now.saturating_add(super::worker::secs(after));
    }
    let facts = &upload.facts;
    let two_thirds = facts.not_before + (facts.not_after - facts.not_before) * 2 / 3;
    let Some(Ok(leaf)) = CertificateDer::pem_slice_iter(chain.as_bytes()).next() else {
        return two_thirds;
    };
    let Ok(id) = CertificateIdentifier::try_from(&leaf) else {
        return two_thirds;
    };
    match attempt.account.renewal_info(&id).await {
        Ok((info, _)) => {
            let start = info.suggested_window.start.unix_timestamp();
            let end = info.suggested_window.end.unix_timestamp().max(start);
            start + random_below(end - start + 1)
        }
        Err(Error::Unsupported(_)) => two_thirds,
        Err(e) => {
            debug!(error = %e, "ACME renewal information unavailable; renewing at two thirds");
            two_thirds
        }
    }
}

/// A uniformly random number in `0..n` (0 when `n` ≤ 1).
fn random_below(n: i64) -> i64 {
    use aws_lc_rs::rand::{SecureRandom, SystemRandom};
    let mut bytes = [0u8; 8];
    if n <= 1 || SystemRandom::new().fill(&mut bytes).is_err() {
        return 0;
    }
    let n = n.unsigned_abs();
    i64::try_from(u64::from_le_bytes(bytes) % n).unwrap_or(0)
}

/// An instant-acme error as a [`Failure`]: a problem document keeps the CA's type, detail and
/// identifier (a subproblem's, else `dns:<domain>`); anything else is transient.
pub fn classify(error: Error, domain: &str) -> Failure {
    match error {
        Error::Api(problem) => {
            let problem_type = problem
                .r#type
                .clone()
                .unwrap_or_else(|| "about:blank".to_owned());
            let identifier = problem
                .subproblems
                .iter()
                .find_map(|s| s.identifier.as_ref())
                .map_or_else(
                    || format!("dns:{domain}"),
                    |i| match i {
                        Identifier::Dns(name) => format!("dns:{name}"),
                        other => format!("{other:?}"),
                    },
                );
            let kind = kind_of(&problem_type);
            Failure {
                problem: AcmeProblem {
                    problem_type,
                    detail: problem.detail.clone().unwrap_or_default(),
                    identifier: Some(identifier),
                },
                kind,
                retry_after: None,
            }
        }
        Error::Timeout(next) => Failure {
            problem: AcmeProblem {
                problem_type: "livecert:timeout".into(),
                detail: format!("the CA did not finish the order for {domain} in time"),
                identifier: None,
            },
            kind: FailureKind::Transient,
            retry_after: next.map(|at| {
                SystemTime::now() + at.saturating_duration_since(std::time::Instant::now())
            }),
        },
        other => Failure::own("connection", other.to_string(), FailureKind::Transient),
    }
}

/// What an ACME error type (RFC 8555 §6.7) calls for.
fn kind_of(problem_type: &str) -> FailureKind {
    let name = problem_type
        .strip_prefix("urn:ietf:params:acme:error:")
        .unwrap_or(problem_type);
    match name {
        "unauthorized" | "connection" | "dns" | "incorrectResponse" | "tls" | "caa" => {
            FailureKind::Validation
        }
        "rateLimited" => FailureKind::RateLimited,
        "serverInternal" | "badNonce" => FailureKind::Transient,
        _ => FailureKind::Refused,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_types_map_to_what_they_call_for() {
        let p = |t: &str| kind_of(&format!("urn:ietf:params:acme:error:{t}"));
        assert_eq!(p("unauthorized"), FailureKind::Validation);
        assert_eq!(p("connection"), FailureKind::Validation);
        assert_eq!(p("incorrectResponse"), FailureKind::Validation);
        assert_eq!(p("rateLimited"), FailureKind::RateLimited);
        assert_eq!(p("serverInternal"), FailureKind::Transient);
        assert_eq!(p("rejectedIdentifier"), FailureKind::Refused);
        assert_eq!(p("malformed"), FailureKind::Refused);
    }

    #[test]
    fn random_below_stays_in_range() {
        for n in [0, 1, 2, 7, 86_400] {
            let r = random_below(n);
            assert!(r >= 0 && (n <= 1 || r < n), "{r} for {n}");
        }
    }
}
