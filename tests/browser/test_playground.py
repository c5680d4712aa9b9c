"""The Playground page, in Chromium: every widget of the chapters starts there too, with the same
data as in its chapter, answers a reader's input, and does not clash with the others on one page."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WIDGET = re.compile(r'<div class="llmbook-widget"[^>]*>')
ATTR = re.compile(r'\b(data-widget|data-src)="([^"]*)"')
# widgets that belong to one place in their chapter's text, not to the playground
CHAPTER_ONLY = {"exercise", "tokens-stepper"}


def widgets_in(page: Path) -> list[tuple[str, str]]:
    """(widget name, data file) of every widget placed in a page, in order."""
    found = []
    for tag in WIDGET.findall(page.read_text(encoding="utf-8")):
        attrs = dict(ATTR.findall(tag))
        found.append((attrs.get("data-widget", ""), attrs.get("data-src", "")))
    return found


PLAYGROUND = widgets_in(ROOT / "docs" / "playground.md")


def test_playground_gathers_the_chapters_widgets_with_their_data() -> None:
    chapters = {w for p in sorted((ROOT / "docs").glob("*.md")) if p.name != "playground.md" for w in widgets_in(p)}
    wanted = {w for w in chapters if w[0] not in CHAPTER_ONLY}
    assert set(PLAYGROUND) == wanted, f"missing: {wanted - set(PLAYGROUND)}, not in a chapter: {set(PLAYGROUND) - wanted}"
    assert len(PLAYGROUND) == len(set(PLAYGROUND)), "a widget is on the page twice"
    for name in ("tokens-playground", "attention-explorer", "decoding", "kvcache", "loss-curve"):
        assert name in {w[0] for w in PLAYGROUND}, name


def open_playground(page, site_url):
    page.goto(site_url + "playground/", wait_until="load")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.llmbook-widget')].every(w => ['true', 'error'].includes(w.dataset.ready))",
        timeout=20_000)


def test_every_widget_starts_and_ids_do_not_clash(page, site_url) -> None:
    open_playground(page, site_url)
    states = page.evaluate("() => [...document.querySelectorAll('.llmbook-widget')].map(w => [w.dataset.widget, w.dataset.ready])")
    assert [s[0] for s in states] == [w[0] for w in PLAYGROUND]
    assert all(s[1] == "true" for s in states), states
    # one page, many widgets: element ids unique, every label names a control of its own widget
    report = page.evaluate("""() => {
      const ids = [...document.querySelectorAll('.llmbook-widget [id]')].map(e => e.id);
      const dup = ids.filter((id, i) => ids.indexOf(id) !== i);
      const bad = [...document.querySelectorAll('.llmbook-widget label[for]')].filter(l => {
        const target = document.getElementById(l.htmlFor);
        return !target || target.closest('.llmbook-widget') !== l.closest('.llmbook-widget');
      }).map(l => l.htmlFor);
      const empty = [...document.querySelectorAll('.llmbook-widget')].filter(w => !w.textContent.trim()).map(w => w.dataset.widget);
      return {dup, bad, empty};
    }""")
    assert report == {"dup": [], "bad": [], "empty": []}, report
    assert not page.console_errors and not page.offsite_requests


def test_each_widget_answers_input(page, site_url, site_dir) -> None:
    open_playground(page, site_url)

    tokens = page.locator('.llmbook-widget[data-widget="tokens-playground"]')
    page.wait_for_function("document.querySelector('[data-widget=tokens-playground]').dataset.state === 'ready'")
    page.evaluate("document.querySelector('[data-widget=tokens-playground]').dataset.state = 'busy'")
    tokens.locator("textarea").fill("Hello, world!")
    page.wait_for_function("document.querySelector('[data-widget=tokens-playground]').dataset.state === 'ready'")
    ids = json.loads(tokens.get_attribute("data-ids"))
    assert ids and tokens.locator(".tokens-chip").count() == len(ids)

    emb = page.locator('.llmbook-widget[data-widget="embeddings"]')
    emb.locator('button[data-word=" king"]').click()
    assert emb.locator("tbody tr").count() > 0

    attn = page.locator('.llmbook-widget[data-widget="attention-explorer"]')
    attn.get_by_label("Layer").select_option("3")
    assert attn.locator("caption").inner_text().startswith("Layer 4")

    decoding = page.locator('.llmbook-widget[data-widget="decoding"]')
    comparator = json.loads((site_dir / "generated/generate/comparator.json").read_text())
    decoding.get_by_label("Prompt").select_option(str(len(comparator["prompts"]) - 1))
    assert decoding.locator(".llmbook-decoding-bars li").count() == 15
    assert int(decoding.get_attribute("data-kept")) > 0

    kv = page.locator('.llmbook-widget[data-widget="kvcache"]')
    assert "prefill" in kv.locator(".llmbook-kv-title").inner_text()
    kv.get_by_role("button", name="Next step").click()
    assert "prefill" not in kv.locator(".llmbook-kv-title").inner_text()

    loss = page.locator('.llmbook-widget[data-widget="loss-curve"]')
    loss.locator("svg circle").first.wait_for()
    loss.locator("input[type=range]").fill("1")
    assert loss.locator("circle.loss-curve-current").count() == 1

    align = page.locator('.llmbook-widget[data-widget="alignment-steps"]')
    align.get_by_role("tab", name="PPO").click()
    assert align.get_attribute("data-step") == "ppo"
    assert align.get_by_role("tabpanel").locator("figure").count() == 3  # reward, KL and the judge's accuracy

    assert not page.console_errors and not page.offsite_requests


def test_each_section_links_its_chapter(page, site_url) -> None:
    open_playground(page, site_url)
    links = page.evaluate("""() => [...document.querySelectorAll('.md-content .llmbook-widget')].map(w => {
      let p = w.previousElementSibling;
      while (p && p.tagName !== 'P') p = p.previousElementSibling;
      return [w.dataset.widget, p ? [...p.querySelectorAll('a')].map(a => a.href) : []];
    })""")
    for widget, hrefs in links:
        assert hrefs, f"{widget}: no link to its chapter in the sentence above it"
        for href in hrefs:
            response = page.request.get(href.split("#")[0])
            assert response.ok, (widget, href)
