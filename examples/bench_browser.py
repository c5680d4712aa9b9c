"""The browser engine's speed: docs/javascripts/engine/ in headless Chromium, beside the NumPy engine.

One run measures, on SmolLM2's GGUF and the same token ids (CPython's docs, never shown to the model
by this book):
- the browser engine (one thread, WebAssembly SIMD) in exact and fast mode: prefill of 32 tokens,
  and decode at 32 and at 512 positions (greedy steps after a prompt of that length);
- the book's NumPy engine on one thread, the same three numbers, in the same process;
- llama.cpp compiled to WebAssembly (@wllama/wllama, single-threaded) is not installed by the build:
  its numbers come from the newest committed record (``python -m tools.bench_wllama --record``).

Decode rate: the steps after the first token over their time (the first comes from the prefill),
the formula of examples/bench_engines.py. Best of repeats. Without Chromium the build replays the newest
committed record of this benchmark (``--record`` saves one) and says so.

Writes ``generated/bench/browser.json``, ``browser_caption.txt`` and ``browser.svg``.
"""

from __future__ import annotations

import argparse
import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # one thread, like the browser
    os.environ[_v] = "1"

import base64  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from llmbook.inference.engine import engine_for  # noqa: E402
from llmbook.models.llama import load_model  # noqa: E402
from llmbook.models.registry import model_path  # noqa: E402
from llmbook.training.data import pydoc_topics_text  # noqa: E402
from tools.bench import environment, latest_record, save_record  # noqa: E402
from tools.export import GENERATED, generated_path, save_figure, write_json  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ENGINE = ROOT / "docs" / "javascripts" / "engine"
FORMULA = "decode tokens/s = steps after the first token / their time"
PREFILL, POSITIONS, STEPS, REPEATS = 32, (32, 512), 16, 5
MODES = ("exact", "fast")
TARGETS = {"exact_decode_32": 30.0, "prefill_32_s": 0.5, "slowdown_512": 2.0, "fast_vs_wllama": 1.0}  # set for it

PAGE = """<!doctype html><meta charset="utf-8"><title>engine benchmark</title>
<script type="module">
  window.engine = import("/javascripts/engine/model.js");
</script>"""

LOAD = """async () => {
  const { loadModel } = await window.engine;
  const buffer = await (await fetch("/model.gguf")).arrayBuffer();
  const t0 = performance.now();
  window.MODEL = await loadModel(buffer, { maxContext: %d });
  return { load_s: (performance.now() - t0) / 1e3, simd: MODEL.mode !== "js" };
}"""

# One mode, one prompt: best-of prefill, then greedy steps timed; the KV cache is rewound to the prompt's
# end between repeats (positions past it are simply written again).
MEASURE = """({ mode, ids, steps, repeats, prefills }) => {
  MODEL.mode = mode;
  const argmax = (a) => { let b = 0; for (let i = 1; i < a.length; i++) if (a[i] > a[b]) b = i; return b; };
  const prefill = [], decode = [];
  let first, tokens;
  for (let r = 0; r < prefills; r++) {
    MODEL.reset();
    const t0 = performance.now();
    first = MODEL.forward(ids, { lastOnly: true }).logits;
    prefill.push((performance.now() - t0) / 1e3);
  }
  for (let r = 0; r < repeats; r++) {
    MODEL.position = ids.length;
    let logits = first;
    tokens = [];
    const t0 = performance.now();
    for (let s = 0; s < steps; s++) {
      tokens.push(argmax(logits));
      logits = MODEL.forward([tokens[s]], { lastOnly: true }).logits;
    }
    decode.push((performance.now() - t0) / 1e3);
  }
  return { prefill_s: prefill, decode_s: decode, tokens };
}"""


