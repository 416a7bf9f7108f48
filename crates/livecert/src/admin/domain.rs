//! `livecert admin domain …`: the operator's modes of a domain (the flags behind
//! SetLiveDomainCertificate rows 8–10, 12 and 16, and the edge's origin), on any account's domain:
//! the operator names it by domain name.
//!
//! Decisions where the spec is silent:
//! - `domain set` reads the flags, changes the ones given and writes them all back; two operators
//!   setting different flags of one domain at the same instant may lose one change (the last write
//!   wins). With no flag given it changes nothing and shows the flags.
//! - A function name is 1–64 of `a-z 0-9 _ -`; any name may be set, and those of the FunctionMutex
//!   table (`http_only`, `rtmp_only`) make `SSLProtocol=on` answer `FunctionMutex`.
//! - `domain set --origin` stores the origin as `http://host:port` (host lower case, port 80 if
//!   none was given); `--origin none` clears it, and the edge then uses its `--default-origin`.

use anyhow::{bail, Context};
use clap::{Subcommand, ValueEnum};
use livecert_core::names::DomainName;
use livecert_core::ops::set_live_domain_certificate::https_mutex_function;
use livecert_core::timefmt::format_utc;
use livecert_store::{DomainFlags, DomainRecord, Store};
use serde_json::{json, Value};

use super::report::{fields, list_or_dash, Report};
use super::{store_error, write_error};
use crate::edge::origin::Origin;

/// `livecert admin domain …`.
#[derive(Debug, Subcommand)]
pub enum DomainCommand {
    /// Change a domain's operator flags (only those given); prints the result like `show`.
    Set {
        /// The domain name.
        name: String,
        /// Locked: every state change answers IllegalOperation.
        #[arg(long)]
        locked: Option<Switch>,
        /// Safe mode: state changes answer DomainInSafeMode.
        #[arg(long)]
        safe_mode: Option<Switch>,
        /// Protected mode: state changes answer DomainInProtectedMode.
        #[arg(long)]
        protected_mode: Option<Switch>,
        /// HTTPS required: SSLProtocol=off answers Certificate.NotPermittedOff.
        #[arg(long)]
        https_required: Option<Switch>,
        /// A function and whether it is set (repeatable): `--function http_only on`.
        #[arg(long, num_args = 2, value_names = ["NAME", "on|off"])]
        function: Vec<String>,
        /// Where the edge forwards the domain's requests: http://host:port, or `none` for the
        /// edge's default origin.
        #[arg(long, value_name = "http://host:port|none")]
        origin: Option<String>,
    },
    /// Show a domain's owner, status, HTTPS binding and operator flags.
    Show {
        /// The domain name.
        name: String,
    },
}

/// `on` or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    /// Set.
    On,
    /// Cleared.
    Off,
}

impl Switch {
    fn is_on(self) -> bool {
        self == Self::On
    }
}

/// Runs `domain set|show`.
pub(super) async fn domain(
    store: &Store,
    command: DomainCommand,
    now: i64,
) -> anyhow::Result<Report> {
    match command {
        DomainCommand::Show { name } => {
            let domain = existing_domain(store, &name).await?;
            Ok(domain_report(&domain))
        }
        DomainCommand::Set {
            name,
            locked,
            safe_mode,
            protected_mode,
            https_required,
            function,
            origin,
        } => {
            let changes = function_changes(&function)?;
            let origin = match origin.as_deref() {
                None => None,
                Some("none") => Some(None),
                Some(o) => Some(Some(Origin::parse(o)?.to_string())),
            };
            let domain = existing_domain(store, &name).await?;
            let mut flags = DomainFlags {
                locked: domain.locked,
                safe_mode: domain.safe_mode,
                protected_mode: domain.protected_mode,
                https_required: domain.https_required,
                functions: domain.functions.clone(),
            };
            let before = flags.clone();
            for (switch, flag) in [
                (locked, &mut flags.locked),
                (safe_mode, &mut flags.safe_mode),
                (protected_mode, &mut flags.protected_mode),
                (https_required, &mut flags.https_required),
            ] {
                if let Some(s) = switch {
                    *flag = s.is_on();
                }
            }
            for (f, on) in changes {
                flags.functions.retain(|g| *g != f);
                if on {
                    flags.functions.push(f);
                }
            }
            if flags != before {
                store
                    .set_domain_flags(&domain.name, flags, now)
                    .await
                    .map_err(write_error)?;
            }
            if let Some(origin) = origin.filter(|o| *o != domain.origin) {
                store
                    .set_domain_origin(&domain.name, origin, now)
                    .await
                    .map_err(write_error)?;
            }
            let domain = existing_domain(store, &name).await?;
            Ok(domain_report(&domain))
        }
    }
}

/// Pairs of `--function NAME on|off`, checked.
fn function_changes(values: &[String]) -> anyhow::Result<Vec<(String, bool)>> {
    values
        .chunks(2)
        .map(|pair| {
            let [name, switch] = pair else {
                bail!("--function takes a name and on or off");
            };
            let valid = (1..=64).contains(&name.len())
                && name.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'
                });
            if !valid {
                bail!("function name {name:?}: use 1–64 of a-z 0-9 _ -");
            }
            let on = match switch.as_str() {
                "on" => true,
                "off" => false,
                other => bail!("--function {name} {other:?}: use on or off"),
            };
            Ok((name.clone(), on))
        })
        .collect()
}

async fn existing_domain(store: &Store, name: &str) -> anyhow::Result<DomainRecord> {
    let parsed = DomainName::parse(name).map_err(|e| anyhow::anyhow!("{e}"))?;
    store
        .domain_any(&parsed)
        .await
        .map_err(store_error)?
        .with_context(|| format!("there is no domain {parsed}"))
}

fn domain_report(d: &DomainRecord) -> Report {
    let status = d.status.as_str();
    let ssl = if d.https { "on" } else { "off" };
    let excludes_https = https_mutex_function(&d.functions).map(|(f, _)| f.to_owned());
    let json: Value = json!({
        "DomainName": d.name.as_str(),
        "AccountId": d.account_id.to_string(),
        "DomainStatus": status,
        "SSLProtocol": ssl,
        "CertId": d.cert_id,
        "Locked": d.locked,
        "SafeMode": d.safe_mode,
        "ProtectedMode": d.protected_mode,
        "HttpsRequired": d.https_required,
        "Functions": d.functions,
        "Origin": d.origin,
        "GmtModified": format_utc(d.modified),
    });
    let yes_no = |b: bool| if b { "on" } else { "off" }.to_owned();
    let functions = match excludes_https {
        Some(f) => format!("{} ({f} excludes HTTPS)", list_or_dash(&d.functions)),
        None => list_or_dash(&d.functions),
    };
    let text = fields(&[
        ("DomainName", d.name.as_str().to_owned()),
        ("AccountId", d.account_id.to_string()),
        ("DomainStatus", status.to_owned()),
        ("SSLProtocol", ssl.to_owned()),
        (
            "CertId",
            d.cert_id.map_or_else(|| "-".into(), |id| id.to_string()),
        ),
        ("Locked", yes_no(d.locked)),
        ("SafeMode", yes_no(d.safe_mode)),
        ("ProtectedMode", yes_no(d.protected_mode)),
        ("HttpsRequired", yes_no(d.https_required)),
        ("Functions", functions),
        (
            "Origin",
            d.origin
                .clone()
                .unwrap_or_else(|| "- (the edge's default)".into()),
        ),
        ("GmtModified", format_utc(d.modified)),
    ]);
    Report::new(json, text)
}
