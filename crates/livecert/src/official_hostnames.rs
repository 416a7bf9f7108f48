//! `serve --official-hostnames`: the API over TLS for the hostnames the official SDKs and the
//! tools built on them call and cannot be told otherwise (`live.aliyuncs.com`, `cas.aliyuncs.com`,
//! `sts.aliyuncs.com`, and `<product>.<region>.aliyuncs.com`), with a certificate the data
//! directory's own CA issues at each start. The operator points those names at livecert (DNS or a
//! hosts file) and makes the clients trust the CA (`livecert admin ca export`): docs/tools.md.
//!
//! The certificate's names are wildcards, so one certificate answers every product:
//! `*.aliyuncs.com` (the global endpoints every SDK's endpoint table uses for most regions) and
//! `*.<region>.aliyuncs.com` for each region of [`REGIONS`] (an SDK builds
//! `<product>.<region>.aliyuncs.com` for a region its table does not list; certd does for CAS).

/// The public regions whose `<product>.<region>.aliyuncs.com` names the certificate covers
/// (Alibaba Cloud's public region ids, 2026; the SDKs' endpoint tables: alibabacloud-live20161101
/// 3.0.2, alibabacloud-cas20200407 3.9.4, alibabacloud-sts20150401 1.2.0).
pub const REGIONS: &[&str] = &[
    "cn-qingdao",
    "cn-beijing",
    "cn-zhangjiakou",
    "cn-huhehaote",
    "cn-wulanchabu",
    "cn-hangzhou",
    "cn-shanghai",
    "cn-nanjing",
    "cn-fuzhou",
    "cn-shenzhen",
    "cn-heyuan",
    "cn-guangzhou",
    "cn-chengdu",
    "cn-wuhan",
    "cn-hongkong",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ap-south-1",
    "us-east-1",
    "us-west-1",
    "eu-west-1",
    "eu-central-1",
    "me-east-1",
    "me-central-1",
];

/// The DNS names of the API's certificate: `*.aliyuncs.com`, then `*.<region>.aliyuncs.com` for
/// each of [`REGIONS`].
pub fn names() -> Vec<String> {
    std::iter::once("*.aliyuncs.com".to_owned())
        .chain(REGIONS.iter().map(|r| format!("*.{r}.aliyuncs.com")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_product_and_region_is_covered_once() {
        let names = names();
        assert_eq!(names[0], "*.aliyuncs.com");
        assert!(names.contains(&"*.cn-shanghai.aliyuncs.com".to_owned()));
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "no region twice");
    }
}
