"""Every page of the built site, in real Chromium: no errors, nothing off-host, math rendered,
widgets started, images loaded, no sideways scrolling on a phone."""

from __future__ import annotations

from pathlib import Path

import pytest

from a11y import A11Y, CONTRAST

ROOT = Path(__file__).resolve().parents[2]


def site_pages() -> list[str]:
    """Page paths of the site, from the Markdown and notebook sources (a build makes one page each; a
    notebook's page is written by the example runner as docs/generated/notebooks/<name>.md)."""
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
  const holders = [...document.querySelectorAll('.arithmatex')];
  let raw = [];
  for (const el of holders) {
    const clone = el.cloneNode(true);
    clone.querySelectorAll('mjx-container, code, pre').forEach(n => n.remove());
    const text = clone.textContent;
    if (/\\$\\$|\\\\\\[|\\\\\\(|(^|[^\\\\])\\$[^$\\s][^$]*\\$/.test(text)) raw.push(text.slice(0, 80));
  }
  return {
    arithmatex: document.querySelectorAll('.arithmatex').length,
    rendered: document.querySelectorAll('.arithmatex mjx-container').length,
    errors: document.querySelectorAll('mjx-merror').length,
    redText: [...document.querySelectorAll('mjx-mtext')].filter(
        n => getComputedStyle(n).color === 'rgb(255, 0, 0)').length,
    raw,
  };
}"""


FONTS_IN_USE = """async () => {
  await document.fonts.ready;
  const code = document.querySelector('.md-typeset code') || document.querySelector('.md-typeset');
  return {
    text: getComputedStyle(document.querySelector('.md-typeset')).fontFamily,
    code: getComputedStyle(code).getPropertyValue('--md-code-font-family').trim(),
    loaded: [...document.fonts].filter(f => f.status === 'loaded').map(f => f.family.replace(/"/g, '')),
  };
}"""
OVERFLOW = "async () => { await document.fonts.ready; return document.documentElement.scrollWidth - window.innerWidth; }"
# Every letter 0.12em further apart: text about 20% wider than the book's font, formulas (MathJax's own fonts) as they are.
WIDE_TEXT = "body * { letter-spacing: 0.12em !important; } mjx-container, mjx-container * { letter-spacing: normal !important; }"


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p or "home")
def test_page(page, site_url, path):
    response = page.goto(site_url + path, wait_until="load")
    assert response is not None and response.ok, f"{path}: HTTP {response and response.status}"
    page.wait_for_load_state("networkidle")

    # math: every formula typeset, none left raw, no MathJax error boxes
    has_math = page.evaluate("() => document.querySelectorAll('.arithmatex').length > 0")
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

    # accessibility (WCAG 2.1 AA): alt text, labels, heading order; widget text contrast in both colour schemes
    a11y = page.evaluate(A11Y)
    assert not a11y["noAlt"], f"{path}: images without alt text: {a11y['noAlt']}"
    assert not a11y["unlabelled"], f"{path}: controls without a label or name: {a11y['unlabelled']}"
    assert not a11y["skips"], f"{path}: heading levels skipped: {a11y['skips']}"
    for scheme in ("slate", "default"):
        page.evaluate(f"() => document.body.setAttribute('data-md-color-scheme', '{scheme}')")
        low = page.evaluate(CONTRAST)
        assert not low, f"{path}: widget text below 4.5:1 contrast in the {scheme} scheme: {low}"

    # images: every figure loaded
    broken = page.evaluate("() => [...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)")
    assert not broken, f"{path}: images that did not load: {broken}"

    # fonts: the book's own, served by the site, not whatever the machine has
    fonts = page.evaluate(FONTS_IN_USE)
    assert fonts["text"].startswith('"llmbook Sans"') and fonts["code"].startswith('"llmbook Mono"'), f"{path}: {fonts}"
    assert "llmbook Sans" in fonts["loaded"], f"{path}: the text font did not load: {fonts}"

    # phone width: the page itself must not scroll sideways (wide content scrolls inside its own box),
    # not even on a smaller phone with much wider text than the book's font (other fonts, a reader's settings)
    page.set_viewport_size({"width": 375, "height": 800})
    overflow = page.evaluate(OVERFLOW)  # whole pixels: 1 is sub-pixel layout rounded up
    assert overflow <= 1, f"{path}: page is {overflow}px wider than a 375px phone screen"
    page.add_style_tag(content=WIDE_TEXT)
    page.set_viewport_size({"width": 320, "height": 800})
    overflow = page.evaluate(OVERFLOW)
    assert overflow <= 1, f"{path}: with wide text, page is {overflow}px wider than a 320px phone screen"

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


def test_diagrams_follow_the_colour_scheme(page, site_url):
    """Each diagram comes in a light and a dark drawing; the page shows the one of its colour scheme."""
    page.goto(site_url + "transformer/", wait_until="load")
    shown = """() => [...document.querySelectorAll('img[src*="generated/diagrams/"]')]
        .filter(i => i.getClientRects().length > 0).map(i => i.getAttribute('src'))"""
    light = page.evaluate(shown)
    assert light and all(src.endswith(".svg#only-light") for src in light), light
    page.evaluate("() => document.body.setAttribute('data-md-color-scheme', 'slate')")
    dark = page.evaluate(shown)
    assert [src.replace("-dark.svg#only-dark", ".svg#only-light") for src in dark] == light, dark
