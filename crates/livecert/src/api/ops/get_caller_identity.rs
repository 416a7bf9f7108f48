//! STS `GetCallerIdentity` (2015-04-01): who the calling credentials are. Any valid credential may
//! ask (Alibaba Cloud: "No authorization for this operation"); certd's credential test and
//! Terraform's provider call it.

use livecert_core::params::Params;
use livecert_store::Principal;
use serde_json::{json, Map};

use crate::api::{AppState, Caller, OpResult};

/// Handles GetCallerIdentity: `AccountId`, `Arn`, `IdentityType`, `PrincipalId`, and `UserId`
/// (root and RAM users) or `RoleId` (temporary credentials), as the SDK's response model
/// (`alibabacloud-sts20150401` 1.2.0) declares them, all strings.
///
/// - Root credentials: `Account`, `acs:ram::<AccountId>:root`, PrincipalId = UserId = AccountId.
/// - A RAM user's AccessKey: `RAMUser`, `acs:ram::<AccountId>:user/<UserName>`, PrincipalId =
///   UserId = the user's id.
/// - Temporary credentials (`livecert admin sts issue`): `AssumedRoleUser`, the user standing for
///   the role and the AccessKeyId for the session name:
///   `acs:ram::<AccountId>:assumed-role/<UserName>/<AccessKeyId>`, RoleId = the user's id,
///   PrincipalId = `<RoleId>:<AccessKeyId>` (docs/decisions.md, "STS GetCallerIdentity").
///
/// Errors: none of its own (the signature's and the rate limit's).
pub fn handle(_state: &AppState, caller: &Caller, _params: &Params) -> OpResult {
    caller.authorize(None)?;
    let account = caller.account_id.to_string();
    let (name, id) = match &caller.principal {
        Principal::Root => ("root".to_owned(), account.clone()),
        Principal::User {
            user_id, user_name, ..
        } => (user_name.clone(), user_id.to_string()),
    };
    let mut fields = Map::new();
    fields.insert("AccountId".into(), json!(account));
    if caller.temporary {
        let session = &caller.access_key_id;
        fields.insert("IdentityType".into(), json!("AssumedRoleUser"));
        fields.insert(
            "Arn".into(),
            json!(format!("acs:ram::{account}:assumed-role/{name}/{session}")),
        );
        fields.insert("RoleId".into(), json!(id));
        fields.insert("PrincipalId".into(), json!(format!("{id}:{session}")));
    } else if matches!(caller.principal, Principal::Root) {
        fields.insert("IdentityType".into(), json!("Account"));
        fields.insert("Arn".into(), json!(format!("acs:ram::{account}:root")));
        fields.insert("UserId".into(), json!(id));
        fields.insert("PrincipalId".into(), json!(id));
    } else {
        fields.insert("IdentityType".into(), json!("RAMUser"));
        fields.insert(
            "Arn".into(),
            json!(format!("acs:ram::{account}:user/{name}")),
        );
        fields.insert("UserId".into(), json!(id));
        fields.insert("PrincipalId".into(), json!(id));
    }
    Ok(fields)
}
