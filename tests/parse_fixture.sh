#!/bin/sh
# Runs `tinmoi parse` on one fixture document and compares its output with
# the expected JSON beside it (<name>.json). An optional <name>.url holds the
# document's address for --url; an optional <name>.exit the expected exit code
# (default 0).
set -u
bin=$1
doc=$2
base=${doc%.xml}
url=
[ -f "$base.url" ] && url=$(cat "$base.url")
want_rc=0
[ -f "$base.exit" ] && want_rc=$(cat "$base.exit")
out=$(mktemp)
trap 'rm -f "$out"' EXIT
if [ -n "$url" ]; then
    "$bin" parse --url "$url" "$doc" >"$out"
else
    "$bin" parse "$doc" >"$out"
fi
rc=$?
if [ "$rc" != "$want_rc" ]; then
    echo "exit code $rc, expected $want_rc" >&2
    cat "$out" >&2
    exit 1
fi
if ! diff -u "$base.json" "$out"; then
    echo "output differs from $base.json" >&2
    exit 1
fi
