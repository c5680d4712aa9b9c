"""Decoding speed: llmbook.inference.generate with and without its KV cache, against transformers in the same run.

For each (prompt length P, new tokens N) every engine generates greedily, and
decode speed is (N - 1) / (T(N) - T(1)): the time of N tokens minus the time of one
(prefill and the first token), so prompt processing is not counted as decoding.
Timings are the best of a few repeats, all engines interleaved in one run, with the
same number of torch threads. llama.cpp is raced in the hardware chapter
(``examples/bench_engines.py``), live when it is installed, else from its committed record.
"""

from __future__ import annotations

import os

import matplotlib.pyplot as plt
import torch

from tools.bench import best_time, environment, latest_record
from tools.export import generated_path, save_figure, write_json
from llmbook.inference.generate import generate
from llmbook.models.llama import load_model
from llmbook.models.registry import reference_model

THREADS = int(os.environ.get("LLMBOOK_BENCH_THREADS", "1"))  # 2-thread OpenMP stalls on a busy 2-core machine
# (prompt tokens P, new tokens N, engines measured without the cache, repeats). Without the cache, 256 new
# tokens take minutes per engine, so that point is estimated from measured full-forward times (see below).
CASES = [
    (8, 32, ("llmbook", "transformers"), 2),
    (128, 32, ("llmbook",), 1),
    (8, 256, (), 1),
]
ESTIMATE_LENGTHS = [9, 72, 136, 200, 263]  # sequence lengths whose one no-cache step is timed
TEXT = ("The history of the printing press begins in the fifteenth century, when Johannes Gutenberg "
        "combined movable metal type, oil-based ink and a screw press into one system. ") * 40


def prompt(model, n: int) -> list[int]:
    ids = model.tokenizer.encode(TEXT)
    assert len(ids) >= n
    return ids[:n]


