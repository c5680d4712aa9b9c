"""The live model in Chromium: the download (manifest, sha256 per part, the Cache API), the worker, and the
Playground's generation box checked token for token against the Python NumPy engine on the same GGUF file.

One browser context is shared by the tests of the loaded model (a module fixture), so the 94 MiB are
downloaded once; the tampered and truncated downloads each get a fresh context (an empty Cache API).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from urllib.parse import urlparse

import pytest
from a11y import A11Y, CONTRAST

from llmbook.models.registry import model_path

PROMPT = "The capital of France is"
GREEDY_STEPS = 16  # the check: the same greedy tokens for 16 steps
LOAD_TIMEOUT = 60_000  # ms, a cold download and parse on a slow shared machine


def watch(page, site_url: str):
    """Record console errors, offsite requests and every request for a model part on ``page``."""
    own = urlparse(site_url).netloc
    page.console_errors, page.offsite_requests, page.part_requests = [], [], []

    def on_request(req) -> None:
        url = urlparse(req.url)
        if url.scheme in ("http", "https", "ws", "wss") and url.netloc != own:
            page.offsite_requests.append(req.url)
        if url.path.endswith(".bin"):
            page.part_requests.append(url.path.rsplit("/", 1)[-1])

    page.on("console", lambda msg: msg.type == "error" and page.console_errors.append(msg.text))
    page.on("pageerror", lambda exc: page.console_errors.append(f"page error: {exc}"))
    page.on("request", on_request)
    return page


def wait_js(page, expression: str, arg=None, timeout: int = 30_000) -> None:
    """page.wait_for_function, polling every 100 ms: a page behind another tab gets no animation frames,
    which the default polling waits for."""
    page.wait_for_function(expression, arg=arg, timeout=timeout, polling=100)


def open_playground(context, site_url: str):
    page = watch(context.new_page(), site_url)
    page.goto(site_url + "playground/", wait_until="load")
    wait_js(page, "() => document.querySelector('[data-widget=live-chat]')?.dataset.ready === 'true'")
    return page


def chat_box(page):
    return page.locator('.llmbook-widget[data-widget="live-chat"]')


def click_load(page, root) -> None:
    """Press the load button of ``root`` from the keyboard and record every value the progress bar takes."""
    root.locator(".llmbook-live-progress").evaluate("""(bar) => {
      window.progressSeen = [];
      new MutationObserver(() => window.progressSeen.push(+bar.getAttribute('aria-valuenow')))
        .observe(bar, {attributes: true, attributeFilter: ['aria-valuenow']});
    }""")
    root.locator(".llmbook-live-load").focus()
    page.keyboard.press("Enter")


def wait_phase(page, phases: tuple[str, ...]) -> str:
    wait_js(page, f"() => {json.dumps(list(phases))}.includes(llmbook.live.state.phase)", timeout=LOAD_TIMEOUT)
    return page.evaluate("llmbook.live.state.phase")


@pytest.fixture(scope="module")
def manifest(site_dir) -> dict:
    return json.loads((site_dir / "generated/model/manifest.json").read_text())


@pytest.fixture(scope="module")
def context(browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    yield ctx
    ctx.close()


@pytest.fixture(scope="module")
def loaded(context, site_url):
    """The Playground with the model loaded by a click (the first download of this context)."""
    page = open_playground(context, site_url)
    click_load(page, chat_box(page))
    assert wait_phase(page, ("ready", "error")) == "ready", page.evaluate("llmbook.live.state.error")
    return page


@pytest.fixture(scope="module")
def numpy_model():
    import llmbook

    return llmbook.load_model("smollm2-135m-instruct")


def test_the_parts_are_the_wheels_file(site_dir, manifest) -> None:
    """Catches parts that are not the GGUF file the Python chapters read (a stale build, a wrong cut) and a
    manifest whose sizes or hashes do not describe its parts."""
    data = model_path("smollm2-135m-instruct").read_bytes()
    assert manifest["bytes"] == len(data) and manifest["sha256"] == hashlib.sha256(data).hexdigest()
    assert manifest["version"] == manifest["sha256"][:16]
    joined = b""
    for part in manifest["parts"]:
        chunk = (site_dir / "generated/model" / part["name"]).read_bytes()
        assert len(chunk) == part["bytes"] <= 16 * 2**20
        assert hashlib.sha256(chunk).hexdigest() == part["sha256"]
        joined += chunk
    assert joined == data


def test_the_button_names_the_size_from_the_manifest(context, site_url, manifest) -> None:
    """Catches a size typed into the page instead of read from the manifest, and a page that downloads
    anything of the model before the reader asks."""
    page = open_playground(context, site_url)
    button = chat_box(page).locator(".llmbook-live-load")
    expected = f"Load the model, {round(manifest['bytes'] / 2**20)} MiB"
    wait_js(page, "(t) => document.querySelector('.llmbook-live-load').textContent === t", arg=expected)
    assert button.inner_text() == expected and button.is_enabled()
    assert not page.part_requests
    fits_a_phone_with_a11y(page)
    page.close()


def test_a_click_loads_with_a_progress_bar_to_100(loaded, manifest) -> None:
    """Catches a progress bar that never moves or stops short of 100 %, a part downloaded twice, and a
    status line that does not say the model is loaded."""
    root = chat_box(loaded)
    seen = loaded.evaluate("window.progressSeen")
    assert seen[-1] == 100 and any(0 < v < 100 for v in seen), seen
    assert seen == sorted(seen)
    assert sorted(loaded.part_requests) == sorted(p["name"] for p in manifest["parts"])
    info = loaded.evaluate("llmbook.live.state.info")
    assert info["fetchedParts"] == len(manifest["parts"]) and info["cachedParts"] == 0
    assert info["manifest"]["bytes"] == manifest["bytes"] and info["manifest"]["version"] == manifest["version"]
    assert root.locator(".llmbook-live-status").inner_text().startswith("Model loaded (94 MiB")
    assert not loaded.console_errors and not loaded.offsite_requests


def test_a_second_load_comes_from_the_cache(loaded, context, site_url, manifest) -> None:
    """Catches parts that are not kept in the Cache API (or kept under a name a second visit does not find):
    a second visit must request no part again."""
    page = open_playground(context, site_url)
    click_load(page, chat_box(page))
    assert wait_phase(page, ("ready", "error")) == "ready", page.evaluate("llmbook.live.state.error")
    info = page.evaluate("llmbook.live.state.info")
    assert page.part_requests == [] and info["fetchedParts"] == 0
    assert info["cachedParts"] == len(manifest["parts"])
    names = page.evaluate("caches.keys()")
    assert names == [f"llmbook-model-{manifest['version']}"]
    assert "from this browser's cache" in chat_box(page).locator(".llmbook-live-status").inner_text()
    page.close()


def flip_one_byte(body: bytes) -> bytes:
    middle = len(body) // 2
    return body[:middle] + bytes([body[middle] ^ 0x01]) + body[middle + 1:]


def test_damaged_parts_fail_their_sha256_check_and_the_rest_resumes(browser, site_url, manifest) -> None:
    """Catches parts used without checking their hash or length (a truncated part 1, then a part 3 with one
    bit flipped), a message that does not name the part, a damaged part kept in the cache, and parts already
    verified that are fetched again on the next try (no resume)."""
    n, parts = len(manifest["parts"]), manifest["parts"]
    ctx = browser.new_context()
    page = open_playground(ctx, site_url)
    status = chat_box(page).locator(".llmbook-live-status")
    cached = "(names) => caches.open('llmbook-model-' + %s).then(c => c.keys()).then(k => k.length)" % json.dumps(
        manifest["version"])

    def serve(damage):
        def handler(route) -> None:
            body = route.fetch().body()
            route.fulfill(status=200, body=damage(body), headers={"Content-Type": "application/octet-stream"})
        return handler

    ctx.route(f"**/{parts[0]['name']}", serve(lambda body: body[: len(body) // 3]))
    click_load(page, chat_box(page))
    assert wait_phase(page, ("ready", "error")) == "error"
    assert f"part 1 of {n} ({parts[0]['name']}) failed its sha256 check" in status.inner_text()
    assert f"({parts[0]['bytes'] // 3:,} of {parts[0]['bytes']:,} bytes)" in status.inner_text()
    assert page.evaluate(cached) == 0
    ctx.unroute(f"**/{parts[0]['name']}")

    ctx.route(f"**/{parts[2]['name']}", serve(flip_one_byte))
    chat_box(page).locator(".llmbook-live-load").click()
    assert wait_phase(page, ("ready", "error")) == "error"
    text = status.inner_text()
    assert f"part 3 of {n} ({parts[2]['name']}) failed its sha256 check: expected {parts[2]['sha256']}" in text, text
    assert page.evaluate(cached) == 2
    ctx.unroute(f"**/{parts[2]['name']}")

    page.part_requests.clear()
    chat_box(page).locator(".llmbook-live-load").click()
    assert wait_phase(page, ("ready", "error")) == "ready", page.evaluate("llmbook.live.state.error")
    assert page.part_requests == [p["name"] for p in parts[2:]]
    info = page.evaluate("llmbook.live.state.info")
    assert (info["cachedParts"], info["fetchedParts"]) == (2, n - 2)
    assert not page.offsite_requests
    ctx.close()


def generate_in_page(page, prompt: str, chat: bool, steps: int, fast: bool = False) -> dict:
    root = chat_box(page)
    root.get_by_label("Prompt").fill(prompt)
    root.get_by_label("as a chat turn (the model's chat template)").set_checked(chat)
    root.get_by_label("fast kernels (activations rounded to int16)").set_checked(fast)
    root.locator(".llmbook-live-new").evaluate("""(span) => {
      window.pieces = 0;
      new MutationObserver(() => window.pieces++).observe(span, {childList: true, characterData: true, subtree: true});
    }""")
    root.get_by_label("Strategy").select_option("greedy")
    root.get_by_label("New tokens at most").fill(str(steps))
    runs = int(root.get_attribute("data-runs"))
    root.get_by_role("button", name="Generate").click()
    wait_js(page, "(n) => +document.querySelector('[data-widget=live-chat]').dataset.runs > n", runs, LOAD_TIMEOUT)
    return {"ids": json.loads(root.get_attribute("data-ids")), "reason": root.get_attribute("data-reason"),
            "text": root.locator(".llmbook-live-new").inner_text(),
            "speed": root.locator(".llmbook-live-speed").inner_text(), "updates": page.evaluate("window.pieces")}


@pytest.mark.parametrize("chat,fast", [(False, False), (True, False), (False, True)], ids=["text", "chat", "fast"])
def test_the_playground_streams_pythons_greedy_tokens(loaded, numpy_model, chat, fast) -> None:
    """Catches a JS engine, tokenizer, chat template or decoding loop that differs from the book's Python one
    (in exact and in fast mode): the greedy continuation's ids and text must equal the NumPy engine's on the
    same GGUF file, and arrive piece by piece, not all at the end."""
    import llmbook

    want = llmbook.generate(numpy_model, PROMPT, max_new_tokens=GREEDY_STEPS, chat=chat, engine="numpy")
    got = generate_in_page(loaded, PROMPT, chat, GREEDY_STEPS, fast)
    assert got["ids"] == want.ids
    assert got["updates"] >= len(want.ids) - 1
    assert got["text"] == want.text
    assert got["reason"] == want.stop_reason
    assert "tokens/s" in got["speed"] or got["reason"] == "eos"
    assert not loaded.console_errors and not loaded.offsite_requests


# ---------------------------------------------------------------- the live parts of the chapter widgets
# Tolerances: exact mode's logits are within the bound of 1e-3 of the NumPy engine's; a softmax
# turns an error of at most d in each of its inputs into at most p * (e^(2d) - 1) <= 2.002e-3 in a
# probability p <= 1. The same bound is used for attention weights, a softmax of scores computed
# with the same float32 arithmetic.
LOGIT_TOL = 1e-3
PROB_TOL = 2.002e-3
OWN_TEXT = "The robot picked up the ball because it was light"


def live_result(page, root, widget: str, timeout: int) -> str:
    """Wait for a widget's live run to end; its state, or its status line when it failed."""
    wait_js(page, f"() => ['done', 'error'].includes(document.querySelector('[data-widget={widget}]').dataset.live)",
            timeout=timeout)
    state = root.get_attribute("data-live")
    return state if state == "done" else root.locator(".llmbook-live-form + .llmbook-live-status").inner_text()


