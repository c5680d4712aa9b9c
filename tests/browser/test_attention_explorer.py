"""The attention explorer shows SmolLM2's real attention weights: a displayed cell equals Python's value."""

from __future__ import annotations

import json

import pytest

from llmbook.models.llama import attention_maps, load_model


@pytest.fixture(scope="module")
def exported(site_dir) -> dict:  # noqa: ANN001
    return json.loads((site_dir / "generated/model/attention.json").read_text())


def test_exported_weights_are_what_the_model_computes(exported: dict) -> None:
    model = load_model("smollm2-135m-instruct")
    s = exported["sentences"][0]
    assert s["text"] == "The cat sat on the comfortable mat"
    maps = attention_maps(model, s["ids"])  # (L, H, T, T)
    for layer, head, q, k in [(0, 0, 6, 5), (14, 4, 3, 0), (29, 8, 6, 6)]:
        assert s["weights"][layer][head][q][k] == pytest.approx(maps[layer, head, q, k].item(), abs=6e-4)
    avg = maps[29].mean(dim=0)
    assert s["weights"][29][exported["n_heads"]][6][0] == pytest.approx(avg[6, 0].item(), abs=6e-4)


def test_cell_shown_equals_python(page, site_url, exported: dict) -> None:  # noqa: ANN001
    model = load_model("smollm2-135m-instruct")
    page.goto(site_url + "attention-explorer/", wait_until="load")
    root = page.locator('.llmbook-widget[data-widget="attention-explorer"]')
    root.locator("table td").first.wait_for()

    # layer 15, head 5, query " mat" (6), key "The" (0)
    root.get_by_label("Layer").select_option("14")
    root.get_by_label("Head").select_option("4")
    cell = root.locator('td[data-query="6"][data-key="0"]')
    ids = exported["sentences"][0]["ids"]
    expected = attention_maps(model, ids)[14, 4, 6, 0].item()
    assert float(cell.get_attribute("data-value")) == pytest.approx(expected, abs=6e-4)
    assert abs(float(cell.inner_text()) - expected) <= 0.0055  # shown to 2 decimals
    assert root.locator("caption").inner_text().startswith("Layer 15, head 5")

    # masked cells are empty; each row has T cells
    assert root.locator('td[data-query="2"][data-key="5"]').inner_text() == ""
    assert root.locator('tr[data-query="6"] td').count() == len(ids)

    # another sentence and the head average
    root.get_by_label("Sentence").select_option("1")
    root.get_by_label("Head").select_option(str(exported["n_heads"]))
    trophy = exported["sentences"][1]
    avg = attention_maps(model, trophy["ids"])[14].mean(dim=0)
    q = len(trophy["ids"]) - 1
    shown = root.locator(f'td[data-query="{q}"][data-key="{q}"]')
    assert abs(float(shown.inner_text()) - avg[q, q].item()) <= 0.0055
    assert float(shown.get_attribute("data-value")) == pytest.approx(avg[q, q].item(), abs=6e-4)
    assert not page.console_errors and not page.offsite_requests


def test_row_label_highlights_by_keyboard(page, site_url) -> None:  # noqa: ANN001
    page.goto(site_url + "attention-explorer/", wait_until="load")
    root = page.locator('.llmbook-widget[data-widget="attention-explorer"]')
    root.locator("table td").first.wait_for()
    root.get_by_label("Head").focus()
    page.keyboard.press("Tab")  # the first row label
    first = root.locator('tr[data-query="0"]')
    assert "llmbook-attn-active" in first.get_attribute("class")
    page.keyboard.press("Tab")
    assert "llmbook-attn-active" in root.locator('tr[data-query="1"]').get_attribute("class")
    assert "llmbook-attn-active" not in (first.get_attribute("class") or "")
    assert "attends most to" in root.locator(".llmbook-attn-caption").inner_text()
