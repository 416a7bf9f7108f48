#!/usr/bin/env bash
# The tools people deploy with, unchanged, on the official hostnames (issue 12): aliyun-cert 0.1.4
# (PyPI) with certbot, and certd's AliyunSslClient (@certd/plugin-lib 1.37.1, npm). They call
# https://live.aliyuncs.com and https://cas.aliyuncs.com and cannot be told otherwise.
#
# Inside a private mount + network namespace made here (unshare --mount --net: loopback up, a hosts
# file bind-mounted over /etc/hosts; the machine's /etc/hosts is never touched), a real
# `livecert serve --official-hostnames` listens on 127.0.0.1:443. Its CA is trusted through
# SSL_CERT_FILE, as the Tea runtime reads it. Then aliyun-cert:
#   - uploads a certificate through CAS and binds it through Live (upload-cert, set-cert);
#   - as certbot's deploy hook with a renewed certificate (certbot-deploy-hook --live
#     --delete-old-cert): uploads it, rebinds the domain by CertName and deletes the old record;
#   - lists and reads the library (list-certs, get-cert).
# The edge serves the renewed leaf. Then certbot (the version aliyun-cert pins), with aliyun-cert as
# its deploy hook, gets a certificate from Debian's pebble: pebble-challtestsrv is its DNS, and the
# HTTP-01 challenge is answered by livecert's own plain-HTTP edge on 127.0.0.1:80 from certbot's
# webroot. The hook uploads it and binds it, and the edge serves pebble's leaf. A forced renewal
# rotates it again. Last, certd's AliyunSslClient uploads through CAS (NODE_EXTRA_CA_CERTS trusts
# the CA), and the CertId it gets is bound through @alicloud/openapi-client as certd's
# deploy-to-live plugin does; the edge serves it, and a delete while bound is refused.
#
# Usage: tests/e2e/tools.sh <livecert binary> <aliyun-cert executable> <node_modules with
# @certd/plugin-lib> (certbot beside aliyun-cert). Run by ./scripts/test
# (as root, or where unprivileged user namespaces are allowed).
set -euo pipefail

