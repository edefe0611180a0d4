#!/bin/bash
# Serving benchmark (issue 5 item 6): wrk (2 threads, 64 keep-alive
# connections, 10 s) against /snapshot.json of a running `tinmoi run`, and
# against Debian's nginx serving the very same bytes, in the same run, while
# the daemon keeps fetching its sources on their schedule. Reports req/s,
# errors, p99 latency and the ratio per round and as medians (target:
# tinmoi >= 0.8 x nginx, zero errors), each server's CPU time per request,
# and how late the daemon's fetches started against their due times (target:
# never more than 1 s late).
#
# usage: bench/serve.sh [path/to/tinmoi]   (default: build/tinmoi)
#
# Environment:
#   TINMOI_BENCH_ROUNDS    rounds, each one wrk run per server (default 5);
#                          the order alternates (tinmoi first in odd rounds)
#   TINMOI_BENCH_SECONDS   length of one wrk run (default 10)
#   TINMOI_BENCH_PIN       0 (default): no pinning, the scheduler shares the
#                          CPUs among wrk, the server and whatever else runs;
#                          1: the server under test on CPU 1, wrk's two
#                          threads on CPU 0, the same for both servers (only
#                          for a quiet machine: other work on CPU 1 then
#                          lands on the server alone)
#   TINMOI_BENCH_INTERVAL  the daemon's polling interval in seconds during
#                          the run (default 5; TINMOI_MIN_INTERVAL_S lowers
#                          the one-minute floor for it)
#
# Method, fairness:
#   - nginx: one worker process (tinmoi serves from its one loop thread),
#     sendfile on, tcp_nopush, open_file_cache, access_log off, unlimited
#     keep-alive requests: its best static-file setup on one core. wrk sends
#     no Accept-Encoding, so both answer with the identity body.
#   - The daemon's sources are the bundled demo's four feeds, served over
#     HTTP by a second nginx ("origin", unpinned) that logs every request's
#     start time; one feed is touched every 2 s so some polls are 200s that
#     are parsed and merged, not only 304s.
#   - Lateness: a sampler reads each source's next_due_utc from the daemon's
#     SQLite state (WAL: the reader never blocks the daemon) every 100 ms;
#     each logged request's start time minus the due time in force for its
#     source is that fetch's lateness (the daemon rounds due times to whole
#     seconds and starts a fetch when its timer fires at the due second).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$src/build/tinmoi}
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
duration=${TINMOI_BENCH_SECONDS:-10}
rounds=${TINMOI_BENCH_ROUNDS:-5}
interval=${TINMOI_BENCH_INTERVAL:-5}
pin=${TINMOI_BENCH_PIN:-0}
[ -x "$bin" ] || { echo "no tinmoi binary at $bin (build first)"; exit 1; }
for tool in wrk nginx curl taskset; do
    command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] ||
        { echo "$tool is missing: apt-get install -y wrk nginx curl util-linux"; exit 1; }
done
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
if [ "$pin" = 1 ]; then
    on_server=(taskset -c 1)
    on_client=(taskset -c 0)
else
    on_server=()
    on_client=()
fi

work=$(mktemp -d /tmp/tinmoi-bench-serve.XXXXXX)
daemon_pid=
sampler_pid=
toucher_pid=
cleanup() {
    for p in $toucher_pid $sampler_pid; do kill "$p" 2>/dev/null || true; done
    [ -n "$daemon_pid" ] && kill -TERM "$daemon_pid" 2>/dev/null && wait "$daemon_pid" || true
    for f in "$work/nginx.pid" "$work/origin.pid"; do
        [ -f "$f" ] && kill -QUIT "$(cat "$f")" 2>/dev/null || true
    done
    sleep 0.3
    rm -rf "$work"
}
trap cleanup EXIT

free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# nginx with a config from the heredoc on stdin; $1 names it.
start_nginx() {
    local name=$1
    mkdir -p "$work/$name"
    cat >"$work/$name.conf"
    "${@:2}" "$nginx_bin" -c "$work/$name.conf" -p "$work/$name" -e "$work/$name/error.log"
}
nginx_common="
    client_body_temp_path $work/tmp/body;
    proxy_temp_path $work/tmp/proxy;
    fastcgi_temp_path $work/tmp/fastcgi;
    uwsgi_temp_path $work/tmp/uwsgi;
    scgi_temp_path $work/tmp/scgi;"
mkdir -p "$work/tmp"
# nginx workers run as an unprivileged user when started by root.
chmod 755 "$work"

# The origin: the demo feeds over HTTP, every request logged with its start.
cp -r "$src/feeds" "$work/feeds"
mkdir -p "$work/origin-www"
cp -r "$work/feeds/demo" "$work/origin-www/demo"
chmod -R a+rX "$work/origin-www"
oport=$(free_port)
start_nginx origin <<CONF
worker_processes 1;
pid $work/origin.pid;
error_log $work/origin/error.log warn;
events { worker_connections 256; }
http {
    $nginx_common
    log_format due '\$msec \$request_time \$request_uri \$status';
    access_log $work/origin/access.log due;
    types { application/xml xml; }
    etag on;
    server { listen 127.0.0.1:$oport; root $work/origin-www; }
}
CONF

