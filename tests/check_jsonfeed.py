#!/usr/bin/python3
"""Checks a tinmoi JSON snapshot against the JSON Feed 1.1 rules
(https://jsonfeed.org/version/1.1) and the `_tinmoi` fields of SPEC §6.

Usage: check_jsonfeed.py FILE [--utc-offset +07:00]
Prints every problem and exits 1 when there is any."""
import json
import re
import sys
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
DISPLAY = re.compile(r"^\d{2}/\d{2}/\d{4} (1[0-2]|[1-9]):[0-5]\d (SA|CH)$")
TOP_KEYS = {"version", "title", "home_page_url", "feed_url", "description",
            "user_comment", "next_url", "icon", "favicon", "authors", "author",
            "language", "expired", "hubs", "items"}
ITEM_KEYS = {"id", "url", "external_url", "title", "content_html", "content_text",
             "summary", "image", "banner_image", "date_published", "date_modified",
             "authors", "author", "tags", "language", "attachments"}
STATUSES = {"ok", "error", "never"}

problems = []


def bad(where, msg):
    problems.append(f"{where}: {msg}")


def parse_date(where, value):
    if not isinstance(value, str) or not RFC3339.match(value):
        bad(where, f"not an RFC 3339 date: {value!r}")
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))


def check_url(where, value):
    if not isinstance(value, str):
        bad(where, f"not a string: {value!r}")
        return
    parts = urlsplit(value)
    if not parts.scheme or not parts.netloc:
        bad(where, f"not an absolute URL: {value!r}")


def check_str(where, value, nullable=False):
    if value is None and nullable:
        return
    if not isinstance(value, str):
        bad(where, f"not a string: {value!r}")


def check_extension_keys(where, obj, known):
    for key in obj:
        if key not in known and not key.startswith("_"):
            bad(where, f"unknown key {key!r} (extensions must start with '_')")


def portal_date(dt, offset):
    local = dt.astimezone(timezone(offset))
    hour = local.hour % 12 or 12
    half = "SA" if local.hour < 12 else "CH"
    return f"{local:%d/%m/%Y} {hour}:{local:%M} {half}"


def check_source_ref(where, ref, keys):
    if not isinstance(ref, dict):
        bad(where, "not an object")
        return
    for key in keys:
        if key not in ref:
            bad(where, f"missing {key}")
    check_str(f"{where}.id", ref.get("id"))
    check_str(f"{where}.title", ref.get("title"), nullable=True)
    if ref.get("url") is not None:
        check_url(f"{where}.url", ref.get("url"))


def check_item(i, item, offset):
    where = f"items[{i}]"
    if not isinstance(item, dict):
        bad(where, "not an object")
        return None
    check_extension_keys(where, item, ITEM_KEYS)
    if not isinstance(item.get("id"), str) or not item["id"]:
        bad(where, "id must be a non-empty string")
    if "content_html" not in item and "content_text" not in item:
        bad(where, "needs content_html or content_text")
    for key in ("content_html", "content_text", "title", "summary"):
        if key in item:
            check_str(f"{where}.{key}", item[key])
    if "url" in item:
        check_url(f"{where}.url", item["url"])
    published = None
    if "date_published" in item:
        published = parse_date(f"{where}.date_published", item["date_published"])
    else:
        bad(where, "no date_published")
    if "date_modified" in item:
        parse_date(f"{where}.date_modified", item["date_modified"])
    if "authors" in item:
        authors = item["authors"]
        if not isinstance(authors, list) or not authors:
            bad(f"{where}.authors", "must be a non-empty array")
        else:
            for a in authors:
                if not isinstance(a, dict) or not any(k in a for k in ("name", "url", "avatar")):
                    bad(f"{where}.authors", f"author needs name, url or avatar: {a!r}")
    if "tags" in item:
        if not isinstance(item["tags"], list) or not all(isinstance(t, str) for t in item["tags"]):
            bad(f"{where}.tags", "must be an array of strings")
    ext = item.get("_tinmoi")
    if not isinstance(ext, dict):
        bad(where, "no _tinmoi object")
        return item.get("id")
    check_source_ref(f"{where}._tinmoi.source", ext.get("source"),
                     ("id", "title", "url", "category"))
    if "category" not in ext:
        bad(f"{where}._tinmoi", "missing category")
    display = ext.get("display_date")
    if not isinstance(display, str) or not DISPLAY.match(display):
        bad(f"{where}._tinmoi.display_date", f"not dd/mm/yyyy h:mm SA|CH: {display!r}")
    elif published is not None and display != portal_date(published, offset):
        bad(f"{where}._tinmoi.display_date",
            f"{display!r} is not date_published {item['date_published']} at {offset}")
    also = ext.get("also_in")
    if not isinstance(also, list):
        bad(f"{where}._tinmoi.also_in", "must be an array")
    else:
        seen = set()
        own = (ext.get("source") or {}).get("id")
        for j, ref in enumerate(also):
            check_source_ref(f"{where}._tinmoi.also_in[{j}]", ref, ("id", "title", "url"))
            rid = ref.get("id") if isinstance(ref, dict) else None
            if rid == own:
                bad(f"{where}._tinmoi.also_in[{j}]", "lists the primary's own source")
            if rid in seen:
                bad(f"{where}._tinmoi.also_in[{j}]", f"source {rid!r} listed twice")
            seen.add(rid)
    return item.get("id")


