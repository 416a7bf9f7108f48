#!/bin/sh
# The HTTPS edge benchmark of docs/benchmarks.md: livecert edge and nginx side by side, RSA-2048 and
# P-256, at 1 and 10,000 domains (and 100,000 with BENCH_EDGE_LARGE=1). Needs nginx
# (apt-get install -y nginx) and openssl. Prints one table per run.
set -eu
cd "$(dirname "$0")/.."
seconds=${BENCH_EDGE_SECONDS:-10}
sizes="1 10000"
[ "${BENCH_EDGE_LARGE:-0}" = 1 ] && sizes="$sizes 100000"
cargo bench -p livecert --bench edge --no-run
for n in $sizes; do
  for key in rsa2048 p256; do
    echo "== $(date -u +%FT%TZ) domains=$n key=$key load: $(cut -d' ' -f1-3 /proc/loadavg)"
    cargo bench -p livecert --bench edge -- --domains "$n" --key "$key" --seconds "$seconds" --changes 200 --nginx
  done
done
