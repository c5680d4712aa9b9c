"""The model benchmark: SmolLM2-135M on every engine of the book, against transformers and llama.cpp, in one run.

    python examples/bench_engines.py             # this build: one thread
    python examples/bench_engines.py --record    # 1 and 2 threads, one process each, saved as a record

One process loads the model and `transformers`' reference (the same GGUF file, float32) once and
measures everything three chapters show; each repeat runs every engine in turn, so all see the same
background load, and the best of the repeats is kept:

- load: seconds to load each model, peak memory while loading;
- prefill: one forward over 1, 64 and 512 tokens, last position's logits (``logits_to_keep=1`` for
  transformers), for every engine but the integer ones (their kernels take minutes at 512 tokens);
- decode: n greedy tokens after an 8-token prompt (n = 64; 16 for the int8 and int4 engines, whose
  kernels are several times slower at one token). The book's one decode formula:
  decode tokens/s = (n - 1) / (time(n) - time(1)), the tokens after the first over the time after the first,
  so the prompt's prefill is not counted as decoding;
- decode without the KV cache (torch model and transformers): measured at N = 64, and estimated for
  other N by adding up the prefill times (a step without the cache is one forward over the sequence so far);
- accuracy: each engine's logits against the float32 model's (and transformers') on 512 tokens of
  CPython's own docs: largest difference, top-token agreement, perplexity (int8 and int4 with their
  dequantised weights in float32, which the tests show equal to their kernels);
- the fp16 engine's matrix-vector products alone, bytes read per token, the triad bandwidth.

Engines: the float32 torch model, the NumPy engine, ``fp16``, ``bf16``, ``int8`` and ``int4``
(``llmbook.hardware.packed.pack_model``), all through ``llmbook.inference.generate``; transformers;
llama.cpp (``llama-cpp-python``, an optional extra that compiles from source) on the same Q4_1 file
when it is importable. A build without llama.cpp shows the newest committed record's llama.cpp numbers,
labelled with their date. One process per thread count: NumPy's OpenBLAS fixes its threads on import.

Writes ``generated/bench/model.json``, and from that file alone the figures and captions of
A real model (``forward.svg``, ``real_model_caption.txt``), Generation (``cache.svg``,
``generation_caption.txt``) and Hardware (``engines.svg``, ``decode_caption.txt``, ``prefill_caption.txt``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ARGS = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ARGS.add_argument("--threads", type=int, default=1, help="threads for torch, OpenBLAS and llama.cpp")
ARGS.add_argument("--record", action="store_true", help="measure 1 and 2 threads and save a record")
ARGS.add_argument("--json", default=None, help=argparse.SUPPRESS)  # one thread count's results, for --record
OPTS = ARGS.parse_args()
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(OPTS.threads)  # before NumPy and torch start their thread pools
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import copy  # noqa: E402
import math  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from llmbook.hardware.packed import KINDS, PackedLinear, pack_model, weight_bytes  # noqa: E402
from llmbook.hardware.quantized import torch_int8_weights  # noqa: E402
from llmbook.hardware.roofline import weight_bytes_per_token  # noqa: E402
from llmbook.inference.engine import engine_for  # noqa: E402
from llmbook.inference.generate import generate  # noqa: E402
from llmbook.models.llama import load_model  # noqa: E402
from llmbook.models.registry import model_path, reference_model  # noqa: E402
from llmbook.training.data import pydoc_topics_text  # noqa: E402
from llmbook.training.objective import next_token_logprobs  # noqa: E402
from tools.bench import best_time, environment, latest_record, save_record, triad_bandwidth  # noqa: E402

FORMULA = "decode tokens/s = (n - 1) / (time(n) - time(1))"  # the one decode formula, stated in every caption
PROMPT, NEW = 8, 64  # decode: new greedy tokens after a prompt of this many tokens
PREFILL = {1: 5, 64: 3, 512: 2}  # prefill tokens -> repeats
BOOK = ("torch", "numpy", "fp16", "bf16", "int8", "int4")  # generate(..., engine=...)
INTEGER = ("int8", "int4")  # PyTorch's weight-only integer kernels: decode only (prefill takes them minutes)
NEW_INTEGER = 16  # their kernels are several times slower at one token: fewer new tokens, the same formula
NO_CACHE = ("torch", "transformers")  # decoded without the KV cache too
NO_CACHE_CURVE = (2, 4, 8, 16, 32, 64, 128, 256, 505)  # N of the estimate: P + N - 1 <= the longest prefill
LABELS = {"torch": "llmbook float32 (torch)", "numpy": "llmbook float32 (NumPy)", "fp16": "llmbook fp16",
          "bf16": "llmbook bf16", "int8": "llmbook int8", "int4": "llmbook int4 (Q4_1)",
          "transformers": "transformers float32", "llama.cpp": "llama.cpp (Q4_1)"}
TICKS = {"torch": "float32\n(torch)", "numpy": "float32\n(NumPy)", "fp16": "fp16", "bf16": "bf16", "int8": "int8",
         "int4": "int4\n(Q4_1)", "transformers": "transformers\nfloat32", "llama.cpp": "llama.cpp\n(Q4_1)"}
COLORS = {"torch": "#3f51b5", "transformers": "#ff7043", "numpy": "#26a69a"}
TEXT = ("The history of the printing press begins in the fifteenth century, when Johannes Gutenberg "
        "combined movable metal type, oil-based ink and a screw press into one system.")


def held_out_ids(model, n: int) -> list[int]:
    """n tokens of English prose the model was never shown by this book: CPython's own docs."""
    ids = model.tokenizer.encode(pydoc_topics_text()[: 8 * n])  # ~4 characters a token
    assert len(ids) >= n
    return ids[:n]