# tinmoi on the demo sources, fetched over HTTP every $interval seconds.
mkdir "$work/state" "$work/out"
tport=$(free_port)
sed -i "s|^listen.*|listen = 127.0.0.1:$tport|; s|^interval .*|interval = ${interval}s|" "$work/feeds/tinmoi.conf"
sed -i "s| interval=\"[^\"]*\"||; s|xmlUrl=\"demo/|xmlUrl=\"http://127.0.0.1:$oport/demo/|" "$work/feeds/sources.opml"
env_min=()
[ "$interval" -lt 60 ] && env_min=(env "TINMOI_MIN_INTERVAL_S=$interval")
"${on_server[@]}" "${env_min[@]}" "$bin" run -c "$work/feeds/tinmoi.conf" >"$work/daemon.log" 2>&1 &
daemon_pid=$!
n_sources=$(grep -c 'xmlUrl=' "$work/feeds/sources.opml")
for _ in $(seq 1 150); do
    [ "$(grep -c 'source .*: ok' "$work/daemon.log")" -ge "$n_sources" ] && break
    sleep 0.1
done
sleep 1.5
curl -sf -o "$work/served.json" "http://127.0.0.1:$tport/snapshot.json" || { cat "$work/daemon.log"; exit 1; }
cmp -s "$work/served.json" "$work/out/snapshot.json" || { echo "served bytes differ from out_dir"; exit 1; }

# The due-time sampler and the feed toucher.
/usr/bin/python3 - "$work/state/tinmoi.db" "$work/dues" <<'PY' &
import sqlite3, sys, time
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True, timeout=1.0)
seen = {}
with open(sys.argv[2], "w", buffering=1) as out:
    while True:
        try:
            rows = db.execute("SELECT url, next_due_utc FROM sources").fetchall()
        except sqlite3.OperationalError:
            rows = []
        now = time.time()
        for url, due in rows:
            if due is not None and seen.get(url) != due:
                seen[url] = due
                out.write("%.3f %s %d\n" % (now, url, due))
        time.sleep(0.1)
PY
sampler_pid=$!
( while sleep 2; do touch "$work/origin-www/demo/tinh-thanh-hoa.xml"; done ) &
toucher_pid=$!

# nginx serving the same bytes, pinned like tinmoi.
mkdir -p "$work/www"
cp "$work/out/snapshot.json" "$work/www/snapshot.json"
chmod -R a+rX "$work/www"
nport=$(free_port)
start_nginx nginx "${on_server[@]}" <<CONF
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 1024; }
http {
    $nginx_common
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    keepalive_timeout 65;
    open_file_cache max=16 inactive=60s;
    types { application/feed+json json; }
    server { listen 127.0.0.1:$nport; root $work/www; etag on; }
}
CONF
sleep 0.3
curl -sf -o "$work/nginx.json" "http://127.0.0.1:$nport/snapshot.json"
cmp -s "$work/nginx.json" "$work/out/snapshot.json" || { echo "nginx serves other bytes"; exit 1; }
nginx_worker=$(pgrep -P "$(cat "$work/nginx.pid")" | head -1)

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
clk=$(getconf CLK_TCK)

run_wrk() { # name url pid -> "req/s errors requests server_us/req wrk_us/req"
    local c0 c1 rps errs reqs TIMEFORMAT='%U %S'
    c0=$(cpu_ticks "$3")
    echo "$(date +%s.%N) start $1" >>"$work/windows"
    { time "${on_client[@]}" wrk -t2 -c64 -d"${duration}s" --latency "$2" >"$work/wrk.$1" 2>&1; } 2>"$work/time.$1"
    echo "$(date +%s.%N) end $1" >>"$work/windows"
    c1=$(cpu_ticks "$3")
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$work/wrk.$1")
    reqs=$(awk '/requests in/ {print $1}' "$work/wrk.$1")
    errs=$(awk '/Socket errors:/ {gsub(/,/,""); print $4+$6+$8+$10}' "$work/wrk.$1")
    errs=$((${errs:-0} + $(awk '/Non-2xx or 3xx responses:/ {print $5}' "$work/wrk.$1" | tr -d ' ' || echo 0) + 0))
    echo "$rps $errs $reqs $(awk -v a="$c0" -v b="$c1" -v n="$reqs" -v k="$clk" 'BEGIN { printf "%.1f", (b - a) / k / n * 1e6 }')" \
        "$(awk -v n="$reqs" '{ printf "%.1f", ($1 + $2) / n * 1e6 }' "$work/time.$1")"
}