def test_the_attention_explorer_shows_the_readers_text_live(loaded, numpy_model) -> None:
    """Catches live attention maps mislaid in the (layer, head, query, key) layout, an average of heads
    computed wrongly, and a live sentence that does not reach the layer and head pickers."""
    import torch

    from llmbook.models.llama import attention_maps

    root = loaded.locator('.llmbook-widget[data-widget="attention-explorer"]')
    root.get_by_label("Your own text").fill(OWN_TEXT)
    root.get_by_role("button", name="Show its attention").click()
    assert live_result(loaded, root, "attention-explorer", LOAD_TIMEOUT) == "done"
    ids = numpy_model.tokenizer.encode(OWN_TEXT)
    with torch.inference_mode():
        maps = attention_maps(numpy_model, ids).double()  # (L, H, T, T)
    assert root.get_by_label("Sentence").input_value() == str(len(root.get_by_label("Sentence").locator("option").all()) - 1)
    L, H, T = maps.shape[0], maps.shape[1], len(ids)
    for layer, head in [(0, 0), (14, 4), (L - 1, H - 1), (L - 1, H)]:  # head H: the average of heads
        root.get_by_label("Layer").select_option(str(layer))
        root.get_by_label("Head").select_option(str(head))
        cells = root.locator("td[data-query]").evaluate_all(
            "(tds) => tds.map(td => [+td.dataset.query, +td.dataset.key, +td.dataset.value])")
        assert len(cells) == T * T
        want = maps[layer].mean(dim=0) if head == H else maps[layer, head]
        worst = max(abs(v - float(want[q, k])) for q, k, v in cells)
        assert worst <= PROB_TOL, (layer, head, worst)
    assert root.locator("th[scope=row]").all_inner_texts()[1] == "\u00b7robot"
    assert not loaded.console_errors and not loaded.offsite_requests