def dequantized_twin(model, kind: str):
    """The float32 model holding the integer engine's dequantised weights. tests/test_hardware_packed.py shows
    the integer kernels equal these float32 products within float32 rounding, and this runs 512 tokens in
    seconds where the kernels, built for other shapes, take minutes."""
    twin = copy.deepcopy(model, {id(model.tokenizer): model.tokenizer})
    for m in twin.modules():
        if isinstance(m, torch.nn.Linear) and (kind == "int8" or m is twin.output):
            q, s = torch_int8_weights(m.weight.detach().numpy())  # int4 keeps the file's Q4_1 numbers exactly
            m.weight = torch.nn.Parameter(q.float() * s[:, None], requires_grad=False)
    return twin


def hf_greedy(hf, ids: list[int], n: int, use_cache: bool = True) -> list[int]:
    """transformers' greedy decoding: exactly n new tokens (no stop at <|im_end|>)."""
    x = torch.tensor([ids])
    out = hf.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=n, min_new_tokens=n, do_sample=False,
                      use_cache=use_cache, eos_token_id=None, pad_token_id=2)
    return out[0, len(ids):].tolist()


def llama_cpp_engine(threads: int):
    """(decode runner, prefill runner, version) on llama.cpp, or None when llama-cpp-python is not installed."""
    try:
        import llama_cpp
    except ImportError:
        return None
    llm = llama_cpp.Llama(str(model_path("smollm2-135m-instruct")), n_ctx=1024, n_threads=threads,
                          n_threads_batch=threads, n_batch=512, verbose=False)

    def decode(ids: list[int], n: int) -> list[int]:
        out = []
        for tok in llm.generate(ids, temp=0.0, reset=True):  # temperature 0: greedy
            out.append(int(tok))
            if len(out) == n:
                break
        return out

    def prefill(ids: list[int]) -> None:
        llm.reset()
        llm.eval(ids)

    return decode, prefill, llama_cpp.__version__


