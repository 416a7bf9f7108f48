//! `livecert call`: a signed client for any operation, like the aliyun CLI, signing with the very
//! code the server verifies with (`livecert_core::protocol::client`).
//!
//! V3 (ACS3-HMAC-SHA256) is the default; `--signature v1` uses HMAC-SHA1. Either way the
//! operation's parameters travel in a form body of a POST, so that large SSLPub/SSLPri values never
//! meet the URL length limit.

use std::path::PathBuf;

use anyhow::{bail, Context};
use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use livecert_core::action::API_VERSION;
use livecert_core::params::Pair;
use livecert_core::protocol::client::{encode_pairs, sign_v1, sign_v3, V3Request};
use livecert_core::secret::Secret;
use livecert_core::timefmt::format_utc;

/// Which signature scheme to sign with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureScheme {
    /// HMAC-SHA1 (protocol.md §3).
    V1,
    /// ACS3-HMAC-SHA256 (protocol.md §4), the default.
    V3,
}

/// One call to make.
#[derive(Debug, Clone)]
pub struct CallRequest {
    /// `http://host:port` (a bare `host:port` is read as http).
    pub endpoint: String,
    /// The operation, e.g. `SetLiveDomainCertificate`.
    pub action: String,
    /// The operation's parameters, decoded.
    pub params: Vec<Pair>,
    /// AccessKeyId.
    pub access_key_id: String,
    /// AccessKeySecret.
    pub access_key_secret: Secret,
    /// The scheme.
    pub scheme: SignatureScheme,
    /// Signing time, Unix seconds.
    pub now: i64,
    /// Temporary credentials' SecurityToken (`ALIBABA_CLOUD_SECURITY_TOKEN`, `--security-token`).
    pub security_token: Option<String>,
    /// For an `https://` endpoint: the PEM certificates to trust (`--cacert`).
    pub ca_cert: Option<std::path::PathBuf>,
}

/// The answer: HTTP status and body text.
#[derive(Debug, Clone)]
pub struct CallResponse {
    /// HTTP status.
    pub status: u16,
    /// The body (JSON).
    pub body: String,
}

/// Signs and sends one request. Errors: a bad endpoint, a connection failure.
pub async fn send(call: &CallRequest) -> anyhow::Result<CallResponse> {
    let endpoint = if call.endpoint.contains("://") {
        call.endpoint.clone()
    } else {
        format!("http://{}", call.endpoint)
    };
    let uri: http::Uri = endpoint
        .parse()
        .with_context(|| format!("--endpoint {endpoint} is not a URL"))?;
    let tls = match uri.scheme_str() {
        Some("http") => false,
        Some("https") => true,
        _ => bail!("--endpoint must be http://host:port or https://host:port"),
    };
    let authority = uri
        .authority()
        .map(ToString::to_string)
        .context("--endpoint needs a host")?;
    let request = signed_request(call, &authority)?;
    let response = if tls {
        let ca = call.ca_cert.as_deref().context(
            "an https endpoint needs --cacert <pem>: the certificate (or CA) the API serves",
        )?;
        send_tls(&uri, &authority, ca, request)
            .await
            .with_context(|| format!("calling {endpoint}"))?
    } else {
        let client = Client::builder(TokioExecutor::new()).build_http();
        client
            .request(request)
            .await
            .with_context(|| format!("calling {endpoint}"))?
    };
    let status = response.status().as_u16();
    let bytes = response
        .into_body()
        .collect()
        .await
        .context("reading the response")?
        .to_bytes();
    Ok(CallResponse {
        status,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    })
}

/// The signed request of `call` for the API at `authority` (`host:port`): a POST to `/` with the
/// parameters in an `application/x-www-form-urlencoded` body, signed with `call.scheme` at
/// `call.now` under a new random `SignatureNonce` (V1: every parameter, the common ones included,
/// in the body; V3: the `Authorization` headers, the operation's parameters in the body). Errors:
/// a header value HTTP cannot carry (an AccessKeyId or token with control characters).
pub fn signed_request(call: &CallRequest, authority: &str) -> anyhow::Result<Request<Full<Bytes>>> {
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let timestamp = format_utc(call.now);
    let mut builder = Request::post(format!("http://{authority}/"))
        .header("content-type", "application/x-www-form-urlencoded");
    let body = match call.scheme {
        SignatureScheme::V1 => {
            let mut params = call.params.clone();
            params.push(("Action".into(), call.action.clone().into_bytes()));
            params.push(("Version".into(), API_VERSION.into()));
            params.push(("Format".into(), b"JSON".to_vec()));
            if let Some(token) = &call.security_token {
                params.push(("SecurityToken".into(), token.clone().into_bytes()));
            }
            let signed = sign_v1(
                "POST",
                &params,
                &call.access_key_id,
                &call.access_key_secret,
                &nonce,
                &timestamp,
            );
            builder = builder.header("host", authority);
            encode_pairs(&signed)
        }
        SignatureScheme::V3 => {
            let body = encode_pairs(&call.params);
            let headers = sign_v3(
                &V3Request {
                    method: "POST",
                    host: authority,
                    action: &call.action,
                    version: API_VERSION,
                    query: &[],
                    body: body.as_bytes(),
                    access_key_id: &call.access_key_id,
                    nonce: &nonce,
                    date: &timestamp,
                    security_token: call.security_token.as_deref(),
                },
                &call.access_key_secret,
            );
            for (name, value) in headers {
                builder = builder.header(name, value);
            }
            body
        }
    };
    builder
        .body(Full::new(Bytes::from(body)))
        .context("building the request")
}