def check_feed(doc, offset):
    if not isinstance(doc, dict):
        bad("feed", "top level is not an object")
        return
    check_extension_keys("feed", doc, TOP_KEYS)
    if doc.get("version") != "https://jsonfeed.org/version/1.1":
        bad("feed.version", f"not JSON Feed 1.1: {doc.get('version')!r}")
    if not isinstance(doc.get("title"), str):
        bad("feed.title", "required string")
    for key in ("home_page_url", "feed_url"):
        if key in doc:
            check_url(f"feed.{key}", doc[key])
    if doc.get("language") != "vi":
        bad("feed.language", f"expected 'vi': {doc.get('language')!r}")
    items = doc.get("items")
    if not isinstance(items, list):
        bad("feed.items", "required array")
        items = []
    ids = [check_item(i, item, offset) for i, item in enumerate(items)]
    if len(set(ids)) != len(ids):
        bad("feed.items", "item ids are not unique")
    ext = doc.get("_tinmoi")
    if not isinstance(ext, dict):
        bad("feed", "no _tinmoi object")
        return
    parse_date("_tinmoi.generated_at", ext.get("generated_at"))
    latest = ext.get("latest")
    if not isinstance(latest, list) or latest != ids[:len(latest)]:
        bad("_tinmoi.latest", f"must be the first item ids in order: {latest!r}")
    sources = ext.get("sources")
    if not isinstance(sources, list):
        bad("_tinmoi.sources", "required array")
        return
    for j, s in enumerate(sources):
        where = f"_tinmoi.sources[{j}]"
        check_source_ref(where, s, ("id", "title", "url", "category", "status", "last_success",
                                    "last_error", "consecutive_failures", "item_count"))
        if not isinstance(s, dict):
            continue
        if s.get("status") not in STATUSES:
            bad(where, f"status not ok|error|never: {s.get('status')!r}")
        if s.get("last_success") is not None:
            parse_date(f"{where}.last_success", s["last_success"])
        check_str(f"{where}.last_error", s.get("last_error"), nullable=True)
        for key in ("consecutive_failures", "item_count"):
            v = s.get(key)
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                bad(f"{where}.{key}", f"not a count: {v!r}")


def main():
    args = sys.argv[1:]
    offset = timedelta(hours=7)
    if "--utc-offset" in args:
        k = args.index("--utc-offset")
        m = re.match(r"^([+-])(\d{2}):(\d{2})$", args[k + 1])
        sign = -1 if m.group(1) == "-" else 1
        offset = sign * timedelta(hours=int(m.group(2)), minutes=int(m.group(3)))
        del args[k:k + 2]
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    with open(args[0], "rb") as f:
        raw = f.read()
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        print(f"{args[0]}: not UTF-8 JSON: {e}")
        return 1
    check_feed(doc, offset)
    for p in problems:
        print(f"{args[0]}: {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
