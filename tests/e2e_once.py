#!/usr/bin/python3
"""End to end: `tinmoi once` against a loopback HTTP server this test starts
(127.0.0.1, ephemeral port), as issue 3 item 8 asks:

  - district, province and ministry feeds carrying the same stories (one
    through tracking links, one through an NFD title, one through a near-
    identical title) merge into one list with `also_in`;
  - 200 with validators, then 304 on the second cycle (no parse, no change);
  - gzip, a 301 redirect, 404, 500, a timeout, an oversized body, HTML
    instead of a feed: each source marked `error` with a one-line reason,
    while the cycle still publishes (exit 0) with every stored item;
  - guid churn (every guid new, links and titles kept) creates no new items;
  - hostile HTML in a summary, stored as the feed gave it, is published
    sanitised, its relative link made absolute;
  - an idle cycle rewrites no Atom file;
  - a broken config or a missing out_dir is refused (exit 1) and the
    previous outputs stay intact.

Needs TINMOI_BIN (the program); runs under Debian's /usr/bin/python3.
"""
import gzip
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import unicodedata
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BIN = os.environ["TINMOI_BIN"]
failures = []


def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        failures.append(what)


def rss(title, items, guid_suffix=""):
    out = ['<?xml version="1.0" encoding="utf-8"?>',
           '<rss version="2.0"><channel>',
           f"<title>{title}</title><link>https://example.gov.vn/</link>",
           "<language>vi</language>"]
    for guid, t, link, date in items:
        out.append(f"<item><guid isPermaLink=\"false\">{guid}{guid_suffix}</guid>"
                   f"<title>{t}</title><link>{link}</link>"
                   f"<pubDate>{date}</pubDate><description>&lt;p&gt;{t}&lt;/p&gt;</description></item>")
    out.append("</channel></rss>")
    return "\n".join(out).encode()


HOADON = "NHỮNG LỢI ÍCH KHI SỬ DỤNG HÓA ĐƠN ĐIỆN TỬ"
HOADON_LINK = "https://thanhhoa.gov.vn/tin/hoa-don-dien-tu"
IPV6 = "KHÁI NIỆM IPV6 LÀ GÌ? TỔNG HỢP KIẾN THỨC VỀ IPV6"
XAYDUNG = "Kế hoạch chuyển đổi số ngành xây dựng"
YTE = "Kế hoạch chuyển đổi số ngành y tế"

DISTRICT = rss("Huyện Như Thanh", [
    ("nt-1", HOADON, HOADON_LINK + "?utm_source=nhuthanh&utm_medium=rss", "31/05/2022 10:55 SA"),
    ("nt-2", unicodedata.normalize("NFD", IPV6), "https://nhuthanh.gov.vn/ipv6", "17/05/2022 10:41 SA"),
    ("nt-3", XAYDUNG, "https://nhuthanh.gov.vn/xay-dung", "18/12/2021 10:37 CH"),
])
PROVINCE = rss("Tỉnh Thanh Hóa", [
    ("th-1", HOADON, HOADON_LINK, "Tue, 31 May 2022 10:55:00 +0700"),
    ("th-2", YTE, "https://thanhhoa.gov.vn/tin/y-te", "Sat, 18 Dec 2021 09:00:00 +0700"),
])
MINISTRY = ('<?xml version="1.0" encoding="utf-8"?>\n'
            '<feed xmlns="http://www.w3.org/2005/Atom"><title>Bộ TT&amp;TT</title>'
            '<id>urn:x-test:mic</id><updated>2022-05-17T03:41:00Z</updated>'
            '<entry><id>urn:x-test:mic:1</id>'
            f'<title>{IPV6.lower()}!</title>'
            '<link href="https://mic.gov.vn/ipv6"/><updated>2022-05-17T03:41:00Z</updated>'
            '<summary type="html">&lt;p onclick="steal()"&gt;IPv6 &lt;a href="tin/ipv6"&gt;xem&lt;/a&gt; '
            '&lt;a href="javascript:alert(1)"&gt;j&lt;/a&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;/p&gt;'
            '</summary></entry></feed>').encode()
CHURN_ITEMS = [("c-1", "Tin riêng của huyện Triệu Sơn", "https://trieuson.gov.vn/a", "01/05/2022 08:00"),
               ("c-2", "Lịch tiếp công dân tháng 5", "https://trieuson.gov.vn/b", "02/05/2022 08:00")]
HTML = b"<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>checking</body></html>"