# Every position's logits over a prompt, as the bytes of the Float32Array (base64): compared with NumPy's.
LOGITS = """({ mode, ids }) => {
  MODEL.mode = mode;
  MODEL.reset();
  const { logits } = MODEL.forward(ids);
  const bytes = new Uint8Array(logits.buffer, logits.byteOffset, logits.byteLength);
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(s);
}"""


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def accuracy(got: np.ndarray, ref: np.ndarray) -> dict:
    """Largest logit and probability differences, and how often the top token agrees: (T, V) each."""
    return {"max_logit_diff": float(np.abs(got - ref).max()),
            "max_prob_diff": float(np.abs(softmax(got.astype(np.float64)) - softmax(ref.astype(np.float64))).max()),
            "top_token_agreement": float((got.argmax(-1) == ref.argmax(-1)).mean())}


def prompt_ids(model, n: int) -> list[int]:
    ids = model.tokenizer.encode(pydoc_topics_text()[: 8 * n])  # ~4 characters a token
    assert len(ids) >= n
    return ids[:n]


def prefills(ids: list[int]) -> int:
    """Prefill is timed (best of REPEATS) for the PREFILL-token prompt; a longer one is run once, to fill the cache."""
    return REPEATS if len(ids) == PREFILL else 1


def numpy_run(engine, ids: list[int]) -> dict:
    """The same measurement on the NumPy engine: prefill, then greedy steps, best of REPEATS."""
    prefill, decode = [], []
    cache = engine.new_cache(1, len(ids) + STEPS)
    for _ in range(prefills(ids)):
        cache.length = 0
        t0 = time.perf_counter()
        first = engine.forward(np.array([ids]), cache, last_only=True)[0, -1]
        prefill.append(time.perf_counter() - t0)
    for _ in range(REPEATS):
        cache.length, logits, tokens = len(ids), first, []
        t0 = time.perf_counter()
        for _ in range(STEPS):
            tokens.append(int(logits.argmax()))
            logits = engine.forward(np.array([[tokens[-1]]]), cache, last_only=True)[0, -1]
        decode.append(time.perf_counter() - t0)
    return {"prefill_s": prefill, "decode_s": decode, "tokens": tokens}


def summary(run: dict) -> dict:
    return {"prefill_s": min(run["prefill_s"]), "decode_tok_s": STEPS / min(run["decode_s"]), "tokens": run["tokens"]}


def measure() -> dict:
    from tools.browser import chromium, serve

    torch.set_num_threads(1)
    model = load_model()
    numpy = engine_for(model, "numpy")
    prompts = {p: prompt_ids(model, p) for p in sorted({PREFILL, *POSITIONS})}
    out: dict = {"steps": STEPS, "repeats": REPEATS, "prefill_tokens": PREFILL, "positions": list(POSITIONS),
                 "formula": FORMULA, "engines": {}}
    routes = {"/": PAGE, "/model.gguf": model_path("smollm2-135m-instruct"), "/javascripts/engine/": ENGINE}
    with serve(routes) as url, chromium() as browser:
        page = browser.new_page()
        offsite = []
        page.on("request", lambda r: r.url.startswith(url) or offsite.append(r.url))
        page.goto(url + "/")
        loaded = page.evaluate(LOAD % (max(POSITIONS) + STEPS))
        if not loaded["simd"]:
            raise SystemExit("this Chromium has no WebAssembly SIMD: the engine fell back to plain JavaScript")
        out["chromium"], out["load_s"] = browser.version, loaded["load_s"]
        ref = numpy.forward(np.array([prompts[PREFILL]]))[0]  # (T, V)
        for mode in MODES:
            got = np.frombuffer(base64.b64decode(page.evaluate(LOGITS, {"mode": mode, "ids": prompts[PREFILL]})),
                                dtype=np.float32).reshape(ref.shape)
            out.setdefault("accuracy", {})[mode] = accuracy(got, ref)
            for p, ids in prompts.items():
                run = page.evaluate(MEASURE, {"mode": mode, "ids": ids, "steps": STEPS, "repeats": REPEATS,
                                             "prefills": prefills(ids)})
                out["engines"].setdefault(mode, {})[str(p)] = summary(run)
        assert not offsite, f"the benchmark page asked another host for {offsite}"
    for p, ids in prompts.items():
        out["engines"].setdefault("numpy", {})[str(p)] = summary(numpy_run(numpy, ids))
    for p in prompts:  # exact mode is float arithmetic on the same weights: the NumPy engine's greedy tokens
        ref = out["engines"]["numpy"][str(p)]["tokens"]
        for k, e in out["engines"].items():
            e[str(p)]["same_tokens_as_numpy"] = e[str(p)]["tokens"] == ref
        assert out["engines"]["exact"][str(p)]["same_tokens_as_numpy"], f"exact mode's greedy tokens after {p} differ"
    return out


