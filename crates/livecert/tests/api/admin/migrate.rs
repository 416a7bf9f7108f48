//! `admin migrate`: an SQLite store copied into PostgreSQL, and the options it takes.

use livecert::datadir::DataDir;

use super::{admin, fails, ok, ok_json};

/// `admin migrate`: refused while a `serve` holds the SQLite store's lock and with a malformed
/// `--to`; copies a small store (an account, its key, a domain) into a new PostgreSQL database,
/// printing the rows per table; `admin --store postgres://…` then sees the domain; a second run
/// into the now non-empty database is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_migrate_moves_an_sqlite_store_into_postgres() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let account = ok_json(dir, &["account", "create"])["AccountId"]
        .as_str()
        .expect("AccountId")
        .parse::<u64>()
        .unwrap();
    {
        let data = DataDir::open(dir).expect("data dir");
        let store = livecert::store_location::open_store(&data, None)
            .await
            .expect("store opens");
        let domain = livecert_store::NewDomain {
            name: livecert_core::names::DomainName::parse("live.example.com").unwrap(),
            live_domain_type: "liveVideo".into(),
            region: "cn-shanghai".into(),
            scope: "domestic".into(),
            check_url: None,
            top_level_domain: None,
            resource_group_id: None,
        };
        store
            .add_domain(account, domain, 1_767_225_600)
            .await
            .unwrap();
    }
    let db = dir.join("livecert.db");
    let from = format!("sqlite://{}", db.display());
    let pg = crate::postgres::Database::create().await;

    assert!(fails(dir, &["migrate", "--from", &from, "--to", "mysql://x"]).contains("postgres://"));
    {
        let _serving = DataDir::lock_for_serve(&db).unwrap();
        let err = fails(dir, &["migrate", "--from", &from, "--to", &pg.url]);
        assert!(err.contains("stop `livecert serve`"), "{err}");
    }

    let report = ok_json(dir, &["migrate", "--from", &from, "--to", &pg.url]);
    assert_eq!(report["Tables"]["accounts"], 1, "{report}");
    assert_eq!(report["Tables"]["domains"], 1, "{report}");
    assert_eq!(report["Tables"]["edge_changes"], 1, "{report}");

    let shown = ok(
        dir,
        &["--store", &pg.url, "domain", "show", "live.example.com"],
    );
    assert!(shown.contains("live.example.com"), "{shown}");

    let err = fails(dir, &["migrate", "--from", &from, "--to", &pg.url]);
    assert!(err.contains("not empty"), "{err}");
}

/// `admin migrate` names its stores with `--from` and `--to`: its help does not offer `--store`,
/// and `--store` given with it is refused with what to do instead.
#[test]
fn migrate_offers_no_store_option_and_refuses_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let help = admin(dir.path(), &["migrate", "--help"]);
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("--from") && help.contains("--to"), "{help}");
    assert!(!help.contains("--store"), "{help}");
    let out = admin(
        dir.path(),
        &[
            "--store",
            "sqlite:///nowhere.db",
            "migrate",
            "--from",
            "sqlite:///nowhere.db",
            "--to",
            "postgres://127.0.0.1/none",
        ],
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("drop --store"), "{stderr}");
}