def rss_mib(field: str) -> float | None:
    """VmRSS (now) or VmHWM (peak since the last reset) of this process, in MiB (Linux; else None)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def loading(load):  # noqa: ANN001, ANN201
    """(what ``load()`` returns, seconds, peak MiB above the memory before it, or None where unknown)."""
    before = rss_mib("VmRSS")
    try:
        Path("/proc/self/clear_refs").write_text("5")  # Linux: restart the VmHWM high-water mark
        can_reset = True
    except OSError:
        can_reset = False
    t0 = time.perf_counter()
    out = load()
    seconds = time.perf_counter() - t0
    peak = rss_mib("VmHWM")
    return out, seconds, (peak - before) if can_reset and peak is not None and before is not None else None


def interleaved(fns: dict, repeats: dict) -> dict[str, float]:
    """Best seconds of each fn; every round runs every fn that still has repeats left, in turn."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for r in range(max(repeats.values())):
        for k, fn in fns.items():
            if r < repeats[k]:
                t0 = time.perf_counter()
                fn()
                times[k].append(time.perf_counter() - t0)
    return {k: min(v) for k, v in times.items()}


def decode_rate(new: int, total_s: float, first_s: float) -> float:
    """The one decode formula: tokens after the first over the time after the first token."""
    return (new - 1) / max(total_s - first_s, 1e-9)


def no_cache_estimate(prefill: dict, name: str, prompt: int, new: int) -> float:
    """Decode tokens/s without the cache, from prefill times: step t is one forward over prompt + t tokens."""
    lengths = sorted(int(t) for t in prefill)
    secs = [prefill[str(t)]["seconds"][name] for t in lengths]
    steps = np.interp(np.arange(prompt + 1, prompt + new), lengths, secs)  # the N - 1 steps after the first token
    return (new - 1) / float(steps.sum())


