//! The certificate service CAS (2020-04-07) over the account's certificate library, the same
//! library Live's `CertType=cas` binds from: a record uploaded here binds by CertId or CertName, a
//! record uploaded through Live is listed and read here. The response fields are the official
//! SDKs' response models (docs/cas.md); the private key is never returned, whatever `CertFilter`
//! says (docs/decisions.md, "CAS").

pub mod delete_user_certificate;
pub mod get_user_certificate_detail;
pub mod list_user_certificate_order;
pub mod upload_user_certificate;

use livecert_core::timefmt::format_utc;
use livecert_store::CertRecord;

/// The region CAS appends to a CertId in `CertIdentifier` (the SDK model: "the certificate ID
/// appended with `-cn-hangzhou`").
pub const CERT_IDENTIFIER_REGION: &str = "cn-hangzhou";

/// `InstanceId` / `ResourceId` of a record: `cas-upload-<CertId>` (an uploaded record) or
/// `cas-free-<CertId>`.
pub fn instance_id(record: &CertRecord) -> String {
    format!("cas-{}-{}", record.cert_type.as_str(), record.cert_id)
}

/// `YYYY-MM-DD` of a Unix time (`StartDate`, `EndDate`).
pub fn date(unix: i64) -> String {
    format_utc(unix).chars().take(10).collect()
}

/// The primary domain (`Common` / `CommonName`): the subject CN, else the first DNS SAN.
pub fn common_name(record: &CertRecord) -> String {
    record
        .facts
        .subject_cn
        .clone()
        .or_else(|| record.facts.dns_sans.first().cloned())
        .unwrap_or_default()
}

/// `Algorithm`: `RSA` or `ECC` (CAS's names); Ed25519 as `Ed25519`.
pub fn algorithm(record: &CertRecord) -> &'static str {
    use livecert_core::cert::KeyAlgorithm as K;
    match record.facts.key_algorithm {
        K::Rsa => "RSA",
        K::EcdsaP256 | K::EcdsaP384 => "ECC",
        K::Ed25519 => "Ed25519",
    }
}
