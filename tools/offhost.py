"""Find what a built site would make a browser fetch from another host.

    python -m tools.offhost SITE_DIR

``offhost_urls(site)`` scans every .html, .css and .js file under ``site`` for absolute
URLs (``http://``, ``https://``, protocol-relative ``//host``) that a browser fetches
by itself: ``src``/``srcset``/``poster``/``data`` attributes, ``<link href>`` other than
plain relations (``canonical``, ``alternate``, ...), SVG ``<image>``/``<use>`` hrefs,
CSS ``url(...)`` and ``@import`` (in stylesheets, ``<style>`` and ``style=``), and in
scripts ``import``, ``import()``, ``fetch()``, ``importScripts()`` and ``new Worker()``.
Links a reader follows (``<a href>``) are not fetches and are allowed.
"""

from __future__ import annotations

import re
import sys
from html.parser import HTMLParser
from pathlib import Path

ABSOLUTE = re.compile(r"^\s*(?:https?:)?//", re.IGNORECASE)
FETCHING_ATTRS = {"src", "srcset", "poster", "data", "background"}
# <link rel=...> values that name a page rather than load one
PLAIN_RELS = {"canonical", "alternate", "prev", "next", "author", "license", "help", "me", "bookmark",
              "search", "external", "nofollow", "noopener", "noreferrer", "tag"}
CSS_URL = re.compile(r"""url\(\s*(["']?)(?P<url>[^"')\s]+)\1\s*\)|@import\s+(["'])(?P<imp>[^"']+)\3""", re.IGNORECASE)
JS_FETCH = re.compile(
    r"""(?:\bimport\s*\(|\bfetch\s*\(|\bimportScripts\s*\(|\bnew\s+(?:Shared)?Worker\s*\(|\bfrom\s*|\bimport\s+)"""
    r"""\s*(["'`])(?P<url>(?:https?:)?//[^"'`\s]+)\1""")


def css_urls(text: str) -> list[str]:
    return [m["url"] or m["imp"] for m in CSS_URL.finditer(text) if ABSOLUTE.match(m["url"] or m["imp"])]


def js_urls(text: str) -> list[str]:
    return [m["url"] for m in JS_FETCH.finditer(text)]


class _Fetches(HTMLParser):
    """The absolute URLs an HTML document fetches (attributes, inline CSS, inline scripts)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k.lower(): v or "" for k, v in attrs}
        candidates = [v for k, v in values.items() if k in FETCHING_ATTRS]
        if "srcset" in values:
            candidates += [part.split()[0] for part in values["srcset"].split(",") if part.strip()]
        if tag == "link" and not set(values.get("rel", "").lower().split()) <= PLAIN_RELS:
            candidates.append(values.get("href", ""))
        if tag in {"image", "use", "feimage"}:  # SVG: the image or symbol is loaded
            candidates += [values.get("href", ""), values.get("xlink:href", "")]
        self.urls += [v.strip() for v in candidates if ABSOLUTE.match(v)]
        self.urls += css_urls(values.get("style", ""))
        self._in = tag if tag in {"style", "script"} else None

    def handle_endtag(self, tag: str) -> None:
        self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "style":
            self.urls += css_urls(data)
        elif self._in == "script":
            self.urls += js_urls(data)


def file_urls(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".html":
        parser = _Fetches()
        parser.feed(text)
        parser.close()
        return parser.urls
    return css_urls(text) if path.suffix == ".css" else js_urls(text)


def offhost_urls(site: Path) -> list[tuple[str, str]]:
    """(file relative to ``site``, URL) for every off-host fetch in the site's HTML, CSS and JS files."""
    found = []
    for path in sorted(p for p in site.rglob("*") if p.suffix in {".html", ".css", ".js"} and p.is_file()):
        found += [(path.relative_to(site).as_posix(), url) for url in file_urls(path)]
    return found


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not Path(argv[0]).is_dir():
        print("usage: python -m tools.offhost SITE_DIR", file=sys.stderr)
        return 2
    found = offhost_urls(Path(argv[0]))
    for file, url in found:
        print(f"{file}: {url}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
