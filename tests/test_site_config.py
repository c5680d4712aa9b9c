"""The site's configuration: what the build needs (no hook, every widget listed, the assets step), the privacy
lint, and the scanner that checks a built site for fetches from another host."""

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def book_config() -> dict:
    class Loader(yaml.SafeLoader):
        pass

    Loader.add_constructor("!ENV", lambda loader, node: loader.construct_sequence(node)[-1])
    return yaml.load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"), Loader=Loader)


def privacy_settings() -> dict:
    for plugin in book_config()["plugins"]:
        if isinstance(plugin, dict) and "privacy" in plugin:
            return plugin["privacy"]
    raise AssertionError("mkdocs.yml has no privacy plugin")


def build(tmp_path: Path, page: str) -> subprocess.CompletedProcess:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text(page, encoding="utf-8")
    config = {"site_name": "probe", "theme": {"name": "material", "font": False},
              "plugins": [{"privacy": privacy_settings()}]}
    (tmp_path / "mkdocs.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q"], cwd=tmp_path, env=env,
                          capture_output=True, text=True)


def test_an_offsite_image_fails_the_strict_build(tmp_path: Path) -> None:
    proc = build(tmp_path, "# Probe\n\n![x](https://example.org/figure.png)\n")
    assert proc.returncode != 0
    assert "External file: https://example.org/figure.png" in proc.stdout + proc.stderr


def test_a_page_with_only_local_assets_builds(tmp_path: Path) -> None:
    proc = build(tmp_path, "# Probe\n\nNothing from elsewhere.\n")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_nav_lists_every_written_page() -> None:
    def pages(nav) -> list[str]:
        out = []
        for item in nav:
            value = next(iter(item.values())) if isinstance(item, dict) else item
            out += pages(value) if isinstance(value, list) else [value]
        return out

    listed = pages(book_config()["nav"])
    written = sorted(p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").glob("*.md"))
    assert sorted(p for p in listed if not p.startswith("generated/")) == written


def test_every_widget_script_is_listed_in_extra_javascript() -> None:
    """Catches a new docs/javascripts/widgets/*.js that no page loads (the build no longer adds them by a hook,
    which Zensical would ignore), and a listed script or stylesheet that does not exist."""
    config = book_config()
    listed = config["extra_javascript"]
    widgets = sorted(p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs/javascripts/widgets").glob("*.js"))
    assert widgets, "no widget scripts found"
    assert [s for s in listed if s.startswith("javascripts/widgets/")] == widgets
    written = {"assets/fonts/fonts.css", "assets/mathjax/tex-mml-chtml.js"}  # by tools/site_assets.py
    for name in listed + config["extra_css"]:
        assert name in written or (ROOT / "docs" / name).is_file(), f"mkdocs.yml names {name}, which does not exist"


def test_the_build_uses_nothing_zensical_ignores() -> None:
    """Catches a build that depends on a hook or a plugin (mkdocs-jupyter, say) that Zensical 0.1 silently
    skips: only search (built in everywhere) and privacy (a lint under mkdocs; tests/browser/test_site_offhost.py
    gives the guarantee) are allowed."""
    config = book_config()
    assert "hooks" not in config
    names = {p if isinstance(p, str) else next(iter(p)) for p in config["plugins"]}
    assert names <= {"search", "privacy"}, names


def test_site_assets_are_written_once_and_name_their_files(tmp_path: Path) -> None:
    """Catches fonts.css naming a font file that is not written, a missing MathJax entry point, and a step
    that redoes its work (or skips it) wrongly: it rewrites only when its stamp differs."""
    from tools import site_assets

    assert site_assets.write(tmp_path) is True
    assert (tmp_path / "mathjax/tex-mml-chtml.js").stat().st_size > 100_000
    assert (tmp_path / "mathjax/output/chtml/fonts/woff-v2").is_dir()
    css = (tmp_path / "fonts/fonts.css").read_text()
    named = re.findall(r'url\("([^"]+)"\)', css)
    assert len(named) == 8 and all((tmp_path / "fonts" / n).read_bytes()[:4] == b"wOFF" for n in named)
    assert '--md-text-font: "llmbook Sans"' in css
    assert site_assets.write(tmp_path) is False
    (tmp_path / ".stamp").write_text("stale")
    (tmp_path / "fonts/fonts.css").unlink()
    assert site_assets.write(tmp_path) is True and (tmp_path / "fonts/fonts.css").read_text() == css


def test_offhost_scanner_finds_fetches_and_allows_links(tmp_path: Path) -> None:
    """Catches a scanner that misses an off-host fetch (an <img>, a stylesheet <link>, a script, a CSS url(),
    a JS fetch or import) or that flags a link a reader follows (<a href>, rel=canonical) or a local asset."""
    from tools.offhost import offhost_urls

    (tmp_path / "page").mkdir()
    (tmp_path / "page/index.html").write_text(
        '<link rel="canonical" href="https://book.example/page/"><link rel="stylesheet" href="//cdn.example/a.css">'
        '<link rel="stylesheet" href="../local.css"><script src="https://cdn.example/s.js"></script>'
        '<a href="https://github.com/llmbook/llmbook">repo</a><img src="https://example.com/x.png" alt="x">'
        '<img src="figure.png" alt="y"><img srcset="a.png 1x, https://example.com/b.png 2x" alt="z">'
        '<div style="background: url(https://example.com/bg.png)"></div>'
        '<script>fetch("https://api.example/d.json"); fetch("data.json")</script>')
    (tmp_path / "local.css").write_text('@font-face { src: url("f.woff") } .a { background: url("http://x.example/i.png") }'
                                        ' @import "https://x.example/more.css";')
    (tmp_path / "app.js").write_text('import x from "https://esm.example/x.js"; import("./local.js");'
                                     ' const u = "https://github.com/llmbook/llmbook";')
    assert offhost_urls(tmp_path) == [
        ("app.js", "https://esm.example/x.js"),
        ("local.css", "http://x.example/i.png"), ("local.css", "https://x.example/more.css"),
        ("page/index.html", "//cdn.example/a.css"), ("page/index.html", "https://cdn.example/s.js"),
        ("page/index.html", "https://example.com/x.png"), ("page/index.html", "https://example.com/b.png"),
        ("page/index.html", "https://example.com/bg.png"), ("page/index.html", "https://api.example/d.json"),
    ]
