#!/usr/bin/env bash
# End-to-end check of the HTTPS edge with independent TLS clients (issue "The HTTPS edge"):
# a real `livecert serve` on 127.0.0.1, a certificate set through `livecert call`, then
#   - curl --resolve … --cacert … verifies the served certificate (the edge answers 502: no origin),
#   - openssl s_client with an unknown SNI gets no certificate (a fatal alert),
#   - a rotation through the API is served by the next handshake, without a restart.
# Usage: tests/e2e/edge.sh <path to the livecert binary>. Run by ./scripts/test after cargo test.
set -euo pipefail

bin=${1:?usage: tests/e2e/edge.sh <livecert binary>}
work=$(mktemp -d)
pid=
cleanup() { [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
api=$(free_port); edge=$(free_port)
"$bin" serve --listen "127.0.0.1:$api" --edge-listen "127.0.0.1:$edge" --data-dir "$work/data" \
    >"$work/serve.out" 2>"$work/serve.err" &
pid=$!
for _ in $(seq 100); do
    curl -fsS "http://127.0.0.1:$api/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done

call() { "$bin" call "$@" --endpoint "http://127.0.0.1:$api" --credentials "$work/data/credentials" >/dev/null; }
cert() { # cert <name> <cn>
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj "/CN=$2" \
        -addext "subjectAltName=DNS:$2" -keyout "$work/$1.key" -out "$work/$1.pem" 2>/dev/null
}
fingerprint() { openssl x509 -noout -fingerprint -sha256 -in "$1" | cut -d= -f2; }
served() { # served <sni>: the SHA-256 fingerprint of the leaf the edge presents
    openssl s_client -connect "127.0.0.1:$edge" -servername "$1" </dev/null 2>/dev/null |
        openssl x509 -noout -fingerprint -sha256 2>/dev/null | cut -d= -f2
}

passed=0
failed=0
check() { # check <what> <command…>
    local what=$1; shift
    if "$@"; then passed=$((passed + 1)); echo "ok: $what"; else failed=$((failed + 1)); echo "FAILED: $what"; fi
}

call AddLiveDomain --DomainName e2e.example.com --LiveDomainType liveVideo --Region cn-shanghai
cert one e2e.example.com
call SetLiveDomainCertificate --DomainName e2e.example.com --SSLProtocol on --CertName e2e \
    --SSLPub-file "$work/one.pem" --SSLPri-file "$work/one.key"

# The edge in serve is told of the commit by the store, and applies the changed domain.
bound=
for _ in $(seq 20); do
    [[ $(served e2e.example.com) == "$(fingerprint "$work/one.pem")" ]] && { bound=yes; break; }
    sleep 0.1
done
check "openssl s_client sees the bound certificate within 2 s" test "$bound" = yes
status=$(curl -sS -o /dev/null -w '%{http_code}' --resolve "e2e.example.com:$edge:127.0.0.1" \
    --cacert "$work/one.pem" "https://e2e.example.com:$edge/" || true)
check "curl --resolve verifies the bound certificate (502: no origin yet)" test "$status" = 502
check "an unknown SNI gets no certificate" test -z "$(served unknown.example.com)"

cert two e2e.example.com
call SetLiveDomainCertificate --DomainName e2e.example.com --SSLProtocol on --CertName e2e --ForceSet 1 \
    --SSLPub-file "$work/two.pem" --SSLPri-file "$work/two.key"
rotated=
for _ in $(seq 20); do
    [[ $(served e2e.example.com) == "$(fingerprint "$work/two.pem")" ]] && { rotated=yes; break; }
    sleep 0.1
done
check "a rotation is served within 2 s, without a restart" test "$rotated" = yes

call SetLiveDomainCertificate --DomainName e2e.example.com --SSLProtocol off
off=
for _ in $(seq 20); do
    [[ -z $(served e2e.example.com) ]] && { off=yes; break; }
    sleep 0.1
done
check "SSLProtocol=off stops TLS for the domain" test "$off" = yes

echo "edge-e2e: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