def test_the_decoding_comparator_shows_the_readers_prompt_live(loaded, numpy_model) -> None:
    """Catches a live distribution that is not the model's next-token distribution for the reader's prompt
    (another position's row, unnormalised logits), continuations that differ from Python's greedy one, and
    sampled continuations that a seed does not reproduce."""
    import numpy as np
    import torch

    import llmbook
    from llmbook.inference.engine import engine_for
    from llmbook.inference.sampling import SamplingParams, process_logits

    root = loaded.locator('.llmbook-widget[data-widget="decoding"]')
    root.get_by_label("Your own text").fill(PROMPT)
    root.get_by_role("button", name="Use my text").click()
    assert live_result(loaded, root, "decoding", LOAD_TIMEOUT * 3) == "done"
    ids = numpy_model.tokenizer.encode(PROMPT)
    logits = engine_for(numpy_model, "numpy").forward(np.array([ids]), last_only=True)[0, -1]
    for t, k in [(1.0, None), (0.7, 40)]:
        root.locator('input[data-key="temperature"]').evaluate(
            "(el, v) => { el.value = String(v); el.dispatchEvent(new Event('input', {bubbles: true})); }", t)
        root.locator('input[data-key="topK"]').evaluate(
            "(el, v) => { el.value = String(v); el.dispatchEvent(new Event('input', {bubbles: true})); }", k or 0)
        want = process_logits(torch.tensor(logits, dtype=torch.float64), SamplingParams(temperature=t, top_k=k)).softmax(-1)
        shown = root.locator(".llmbook-decoding-bars li").evaluate_all(
            "(lis) => lis.map(li => [+li.dataset.id, +li.dataset.prob])")
        assert len(shown) == 15
        worst = max(abs(p - float(want[i])) for i, p in shown)
        assert worst <= PROB_TOL / t, (t, k, worst)
        assert shown[0][0] == int(want.argmax())
    continuations = {d.get_attribute("data-strategy"): d for d in root.locator("dd[data-strategy]").all()}
    greedy = llmbook.generate(numpy_model, PROMPT, max_new_tokens=30, engine="numpy")
    assert json.loads(continuations["greedy"].get_attribute("data-ids")) == greedy.ids
    sampled = json.loads(continuations["top-k"].get_attribute("data-ids"))
    again = loaded.evaluate("llmbook.live.generate({prompt: %s, params: {strategy: 'top-k', top_k: 40}, "
                            "max_new_tokens: 30, seed: 0}).then(d => d.ids)" % json.dumps(PROMPT))
    assert sampled == again and len(sampled) > 0
    assert continuations["beam"].inner_text().startswith("not run in the browser")
    assert not loaded.console_errors and not loaded.offsite_requests