class State:
    lock = threading.Lock()
    hits = {}
    churn = 0


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, status, body=b"", ctype="application/rss+xml; charset=utf-8", headers=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        path = self.path.split("?")[0]
        with State.lock:
            State.hits[path] = State.hits.get(path, 0) + 1
        if path == "/district.xml":
            if self.headers.get("If-None-Match") == '"d1"':
                with State.lock:
                    State.hits["304"] = State.hits.get("304", 0) + 1
                return self.send(304, headers=[("ETag", '"d1"')])
            return self.send(200, DISTRICT, headers=[("ETag", '"d1"')])
        if path == "/province.xml":
            if "gzip" not in self.headers.get("Accept-Encoding", ""):
                return self.send(406, b"gzip only")
            return self.send(200, gzip.compress(PROVINCE), headers=[("Content-Encoding", "gzip")])
        if path == "/ministry-old.atom":
            return self.send(301, b"", "text/plain", [("Location", "/ministry.atom")])
        if path == "/ministry.atom":
            return self.send(200, MINISTRY, "application/atom+xml")
        if path == "/churn.xml":
            with State.lock:
                State.churn += 1
                n = State.churn
            return self.send(200, rss("Huyện Triệu Sơn", CHURN_ITEMS, guid_suffix=f"-v{n}"))
        if path == "/broken":
            return self.send(500, b"<h1>Internal Server Error</h1>", "text/html")
        if path == "/slow.xml":
            time.sleep(4)
            return self.send(200, DISTRICT)
        if path == "/huge.xml":
            body = rss("Huge", [(f"h{i}", f"Tin {i} " + "x" * 200, f"https://h.vn/{i}", "01/05/2022")
                                for i in range(2000)])
            return self.send(200, body)
        if path == "/gone.xml":
            return self.send(410, b"gone", "text/plain")
        if path == "/html":
            return self.send(200, HTML, "text/html; charset=utf-8")
        return self.send(404, b"not found", "text/plain")


def opml(port):
    base = f"http://127.0.0.1:{port}"
    rows = [("huyen-nhu-thanh", "Huyện Như Thanh", "/district.xml", "district", 0),
            ("tinh-thanh-hoa", "Tỉnh Thanh Hóa", "/province.xml", "province", 10),
            ("bo-tttt", "Bộ Thông tin và Truyền thông", "/ministry-old.atom", "ministry", 5),
            ("huyen-trieu-son", "Huyện Triệu Sơn", "/churn.xml", "district", 0),
            ("missing", "Nguồn mất", "/missing.xml", "district", 0),
            ("broken", "Nguồn lỗi", "/broken", "district", 0),
            ("slow", "Nguồn chậm", "/slow.xml", "district", 0),
            ("huge", "Nguồn quá lớn", "/huge.xml", "district", 0),
            ("html", "Trang chống bot", "/html", "district", 0),
            ("gone", "Nguồn đã gỡ", "/gone.xml", "district", 0)]
    out = ['<?xml version="1.0" encoding="utf-8"?>', '<opml version="2.0"><head><title>t</title></head><body>']
    for sid, text, path, cat, prio in rows:
        out.append(f'<outline type="rss" id="{sid}" text="{text}" xmlUrl="{base}{path}" '
                   f'category="{cat}" priority="{prio}"/>')
    out.append("</body></opml>")
    return "\n".join(out)


CONF = """[tinmoi]
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
concurrency  = 8
per_host     = 8
timeout      = 2s
max_body     = 65536

[http]
listen       =
"""


def run(conf, *extra):
    return subprocess.run([BIN, "once", "-q", "-c", conf, *extra], capture_output=True, text=True, timeout=60)


