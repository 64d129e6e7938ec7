#!/usr/bin/env bash
# Catalogue benchmark: requests per second and p99 latency of
#   GET /products/{id}        (served from ProductActor's cache)
#   GET /products?q=...       (full-text search in SQLite)
# against a bare actix-web JSON handler (examples/bare_json.rs) measured in the
# same run, on the seeded demo catalogue. Loopback only; every run is bounded.
#
#   bench/catalogue.sh [seconds per run, default 10]
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-10}"
command -v wrk >/dev/null || { echo "needs wrk: apt-get install -y wrk" >&2; exit 1; }

cargo build --release --quiet --bin storefront --example bare_json
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

export STOREFRONT__DATA_DIR="$work" STOREFRONT__DATABASE__URL="sqlite://$work/storefront.db"
export STOREFRONT__MAIL__OUTBOX_DIR="$work/outbox" STOREFRONT__SERVER__PORT=18480
export STOREFRONT__LOG__LEVEL=warn
target/release/storefront seed >/dev/null
target/release/storefront >/dev/null 2>&1 &
target/release/examples/bare_json 18490 &
for url in http://127.0.0.1:18480/healthz http://127.0.0.1:18490/products/1; do
  for _ in $(seq 100); do curl -sf -o /dev/null "$url" && break; sleep 0.1; done
done

# wrk prints "Requests/sec: N" and, with --latency, "99% Xms|us|s".
measure() {
  local out rps p99
  out=$(wrk -t2 -c32 -d"${duration}s" --latency "$1")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub("us","",v); v/=1000} else if (v ~ /ms$/) {sub("ms","",v)} else if (v ~ /s$/) {sub("s","",v); v*=1000}; print v}' <<<"$out")
  echo "$rps $p99"
}

read -r bare_rps bare_p99 < <(measure http://127.0.0.1:18490/products/1)
read -r cached_rps cached_p99 < <(measure http://127.0.0.1:18480/products/1)
read -r search_rps search_p99 < <(measure "http://127.0.0.1:18480/products?q=linen%20dress&limit=20")

printf '| case | requests/s | p99 ms | throughput vs bare | p99 vs bare |\n|---|---|---|---|---|\n'
row() { awk -v n="$1" -v r="$2" -v p="$3" -v br="$bare_rps" -v bp="$bare_p99" \
  'BEGIN { printf "| %s | %.0f | %.2f | %.2f | %.2f |\n", n, r, p, r / br, p / bp }'; }
row "bare actix-web JSON (baseline)" "$bare_rps" "$bare_p99"
row "GET /products/{id} (cached)" "$cached_rps" "$cached_p99"
row "GET /products?q=linen dress" "$search_rps" "$search_p99"
