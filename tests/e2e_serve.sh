#!/bin/bash
# The HTTP endpoint of a running `tinmoi run` (issue 5), checked with curl:
# the served bytes are the bytes in out_dir; ETag/Last-Modified/304; gzip;
# HEAD; Cache-Control tied to the poll interval; CORS on the JSON; 404 for
# unknown and traversal paths; 405; /healthz; /metrics parsed by Debian's
# python3-prometheus-client; SIGTERM exits 0.
set -euo pipefail
. "$(dirname "$0")/serve_daemon.sh"

hdr() { # hdr FILE NAME -> value (case-insensitive), CR stripped
    grep -i "^$2:" "$1" | head -n 1 | cut -d: -f2- | sed 's/^ *//; s/\r$//'
}

for f in latest.atom snapshot.json district.atom district.json; do
    curl -s -D "$work/h" -o "$work/body" "$base/$f"
    grep -q '^HTTP/1.1 200' "$work/h" || fail "$f: $(head -n 1 "$work/h")"
    cmp -s "$work/body" "$work/out/$f" || fail "$f: served bytes differ from out_dir/$f"
    case $f in
    *.atom)
        [ "$(hdr "$work/h" Content-Type)" = "application/atom+xml; charset=utf-8" ] || fail "$f type"
        [ -z "$(hdr "$work/h" Access-Control-Allow-Origin)" ] || fail "$f: CORS on Atom"
        ;;
    *.json)
        [ "$(hdr "$work/h" Content-Type)" = "application/feed+json; charset=utf-8" ] || fail "$f type"
        [ "$(hdr "$work/h" Access-Control-Allow-Origin)" = "*" ] || fail "$f: no CORS"
        ;;
    esac
    etag=$(hdr "$work/h" ETag)
    [[ $etag =~ ^\"[0-9a-f]{16}\"$ ]] || fail "$f: ETag $etag"
    lm=$(hdr "$work/h" Last-Modified)
    [[ $lm =~ ^[A-Z][a-z]{2},\ [0-9]{2}\ [A-Z][a-z]{2}\ [0-9]{4}\ [0-9:]{8}\ GMT$ ]] || fail "$f: Last-Modified $lm"
    [ "$(hdr "$work/h" Cache-Control)" = "public, max-age=900" ] || fail "$f: Cache-Control (interval 15m)"
    [ "$(hdr "$work/h" Vary)" = "Accept-Encoding" ] || fail "$f: Vary"
    [ "$(hdr "$work/h" Content-Length)" = "$(stat -c %s "$work/out/$f")" ] || fail "$f: Content-Length"

    code=$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$base/$f")
    [ "$code" = 304 ] || fail "$f: If-None-Match gave $code"
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "If-Modified-Since: $lm" "$base/$f")
    [ "$code" = 304 ] || fail "$f: If-Modified-Since gave $code"
    code=$(curl -s -o /dev/null -w '%{http_code}' -H 'If-None-Match: "0000000000000000"' "$base/$f")
    [ "$code" = 200 ] || fail "$f: a stale ETag gave $code"

    curl -s --compressed -D "$work/hz" -o "$work/unzipped" "$base/$f"
    [ "$(hdr "$work/hz" Content-Encoding)" = gzip ] || fail "$f: not gzipped"
    cmp -s "$work/unzipped" "$work/out/$f" || fail "$f: gzip round trip differs"
    curl -s -D "$work/hq" -o /dev/null -H 'Accept-Encoding: gzip;q=0' "$base/$f"
    [ -z "$(hdr "$work/hq" Content-Encoding)" ] || fail "$f: gzip despite q=0"

    curl -s -I -o "$work/hh" "$base/$f"
    grep -q '^HTTP/1.1 200' "$work/hh" || fail "$f: HEAD"
    [ "$(hdr "$work/hh" Content-Length)" = "$(stat -c %s "$work/out/$f")" ] || fail "$f: HEAD length"
    [ "$(hdr "$work/hh" ETag)" = "$etag" ] || fail "$f: HEAD ETag"
done

# Each Atom feed's self link is its URL under public_url.
grep -q "<link rel=\"self\" type=\"application/atom+xml\" href=\"$base/latest.atom\"/>" \
    "$work/out/latest.atom" ||
    fail "latest.atom has no self link under public_url"

for p in /nope.atom /../latest.atom /%2e%2e/latest.atom /%252e%252e/snapshot.json \
    /..%2f..%2fetc%2fpasswd /etc/passwd //latest.atom /latest.atom/ /state/tinmoi.db; do
    code=$(curl -s --path-as-is -o /dev/null -w '%{http_code}' "$base$p")
    [ "$code" = 404 ] || fail "$p gave $code"
done
for m in POST PUT DELETE OPTIONS; do
    curl -s -X "$m" -D "$work/hm" -o /dev/null "$base/latest.atom"
    grep -q '^HTTP/1.1 405' "$work/hm" || fail "$m: $(head -n 1 "$work/hm")"
    [ "$(hdr "$work/hm" Allow)" = "GET, HEAD" ] || fail "$m: Allow"
done

curl -s -D "$work/hh" -o "$work/healthz" "$base/healthz"
grep -q '^HTTP/1.1 200' "$work/hh" || fail "healthz: $(head -n 1 "$work/hh")"
/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["status"]=="ok" and d["age_s"]>=0 and d["last_publish"].endswith("Z"), d' \
    "$work/healthz" || fail "healthz body"

curl -s -D "$work/hmet" -o "$work/metrics" "$base/metrics"
[ "$(hdr "$work/hmet" Content-Type)" = "text/plain; version=0.0.4; charset=utf-8" ] || fail "metrics type"
/usr/bin/python3 - "$work/metrics" "$n_sources" <<'PY' || fail "metrics do not parse as Prometheus text"
import sys
from prometheus_client.parser import text_string_to_metric_families
text = open(sys.argv[1], encoding="utf-8").read()
fams = {f.name: f for f in text_string_to_metric_families(text)}
need = {"tinmoi_fetch": "counter", "tinmoi_fetch_duration_seconds": "histogram",
        "tinmoi_items": "gauge", "tinmoi_stories": "gauge", "tinmoi_publish": "counter",
        "tinmoi_source_up": "gauge", "tinmoi_last_publish_timestamp_seconds": "gauge",
        "tinmoi_http_requests": "counter", "tinmoi_build_info": "gauge"}
for name, typ in need.items():
    assert name in fams, (name, sorted(fams))
    assert fams[name].type == typ, (name, fams[name].type)
ok = [s for s in fams["tinmoi_fetch"].samples if s.labels.get("outcome") == "ok"]
assert len({s.labels["source"] for s in ok}) == int(sys.argv[2]), ok
up = [s for s in fams["tinmoi_source_up"].samples]
assert all(s.value == 1 for s in up) and len(up) == int(sys.argv[2]), up
items = fams["tinmoi_items"].samples[0].value
assert items > 0, items
buckets = [s for s in fams["tinmoi_fetch_duration_seconds"].samples if s.name.endswith("_bucket")]
assert buckets[-1].labels["le"] == "+Inf" and buckets[-1].value >= len(ok)
codes = {s.labels["code"]: s.value for s in fams["tinmoi_http_requests"].samples if s.name.endswith("_total")}
assert codes.get("200", 0) > 0 and codes.get("304", 0) > 0 and codes.get("404", 0) > 0 and codes.get("405", 0) > 0, codes
print("metrics ok:", len(fams), "families,", int(items), "items")
PY

kill -TERM "$daemon_pid"
set +e
wait "$daemon_pid"
rc=$?
set -e
daemon_pid=
[ $rc -eq 0 ] || fail "SIGTERM exit status $rc"
echo "PASS"