/// Sends one request over TLS (rustls, trusting only the certificates in `ca`), HTTP/1.1.
async fn send_tls(
    uri: &http::Uri,
    authority: &str,
    ca: &std::path::Path,
    request: Request<Full<Bytes>>,
) -> anyhow::Result<http::Response<hyper::body::Incoming>> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};

    let mut roots = rustls::RootCertStore::empty();
    for cert in
        CertificateDer::pem_file_iter(ca).with_context(|| format!("reading {}", ca.display()))?
    {
        roots
            .add(cert.with_context(|| format!("reading {}", ca.display()))?)
            .with_context(|| format!("{} holds a certificate rustls cannot trust", ca.display()))?;
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let host = uri.host().context("--endpoint needs a host")?;
    let name = ServerName::try_from(
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned(),
    )
    .with_context(|| format!("{host} is not a server name"))?;
    let port = uri.port_u16().unwrap_or(443);
    let tcp = tokio::net::TcpStream::connect((host, port)).await?;
    let tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
        .connect(name, tcp)
        .await
        .context("TLS handshake")?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls)).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let (mut parts, body) = request.into_parts();
    parts.uri = "/".parse()?;
    if !parts.headers.contains_key(http::header::HOST) {
        parts
            .headers
            .insert(http::header::HOST, http::HeaderValue::from_str(authority)?);
    }
    Ok(sender
        .send_request(Request::from_parts(parts, body))
        .await?)
}

/// The command line of `livecert call` after the action: `--<Param> <value>`,
/// `--<Param>-file <path>`, and the client's own lower-case options.
#[derive(Debug, Clone, Default)]
pub struct CallArgs {
    /// `--endpoint`.
    pub endpoint: Option<String>,
    /// `--credentials <file>`.
    pub credentials: Option<PathBuf>,
    /// `--signature v1|v3`.
    pub signature: Option<String>,
    /// `--security-token <token>`.
    pub security_token: Option<String>,
    /// `--cacert <pem>`.
    pub ca_cert: Option<PathBuf>,
    /// The operation's parameters.
    pub params: Vec<Pair>,
}

impl CallArgs {
    /// Parses the words after the action. Parameter names start with an upper-case letter
    /// (Alibaba's names); `--<Param>-file` reads the value from a file.
    pub fn parse(words: &[String]) -> anyhow::Result<Self> {
        let mut out = Self::default();
        let mut it = words.iter();
        while let Some(word) = it.next() {
            let Some(name) = word.strip_prefix("--") else {
                bail!("unexpected argument {word:?}: parameters are written --<Param> <value>");
            };
            let (name, inline) = match name.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (name, None),
            };
            let mut value = || -> anyhow::Result<String> {
                match &inline {
                    Some(v) => Ok(v.clone()),
                    None => it
                        .next()
                        .cloned()
                        .with_context(|| format!("--{name} needs a value")),
                }
            };
            match name {
                "endpoint" => out.endpoint = Some(value()?),
                "credentials" => out.credentials = Some(PathBuf::from(value()?)),
                "signature" => out.signature = Some(value()?),
                "security-token" => out.security_token = Some(value()?),
                "cacert" => out.ca_cert = Some(PathBuf::from(value()?)),
                _ if name.starts_with(|c: char| c.is_ascii_uppercase()) => {
                    if let Some(param) = name.strip_suffix("-file") {
                        let path = value()?;
                        let bytes = std::fs::read(&path)
                            .with_context(|| format!("reading {path} for {param}"))?;
                        out.params.push((param.to_owned(), bytes));
                    } else {
                        out.params.push((name.to_owned(), value()?.into_bytes()));
                    }
                }
                _ => bail!(
                    "unknown option --{name}; parameters use Alibaba's names, e.g. --DomainName"
                ),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_args_read_params_files_and_options() {
        let dir = tempfile::tempdir().unwrap();
        let pem = dir.path().join("c.pem");
        std::fs::write(&pem, "PEM\n").unwrap();
        let words: Vec<String> = [
            "--DomainName",
            "a.com",
            "--SSLPub-file",
            pem.to_str().unwrap(),
            "--signature=v1",
            "--endpoint",
            "127.0.0.1:1",
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        let args = CallArgs::parse(&words).unwrap();
        assert_eq!(
            args.params,
            vec![
                ("DomainName".into(), b"a.com".to_vec()),
                ("SSLPub".into(), b"PEM\n".to_vec())
            ]
        );
        assert_eq!(args.signature.as_deref(), Some("v1"));
        assert_eq!(args.endpoint.as_deref(), Some("127.0.0.1:1"));
        assert!(CallArgs::parse(&["--bogus".to_owned(), "x".to_owned()]).is_err());
    }
}
