#!/usr/bin/python3
"""Reads a tinmoi Atom feed with Debian's python3-feedparser, as a feed
reader would, and checks what it sees against the JSON snapshot rendered
from the same merged list: same entries in the same order, same titles,
links, dates and sources.

Usage: check_atom.py FEED.atom SNAPSHOT.json [EXPECTED_TITLE]
Prints every problem and exits 1 when there is any."""
import calendar
import json
import sys
from datetime import datetime

import feedparser

problems = []


def bad(where, msg):
    problems.append(f"{where}: {msg}")


def epoch(struct_time):
    return calendar.timegm(struct_time) if struct_time else None


def rfc3339_epoch(s):
    return int(datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp())


def main():
    if len(sys.argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        return 2
    atom_path, json_path = sys.argv[1], sys.argv[2]
    with open(atom_path, "rb") as f:
        d = feedparser.parse(f.read())
    with open(json_path, encoding="utf-8") as f:
        snap = json.load(f)

    if d.bozo:
        bad("feed", f"bozo: {d.get('bozo_exception')!r}")
    if d.version != "atom10":
        bad("feed", f"feedparser sees {d.version!r}, not atom10")
    feed = d.feed
    if feed.get("title") != snap["title"]:
        bad("feed.title", f"{feed.get('title')!r} != {snap['title']!r}")
    if len(sys.argv) == 4 and feed.get("title") != sys.argv[3]:
        bad("feed.title", f"{feed.get('title')!r} != expected {sys.argv[3]!r}")
    if feed.get("language") != "vi":
        bad("feed.language", f"{feed.get('language')!r}")
    links = {l.get("rel"): l.get("href") for l in feed.get("links", [])}
    base = snap["home_page_url"]
    self_name = json_path.rsplit("/", 1)[-1].replace(".json", ".atom").replace(
        "snapshot.atom", "latest.atom")
    if links.get("self") != base + self_name:
        bad("feed.link[self]", f"{links.get('self')!r} != {base + self_name!r}")
    if links.get("alternate") != base:
        bad("feed.link[alternate]", f"{links.get('alternate')!r}")
    if feed.get("id") != base + self_name:
        bad("feed.id", f"{feed.get('id')!r}")
    if not feed.get("author"):
        bad("feed.author", "missing")

    items = snap["items"]
    if len(d.entries) != len(items):
        bad("feed", f"{len(d.entries)} entries, snapshot has {len(items)} items")
    newest = None
    for i, (e, it) in enumerate(zip(d.entries, items)):
        where = f"entry[{i}] {it['id']}"
        if e.get("id") != it["id"]:
            bad(where, f"id {e.get('id')!r}")
        if e.get("title", "") != it.get("title", ""):
            bad(where, f"title {e.get('title')!r} != {it.get('title')!r}")
        # feedparser falls back to the id for `link`; look at the links.
        alternates = [l.get("href") for l in e.get("links", []) if l.get("rel") == "alternate"]
        if alternates != ([it["url"]] if "url" in it else []):
            bad(where, f"alternate links {alternates!r} != {it.get('url')!r}")
        if epoch(e.get("published_parsed")) != rfc3339_epoch(it["date_published"]):
            bad(where, f"published {e.get('published')!r} != {it['date_published']}")
        updated = epoch(e.get("updated_parsed"))
        if updated is None or updated < epoch(e.get("published_parsed")):
            bad(where, f"updated {e.get('updated')!r} before published")
        if "date_modified" in it and updated != max(rfc3339_epoch(it["date_modified"]),
                                                    rfc3339_epoch(it["date_published"])):
            bad(where, f"updated {e.get('updated')!r} != {it['date_modified']}")
        newest = updated if newest is None else max(newest, updated)
        if "content_html" in it:
            content = (e.get("content") or [{}])[0]
            if content.get("value") is None:
                bad(where, "no content")
            elif content.get("type") != "text/html":
                bad(where, f"content type {content.get('type')!r}")
        src = e.get("source") or {}
        want = it["_tinmoi"]["source"]
        if src.get("title") != want["title"]:
            bad(where, f"source title {src.get('title')!r} != {want['title']!r}")
        if src.get("id") != want["url"]:
            bad(where, f"source id {src.get('id')!r} != {want['url']!r}")
        tags = [t.get("term") for t in e.get("tags", [])]
        if tags != it.get("tags", []):
            bad(where, f"categories {tags!r} != {it.get('tags')!r}")
    feed_updated = epoch(feed.get("updated_parsed"))
    if newest is not None and feed_updated != newest:
        bad("feed.updated", f"{feed.get('updated')!r} is not the newest entry's")

    for p in problems:
        print(f"{atom_path}: {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
