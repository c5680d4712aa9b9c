"""The decoding comparator and the KV cache animation of "From logits to text", in Chromium.

The widget filters the real logits in JavaScript; the expected probabilities here
come from llmbook.inference.sampling (the functions the generate tests check against
transformers) applied in float64 to the same exported logits.
"""

from __future__ import annotations

import json

import pytest
import torch

from llmbook.inference.sampling import SamplingParams, process_logits

# slider settings a reader might choose: (prompt index, temperature, top-k, top-p, min-p)
SETTINGS = [
    (0, 1.0, 0, 1.0, 0.0),
    (0, 0.5, 0, 0.9, 0.0),
    (1, 1.5, 40, 1.0, 0.0),
    (1, 1.0, 0, 0.5, 0.0),
    (2, 0.8, 0, 1.0, 0.1),
    (2, 1.2, 20, 0.95, 0.05),
]


def expected(data: dict, prompt: int, t: float, k: int, p: float, min_p: float) -> torch.Tensor:
    logits = torch.tensor(data["prompts"][prompt]["logits"], dtype=torch.float64)
    params = SamplingParams(temperature=t, top_k=k or None, top_p=p if p < 1 else None, min_p=min_p or None)
    return process_logits(logits, params).softmax(-1)


def set_slider(root, key: str, value: float) -> None:
    root.locator(f'input[data-key="{key}"]').evaluate(
        "(el, v) => { el.value = String(v); el.dispatchEvent(new Event('input', {bubbles: true})); }", value)


@pytest.fixture(scope="module")
def data(site_dir) -> dict:
    return json.loads((site_dir / "generated/generate/comparator.json").read_text())


def test_sliders_give_pythons_distribution(page, site_url, data) -> None:
    page.goto(site_url + "generation/", wait_until="load")
    root = page.locator('.llmbook-widget[data-widget="decoding"]')
    root.locator(".llmbook-decoding-bars li").first.wait_for()
    for prompt, t, k, p, min_p in SETTINGS:
        root.get_by_label("Prompt").select_option(str(prompt))
        for key, value in (("temperature", t), ("topK", k), ("topP", p), ("minP", min_p)):
            set_slider(root, key, value)
        probs = expected(data, prompt, t, k, p, min_p)
        setting = (prompt, t, k, p, min_p)
        assert int(root.get_attribute("data-kept")) == int((probs > 0).sum()), setting
        rows = root.locator(".llmbook-decoding-bars li")
        shown = [(int(r.get_attribute("data-id")), float(r.get_attribute("data-prob"))) for r in rows.all()]
        assert len(shown) == 15
        top = probs.topk(15)
        for (token, prob), p_expected in zip(shown, top.values.tolist()):
            assert prob == pytest.approx(float(probs[token]), abs=1e-9), (setting, token)
            assert prob == pytest.approx(p_expected, abs=1e-9), setting  # the same ranking
        first = rows.first.locator(".llmbook-decoding-token").inner_text()
        assert first == json.dumps(data["vocab"][shown[0][0]], ensure_ascii=False)
    assert not page.console_errors and not page.offsite_requests


def test_filters_cut_where_python_cuts(page, site_url, data) -> None:
    """Kept-token counts for more settings, computed by the widget's own filter function."""
    page.goto(site_url + "generation/", wait_until="load")
    page.locator('.llmbook-widget[data-widget="decoding"] .llmbook-decoding-bars li').first.wait_for()
    page.evaluate("async (url) => { window.__comparator = await llmbook.fetchJSON(url); }",
                  "generated/generate/comparator.json")
    counts = []
    for prompt in range(len(data["prompts"])):
        for t, k, p, min_p in [(1.0, 5, 1.0, 0.0), (1.0, 0, 0.3, 0.0), (2.0, 0, 0.99, 0.0), (0.7, 0, 1.0, 0.02),
                               (1.0, 100, 0.8, 0.01)]:
            js = page.evaluate(
                """([i, s]) => {
                     const d = window.llmbookDecoding;
                     const probs = d.softmax(d.filterLogits(window.__comparator.prompts[i].logits, s));
                     return Array.from(probs).filter((x) => x > 0).length;
                   }""", [prompt, {"temperature": t, "topK": k, "topP": p, "minP": min_p}])
            py = int((expected(data, prompt, t, k, p, min_p) > 0).sum())
            assert js == py, (prompt, t, k, p, min_p)
            counts.append(py)
    assert len(set(counts)) >= 5  # the settings really cut at different places


def test_continuations_are_shown_escaped(page, site_url, data) -> None:
    page.goto(site_url + "generation/", wait_until="load")
    root = page.locator('.llmbook-widget[data-widget="decoding"]')
    root.locator(".llmbook-decoding-continuations dd").first.wait_for()
    for i, prompt in enumerate(data["prompts"]):
        root.get_by_label("Prompt").select_option(str(i))
        dds = root.locator(".llmbook-decoding-continuations dd")
        assert dds.count() == len(prompt["continuations"])
        for dd, c in zip(dds.all(), prompt["continuations"]):
            assert c["text"].strip()[:20] in dd.inner_text()
    assert root.locator(".llmbook-decoding-bars script, .llmbook-decoding-bars img").count() == 0


def test_kv_cache_animation_steps_through_the_trace(page, site_url, site_dir) -> None:
    trace = json.loads((site_dir / "generated/generate/kv_trace.json").read_text())
    page.goto(site_url + "generation/", wait_until="load")
    root = page.locator('.llmbook-widget[data-widget="kvcache"]')
    root.locator(".llmbook-kv-shapes").wait_for()
    steps = trace["steps"]
    assert steps[0]["phase"] == "prefill" and all(s["phase"] == "decode" for s in steps[1:])
    for i, s in enumerate(steps):
        shapes = root.locator(".llmbook-kv-shapes").inner_text()
        assert json.dumps(s["key_shape"]).replace(" ", "") in shapes.replace(" ", ""), i
        assert s["key_shape"] == [1, trace["n_kv_heads"], s["cache_length"], trace["head_dim"]]
        assert s["bytes"] == trace["n_layers"] * 2 * trace["n_kv_heads"] * trace["head_dim"] * s["cache_length"] * 4
        assert root.locator(".llmbook-kv-grid tr.fed").count() == len(s["fed"])
        if i < len(steps) - 1:
            root.get_by_role("button", name="Next step").click()
    assert root.get_by_role("button", name="Next step").is_disabled()
    root.get_by_label("Step").press("Home")
    assert "prefill" in root.locator(".llmbook-kv-title").inner_text()
    assert not page.console_errors and not page.offsite_requests
