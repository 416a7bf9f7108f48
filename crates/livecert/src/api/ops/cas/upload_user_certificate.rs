//! CAS `UploadUserCertificate`: adds a certificate and its key to the account's library under
//! `Name` (unique in the library), bound to nothing; Live binds it with `CertType=cas`.

use livecert_core::cert;
use livecert_core::error::ErrorCode;
use livecert_core::ops::cas::{self, UploadUserCertificateInput};
use livecert_core::params::Params;
use livecert_store::WriteError;
use serde_json::{json, Map, Value};

use crate::api::{AppState, Caller, Failure, OpResult};

/// Handles UploadUserCertificate: `CertId` (a JSON number: aliyun-cert checks it is an integer)
/// and `ResourceId`.
///
/// Errors: `MissingParameter` (Name, Cert, Key); `InvalidParameter` naming Name (a Name the
/// library already has, a control character, too long), an SM parameter, or `Cert` / `Key` for a
/// refusal of the certificate rules of certificates.md (its code and explanation in the message,
/// core's `cas::certificate_refusal`); `Forbidden.RAM`; `CertStorage.failed`.
pub async fn handle(state: &AppState, caller: &Caller, params: &Params) -> OpResult {
    let input = UploadUserCertificateInput::parse(params)?;
    caller.authorize(None)?;
    let checked = cert::check_upload(Some(&input.cert), Some(&input.key), caller.now)
        .map_err(cas::certificate_refusal)?;
    let cert_id = match state
        .store
        .add_record(caller.account_id, input.name, checked, caller.now)
        .await
    {
        Ok(id) => id,
        Err(WriteError::Refused(e)) => return Err(e.into()),
        Err(WriteError::Store(e)) => {
            return Err(Failure::storage(
                ErrorCode::CertStorageFailed,
                &e,
                "nothing was stored",
            ))
        }
    };
    let mut fields = Map::new();
    fields.insert("CertId".into(), json!(cert_id));
    fields.insert(
        "ResourceId".into(),
        Value::String(format!("cas-upload-{cert_id}")),
    );
    Ok(fields)
}
