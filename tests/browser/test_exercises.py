"""The exercises of every page, in Chromium: each accepts its right answer and rejects a wrong one;
those of "Attention by hand" are also checked step by step as a reader would type them."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from a11y import CONTRAST
from tools.by_hand import exercises
from tools.exercises import CHAPTERS

DOCS = Path(__file__).resolve().parents[2] / "docs"
GENERATED = DOCS / "generated"
WIDGET = re.compile(r'data-widget="exercise" data-exercise="([^"]+)" data-src="([^"]+)"')
# every chapter of the book, and the exercises it must carry at least
CHAPTER_PAGES = ["big-picture", "tokens", "attention-by-hand", "transformer", "real-model", "embeddings",
                 "generation", "interpret", "training", "hardware", "alignment", "limits"]
DIAGRAM_PAGES = CHAPTER_PAGES + ["attention-explorer"]
INLINE_SVG = re.compile(r'--8<-- "(docs/images/[\w-]+\.svg)"')  # a hand-written SVG included into the page


def site_exercises() -> list[tuple[str, str, str]]:
    """(page, exercise id, data file) for every exercise widget in the Markdown sources."""
    found = []
    for md in sorted(DOCS.glob("*.md")):
        page = "" if md.stem == "index" else f"{md.stem}/"
        found += [(page, ex_id, src) for ex_id, src in WIDGET.findall(md.read_text(encoding="utf-8"))]
    return found


SITE_EXERCISES = site_exercises()


def typed(answer: float, tolerance: float) -> str:
    """The answer as a reader would type it: rounded to as many decimals as the tolerance allows."""
    decimals = max(0, math.ceil(-math.log10(tolerance)) + 1)  # rounding error <= tolerance / 20
    return f"{answer:.{decimals}f}"


def test_every_chapter_has_exercises_and_a_diagram():
    per_page = {}
    for page, ex_id, _ in SITE_EXERCISES:
        per_page.setdefault(page.rstrip("/"), []).append(ex_id)
    ids = [ex_id for _, ex_id, _ in SITE_EXERCISES]
    assert len(ids) == len(set(ids)), f"an exercise id is used twice: {sorted(ids)}"
    for page in CHAPTER_PAGES:
        assert len(per_page.get(page, [])) >= 2, f"{page}.md has {per_page.get(page, [])}, needs two exercises"
    for page, make in CHAPTERS.items():  # everything computed is also on its page
        assert sorted(e["id"] for e in make()) == sorted(per_page.get(page, [])), page
    for page in DIAGRAM_PAGES:
        text = (DOCS / f"{page}.md").read_text(encoding="utf-8")
        light = re.findall(r"!\[([^\]]+)\]\(generated/diagrams/([\w-]+)\.svg#only-light\)", text)
        dark = re.findall(r"!\[([^\]]+)\]\(generated/diagrams/([\w-]+)-dark\.svg#only-dark\)", text)
        inline = INLINE_SVG.findall(text)
        for path in inline:  # drawn in the theme's own colours, so one SVG serves light and dark
            svg = (DOCS.parent / path).read_text(encoding="utf-8")
            assert "<title" in svg and "<desc" in svg and "var(--md-" in svg, f"{path}: needs title, desc, theme colours"
        assert light == dark, f"{page}.md: diagrams need a light and a dark image with the same alt text"
        assert light or inline, f"{page}.md has no diagram"
        for alt, name in light:  # a number the alt text states is one the diagram (computed by llmbook) shows
            drawn = " ".join(re.findall(r">([^<>]*)</text>", (GENERATED / f"diagrams/{name}.svg").read_text()))
            missing = [n for n in re.findall(r"(?<![\w.])\d(?:[\d,.]*\d)?(?:e-\d+)?(?!\w)", alt) if n not in drawn]
            assert not missing, f"{page}.md: alt text of {name} states {missing}, which the diagram does not show"


@pytest.mark.parametrize("chapter", list(CHAPTERS))
def test_exported_chapter_data_is_what_python_computes(site_dir, chapter):
    exported = json.loads((site_dir / f"generated/exercises/{chapter}.json").read_text())
    assert exported["exercises"] == CHAPTERS[chapter]()


@pytest.mark.parametrize(("path", "exercise_id", "src"), SITE_EXERCISES, ids=[e[1] for e in SITE_EXERCISES])
def test_every_exercise_accepts_its_answer(page, site_url, site_dir, path, exercise_id, src):
    ex = next(e for e in json.loads((site_dir / src).read_text())["exercises"] if e["id"] == exercise_id)
    page.goto(site_url + path, wait_until="load")
    root = page.locator(f'.llmbook-widget[data-exercise="{exercise_id}"]')
    box, feedback = root.locator("input"), root.locator(".llmbook-feedback")
    box.wait_for()
    for scheme in ("default", "slate"):  # every message readable (4.5:1) in both colour schemes
        page.evaluate(f"() => document.body.setAttribute('data-md-color-scheme', '{scheme}')")
        for text, state in (("?", "invalid"), (typed(ex["answer"] + 10 * ex["tolerance"] + 1, ex["tolerance"]), "wrong"),
                            (typed(ex["answer"], ex["tolerance"]), "correct")):
            box.fill(text)
            root.get_by_role("button", name="Check").click()
            assert feedback.get_attribute("data-state") == state, (text, feedback.inner_text())
            assert not page.evaluate(CONTRAST), f"{exercise_id} ({state}, {scheme})"
    root.get_by_role("button", name="Show hint").click()
    assert root.locator(".llmbook-hint").inner_text() == f"Hint: {ex['hint']}"
    root.get_by_role("button", name="Show solution").click()
    assert root.locator(".llmbook-solution li").all_inner_texts() == ex["solution"]
    assert not page.console_errors and not page.offsite_requests

# what a reader types: a wrong answer first, then a right one in the forms readers use
READER_ANSWERS = {
    "dot": ("1.4", "-1.4"),
    "softmax": ("0.24", ".66"),
    "weighted-sum": ("1.32", "1.48"),  # wrong: the first value's term alone
}


def test_exported_data_is_what_python_computes(site_dir):
    exported = json.loads((site_dir / "generated/attention/exercises.json").read_text())
    assert exported["exercises"] == exercises()


@pytest.mark.parametrize("exercise_id", list(READER_ANSWERS))
def test_wrong_then_right(page, site_url, exercise_id):
    page.goto(site_url + "attention-by-hand/", wait_until="load")
    root = page.locator(f'.llmbook-widget[data-exercise="{exercise_id}"]')
    root.locator("input").wait_for()
    box, feedback = root.locator("input"), root.locator(".llmbook-feedback")
    wrong, right = READER_ANSWERS[exercise_id]

    box.fill("a lot")
    root.get_by_role("button", name="Check").click()
    assert feedback.get_attribute("data-state") == "invalid"
    assert "not a number" in feedback.inner_text()

    box.fill(wrong)
    root.get_by_role("button", name="Check").click()
    assert feedback.get_attribute("data-state") == "wrong"

    box.fill(right)
    box.press("Enter")  # keyboard works as well as the button
    assert feedback.get_attribute("data-state") == "correct"

    hint = root.locator(".llmbook-hint")
    assert hint.is_hidden()
    root.get_by_role("button", name="Show hint").click()
    assert hint.is_visible()
    solution = root.locator(".llmbook-solution")
    root.get_by_role("button", name="Show solution").click()
    expected_steps = next(e for e in exercises() if e["id"] == exercise_id)["solution"]
    assert solution.locator("li").all_inner_texts() == expected_steps
    assert not page.console_errors and not page.offsite_requests


def test_widget_escapes_what_it_shows(page, site_url):
    page.goto(site_url + "attention-by-hand/", wait_until="load")
    root = page.locator('.llmbook-widget[data-exercise="dot"]')
    root.locator("input").fill("<img src=x onerror=alert(1)>")
    root.get_by_role("button", name="Check").click()
    feedback = root.locator(".llmbook-feedback")
    assert "<img src=x" in feedback.inner_text()
    assert feedback.locator("img").count() == 0
