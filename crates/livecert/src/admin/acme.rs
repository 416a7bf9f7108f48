//! `livecert admin acme status`: the ACME issuer's orders in flight (pending: waiting for their
//! next attempt, or being worked on by the node holding their lease) and the orders that failed
//! recently, with the CA's problem; and when each free certificate is renewed next.

use clap::{Args, Subcommand};
use livecert_core::timefmt::format_utc;
use livecert_store::{AcmeOrder, OrderState, Store};
use serde_json::{json, Value};

use super::report::{table, Report};
use super::store_error;

/// `livecert admin acme …`.
#[derive(Debug, Subcommand)]
pub enum AcmeCommand {
    /// Orders in flight and recent failures, then each free certificate's next renewal.
    Status(StatusArgs),
}

/// `livecert admin acme status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Failures of the last this many hours are listed.
    #[arg(long, default_value_t = 24)]
    pub hours: u32,
    /// At most this many orders (0: all).
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
}

pub(super) async fn acme(store: &Store, command: AcmeCommand, now: i64) -> anyhow::Result<Report> {
    let AcmeCommand::Status(args) = command;
    let since = now - i64::from(args.hours) * 3600;
    let orders = store
        .acme_orders_for_status(since, args.limit)
        .await
        .map_err(store_error)?;
    let renewals = store.acme_renewal_times().await.map_err(store_error)?;
    let rows: Vec<Vec<String>> = orders
        .iter()
        .map(|o| {
            vec![
                o.id.to_string(),
                o.state.as_str().into(),
                o.purpose.as_str().into(),
                o.domain.as_str().into(),
                format!("{} ({})", o.cert_name, o.cert_id),
                o.attempts.to_string(),
                match (o.state, &o.lease_owner, o.lease_until) {
                    (OrderState::Pending, Some(owner), Some(until)) if until >= now => {
                        format!("{owner} until {}", format_utc(until))
                    }
                    (OrderState::Pending, _, _) => format!("next {}", format_utc(o.next_attempt)),
                    _ => "-".into(),
                },
                o.problem
                    .as_ref()
                    .map_or_else(|| "-".into(), ToString::to_string),
                o.order_url.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    let mut text = table(
        &[
            "ORDER",
            "STATE",
            "PURPOSE",
            "DOMAIN",
            "CERT",
            "ATTEMPTS",
            "WORK",
            "PROBLEM",
            "ORDER URL",
        ],
        &rows,
    );
    let renewal_rows: Vec<Vec<String>> = renewals
        .iter()
        .map(|(domain, at)| {
            let due = if *at <= now { "due" } else { "" };
            vec![domain.clone(), format_utc(*at), due.into()]
        })
        .collect();
    text.push('\n');
    text.push_str(&table(&["DOMAIN", "NEXT RENEWAL", ""], &renewal_rows));
    Ok(Report::new(
        json!({
            "Orders": orders.iter().map(order_json).collect::<Vec<_>>(),
            "Renewals": renewals
                .iter()
                .map(|(domain, at)| json!({"DomainName": domain, "NextRenewal": format_utc(*at)}))
                .collect::<Vec<_>>(),
        }),
        text,
    ))
}

fn order_json(o: &AcmeOrder) -> Value {
    json!({
        "OrderId": o.id,
        "State": o.state.as_str(),
        "Purpose": o.purpose.as_str(),
        "DomainName": o.domain.as_str(),
        "CertName": o.cert_name.as_str(),
        "CertId": o.cert_id,
        "AccountId": o.account_id.to_string(),
        "Attempts": o.attempts,
        "NextAttempt": (o.state == OrderState::Pending).then(|| format_utc(o.next_attempt)),
        "LeaseOwner": o.lease_owner,
        "LeaseUntil": o.lease_until.map(format_utc),
        "OrderUrl": o.order_url,
        "Challenge": o.challenge.map(livecert_store::ChallengeKind::as_str),
        "Problem": o.problem.as_ref().map(|p| json!({
            "Type": p.problem_type,
            "Detail": p.detail,
            "Identifier": p.identifier,
        })),
        "Updated": format_utc(o.updated),
    })
}
