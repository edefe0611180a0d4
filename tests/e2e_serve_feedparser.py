"""A feed reader subscribing over HTTP (issue 5): Debian's python3-feedparser
fetches /latest.atom from a running `tinmoi run`, reads it without a bozo
flag and with the entries of out_dir/latest.atom; its second fetch, sending
the ETag (and Last-Modified) it got, is answered 304 with no body."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import feedparser

BIN = os.environ["TINMOI_BIN"]
SRC = os.environ["TINMOI_SRC"]


def fail(msg, log=None):
    print("FAIL:", msg)
    if log and os.path.exists(log):
        print("--- daemon log")
        print(open(log, encoding="utf-8", errors="replace").read()[-3000:])
    sys.exit(1)


help_text = subprocess.run([BIN, "--help"], capture_output=True, text=True)
if " run" not in help_text.stdout + help_text.stderr:
    print(f"SKIP: {BIN} has no 'run' command (issue 4 not built in)")
    sys.exit(0)

work = tempfile.mkdtemp(prefix="tinmoi-e2e-feedparser.")
daemon = None
try:
    shutil.copytree(os.path.join(SRC, "feeds"), os.path.join(work, "feeds"))
    os.mkdir(os.path.join(work, "state"))
    os.mkdir(os.path.join(work, "out"))
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    base = f"http://127.0.0.1:{port}"
    conf = os.path.join(work, "feeds", "tinmoi.conf")
    lines = []
    for line in open(conf, encoding="utf-8"):
        if line.startswith("listen"):
            line = f"listen = 127.0.0.1:{port}\n"
        elif line.startswith("public_url"):
            line = f"public_url = {base}/\n"
        lines.append(line)
    open(conf, "w", encoding="utf-8").writelines(lines)
    n_sources = open(os.path.join(work, "feeds", "sources.opml"), encoding="utf-8").read().count("xmlUrl=")

    log = os.path.join(work, "daemon.log")
    daemon = subprocess.Popen([BIN, "run", "-c", conf], stdout=open(log, "w"), stderr=subprocess.STDOUT)
    deadline = time.time() + 15
    while time.time() < deadline:
        text = open(log, encoding="utf-8", errors="replace").read()
        if text.count(": ok") >= n_sources:
            try:
                urllib.request.urlopen(base + "/healthz", timeout=2).read()
                break
            except OSError:
                pass
        if daemon.poll() is not None:
            fail("tinmoi run exited", log)
        time.sleep(0.1)
    else:
        fail("the daemon never became ready", log)
    time.sleep(1.5)  # the coalesced publish after the last source

    d = feedparser.parse(base + "/latest.atom")
    if d.get("status") != 200:
        fail(f"first fetch: status {d.get('status')}", log)
    if d.bozo:
        fail(f"bozo: {d.bozo_exception}", log)
    local = feedparser.parse(os.path.join(work, "out", "latest.atom"))
    got = [(e.title, e.link, e.id) for e in d.entries]
    want = [(e.title, e.link, e.id) for e in local.entries]
    if not got or got != want:
        fail(f"served entries differ from out_dir/latest.atom:\n{got[:3]}\n{want[:3]}", log)
    if d.feed.get("language", "vi") != "vi" and "vi" not in str(d.feed.get("title_detail", {}).get("language")):
        fail(f"language: {d.feed.get('language')}", log)
    if not all(e.get("updated_parsed") for e in d.entries):
        fail("an entry without a parsed date", log)
    etag = d.get("etag")
    modified = d.get("modified")
    if not etag or not modified:
        fail(f"no ETag/Last-Modified seen by feedparser: {etag!r} {modified!r}", log)

    d2 = feedparser.parse(base + "/latest.atom", etag=etag, modified=modified)
    if d2.get("status") != 304:
        fail(f"second fetch with ETag {etag}: status {d2.get('status')}", log)
    if d2.entries:
        fail("a 304 with entries", log)
    # Only the ETag (the Last-Modified alone is checked by e2e_serve.sh).
    d3 = feedparser.parse(base + "/latest.atom", etag=etag)
    if d3.get("status") != 304:
        fail(f"fetch with the ETag only: status {d3.get('status')}", log)

    daemon.send_signal(signal.SIGTERM)
    rc = daemon.wait(timeout=10)
    daemon = None
    if rc != 0:
        fail(f"SIGTERM exit status {rc}", log)
    print(f"PASS: {len(got)} entries, ETag {etag}, second fetch 304")
finally:
    if daemon is not None:
        daemon.kill()
        daemon.wait()
    shutil.rmtree(work, ignore_errors=True)