def caption(data: dict) -> str:
    r, wl = data["results"], data["wllama"]
    e = r["engines"]
    lo, hi = (str(p) for p in r["positions"])
    source = ("measured in this build" if not data["replayed"] else
              f"replayed from the committed record of {data['environment']['date'][:10]} (this build found no Chromium)")
    rates = "; ".join(f"{LABELS[k]} {e[k][lo]['decode_tok_s']:.1f} tokens/s at {lo} positions and "
                      f"{e[k][hi]['decode_tok_s']:.1f} at {hi}, prefill of {r['prefill_tokens']} tokens "
                      f"{e[k][str(r['prefill_tokens'])]['prefill_s']:.2f} s" for k in e)
    same = [p for p in map(str, r["positions"]) if e["fast"][p]["same_tokens_as_numpy"]]
    agree = ("fast mode" if len(same) == len(r["positions"]) else
             f"fast mode after {', '.join(same) or 'none'} of {', '.join(map(str, r['positions']))} positions")
    text = (f"SmolLM2-135M-Instruct in headless Chromium {r['chromium']}, one thread, "
            f"{source} by examples/bench_browser.py on {data['environment']['device_name']}: {rates}. "
            f"{r['formula']}, {r['steps']} greedy steps, best of {r['repeats']}; exact mode wrote the NumPy engine's greedy "
            f"tokens, and so did {agree}. Fast mode decodes {e['fast'][lo]['decode_tok_s'] / e['exact'][lo]['decode_tok_s']:.2f}× "
            f"as fast as exact mode; at {hi} positions exact mode runs at "
            f"{e['exact'][hi]['decode_tok_s'] / e['exact'][lo]['decode_tok_s']:.0%} of its speed at {lo}.")
    a = r["accuracy"]
    text += (f" Against the NumPy engine's logits at every position of the {r['prefill_tokens']}-token prompt: exact "
             f"mode's largest difference {a['exact']['max_logit_diff']:.1e}, fast mode's "
             f"{a['fast']['max_logit_diff']:.1e} (probabilities within {a['fast']['max_prob_diff']:.1e}), the same "
             f"top token at {a['fast']['top_token_agreement']:.0%} of positions in fast mode and "
             f"{a['exact']['top_token_agreement']:.0%} in exact mode.")
    if wl:
        w = wl["results"]
        text += (f" llama.cpp in WebAssembly (@wllama/wllama {w['wllama_version']}, {w['build']}, same file and "
                 f"ids, committed record of {wl['environment']['date'][:10]}, not this build): "
                 f"{w['decode_tok_s'][lo]:.1f} tokens/s at {lo} positions, {w['decode_tok_s'][hi]:.1f} at {hi}, "
                 f"prefill {w['prefill_32_s']:.2f} s; the book's fast mode is "
                 f"{e['fast'][lo]['decode_tok_s'] / w['decode_tok_s'][lo]:.2f}× its decode speed (a ratio of two "
                 "runs, not one, so rougher than the others).")
    else:
        text += " No record of llama.cpp in WebAssembly (@wllama/wllama) is committed yet."
    return text + " " + targets(data)


