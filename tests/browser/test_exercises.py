"""The three exercises of "Attention by hand": a wrong answer, then the right one, in Chromium."""

from __future__ import annotations

import json

import pytest

from tools.by_hand import exercises

# what a reader types: a wrong answer first, then a right one in the forms readers use
READER_ANSWERS = {
    "dot": ("1.4", "-1.4"),
    "softmax": ("0.24", ".66"),
    "weighted-sum": ("0.34", "0.66"),
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
