//! The operator modes of domains and records (`domain set|show`, `cert revoke|delete`) beside a
//! running `serve`, seen through the API.

use super::{eventually, fails, ok, ok_json, str_of, Serve};
use crate::certs::{self_signed, Alg, Generated};
use crate::harness::{send, signed_request, Scheme};

/// The operator modes beside a running `serve`: `domain set` locks a domain and sets a function
/// (the API answers IllegalOperation, then FunctionMutex), `domain show` reads them back; `cert
/// revoke` keeps the binding, Describe shows `revoked` and CertType=cas refuses the record;
/// `cert delete` refuses a bound record, naming its domain, and deletes an unbound one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_sets_domain_modes_and_revokes_and_deletes_records() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let serve = Serve::start(dir);
    let accounts = ok_json(dir, &["account", "list"]);
    let account = str_of(&accounts["Accounts"][0], "AccountId").to_owned();
    let key = ok_json(dir, &["key", "create", "--account", &account]);
    let (id, secret) = (
        str_of(&key, "AccessKeyId").to_owned(),
        str_of(&key, "AccessKeySecret").to_owned(),
    );
    let call = |action: &'static str, params: Vec<(&str, &str)>| {
        let now = livecert::clock::Clock::now(&livecert::clock::SystemClock);
        let pairs = params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
            .collect();
        send(signed_request(
            serve.addr,
            Scheme::V3,
            action,
            pairs,
            &id,
            &secret,
            now,
        ))
    };
    let now = livecert::clock::Clock::now(&livecert::clock::SystemClock);
    let g = self_signed(
        &["*.example.com"],
        now - 86_400,
        now + 90 * 86_400,
        Alg::P256,
    );
    let elsewhere = self_signed(
        &["other.example.org"],
        now - 86_400,
        now + 90 * 86_400,
        Alg::P256,
    );
    for d in ["live.example.com", "spare.example.com"] {
        let add = vec![
            ("DomainName", d),
            ("LiveDomainType", "liveVideo"),
            ("Region", "cn-shanghai"),
        ];
        let r = eventually(|| call("AddLiveDomain", add.clone()), |r| r.status == 200).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    call("SetLiveDomainCertificate", set_on("wide", &g))
        .await
        .ok();
    let r = call("SetLiveDomainCertificate", set_on("loose", &elsewhere)).await;
    assert_eq!(r.code(), "Certificate.SettedNotEffect", "{}", r.body);

    // domain set / show.
    let shown = ok_json(
        dir,
        &[
            "domain",
            "set",
            "live.example.com",
            "--locked",
            "on",
            "--function",
            "http_only",
            "on",
        ],
    );
    assert_eq!(shown["Locked"], true);
    assert_eq!(shown["SafeMode"], false);
    assert_eq!(shown["Functions"], serde_json::json!(["http_only"]));
    assert_eq!(shown["AccountId"], account.as_str());
    assert_eq!(shown["SSLProtocol"], "on");
    let off = vec![("DomainName", "live.example.com"), ("SSLProtocol", "off")];
    let r = call("SetLiveDomainCertificate", off.clone()).await;
    assert_eq!(
        (r.status, r.code()),
        (403, "IllegalOperation"),
        "{}",
        r.body
    );
    ok(
        dir,
        &["domain", "set", "live.example.com", "--locked", "off"],
    );
    let on_again = set_on("wide", &g);
    let r = call("SetLiveDomainCertificate", on_again.clone()).await;
    assert_eq!(r.code(), "FunctionMutex", "{}", r.body);
    let text = ok(dir, &["domain", "show", "live.example.com"]);
    assert!(
        text.contains("http_only (http_only excludes HTTPS)"),
        "{text}"
    );
    assert!(text.contains("Locked"), "{text}");
    ok(
        dir,
        &[
            "domain",
            "set",
            "live.example.com",
            "--function",
            "http_only",
            "off",
        ],
    );
    assert_eq!(
        ok_json(dir, &["domain", "show", "live.example.com"])["Functions"],
        serde_json::json!([])
    );
    assert!(fails(dir, &["domain", "show", "nowhere.example.com"]).contains("no domain"));

    // domain set --origin: kept as http://host:port, `none` clears it, anything else is refused.
    let shown = ok_json(
        dir,
        &[
            "domain",
            "set",
            "live.example.com",
            "--origin",
            "http://Origin.Example.com:8081",
        ],
    );
    assert_eq!(shown["Origin"], "http://origin.example.com:8081");
    let text = ok(dir, &["domain", "show", "live.example.com"]);
    assert!(text.contains("http://origin.example.com:8081"), "{text}");
    assert!(fails(
        dir,
        &[
            "domain",
            "set",
            "live.example.com",
            "--origin",
            "https://origin.example.com"
        ]
    )
    .contains("only http:// origins"));
    assert_eq!(
        ok_json(
            dir,
            &["domain", "set", "live.example.com", "--origin", "none"]
        )["Origin"],
        serde_json::Value::Null
    );

    // cert revoke: the binding stays, Describe shows it, cas refuses it.
    let detail = call("DescribeLiveCertificateDetail", vec![("CertName", "wide")]).await;
    let wide_id = detail.ok()["CertId"].as_u64().expect("CertId").to_string();
    let revoked = ok_json(dir, &["cert", "revoke", &wide_id]);
    assert_eq!(revoked["Status"], "revoked");
    assert_eq!(revoked["Domains"], serde_json::json!(["live.example.com"]));
    let info = call(
        "DescribeLiveDomainCertificateInfo",
        vec![("DomainName", "live.example.com")],
    )
    .await;
    let info = &info.ok()["CertInfos"]["CertInfo"][0];
    assert_eq!(
        (info["CertName"].as_str(), info["Status"].as_str()),
        (Some("wide"), Some("revoked"))
    );
    let r = call(
        "SetLiveDomainCertificate",
        vec![
            ("DomainName", "spare.example.com"),
            ("SSLProtocol", "on"),
            ("CertType", "cas"),
            ("CertId", &wide_id),
        ],
    )
    .await;
    assert_eq!(r.code(), "Certificate.StatusError", "{}", r.body);

    // cert delete: refused while bound, naming the domain; an unbound record goes.
    let err = fails(dir, &["cert", "delete", &wide_id]);
    assert!(err.contains("live.example.com"), "{err}");
    let detail = call("DescribeLiveCertificateDetail", vec![("CertName", "loose")]).await;
    let loose_id = detail.ok()["CertId"].as_u64().expect("CertId").to_string();
    let deleted = ok_json(dir, &["cert", "delete", &loose_id]);
    assert_eq!(deleted["Deleted"], true);
    let r = call("DescribeLiveCertificateDetail", vec![("CertName", "loose")]).await;
    assert_eq!(r.code(), "CertNameNotFound", "{}", r.body);
    assert!(fails(dir, &["cert", "delete", &loose_id]).contains("no record"));
    drop(serve);
}

/// SetLiveDomainCertificate parameters: live.example.com, HTTPS on, upload `g` as `name`.
fn set_on<'a>(name: &'a str, g: &'a Generated) -> Vec<(&'a str, &'a str)> {
    vec![
        ("DomainName", "live.example.com"),
        ("SSLProtocol", "on"),
        ("CertName", name),
        ("SSLPub", &g.chain_pem),
        ("SSLPri", &g.key_pem),
    ]
}