def measure(threads: int) -> dict:
    torch.set_num_threads(threads)
    model, load_s, peak_llmbook = loading(load_model)
    hf, load_hf, peak_hf = loading(lambda: reference_model("smollm2-135m-instruct"))
    import transformers

    transformers.logging.set_verbosity_error()
    engines, load_engines = {}, {}
    for name in BOOK:  # convert once, before any timing
        t0 = time.perf_counter()
        engines[name] = pack_model(model, name) if name in KINDS else engine_for(model, name)
        load_engines[name] = time.perf_counter() - t0
    prompt = model.tokenizer.encode(TEXT)[:PROMPT]
    runs = {name: (lambda ids, n, e=engines[name]: generate(model, ids, max_new_tokens=n, eos_token_id=None,
                                                            engine=e).ids) for name in BOOK}
    runs["transformers"] = lambda ids, n: hf_greedy(hf, ids, n)
    forwards = {name: (lambda ids, e=engines[name]: e.forward(ids, e.new_cache(1, ids.shape[1]), last_only=True))
                for name in BOOK if name not in INTEGER}
    forwards["transformers"] = lambda ids: hf(ids, logits_to_keep=1).logits
    lcpp = llama_cpp_engine(threads)
    if lcpp is not None:
        runs["llama.cpp"] = lcpp[0]
        forwards["llama.cpp"] = lambda ids: lcpp[1](ids[0].tolist())
    new = {name: NEW_INTEGER if name in INTEGER else NEW for name in runs}

    out: dict = {"threads": threads, "prompt_tokens": PROMPT, "new_tokens": NEW, "new_tokens_integer": NEW_INTEGER,
                 "formula": FORMULA, "llama_cpp": lcpp[2] if lcpp else None,
                 "versions": {"transformers": transformers.__version__, "numpy": np.__version__},
                 "load_s": {"llmbook": load_s, "transformers": load_hf, **{k: v for k, v in load_engines.items()
                                                                           if k != "torch"}},
                 "peak_mib": {"llmbook": peak_llmbook, "transformers": peak_hf},
                 "decode": {}, "decode_s": {}, "no_cache": {}, "prefill": {}, "accuracy": {}}
    with torch.inference_mode():
        tokens = {name: run(prompt, 16) for name, run in runs.items()}  # warm-up, and what each says
        same = tokens["torch"]
        assert tokens["numpy"] == same == tokens["transformers"], tokens  # the float32 engines agree first
        out["same_16_tokens_as_float32"] = {k: v == same for k, v in tokens.items()}
        first = interleaved({k: (lambda r=run: r(prompt, 1)) for k, run in runs.items()}, dict.fromkeys(runs, 3))
        total = interleaved({k: (lambda r=run, k=k: r(prompt, new[k])) for k, run in runs.items()},
                            {k: 3 if new[k] == NEW else 2 for k in runs})
        for name in runs:
            out["decode"][name] = decode_rate(new[name], total[name], first[name])
            out["decode_s"][name] = {"new": new[name], "first": first[name], "total": total[name]}
            print(f"  {threads} thread(s) decode {LABELS[name]:26s} {out['decode'][name]:6.1f} tokens/s", flush=True)

        g = torch.Generator().manual_seed(0)
        for t, reps in PREFILL.items():
            ids = torch.randint(0, model.config.vocab_size, (1, t), generator=g)
            secs = interleaved({k: (lambda f=fwd: f(ids)) for k, fwd in forwards.items()}, dict.fromkeys(forwards, reps))
            out["prefill"][str(t)] = {"seconds": secs,
                                      "speedup_vs_transformers": {k: secs["transformers"] / v for k, v in secs.items()}}
            print(f"  {threads} thread(s) prefill {t}: " + ", ".join(
                f"{k} {secs['transformers'] / v:.2f}x" for k, v in secs.items()), flush=True)

        no_cache = {"torch": lambda ids, n: generate(model, ids, max_new_tokens=n, eos_token_id=None,
                                                     use_cache=False).ids,
                    "transformers": lambda ids, n: hf_greedy(hf, ids, n, use_cache=False)}
        assert no_cache["torch"](prompt, 8) == same[:8] == no_cache["transformers"](prompt, 8)  # and a warm-up
        first_nc = interleaved({k: (lambda r=run: r(prompt, 1)) for k, run in no_cache.items()}, dict.fromkeys(no_cache, 2))
        total_nc = interleaved({k: (lambda r=run: r(prompt, NEW)) for k, run in no_cache.items()},
                               dict.fromkeys(no_cache, 1))
        for name in NO_CACHE:
            measured = decode_rate(NEW, total_nc[name], first_nc[name])
            out["no_cache"][name] = {"measured": measured, "first": first_nc[name], "total": total_nc[name],
                                     "estimated": {str(n): no_cache_estimate(out["prefill"], name, PROMPT, n)
                                                   for n in NO_CACHE_CURVE}}
            print(f"  {threads} thread(s) decode without the cache {LABELS[name]:26s} {measured:6.1f} tokens/s "
                  f"(estimated {out['no_cache'][name]['estimated'][str(NEW)]:.1f})", flush=True)

        text = torch.tensor([held_out_ids(model, 512)])
        ref = model(text).double()
        hf_logits = hf(text).logits.double()
        for name in BOOK:
            engine = dequantized_twin(model, name) if name in INTEGER else engines[name]
            logits = torch.as_tensor(np.asarray(engine.forward(text))).double()
            logp = next_token_logprobs(logits, text)  # (1, 511)
            out["accuracy"][name] = {"max_logit_diff": float((logits - ref).abs().max()),
                                     "top_token_agreement": float((logits.argmax(-1) == ref.argmax(-1)).double().mean()),
                                     "perplexity": math.exp(-float(logp.mean()))}
            if name in ("torch", "numpy"):
                out["accuracy"][name]["max_logit_diff_vs_transformers"] = float((logits - hf_logits).abs().max())
    mats = [m for m in engines["fp16"].modules() if isinstance(m, PackedLinear)]
    xs = {m.in_features: torch.randn(1, m.in_features, generator=g) for m in mats}

    def products() -> None:  # one token's matrix-vector products, nothing else: 269 MB, past any cache
        for m in mats:
            m(xs[m.in_features])

    with torch.inference_mode():
        out["fp16_products_s"] = best_time(products, 5)
    out["weight_bytes"] = {"float32": weight_bytes_per_token(model.config),
                           **{k: weight_bytes(engines[k]) for k in BOOK[2:]}}
    out["triad_bytes_per_s"] = triad_bandwidth(threads=threads)["best"]
    return out


