#!/bin/bash
# Serving benchmark (issue 5): wrk (2 threads, 64 keep-alive connections,
# 10 s) against /snapshot.json of a running `tinmoi run`, then against
# Debian's nginx serving the very same bytes from the daemon's out_dir, in
# the same run. nginx gets one worker process (tinmoi serves from its one
# loop thread) with sendfile, open_file_cache and access_log off: its best
# static-file configuration on one core. Prints req/s, errors and the ratio
# (target: tinmoi >= 0.8 x nginx, zero errors).
#
# usage: bench/serve.sh [path/to/tinmoi]   (default: build/tinmoi)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$src/build/tinmoi}
duration=${TINMOI_BENCH_SECONDS:-10}
[ -x "$bin" ] || { echo "no tinmoi binary at $bin (build first)"; exit 1; }
for tool in wrk nginx curl; do
    command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] ||
        { echo "$tool is missing: apt-get install -y wrk nginx curl"; exit 1; }
done
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

work=$(mktemp -d /tmp/tinmoi-bench-serve.XXXXXX)
daemon_pid=
cleanup() {
    [ -n "$daemon_pid" ] && kill -TERM "$daemon_pid" 2>/dev/null && wait "$daemon_pid" || true
    [ -f "$work/nginx.pid" ] && kill -QUIT "$(cat "$work/nginx.pid")" 2>/dev/null || true
    sleep 0.3
    rm -rf "$work"
}
trap cleanup EXIT

free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# tinmoi on the bundled demo, fetching on its schedule (1 minute here, the
# shortest interval allowed) during the run.
cp -r "$src/feeds" "$work/feeds"
mkdir "$work/state" "$work/out"
tport=$(free_port)
sed -i "s|^listen.*|listen = 127.0.0.1:$tport|; s|^interval .*|interval = 1m|" "$work/feeds/tinmoi.conf"
sed -i 's/ interval="[^"]*"//' "$work/feeds/sources.opml"
"$bin" run -c "$work/feeds/tinmoi.conf" >"$work/daemon.log" 2>&1 &
daemon_pid=$!
n_sources=$(grep -c 'xmlUrl=' "$work/feeds/sources.opml")
for _ in $(seq 1 100); do
    [ "$(grep -c 'source .*: ok' "$work/daemon.log")" -ge "$n_sources" ] && break
    sleep 0.1
done
sleep 1.5
curl -sf -o "$work/served.json" "http://127.0.0.1:$tport/snapshot.json" || { cat "$work/daemon.log"; exit 1; }
cmp -s "$work/served.json" "$work/out/snapshot.json" || { echo "served bytes differ from out_dir"; exit 1; }

# nginx serving the same bytes.
mkdir -p "$work/www" "$work/nginx"
cp "$work/out/snapshot.json" "$work/www/snapshot.json"
# nginx workers run as an unprivileged user when started by root.
chmod 755 "$work" "$work/www"
chmod 644 "$work/www/snapshot.json"
nport=$(free_port)
cat >"$work/nginx.conf" <<CONF
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx/error.log warn;
daemon on;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    keepalive_timeout 65;
    open_file_cache max=16 inactive=60s;
    client_body_temp_path $work/nginx/body;
    proxy_temp_path $work/nginx/proxy;
    fastcgi_temp_path $work/nginx/fastcgi;
    uwsgi_temp_path $work/nginx/uwsgi;
    scgi_temp_path $work/nginx/scgi;
    types { application/feed+json json; }
    server {
        listen 127.0.0.1:$nport;
        root $work/www;
        etag on;
    }
}
CONF
"$nginx_bin" -c "$work/nginx.conf" -p "$work/nginx" -e "$work/nginx/error.log"
sleep 0.3
curl -sf -o "$work/nginx.json" "http://127.0.0.1:$nport/snapshot.json"
cmp -s "$work/nginx.json" "$work/out/snapshot.json" || { echo "nginx serves other bytes"; exit 1; }

run_wrk() { # name url -> "req/s errors"
    wrk -t2 -c64 -d"${duration}s" --latency "$2" >"$work/wrk.$1" 2>&1
    local rps errs
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$work/wrk.$1")
    errs=$(awk '/Socket errors:/ {gsub(/,/,""); print $4+$6+$8+$10}' "$work/wrk.$1")
    errs=$((${errs:-0} + $(awk '/Non-2xx or 3xx responses:/ {print $5}' "$work/wrk.$1" | tr -d ' ' || echo 0) + 0))
    echo "$rps $errs"
}

bytes=$(stat -c %s "$work/out/snapshot.json")
# Other work on the machine moves single runs a lot: alternate the two
# servers for $rounds rounds of ${duration}s each and report the medians.
rounds=${TINMOI_BENCH_ROUNDS:-3}
fetch_lines() { grep -c 'source .*: ' "$work/daemon.log" || true; }
fetches_before=$(fetch_lines)
: >"$work/rounds"
for r in $(seq 1 "$rounds"); do
    if [ $((r % 2)) -eq 1 ]; then
        read -r t_rps t_err < <(run_wrk tinmoi "http://127.0.0.1:$tport/snapshot.json")
        read -r n_rps n_err < <(run_wrk nginx "http://127.0.0.1:$nport/snapshot.json")
    else
        read -r n_rps n_err < <(run_wrk nginx "http://127.0.0.1:$nport/snapshot.json")
        read -r t_rps t_err < <(run_wrk tinmoi "http://127.0.0.1:$tport/snapshot.json")
    fi
    p99_t=$(awk '/^ +99%/ {print $2}' "$work/wrk.tinmoi")
    p99_n=$(awk '/^ +99%/ {print $2}' "$work/wrk.nginx")
    echo "$r $t_rps $t_err $p99_t $n_rps $n_err $p99_n" >>"$work/rounds"
done
fetches_after=$(fetch_lines)

echo "snapshot.json: $bytes bytes; wrk -t2 -c64 -d${duration}s, keep-alive; $(nproc) CPUs;" \
    "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-6s %12s %7s %9s %12s %7s %9s %7s\n' round tinmoi_rps errors p99 nginx_rps errors p99 ratio
awk '{ printf "%-6s %12s %7s %9s %12s %7s %9s %7.2f\n", $1, $2, $3, $4, $5, $6, $7, $2 / $5 }' "$work/rounds"
t_med=$(awk '{print $2}' "$work/rounds" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
n_med=$(awk '{print $5}' "$work/rounds" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
errors=$(awk '{e += $3 + $6} END {print e + 0}' "$work/rounds")
awk -v t="$t_med" -v n="$n_med" -v e="$errors" 'BEGIN {
    printf "median  tinmoi %.0f req/s, nginx %.0f req/s, ratio %.2f (target >= 0.8); errors %d\n", t, n, t / n, e }'
echo "daemon fetch log lines during the runs: $((fetches_after - fetches_before))" \
    "(interval 1m; a fetch delayed by the load would show in the schedule log)"
