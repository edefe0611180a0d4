#!/bin/bash
# Fetch-cycle benchmark (issue #3 item 10): `tinmoi once` against N generated
# feeds served by Debian's nginx on 127.0.0.1, beside two floors measured in
# the same run over the same URLs and bytes:
#   floor A  curl --parallel --parallel-max 64 --compressed, bodies to /dev/null;
#   floor B  a minimal libxml2 SAX2 walk (bench/sax_walk.c) over the feed files.
# Then tinmoi's cold cycle (empty store, every source 200) and its all-304
# cycle (second run on the same store: every source answers 304).
#
#   bench/cycle.sh [--sizes "1000 10000"] [--repeat R] [--keep] [--phases]
#                  [--corpus distinct|as-generated]
#
# Run as root on the machine scripts/setup prepared (nginx-light, curl and
# /usr/bin/time are in its PACKAGES; this script installs nothing).
# Builds Release in build-bench/ (or $TINMOI_BENCH_BUILD).
#
# The setup, stated so the numbers can be read:
#   - every source is on one host (127.0.0.1:PORT), so tinmoi runs with
#     concurrency = per_host = 64, the same 64 transfers at once as curl;
#   - nginx: one worker, keepalive, access_log off, `etag on`,
#     `if_modified_since exact`, gzip: every feed is also stored pre-compressed
#     (gzip_static) so both clients get compressed transfers without nginx
#     spending the run compressing (gzip on stays as the fallback);
#   - state_dir and out_dir are fresh folders on the same file system as
#     /tmp; the cold cycle starts with no store at all;
#   - wall, user, sys and peak RSS come from /usr/bin/time -f "%e %U %S %M";
#   - each of the four commands (curl, the SAX walk, the cold cycle, the
#     all-304 cycle) runs R times (--repeat, default 3) and the fastest run
#     is the one reported, its CPU, RSS and phases included: this VM's speed
#     drifts by a fifth over minutes, and a single slow floor moved the
#     ratio by half a point (docs/PERFORMANCE.md). Each cold run starts
#     from an empty store; the all-304 runs follow the last cold one;
#   - the phases of a tinmoi cycle (with --phases, or whenever a target is
#     missed) come from the time each of its log lines arrives: start → first
#     source done → last source done (fetch + parse + store) → "published"
#     (merge + publish) → exit.
# After the measured runs, nginx is reloaded with an access log of $status and
# a third cycle is run to prove the 304s come from the server, not from a
# client shortcut.
#
# Targets at 10,000 sources: cold <= 2 x (curl + SAX walk), all-304 <= 1.5 x
# curl, peak RSS < 100 MB.
set -euo pipefail
cd "$(dirname "$0")/.."

sizes="1000 10000"
repeat=3
keep=false
phases=false
corpus=distinct
while [ $# -gt 0 ]; do
    case $1 in
    --sizes) sizes=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --keep) keep=true; shift ;;
    --phases) phases=true; shift ;;
    --corpus) corpus=$2; shift 2 ;;
    *) echo "usage: bench/cycle.sh [--sizes \"1000 10000\"] [--repeat R] [--keep] [--phases] [--corpus distinct|as-generated]" >&2; exit 2 ;;
    esac
done

for tool in nginx curl /usr/bin/time python3; do
    command -v "$tool" >/dev/null || {
        echo "cycle.sh: $tool is missing (scripts/setup installs it)" >&2
        exit 1
    }
done

build=${TINMOI_BENCH_BUILD:-build-bench}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DTINMOI_BENCH=ON >/dev/null
cmake --build "$build" --target tinmoi-bin gen_corpus sax_walk -j"$(nproc)" >"$build/cycle-build.log" 2>&1 ||
    { tail -20 "$build/cycle-build.log" >&2; echo "cycle.sh: build failed" >&2; exit 1; }
tinmoi=$PWD/$build/tinmoi
gen=$PWD/$build/bench/gen_corpus
walk=$PWD/$build/bench/sax_walk
for b in "$tinmoi" "$gen" "$walk"; do
    [ -x "$b" ] || { echo "cycle.sh: $b was not built" >&2; exit 1; }
done