# ---- from the JSON to the chapters: every number below is read from generated/bench/model.json ----

def fastest_book(r: dict) -> str:
    return max(BOOK, key=lambda k: r["decode"][k])


def record_text(rec: dict) -> str:
    """One sentence per thread count of a committed record that has llama.cpp in it."""
    env = rec["environment"]
    parts = []
    for r in rec["results"]["runs"]:
        best = fastest_book(r)
        parts.append(f"{r['threads']} thread(s): llama.cpp {r['decode']['llama.cpp']:.0f} tokens/s "
                     f"({1e3 / r['decode']['llama.cpp']:.1f} ms a token), the book's "
                     f"fastest ({LABELS[best]}) {r['decode'][best]:.0f} ({r['decode'][best] / r['decode']['llama.cpp']:.2f}×"
                     f" llama.cpp), transformers {r['decode']['transformers']:.0f}")
    return (f"Committed record ({env['date'][:10]}, {env['device_name']}, llama-cpp-python "
            f"{rec['results']['runs'][0]['llama_cpp']}, all engines in one run per thread count): "
            + "; ".join(parts) + ".")


def where(data: dict) -> str:
    t = data["live"]["threads"]
    return f"{t} thread{'s' * (t > 1)} on {data['environment']['device_name']}"


def real_model_caption(data: dict) -> str:
    live, p = data["live"], data["live"]["prefill"]
    d, ld = live["decode"], live["load_s"]
    acc = live["accuracy"]
    lengths = sorted(p, key=int)
    return (f"Measured at build time, all in one run of examples/bench_engines.py ({where(data)}, best of interleaved "
            f"repeats). Loading: llmbook {ld['llmbook']:.1f} s, transformers {ld['transformers']:.1f} s; the NumPy "
            f"engine is built from the loaded model in {ld['numpy']:.1f} s. Prefill (one forward over "
            + ", ".join(lengths) + " tokens, last position's logits), time of transformers divided by ours: "
            "torch model " + ", ".join(f"{p[t]['speedup_vs_transformers']['torch']:.2f}×" for t in lengths)
            + "; NumPy path " + ", ".join(f"{p[t]['speedup_vs_transformers']['numpy']:.2f}×" for t in lengths)
            + f". Greedy decoding, {live['new_tokens']} tokens after a prompt of {live['prompt_tokens']} tokens, with the "
            f"KV cache ({live['formula']}: the prompt's prefill is not counted): transformers {d['transformers']:.1f} "
            f"tokens/s, torch model {d['torch']:.1f} ({d['torch'] / d['transformers']:.2f}×), NumPy path "
            f"{d['numpy']:.1f} ({d['numpy'] / d['transformers']:.2f}×). Largest logit difference from transformers "
            f"on 512 tokens of CPython's docs: torch model {acc['torch']['max_logit_diff_vs_transformers']:.0e}, "
            f"NumPy path {acc['numpy']['max_logit_diff_vs_transformers']:.0e}.")


