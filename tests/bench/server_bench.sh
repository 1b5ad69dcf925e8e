#!/bin/sh
# server_bench.sh AMPD OUT — ampd against nginx on the same static files,
# then ampd's API alone (project reads and saves).
#
# `make bench-server` runs it (never `make test`: no timing is asserted).
# Both servers serve one throwaway folder from 127.0.0.1 with the same
# isolation headers, keep-alive and sendfile, as many worker processes
# (nginx) as ampd has pool threads (one per CPU); wrk from Debian loads them
# with 1, 16, 64 and 128 keep-alive connections for BENCH_SECONDS each and
# reports requests per second and the 50th/99th latency percentiles. The
# table is printed and written to OUT. Client and servers share the
# machine's cores, so the figures compare the two servers, nothing more.
#
# API rows: a second ampd with a fresh --data in --local mode (the local
# user, its CSRF token from GET /api/account; no sign-in, no argon2id)
# holds BENCH_API_PROJECTS copies of tests/projects/demo.json (9.4 KB);
# wrk with tests/bench/api_projects.lua reads them (GET
# /api/projects/{id}) or saves them (PUT with If-Match, the document
# unchanged: a new revision each time, fsynced, synchronous=FULL), with
# 1, 16 and 64 connections. A save always has a project of its own (see
# the script), so none conflicts. The default 4 workers serve both.
set -eu
AMPD=$1
OUT=$2
SECONDS_EACH=${BENCH_SECONDS:-4}
CONNS=${BENCH_CONNS:-"1 16 64 128"}
API_CONNS=${BENCH_API_CONNS:-"1 16 64"}
API_PROJECTS=${BENCH_API_PROJECTS:-128}
THREADS=$(nproc)
HERE=$(cd "$(dirname "$0")" && pwd)
DEMO="$HERE/../projects/demo.json"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ampd-bench-XXXXXX")
chmod 755 "$tmp"
ampd_pid=""
nginx_pid=""
api_pid=""
cleanup() {
    [ -n "$ampd_pid" ] && kill "$ampd_pid" 2>/dev/null && wait "$ampd_pid" 2>/dev/null
    [ -n "$api_pid" ] && kill "$api_pid" 2>/dev/null && wait "$api_pid" 2>/dev/null
    [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null && wait "$nginx_pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# The files: a small page and a 256 KiB asset.
mkdir -p "$tmp/site/assets"
{
    echo '<!doctype html><html><head><title>amplitude</title></head><body>'
    i=0
    while [ $i -lt 20 ]; do echo "<p>bench line $i of the page body</p>"; i=$((i + 1)); done
    echo '</body></html>'
} > "$tmp/site/index.html"
head -c 262144 /dev/zero | tr '\0' 'w' > "$tmp/site/assets/engine-B3nch123.wasm"
chmod -R a+rX "$tmp/site"

# A free port: bind-test is not portable in sh, so ask ampd for one (port 0)
# and take the next free-looking one for nginx.
"$AMPD" --port 0 --root "$tmp/site" --max-connections 1024 --max-per-address 0 \
    > "$tmp/ampd.out" 2> "$tmp/ampd.err" &
ampd_pid=$!
i=0
while ! grep -q 'serving' "$tmp/ampd.out" 2>/dev/null; do
    i=$((i + 1)); [ $i -gt 100 ] && { echo "ampd did not start" >&2; exit 1; }
    sleep 0.1
done
ampd_port=$(sed -n 's|.*http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$tmp/ampd.out")

nginx_port=$((ampd_port + 1))
[ "$nginx_port" -gt 65000 ] && nginx_port=20123
mkdir -p "$tmp/nginx"
cat > "$tmp/nginx/nginx.conf" <<CONF
worker_processes $THREADS;
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log;
events { worker_connections 2048; }
http {
    include /etc/nginx/mime.types;
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    client_body_temp_path $tmp/nginx/body;
    proxy_temp_path $tmp/nginx/proxy;
    fastcgi_temp_path $tmp/nginx/fastcgi;
    uwsgi_temp_path $tmp/nginx/uwsgi;
    scgi_temp_path $tmp/nginx/scgi;
    server {
        listen 127.0.0.1:$nginx_port;
        root $tmp/site;
        add_header Cross-Origin-Opener-Policy same-origin always;
        add_header Cross-Origin-Embedder-Policy require-corp always;
        add_header Cross-Origin-Resource-Policy same-origin always;
        add_header X-Content-Type-Options nosniff always;
        add_header Cache-Control no-cache always;
    }
}
CONF
nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" 2> "$tmp/nginx/start.err" &
nginx_pid=$!
i=0
while ! curl -sf -o /dev/null "http://127.0.0.1:$nginx_port/index.html"; do
    i=$((i + 1)); [ $i -gt 100 ] && { echo "nginx did not start:" >&2; cat "$tmp/nginx/start.err" >&2; exit 1; }
    sleep 0.1
done

# One wrk run: "requests/s p50 p99" (latencies as wrk prints them); a
# third argument is a wrk script.
run() {
    url=$1 conns=$2 script=${3:-}
    t=$conns; [ "$t" -gt "$THREADS" ] && t=$THREADS
    BENCH_THREADS=$t wrk -t "$t" -c "$conns" -d "${SECONDS_EACH}s" --latency ${script:+-s "$script"} "$url" \
        > "$tmp/wrk.out" 2>&1
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$tmp/wrk.out")
    p50=$(awk '$1 == "50%" {print $2}' "$tmp/wrk.out")
    p99=$(awk '$1 == "99%" {print $2}' "$tmp/wrk.out")
    errors=$(awk '/Non-2xx|Socket errors/ {printf "%s ", $0}' "$tmp/wrk.out")
    printf '%s %s %s %s' "${rps:-?}" "${p50:-?}" "${p99:-?}" "$errors"
}

{
    echo "ampd (a pool of $THREADS threads) vs nginx $(nginx -v 2>&1 | sed 's|.*/||') ($THREADS workers), wrk, ${SECONDS_EACH} s per row, loopback, $(nproc) CPUs shared with the client"
    printf '%-28s %6s | %12s %9s %9s | %12s %9s %9s\n' file conns "ampd req/s" p50 p99 "nginx req/s" p50 p99
    for file in index.html assets/engine-B3nch123.wasm; do
        for c in $CONNS; do
            set -- $(run "http://127.0.0.1:$ampd_port/$file" "$c")
            a_rps=$1 a50=$2 a99=$3; shift 3; a_err="$*"
            set -- $(run "http://127.0.0.1:$nginx_port/$file" "$c")
            n_rps=$1 n50=$2 n99=$3; shift 3; n_err="$*"
            printf '%-28s %6s | %12s %9s %9s | %12s %9s %9s\n' "$file" "$c" \
                "$a_rps" "$a50" "$a99" "$n_rps" "$n50" "$n99"
            [ -n "$a_err$n_err" ] && echo "    errors: ampd: ${a_err:-none}; nginx: ${n_err:-none}"
        done
    done
} | tee "$OUT"

# ---- the API: project reads and saves -------------------------------------
kill "$ampd_pid" 2>/dev/null && wait "$ampd_pid" 2>/dev/null || true
ampd_pid=""
"$AMPD" --port 0 --root "$tmp/site" --data "$tmp/data" --local --max-connections 1024 --max-per-address 0 \
    > "$tmp/api.out" 2> "$tmp/api.err" &
api_pid=$!
i=0
while ! grep -q 'serving' "$tmp/api.out" 2>/dev/null; do
    i=$((i + 1)); [ $i -gt 100 ] && { echo "ampd (API) did not start:" >&2; cat "$tmp/api.err" >&2; exit 1; }
    sleep 0.1
done
api_port=$(sed -n 's|.*http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$tmp/api.out")
api="http://127.0.0.1:$api_port"
csrf=$(curl -sf "$api/api/account" | sed -n 's|.*"csrf": *"\([^"]*\)".*|\1|p')
[ -n "$csrf" ] || { echo "no CSRF token from $api/api/account" >&2; exit 1; }
# The demo as ampd stores it: patches by their built-in name, not a file
# path (runtime/formats/PROJECT.md); its audio regions name WAV files, not
# uploaded assets, so the audio track is saved without them.
node -e '
const fs = require("fs");
const doc = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
const builtin = (p) => {
  const file = typeof p === "string" ? p : p.file;
  const ref = { builtin: file.split("/").pop() };
  if (typeof p === "object" && p.unit) ref.unit = p.unit;
  return ref;
};
const walk = (o) => {
  if (!o || typeof o !== "object") return;
  if (o.patch) o.patch = builtin(o.patch);
  if (Array.isArray(o.regions)) o.regions = [];
  for (const v of Object.values(o)) walk(v);
};
walk(doc);
fs.writeFileSync(process.argv[2], JSON.stringify(doc, null, 2));
' "$DEMO" "$tmp/demo.json"
DEMO="$tmp/demo.json"
{ printf '{"name":"bench","document":'; cat "$DEMO"; printf '}'; } > "$tmp/create.json"
# API_PROJECTS new projects, all at revision 1, their ids in $tmp/ids. Each
# save row gets new ones: the script starts every project at revision 1.
new_projects() {
    : > "$tmp/ids"
    i=0
    while [ $i -lt "$API_PROJECTS" ]; do
        # (echo: the reply has no final newline, and sed would keep it so)
        { curl -sf -H "X-CSRF-Token: $csrf" -H 'Content-Type: application/json' --data-binary @"$tmp/create.json" \
            "$api/api/projects"; echo; } | sed -n 's|.*"id": *"\([0-9a-f]*\)".*|\1|p' >> "$tmp/ids"
        i=$((i + 1))
    done
    [ "$(wc -l < "$tmp/ids")" -eq "$API_PROJECTS" ] || { echo "could not create the projects" >&2; exit 1; }
}
new_projects

BENCH_IDS="$tmp/ids" BENCH_CSRF=$csrf BENCH_DOC=$DEMO
export BENCH_IDS BENCH_CSRF BENCH_DOC
{
    echo
    echo "ampd API ($THREADS event-loop threads, 4 workers, sqlite WAL synchronous=FULL), wrk, ${SECONDS_EACH} s per row, $API_PROJECTS projects of $(wc -c < "$DEMO") bytes"
    printf '%-34s %6s | %12s %9s %9s\n' request conns "req/s" p50 p99
    for mode in read save; do
        for c in $API_CONNS; do
            case $mode in
            read) what="GET /api/projects/{id}" ;;
            save) what="PUT /api/projects/{id} If-Match" ;;
            esac
            BENCH_MODE=$mode
            export BENCH_MODE
            [ "$mode" = save ] && new_projects
            sleep 1 # the previous row's last calls, still queued when wrk closed, drain
            set -- $(run "$api/" "$c" "$HERE/api_projects.lua")
            rps=$1 p50=$2 p99=$3; shift 3; err="$*"
            printf '%-34s %6s | %12s %9s %9s\n' "$what" "$c" "$rps" "$p50" "$p99"
            [ -n "$err" ] && echo "    errors: $err"
        done
    done
} | tee -a "$OUT"