tmp=$(mktemp -d /tmp/tinmoi-cycle.XXXXXX)
chmod 755 "$tmp" # nginx's worker runs as nobody
nginx_pid=
cleanup() {
    if [ -n "$nginx_pid" ] && kill -0 "$nginx_pid" 2>/dev/null; then
        kill "$nginx_pid" 2>/dev/null || true
        wait "$nginx_pid" 2>/dev/null || true
    fi
    if $keep; then echo "kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

max=0
for n in $sizes; do [ "$n" -gt "$max" ] && max=$n; done

# The corpus: gen_corpus writes feed n from one sequential PRNG, so the first
# 1,000 of a 10,000-feed corpus are the 1,000-feed corpus; generate the
# largest once and serve every size from it.
mkdir -p "$tmp/www"
"$gen" --feeds "$max" --out "$tmp/www/feeds"
if [ "$corpus" = distinct ]; then
    # gen_corpus gives feed k the links and guids of every 12th feed (one of
    # 12 portal slugs, items numbered 100000..), so across N feeds there are
    # only 240 distinct links and the merge folds everything into a few
    # dozen stories: a degenerate load no portal has. Give each feed its own
    # link and guid namespace. Titles come from a small vocabulary (about
    # 23,000 combinations of 50 phrases), so at 200,000 items every word
    # pair is shared by thousands of titles, where a real portal's titles
    # carry names and numbers of their own. So four items in five get a
    # title of their own ("..., đợt K số J", K the feed, J the item), and
    # every fifth keeps the generated title: the stories many sources carry,
    # merged by equal or similar titles.
    python3 - "$tmp/www/feeds" "$max" <<'PY'
import re, sys
d, n = sys.argv[1], int(sys.argv[2])
link = re.compile(rb"/tin-tuc/tin-(\d+)\.htm")
guid = re.compile(rb'(<guid isPermaLink="false">[a-z]+)-(\d+)</guid>')
tag = re.compile(rb"(<id>tag:[^,<]+,2022:)(\d+)</id>")
title = re.compile(rb"(\n      <title>|<title type=\"text\">)([^<]*)(</title>)")
for k in range(n):
    p = "%s/feed-%05d.xml" % (d, k)
    with open(p, "rb") as f:
        b = f.read()
    kb = b"%d" % k
    b = link.sub(b"/tin-tuc/tin-" + kb + rb"-\g<1>.htm", b)
    b = guid.sub(rb"\g<1>-" + kb + rb"-\g<2></guid>", b)
    b = tag.sub(rb"\g<1>" + kb + rb"-\g<2></id>", b)
    j = [0]
    def own(m):
        j[0] += 1
        if (j[0] - 1) % 5 == 0:
            return m.group(0)
        return m.group(1) + m.group(2) + b", \xc4\x91\xe1\xbb\xa3t " + kb + b" s\xe1\xbb\x91 %d" % j[0] + m.group(3)
    b = title.sub(own, b)
    with open(p, "wb") as f:
        f.write(b)
PY
fi
( cd "$tmp/www/feeds" && ls | xargs -n 500 gzip -k -1 )
chmod -R a+rX "$tmp/www"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$tmp/nginx"
write_nginx_conf() { # $1: access_log line
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
    log_format st '\$status';
    $1
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65;
    keepalive_requests 100000;
    etag on;
    if_modified_since exact;
    gzip on;
    gzip_static on;
    gzip_comp_level 1;
    gzip_types application/xml;
    gzip_vary on;
    server {
        listen 127.0.0.1:$port;
        root $tmp/www;
    }
}
EOF
}
write_nginx_conf "access_log off;"
nginx -e "$tmp/nginx/error.log" -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -g 'daemon off;' &
nginx_pid=$!
for _ in $(seq 50); do
    curl -sf -o /dev/null "http://127.0.0.1:$port/feeds/feed-00000.xml" && break
    sleep 0.1
done
curl -sf -o /dev/null "http://127.0.0.1:$port/feeds/feed-00000.xml" ||
    { echo "cycle.sh: nginx did not start:" >&2; cat "$tmp/nginx/error.log" >&2; exit 1; }

# Runs "$@" under /usr/bin/time; stderr lines are stamped with the seconds
# since the start, in $1.stamps; the time line goes to $1.time.
cat >"$tmp/stamp.py" <<'EOF'
import subprocess, sys, time
out, cmd = sys.argv[1], sys.argv[2:]
t0 = time.monotonic()
p = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
with open(out + ".stamps", "w") as f:
    for line in p.stderr:
        f.write("%.4f %s" % (time.monotonic() - t0, line.decode("utf-8", "replace")))
    p.wait()
    f.write("%.4f <exit> %d\n" % (time.monotonic() - t0, p.returncode))