def generation_caption(data: dict) -> str:
    live = data["live"]
    d, nc, n = live["decode"], live["no_cache"], live["new_tokens"]
    lengths = ", ".join(sorted(live["prefill"], key=int))
    longest = str(NO_CACHE_CURVE[-1])
    err = max(abs(nc[k]["estimated"][str(n)] / nc[k]["measured"] - 1) for k in nc)
    return (f"Greedy decoding of SmolLM2-135M-Instruct (float32) after a prompt of {live['prompt_tokens']} tokens, "
            f"{where(data)}, measured at build time in the same run as the other chapters' model benchmarks; "
            f"{live['formula']}, best of repeats. With the cache, N = {n}: torch model {d['torch']:.1f} tokens/s, "
            f"NumPy engine (generate(..., engine=\"numpy\")) {d['numpy']:.1f}, transformers {d['transformers']:.1f}. "
            f"Without it, measured at N = {n}: torch model {nc['torch']['measured']:.1f} (the cache makes it "
            f"{d['torch'] / nc['torch']['measured']:.1f}× faster), transformers {nc['transformers']['measured']:.1f} "
            f"({d['transformers'] / nc['transformers']['measured']:.1f}×). The lines are estimates: a step without "
            f"the cache is one forward over the whole sequence so far, so the measured prefill times at {lengths} "
            f"tokens, interpolated and added up, give the rate at any N; at N = {n} they are within {err:.0%} of "
            f"the measured rates, and at N = {longest} they give {nc['torch']['estimated'][longest]:.1f} tokens/s "
            f"for the torch model without the cache.")


def decode_caption(data: dict, rec: dict | None) -> str:
    live = data["live"]
    d, t, wb = live["decode"], live["threads"], live["weight_bytes"]
    best = fastest_book(live)
    bound16 = live["triad_bytes_per_s"] / wb["fp16"]
    llama = (f" llama.cpp, measured in this run: {d['llama.cpp']:.1f} ({1e3 / d['llama.cpp']:.1f} ms a token; the "
             f"book's fastest, {LABELS[best]}, is {d[best] / d['llama.cpp']:.2f}× its speed)." if "llama.cpp" in d else
             " llama-cpp-python is not installed for this build (it compiles from source), so llama.cpp is not "
             "in this run." + (" " + record_text(rec) if rec else " No record of it is committed yet."))
    return (f"Greedy decoding, {live['new_tokens']} tokens after an {live['prompt_tokens']}-token prompt "
            f"({live['new_tokens_integer']} for int8 and int4), {where(data)}, this build, {live['formula']}: "
            + ", ".join(f"{LABELS[k]} {v:.1f}" for k, v in d.items() if k != "llama.cpp")
            + " tokens/s. MB of matrices read per token: " + ", ".join(f"{k} {v / 1e6:.0f}" for k, v in wb.items())
            + f"; at the triad bandwidth ({live['triad_bytes_per_s'] / 1e9:.1f} GB/s) the fp16 engine's bound is "
            f"{bound16:.0f} tokens/s. Its matrix-vector products alone, one token's worth, took "
            f"{live['fp16_products_s'] * 1e3:.1f} ms ({wb['fp16'] / live['fp16_products_s'] / 1e9:.1f}"
            f" GB/s) of its {1e3 / d['fp16']:.1f} ms per token; the rest is everything else the model does. The "
            f"integer engines are far from their bounds: their kernels are built for batches of tokens.{llama}")


def prefill_caption(data: dict) -> str:
    live = data["live"]
    t, acc = live["threads"], live["accuracy"]
    p64, p512 = (live["prefill"][n]["speedup_vs_transformers"] for n in ("64", "512"))
    return (f"Prefill speed as a multiple of transformers' float32 ({t} thread, last position's logits): "
            + "; ".join(f"{LABELS[k]} {p64[k]:.2f}× at 64 tokens, {p512[k]:.2f}× at 512" for k in p64
                        if k != "transformers")
            + " (the int8 and int4 engines are for decoding only: their kernels are slower still on many tokens)"
            + ". Against the float32 model on 512 tokens of CPython's docs (int8 and int4: their dequantised "
            "weights in float32, which equal their kernels to float32 rounding): "
            + "; ".join(f"{k} largest logit difference {a['max_logit_diff']:.3f}, same top token at "
                        f"{a['top_token_agreement']:.1%} of positions, perplexity {a['perplexity']:.3f}"
                        for k, a in acc.items() if k != "torch")
            + f" (float32: {acc['torch']['perplexity']:.3f}).")


