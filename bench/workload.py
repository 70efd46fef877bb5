#!/usr/bin/env python3
"""Deterministic partner-feed workload for peerbench.

    workload.py N M OUTDIR [--seed S] [--html K]

Writes N feeds with M items each into OUTDIR/feeds/:
  ~70% RSS 2.0 (pNNNN.rss.xml), ~20% Atom 1.0 (.atom.xml), ~10% JSON Feed 1.1 (.json)
  (feed i is Atom if i%10 in {7,8}, JSON if i%10 == 9, RSS otherwise).
~15% of item slots are cross-posts: a copy of another source's original item, same
article link plus tracking params (?utm_source=rss&...), its own guid/id, a later date.
Also writes OUTDIR/feeds.txt (one relative path per line) and OUTDIR/manifest.json
(item counts, expected unique items after link canonicalisation).

Site/item links point at http://127.0.0.1:9/ (loopback discard port) so a peer that
follows links (favicons, full text) never leaves the machine. File mtimes are fixed,
so Last-Modified/ETag are reproducible across runs.

With --html K it also writes K HTML news listings (OUTDIR/html/hNNN/index.html, M
items each: title, relative link and a human date, no summary) and one article page
per item (.article-date, .subtitle, .article-body), listed in OUTDIR/html.txt. They
use their own random stream: the feeds are byte-identical with or without them.
(A copy of shared/bench/workload.py; only the HTML listings are new.)
"""
import argparse, json, os, random
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from xml.sax.saxutils import escape

SITE = "http://127.0.0.1:9"
BASE_TIME = datetime(2026, 1, 1, tzinfo=timezone.utc)
WORDS = ("cooperative mutual solidarity economy social enterprise workers members "
         "housing credit union fair trade community energy care platform report "
         "policy network ILO UN task force RIPESS ICA EURICSE launch conference "
         "guide survey youth women rural finance law europe africa asia americas").split()


def sentence(rng, n):
    return " ".join(rng.choice(WORDS) for _ in range(n))


def build(n, m, seed):
    rng = random.Random(seed)
    cross = [[rng.random() < 0.15 for _ in range(m)] for _ in range(n)]
    feeds = [[None] * m for _ in range(n)]
    for i in range(n):  # pass 1: originals
        for j in range(m):
            if not cross[i][j]:
                when = BASE_TIME - timedelta(hours=i % 97 + 6 * j, minutes=rng.randrange(60))
                feeds[i][j] = dict(
                    guid=f"p{i:04d}-{j}", link=f"{SITE}/p{i:04d}/news/{j}-{rng.randrange(10**6)}",
                    canon=None, title=sentence(rng, 6).capitalize(), when=when,
                    summary="<p>" + escape(sentence(rng, 40)) + "</p>", author=f"Partner {i}")
    originals = [(i, j) for i in range(n) for j in range(m) if not cross[i][j]]
    for i in range(n):  # pass 2: cross-posts copy an original from another source
        for j in range(m):
            if cross[i][j]:
                for _ in range(100):  # bounded retry to pick another source
                    k, jj = rng.choice(originals)
                    if k != i or n == 1:
                        break
                o = feeds[k][jj]
                feeds[i][j] = dict(o, guid=f"p{i:04d}-x{j}", author=f"Partner {i}",
                                   link=f"{o['link']}?utm_source=rss&utm_medium=feed&utm_campaign=p{i:04d}",
                                   when=o["when"] + timedelta(minutes=30 + rng.randrange(600)))
    for f in feeds:
        f.sort(key=lambda it: it["when"], reverse=True)
    return feeds


def rss(i, items):
    out = [f'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
           f"<title>Partner {i} news</title><link>{SITE}/p{i:04d}/</link>"
           f"<description>News from partner {i}</description>"
           f"<lastBuildDate>{format_datetime(items[0]['when'])}</lastBuildDate>"]
    for it in items:
        out.append(f"<item><title>{escape(it['title'])}</title><link>{escape(it['link'])}</link>"
                   f"<guid isPermaLink=\"false\">{it['guid']}</guid><pubDate>{format_datetime(it['when'])}</pubDate>"
                   f"<author>news@p{i:04d}.invalid ({it['author']})</author>"
                   f"<description>{escape(it['summary'])}</description></item>")
    out.append("</channel></rss>\n")
    return "\n".join(out)


def atom(i, items):
    iso = lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ")
    out = [f'<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
           f"<title>Partner {i} news</title><id>urn:peerbench:p{i:04d}</id>"
           f'<link rel="alternate" href="{SITE}/p{i:04d}/"/><updated>{iso(items[0]["when"])}</updated>'
           f"<author><name>Partner {i}</name></author>"]
    for it in items:
        out.append(f"<entry><title>{escape(it['title'])}</title><id>urn:peerbench:{it['guid']}</id>"
                   f'<link rel="alternate" href="{escape(it["link"])}"/>'
                   f"<published>{iso(it['when'])}</published><updated>{iso(it['when'])}</updated>"
                   f'<summary type="html">{escape(it["summary"])}</summary></entry>')
    out.append("</feed>\n")
    return "\n".join(out)