sys.exit(p.returncode)
EOF
measure() { # NAME CMD...
    local name=$1; shift
    # The previous run's writes (a cold cycle leaves ~600 MB of database
    # pages to write back) go to disk first, not during this run.
    sync
    python3 "$tmp/stamp.py" "$tmp/$name" /usr/bin/time -f "%e %U %S %M" -o "$tmp/$name.time" "$@"
}
# The fastest of $repeat runs of CMD becomes NAME's .time and .stamps;
# BEFORE (a shell command, may be empty) runs ahead of each.
measure_best() { # NAME BEFORE CMD...
    local name=$1 before=$2; shift 2
    local r best=
    for ((r = 1; r <= repeat; r++)); do
        eval "$before"
        measure "$name.r$r" "$@" || return
        if [ -z "$best" ] || awk -v a="$(wall "$name.r$r")" -v b="$(wall "$name.r$best")" \
            'BEGIN { exit !(a < b) }'; then
            best=$r
        fi
    done
    cp "$tmp/$name.r$best.time" "$tmp/$name.time"
    cp "$tmp/$name.r$best.stamps" "$tmp/$name.stamps"
    echo "   $name: $(for ((r = 1; r <= repeat; r++)); do printf '%s ' "$(wall "$name.r$r")"; done)s (fastest kept)" >&2
}
wall() { awk '{ print $1 }' "$tmp/$1.time"; }
cpu() { awk '{ printf "%.2f", $2 + $3 }' "$tmp/$1.time"; }
rss_mb() { awk '{ printf "%.1f", $4 / 1024 }' "$tmp/$1.time"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

# Phase times from a cycle's stamped log: start -> first source done ->
# last source done -> published -> exit.
phase_report() { # NAME
    awk '
        />source [^ ]+: / { if (first == "") first = $1; last = $1 }
        />published / { pub = $1 }
        / <exit> / { ex = $1 }
        END {
            printf "    start..first source   %7.3f s  (config, store open, source sync, first transfer)\n", first
            printf "    sources (fetch+parse+store) %7.3f s\n", last - first
            printf "    merge + publish       %7.3f s\n", pub - last
            printf "    exit                  %7.3f s\n", ex - pub
        }' "$tmp/$1.stamps"
}

declare -A row extra
results=()
for n in $sizes; do
    d=$tmp/run-$n
    mkdir -p "$d/state" "$d/out"
    # curl config and the file list for the SAX walk, over the same N feeds.
    : >"$d/curl.conf"
    : >"$d/files.txt"
    {
        echo '<?xml version="1.0" encoding="UTF-8"?>'
        echo '<opml version="2.0"><head><title>cycle bench</title></head><body>'
        for ((i = 0; i < n; i++)); do
            f=$(printf 'feed-%05d.xml' "$i")
            url="http://127.0.0.1:$port/feeds/$f"
            printf 'url = "%s"\noutput = "/dev/null"\n' "$url" >>"$d/curl.conf"
            echo "$tmp/www/feeds/$f" >>"$d/files.txt"
            case $((i % 3)) in 0) cat=district pri=0 ;; 1) cat=province pri=10 ;; *) cat=ministry pri=5 ;; esac
            printf '<outline type="rss" text="Nguồn %05d" id="s%05d" category="%s" priority="%d" xmlUrl="%s"/>\n' \
                "$i" "$i" "$cat" "$pri" "$url"
        done
        echo '</body></opml>'
    } >"$d/sources.opml"
    cat >"$d/tinmoi.conf" <<EOF
[tinmoi]
title        = Tin mới nhất
sources      = sources.opml
state_dir    = state
out_dir      = out
public_url   = http://127.0.0.1:8080/
latest_limit = 8
items_limit  = 50
utc_offset   = +07:00

[fetch]
interval     = 15m
; every source is on 127.0.0.1:$port: per_host is the whole budget here
concurrency  = 64
per_host     = 64
timeout      = 60s
max_body     = 8388608

