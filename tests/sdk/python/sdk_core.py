#!/usr/bin/env python3
"""The scenario through aliyun-python-sdk-core 2.16.1 (AcsClient) and aliyun-python-sdk-live 3.9.75
(the request classes): HMAC-SHA1 (V1) signing, POST with every parameter in the query, protocol
http, the endpoint registered with AcsClient.add_endpoint (as in the fixture py-core-set-ok-addendpoint).

Usage: sdk_core.py --endpoint 127.0.0.1:PORT --domain D --missing-domain M --cert-name N
           --cert chain.pem --key key.pem --not-after yyyy-MM-ddTHH:mm:ssZ
with ALIBABA_CLOUD_ACCESS_KEY_ID / ALIBABA_CLOUD_ACCESS_KEY_SECRET in the environment.
Prints one JSON object (what it observed) on stdout; exits 1 on any unexpected outcome.
"""

import json

from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.client import AcsClient
from aliyunsdklive.request.v20161101.AddLiveDomainRequest import AddLiveDomainRequest
from aliyunsdklive.request.v20161101.DescribeLiveCertificateDetailRequest import DescribeLiveCertificateDetailRequest
from aliyunsdklive.request.v20161101.DescribeLiveCertificateListRequest import DescribeLiveCertificateListRequest
from aliyunsdklive.request.v20161101.DescribeLiveDomainCertificateInfoRequest import (
    DescribeLiveDomainCertificateInfoRequest,
)
from aliyunsdklive.request.v20161101.SetLiveDomainCertificateRequest import SetLiveDomainCertificateRequest

import sdkcommon
from sdkcommon import Unexpected, check_error, expect, expect_eq

REGION = "cn-shanghai"


def client(args, secret):
    acs = AcsClient(args.access_key_id, secret, REGION)
    acs.add_endpoint(REGION, "live", args.endpoint)
    return acs


def call(acs, request):
    """Sends a request over plain HTTP; returns the parsed JSON body."""
    request.set_protocol_type("http")
    raw = acs.do_action_with_exception(request)
    body = json.loads(raw)
    expect(isinstance(body, dict) and "Code" not in body, f"a success body must be an object without Code: {raw!r}")
    return body


def expect_error(name, acs, request, want=None):
    try:
        call(acs, request)
    except ServerException as e:
        check_error(name, e.get_error_code(), e.get_http_status(), want)
        return {
            "Code": e.get_error_code(),
            "HttpStatus": e.get_http_status(),
            "RequestId": e.get_request_id(),
            "Message": e.get_error_msg(),
        }
    raise Unexpected(f"{name}: the call succeeded; an error was expected")


def set_request(args, protocol):
    req = SetLiveDomainCertificateRequest()
    req.set_DomainName(args.domain)
    req.set_SSLProtocol(protocol)
    req.set_CertType("upload")
    req.set_CertName(args.cert_name)
    req.set_SSLPub(args.ssl_pub)
    req.set_SSLPri(args.ssl_pri)
    return req


def info_request(domain):
    req = DescribeLiveDomainCertificateInfoRequest()
    req.set_DomainName(domain)
    return req


def detail_request(cert_name):
    req = DescribeLiveCertificateDetailRequest()
    req.set_CertName(cert_name)
    return req


def scenario(args):
    acs = client(args, args.access_key_secret)
    out = {"sdk": "aliyun-python-sdk-core 2.16.1 + aliyun-python-sdk-live 3.9.75", "scheme": "HMAC-SHA1"}

    req = AddLiveDomainRequest()
    req.set_DomainName(args.domain)
    req.set_LiveDomainType("liveVideo")
    req.set_Region(REGION)
    out["add_domain"] = call(acs, req)
    expect(out["add_domain"].get("RequestId"), "AddLiveDomain: no RequestId")

    out["set_certificate"] = call(acs, set_request(args, "on"))
    expect(out["set_certificate"].get("RequestId"), "SetLiveDomainCertificate: no RequestId")

    body = call(acs, info_request(args.domain))
    infos = body.get("CertInfos", {}).get("CertInfo", [])
    expect_eq("number of CertInfo entries", len(infos), 1)
    sdkcommon.check_cert_info(infos[0], args)
    out["cert_info"] = infos[0]

    body = call(acs, DescribeLiveCertificateListRequest())
    model = body.get("CertificateListModel", {})
    certs = model.get("CertList", {}).get("Cert", [])
    expect_eq("CertificateListModel.Count", model.get("Count"), len(certs))
    listed = sdkcommon.check_cert_list(certs, args)
    req = DescribeLiveCertificateListRequest()
    req.set_DomainName(args.domain)
    by_domain = call(acs, req)["CertificateListModel"]["CertList"]["Cert"]
    expect_eq("CertList filtered by DomainName", [c.get("CertName") for c in by_domain], [args.cert_name])
    out["cert_list"] = {"Count": model.get("Count"), "Cert": certs}

    detail = call(acs, detail_request(args.cert_name))
    sdkcommon.check_cert_detail(detail, listed, args)
    out["cert_detail"] = detail

    errors = {}
    errors["set_bogus_ssl_protocol"] = expect_error("set_bogus_ssl_protocol", acs, set_request(args, "bogus"))
    errors["info_unknown_domain"] = expect_error("info_unknown_domain", acs, info_request(args.missing_domain))
    errors["detail_unknown_cert_name"] = expect_error(
        "detail_unknown_cert_name", acs, detail_request(args.cert_name + "-missing")
    )
    # aliyun-python-sdk-core takes the text after the first ':' of a SignatureDoesNotMatch message and,
    # when it equals its own string to sign, reports InvalidAccessKeySecret instead: that code proves
    # livecert's message format (protocol.md §6) and that both sides built the same string to sign.
    errors["wrong_secret"] = expect_error(
        "wrong_secret",
        client(args, args.access_key_secret + "-wrong"),
        info_request(args.domain),
        want=("InvalidAccessKeySecret", 400),
    )
    out["errors"] = errors
    return out


if __name__ == "__main__":
    sdkcommon.run(scenario, __doc__)
