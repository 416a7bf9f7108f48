//! SetLiveDomainCertificate: the decision table of spec/operations.md, in order. Rows 1–5 are the
//! typed parse (core), 6 the account status, 7–11 the domain's state, 12–15 turning HTTPS off,
//! 16 the function mutex, 17–21 the certificate checks (core), 22–29 the library decision inside
//! one store transaction (core's `decide_upload`, applied by the store), 30 the cas reference
//! (core's `CertRef`) and 31–35 binding a library record inside one store transaction (core's
//! `decide_cas`, applied by the store).

use livecert_core::cert;
use livecert_core::error::{ApiError, ErrorCode};
use livecert_core::ops::domain_rules;
use livecert_core::ops::set_live_domain_certificate::{
    cert_names, effective_cert_name, https_mutex_function, not_effective_error, CertRef, CertType,
    SetLiveDomainCertificateInput, SslProtocol,
};
use livecert_core::params::Params;
use livecert_store::{DomainRecord, OffOutcome, UploadOutcome, WriteError};
use serde_json::Map;

use super::owned_domain;
use crate::api::{AppState, Caller, Failure, OpResult};

/// Handles SetLiveDomainCertificate. Errors: every code of the decision table this build reaches.
pub async fn handle(state: &AppState, caller: &Caller, params: &Params) -> OpResult {
    let input = SetLiveDomainCertificateInput::parse(params)?;
    caller.authorize(Some(&input.domain))?;
    let domain = owned_domain(state, caller, &input.domain).await?;
    check_domain_state(&domain)?;
    match input.ssl_protocol {
        SslProtocol::Off => turn_off(state, caller, &domain, input.dry_run).await,
        SslProtocol::On => {
            if let Some((function, reason)) = https_mutex_function(&domain.functions) {
                return Err(ApiError::new(
                    ErrorCode::FunctionMutex,
                    format!("{} has the function {function}: {reason}; ask the operator to turn it off first.", domain.name),
                )
                .into());
            }
            match input.cert_type {
                CertType::Upload => upload(state, caller, &input).await,
                CertType::Cas => cas(state, caller, &input).await,
                CertType::Free => super::free::set_free(state, caller, &input).await,
            }
        }
    }
}

/// Rows 8–11 (core's `domain_rules`, which the store re-checks inside its transaction).
fn check_domain_state(domain: &DomainRecord) -> Result<(), Failure> {
    let state = domain.state();
    domain_rules::check_changeable(&state)?;
    domain_rules::check_online(&state)?;
    Ok(())
}

/// Rows 12–15.
async fn turn_off(
    state: &AppState,
    caller: &Caller,
    domain: &DomainRecord,
    dry_run: bool,
) -> OpResult {
    if domain.https_required {
        return Err(ApiError::new(
            ErrorCode::CertificateNotPermittedOff,
            format!(
                "{} requires HTTPS (operator setting); HTTPS stays on.",
                domain.name
            ),
        )
        .into());
    }
    let store = super::store_for(state, dry_run);
    let written = store
        .set_https_off(caller.account_id, &domain.name, caller.now)
        .await;
    match written {
        Ok(OffOutcome::AlreadyOff | OffOutcome::TurnedOff) => super::answered(&store, Map::new()),
        Err(WriteError::Refused(e)) => Err(e.into()),
        Err(WriteError::Store(e)) => Err(Failure::storage(
            ErrorCode::DeleteFailed,
            &e,
            "HTTPS stays on with the previous certificate",
        )),
    }
}

/// Rows 17–29 for `CertType=upload`.
async fn upload(
    state: &AppState,
    caller: &Caller,
    input: &SetLiveDomainCertificateInput,
) -> OpResult {
    let checked = cert::check_upload(
        input.ssl_pub.as_deref(),
        input.ssl_pri.as_deref(),
        caller.now,
    )?;
    let cert_name = effective_cert_name(input.cert_name.as_ref(), &checked);
    super::authorize_record_domains(state, caller, &cert_name).await?;
    let names = cert_names(&checked.facts);
    let (account, domain, force, now) = (
        caller.account_id,
        &input.domain,
        input.force_set,
        caller.now,
    );
    let store = super::store_for(state, input.dry_run);
    let written = store
        .set_upload(account, domain, cert_name, force, checked, now)
        .await;
    match written {
        Ok(UploadOutcome::Bound { .. }) => super::answered(&store, Map::new()),
        Ok(UploadOutcome::StoredNotEffective { cert_name, .. }) => {
            Err(not_effective_error(cert_name.as_str(), &names, &input.domain).into())
        }
        Err(WriteError::Refused(e)) => Err(e.into()),
        Err(WriteError::Store(e)) => Err(Failure::storage(
            ErrorCode::CertStorageFailed,
            &e,
            "nothing was changed",
        )),
    }
}

/// Rows 30–35 for `CertType=cas`: the record is resolved and checked by the store inside its
/// transaction (core's `decide_cas`); `SSLPub`/`SSLPri` are ignored.
async fn cas(state: &AppState, caller: &Caller, input: &SetLiveDomainCertificateInput) -> OpResult {
    let cert = CertRef::for_cas(input.cert_name.as_ref(), input.cert_id)?;
    let (account, domain, now) = (caller.account_id, &input.domain, caller.now);
    let store = super::store_for(state, input.dry_run);
    let written = store.bind_certificate(account, domain, cert, now).await;
    match written {
        Ok(()) => super::answered(&store, Map::new()),
        Err(WriteError::Refused(e)) => Err(e.into()),
        Err(WriteError::Store(e)) => Err(Failure::storage(
            ErrorCode::CertStorageFailed,
            &e,
            "the domain keeps its previous certificate state",
        )),
    }
}