[http]
listen       =
EOF
    bytes=$(xargs -a "$d/files.txt" cat | wc -c)
    gzbytes=$(sed 's/$/.gz/' "$d/files.txt" | xargs cat | wc -c)

    echo "== N=$n: $((bytes / 1000000)) MB of XML, $((gzbytes / 1000000)) MB gzipped" >&2
    # Warm the page cache and nginx's worker for both sides equally.
    curl -s --no-progress-meter --compressed --parallel --parallel-max 64 -K "$d/curl.conf" >/dev/null
    measure_best "curl-$n" "" curl -s --no-progress-meter --compressed --parallel --parallel-max 64 -K "$d/curl.conf"
    measure_best "sax-$n" "" "$walk" --list "$d/files.txt"
    measure_best "cold-$n" 'rm -rf "$d/state" "$d/out"; mkdir -p "$d/state" "$d/out"' \
        "$tinmoi" once -q -c "$d/tinmoi.conf"
    measure_best "idle-$n" "" "$tinmoi" once -q -c "$d/tinmoi.conf"

    ok=$(grep -c ': ok, ' "$tmp/cold-$n.stamps" || true)
    nm=$(grep -c ': not modified' "$tmp/idle-$n.stamps" || true)
    errs=$(cat "$tmp/cold-$n.stamps" "$tmp/idle-$n.stamps" | grep -c ': error: ' || true)
    echo "   tinmoi: cold $ok/$n sources ok, all-304 $nm/$n not modified, $errs errors" >&2

    # Server-side proof of the 304s: reload nginx with a $status access log
    # and run a third (unmeasured) cycle.
    write_nginx_conf "access_log $tmp/nginx/status-$n.log st;"
    kill -HUP "$nginx_pid"
    sleep 1
    "$tinmoi" once -q -c "$d/tinmoi.conf" 2>/dev/null
    write_nginx_conf "access_log off;"
    kill -HUP "$nginx_pid"
    sleep 1
    echo "   nginx statuses in a verification all-304 cycle: $(sort "$tmp/nginx/status-$n.log" | uniq -c | awk '{ printf "%s x %s  ", $2, $1 }')" >&2

    cw=$(wall "curl-$n") sw=$(wall "sax-$n")
    floor=$(awk -v a="$cw" -v b="$sw" 'BEGIN { print a + b }')
    results+=("$(printf '| %6s | %8s | %8s | %7s s / %6s s / %6s MB | %5s | %7s s / %6s s / %6s MB | %5s |' \
        "$n" "$cw s" "$sw s" "$(wall "cold-$n")" "$(cpu "cold-$n")" "$(rss_mb "cold-$n")" \
        "$(ratio "$(wall "cold-$n")" "$floor")" \
        "$(wall "idle-$n")" "$(cpu "idle-$n")" "$(rss_mb "idle-$n")" \
        "$(ratio "$(wall "idle-$n")" "$cw")")")
    row[$n]="$cw $sw $(wall "cold-$n") $(wall "idle-$n") $(awk '{ print $4 }' "$tmp/cold-$n.time") $(awk '{ print $4 }' "$tmp/idle-$n.time")"
    extra[$n]="curl: cpu $(cpu "curl-$n") s, rss $(rss_mb "curl-$n") MB; sax walk: cpu $(cpu "sax-$n") s, rss $(rss_mb "sax-$n") MB"
done

echo
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(uname -r)"
echo "nginx $(nginx -v 2>&1 | sed 's/.*nginx\///'), $(curl --version | head -1 | cut -d' ' -f1-2), libxml2 $(xml2-config --version 2>/dev/null || echo '?')"
echo "tinmoi: concurrency 64, per_host 64 (all sources on one host); curl: --parallel-max 64 --compressed"
echo
echo "|      N | curl wall | SAX walk | tinmoi cold: wall / CPU / peak RSS | cold / (curl+SAX) | tinmoi all-304: wall / CPU / peak RSS | 304 / curl |"
echo "|-------:|----------:|---------:|-----------------------------------:|------:|--------------------------------------:|------:|"
for r in "${results[@]}"; do echo "$r"; done
echo
for n in $sizes; do echo "N=$n: ${extra[$n]}"; done

missed=false
for n in $sizes; do
    [ "$n" = 10000 ] || continue
    read -r cw sw cold idle crss irss <<<"${row[$n]}"
    awk -v c="$cold" -v a="$cw" -v s="$sw" 'BEGIN { exit !(c <= 2 * (a + s)) }' &&
        echo "target cold <= 2 x (curl + SAX) at 10000: met" ||
        { echo "target cold <= 2 x (curl + SAX) at 10000: MISSED"; missed=true; }
    awk -v i="$idle" -v a="$cw" 'BEGIN { exit !(i <= 1.5 * a) }' &&
        echo "target all-304 <= 1.5 x curl at 10000: met" ||
        { echo "target all-304 <= 1.5 x curl at 10000: MISSED"; missed=true; }
    if [ "$crss" -lt 102400 ] && [ "$irss" -lt 102400 ]; then
        echo "target peak RSS < 100 MB at 10000: met"
    else
        echo "target peak RSS < 100 MB at 10000: MISSED"; missed=true
    fi
done

if $phases || $missed; then
    echo
    echo "tinmoi phases (from the arrival time of its log lines):"
    for n in $sizes; do
        for run in cold idle; do
            echo "  N=$n $run:"
            phase_report "$run-$n"
        done
    done
fi