def test_the_kv_cache_widget_traces_the_readers_text_live(loaded, numpy_model) -> None:
    """Catches a live trace whose cache does not grow one position per decode step, keys read from the wrong
    place of the engine's cache (another layer, head or position), and greedy steps that differ from Python's."""
    import torch

    from llmbook.layers.kv_cache import KVCache

    text = "Once upon a time"
    root = loaded.locator('.llmbook-widget[data-widget="kvcache"]')
    root.get_by_label("Your own text").fill(text)
    root.get_by_role("button", name="Trace my text").click()
    assert live_result(loaded, root, "kvcache", LOAD_TIMEOUT) == "done"
    steps = int(root.locator("input[type=range]").get_attribute("max"))
    model, ids = numpy_model, numpy_model.tokenizer.encode(text)
    block = model.blocks[0]
    cache, feed = KVCache(model.config.n_layers), ids
    room = loaded.evaluate("llmbook.live.state.info.maxContext")
    assert f"cache has room for {room:,} positions" in root.locator(".llmbook-kv-where").inner_text()
    for step in range(steps + 1):
        root.locator("input[type=range]").fill(str(step))
        with torch.inference_mode():
            x = block.attn_norm(model.embed(torch.tensor([feed])))  # layer 0's input to the key projection
            logits = model(torch.tensor([feed]), cache)[0, -1]
        keys = cache.keys[0][0, 0, :, :8].double()  # (S, 8): layer 0, KV head 0
        # float32 dot products of n = 576 terms: |error| <= n u / (1 - n u) * sum |w| |x| (Higham), doubled for
        # the norm before and the rotation after; the rotation mixes two such errors of a pair
        n, u = x.shape[-1], 2.0 ** -24
        scale = (block.attn.k_proj.weight.abs().double() @ x[0].abs().double().T).max()
        tol = 2 * 2 * n * u / (1 - n * u) * float(scale)
        shown = root.locator(".llmbook-kv-grid td").evaluate_all("(tds) => tds.map(td => +td.dataset.value)")
        assert len(shown) == keys.numel()
        worst = max(abs(a - b) for a, b in zip(shown, keys.flatten().tolist()))
        assert worst <= tol, (step, worst, tol)
        assert f"{len(ids) + step - 1} cached keys" in root.locator(".llmbook-kv-title").inner_text() or step == 0
        feed = [int(logits.argmax())]
    assert not loaded.console_errors and not loaded.offsite_requests


