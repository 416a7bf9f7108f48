#!/usr/bin/env python3
"""Temporary credentials through alibabacloud-live20161101 3.0.2 with its defaults (ACS3-HMAC-SHA256):
the SDK sends the SecurityToken as x-acs-security-token.

Usage: sts_tea.py --endpoint 127.0.0.1:PORT --domain D
with ALIBABA_CLOUD_ACCESS_KEY_ID / ALIBABA_CLOUD_ACCESS_KEY_SECRET / ALIBABA_CLOUD_SECURITY_TOKEN (valid
credentials) and EXPIRED_ACCESS_KEY_ID / EXPIRED_ACCESS_KEY_SECRET / EXPIRED_SECURITY_TOKEN (expired ones)
in the environment. Prints one JSON object on stdout; exits 1 on any unexpected outcome.
"""

import argparse
import json
import os
import sys

from alibabacloud_live20161101 import models
from alibabacloud_live20161101.client import Client
from alibabacloud_tea_openapi.exceptions import AlibabaCloudException
from alibabacloud_tea_openapi.utils_models import Config


def client(endpoint, prefix):
    return Client(
        Config(
            access_key_id=os.environ[f"{prefix}ACCESS_KEY_ID"],
            access_key_secret=os.environ[f"{prefix}ACCESS_KEY_SECRET"],
            security_token=os.environ[f"{prefix}SECURITY_TOKEN"],
            endpoint=endpoint,
            protocol="http",
            region_id="cn-shanghai",
        )
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--domain", required=True)
    args = parser.parse_args()
    out = {}
    live = client(args.endpoint, "ALIBABA_CLOUD_")
    resp = live.describe_live_domain_certificate_info(
        models.DescribeLiveDomainCertificateInfoRequest(domain_name=args.domain)
    )
    out["valid"] = resp.body.cert_infos.cert_info[0].to_map()
    try:
        client(args.endpoint, "EXPIRED_").describe_live_domain_certificate_info(
            models.DescribeLiveDomainCertificateInfoRequest(domain_name=args.domain)
        )
    except AlibabaCloudException as e:
        out["expired"] = {"Code": e.code, "HttpStatus": e.status_code}
    else:
        print("expired credentials were accepted", file=sys.stderr)
        sys.exit(1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
