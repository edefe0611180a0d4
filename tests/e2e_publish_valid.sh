#!/bin/bash
# The published outputs are valid for real consumers (issue 3 item 6):
#  - latest.atom and every <category>.atom validate against the RFC 4287
#    RELAX NG schema (tests/schema/atom.rnc, Appendix B) with Debian's jing,
#    after trang converts it to the XML syntax;
#  - Debian's python3-feedparser reads them with bozo false and sees the
#    titles, dates, links and sources of the JSON snapshot;
#  - snapshot.json and every <category>.json pass the JSON Feed 1.1 checker;
#  - publishing the same list again rewrites no file (same inode and mtime).
# The files come from test_publish, which publishes its hand-built merged
# list into $TM_SAMPLE_OUT.
set -euo pipefail

: "${TINMOI_SRC:?}" "${TINMOI_BUILD:?}"
PY=/usr/bin/python3
for tool in jing trang; do
    command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed (apt-get install $tool)"; exit 1; }
done
"$PY" -c 'import feedparser' 2>/dev/null ||
    { echo "FAIL: python3-feedparser is not installed"; exit 1; }

work=$(mktemp -d /tmp/tinmoi-e2e-publish.XXXXXX)
trap 'rm -rf "$work"' EXIT
out="$work/out"
mkdir "$out"

TM_SAMPLE_OUT="$out" "$TINMOI_BUILD/tests/test_publish" >"$work/test.log" 2>&1 ||
    { cat "$work/test.log"; echo "FAIL: test_publish"; exit 1; }
grep -q 'OK \] test_sample_out' "$work/test.log" || { cat "$work/test.log"; echo "FAIL: no sample"; exit 1; }

trang -I rnc -O rng "$TINMOI_SRC/tests/schema/atom.rnc" "$work/atom.rng"

fail=0
atoms=("$out"/*.atom)
[ "${#atoms[@]}" -ge 4 ] || { echo "FAIL: expected latest.atom and 3 category feeds"; exit 1; }
for feed in "${atoms[@]}"; do
    name=$(basename "$feed" .atom)
    if jing "$work/atom.rng" "$feed"; then
        echo "ok: $name.atom is valid RFC 4287"
    else
        echo "FAIL: $name.atom does not validate"; fail=1
    fi
    json="$out/$name.json"
    [ "$name" = latest ] && json="$out/snapshot.json"
    if "$PY" "$TINMOI_SRC/tests/check_atom.py" "$feed" "$json"; then
        echo "ok: feedparser reads $name.atom as the snapshot says"
    else
        fail=1
    fi
done
"$PY" "$TINMOI_SRC/tests/check_atom.py" "$out/latest.atom" "$out/snapshot.json" "Tin mới nhất" || fail=1

for json in "$out"/*.json; do
    if "$PY" "$TINMOI_SRC/tests/check_jsonfeed.py" "$json"; then
        echo "ok: $(basename "$json") is JSON Feed 1.1 with the _tinmoi fields"
    else
        fail=1
    fi
done

# The validator must be able to fail: a feed without its id is rejected.
sed '0,/<id>/{/<id>/d}' "$out/latest.atom" >"$work/broken.atom"
if jing "$work/atom.rng" "$work/broken.atom" >/dev/null 2>&1; then
    echo "FAIL: jing accepted a feed without atom:id"; fail=1
fi

# Idle cycle: publishing the same list again touches nothing.
stat -c '%n %i %Y' "$out"/* >"$work/before"
sleep 1
TM_SAMPLE_OUT="$out" "$TINMOI_BUILD/tests/test_publish" >"$work/test2.log" 2>&1 ||
    { cat "$work/test2.log"; echo "FAIL: test_publish (second run)"; exit 1; }
stat -c '%n %i %Y' "$out"/* >"$work/after"
if diff "$work/before" "$work/after"; then
    echo "ok: an idle publish rewrites no file"
else
    echo "FAIL: an idle publish rewrote files"; fail=1
fi
ls -A "$out" | grep -q '^\.' && { echo "FAIL: temporary files left in out_dir"; fail=1; }

exit $fail