bytes=$(stat -c %s "$work/out/snapshot.json")
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
: >"$work/rounds"
: >"$work/windows"
turl="http://127.0.0.1:$tport/snapshot.json"
nurl="http://127.0.0.1:$nport/snapshot.json"
for r in $(seq 1 "$rounds"); do
    if [ $((r % 2)) -eq 1 ]; then
        read -r t_rps t_err _ t_cpu t_wrk < <(run_wrk tinmoi "$turl" "$daemon_pid")
        read -r n_rps n_err _ n_cpu n_wrk < <(run_wrk nginx "$nurl" "$nginx_worker")
    else
        read -r n_rps n_err _ n_cpu n_wrk < <(run_wrk nginx "$nurl" "$nginx_worker")
        read -r t_rps t_err _ t_cpu t_wrk < <(run_wrk tinmoi "$turl" "$daemon_pid")
    fi
    p99_t=$(awk '/^ +99%/ {print $2}' "$work/wrk.tinmoi")
    p99_n=$(awk '/^ +99%/ {print $2}' "$work/wrk.nginx")
    echo "$r $t_rps $t_err $p99_t $t_cpu $n_rps $n_err $p99_n $n_cpu $t_wrk $n_wrk" >>"$work/rounds"
done
bytes_after=$(curl -sf "$turl" | wc -c)

echo "snapshot.json: $bytes bytes ($bytes_after at the end); wrk -t2 -c64 -d${duration}s, keep-alive;" \
    "$(nproc) CPUs; pinned: $([ "$pin" = 1 ] && echo "server CPU 1, wrk CPU 0" || echo no);" \
    "load average before: $load_before"
echo "us/req: CPU time (user + sys) per request of the server process, and of wrk"
printf '%-6s %11s %6s %8s %7s %7s %11s %6s %8s %7s %7s %6s\n' round tinmoi_rps errors p99 us/req wrk \
    nginx_rps errors p99 us/req wrk ratio
awk '{ printf "%-6s %11s %6s %8s %7s %7s %11s %6s %8s %7s %7s %6.2f\n", $1, $2, $3, $4, $5, $10, $6, $7, $8, $9, $11, $2 / $6 }' \
    "$work/rounds"
median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
t_med=$(awk '{print $2}' "$work/rounds" | median)
n_med=$(awk '{print $6}' "$work/rounds" | median)
r_med=$(awk '{print $2 / $6}' "$work/rounds" | median)
tc_med=$(awk '{print $5}' "$work/rounds" | median)
nc_med=$(awk '{print $9}' "$work/rounds" | median)
tw_med=$(awk '{print $10}' "$work/rounds" | median)
nw_med=$(awk '{print $11}' "$work/rounds" | median)
errors=$(awk '{e += $3 + $7} END {print e + 0}' "$work/rounds")
awk -v t="$t_med" -v n="$n_med" -v r="$r_med" -v e="$errors" -v tc="$tc_med" -v nc="$nc_med" \
    -v tw="$tw_med" -v nw="$nw_med" 'BEGIN {
    printf "median  tinmoi %.0f req/s, nginx %.0f req/s, ratio of medians %.2f, median of ratios %.2f (target >= 0.8); errors %d\n", t, n, t / n, r, e
    printf "median  CPU per request: tinmoi %.1f us (wrk %.1f us), nginx %.1f us (wrk %.1f us)\n", tc, tw, nc, nw }'

# Fetch lateness: each origin request against the due time in force.
sleep 0.5
/usr/bin/python3 - "$work/origin/access.log" "$work/dues" "$work/windows" "$oport" "$interval" <<'PY'
import sys
log, dues_path, windows_path, port, interval = sys.argv[1:6]
base = "http://127.0.0.1:%s" % port
dues = {}
for line in open(dues_path):
    t, url, due = line.split()
    dues.setdefault(url, []).append((float(t), int(due)))
wins, start = [], None
for line in open(windows_path):
    t, what, _ = line.split()
    if what == "start":
        start = float(t)
    else:
        wins.append((start, float(t)))
first, last = wins[0][0], wins[-1][1]
lat_all, lat_load, n_all = [], [], 0
for line in open(log):
    msec, rtime, uri, status = line.split()
    begin = float(msec) - float(rtime)
    if begin < first or begin > last:
        continue
    n_all += 1
    # the due time in force: the last one the sampler saw before the request
    cands = [d for (t, d) in dues.get(base + uri, []) if t <= begin]
    if not cands:
        continue
    late = begin - cands[-1]
    lat_all.append(late)
    if any(a <= begin <= b for a, b in wins):
        lat_load.append(late)
def show(name, v):
    if not v:
        print("fetch lateness %s: no fetches" % name)
        return
    v = sorted(v)
    print("fetch lateness %s: %d fetches, median %.3f s, max %.3f s, min %.3f s (target: max <= 1 s)"
          % (name, len(v), v[len(v) // 2], v[-1], v[0]))
show("while wrk ran", lat_load)
show("whole benchmark", lat_all)
print("origin requests in the benchmark window: %d (every %s s per source)" % (n_all, interval))
PY
grep -E 'source .*: (error|warning)' "$work/daemon.log" | head -5 || true
echo "daemon log: $(grep -c 'source .*: ' "$work/daemon.log") fetch lines, $(grep -ci 'error' "$work/daemon.log" || true) with 'error'"
