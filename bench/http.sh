#!/usr/bin/env bash
# Pages of storefront against their ceiling. For each page, storefront's
# answer is captured; a bare actix-web server (examples/bare_json) then
# answers those very bytes, and wrk measures both in the same run. The ratio
# of requests per second is the number that means something; absolute
# numbers move with the machine.
#
#   bench/http.sh [SECONDS_PER_RUN] [INSTANCES] [PAGE...]
#
# Each page is measured ROUNDS times (default 3), storefront and its ceiling
# in turn, and the table shows the medians: on a shared machine one run of
# either can be off by a fifth. SECONDS_PER_RUN defaults to 10. INSTANCES is actors.<kind>.instances for
# every kind (0, the default, is one per core). PAGEs default to the health
# check, one product, a product answered 304, a category page, the same
# compressed, and a search. A PAGE may start with `compressed:` (asked with
# `Accept-Encoding: gzip, br`; the ceiling answers the same compressed
# bytes with the same Content-Encoding) or `unchanged:` (asked with the
# page's ETag in If-None-Match; the ceiling answers a bodiless 304).
# storefront runs in its
# default configuration (info logs, to a file) on a seeded SQLite catalogue;
# set STOREFRONT__DATABASE__URL to a postgres:// URL to measure PostgreSQL
# (the database must exist and may be emptied), and BENCH_PRODUCTS to seed
# more products. Last, /products/1 is measured alone and with POLLERS
# (default 100; 0 skips it) operator's pages polling /admin/overview.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
seconds="${1:-10}"
instances="${2:-0}"
shift $(($# > 2 ? 2 : $#))
pages=("$@")
if [[ ${#pages[@]} -eq 0 ]]; then
    pages=(/healthz /products/1 unchanged:/products/1 "/products?category=dresses&sort=price&limit=20"
        "compressed:/products?category=dresses&sort=price&limit=20" "/products?q=linen%20dress")
fi
command -v wrk >/dev/null || { echo "needs wrk: apt-get install -y wrk" >&2; exit 1; }

cargo build --release --quiet --bin storefront --example bare_json
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

for name in $(compgen -e | grep '^STOREFRONT__' | grep -v '^STOREFRONT__DATABASE__URL$' || true); do
    unset "$name"
done
export STOREFRONT__DATA_DIR="$work"
export STOREFRONT__DATABASE__URL="${STOREFRONT__DATABASE__URL:-sqlite://$work/storefront.db}"
export STOREFRONT__MAIL__OUTBOX_DIR="$work/outbox"
export STOREFRONT__SERVER__PORT=18480
export STOREFRONT__AUTH__ADMIN_EMAILS=bench-admin@example.com
for kind in otp user mailer product; do
    export "STOREFRONT__ACTORS__${kind^^}__INSTANCES=$instances"
done
seed_args=(seed)
if [[ -n "${BENCH_PRODUCTS:-}" ]]; then seed_args+=(--products "$BENCH_PRODUCTS"); fi
(cd "$work" && "$root/target/release/storefront" "${seed_args[@]}" >/dev/null)
(cd "$work" && exec "$root/target/release/storefront" >"$work/storefront.log" 2>&1) &
server=$!
for _ in $(seq 200); do
    curl -sf -o /dev/null http://127.0.0.1:18480/healthz && break
    sleep 0.1
done

# wrk prints "Requests/sec: N" and, with --latency, "99% Xms|us|s". A
# second argument is a header line every request sends, a third a wrk
# script.
measure() {
    local options=()
    if [[ -n "${2:-}" ]]; then options+=(-H "$2"); fi
    if [[ -n "${3:-}" ]]; then options+=(-s "$3"); fi
    wrk -t2 -c64 -d"${seconds}s" --latency "${options[@]}" "$1" | awk '
        /Requests\/sec/ { rps = $2 }
        $1 == "99%" {
            v = $2
            if (v ~ /us$/) { sub("us", "", v); v /= 1000 }
            else if (v ~ /ms$/) { sub("ms", "", v) }
            else if (v ~ /s$/) { sub("s", "", v); v *= 1000 }
            p99 = v
        }
        END { print rps, p99 }'
}

rounds="${ROUNDS:-3}"
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

printf 'instances per kind: %s (0 = one per core; %s cores), median of %s rounds\n\n' "$instances" "$(nproc)" "$rounds"
printf '| page | bytes | storefront req/s | ceiling req/s | ratio | p99 ms | ceiling p99 ms |\n'
printf '|---|---|---|---|---|---|---|\n'
for spec in "${pages[@]}"; do
    page="${spec#*:}"
    [[ "$spec" == /* ]] && page="$spec"
    url="http://127.0.0.1:18480$page"
    sent=""
    ceiling=(200)
    case "$spec" in
        compressed:*)
            sent="Accept-Encoding: gzip, br"
            curl -sf -D "$work/head" -H "$sent" "$url" >"$work/body"
            encoding=$(tr -d '\r' <"$work/head" | awk -F': ' 'tolower($1) == "content-encoding" { print $2 }')
            [[ -n "$encoding" ]] || { echo "$page was not compressed" >&2; exit 1; }
            ceiling=(200 "content-encoding: $encoding")
            ;;
        unchanged:*)
            tag=$(curl -sf -D - -o /dev/null "$url" | tr -d '\r' | awk -F': ' 'tolower($1) == "etag" { print $2 }')
            sent="If-None-Match: $tag"
            : >"$work/body"
            status=$(curl -s -o "$work/body" -w '%{http_code}' -H "$sent" "$url")
            [[ "$status" == 304 ]] || { echo "$page with its ETag answered $status, not 304" >&2; exit 1; }
            ceiling=(304 "etag: $tag")
            ;;
        /*) curl -sf "$url" >"$work/body" ;;
        *) echo "unknown page $spec" >&2; exit 1 ;;
    esac
    bytes=$(wc -c <"$work/body")
    target/release/examples/bare_json 18490 "$work/body" "${ceiling[@]}" &
    bare=$!
    for _ in $(seq 100); do
        curl -sf -o /dev/null http://127.0.0.1:18490/ && break
        sleep 0.1
    done
    : >"$work/rounds"
    for _ in $(seq "$rounds"); do
        read -r rps p99 < <(measure "$url" "$sent")
        read -r bare_rps bare_p99 < <(measure "http://127.0.0.1:18490$page" "$sent")
        echo "$rps $p99 $bare_rps $bare_p99" >>"$work/rounds"
    done
    kill "$bare"
    wait "$bare" 2>/dev/null || true
    column() { awk -v c="$1" '{ print $c }' "$work/rounds" | median; }
    ratio=$(awk '{ print $1 / $3 }' "$work/rounds" | median)
    awk -v page="$spec" -v bytes="$bytes" -v r="$(column 1)" -v br="$(column 3)" -v ratio="$ratio" \
        -v p="$(column 2)" -v bp="$(column 4)" \
        'BEGIN { printf "| `%s` | %d | %.0f | %.0f | %.2f | %.2f | %.2f |\n", page, bytes, r, br, ratio, p, bp }'
done

# Facets: the same search with and without `facets=true` on a catalogue of
# FACET_PRODUCTS (default 20000; 0 skips it), served by a second node of
# its own; every product matches, so the counts go over all of them. The
# facets of a search are kept until the next catalogue write, so a search
# asked again (another page or order of it too) does not count again;
# "new" rows ask, with each request, a search not asked before (a
# `maxPrice` above every price, picked at random), so that every one
# counts.
facet_products="${FACET_PRODUCTS:-20000}"
if [[ "$facet_products" -gt 0 ]]; then
    mkdir -p "$work/facets"
    (cd "$work/facets" && STOREFRONT__DATA_DIR="$work/facets" STOREFRONT__SERVER__PORT=18481 \
        STOREFRONT__DATABASE__URL="sqlite://$work/facets/storefront.db" STOREFRONT__MAIL__OUTBOX_DIR="$work/facets/outbox" \
        "$root/target/release/storefront" seed --products "$facet_products" >/dev/null)
    (cd "$work/facets" && STOREFRONT__DATA_DIR="$work/facets" STOREFRONT__SERVER__PORT=18481 \
        STOREFRONT__DATABASE__URL="sqlite://$work/facets/storefront.db" STOREFRONT__MAIL__OUTBOX_DIR="$work/facets/outbox" \
        exec "$root/target/release/storefront" >"$work/facets/storefront.log" 2>&1) &
    for _ in $(seq 300); do
        curl -sf -o /dev/null http://127.0.0.1:18481/healthz && break
        sleep 0.1
    done
    printf '\nA search of all %s products, 20 a page, with and without facets\n\n' "$facet_products"
    cat >"$work/new-search.lua" <<'LUA'
request = function()
    return wrk.format(nil, wrk.path .. "&maxPrice=" .. math.random(100000000, 900000000))
end
LUA
    printf '| search | bytes without | bytes with | req/s without | req/s with | ratio | p99 ms with |\n|---|---|---|---|---|---|---|\n'
    for search in "/products?limit=20" "/products?q=dress&limit=20" "new:/products?limit=20" "new:/products?q=dress&limit=20"; do
        script=""
        if [[ "$search" == new:* ]]; then script="$work/new-search.lua"; fi
        plain="http://127.0.0.1:18481${search#new:}"
        faceted="$plain&facets=true"
        : >"$work/faceted"
        for _ in $(seq "$rounds"); do
            read -r without _ < <(measure "$plain" "" "$script")
            read -r with with_p99 < <(measure "$faceted" "" "$script")
            echo "$without $with $with_p99" >>"$work/faceted"
        done
        column() { awk -v c="$1" '{ print $c }' "$work/faceted" | median; }
        ratio=$(awk '{ print $2 / $1 }' "$work/faceted" | median)
        awk -v search="$search" -v b="$(curl -sf "$plain" | wc -c)" -v bf="$(curl -sf "$faceted" | wc -c)" \
            -v r="$(column 1)" -v rf="$(column 2)" -v ratio="$ratio" -v p="$(column 3)" \
            'BEGIN { printf "| `%s` | %d | %d | %.0f | %.0f | %.2f | %.2f |\n", search, b, bf, r, rf, ratio, p }'
    done
fi

# The operator's page: POLLERS open pages (default 100), each asking for
# /admin/overview once a second (the page asks every 2 s), while wrk
# measures /products/1; against /products/1 alone and, to tell the pages'
# cost from the pollers' own, with as many pollers of /healthz; in turn,
# ROUNDS times. The pollers are one Python process of threads with a
# kept-alive connection each, on the same cores as the server and wrk.
pollers="${POLLERS:-100}"
if [[ "$pollers" -gt 0 ]]; then
    curl -sf -o /dev/null -X POST -H 'content-type: application/json' \
        -d '{"email": "bench-admin@example.com"}' http://127.0.0.1:18480/auth/otp
    code=""
    for _ in $(seq 100); do
        code=$(grep -rhoE 'sign-in code is [0-9]{6}' "$work/outbox" 2>/dev/null | tail -n1 | grep -oE '[0-9]{6}' || true)
        [[ -n "$code" ]] && break
        sleep 0.1
    done
    token=$(curl -sf -X POST -H 'content-type: application/json' \
        -d "{\"email\": \"bench-admin@example.com\", \"otp\": \"$code\"}" \
        http://127.0.0.1:18480/auth/otp/verify | sed -E 's/.*"token":"([^"]+)".*/\1/')
    [[ "$token" =~ ^[A-Za-z0-9._-]+$ ]] || { echo "the bench admin could not sign in" >&2; exit 1; }
    # The pollers read the token from their environment, not argv (ps shows argv).
    export BENCH_TOKEN="$token"
    cat >"$work/pollers.py" <<'PY'
import http.client, os, sys, threading, time
count, path = int(sys.argv[1]), sys.argv[2]
token = os.environ["BENCH_TOKEN"]
def page(offset):
    time.sleep(offset)
    connection = http.client.HTTPConnection("127.0.0.1", 18480)
    while True:
        started = time.monotonic()
        connection.request("GET", path, headers={"Cookie": "access_token=" + token})
        response = connection.getresponse()
        response.read()
        assert response.status == 200, response.status
        time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))
for index in range(count):
    threading.Thread(target=page, args=(index / count,), daemon=True).start()
threading.Event().wait()
PY
    : >"$work/polled"
    for _ in $(seq "$rounds"); do
        read -r alone alone_p99 < <(measure http://127.0.0.1:18480/products/1)
        for path in /admin/overview /healthz; do
            python3 "$work/pollers.py" "$pollers" "$path" &
            poller=$!
            sleep 2
            read -r polled polled_p99 < <(measure http://127.0.0.1:18480/products/1)
            kill "$poller"
            wait "$poller" 2>/dev/null || true
            printf '%s %s ' "$polled" "$polled_p99" >>"$work/polled"
        done
        echo "$alone $alone_p99" >>"$work/polled"
    done
    column() { awk -v c="$1" '{ print $c }' "$work/polled" | median; }
    # Columns of a round: overview-polled req/s and p99, healthz-polled
    # req/s and p99, alone req/s and p99.
    overview_ratio=$(awk '{ print $1 / $5 }' "$work/polled" | median)
    healthz_ratio=$(awk '{ print $3 / $5 }' "$work/polled" | median)
    overview_bytes=$(curl -sf -b "access_token=$token" http://127.0.0.1:18480/admin/overview | wc -c)
    printf '\n`/products/1` alone and while %s pollers each ask once a second for (overview: %s bytes)\n\n' "$pollers" "$overview_bytes"
    printf '| polled | req/s | ratio to alone | p99 ms |\n|---|---|---|---|\n'
    printf '| nothing | %.0f | 1 | %.2f |\n' "$(column 5)" "$(column 6)"
    printf '| `/admin/overview` | %.0f | %.2f | %.2f |\n' "$(column 1)" "$overview_ratio" "$(column 2)"
    printf '| `/healthz` | %.0f | %.2f | %.2f |\n' "$(column 3)" "$healthz_ratio" "$(column 4)"

    # What the pages cost the node itself, free of the pollers' and wrk's
    # share of the cores: the server's own CPU time (utime + stime) over
    # 10 s of polling alone, per second of wall time.
    cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$server/stat"; }
    tick=$(getconf CLK_TCK)
    printf '
The server'"'"'s own CPU time while %s pollers ask once a second, nothing else running

' "$pollers"
    printf '| polled | server CPU ms per second | share of one core |\n|---|---|---|\n'
    for path in nothing /admin/overview /auth/me /healthz; do
        poller=""
        if [[ "$path" != nothing ]]; then
            python3 "$work/pollers.py" "$pollers" "$path" &
            poller=$!
            sleep 2
        fi
        before=$(cpu_ticks)
        sleep 10
        after=$(cpu_ticks)
        if [[ -n "$poller" ]]; then
            kill "$poller"
            wait "$poller" 2>/dev/null || true
        fi
        awk -v path="$path" -v ticks=$((after - before)) -v tick="$tick" \
            'BEGIN { ms = ticks * 1000 / tick / 10; printf "| `%s` | %.1f | %.1f %% |\n", path, ms, ms / 10 }'
    done
fi

awk -v products="${BENCH_PRODUCTS:-288}" '/^VmRSS/ { printf "\nstorefront resident memory after the runs: %.0f MB (%d products)\n", $2 / 1024, products }' "/proc/$server/status"
