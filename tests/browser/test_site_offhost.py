"""The built site fetches nothing from another host: every HTML, CSS and JS file is scanned (tools/offhost.py).

This, not the privacy plugin (a lint under mkdocs that other builders such as Zensical ignore), is the
guarantee that the book works offline and tells no other host who reads it.
"""

from __future__ import annotations

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
