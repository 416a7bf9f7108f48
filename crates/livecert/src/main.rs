//! The `livecert` binary: parses the command line and wires the library together.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use livecert::api::render::ErrorDocs;
use livecert::api::ApiConfig;
use livecert::client::{self, CallArgs, CallRequest, SignatureScheme};
use livecert::clock::{Clock, SystemClock};
use livecert::server::{self, ServeOptions};
use livecert_core::secret::Secret;

/// mimalloc instead of glibc's malloc: per-thread free lists and no arena lock, which the
/// profile of a Describe load asked for (docs/decisions.md, "Speed").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A self-hosted, Alibaba Cloud ApsaraVideo Live compatible certificate control plane.
#[derive(Debug, Parser)]
#[command(name = "livecert", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once per process: the size of its largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API (SQLite in the data directory by default).
    Serve {
        /// API listen address.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Data directory: master.key, credentials, livecert.db.
        #[arg(long, default_value = "./livecert-data", env = "LIVECERT_DATA_DIR")]
        data_dir: PathBuf,
        /// Store URL: sqlite://<path> (default: sqlite://<data-dir>/livecert.db) or
        /// postgres://user@host:port/database (several serve and edge nodes on one database).
        #[arg(long)]
        store: Option<String>,
        /// HostId in error bodies (default: the request's Host header).
        #[arg(long)]
        host_id: Option<String>,
        /// Suffix of each domain's Cname.
        #[arg(long, default_value = "livecert.local")]
        cname_suffix: String,
        /// Base URL of docs/errors.md, used in Recommend (default: the copy this API serves itself,
        /// http(s)://<the request's host>/docs/errors.md).
        #[arg(long)]
        errors_doc_url: Option<String>,
        /// Per-account, per-operation rate limits (spec/access.md): on, or off for benchmarks.
        #[arg(long, default_value = "on", value_parser = ["on", "off"])]
        rate_limits: String,
        /// Calls per second per account for one operation, replacing the default:
        /// <Action>=<rate>, e.g. SetLiveDomainCertificate=60 (repeatable).
        #[arg(long = "rate-limit", value_parser = livecert::api::ratelimit::parse_override)]
        rate_limit_overrides: Vec<(livecert_core::action::Action, u32)>,
        /// Nonces one account may hold inside the 15-minute replay window (SQLite; PostgreSQL keeps
        /// them in the database): when an account's are all in use its next calls get
        /// Throttling.User, and no other account's are affected.
        #[arg(long, default_value_t = livecert::api::nonce::DEFAULT_NONCES_PER_ACCOUNT, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
        nonces_per_account: usize,
        /// The HTTPS edge's TLS listen address (0.0.0.0:443 in production).
        #[arg(long, default_value = livecert::edge::DEFAULT_LISTEN)]
        edge_listen: SocketAddr,
        /// Serve the API only, without the HTTPS edge.
        #[arg(long)]
        no_edge: bool,
        /// The edge's origin for domains without one of their own: http://host:port.
        #[arg(long)]
        default_origin: Option<livecert::edge::origin::Origin>,
        /// Serve the edge's metrics (Prometheus text, GET /metrics) on this address.
        #[arg(long)]
        metrics_listen: Option<SocketAddr>,
        /// Also serve plain HTTP on this address (0.0.0.0:80 in production): 308 to HTTPS for
        /// domains that require it, forwarded to the origin otherwise. Off by default.
        #[arg(long)]
        edge_http_listen: Option<SocketAddr>,
        /// Answer ACME HTTP-01 challenges on the plain-HTTP port from
        /// <dir>/.well-known/acme-challenge/<token> (certbot --webroot -w <dir>); without it they
        /// go to the domain's origin. Needs --edge-http-listen.
        #[arg(long)]
        acme_webroot: Option<PathBuf>,
        #[command(flatten)]
        acme: livecert::acme::AcmeArgs,
        /// Serve the API over TLS for the official hostnames (live.aliyuncs.com, cas.aliyuncs.com,
        /// sts.aliyuncs.com, <product>.<region>.aliyuncs.com) with a certificate the data
        /// directory's CA issues at start (trust `livecert admin ca export`); use with
        /// --listen 0.0.0.0:443 and point those names here (docs/tools.md).
        #[arg(long, conflicts_with_all = ["tls_cert", "tls_key"])]
        official_hostnames: bool,
        /// Serve the API over TLS with this certificate chain (PEM, leaf first); with --tls-key.
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The private key (PEM) of --tls-cert.
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// The edge's certificate (PEM chain) for names no domain serves (no SNI, unknown name);
        /// with --default-key. Without it such handshakes are refused.
        #[arg(long, requires = "default_key")]
        default_cert: Option<PathBuf>,
        /// The private key (PEM) of --default-cert.
        #[arg(long, requires = "default_cert")]
        default_key: Option<PathBuf>,
        /// Close a connection that sends no byte within this many milliseconds of accept (on
        /// every listener; default 10 s). For tests: hidden.
        #[arg(long, hide = true, value_parser = clap::value_parser!(u64).range(1..), default_value_t = livecert::listener::FIRST_BYTE_TIMEOUT.as_millis() as u64)]
        first_byte_timeout_ms: u64,
    },
    /// Run an HTTPS edge alone against the store of a running serve (read only, no lock taken).
    Edge {
        /// Data directory: master.key and, by default, livecert.db.
        #[arg(long, default_value = "./livecert-data", env = "LIVECERT_DATA_DIR")]
        data_dir: PathBuf,
        /// Store URL: sqlite://<path> (default: sqlite://<data-dir>/livecert.db) or
        /// postgres://user@host:port/database (several serve and edge nodes on one database).
        #[arg(long)]
        store: Option<String>,
        /// TLS listen address (0.0.0.0:443 in production).
        #[arg(long, default_value = livecert::edge::DEFAULT_LISTEN)]
        edge_listen: SocketAddr,
        /// The origin for domains without one of their own: http://host:port.
        #[arg(long)]
        default_origin: Option<livecert::edge::origin::Origin>,
        /// Serve the metrics (Prometheus text, GET /metrics) on this address.
        #[arg(long)]
        metrics_listen: Option<SocketAddr>,
        /// Also serve plain HTTP on this address (0.0.0.0:80 in production): 308 to HTTPS for
        /// domains that require it, forwarded to the origin otherwise. Off by default.
        #[arg(long)]
        edge_http_listen: Option<SocketAddr>,
        /// Answer ACME HTTP-01 challenges on the plain-HTTP port from
        /// <dir>/.well-known/acme-challenge/<token> (certbot --webroot -w <dir>); without it they
        /// go to the domain's origin. Needs --edge-http-listen.
        #[arg(long)]
        acme_webroot: Option<PathBuf>,
        /// The edge's certificate (PEM chain) for names no domain serves (no SNI, unknown name);
        /// with --default-key. Without it such handshakes are refused.
        #[arg(long, requires = "default_key")]
        default_cert: Option<PathBuf>,
        /// The private key (PEM) of --default-cert.
        #[arg(long, requires = "default_cert")]
        default_key: Option<PathBuf>,
        /// Close a connection that sends no byte within this many milliseconds of accept (on
        /// every listener; default 10 s). For tests: hidden.
        #[arg(long, hide = true, value_parser = clap::value_parser!(u64).range(1..), default_value_t = livecert::listener::FIRST_BYTE_TIMEOUT.as_millis() as u64)]
        first_byte_timeout_ms: u64,
    },
    /// Call any operation, signed: livecert call <Action> --<Param> <value> … [--<Param>-file <path>]
    /// [--endpoint URL] [--credentials FILE] [--signature v1|v3] [--security-token TOKEN] [--cacert PEM].
    #[command(disable_help_flag = false)]
    Call {
        /// The operation, e.g. SetLiveDomainCertificate.
        action: String,
        /// --<Param> <value>, --<Param>-file <path>, --endpoint, --credentials, --signature.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Operator actions on the store, beside a running serve: accounts, users, AccessKeys,
    /// policies, temporary credentials, the audit log.
    Admin(livecert::admin::AdminArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LIVECERT_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("livecert: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("livecert: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve {
            listen,
            data_dir,
            store,
            host_id,
            cname_suffix,
            errors_doc_url,
            rate_limits,
            rate_limit_overrides,
            nonces_per_account,
            edge_listen,
            no_edge,
            default_origin,
            metrics_listen,
            edge_http_listen,
            acme_webroot,
            acme,
            official_hostnames,
            tls_cert,
            tls_key,
            default_cert,
            default_key,
            first_byte_timeout_ms,
        } => {
            let options = ServeOptions {
                listen,
                data_dir,
                store,
                api: ApiConfig {
                    host_id,
                    error_docs: ErrorDocs {
                        base_url: errors_doc_url,
                    },
                    cname_suffix,
                    first_byte_timeout: Duration::from_millis(first_byte_timeout_ms),
                    idle_timeout: livecert::listener::IDLE_TIMEOUT,
                },
                rate_limits: rate_limits == "on",
                rate_limit_overrides: rate_limit_overrides.into_iter().collect(),
                nonces_per_account,
                edge_listen: (!no_edge).then_some(edge_listen),
                default_origin,
                metrics_listen,
                edge_http_listen,
                acme_webroot,
                acme: acme.config(edge_http_listen.is_some())?,
                official_hostnames,
                tls: tls_cert.zip(tls_key),
                default_cert: default_cert.zip(default_key),
            };
            server::run(options, server::shutdown_signal()).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Edge {
            data_dir,
            store,
            edge_listen,
            default_origin,
            metrics_listen,
            edge_http_listen,
            acme_webroot,
            default_cert,
            default_key,
            first_byte_timeout_ms,
        } => {
            let options = livecert::edge::EdgeOptions {
                listen: edge_listen,
                data_dir,
                store,
                default_origin,
                metrics_listen,
                default_cert: default_cert.zip(default_key),
                http_listen: edge_http_listen,
                acme_webroot,
                first_byte_timeout: Duration::from_millis(first_byte_timeout_ms),
            };
            livecert::edge::run(options, server::shutdown_signal()).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Call { action, args } => call(action, &args).await,
        Command::Admin(args) => {
            livecert::admin::run(args).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn call(action: String, words: &[String]) -> anyhow::Result<ExitCode> {
    let args = CallArgs::parse(words)?;
    let (access_key_id, secret) = match &args.credentials {
        Some(path) => livecert::datadir::read_credentials(path)?,
        None => (
            std::env::var("ALIBABA_CLOUD_ACCESS_KEY_ID")
                .context("set ALIBABA_CLOUD_ACCESS_KEY_ID, or pass --credentials <file>")?,
            std::env::var("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
                .context("set ALIBABA_CLOUD_ACCESS_KEY_SECRET, or pass --credentials <file>")?,
        ),
    };
    let scheme = match args.signature.as_deref() {
        None | Some("v3" | "V3") => SignatureScheme::V3,
        Some("v1" | "V1") => SignatureScheme::V1,
        Some(other) => anyhow::bail!("--signature {other}: use v1 or v3"),
    };
    let endpoint = args
        .endpoint
        .clone()
        .or_else(|| std::env::var("LIVECERT_ENDPOINT").ok())
        .unwrap_or_else(|| "http://127.0.0.1:8080".to_owned());
    let request = CallRequest {
        endpoint,
        action,
        params: args.params,
        access_key_id,
        access_key_secret: Secret::new(secret.into_bytes()),
        scheme,
        now: SystemClock.now(),
        security_token: args
            .security_token
            .clone()
            .or_else(|| std::env::var("ALIBABA_CLOUD_SECURITY_TOKEN").ok())
            .filter(|t| !t.is_empty()),
        ca_cert: args
            .ca_cert
            .clone()
            .or_else(|| std::env::var_os("LIVECERT_CACERT").map(PathBuf::from)),
    };
    let response = client::send(&request).await?;
    if (200..300).contains(&response.status) {
        println!("{}", pretty(&response.body));
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("{}", pretty(&response.body));
        Ok(ExitCode::FAILURE)
    }
}

fn pretty(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| body.to_owned())
}
