#!/bin/bash
# The operators' status page at / of a running `tinmoi run` (issue 5),
# loaded in Debian's headless Chromium: its text holds the "Tin mới nhất"
# box as the portal shows it (headline, then "(dd/mm/yyyy h:mm SA|CH)") for
# the ids in snapshot.json's _tinmoi.latest, and the table of sources; the
# page has no script and no external asset. The screenshot is kept in the
# build folder as a test artifact (status_page.png).
set -euo pipefail
. "$(dirname "$0")/serve_daemon.sh"

command -v chromium >/dev/null || fail "chromium is not installed (apt-get install chromium)"
artifacts=${TINMOI_BUILD:-$work}/artifacts
mkdir -p "$artifacts"

curl -s -D "$work/h" -o "$work/page.html" "$base/"
grep -q '^HTTP/1.1 200' "$work/h" || fail "/: $(head -n 1 "$work/h")"
grep -qi '^content-type: text/html; charset=utf-8' "$work/h" || fail "/: content type"
grep -qi '<script' "$work/page.html" && fail "the page has a script"
grep -Eo '<(link|img|script|iframe)[^>]*>' "$work/page.html" && fail "external asset element"

chrome() {
    local profile
    profile=$(mktemp -d "$work/chrome.XXXXXX")
    timeout 60 chromium --headless --no-sandbox --disable-gpu --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$profile" "$@" 2>>"$work/chrome.log"
}
chrome --dump-dom "$base/" >"$work/dom.html" || { tail -20 "$work/chrome.log"; fail "chromium --dump-dom"; }
chrome --screenshot="$artifacts/status_page.png" --window-size=1280,1600 "$base/" >/dev/null ||
    { tail -20 "$work/chrome.log"; fail "chromium --screenshot"; }
[ -s "$artifacts/status_page.png" ] || fail "no screenshot"

/usr/bin/python3 - "$work/dom.html" "$work/out/snapshot.json" <<'PY' || fail "the rendered page does not match snapshot.json"
import html.parser
import json
import re
import sys

class Text(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.section = None
        self.box = []
        self.rows = []
        self.cell = None
        self.li = None
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section" and a.get("id") == "latest":
            self.section = "box"
        elif tag == "table" and a.get("id") == "sources":
            self.section = "table"
        elif tag == "li" and self.section == "box":
            self.li = ""
        elif tag == "tr" and self.section == "table":
            self.rows.append([])
        elif tag in ("td", "th") and self.section == "table":
            self.cell = ""
    def handle_endtag(self, tag):
        if tag == "li" and self.li is not None:
            self.box.append(" ".join(self.li.split()))
            self.li = None
        elif tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append(" ".join(self.cell.split()))
            self.cell = None
        elif tag in ("section", "table"):
            self.section = None
    def handle_data(self, data):
        if self.li is not None:
            self.li += data
        if self.cell is not None:
            self.cell += data

dom = open(sys.argv[1], encoding="utf-8").read()
snap = json.load(open(sys.argv[2], encoding="utf-8"))
t = Text()
t.feed(dom)
assert "Tin mới nhất" in dom
items = {i["id"]: i for i in snap["items"]}
want = [f'{items[i]["title"]} ({items[i]["_tinmoi"]["display_date"]})' for i in snap["_tinmoi"]["latest"]]
want = [" ".join(w.split()) for w in want]
assert t.box == want, (t.box[:3], want[:3])
for line in t.box:
    assert re.search(r"\(\d{2}/\d{2}/\d{4} \d{1,2}:\d{2} (SA|CH)\)$", line), line
assert "(31/05/2022 10:55 SA)" in " ".join(t.box), t.box
header, *rows = t.rows
assert header[:6] == ["Nguồn", "Chuyên mục", "Trạng thái", "Lần thành công cuối", "Lỗi gần nhất", "Số tin"], header
srcs = snap["_tinmoi"]["sources"]
assert len(rows) == len(srcs), (len(rows), len(srcs))
for row, s in zip(rows, srcs):
    assert row[0] == s["title"], (row, s)
    assert row[2].startswith(s["status"]), (row, s)
    assert row[5] == str(s["item_count"]), (row, s)
    assert re.fullmatch(r"\d{2}/\d{2}/\d{4} \d{1,2}:\d{2} (SA|CH)", row[3]), row
print(f"page ok: {len(t.box)} headlines, {len(rows)} sources")
PY
echo "PASS (screenshot: $artifacts/status_page.png)"