def targets(data: dict) -> str:
    """The engine's speed targets, each said to be met or not by this data."""
    t, e, wl = data["targets"], data["results"]["engines"], data["wllama"]
    lo, hi = (str(p) for p in data["results"]["positions"])
    p = str(data["results"]["prefill_tokens"])
    met = lambda ok: "met" if ok else "not met"  # noqa: E731
    slow = max(e[m][lo]["decode_tok_s"] / e[m][hi]["decode_tok_s"] for m in MODES)
    parts = [f"exact mode at least {t['exact_decode_32']:.0f} tokens/s at {lo} positions "
             f"({met(e['exact'][lo]['decode_tok_s'] >= t['exact_decode_32'])}), a prefill of {p} tokens under "
             f"{t['prefill_32_s']} s in both modes ({met(max(e[m][p]['prefill_s'] for m in MODES) < t['prefill_32_s'])}), "
             f"decode at {hi} positions at most {t['slowdown_512']:.0f}× slower than at {lo} "
             f"({met(slow <= t['slowdown_512'])}: {slow:.2f}× at worst)"]
    if wl:
        ratio = e["fast"][lo]["decode_tok_s"] / wl["results"]["decode_tok_s"][lo]
        parts.append(f"fast mode at least {t['fast_vs_wllama']:.1f}× llama.cpp's WebAssembly decode ({met(ratio >= t['fast_vs_wllama'])})")
    return "Targets set for this engine: " + "; ".join(parts) + "."


LABELS = {"exact": "the browser engine, exact mode", "fast": "fast mode", "numpy": "the NumPy engine (Python, one thread)"}
COLORS = {"exact": "#3f51b5", "fast": "#7986cb", "numpy": "#26a69a", "wllama": "#ff7043"}


def figure(data: dict) -> None:
    r, wl = data["results"], data["wllama"]
    rates = {k: [v[str(p)]["decode_tok_s"] for p in r["positions"]] for k, v in r["engines"].items()}
    if wl:
        rates["wllama"] = [wl["results"]["decode_tok_s"][str(p)] for p in r["positions"]]
    fig, ax = plt.subplots(figsize=(6.4, 3.0))
    width = 0.8 / len(rates)
    for k, (name, ys) in enumerate(rates.items()):
        xs = [i + (k - (len(rates) - 1) / 2) * width for i in range(len(ys))]
        ax.bar(xs, ys, width=width, color=COLORS[name],
               label={"wllama": "llama.cpp WASM (record)", "numpy": "NumPy engine (Python)"}.get(name, f"browser, {name}"))
    ax.set_xticks(range(len(r["positions"])), [f"decode at {p} positions" for p in r["positions"]])
    ax.set_ylabel("tokens / s (one thread)")
    ax.legend(frameon=False, fontsize=8, ncols=2)
    ax.spines[["top", "right"]].set_visible(False)
    save_figure(fig, "bench/browser.svg")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", action="store_true", help="also save the results as a record to commit")
    args = parser.parse_args()
    try:
        results, env, replayed = measure(), environment("cpu"), False
    except SystemExit as err:  # no Chromium here: the newest committed record, labelled
        rec = latest_record("bench_browser")
        if rec is None:
            raise
        print(f"no browser measurement ({err}); replaying the record of {rec['environment']['date'][:10]}")
        results, env, replayed = rec["results"], rec["environment"], True
    if args.record and not replayed:
        print(f"saved {save_record('bench_browser', results, 'cpu')}")
    write_json("bench/browser.json", {"environment": env, "replayed": replayed, "results": results,
                                      "wllama": latest_record("bench_wllama"), "targets": TARGETS})
    data = json.loads((GENERATED / "bench" / "browser.json").read_text())  # the page sees the file, nothing else
    text = caption(data)
    generated_path("bench/browser_caption.txt").write_text(text + "\n", encoding="utf-8")
    figure(data)
    print(text)


if __name__ == "__main__":
    main()
