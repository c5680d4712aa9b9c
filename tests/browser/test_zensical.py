"""Zensical, Material for MkDocs' successor, builds the same book from the same mkdocs.yml.

Zensical reads mkdocs.yml but silently skips what it does not support (hooks, most plugins), so a
build that leans on one would lose part of the book without a word. This test builds the site with
Zensical and compares it with the mkdocs build the browser tests use (the ``site_dir`` fixture):
the same pages, and in each page's <article> the same headings.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


class _Headings(HTMLParser):
    """The text of each h1-h6 inside <article>, without the permalink mark."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.depth = 0  # inside <article> when > 0
        self.heading: list[str] | None = None
        self.skip = 0  # inside a heading's permalink <a class="headerlink">
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):  # noqa: ANN001
        if tag == "article":
            self.depth += 1
        elif self.depth and tag in {"h1", "h2", "h3", "h4", "h5", "h6"}:
            self.heading = []
        elif self.heading is not None and tag == "a" and "headerlink" in (dict(attrs).get("class") or ""):
            self.skip += 1

    def handle_endtag(self, tag):  # noqa: ANN001
        if tag == "article":
            self.depth -= 1
        elif self.heading is not None and tag in {"h1", "h2", "h3", "h4", "h5", "h6"}:
            self.found.append(f"{tag} " + " ".join("".join(self.heading).split()))
            self.heading = None
        elif self.skip and tag == "a":
            self.skip -= 1

    def handle_data(self, data):  # noqa: ANN001
        if self.heading is not None and not self.skip:
            self.heading.append(data)


def pages(site: Path) -> dict[str, list[str]]:
    """Page path -> the headings of its <article>, for every HTML page of a built site (404 aside)."""
    out = {}
    for path in sorted(site.rglob("*.html")):
        rel = path.relative_to(site).as_posix()
        if rel == "404.html" or rel.startswith("assets/"):
            continue
        parser = _Headings()
        parser.feed(path.read_text(encoding="utf-8"))
        out[rel] = parser.found
    return out


def test_zensical_builds_the_same_pages(request) -> None:  # noqa: ANN001
    """Catches a page, or part of one, that only the mkdocs build produces (a hook's or a plugin's work that
    Zensical skips), and a configuration Zensical cannot build."""
    try:
        import zensical  # noqa: F401
    except ImportError as err:
        pytest.skip(f"Zensical is not installed here ({err}): zensical 0.1.1 needs zensical-ui==0.0.42, "
                    "which the package index this machine reaches does not carry")
    site_dir = request.getfixturevalue("site_dir")  # the mkdocs build, made only when there is something to compare
    # Zensical takes the project root from the config file's folder and wants site_dir inside it: a config
    # beside mkdocs.yml that inherits it and builds into the git-ignored .cache/, never into site/.
    tag = f"zensical-test-{os.getpid()}"
    config, out = ROOT / f".{tag}.yml", ROOT / ".cache" / tag
    config.write_text(f"INHERIT: mkdocs.yml\nsite_dir: .cache/{tag}\n", encoding="utf-8")
    try:
        proc = subprocess.run([sys.executable, "-m", "zensical", "build", "--config-file", str(config)], cwd=ROOT,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, f"zensical build failed:\n{proc.stdout}\n{proc.stderr}"
        ours, theirs = pages(site_dir), pages(out)
    finally:
        config.unlink(missing_ok=True)
        shutil.rmtree(out, ignore_errors=True)
    assert sorted(theirs) == sorted(ours)
    differ = {p: (ours[p], theirs[p]) for p in ours if ours[p] != theirs[p]}
    assert not differ, f"pages whose headings differ (mkdocs, zensical): {differ}"
