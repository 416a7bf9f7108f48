//! Who is calling ([`Caller`]), established by the signature check, and the steps every handler
//! runs first on the parsed resource ([`Caller::authorize`]): RAM, then the account status for
//! state-changing operations.

use std::net::IpAddr;
use std::sync::Arc;

use livecert_core::action::{Action, RamResource};
use livecert_core::error::{ApiError, ErrorCode};
use livecert_core::names::DomainName;
use livecert_core::ram::{self, AccessDeniedDetail, Policy, RequestContext};
use livecert_store::{AccountId, Principal};
use serde_json::Value;

use super::Failure;

/// Who is calling, established by the signature check.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The caller's account.
    pub account_id: AccountId,
    /// The AccessKeyId that signed the call.
    pub access_key_id: String,
    /// Whether the account is active (suspended accounts may only read).
    pub account_active: bool,
    /// This request's id.
    pub request_id: String,
    /// The clock's now for this request, Unix seconds.
    pub now: i64,
    /// The operation called.
    pub action: Action,
    /// Who the key acts as.
    pub principal: Principal,
    /// The user's policies, parsed (empty for root credentials).
    pub policies: Arc<Vec<Arc<Policy>>>,
    /// A temporary credential's session policy, which narrows the user's own.
    pub session_policy: Option<Arc<Vec<Arc<Policy>>>>,
    /// Whether the key is a temporary (STS) credential.
    pub temporary: bool,
    /// The client's address (`acs:SourceIp`).
    pub source_ip: IpAddr,
    /// Whether the request came over TLS (`acs:SecureTransport`).
    pub secure_transport: bool,
}

impl Caller {
    /// The steps after an operation's typed parse (protocol.md §8, "RAM on the parsed resource →
    /// account status"), which every handler runs first: RAM ([`Caller::ram`]), then, for an
    /// operation the action table marks state-changing, the account status (operations.md row 6).
    /// Errors: `Forbidden.RAM` with `AccessDeniedDetail`; `AuthenticationFailed` for a suspended
    /// account.
    pub fn authorize(&self, domain: Option<&DomainName>) -> Result<(), Failure> {
        self.ram(domain)?;
        if self.action.is_state_changing() {
            self.require_active_account()?;
        }
        Ok(())
    }

    /// The RAM step (access.md): root credentials may do anything on their own account's
    /// resources; a RAM user needs an Allow and no Deny in its policies for the operation on
    /// `domain` (or on `*` for operations without a resource), and temporary credentials also in
    /// their session policy. Errors: `Forbidden.RAM` with `AccessDeniedDetail`.
    fn ram(&self, domain: Option<&DomainName>) -> Result<(), Failure> {
        let Principal::User { user_name, .. } = &self.principal else {
            return Ok(());
        };
        if self.action.ram_resource() == RamResource::Caller {
            return Ok(());
        }
        let resource = match (self.action.ram_resource(), domain) {
            (RamResource::Domain, Some(d)) => ram::resource_for_domain(self.account_id, d.as_str()),
            _ => "*".to_owned(),
        };
        let ram_action = self.action.ram_action();
        let ctx = RequestContext {
            action: &ram_action,
            resource: &resource,
            source_ip: Some(self.source_ip),
            secure_transport: self.secure_transport,
            current_time: self.now,
            extra_keys: &[],
        };
        let refs: Vec<&Policy> = self.policies.iter().map(AsRef::as_ref).collect();
        let mut decision = ram::evaluate(&refs, &ctx);
        let mut policy_type = "AccountLevelIdentityBasedPolicy";
        if decision.is_allowed() {
            if let Some(session) = &self.session_policy {
                let refs: Vec<&Policy> = session.iter().map(AsRef::as_ref).collect();
                decision = ram::evaluate(&refs, &ctx);
                policy_type = "SessionPolicy";
            }
        }
        if decision.is_allowed() {
            return Ok(());
        }
        let detail = AccessDeniedDetail {
            auth_action: ram_action.clone(),
            auth_principal_type: if self.temporary {
                "AssumedRoleUser"
            } else {
                "SubUser"
            }
            .to_owned(),
            auth_principal_display_name: user_name.clone(),
            auth_principal_owner_id: self.account_id.to_string(),
            no_permission_type: decision
                .no_permission_type()
                .unwrap_or("ImplicitDeny")
                .to_owned(),
            policy_type: policy_type.to_owned(),
        };
        let mut failure = Failure::from(ApiError::new(
            ErrorCode::ForbiddenRam,
            format!("{user_name} may not call {ram_action} on {resource}; ask the account owner for a policy that allows it."),
        ));
        failure.access_denied_detail = Some(Box::new(
            detail
                .wire_fields()
                .into_iter()
                .map(|(k, v)| (k.to_owned(), Value::String(v)))
                .collect(),
        ));
        Err(failure)
    }

    /// The account-status step for state-changing operations (operations.md row 6):
    /// `AuthenticationFailed` when the operator suspended the account.
    fn require_active_account(&self) -> Result<(), Failure> {
        if self.account_active {
            Ok(())
        } else {
            Err(ApiError::new(
                ErrorCode::AuthenticationFailed,
                "The account is suspended by the operator; state-changing calls are refused until it is resumed.",
            )
            .into())
        }
    }
}
