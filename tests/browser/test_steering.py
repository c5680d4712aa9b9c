"""The steering widget (docs/javascripts/widgets/steering.js) in Chromium, against the book's Python.

The vectors, the layer and the strengths are examples/interpret.py's (generated/interpret/steering_widget.json).
Before the model is loaded the widget shows the build's numbers; once it is loaded (once per module, in one
browser context), "Generate" runs the engine with the vector added after the same block, and its next-token
probabilities and greedy continuation must be the Python model's steered the same way: the PyTorch model
with ``llmbook.interpret.hooks.add_vector``, and the NumPy engine with the same addition after the block,
which the JS engine's exact mode follows to float32 rounding.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from typing import Iterator

import numpy as np
import pytest
import torch
from test_live_model import LOAD_TIMEOUT, fits_a_phone_with_a11y, wait_js, wait_phase, watch

# Tolerances. Exact mode's logits are within 1e-3 of the NumPy engine's (tests/browser/test_engine.py; measured
# here ~5e-5 with the vector added). A logit error d moves a probability p by at most p (e^(2d) - 1): 2e-4 at
# d = 1e-4, so 1e-3 for a probability leaves five times the room. The PyTorch model differs from the NumPy
# engine by ~3e-5 in logits (other summation orders), so the same bounds hold against it.
LOGIT_TOL = 1e-3
PROB_TOL = 1e-3
# (concept, alpha): alpha 0 is the plain model; 4 is the chapter's largest useful strength for both concepts:
# the Golden Gate topic appears at 3 and 4 (the random control runs at 4) and is gone at 8; the sentiment shift
# at 4 is beyond every random direction's, at 8 random ones match it. -4 pushes sentiment the other way.
LIVE_CASES = [("golden_gate", 0), ("golden_gate", 4), ("sentiment", 4), ("sentiment", -4)]


@pytest.fixture(scope="module")
def data(site_dir) -> dict:
    return json.loads((site_dir / "generated/interpret/steering_widget.json").read_text())


def concept_of(data: dict, key: str) -> tuple[int, dict]:
    return next((i, c) for i, c in enumerate(data["concepts"]) if c["key"] == key)


def widget(page):
    return page.locator('.llmbook-widget[data-widget="steering"]')


def open_chapter(context, site_url: str):
    page = watch(context.new_page(), site_url)
    page.goto(site_url + "interpret/", wait_until="load")
    wait_js(page, "() => document.querySelector('[data-widget=steering]')?.dataset.ready === 'true'")
    return page


def choose(root, index: int, alpha: float, prompt: str | None = None) -> None:
    """Pick a concept, a strength and (unless None) a prompt, as a reader does."""
    root.get_by_label("Concept").select_option(str(index))
    root.get_by_label("Strength").fill(str(alpha))  # a range input: sets the value and fires "input"
    if prompt is not None:
        root.get_by_label("Prompt", exact=True).fill(prompt)


def shown(root) -> dict:
    """What the widget shows: source, bars [(id, prob, logit or None)], continuation ids and text."""
    bars = root.locator(".llmbook-steering-bars li").evaluate_all(
        "(lis) => lis.map(li => [+li.dataset.id, +li.dataset.prob, li.dataset.logit === undefined ? null : +li.dataset.logit])")
    out = root.locator(".llmbook-steering-continuation")
    ids = out.get_attribute("data-ids")
    return {"source": root.get_attribute("data-source"), "bars": bars, "ids": json.loads(ids) if ids else None,
            "text": out.locator(".llmbook-live-new").text_content()}


@pytest.fixture(scope="module")
def context(browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    yield ctx
    ctx.close()


@pytest.fixture(scope="module")
def loaded(context, site_url):
    """The chapter with the model loaded from the steering widget's own button, from the keyboard."""
    page = open_chapter(context, site_url)
    button = widget(page).locator(".llmbook-live-load")
    wait_js(page, "() => !document.querySelector('[data-widget=steering] .llmbook-live-load').disabled")
    button.focus()
    page.keyboard.press("Enter")
    assert wait_phase(page, ("ready", "error")) == "ready", page.evaluate("llmbook.live.state.error")
    return page