usage="usage: tests/e2e/tools.sh <livecert binary> <aliyun-cert> <node_modules>"
bin=$(realpath "${1:?$usage}")
ac=$(realpath "${2:?$usage}")
modules=$(realpath "${3:?$usage}")
scripts=$(cd "$(dirname "${BASH_SOURCE[0]}")/../sdk/node" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [[ $(id -u) -eq 0 ]]; then
    ns=(unshare --mount --net)
else
    ns=(unshare --map-root-user --mount --net)
fi

cat >"$work/inside.sh" <<'INSIDE'
set -euo pipefail
work=$1; bin=$2; ac=$3; modules=$4; scripts=$5
ip link set lo up
printf '127.0.0.1 localhost\n127.0.0.1 live.aliyuncs.com cas.aliyuncs.com sts.aliyuncs.com\n' >"$work/hosts"
mount --bind "$work/hosts" /etc/hosts
mkdir -p "$work/webroot"
"$bin" serve --official-hostnames --listen 127.0.0.1:443 --edge-listen 127.0.0.1:8443 \
    --edge-http-listen 127.0.0.1:80 --acme-webroot "$work/webroot" \
    --data-dir "$work/data" >"$work/serve.out" 2>"$work/serve.err" &
pid=$!
# pebble: its ACME endpoint's own certificate (trusted by certbot through REQUESTS_CA_BUNDLE), its
# DNS (pebble-challtestsrv: every name is 127.0.0.1), HTTP-01 validated on port 80.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=pebble \
    -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" -keyout "$work/pebble-key.pem" \
    -out "$work/pebble.pem" 2>/dev/null
cat >"$work/pebble.json" <<JSON
{"pebble": {"listenAddress": "127.0.0.1:14000", "managementListenAddress": "127.0.0.1:15000",
  "certificate": "$work/pebble.pem", "privateKey": "$work/pebble-key.pem",
  "httpPort": 80, "tlsPort": 443, "ocspResponderURL": "", "externalAccountBindingRequired": false}}
JSON
pebble-challtestsrv -defaultIPv4 127.0.0.1 -defaultIPv6 "" -dns01 127.0.0.1:8053 -http01 "" \
    -https01 "" -tlsalpn01 "" -management 127.0.0.1:8055 >"$work/challtestsrv.log" 2>&1 &
dns=$!
PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 pebble -config "$work/pebble.json" \
    -dnsserver 127.0.0.1:8053 >"$work/pebble.log" 2>&1 &
acme=$!
trap 'kill $pid $dns $acme 2>/dev/null; wait $pid $dns $acme 2>/dev/null || true' EXIT
for _ in $(seq 200); do
    curl -fsS --cacert "$work/data/test-ca.pem" https://live.aliyuncs.com/healthz >/dev/null 2>&1 && break
    sleep 0.05
done
bundle=/etc/ssl/certs/ca-certificates.crt
cat $([[ -f $bundle ]] && echo "$bundle") "$work/data/test-ca.pem" >"$work/bundle.pem"
export SSL_CERT_FILE="$work/bundle.pem"
set -a; . "$work/data/credentials"; set +a
export ALIYUN_ACCESS_KEY_ID=$ALIBABA_CLOUD_ACCESS_KEY_ID ALIYUN_ACCESS_KEY_SECRET=$ALIBABA_CLOUD_ACCESS_KEY_SECRET

passed=0; failed=0
check() { # check <what> <command…>
    local what=$1; shift
    if "$@"; then echo "ok: $what"; passed=$((passed + 1)); else echo "FAILED: $what" >&2; failed=$((failed + 1)); fi
}
call() { "$bin" call "$@" --endpoint https://live.aliyuncs.com --cacert "$work/data/test-ca.pem" \
    --credentials "$work/data/credentials"; }
cert() { mkdir -p "$work/$1"; openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 90 \
    -subj /CN=stream.example.com -addext subjectAltName=DNS:stream.example.com \
    -keyout "$work/$1/privkey.pem" -out "$work/$1/fullchain.pem" 2>/dev/null; }
bound_name() { call DescribeLiveDomainCertificateInfo --DomainName stream.example.com |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["CertInfos"]["CertInfo"][0]["CertName"])'; }
served() { openssl s_client -connect 127.0.0.1:8443 -servername stream.example.com </dev/null 2>/dev/null |
    openssl x509 -noout -fingerprint -sha256 2>/dev/null | cut -d= -f2; }
fingerprint() { openssl x509 -noout -fingerprint -sha256 -in "$1" | cut -d= -f2; }

call AddLiveDomain --DomainName stream.example.com --LiveDomainType liveVideo --Region cn-shanghai >/dev/null
cert first; cert renewed
first_id=$("$ac" upload-cert "$work/first/fullchain.pem" "$work/first/privkey.pem" --domain stream.example.com |
    grep -o 'cert [0-9]*' | grep -o '[0-9]*' || true)
check "upload-cert goes through CAS on cas.aliyuncs.com (CertId $first_id)" test -n "$first_id"
check "set-cert binds it through Live on live.aliyuncs.com" \
    "$ac" set-cert --cert-id "$first_id" --domain stream.example.com --service live
first_name=$(bound_name)
check "the domain serves the first upload ($first_name)" test "${first_name#stream_example_com_}" != "$first_name"
sleep 1 # aliyun-cert names its uploads by the second
check "certbot-deploy-hook uploads the renewal, rebinds and deletes the old record" \
    env RENEWED_LINEAGE="$work/renewed" RENEWED_DOMAINS=stream.example.com \
    "$ac" certbot-deploy-hook --live --delete-old-cert
renewed_name=$(bound_name)
check "the domain is bound to the renewal ($renewed_name)" test "$renewed_name" != "$first_name"
check "list-certs shows the renewal" sh -c "\"$ac\" list-certs | grep -q \"$renewed_name\""
check "the old record is gone (get-cert fails)" sh -c "! \"$ac\" get-cert --cert-id $first_id >/dev/null 2>&1"
want=$(fingerprint "$work/renewed/fullchain.pem")
got=
for _ in $(seq 40); do got=$(served); [[ $got == "$want" ]] && break; sleep 0.05; done
check "the edge serves the renewed leaf" test "$got" = "$want"

# certbot from pebble, with aliyun-cert as its deploy hook.
for _ in $(seq 100); do curl -fsS --cacert "$work/pebble.pem" https://127.0.0.1:14000/dir >/dev/null 2>&1 && break; sleep 0.1; done
certbot() { REQUESTS_CA_BUNDLE="$work/pebble.pem" timeout 180 "$(dirname "$ac")/certbot" "$@" \
    --config-dir "$work/le/config" --work-dir "$work/le/work" --logs-dir "$work/le/logs" \
    --server https://127.0.0.1:14000/dir --non-interactive --agree-tos \
    --register-unsafely-without-email; }
hook="$ac certbot-deploy-hook --live --delete-old-cert"
lineage="$work/le/config/live/stream.example.com"
check "certbot gets a certificate from pebble by HTTP-01 through livecert's edge" \
    certbot certonly --webroot -w "$work/webroot" -d stream.example.com --deploy-hook "$hook"
issued=$(fingerprint "$lineage/cert.pem")
got=
for _ in $(seq 40); do got=$(served); [[ $got == "$issued" ]] && break; sleep 0.05; done
check "the deploy hook bound pebble's certificate and the edge serves it" test "$got" = "$issued"
check "a forced renewal runs the hook again" certbot renew --force-renewal --no-random-sleep-on-renew --deploy-hook "$hook"
renewed=$(fingerprint "$lineage/cert.pem")
got=
for _ in $(seq 40); do got=$(served); [[ $got == "$renewed" ]] && break; sleep 0.05; done
check "the edge serves the renewed pebble leaf" test "$got" = "$renewed" -a "$renewed" != "$issued"
check "only the renewal is left in the library" \
    sh -c "test \"\$(\"$ac\" list-certs | grep -c 'stream_example_com_')\" = 1"

# certd's AliyunSslClient, unchanged, then the binding as certd's deploy-to-live plugin makes it.
call AddLiveDomain --DomainName certd.example.com --LiveDomainType liveVideo --Region cn-shanghai >/dev/null
mkdir -p "$work/certd"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 90 -subj /CN=certd.example.com \
    -addext subjectAltName=DNS:certd.example.com -keyout "$work/certd/key.pem" -out "$work/certd/chain.pem" 2>/dev/null
certd_out=$(cd "$(dirname "$modules")" && NODE_PATH="$modules" NODE_EXTRA_CA_CERTS="$work/data/test-ca.pem" \
    timeout 120 node "$scripts/certd.mjs" --domain certd.example.com --name certd-demo \
    --cert "$work/certd/chain.pem" --key "$work/certd/key.pem" 2>"$work/certd.err" | tail -1) || true
certd_field() { python3 -c "import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2]))" "$certd_out" "$1" 2>/dev/null; }
check "certd's AliyunSslClient uploads through CAS and reads the detail" \
    test "$(certd_field 'd["info"]["certName"]')" = certd-demo
check "its CertIdentifier is <CertId>-cn-hangzhou" \
    test "$(certd_field 'd["info"]["certIdentifier"]')" = "$(certd_field 'd["certId"]')-cn-hangzhou"
served_certd() { openssl s_client -connect 127.0.0.1:8443 -servername certd.example.com </dev/null 2>/dev/null |
    openssl x509 -noout -fingerprint -sha256 2>/dev/null | cut -d= -f2; }
want=$(fingerprint "$work/certd/chain.pem"); got=
for _ in $(seq 40); do got=$(served_certd); [[ $got == "$want" ]] && break; sleep 0.05; done
check "bound through @alicloud/openapi-client by CertId, the edge serves it" test "$got" = "$want"
check "certd's deleteCert of the bound record is refused" \
    sh -c "echo '$(certd_field 'd["deleteWhileBound"]')' | grep -q 'certd.example.com'"
[[ -s $work/certd.err ]] && { echo "--- certd.mjs stderr"; tail -5 "$work/certd.err"; }
echo "tools-e2e: $passed passed, $failed failed"
if ((failed)); then echo "--- serve.err"; tail -20 "$work/serve.err"; exit 1; fi
INSIDE

"${ns[@]}" bash "$work/inside.sh" "$work" "$bin" "$ac" "$modules" "$scripts"
