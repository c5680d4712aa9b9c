"""Every page of the built site, in real Chromium: no errors, nothing off-host, math rendered,
widgets started, images loaded, no sideways scrolling on a phone."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def site_pages() -> list[str]:
    """Page paths of the site, from the Markdown and notebook sources (a build makes one page each)."""
    docs = ROOT / "docs"
    pages = []
    for md in sorted(docs.rglob("*.md")):
        rel = md.relative_to(docs)
        if rel.parts[0] == "generated":
            continue
        stem = rel.with_suffix("").as_posix()
        pages.append("" if stem == "index" else f"{stem}/")
    for nb in sorted((ROOT / "examples" / "notebooks").glob("*.py")):
        pages.append(f"generated/notebooks/{nb.stem}/")
    return pages


PAGES = site_pages()

CHECK_MATH = """() => {
  const holders = [...document.querySelectorAll('.arithmatex, .jp-RenderedMarkdown')];
  let raw = [];
  for (const el of holders) {
    const clone = el.cloneNode(true);
    clone.querySelectorAll('mjx-container, code, pre').forEach(n => n.remove());
    const text = clone.textContent;
    if (/\\$\\$|\\\\\\[|\\\\\\(|(^|[^\\\\])\\$[^$\\s][^$]*\\$/.test(text)) raw.push(text.slice(0, 80));
  }
  return {
    arithmatex: document.querySelectorAll('.arithmatex').length,
    rendered: document.querySelectorAll('.arithmatex mjx-container, .jp-RenderedMarkdown mjx-container').length,
    errors: document.querySelectorAll('mjx-merror').length,
    redText: [...document.querySelectorAll('mjx-mtext')].filter(
        n => getComputedStyle(n).color === 'rgb(255, 0, 0)').length,
    raw,
  };
}"""


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p or "home")
def test_page(page, site_url, path):
    response = page.goto(site_url + path, wait_until="load")
    assert response is not None and response.ok, f"{path}: HTTP {response and response.status}"
    page.wait_for_load_state("networkidle")

    # math: every formula typeset, none left raw, no MathJax error boxes
    has_math = page.evaluate("() => document.querySelectorAll('.arithmatex, .jp-RenderedMarkdown').length > 0")
    if has_math:
        page.wait_for_selector("body[data-math-ready]", state="attached", timeout=20_000)
        math = page.evaluate(CHECK_MATH)
        assert math["rendered"] >= math["arithmatex"], f"{path}: only {math['rendered']} of {math['arithmatex']} formulas typeset"
        assert math["errors"] == 0 and math["redText"] == 0, f"{path}: MathJax errors {math}"
        assert not math["raw"], f"{path}: raw TeX left on the page: {math['raw']}"

    # widgets: each one started with its data
    states = page.evaluate("() => [...document.querySelectorAll('.llmbook-widget')].map(w => w.dataset.ready || 'none')")
    if states:
        page.wait_for_function(
            "() => [...document.querySelectorAll('.llmbook-widget')].every(w => w.dataset.ready === 'true' || w.dataset.ready === 'error')",
            timeout=20_000)
        states = page.evaluate("() => [...document.querySelectorAll('.llmbook-widget')].map(w => w.dataset.ready)")
        assert all(s == "true" for s in states), f"{path}: widget states {states}"

    # images: every figure loaded
    broken = page.evaluate("() => [...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)")
    assert not broken, f"{path}: images that did not load: {broken}"

    # phone width: the page itself must not scroll sideways (wide content scrolls inside its own box)
    page.set_viewport_size({"width": 375, "height": 800})
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"{path}: page is {overflow}px wider than a 375px phone screen"

    assert not page.console_errors, f"{path}: console errors: {page.console_errors}"
    assert not page.offsite_requests, f"{path}: requests to other hosts: {page.offsite_requests}"


def test_every_page_is_checked(site_dir):
    built = {p.parent.relative_to(site_dir).as_posix() + "/" for p in site_dir.rglob("index.html")}
    built = {"" if b == "./" else b for b in built if not b.startswith(("assets/", "search/"))}
    assert built == set(PAGES), f"pages built but not tested, or tested but not built: {built ^ set(PAGES)}"


def test_search_works_offline(page, site_url):
    page.goto(site_url, wait_until="load")
    page.keyboard.press("s")  # the theme's keyboard shortcut opens search
    page.wait_for_selector("input.md-search__input:focus")
    page.keyboard.type("softmax", delay=50)  # typed, as a reader would: the theme searches on key events
    page.wait_for_selector(".md-search-result__item", timeout=15_000)
    titles = page.locator(".md-search-result__item").all_inner_texts()
    assert any("Attention by hand" in t for t in titles), titles
    assert not page.offsite_requests, page.offsite_requests
