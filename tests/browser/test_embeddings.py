"""The embeddings widget shows SmolLM2's real embedding rows and neighbours: shown values equal Python's."""

from __future__ import annotations

import json

import pytest

from llmbook.models.llama import load_model
from llmbook.models.embedding_space import nearest_tokens


def test_neighbours_shown_equal_python(page, site_url, site_dir) -> None:  # noqa: ANN001
    exported = json.loads((site_dir / "generated/model/embeddings.json").read_text())
    model = load_model("smollm2-135m-instruct")
    page.goto(site_url + "embeddings/", wait_until="load")
    root = page.locator('.llmbook-widget[data-widget="embeddings"]')
    button = root.locator('button[data-word=" king"]')
    button.wait_for()
    button.focus()
    page.keyboard.press("Enter")  # usable by keyboard
    assert button.get_attribute("aria-pressed") == "true"

    king = model.tokenizer.encode(" king")[0]
    expected = nearest_tokens(model.embed.weight, king, 8)
    rows = root.locator("tbody tr")
    assert rows.count() == 8
    for r, (i, cos) in enumerate(expected):
        assert rows.nth(r).get_attribute("data-id") == str(i)
        assert abs(float(rows.nth(r).locator("td").nth(2).inner_text()) - cos) <= 5.6e-4  # 3 decimals
    shown_vector = next(w for w in exported["words"] if w["word"] == " king")["vector"]
    assert shown_vector == pytest.approx(model.embed.weight[king].tolist(), abs=5e-4)
    assert root.locator(".llmbook-emb-strip span").count() == 576
    assert not page.console_errors and not page.offsite_requests


def test_contextual_figure_and_notebook_figures_shown(page, site_url) -> None:  # noqa: ANN001
    page.goto(site_url + "real-model/", wait_until="load")  # "Same word, different meaning" moved there
    figure = page.locator('img[src$="generated/model/contextual_bank.svg"]')
    assert figure.count() == 1
    assert figure.evaluate("img => img.complete && img.naturalWidth > 0")
    # the notebook's three heatmap cells (causal head, three wirings, a SmolLM2 head) render as images
    page.goto(site_url + "generated/notebooks/attention_walkthrough/", wait_until="load")
    shown = page.locator("img[src*='attention_walkthrough_files/']")  # written beside the page by tools/notebook_page.py
    assert shown.count() == 3
    assert all(shown.nth(i).evaluate("img => img.naturalWidth > 0") for i in range(3))
    assert "memory (1, 6, 16) -> (1, 3, 16)" in page.locator("body").inner_text()  # CrossAttention's shapes
    assert not page.console_errors and not page.offsite_requests
