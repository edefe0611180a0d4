#!/bin/bash
# Soak run of the daemon (issue 4 item 7): `tinmoi run` polling N generated
# feeds (default 1,000) served by Debian's nginx on 127.0.0.1 for M minutes
# (default 10), with one-minute intervals, or 10-second intervals forced for
# the run (--interval 10: TINMOI_MIN_INTERVAL_S lowers the one-minute floor).
#
#   bench/soak.sh [--minutes 10] [--interval 60|10] [--sources 1000] [--keep]
#
# Reports:
#   - RSS (VmRSS) after the first cycle and at the end, and the growth;
#   - CPU time (user + sys, /proc/PID/stat) per cycle between those points;
#   - RSS every 10 s in between: the lowest and highest after the first cycle;
#   - requests per URL from nginx's access log ($msec $request_uri $status
#     $request_time), and that no request went out earlier than its schedule
#     allowed: the gap between the STARTS of two requests for one URL
#     ($msec - $request_time: nginx logs when a response is done, which is
#     late when tinmoi's loop is busy publishing and reads the body late) is
#     never below the interval (every source succeeds, so no backoff
#     applies);
#   - SIGTERM at the end: exit status and time to exit.
# While it runs, 20 feeds are touched every 30 s (new mtime and ETag: the
# next poll is a 200 instead of a 304), so parse and store work continues.
#
# Run as root on the machine scripts/setup prepared (nginx, curl, python3).
# Builds Release in build-soak/ (or $TINMOI_SOAK_BUILD).
set -euo pipefail
cd "$(dirname "$0")/.."

minutes=10
interval=60
sources=1000
keep=false
while [ $# -gt 0 ]; do
    case $1 in
    --minutes) minutes=$2; shift 2 ;;
    --interval) interval=$2; shift 2 ;;
    --sources) sources=$2; shift 2 ;;
    --keep) keep=true; shift ;;
    *) echo "usage: bench/soak.sh [--minutes 10] [--interval 60|10] [--sources 1000] [--keep]" >&2; exit 2 ;;
    esac
done
for tool in nginx curl python3; do
    command -v "$tool" >/dev/null || { echo "soak.sh: $tool is missing" >&2; exit 1; }
done

build=${TINMOI_SOAK_BUILD:-build-soak}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DTINMOI_BENCH=ON >/dev/null
cmake --build "$build" --target tinmoi-bin gen_corpus -j"$(nproc)" >"$build/soak-build.log" 2>&1 ||
    { tail -20 "$build/soak-build.log" >&2; echo "soak.sh: build failed" >&2; exit 1; }
tinmoi=$PWD/$build/tinmoi
gen=$PWD/$build/bench/gen_corpus

tmp=$(mktemp -d /tmp/tinmoi-soak.XXXXXX)
chmod 755 "$tmp" # nginx's worker runs as nobody
nginx_pid=
tinmoi_pid=
toucher_pid=
sampler_pid=
cleanup() {
    for p in $sampler_pid $toucher_pid $tinmoi_pid $nginx_pid; do
        if kill -0 "$p" 2>/dev/null; then kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; fi
    done
    if $keep; then echo "kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

mkdir -p "$tmp/www" "$tmp/nginx" "$tmp/state" "$tmp/out"
"$gen" --feeds "$sources" --out "$tmp/www/feeds" >/dev/null
chmod -R a+rX "$tmp/www"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$tmp/nginx/nginx.conf" <<EOF
worker_processes 1;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 4096; }
http {
    types { application/xml xml; }
    default_type application/octet-stream;
    client_body_temp_path $tmp/nginx/body;
    proxy_temp_path $tmp/nginx/proxy;
    fastcgi_temp_path $tmp/nginx/fastcgi;
    uwsgi_temp_path $tmp/nginx/uwsgi;
    scgi_temp_path $tmp/nginx/scgi;
    log_format soak '\$msec \$request_uri \$status \$request_time';
    access_log $tmp/nginx/access.log soak;
    keepalive_timeout 65;
    keepalive_requests 100000;
    etag on;
    if_modified_since exact;
    server {
        listen 127.0.0.1:$port;
        root $tmp/www;
    }
}
EOF
nginx -e "$tmp/nginx/error.log" -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -g 'daemon off;' &
nginx_pid=$!
for _ in $(seq 50); do
    curl -sf -o /dev/null "http://127.0.0.1:$port/feeds/feed-00000.xml" && break
    sleep 0.1
done
: >"$tmp/nginx/access.log" # the readiness probes are not tinmoi's requests

python3 - "$tmp" "$sources" "$port" <<'PY'
import os, sys
tmp, n, port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
cats = ["district", "province", "ministry"]
with open(os.path.join(tmp, "sources.opml"), "w") as f:
    f.write('<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0"><head><title>soak</title></head><body>\n')
    for k in range(n):
        f.write('<outline text="Feed %d" id="feed-%05d" category="%s" '
                'xmlUrl="http://127.0.0.1:%d/feeds/feed-%05d.xml"/>\n' % (k, k, cats[k % 3], port, k))
    f.write("</body></opml>\n")
