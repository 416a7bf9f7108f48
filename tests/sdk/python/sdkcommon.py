"""Shared plumbing of the Python SDK clients (sdk_tea.py, sdk_core.py).

Each client performs the same scenario against a livecert server and prints one JSON object on
stdout with what it observed; the Rust test crates/livecert/tests/sdk/main.rs asserts on it. Any
unexpected outcome raises Unexpected: the script prints a clear message on stderr and exits 1.

Inputs: the command line (see parse_args) and the environment variables
ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET.
"""

import argparse
import json
import os
import sys
import traceback

# Error codes the scenario provokes, and the HTTP status livecert must answer with
# (spec/operations.md and spec/protocol.md §7).
EXPECTED_ERRORS = {
    "set_bogus_ssl_protocol": ("InvalidSSLProtocol.ValueNotSupported", 400),
    "info_unknown_domain": ("IllegalOperationDomain", 400),
    "detail_unknown_cert_name": ("CertNameNotFound", 404),
    "wrong_secret": ("SignatureDoesNotMatch", 400),
}


class Unexpected(Exception):
    """An outcome the scenario did not expect: the script fails with this message."""


def parse_args(description, add_arguments=None):
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    if add_arguments:
        add_arguments(parser)
    parser.add_argument("--endpoint", required=True, help="host:port of the livecert API (plain HTTP)")
    parser.add_argument("--domain", required=True, help="a domain name unique to this run")
    parser.add_argument("--missing-domain", required=True, help="a valid domain name that is not added")
    parser.add_argument("--cert-name", required=True, help="the CertName to store the certificate under")
    parser.add_argument("--cert", required=True, help="path of the certificate chain PEM (SSLPub)")
    parser.add_argument("--key", required=True, help="path of the private key PEM (SSLPri)")
    parser.add_argument("--not-after", required=True, help="the leaf's notAfter as yyyy-MM-ddTHH:mm:ssZ")
    args = parser.parse_args()
    args.access_key_id = require_env("ALIBABA_CLOUD_ACCESS_KEY_ID")
    args.access_key_secret = require_env("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
    with open(args.cert, encoding="utf-8") as f:
        args.ssl_pub = f.read()
    with open(args.key, encoding="utf-8") as f:
        args.ssl_pri = f.read()
    return args


def require_env(name):
    value = os.environ.get(name)
    if not value:
        raise SystemExit(f"{name} must be set")
    return value


def expect(condition, message):
    if not condition:
        raise Unexpected(message)


def expect_eq(what, got, want):
    if got != want:
        raise Unexpected(f"{what}: expected {want!r}, got {got!r}")


def check_cert_info(info, args):
    """The CertInfo of the domain after SetLiveDomainCertificate (operations.md)."""
    expect_eq("CertInfo.DomainName", info.get("DomainName"), args.domain)
    expect_eq("CertInfo.CertName", info.get("CertName"), args.cert_name)
    expect_eq("CertInfo.SSLProtocol", info.get("SSLProtocol"), "on")
    expect_eq("CertInfo.CertExpireTime", info.get("CertExpireTime"), args.not_after)
    expect("BEGIN CERTIFICATE" in (info.get("SSLPub") or ""), f"CertInfo.SSLPub holds no certificate: {info.get('SSLPub')!r}")


def check_cert_list(certs, args):
    """Returns the entry of our certificate in DescribeLiveCertificateList."""
    mine = [c for c in certs if c.get("CertName") == args.cert_name]
    expect_eq(f"entries named {args.cert_name!r} in CertList ({certs!r})", len(mine), 1)
    expect(isinstance(mine[0].get("CertId"), int), f"CertId is not an integer: {mine[0].get('CertId')!r}")
    return mine[0]


def check_cert_detail(detail, listed, args):
    expect_eq("Detail.CertName", detail.get("CertName"), args.cert_name)
    expect_eq("Detail.CertId", detail.get("CertId"), listed.get("CertId"))
    cert = detail.get("Cert") or ""
    expect("BEGIN CERTIFICATE" in cert, f"Detail.Cert holds no certificate: {cert!r}")
    expect("PRIVATE KEY" not in json.dumps(detail), "DescribeLiveCertificateDetail returned a private key")


def check_error(name, code, status, want=None):
    """Holds an error the SDK raised against EXPECTED_ERRORS[name] (or `want`: (code, status))."""
    want_code, want_status = want or EXPECTED_ERRORS[name]
    expect_eq(f"error {name}: Code", code, want_code)
    expect_eq(f"error {name}: HTTP status", status, want_status)


def run(scenario, description, add_arguments=None):
    """Runs scenario(args) -> dict, prints its JSON; exit 1 with a message on any failure.
    add_arguments(parser), if given, declares the script's own options."""
    args = parse_args(description, add_arguments)
    try:
        observed = scenario(args)
    except Unexpected as e:
        print(f"{os.path.basename(sys.argv[0])}: UNEXPECTED: {e}", file=sys.stderr)
        sys.exit(1)
    except Exception as e:  # noqa: BLE001 - an SDK call failed in a way the scenario did not expect
        traceback.print_exc(file=sys.stderr)
        print(f"{os.path.basename(sys.argv[0])}: UNEXPECTED {type(e).__name__}: {describe_exception(e)}", file=sys.stderr)
        sys.exit(1)
    json.dump(observed, sys.stdout, ensure_ascii=False, sort_keys=True)
    sys.stdout.write("\n")


def describe_exception(e):
    """The fields the SDKs put on their exceptions, for the failure message."""
    parts = [str(e)]
    for attr in ("code", "status_code", "message", "data", "request_id", "inner_exception"):
        value = getattr(e, attr, None)
        if value is not None:
            parts.append(f"{attr}={value!r}")
    for getter in ("get_error_code", "get_http_status", "get_error_msg", "get_request_id"):
        fn = getattr(e, getter, None)
        if callable(fn):
            parts.append(f"{getter}()={fn()!r}")
    return "; ".join(parts)