def test_generation_stops_at_the_cache_bound(loaded, context, site_url, numpy_model) -> None:
    """Catches a generation that runs past the KV cache's bound (an
    error mid-stream) or leaves the cache full for the next request, instead of ending with reason "context"."""
    import llmbook

    page = open_playground(context, site_url)  # the parts come from this context's cache
    bound = 12
    info = page.evaluate("llmbook.live.load({maxContext: %d})" % bound)
    assert info["maxContext"] == bound and info["fetchedParts"] == 0
    ids = numpy_model.tokenizer.encode(PROMPT)
    want = llmbook.generate(numpy_model, PROMPT, max_new_tokens=bound - len(ids) + 1, engine="numpy").ids
    for _ in range(2):  # the second run finds an empty cache again
        done = page.evaluate("llmbook.live.generate({prompt: %s, params: {strategy: 'greedy'}, max_new_tokens: 100})"
                             % json.dumps(PROMPT))
        assert done["reason"] == "context" and done["ids"] == want
    assert not page.console_errors and not page.offsite_requests
    page.close()
    loaded.bring_to_front()


def test_the_stop_button_stops_a_generation(loaded) -> None:
    """Catches a Stop button that the worker never reads while it generates (a loop without a task boundary)."""
    root = chat_box(loaded)
    root.get_by_label("Prompt").fill("Tell me a long story about the sea.")
    # as a chat turn: as plain text this prompt's first greedy token is the end of the turn (tests before this
    # one leave the box in either state)
    root.get_by_label("as a chat turn (the model's chat template)").set_checked(True)
    root.get_by_label("New tokens at most").fill("400")
    root.get_by_role("button", name="Generate").click()
    wait_js(loaded, "() => document.querySelector('[data-widget=live-chat] .llmbook-live-new').textContent")
    root.get_by_role("button", name="Stop").click()
    wait_js(loaded, "() => document.querySelector('[data-widget=live-chat]').dataset.state === 'idle'",
            timeout=LOAD_TIMEOUT)
    assert root.get_attribute("data-reason") == "stopped"
    assert 0 < len(json.loads(root.get_attribute("data-ids"))) < 400
    assert not loaded.console_errors and not loaded.offsite_requests


