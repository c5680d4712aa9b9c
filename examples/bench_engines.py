"""Benchmark: every engine of the book against transformers and llama.cpp, decode and prefill, in one run.

    python examples/bench_engines.py             # this build: one thread
    python examples/bench_engines.py --record    # 1 and 2 threads, one process each, saved as a record

Engines (all through ``llmbook.inference.generate`` or ``forward(..., last_only=True)``): the float32
torch model, the NumPy engine, ``fp16``, ``bf16``, ``int8`` and ``int4`` (``llmbook.hardware.packed``); `transformers`
loading the same GGUF as float32; llama.cpp (``llama-cpp-python``, an optional extra that compiles
from source) on the same Q4_1 file when it is importable. Measured, interleaved, best of repeats:

- decode: 64 greedy tokens after an 8-token prompt, tokens/s = (N - 1) / (T(N) - T(1)) (16 tokens
  for the int8 and int4 engines, whose kernels are several times slower at one token);
- prefill: one forward over 64 and 512 tokens, last position's logits (``logits_to_keep=1`` for
  transformers), as a speed ratio to transformers;
- accuracy: each engine's logits against the float32 model's on 512 tokens of held-out text
  (CPython's own docs): largest difference, top-token agreement, perplexity (for int8 and int4,
  computed with their dequantised weights in float32, which the tests show equal to their kernels).

Writes ``generated/hardware/engines.json``, ``engines.svg`` and the decode and prefill captions.
A build without llama.cpp shows the newest committed record's llama.cpp numbers, labelled with
their date. One process per thread count: NumPy's OpenBLAS fixes its threads when imported.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
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
from tools.bench import best_time, environment, latest_record, save_record, triad_bandwidth  # noqa: E402

PROMPT, NEW = 8, 64  # decode: new greedy tokens after a prompt of this many tokens
PREFILL = (64, 512)
BOOK = ("torch", "numpy", "fp16", "bf16", "int8", "int4")  # generate(..., engine=...)
INTEGER = ("int8", "int4")  # PyTorch's weight-only integer kernels: decode only (prefill takes them minutes)
NEW_INTEGER = 16  # their kernels are several times slower at one token: fewer new tokens, the same formula
LABELS = {"torch": "llmbook float32 (torch)", "numpy": "llmbook float32 (NumPy)", "fp16": "llmbook fp16",
          "bf16": "llmbook bf16", "int8": "llmbook int8", "int4": "llmbook int4 (Q4_1)", "transformers": "transformers float32", "llama.cpp": "llama.cpp (Q4_1)"}
TICKS = {"torch": "float32\n(torch)", "numpy": "float32\n(NumPy)", "fp16": "fp16", "bf16": "bf16", "int8": "int8",
         "int4": "int4\n(Q4_1)", "transformers": "transformers\nfloat32", "llama.cpp": "llama.cpp\n(Q4_1)"}
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


def llama_cpp_engine(threads: int):
    """(decode runner, prefill runner) on llama.cpp, or None when llama-cpp-python is not installed."""
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


def measure(threads: int) -> dict:
    torch.set_num_threads(threads)
    model = load_model()
    engines = {name: pack_model(model, name) if name in KINDS else engine_for(model, name)
               for name in BOOK}  # convert once, before any timing
    prompt = model.tokenizer.encode(TEXT)[:PROMPT]
    runs = {name: (lambda ids, n, e=name: generate(model, ids, max_new_tokens=n, eos_token_id=None, engine=engines[e]).ids)
            for name in BOOK}
    forwards = {name: (lambda ids, e=engines[name]: e.forward(ids, e.new_cache(1, ids.shape[1]),
                                                                       last_only=True))
                for name in BOOK if name not in INTEGER}
    hf = reference_model("smollm2-135m-instruct")

    def hf_decode(ids: list[int], n: int) -> list[int]:
        x = torch.tensor([ids])
        out = hf.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=n, min_new_tokens=n,
                          do_sample=False, eos_token_id=None, pad_token_id=2)
        return out[0, len(ids):].tolist()

    runs["transformers"] = hf_decode
    forwards["transformers"] = lambda ids: hf(ids, logits_to_keep=1).logits
    lcpp = llama_cpp_engine(threads)
    if lcpp is not None:
        runs["llama.cpp"] = lcpp[0]
        forwards["llama.cpp"] = lambda ids: lcpp[1](ids[0].tolist())

    out: dict = {"threads": threads, "prompt_tokens": PROMPT, "new_tokens": NEW,
                 "llama_cpp": lcpp[2] if lcpp else None, "decode": {}, "prefill": {}, "accuracy": {}}
    with torch.inference_mode():
        tokens = {name: run(prompt, 16) for name, run in runs.items()}  # warm-up, and what each says
        first = {name: best_time(lambda r=run: r(prompt, 1), 3) for name, run in runs.items()}
        for name, run in runs.items():  # engines one after another, each best of 3
            n = NEW_INTEGER if name in INTEGER else NEW
            total = best_time(lambda r=run, n=n: r(prompt, n), 3 if n == NEW else 2)
            out["decode"][name] = (n - 1) / max(total - first[name], 1e-9)
            print(f"  {threads} thread(s) decode {LABELS[name]:26s} {out['decode'][name]:6.1f} tokens/s", flush=True)
        ref16 = tokens["torch"]
        out["same_16_tokens_as_float32"] = {k: v == ref16 for k, v in tokens.items()}
        g = torch.Generator().manual_seed(0)
        for t in PREFILL:
            ids = torch.randint(0, model.config.vocab_size, (1, t), generator=g)
            secs = {name: best_time(lambda f=fwd: f(ids), 3 if t <= 64 else 2) for name, fwd in forwards.items()}
            out["prefill"][str(t)] = {"seconds": secs,
                                      "speedup_vs_transformers": {k: secs["transformers"] / v for k, v in secs.items()}}
            print(f"  {threads} thread(s) prefill {t}: " + ", ".join(
                f"{k} {secs['transformers'] / v:.2f}x" for k, v in secs.items()), flush=True)
        text = torch.tensor([held_out_ids(model, 512)])
        ref = model(text).double()
        for name in BOOK:
            engine = dequantized_twin(model, name) if name in INTEGER else engines[name]
            logits = torch.as_tensor(np.asarray(engine.forward(text))).double()
            logp = torch.log_softmax(logits[0, :-1], -1).gather(-1, text[0, 1:, None])
            out["accuracy"][name] = {"max_logit_diff": float((logits - ref).abs().max()),
                                     "top_token_agreement": float((logits.argmax(-1) == ref.argmax(-1)).double().mean()),
                                     "perplexity": math.exp(-float(logp.mean()))}
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


def figure(live: dict, rec: dict | None) -> None:
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
    ax.set_ylabel(f"decode tokens/s ({NEW} greedy)")
    ax.legend(fontsize=6, loc="upper left")
    pre = [n for n in (*BOOK, "llama.cpp") if n in live["prefill"]["512"]["seconds"]]
    for j, t in enumerate(PREFILL):
        vals = [live["prefill"][str(t)]["speedup_vs_transformers"][n] for n in pre]  # the integer engines: see caption
        bars = bx.bar([i + (j - 0.5) * 0.4 for i in range(len(pre))], vals, 0.4, label=f"{t} tokens", color=f"C{j + 3}")
        bx.bar_label(bars, [f"{v:.2f}" for v in vals], fontsize=6)
    bx.axhline(1, color="0.3", lw=1)
    bx.axhline(1.5, color="0.3", lw=1, ls="--", label="1.5× transformers")
    bx.set_xticks(range(len(pre)), [TICKS[n] for n in pre], fontsize=7)
    bx.set_ylabel(f"prefill speed ÷ transformers' ({live['threads']} thread)")
    bx.legend(fontsize=6)
    fig.tight_layout()
    from tools.export import save_figure

    save_figure(fig, "hardware/engines.svg")
    plt.close(fig)


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
    from tools.export import generated_path, write_json

    live = measure(OPTS.threads)
    rec = latest_record("bench_engines")
    if rec is not None and not any("llama.cpp" in r["decode"] for r in rec["results"]["runs"]):
        rec = None  # a record is only drawn for its llama.cpp numbers
    env = environment("cpu")
    d, t = live["decode"], live["threads"]
    best = fastest_book(live)
    acc = live["accuracy"]
    bound16 = live["triad_bytes_per_s"] / live["weight_bytes"]["fp16"]
    llama = (f" llama.cpp, measured in this run: {d['llama.cpp']:.1f} ({1e3 / d['llama.cpp']:.1f} ms a token; the "
             f"book's fastest, {LABELS[best]}, is "
             f"{d[best] / d['llama.cpp']:.2f}× its speed)." if "llama.cpp" in d else
             " llama-cpp-python is not installed for this build (it compiles from source), so llama.cpp is not "
             "in this run." + (" " + record_text(rec) if rec else " No record of it is committed yet."))
    caption = (f"Greedy decoding, {NEW} tokens after an {PROMPT}-token prompt, {t} thread on {env['device_name']}, "
               f"this build: " + ", ".join(f"{LABELS[k]} {v:.1f}" for k, v in d.items() if k != "llama.cpp")
               + " tokens/s. MB of matrices read per token: " + ", ".join(
                   f"{k} {v / 1e6:.0f}" for k, v in live["weight_bytes"].items())
               + f"; at the triad bandwidth ({live['triad_bytes_per_s'] / 1e9:.1f} GB/s) the fp16 engine's bound is "
               f"{bound16:.0f} tokens/s. Its matrix-vector products alone, one token's worth, took "
               f"{live['fp16_products_s'] * 1e3:.1f} ms ({live['weight_bytes']['fp16'] / live['fp16_products_s'] / 1e9:.1f}"
               f" GB/s) of its {1e3 / d['fp16']:.1f} ms per token; the rest is everything else the model does. The "
               f"integer engines are far from their bounds: their kernels are built for batches of tokens.{llama}")
    p64, p512 = (live["prefill"][str(n)]["speedup_vs_transformers"] for n in PREFILL)
    pre_caption = (f"Prefill speed as a multiple of transformers' float32 ({t} thread, last position's logits): "
                   + "; ".join(f"{LABELS[k]} {p64[k]:.2f}× at 64 tokens, {p512[k]:.2f}× at 512" for k in p64
                               if k != "transformers")
                   + " (the int8 and int4 engines are for decoding only: their kernels are slower still on many tokens)"
                   + ". Against the float32 model on 512 tokens of CPython's docs (int8 and int4: their dequantised "
                   "weights in float32, which equal their kernels to float32 rounding): "
                   + "; ".join(f"{k} largest logit difference {a['max_logit_diff']:.3f}, same top token at "
                               f"{a['top_token_agreement']:.1%} of positions, perplexity {a['perplexity']:.3f}"
                               for k, a in acc.items() if k != "torch")
                   + f" (float32: {acc['torch']['perplexity']:.3f}).")
    generated_path("hardware/decode_caption.txt").write_text(caption + "\n", encoding="utf-8")
    generated_path("hardware/prefill_caption.txt").write_text(pre_caption + "\n", encoding="utf-8")
    write_json("hardware/engines.json", {"live": live, "record": rec, "environment": env})
    figure(live, rec)
    print(caption)
    print(pre_caption)


if __name__ == "__main__":
    main()