def forward_figure(data: dict) -> None:
    """A real model: prefill time and decode speed of the torch model, the NumPy path and transformers."""
    live = data["live"]
    impls = ("torch", "transformers", "numpy")
    lengths = sorted(live["prefill"], key=int)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), gridspec_kw={"width_ratios": [3, 2]})
    width = 0.27
    for k, name in enumerate(impls):
        ms = [live["prefill"][t]["seconds"][name] * 1e3 for t in lengths]
        axes[0].bar([x + (k - 1) * width for x in range(len(lengths))], ms, width=width, label=LABELS[name],
                    color=COLORS[name])
        if name != "transformers":  # speed relative to transformers, above each of ours
            for x, t, v in zip(range(len(lengths)), lengths, ms):
                axes[0].annotate(f"{live['prefill'][t]['speedup_vs_transformers'][name]:.2f}×",
                                 (x + (k - 1) * width, v), ha="center", xytext=(0, 3), textcoords="offset points",
                                 fontsize=7)
    axes[0].set_yscale("log")
    axes[0].set_xticks(range(len(lengths)), [f"T = {t}" for t in lengths])
    axes[0].set_ylabel("prefill (one forward), ms")
    axes[0].legend(frameon=False, fontsize=8)
    axes[0].set_ylim(top=axes[0].get_ylim()[1] * 1.6)  # room for the labels
    d = live["decode"]
    bars = axes[1].bar([LABELS[k].replace(" (", "\n(") for k in impls], [d[k] for k in impls],
                       color=[COLORS[k] for k in impls])
    axes[1].bar_label(bars, [f"{d[k]:.1f} ({d[k] / d['transformers']:.2f}×)" for k in impls], fontsize=7)
    axes[1].set_ylim(top=max(d[k] for k in impls) * 1.15)
    axes[1].tick_params(axis="x", labelsize=8)
    axes[1].set_ylabel(f"decode tokens/s, {live['new_tokens']} greedy")
    fig.suptitle(f"SmolLM2-135M, float32, {where(data)}, best of interleaved repeats", fontsize=10)
    fig.tight_layout()
    from tools.export import save_figure

    save_figure(fig, "bench/forward.svg")
    plt.close(fig)