def fits_a_phone_with_a11y(page) -> None:
    """The live controls on ``page`` fit a 375 px phone, every control is named, the widgets' text (the live
    boxes' among it) has 4.5:1 contrast in both colour schemes."""
    page.set_viewport_size({"width": 375, "height": 800})
    try:
        assert page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth") <= 1
        for live in page.locator(".llmbook-live, .llmbook-live-form").all():
            box = live.bounding_box()
            assert box is None or (box["x"] >= 0 and box["x"] + box["width"] <= 375 + 1), box  # None: hidden
        a11y = page.evaluate(A11Y)
        assert not a11y["unlabelled"], a11y
        for scheme in ("slate", "default"):
            page.evaluate(f"() => document.body.setAttribute('data-md-color-scheme', '{scheme}')")
            assert not page.evaluate(CONTRAST), scheme
    finally:
        page.set_viewport_size({"width": 1280, "height": 900})


def test_the_live_boxes_fit_a_phone_and_pass_the_a11y_checks(loaded) -> None:
    """Catches live controls wider than a 375 px phone once the model is loaded and has written text, a
    control or button without a name, text below 4.5:1 contrast, and a load button left on the page."""
    fits_a_phone_with_a11y(loaded)
    assert loaded.locator(".llmbook-live-load").evaluate_all("(bs) => bs.filter(b => b.offsetParent).length") == 0