@contextmanager
def numpy_steered(vector: torch.Tensor, layer: int, alpha: float) -> Iterator[None]:
    """The NumPy engine with ``alpha * vector`` added to block ``layer``'s output (B, T, C), as add_vector does."""
    import llmbook.inference.numpy_engine as ne

    block, add = ne.llama_block_np, np.float32(alpha) * vector.numpy()  # (C,) float32, as torch's alpha * vector

    def steered_block(x, w, c, cos, sin, mask, cache, i):
        y = block(x, w, c, cos, sin, mask, cache, i)  # (B, T, C)
        return y + add if i == layer else y
    ne.llama_block_np = steered_block  # NumpyLlama.forward looks the block up in the module on every call
    try:
        yield
    finally:
        ne.llama_block_np = block


def upto_eos(ids: list[int], eos: int) -> list[int]:
    """Greedy ids as the worker gives them: it stops at the end-of-sequence token, which it keeps."""
    return ids[: ids.index(eos) + 1] if eos in ids else ids


def softmax(z) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max())
    return e / e.sum()


# ---------------------------------------------------------------- before the model is loaded

def test_before_loading_it_shows_the_builds_results(browser, site_url, data) -> None:
    """Catches a widget that shows nothing until the model is downloaded, shows another strength's or prompt's
    numbers than the build's, invents numbers where the build computed none, or fetches the model unasked."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = open_chapter(ctx, site_url)
    root = widget(page)
    parts = []
    page.on("request", lambda r: r.url.endswith(".bin") and parts.append(r.url))
    assert root.get_by_role("button", name="Generate").is_disabled()
    for i, c in enumerate(data["concepts"]):
        root.get_by_label("Concept").select_option(str(i))
        prompt = c["prompts"][0]
        assert root.get_by_label("Prompt", exact=True).input_value() == prompt["text"]
        assert root.get_attribute("data-alpha") == str(c["start"])  # the concept's own starting strength
        for top in prompt["top"]:
            choose(root, i, top["alpha"])
            got = shown(root)
            assert got["source"] == "build", (c["key"], top["alpha"])
            assert [(b[0], b[1]) for b in got["bars"]] == list(zip(top["ids"], top["probs"]))
            run = next((r for r in prompt["continuations"] if r["alpha"] == top["alpha"]), None)
            assert got["ids"] == (run["ids"] if run else None)
            assert got["text"] == (run["text"] if run else "")
        choose(root, i, min(c["alphas"]) + 0.5)  # a strength the build did not compute
        assert shown(root)["source"] == "none" and shown(root)["bars"] == []
        choose(root, i, c["start"], "A prompt of my own")
        assert shown(root)["source"] == "none"
    gg_index, gg = concept_of(data, "golden_gate")
    choose(root, gg_index, gg["start"])
    root.get_by_label("The chapter's prompts").select_option("1")  # the list fills the prompt box
    assert root.get_by_label("Prompt", exact=True).input_value() == gg["prompts"][1]["text"]
    assert shown(root)["source"] == "build"
    assert not parts and not page.console_errors and not page.offsite_requests
    fits_a_phone_with_a11y(page)
    ctx.close()


def test_the_builds_numbers_are_the_steered_models(data, site_dir, smollm) -> None:
    """Catches an export that is not what the chapter computed: a vector other than its directions (their
    lengths are in results.json), or top tokens and continuations not made with that vector at that layer."""
    from llmbook.interpret.concepts import encode, steered
    from llmbook.interpret.hooks import add_vector

    results = json.loads((site_dir / "generated/interpret/results.json").read_text())
    assert data["layer"] == results["layer"] and data["dim"] == smollm.config.dim
    norms = {"golden_gate": results["golden_gate"]["norm"], "sentiment": results["probe"]["norm"]}
    scales = {"golden_gate": results["golden_gate"]["scales"], "sentiment": results["steer_sentiment"]["scales"]}
    for c in data["concepts"]:
        vec = torch.tensor(c["vector"], dtype=torch.float32)
        assert vec.shape == (data["dim"],) and vec.norm().item() == pytest.approx(norms[c["key"]], rel=1e-6)
        assert c["alphas"] == scales[c["key"]]
        prompt = c["prompts"][0]
        top = prompt["top"][-1]  # the strongest push
        with add_vector(smollm, data["layer"], vec, top["alpha"]), torch.inference_mode():
            probs = torch.softmax(smollm(encode(smollm, prompt["text"]), last_only=True)[0, -1], -1)
        assert probs.topk(data["top"]).indices.tolist() == top["ids"]
        assert np.allclose(probs[top["ids"]].tolist(), top["probs"], atol=1e-6)
    _, gg = concept_of(data, "golden_gate")
    run = next(r for r in gg["prompts"][0]["continuations"] if r["alpha"] == gg["start"])
    assert steered(smollm, gg["prompts"][0]["text"], data["layer"], torch.tensor(gg["vector"]), run["alpha"],
                   data["tokens"]).ids == run["ids"]


# ---------------------------------------------------------------- the model in the page

@pytest.mark.parametrize("key,alpha", LIVE_CASES, ids=[f"{k}-{a}" for k, a in LIVE_CASES])
def test_live_next_tokens_and_continuation_equal_pythons(loaded, data, smollm, key, alpha) -> None:
    """Catches a vector added at another block, to some positions only, scaled wrongly or not at all, a
    vector that does not reach the worker, and a continuation whose decode steps are not steered: the
    widget's ten next tokens and greedy ids must be Python's, steered the same way."""
    import llmbook
    from llmbook.inference.engine import engine_for
    from llmbook.inference.generate import default_eos
    from llmbook.interpret.concepts import steered
    from llmbook.interpret.hooks import add_vector

    index, c = concept_of(data, key)
    prompt, layer, n = c["prompts"][0]["text"], data["layer"], data["tokens"]
    vec = torch.tensor(c["vector"], dtype=torch.float32)
    root = widget(loaded)
    choose(root, index, alpha, prompt)
    root.evaluate("(r) => { delete r.dataset.live; }")
    root.get_by_label("Prompt", exact=True).press("Enter")  # the keyboard submits the form
    wait_js(loaded, "() => ['done', 'error'].includes(document.querySelector('[data-widget=steering]').dataset.live)",
            timeout=LOAD_TIMEOUT * 2)
    assert root.get_attribute("data-live") == "done", root.locator(".llmbook-steering-status").inner_text()
    got = shown(root)
    assert got["source"] == "live" and len(got["bars"]) == data["top"]

    ids = smollm.tokenizer.encode(prompt)
    engine = engine_for(smollm, "numpy")
    with numpy_steered(vec, layer, alpha):
        ref_logits = engine.forward(np.array([ids]), last_only=True)[0, -1]  # (V,) float32
        ref_ids = llmbook.generate(smollm, prompt, max_new_tokens=n, engine="numpy", eos_token_id=None).ids
    with add_vector(smollm, layer, vec, alpha), torch.inference_mode():
        torch_logits = smollm(torch.tensor([ids]), last_only=True)[0, -1].numpy()
    for ref in (ref_logits, torch_logits):  # the NumPy engine and the PyTorch model, steered
        p = softmax(ref)
        for i, prob, logit in got["bars"]:
            assert abs(prob - p[i]) <= PROB_TOL and abs(logit - ref[i]) <= LOGIT_TOL, (i, prob, p[i], logit, ref[i])
        order = np.argsort(-p)
        tenth = p[order[data["top"] - 1]]
        shown_ids = [b[0] for b in got["bars"]]
        assert shown_ids[0] == order[0]
        assert all(int(i) in shown_ids for i in order[: data["top"]] if p[i] > tenth + 2 * PROB_TOL)  # ties aside
    plain = softmax(engine.forward(np.array([ids]), last_only=True)[0, -1])
    moved = max(abs(softmax(ref_logits)[i] - plain[i]) for i, _, _ in got["bars"])
    if alpha == 0:  # alpha 0 is the plain model, bit for bit in the browser
        unsteered = loaded.evaluate("(t) => llmbook.live.forward({text: t, top: 10, mode: 'exact'})"
                                    ".then(r => [Array.from(r.top.ids), Array.from(r.top.probs)])", prompt)
        assert [[b[0] for b in got["bars"]], [b[1] for b in got["bars"]]] == unsteered
        assert moved == 0
    else:  # and the push is large enough that a vector left out could not pass
        assert moved > 0.05, moved

    eos = default_eos(smollm)
    want = upto_eos(steered(smollm, prompt, layer, vec, alpha, n).ids, eos)  # the chapter's function, PyTorch
    assert got["ids"] == upto_eos(ref_ids, eos) == want
    build = next((r for r in c["prompts"][0]["continuations"] if r["alpha"] == alpha), None)
    if build:  # the build's continuation, written again in the browser
        assert got["ids"] == upto_eos(build["ids"], eos) and got["text"] == build["text"]
    assert not loaded.console_errors and not loaded.offsite_requests


BAD_STEER = [  # (what the page sends, the message); vectors are built in the page from the concept's
    ("{layer: 30, vector: v, alpha: 1}", "steer.layer must be an integer in 0..29 (a block, counted from 0), got 30"),
    ("{layer: 12.5, vector: v, alpha: 1}", "steer.layer must be an integer in 0..29 (a block, counted from 0), got 12.5"),
    ("{vector: v, alpha: 1}", "steer.layer must be an integer in 0..29 (a block, counted from 0), got undefined"),
    ("{layer: 12, vector: v.slice(1), alpha: 1}", "steer.vector must hold 576 numbers (the model's width), got 575 values"),
    ("{layer: 12, vector: 'v', alpha: 1}", "steer.vector must hold 576 numbers (the model's width), got string"),
    ("{layer: 12, vector: v.map((x, i) => (i === 7 ? NaN : x)), alpha: 1}",
     "steer.vector[7] is NaN: every value must be a finite number"),
    ("{layer: 12, vector: Float32Array.from(v, (x, i) => (i === 9 ? Infinity : x)), alpha: 1}",
     "steer.vector[9] is Infinity: every value must be a finite number"),
    ("{layer: 12, vector: v, alpha: Infinity}", "steer.alpha must be a finite number, got Infinity"),
    ("{layer: 12, vector: v, alpha: '4'}", 'steer.alpha must be a finite number, got "4"'),
    ("4", "steer must be {layer, vector, alpha}, got 4"),
]


def test_bad_steer_arguments_are_refused_with_a_clear_message(loaded, data) -> None:
    """Catches a steer argument used without checks (a NaN vector spreading through every logit, a layer past
    the last, a short vector read past its end), in forward and in generate, and a worker left broken by one."""
    messages = loaded.evaluate("""async ([vector, cases]) => {
      const v = vector, out = [];
      for (const expr of cases) {
        const steer = eval(`(${expr})`);
        for (const run of [() => llmbook.live.forward({text: "Hello", steer}),
                           () => llmbook.live.generate({prompt: "Hello", max_new_tokens: 4, steer}, () => out.push("a token"))]) {
          try { await run(); out.push("no error"); } catch (e) { out.push(e.message); }
        }
      }
      return out;
    }""", [data["concepts"][0]["vector"], [case for case, _ in BAD_STEER]])
    assert messages == [m for _, m in BAD_STEER for _ in range(2)]
    good = loaded.evaluate("(v) => llmbook.live.forward({text: 'Hello', top: 3, steer: {layer: 12, vector: v, alpha: 1}})"
                           ".then(r => r.top.ids.length)", data["concepts"][0]["vector"])
    assert good == 3
    assert not loaded.offsite_requests


def test_the_live_widget_fits_a_phone_without_errors_or_offsite_requests(loaded) -> None:
    """Catches a steering box wider than a 375 px phone once it has written a continuation, an unnamed
    control, text under 4.5:1 contrast, and any console error or request to another host during the runs."""
    assert widget(loaded).get_attribute("data-source") == "live"
    fits_a_phone_with_a11y(loaded)
    assert not loaded.console_errors and not loaded.offsite_requests
