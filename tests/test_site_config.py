"""The site's configuration: the book's privacy settings turn any asset from another host into a build error."""

import os
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