def main() -> None:
    torch.set_num_threads(THREADS)
    model = load_model()
    engines = {
        "llmbook": lambda ids, n, cache: generate(model, ids, max_new_tokens=n, eos_token_id=None,
                                                  use_cache=cache).ids,
        "llmbook-numpy": lambda ids, n, cache: generate(model, ids, max_new_tokens=n, eos_token_id=None,
                                                        use_cache=cache, engine="numpy").ids,
    }
    try:
        hf = reference_model("smollm2-135m-instruct")  # offline; ImportError without transformers
        import transformers

        transformers.logging.set_verbosity_error()

        def hf_generate(ids, n, cache):
            x = torch.tensor([ids])
            with torch.inference_mode():
                out = hf.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=n, min_new_tokens=n,
                                  do_sample=False, use_cache=cache, eos_token_id=None, pad_token_id=2)
            return out[0, len(ids):].tolist()

        engines["transformers"] = hf_generate
    except ImportError:
        print("transformers not importable: llmbook only")
    llama_note = ("llama.cpp is raced against every engine of the book, 16-bit and integer ones included, in the "
                  "hardware chapter (examples/bench_engines.py).")

    rows = []
    for p, n, no_cache, repeats in CASES:
        ids = prompt(model, p)
        for name, run in engines.items():
            for cache in (True, False) if name in no_cache else (True,):
                run(ids, 2, cache)  # warm-up
                first = best_time(lambda: run(ids, 1, cache), 2)
                total = best_time(lambda: run(ids, n, cache), repeats)
                row = {"engine": name, "cache": cache, "prompt": p, "new": n, "seconds": total,
                       "first_token_s": first, "decode_tokens_per_s": (n - 1) / max(total - first, 1e-9)}
                rows.append(row)
                print(f"  {name:12s} cache={'on ' if cache else 'off'} P={p:4d} N={n:4d}  "
                      f"{total:7.2f} s  decode {row['decode_tokens_per_s']:6.1f} tokens/s", flush=True)
        # the engines must agree before their speeds mean anything
        outs = {name: run(ids, 8, True) for name, run in engines.items()}
        assert len({tuple(o) for o in outs.values()}) == 1, outs

    # No cache, N = 256: every step is one full forward of the whole sequence so far. Time that forward
    # at a few lengths, interpolate linearly, and add up the steps: an estimate, labelled as such.
    forwards = {"llmbook": lambda x: model(x)[0, -1].argmax()}
    if "transformers" in engines:
        forwards["transformers"] = lambda x: hf(x, use_cache=False).logits[0, -1].argmax()
    step_times: dict[str, list[float]] = {}
    long_ids = prompt(model, max(ESTIMATE_LENGTHS))
    with torch.inference_mode():
        for name, fwd in forwards.items():
            step_times[name] = [best_time(lambda: fwd(torch.tensor([long_ids[:n]])), 2) for n in ESTIMATE_LENGTHS]
            print(f"  {name:12s} one no-cache step at lengths {ESTIMATE_LENGTHS}: "
                  f"{[round(t, 3) for t in step_times[name]]} s", flush=True)

    def estimated_decode_rate(name: str, p: int, n: int) -> float:
        import numpy as np

        steps = np.interp(np.arange(p + 1, p + n), ESTIMATE_LENGTHS, step_times[name])
        return (n - 1) / float(steps.sum())

    for name in forwards:
        for p, n, no_cache, _ in CASES:
            if name not in no_cache:
                est = estimated_decode_rate(name, p, n)
                rows.append({"engine": name, "cache": False, "prompt": p, "new": n, "estimated": True,
                             "decode_tokens_per_s": est})
                print(f"  {name:12s} cache=off P={p:4d} N={n:4d}  decode {est:6.2f} tokens/s (estimated)")
        check = [r for r in rows if r["engine"] == name and not r["cache"] and not r.get("estimated")]
        for r in check:  # how good is the estimate where we also measured?
            r["estimate_for_comparison"] = estimated_decode_rate(name, r["prompt"], r["new"])

    def rate(engine: str, cache: bool, p: int, n: int) -> float | None:
        r = [x for x in rows if (x["engine"], x["cache"], x["prompt"], x["new"]) == (engine, cache, p, n)]
        return r[0]["decode_tokens_per_s"] if r else None

    summary = {}
    for p, n, _, _ in CASES:
        on, off, hf_on = rate("llmbook", True, p, n), rate("llmbook", False, p, n), rate("transformers", True, p, n)
        summary[f"P={p},N={n}"] = {
            "cache_speedup": on / off if on and off else None,
            "vs_transformers_cached": on / hf_on if on and hf_on else None,
            "numpy_vs_transformers_cached": (rate("llmbook-numpy", True, p, n) / hf_on
                                             if rate("llmbook-numpy", True, p, n) and hf_on else None),
            "no_cache_estimated": any(r.get("estimated") for r in rows if (r["engine"], r["cache"], r["prompt"],
                                                                            r["new"]) == ("llmbook", False, p, n)),
        }
    errors = [abs(r["estimate_for_comparison"] / r["decode_tokens_per_s"] - 1) for r in rows
              if "estimate_for_comparison" in r]
    long = summary[f"P={CASES[-1][0]},N={CASES[-1][1]}"]
    env = environment("cpu")
    record = latest_record("bench_generate")  # a committed record, if anyone saved one
    caption = (f"Greedy decoding of SmolLM2-135M-Instruct (float32) on {env['device_name']}, {THREADS} torch "
               f"thread(s), torch {env['torch']}, measured at build time; decode tokens/s = (N-1)/(T(N)-T(1)), best "
               f"of repeats, all engines in the same run. Bars marked * (no cache) are estimated from measured "
               f"one-step times at lengths {ESTIMATE_LENGTHS}, interpolated and summed; where a no-cache run was "
               f"also measured, the estimate is within {max(errors):.0%} of it. In this run, at {CASES[-1][1]} new "
               f"tokens the cache makes llmbook's decoding {long['cache_speedup']:.1f}x faster, and with their "
               f"caches llmbook decodes at {long['vs_transformers_cached']:.2f}x the speed of transformers, and "
               f"llmbook's NumPy engine (generate(..., engine=\"numpy\")) at "
               f"{long['numpy_vs_transformers_cached']:.2f}x. "
               f"{llama_note}")
    generated_path("generate/bench_caption.txt").write_text(caption + "\n", encoding="utf-8")
    write_json("generate/bench.json", {"rows": rows, "summary": summary, "estimate_errors": errors,
                                       "threads": THREADS, "environment": env,
                                       "caption": caption, "committed_record": record})

    fig, ax = plt.subplots(figsize=(8, 3.8))
    labels = [f"P={p}, N={n}" for p, n, _, _ in CASES]
    bars = [("llmbook", True, "C0", ""), ("llmbook", False, "C0", "//"), ("llmbook-numpy", True, "C2", ""),
            ("transformers", True, "C1", ""), ("transformers", False, "C1", "//")]
    width = 0.16
    for j, (engine, cache, color, hatch) in enumerate(bars):
        vals = [rate(engine, cache, p, n) for p, n, _, _ in CASES]
        xs = [i + (j - 2) * width for i in range(len(CASES))]
        ax.bar([x for x, v in zip(xs, vals) if v], [v for v in vals if v], width, color=color, hatch=hatch,
               edgecolor="white" if not hatch else "black", alpha=0.9 if cache else 0.5,
               label=f"{engine}, cache {'on' if cache else 'off'}")
        for x, v, (p, n, no_cache, _) in zip(xs, vals, CASES):
            if v:
                star = "*" if not cache and engine not in no_cache else ""
                ax.text(x, v, f"{v:.1f}{star}", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(len(CASES)), labels)
    ax.set_ylabel("decode tokens/s (higher is better)")
    ax.set_title("Greedy decoding speed, with and without the KV cache (* estimated, see text)")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    save_figure(fig, "generate/bench.svg")
    print(caption)
    for k, v in summary.items():
        print(f"  {k}: cache speedup {v['cache_speedup']:.1f}x{' (no-cache time estimated)' * v['no_cache_estimated']}"
              f", llmbook/transformers with cache {v['vs_transformers_cached']:.2f}x"
              f", NumPy engine/transformers {v['numpy_vs_transformers_cached']:.2f}x")


if __name__ == "__main__":
    main()