def atom_stats(out):
    return {f: (os.stat(os.path.join(out, f)).st_ino, os.stat(os.path.join(out, f)).st_mtime_ns)
            for f in sorted(os.listdir(out)) if f.endswith(".atom")}


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    work = tempfile.mkdtemp(prefix="tinmoi-e2e-once.")
    try:
        os.makedirs(os.path.join(work, "state"))
        os.makedirs(os.path.join(work, "out"))
        conf = os.path.join(work, "tinmoi.conf")
        with open(conf, "w") as f:
            f.write(CONF)
        with open(os.path.join(work, "sources.opml"), "w") as f:
            f.write(opml(port))

        t0 = time.monotonic()
        r = run(conf)
        check(r.returncode == 0, f"first cycle exits 0 though some sources fail (got {r.returncode}: {r.stderr[-500:]})")
        check(time.monotonic() - t0 < 30, "the slow source is cut by the timeout")
        out = os.path.join(work, "out")
        for f in ("latest.atom", "snapshot.json", "district.atom", "district.json",
                  "province.atom", "province.json", "ministry.atom", "ministry.json"):
            check(os.path.exists(os.path.join(out, f)), f"{f} published")
        snap = json.load(open(os.path.join(out, "snapshot.json")))
        src = {s["id"]: s for s in snap["_tinmoi"]["sources"]}
        for sid in ("huyen-nhu-thanh", "tinh-thanh-hoa", "bo-tttt", "huyen-trieu-son"):
            check(src[sid]["status"] == "ok", f"{sid} ok (gzip, 301 and plain 200 all fetched): {src[sid]}")
        for sid, word in (("missing", "404"), ("broken", "500"), ("slow", "time"),
                          ("huge", "max_body"), ("html", "html")):
            s = src[sid]
            err = (s["last_error"] or "")
            check(s["status"] == "error" and word.lower() in err.lower() and "\n" not in err,
                  f"{sid} is an error with a one-line reason naming '{word}': {err!r}")
            check(s["consecutive_failures"] == 1, f"{sid} counts one failure")
        g = src["gone"]
        check(g["status"] == "error" and g["last_error"] == "410 Gone: polling stopped"
              and g["consecutive_failures"] == 1, f"a 410 is recorded once, as gone: {g}")
        titles = [i["title"] for i in snap["items"]]
        check(titles.count(HOADON) == 1, "the story carried with tracking links appears once")
        hd = next(i for i in snap["items"] if i["title"] == HOADON)
        check(hd["_tinmoi"]["source"]["id"] == "tinh-thanh-hoa", "the province (priority 10) is its primary")
        check([a["id"] for a in hd["_tinmoi"]["also_in"]] == ["huyen-nhu-thanh"], "also_in names the district")
        check(hd["_tinmoi"]["display_date"] == "31/05/2022 10:55 SA", "display date as the portal shows it")
        ipv6 = [i for i in snap["items"] if unicodedata.normalize("NFC", i["title"]).casefold().startswith("khái niệm ipv6")]
        check(len(ipv6) == 1, "the NFD title and the lower-case, punctuated title are one story")
        check(ipv6 and len(ipv6[0]["_tinmoi"]["also_in"]) == 1, "that story lists the other source")
        check(XAYDUNG in titles and YTE in titles, "'ngành xây dựng' and 'ngành y tế' stay two stories")
        check(len(snap["items"]) == 6, f"6 stories from 8 items (got {len(snap['items'])})")
        check(snap["_tinmoi"]["latest"] == [i["id"] for i in snap["items"]][:8], "latest lists the box's ids")
        # The store keeps summaries raw and sanitises them when it reads them.
        db = sqlite3.connect(os.path.join(work, "state", "tinmoi.db"))
        raw = db.execute("SELECT count(*) FROM item_bodies WHERE raw_html != 0"
                         " AND summary LIKE '%<script>%'").fetchone()[0]
        db.close()
        check(raw == 1, f"the hostile summary is stored as the feed gave it ({raw})")
        published = "".join(open(os.path.join(out, f), encoding="utf-8").read() for f in os.listdir(out))
        for bad in ("script", "onclick", "javascript", "steal"):
            check(bad not in published, f"no '{bad}' in any published file")
        ipv6_html = ipv6[0]["content_html"] if ipv6 else ""
        check(f'<a href="http://127.0.0.1:{port}/tin/ipv6">xem</a>' in ipv6_html,
              f"the summary's relative link is made absolute: {ipv6_html!r}")
        ids1 = {i["title"]: i["id"] for i in snap["items"]}
        churn_count = src["huyen-trieu-son"]["item_count"]
        before = atom_stats(out)

        r = run(conf)
        check(r.returncode == 0, f"second cycle exits 0 ({r.stderr[-300:]})")
        check(State.hits.get("304", 0) == 1, "the district answered 304 to the stored ETag")
        snap2 = json.load(open(os.path.join(out, "snapshot.json")))
        src2 = {s["id"]: s for s in snap2["_tinmoi"]["sources"]}
        check(src2["huyen-trieu-son"]["item_count"] == churn_count == 2,
              f"guid churn with the same links and titles creates no items ({src2['huyen-trieu-son']['item_count']})")
        check(src2["huyen-nhu-thanh"]["status"] == "ok", "a 304 is a success")
        check(src2["missing"]["consecutive_failures"] == 2, "failures keep counting")
        check(State.hits.get("/gone.xml") == 1 and src2["gone"]["consecutive_failures"] == 1,
              "a source gone (410) is not polled again")
        check({i["title"]: i["id"] for i in snap2["items"]} == ids1, "entry ids are stable across cycles")
        check(atom_stats(out) == before, "an idle cycle rewrites no Atom file")

        # A broken config changes nothing.
        with open(os.path.join(work, "bad.conf"), "w") as f:
            f.write(CONF.replace("items_limit  = 50", "items_limit  = 50\nbogus = 1"))
        saved = open(os.path.join(out, "snapshot.json"), "rb").read()
        r = run(os.path.join(work, "bad.conf"))
        check(r.returncode == 1 and "bad.conf:9:" in r.stderr and "bogus" in r.stderr,
              f"unknown key refused with FILE:LINE ({r.returncode}, {r.stderr.strip()[:200]})")
        check(open(os.path.join(out, "snapshot.json"), "rb").read() == saved, "outputs intact after a bad config")

        # A missing out_dir is fatal before anything is fetched.
        hits = dict(State.hits)
        with open(os.path.join(work, "noout.conf"), "w") as f:
            f.write(CONF.replace("out_dir      = out", "out_dir      = nowhere"))
        r = run(os.path.join(work, "noout.conf"))
        check(r.returncode == 1 and "nowhere" in r.stderr, f"missing out_dir is fatal and named ({r.stderr.strip()[:200]})")
        check(State.hits == hits, "nothing was fetched for a cycle that cannot publish")
    finally:
        server.shutdown()
        shutil.rmtree(work, ignore_errors=True)
    print(f"{len(failures)} problem(s)" if failures else "all checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