def cache_figure(data: dict) -> None:
    """Generation: decode speed with the cache (measured) and without it (measured, and estimated for every N)."""
    live = data["live"]
    n, nc = live["new_tokens"], live["no_cache"]
    fig, ax = plt.subplots(figsize=(8, 3.8))
    for name in ("torch", "numpy", "transformers"):
        v = live["decode"][name]
        ax.axhline(v, color=COLORS[name], lw=1, ls=":")
        ax.plot([n], [v], "o", color=COLORS[name], label=f"{LABELS[name]}, cache on: {v:.1f}")
    for name in NO_CACHE:
        ns = sorted(nc[name]["estimated"], key=int)
        ax.plot([int(k) for k in ns], [nc[name]["estimated"][k] for k in ns], "-", color=COLORS[name], lw=1.2,
                label=f"{LABELS[name]}, cache off, estimated")
        ax.plot([n], [nc[name]["measured"]], "s", color=COLORS[name], mfc="white",
                label=f"{LABELS[name]}, cache off, measured: {nc[name]['measured']:.1f}")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel(f"new tokens N after a {live['prompt_tokens']}-token prompt")
    ax.set_ylabel("decode tokens/s (higher is better)")
    ax.set_title(f"Greedy decoding, with and without the KV cache ({where(data)})", fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    from tools.export import save_figure

    save_figure(fig, "bench/cache.svg")
    plt.close(fig)


def engines_figure(data: dict) -> None:
    """Hardware: decode tokens/s of every engine (this build and the committed record), and prefill speed."""
    live, rec = data["live"], data["record"]
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 3.8), gridspec_kw={"width_ratios": [3, 2]})
    series = [(f"this build, {live['threads']} thread", live, "")]
    if rec is not None:
        series += [(f"record {rec['environment']['date'][:10]}, {r['threads']} thread(s)", r, "//")
                   for r in rec["results"]["runs"]]
    names = [n for n in (*BOOK, "transformers", "llama.cpp") if any(n in s[1]["decode"] for s in series)]
    width = 0.8 / len(series)
    for j, (label, r, hatch) in enumerate(series):
        xs = [i + (j - (len(series) - 1) / 2) * width for i in range(len(names))]
        vals = [r["decode"].get(n, 0) for n in names]
        bars = ax.bar(xs, vals, width, hatch=hatch, color=f"C{j}", alpha=0.9, label=label)
        ax.bar_label(bars, [f"{v:.0f}" if v else "" for v in vals], fontsize=6)
    bw = live["triad_bytes_per_s"]
    for key, style in (("float32", ":"), ("fp16", "--")):
        ax.axhline(bw / live["weight_bytes"][key], color="0.3", ls=style, lw=1,
                   label=f"bound, {key} weights ÷ triad ({live['threads']} thread)")
    ax.set_xticks(range(len(names)), [TICKS[n] for n in names], fontsize=7)
    ax.set_ylabel(f"decode tokens/s ({live['new_tokens']} greedy)")
    ax.legend(fontsize=6, loc="upper left")
    pre = [n for n in (*BOOK, "llama.cpp") if n in live["prefill"]["512"]["seconds"]]
    for j, t in enumerate(("64", "512")):
        vals = [live["prefill"][t]["speedup_vs_transformers"][n] for n in pre]  # the integer engines: see caption
        bars = bx.bar([i + (j - 0.5) * 0.4 for i in range(len(pre))], vals, 0.4, label=f"{t} tokens", color=f"C{j + 3}")
        bx.bar_label(bars, [f"{v:.2f}" for v in vals], fontsize=6)
    bx.axhline(1, color="0.3", lw=1)
    bx.axhline(1.5, color="0.3", lw=1, ls="--", label="1.5× transformers")
    bx.set_xticks(range(len(pre)), [TICKS[n] for n in pre], fontsize=7)
    bx.set_ylabel(f"prefill speed ÷ transformers' ({live['threads']} thread)")
    bx.legend(fontsize=6)
    fig.tight_layout()
    from tools.export import save_figure

    save_figure(fig, "bench/engines.svg")
    plt.close(fig)


def chapters(data: dict) -> dict[str, str]:
    """Every figure and caption of the three chapters, from the benchmark's JSON alone; returns the captions."""
    rec = data["record"]
    captions = {"real_model": real_model_caption(data), "generation": generation_caption(data),
                "decode": decode_caption(data, rec), "prefill": prefill_caption(data)}
    from tools.export import generated_path

    for name, text in captions.items():
        generated_path(f"bench/{name}_caption.txt").write_text(text + "\n", encoding="utf-8")
    forward_figure(data)
    cache_figure(data)
    engines_figure(data)
    return captions


def main() -> None:
    if OPTS.json:  # one thread count, for --record's parent process
        with open(OPTS.json, "w") as f:
            json.dump(measure(OPTS.threads), f)
        return
    if OPTS.record:
        runs = []
        for threads in (1, 2):
            with tempfile.NamedTemporaryFile(suffix=".json") as tmp:
                subprocess.run([sys.executable, __file__, "--threads", str(threads), "--json", tmp.name], check=True)
                runs.append(json.loads(Path(tmp.name).read_text()))
        path = save_record("bench_engines", {"runs": runs, "command": "python examples/bench_engines.py --record"},
                           "cpu")
        print(f"saved {path}")
        return
    from tools.export import GENERATED, write_json

    live = measure(OPTS.threads)
    rec = latest_record("bench_engines")
    if rec is not None and not any("llama.cpp" in r["decode"] for r in rec["results"]["runs"]):
        rec = None  # a record is only drawn for its llama.cpp numbers
    write_json("bench/model.json", {"formula": FORMULA, "environment": environment("cpu"), "live": live,
                                    "record": rec})
    data = json.loads((GENERATED / "bench" / "model.json").read_text())  # the chapters see the file, nothing else
    for text in chapters(data).values():
        print(text)


if __name__ == "__main__":
    main()
