//! RAM evaluation benchmark: the cost of one `ram::evaluate` call against policies of 10 and 100
//! statements, and of `Policy::parse` for the same documents.
//!
//! Run: `cargo bench -p livecert-core --bench ram`. Prints a markdown table. The policies are a
//! realistic mix: per-domain grants with wildcards (`domain/*.shopN.example.com`), `live:Describe*`
//! grants, a few explicit Denies, and conditions on `acs:SourceIp` (IPv4 and IPv6 CIDRs),
//! `acs:SecureTransport` and `acs:CurrentTime`. Three requests are timed: one allowed by a
//! statement near the end, one denied explicitly, and one that no statement matches (the
//! implicit deny, which must look at every statement: the worst case).

use std::hint::black_box;
use std::time::{Duration, Instant};

use livecert_core::ram::{evaluate, resource_for_domain, Decision, Policy, RequestContext};

const ACCOUNT: u64 = 1_234_567_890_123_456;

/// A policy document with `n` statements.
fn document(n: usize) -> String {
    let mut statements = Vec::with_capacity(n);
    for i in 0..n {
        let statement = match i % 10 {
            0 => format!(
                r#"{{"Effect":"Allow","Action":["live:Describe*","live:SetLiveDomainCertificate"],
                    "Resource":"acs:cdn:*:{ACCOUNT}:domain/*.shop{i}.example.com",
                    "Condition":{{"IpAddress":{{"acs:SourceIp":["10.0.0.0/8","2001:db8::/32"]}}}}}}"#
            ),
            1 => format!(
                r#"{{"Effect":"Allow","Action":"live:Describe*",
                    "Resource":["acs:cdn:*:{ACCOUNT}:domain/live{i}.example.com","acs:live:*:{ACCOUNT}:domain/play{i}.example.com"]}}"#
            ),
            2 => format!(
                r#"{{"Effect":"Deny","Action":"live:SetLiveDomainCertificate",
                    "Resource":"acs:cdn:*:{ACCOUNT}:domain/prod{i}.example.com"}}"#
            ),
            3 => format!(
                r#"{{"Effect":"Allow","Action":"live:SetLiveDomainCertificate",
                    "Resource":"acs:cdn:*:{ACCOUNT}:domain/cdn{i}-??.example.net",
                    "Condition":{{"Bool":{{"acs:SecureTransport":"true"}},
                                  "DateLessThan":{{"acs:CurrentTime":"2027-01-01T00:00:00Z"}}}}}}"#
            ),
            4 => format!(
                r#"{{"Effect":"Allow","Action":["live:AddLiveDomain","live:DescribeLiveDomainDetail"],
                    "Resource":"acs:cdn:*:{ACCOUNT}:domain/tenant{i}-*"}}"#
            ),
            5 => format!(
                r#"{{"Effect":"Deny","Action":"live:*",
                    "Resource":"acs:cdn:*:{ACCOUNT}:domain/blocked{i}.example.com",
                    "Condition":{{"NotIpAddress":{{"acs:SourceIp":"192.168.0.0/16"}}}}}}"#
            ),
            6 => format!(
                r#"{{"Effect":"Allow","Action":"live:Set*",
                    "Resource":"acs:live:cn-shanghai:{ACCOUNT}:domain/region{i}.example.com"}}"#
            ),
            7 => format!(
                r#"{{"Effect":"Allow","Action":"live:DescribeLiveCertificate*",
                    "Resource":"acs:cdn:*:{ACCOUNT}:domain/cert{i}.*.example.com",
                    "Condition":{{"StringLike":{{"acs:SourceVpc":"vpc-{i}*"}}}}}}"#
            ),
            8 => format!(
                r#"{{"Effect":"Allow","NotAction":"live:Set*",
                    "Resource":"acs:cdn:*:{ACCOUNT}:domain/read{i}.example.com"}}"#
            ),
            _ => format!(
                r#"{{"Effect":"Allow","Action":"live:*",
                    "Resource":"acs:cdn:*:{ACCOUNT}:domain/*.team{i}.example.org",
                    "Condition":{{"DateGreaterThan":{{"acs:CurrentTime":"2026-01-01T00:00:00Z"}}}}}}"#
            ),
        };
        statements.push(statement);
    }
    format!(
        r#"{{"Version":"1","Statement":[{}]}}"#,
        statements.join(",")
    )
}

/// Times `f` for about `budget`, returning nanoseconds per call.
fn time_per_call(budget: Duration, mut f: impl FnMut() -> Decision) -> f64 {
    // Warm up and size a batch that takes about a millisecond.
    let mut batch = 1u64;
    loop {
        let start = Instant::now();
        for _ in 0..batch {
            black_box(f());
        }
        if start.elapsed() >= Duration::from_millis(1) {
            break;
        }
        batch *= 2;
    }
    let mut calls = 0u64;
    let start = Instant::now();
    while start.elapsed() < budget {
        for _ in 0..batch {
            black_box(f());
        }
        calls += batch;
    }
    start.elapsed().as_nanos() as f64 / calls as f64
}

fn main() {
    let budget = Duration::from_millis(500);
    println!("| statements | request | decision | evaluate (ns/call) |");
    println!("| ---: | --- | --- | ---: |");
    let mut parse_rows = Vec::new();
    for n in [10usize, 100] {
        let text = document(n);
        let policy = Policy::parse(&text).expect("the benchmark policy parses");
        let policies = [&policy];
        let last_allow = (0..n).rev().find(|i| i % 10 == 0).unwrap_or(0);
        let deny = (0..n).find(|i| i % 10 == 2).unwrap_or(2);
        let cases = [
            (
                "allowed (Set, CIDR condition)",
                resource_for_domain(ACCOUNT, &format!("live.shop{last_allow}.example.com")),
                "live:SetLiveDomainCertificate",
            ),
            (
                "explicit deny",
                resource_for_domain(ACCOUNT, &format!("prod{deny}.example.com")),
                "live:SetLiveDomainCertificate",
            ),
            (
                "no match (implicit deny)",
                resource_for_domain(ACCOUNT, "unknown.example.com"),
                "live:SetLiveDomainCertificate",
            ),
        ];
        for (label, resource, action) in &cases {
            let ctx = RequestContext {
                action,
                resource,
                source_ip: Some("10.1.2.3".parse().expect("address")),
                secure_transport: true,
                current_time: 1_780_000_000,
                extra_keys: &[("acs:SourceVpc", "vpc-7x")],
            };
            let decision = evaluate(&policies, &ctx);
            let ns = time_per_call(budget, || evaluate(black_box(&policies), black_box(&ctx)));
            println!("| {n} | {label} | {decision:?} | {ns:.0} |");
        }
        let start = Instant::now();
        let mut parses = 0u32;
        while start.elapsed() < budget {
            black_box(Policy::parse(black_box(&text)).is_ok());
            parses += 1;
        }
        let us = start.elapsed().as_secs_f64() * 1e6 / f64::from(parses);
        parse_rows.push((n, text.len(), us));
    }
    println!();
    println!("| statements | document (bytes) | Policy::parse (µs) |");
    println!("| ---: | ---: | ---: |");
    for (n, bytes, us) in parse_rows {
        println!("| {n} | {bytes} | {us:.1} |");
    }
}
