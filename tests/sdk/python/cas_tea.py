#!/usr/bin/env python3
"""The certificate service through the official alibabacloud-cas20200407 3.9.4 (ACS3-HMAC-SHA256 by
default, every parameter in the query), bound through alibabacloud-live20161101 3.0.2, and STS
GetCallerIdentity through alibabacloud-sts20150401 1.2.0, all against one livecert listener.

Usage: cas_tea.py --endpoint 127.0.0.1:PORT --cert CHAIN.pem --key KEY.pem --domain D1 --domain D2
       [--signature-algorithm v2]
with ALIBABA_CLOUD_ACCESS_KEY_ID / ALIBABA_CLOUD_ACCESS_KEY_SECRET in the environment. Both domains
exist and are covered by the certificate. Prints one JSON object of what it saw on stdout; exits 1
on any unexpected outcome.
"""

import argparse
import json
import os
import sys

from alibabacloud_cas20200407 import models as cas_models
from alibabacloud_cas20200407.client import Client as CasClient
from alibabacloud_live20161101 import models as live_models
from alibabacloud_live20161101.client import Client as LiveClient
from alibabacloud_sts20150401.client import Client as StsClient
from alibabacloud_tea_openapi.client import Client as OpenApiClient
from alibabacloud_tea_openapi.exceptions import AlibabaCloudException
from alibabacloud_tea_openapi.utils_models import Config, OpenApiRequest, Params
from alibabacloud_tea_util.models import RuntimeOptions


def config(endpoint, signature_algorithm):
    c = Config(
        access_key_id=os.environ["ALIBABA_CLOUD_ACCESS_KEY_ID"],
        access_key_secret=os.environ["ALIBABA_CLOUD_ACCESS_KEY_SECRET"],
        endpoint=endpoint,
        protocol="http",
        region_id="cn-hangzhou",
    )
    if signature_algorithm:
        c.signature_algorithm = signature_algorithm
    return c


def refused(call):
    """The Code and HTTP status of a call that must fail."""
    try:
        call()
    except AlibabaCloudException as e:
        return {"Code": e.code, "HttpStatus": e.status_code, "Message": e.message}
    print("a call that must be refused succeeded", file=sys.stderr)
    sys.exit(1)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--domain", action="append", required=True)
    parser.add_argument("--signature-algorithm", default=None)
    args = parser.parse_args()
    cas = CasClient(config(args.endpoint, args.signature_algorithm))
    live = LiveClient(config(args.endpoint, args.signature_algorithm))
    sts = StsClient(config(args.endpoint, args.signature_algorithm))
    cert, key = open(args.cert).read(), open(args.key).read()
    out = {}

    up = cas.upload_user_certificate(
        cas_models.UploadUserCertificateRequest(name="sdk-cas", cert=cert, key=key)
    ).body
    out["upload"] = up.to_map()
    cert_id = up.cert_id
    if not isinstance(cert_id, int):
        print(f"CertId is not an integer: {cert_id!r}", file=sys.stderr)
        sys.exit(1)
    out["taken"] = refused(
        lambda: cas.upload_user_certificate(
            cas_models.UploadUserCertificateRequest(name="sdk-cas", cert=cert, key=key)
        )
    )
    out["detail"] = cas.get_user_certificate_detail(
        cas_models.GetUserCertificateDetailRequest(cert_id=cert_id)
    ).body.to_map()
    out["filtered"] = cas.get_user_certificate_detail(
        cas_models.GetUserCertificateDetailRequest(cert_id=cert_id, cert_filter=True)
    ).body.to_map()
    listing = cas.list_user_certificate_order(
        cas_models.ListUserCertificateOrderRequest(order_type="UPLOAD", show_size=100)
    ).body
    out["list"] = listing.to_map()
    page = cas.list_user_certificate_order(
        cas_models.ListUserCertificateOrderRequest(
            order_type="CERT", show_size=1, current_page=2
        )
    ).body
    out["page2"] = page.to_map()

    first, second = args.domain[0], args.domain[1]
    # The Live SDK's model has no CertId: bind by CertId with the generic call, as certd's
    # deploy-to-live plugin does through @alicloud/openapi-client (ACS3, parameters in the query).
    OpenApiClient(config(args.endpoint, args.signature_algorithm)).call_api(
        Params(
            action="SetLiveDomainCertificate",
            version="2016-11-01",
            protocol="HTTPS",
            pathname="/",
            method="POST",
            auth_type="AK",
            style="RPC",
            req_body_type="formData",
            body_type="json",
        ),
        OpenApiRequest(
            query={
                "DomainName": first,
                "CertName": "sdk-cas",
                "CertType": "cas",
                "SSLProtocol": "on",
                "CertId": str(cert_id),
            }
        ),
        RuntimeOptions(),
    )
    live.set_live_domain_certificate(
        live_models.SetLiveDomainCertificateRequest(
            domain_name=second, sslprotocol="on", cert_type="cas", cert_name="sdk-cas"
        )
    )
    out["served"] = [
        live.describe_live_domain_certificate_info(
            live_models.DescribeLiveDomainCertificateInfoRequest(domain_name=d)
        ).body.cert_infos.cert_info[0].cert_name
        for d in (first, second)
    ]
    out["delete_bound"] = refused(
        lambda: cas.delete_user_certificate(
            cas_models.DeleteUserCertificateRequest(cert_id=cert_id)
        )
    )
    for d in (first, second):
        live.set_live_domain_certificate(
            live_models.SetLiveDomainCertificateRequest(domain_name=d, sslprotocol="off")
        )
    out["deleted"] = cas.delete_user_certificate(
        cas_models.DeleteUserCertificateRequest(cert_id=cert_id)
    ).body.to_map()
    out["gone"] = refused(
        lambda: cas.get_user_certificate_detail(
            cas_models.GetUserCertificateDetailRequest(cert_id=cert_id)
        )
    )
    out["bad_show_size"] = refused(
        lambda: cas.list_user_certificate_order(
            cas_models.ListUserCertificateOrderRequest(order_type="UPLOAD", show_size=0)
        )
    )
    out["caller"] = sts.get_caller_identity().body.to_map()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