PY
cat >"$tmp/tinmoi.conf" <<EOF
[tinmoi]
sources = sources.opml
state_dir = state
out_dir = out
[fetch]
interval = ${interval}s
concurrency = 32
per_host = 32
timeout = 30s
[http]
listen =
EOF

env_min=()
if [ "$interval" -lt 60 ]; then env_min=(env "TINMOI_MIN_INTERVAL_S=$interval"); fi
"${env_min[@]}" "$tinmoi" run -c "$tmp/tinmoi.conf" 2>"$tmp/tinmoi.log" &
tinmoi_pid=$!

( while sleep 30; do
      for k in $(shuf -i 0-$((sources - 1)) -n 20); do touch "$tmp/www/feeds/$(printf 'feed-%05d.xml' "$k")"; done
  done ) &
toucher_pid=$!

clk=$(getconf CLK_TCK)
sample() { # prints "rss_kb cpu_s"
    local rss ticks
    rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$tinmoi_pid/status")
    ticks=$(awk '{ print $14 + $15 }' "/proc/$tinmoi_pid/stat")
    echo "$rss $(awk -v t="$ticks" -v c="$clk" 'BEGIN { printf "%.2f", t / c }')"
}

# The start point: after the first full cycle (the start spread, then every
# source once, cold: 20,000 items parsed and stored) is over, and at least
# 30 s in, so the cold cycle's burst is not counted as a steady cycle.
warm=$((interval + 5))
[ "$warm" -ge 30 ] || warm=30
sleep "$warm"
kill -0 "$tinmoi_pid" || { echo "soak.sh: tinmoi exited:" >&2; tail "$tmp/tinmoi.log" >&2; exit 1; }
read -r rss0 cpu0 <<<"$(sample)"
t0=$(date +%s.%N)
( while sleep 10; do awk '/^VmRSS:/ { print $2 }' "/proc/$tinmoi_pid/status" 2>/dev/null || exit 0; done ) >"$tmp/rss.log" &
sampler_pid=$!
total=$((minutes * 60))
left=$((total - warm))
[ "$left" -gt 0 ] || left=$interval
sleep "$left"
read -r rss1 cpu1 <<<"$(sample)"
t1=$(date +%s.%N)
kill "$sampler_pid" 2>/dev/null || true
wait "$sampler_pid" 2>/dev/null || true
sampler_pid=
rss_lo=$(sort -n "$tmp/rss.log" | head -1)
rss_hi=$(sort -n "$tmp/rss.log" | tail -1)
kill "$toucher_pid" 2>/dev/null || true
wait "$toucher_pid" 2>/dev/null || true
toucher_pid=
term=$(date +%s.%N)
kill -TERM "$tinmoi_pid"
rc=0
wait "$tinmoi_pid" || rc=$?
stop_s=$(awk -v a="$term" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
tinmoi_pid=

python3 - "$tmp/nginx/access.log" "$interval" "$sources" <<PY
import collections, sys
log, interval, n = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
times = collections.defaultdict(list)
status = collections.Counter()
longest = 0.0
for line in open(log):
    p = line.split()
    if len(p) < 4:
        continue
    # when the request arrived: logged at the end, minus its duration
    times[p[1]].append(float(p[0]) - float(p[3]))
    longest = max(longest, float(p[3]))
    status[p[2]] += 1
gaps = []
early = 0
for uri, ts in times.items():
    ts.sort()
    for a, b in zip(ts, ts[1:]):
        gaps.append(b - a)
        # both nginx times have millisecond resolution
        if b - a < interval - 0.002:
            early += 1
gaps.sort()
def pct(q):
    return gaps[min(len(gaps) - 1, int(q * len(gaps)))] if gaps else 0
cycles = ($(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')) / interval
cpu = ${cpu1} - ${cpu0}
rss0, rss1 = ${rss0}, ${rss1}
print("| measure | value |")
print("|---|---|")
print("| sources, interval, run | %d, %g s, $minutes min |" % (n, interval))
print("| URLs requested | %d of %d |" % (len(times), n))
print("| requests (status) | %d (%s) |" % (sum(status.values()),
      ", ".join("%s: %d" % kv for kv in sorted(status.items()))))
print("| RSS after first cycle → end | %.1f MB → %.1f MB (%+.1f %%) |"
      % (rss0 / 1024, rss1 / 1024, 100.0 * (rss1 - rss0) / rss0))
print("| RSS every 10 s in between: lowest / highest | %.1f MB / %.1f MB |"
      % (${rss_lo:-0} / 1024, ${rss_hi:-0} / 1024))
print("| CPU per cycle (user+sys) | %.3f s over %.1f cycles |" % (cpu / cycles, cycles))
print("| gap between requests per URL: min / median / max | %.3f / %.3f / %.3f s |"
      % (gaps[0] if gaps else 0, pct(0.5), gaps[-1] if gaps else 0))
print("| requests earlier than the interval allows | %d |" % early)
print("| longest request (nginx request_time) | %.3f s |" % longest)
print("| SIGTERM: exit status, time to exit | $rc, ${stop_s} s |")
sys.exit(1 if early else 0)
PY
