#!/usr/bin/env python3
"""The scenario through alibabacloud-live20161101 3.0.2 (the Tea/Darabonba SDK) with its defaults:
ACS3-HMAC-SHA256 signing, POST with every parameter in the query, protocol http. With
--signature-algorithm v2 the same SDK signs with HMAC-SHA1 (V1) instead
(Config.signature_algorithm='v2', as in the fixtures py-tea-v1-*).

Usage: sdk_tea.py [--signature-algorithm v2] --endpoint 127.0.0.1:PORT --domain D --missing-domain M --cert-name N
           --cert chain.pem --key key.pem --not-after yyyy-MM-ddTHH:mm:ssZ
with ALIBABA_CLOUD_ACCESS_KEY_ID / ALIBABA_CLOUD_ACCESS_KEY_SECRET in the environment.
Prints one JSON object (what it observed) on stdout; exits 1 on any unexpected outcome.
"""

from alibabacloud_live20161101 import models
from alibabacloud_live20161101.client import Client
from alibabacloud_tea_openapi.exceptions import AlibabaCloudException
from alibabacloud_tea_openapi.utils_models import Config

import sdkcommon
from sdkcommon import Unexpected, check_error, expect, expect_eq


def client(args, secret):
    return Client(
        Config(
            access_key_id=args.access_key_id,
            access_key_secret=secret,
            endpoint=args.endpoint,
            protocol="http",
            region_id="cn-shanghai",
            signature_algorithm=args.signature_algorithm,
        )
    )


def expect_error(name, call):
    try:
        call()
    except AlibabaCloudException as e:
        check_error(name, e.code, e.status_code)
        data = e.data or {}
        return {"Code": e.code, "HttpStatus": e.status_code, "RequestId": e.request_id, "Message": data.get("Message")}
    raise Unexpected(f"{name}: the call succeeded; an error was expected")


def scenario(args):
    live = client(args, args.access_key_secret)
    scheme = "HMAC-SHA1" if args.signature_algorithm == "v2" else "ACS3-HMAC-SHA256"
    out = {"sdk": "alibabacloud-live20161101 3.0.2", "scheme": scheme}

    resp = live.add_live_domain(
        models.AddLiveDomainRequest(domain_name=args.domain, live_domain_type="liveVideo", region="cn-shanghai")
    )
    expect(resp.body.request_id, "AddLiveDomain: no RequestId")
    out["add_domain"] = resp.body.to_map()

    resp = live.set_live_domain_certificate(
        models.SetLiveDomainCertificateRequest(
            domain_name=args.domain,
            sslprotocol="on",
            cert_type="upload",
            cert_name=args.cert_name,
            sslpub=args.ssl_pub,
            sslpri=args.ssl_pri,
        )
    )
    expect(resp.body.request_id, "SetLiveDomainCertificate: no RequestId")
    out["set_certificate"] = resp.body.to_map()

    resp = live.describe_live_domain_certificate_info(
        models.DescribeLiveDomainCertificateInfoRequest(domain_name=args.domain)
    )
    infos = resp.body.cert_infos.cert_info if resp.body.cert_infos else None
    expect_eq("number of CertInfo entries", len(infos or []), 1)
    info = infos[0].to_map()
    # The typed model and the wire names agree (to_map re-serialises the typed fields).
    expect_eq("typed CertInfo.cert_expire_time", infos[0].cert_expire_time, args.not_after)
    sdkcommon.check_cert_info(info, args)
    out["cert_info"] = info

    resp = live.describe_live_certificate_list(models.DescribeLiveCertificateListRequest())
    model = resp.body.certificate_list_model
    expect(model is not None, "DescribeLiveCertificateList: no CertificateListModel")
    certs = [c.to_map() for c in (model.cert_list.cert if model.cert_list else [])]
    expect_eq("CertificateListModel.Count", model.count, len(certs))
    listed = sdkcommon.check_cert_list(certs, args)
    resp = live.describe_live_certificate_list(models.DescribeLiveCertificateListRequest(domain_name=args.domain))
    by_domain = [c.to_map() for c in resp.body.certificate_list_model.cert_list.cert]
    expect_eq("CertList filtered by DomainName", [c.get("CertName") for c in by_domain], [args.cert_name])
    out["cert_list"] = {"Count": model.count, "Cert": certs}

    resp = live.describe_live_certificate_detail(models.DescribeLiveCertificateDetailRequest(cert_name=args.cert_name))
    detail = resp.body.to_map()
    sdkcommon.check_cert_detail(detail, listed, args)
    out["cert_detail"] = detail

    errors = {}
    errors["set_bogus_ssl_protocol"] = expect_error(
        "set_bogus_ssl_protocol",
        lambda: live.set_live_domain_certificate(
            models.SetLiveDomainCertificateRequest(
                domain_name=args.domain, sslprotocol="bogus", cert_type="upload",
                cert_name=args.cert_name, sslpub=args.ssl_pub, sslpri=args.ssl_pri,
            )
        ),
    )
    errors["info_unknown_domain"] = expect_error(
        "info_unknown_domain",
        lambda: live.describe_live_domain_certificate_info(
            models.DescribeLiveDomainCertificateInfoRequest(domain_name=args.missing_domain)
        ),
    )
    errors["detail_unknown_cert_name"] = expect_error(
        "detail_unknown_cert_name",
        lambda: live.describe_live_certificate_detail(
            models.DescribeLiveCertificateDetailRequest(cert_name=args.cert_name + "-missing")
        ),
    )
    wrong = client(args, args.access_key_secret + "-wrong")
    errors["wrong_secret"] = expect_error(
        "wrong_secret",
        lambda: wrong.describe_live_domain_certificate_info(
            models.DescribeLiveDomainCertificateInfoRequest(domain_name=args.domain)
        ),
    )
    out["errors"] = errors
    return out


def add_arguments(parser):
    parser.add_argument(
        "--signature-algorithm",
        choices=["v2"],
        default=None,
        help="v2: sign with HMAC-SHA1 (V1); default: the SDK's default, ACS3-HMAC-SHA256",
    )


if __name__ == "__main__":
    sdkcommon.run(scenario, __doc__, add_arguments)
