#!/bin/bash
# `tinmoi status` (SPEC §3): one line per configured source from the store.
#  - before any cycle every source is "never" with no items;
#  - after `tinmoi once` on the bundled demo feeds each is "ok" with items
#    and an RFC 3339 last_success;
#  - a failing source shows its failure count and quoted last_error;
#  - a missing state_dir is a clear error (exit 1); usage errors exit 2.
set -euo pipefail

: "${TINMOI_BIN:?}" "${TINMOI_SRC:?}"
work=$(mktemp -d /tmp/tinmoi-e2e-status.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp -r "$TINMOI_SRC/feeds" "$work/feeds"
mkdir "$work/state" "$work/out"
conf="$work/feeds/tinmoi.conf"
# No HTTP server for a one-shot cycle.
sed -i 's|^listen.*|listen =|' "$conf"

fail() {
    echo "FAIL: $*"
    exit 1
}

"$TINMOI_BIN" status --help | grep -q '^usage: tinmoi status' || fail "--help"
"$TINMOI_BIN" status --version | grep -q '^tinmoi ' || fail "--version"
set +e
"$TINMOI_BIN" status --bogus >/dev/null 2>&1
[ $? -eq 2 ] || fail "a bad option must exit 2"
set -e

n_sources=$(grep -c 'xmlUrl=' "$work/feeds/sources.opml")
"$TINMOI_BIN" status -c "$conf" >"$work/before.txt"
[ "$(wc -l <"$work/before.txt")" -eq "$n_sources" ] || { cat "$work/before.txt"; fail "one line per source"; }
grep -qv '  never  items=0  last_success=never  failures=0$' "$work/before.txt" &&
    { cat "$work/before.txt"; fail "sources before the first cycle must be never"; }

"$TINMOI_BIN" once -c "$conf" >"$work/once.log" 2>&1 || { cat "$work/once.log"; fail "tinmoi once"; }
"$TINMOI_BIN" status -c "$conf" >"$work/after.txt"
cat "$work/after.txt"
[ "$(wc -l <"$work/after.txt")" -eq "$n_sources" ] || fail "one line per source after the cycle"
if grep -Ev '^[a-z0-9-]+  ok  items=[1-9][0-9]*  last_success=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z  failures=0$' \
    "$work/after.txt"; then
    fail "every demo source must be ok with items"
fi

# Break the first source's feed file: the next cycle records the failure and
# status shows it, with the items kept.
first=$(head -n 1 "$work/after.txt" | cut -d' ' -f1)
items=$(head -n 1 "$work/after.txt" | sed -E 's/.*items=([0-9]+).*/\1/')
url=$(/usr/bin/python3 - "$work/feeds/sources.opml" "$first" <<'PY'
import sys
import xml.etree.ElementTree as ET
for o in ET.parse(sys.argv[1]).iter("outline"):
    if o.get("id") == sys.argv[2]:
        print(o.get("xmlUrl"))
PY
)
case "$url" in
http*) echo "skip failure check: $first is fetched over HTTP" ;;
*)
    file="$work/feeds/${url#file://}"
    [ -f "$file" ] || file="${url#file://}"
    [ -f "$file" ] || fail "cannot find the feed file of $first ($url)"
    echo '<html><body>not a feed</body></html>' >"$file"
    "$TINMOI_BIN" once -c "$conf" >"$work/once2.log" 2>&1 || { cat "$work/once2.log"; fail "second once"; }
    "$TINMOI_BIN" status -c "$conf" >"$work/failed.txt"
    grep -E "^$first  error  items=$items  last_success=[0-9T:Z-]+  failures=1  last_error=\".+\"$" \
        "$work/failed.txt" >/dev/null || { cat "$work/failed.txt"; fail "failure not shown"; }
    ;;
esac

rm -rf "$work/state"
set +e
"$TINMOI_BIN" status -c "$conf" >"$work/out.txt" 2>"$work/err.txt"
rc=$?
set -e
[ $rc -eq 1 ] || fail "a missing state_dir must exit 1 (got $rc)"
grep -q "state_dir .*state: No such file or directory" "$work/err.txt" || { cat "$work/err.txt"; fail "message"; }
echo "PASS"