def jsonfeed(i, items):
    return json.dumps({
        "version": "https://jsonfeed.org/version/1.1", "title": f"Partner {i} news",
        "home_page_url": f"{SITE}/p{i:04d}/", "authors": [{"name": f"Partner {i}"}],
        "items": [{"id": it["guid"], "url": it["link"], "title": it["title"],
                   "content_html": it["summary"], "authors": [{"name": it["author"]}],
                   "date_published": it["when"].isoformat()} for it in items]}, indent=1) + "\n"


def html_page(title, body):
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f'<link rel="stylesheet" href="/static/site.css"></head>\n<body><header><nav><a href="/">Home</a> '
            f'<a href="/news/">News</a> <a href="/about/">About</a></nav></header>\n<main>{body}</main>\n'
            f'<footer><p>Partner site</p></footer></body></html>\n')


def html_listings(k, m, seed):
    """K listings of M items; yields (relative path, text) for listings and articles."""
    rng = random.Random(seed + 1)
    for h in range(k):
        lis = []
        for j in range(m):
            when = BASE_TIME - timedelta(hours=h % 89 + 24 * j, minutes=rng.randrange(60))
            title = sentence(rng, 7).capitalize()
            link = f"articles/{j}-{rng.randrange(10**6)}.html"
            human = f"{when.day} {when.strftime('%B %Y')}"
            lis.append(f'<li class="news-item"><h3><a href="{link}">{escape(title)}</a></h3>'
                       f'<span class="date">{human}</span></li>')
            paras = "".join(f"<p>{escape(sentence(rng, 30))}</p>" for _ in range(4))
            article = (f'<article><h1>{escape(title)}</h1><p class="article-date">{when.strftime("%Y-%m-%d")}</p>'
                       f'<p class="subtitle">{escape(sentence(rng, 25))}</p>'
                       f'<div class="article-body">{paras}</div></article>')
            yield f"html/h{h:03d}/{link}", html_page(title, article)
        listing = f'<h1>News from partner H{h}</h1><ul class="news">' + "\n".join(lis) + "</ul>"
        yield f"html/h{h:03d}/index.html", html_page(f"Partner H{h} news", listing)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("n", type=int); ap.add_argument("m", type=int); ap.add_argument("outdir")
    ap.add_argument("--seed", type=int, default=20260101)
    ap.add_argument("--html", type=int, default=0, help="HTML listings with article pages")
    a = ap.parse_args()
    feeds = build(a.n, a.m, a.seed)
    os.makedirs(os.path.join(a.outdir, "feeds"), exist_ok=True)
    mtime = BASE_TIME.timestamp()
    paths, kinds = [], {"rss": 0, "atom": 0, "json": 0}
    for i, items in enumerate(feeds):
        kind = "atom" if i % 10 in (7, 8) else "json" if i % 10 == 9 else "rss"
        name = f"p{i:04d}." + {"rss": "rss.xml", "atom": "atom.xml", "json": "json"}[kind]
        body = {"rss": rss, "atom": atom, "json": jsonfeed}[kind](i, items)
        path = os.path.join(a.outdir, "feeds", name)
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(body)
        os.utime(path, (mtime, mtime))
        paths.append("feeds/" + name); kinds[kind] += 1
    with open(os.path.join(a.outdir, "feeds.txt"), "w") as fh:
        fh.write("\n".join(paths) + "\n")
    all_items = [it for f in feeds for it in f]
    canon = {it["link"].split("?")[0] for it in all_items}
    manifest = dict(n=a.n, m=a.m, seed=a.seed, kinds=kinds, items=len(all_items),
                    cross_posts=sum(1 for it in all_items if "utm_source" in it["link"]),
                    unique_canonical_links=len(canon))
    listings = []
    for rel, text in html_listings(a.html, a.m, a.seed):
        path = os.path.join(a.outdir, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.utime(path, (mtime, mtime))
        if rel.endswith("/index.html"):
            listings.append(rel)
    with open(os.path.join(a.outdir, "html.txt"), "w") as fh:
        fh.write("".join(p + "\n" for p in listings))
    manifest.update(html_listings=a.html, html_items=a.html * a.m)
    with open(os.path.join(a.outdir, "manifest.json"), "w") as fh:
        json.dump(manifest, fh, indent=1)
    print(json.dumps(manifest))


if __name__ == "__main__":
    main()
