"""The built site fetches nothing from another host (every HTML, CSS and JS file is scanned: tools/offhost.py),
and has every local stylesheet and script its pages load.

This, not the privacy plugin (a lint under mkdocs that other builders such as Zensical ignore), is the
guarantee that the book works offline and tells no other host who reads it.
"""

from __future__ import annotations

import re
from urllib.parse import urlparse

from tools.offhost import offhost_urls


def test_no_file_of_the_built_site_fetches_from_another_host(site_dir) -> None:  # noqa: ANN001
    """Catches a theme update, a widget or a page that loads a font, script, stylesheet or image from a CDN
    (or from the absolute site_url), naming each file and URL."""
    assert (site_dir / "index.html").is_file()
    found = offhost_urls(site_dir)
    assert not found, "fetched from another host:\n" + "\n".join(f"  {file}: {url}" for file, url in found)


def test_the_notebook_page_and_its_download_are_built(site_dir) -> None:  # noqa: ANN001
    """Catches the notebook page missing from the build (excluded as generated Markdown) or its .ipynb download
    not being copied beside it."""
    page = (site_dir / "generated/notebooks/attention_walkthrough/index.html").read_text(encoding="utf-8")
    assert 'href="../attention_walkthrough.ipynb"' in page
    assert (site_dir / "generated/notebooks/attention_walkthrough.ipynb").is_file()
    assert 'class="arithmatex"' in page  # the notebook's math goes through arithmatex like every page's


def test_every_stylesheet_and_script_a_page_loads_is_in_the_site(site_dir) -> None:  # noqa: ANN001
    """Catches a build run without tools/site_assets.py (mkdocs and Zensical build silently without the fonts
    and MathJax that mkdocs.yml names), and any other local stylesheet or script a page loads but the site lacks."""
    missing = set()
    for page in sorted(site_dir.rglob("*.html")):
        html = page.read_text(encoding="utf-8")
        tags = re.findall(r'<link\b[^>]*\brel="stylesheet"[^>]*\bhref="([^"]+)"|<script\b[^>]*\bsrc="([^"]+)"', html)
        for url in (href or src for href, src in tags):
            path = urlparse(url).path  # 404.html names them from the site's root
            target = site_dir / path.lstrip("/") if path.startswith("/") else page.parent / path
            if not urlparse(url).netloc and not target.resolve().is_file():
                missing.add(f"{page.relative_to(site_dir).as_posix()}: {url}")
    assert not missing, "pages load files the site does not have:\n" + "\n".join(sorted(missing))
    assert (site_dir / "assets/fonts/fonts.css").is_file() and (site_dir / "assets/mathjax/tex-mml-chtml.js").is_file()
