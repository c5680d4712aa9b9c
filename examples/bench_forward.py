"""Benchmark: llmbook's SmolLM2-135M against transformers' on the same CPU, in the same run.

Both load the same GGUF file and run float32 PyTorch. A third series is llmbook's
pure-NumPy path (``llmbook.inference.numpy_engine``), built from the same loaded weights.
Measured: load time, one forward pass over 1, 64 and 512 tokens (timings interleaved,
best and median reported, since other processes share the machine), greedy decoding
speed with a KV cache, peak memory, and the largest logit difference. Writes
``generated/model/bench_forward.json`` and ``.svg``. Run from the repository root:
``python examples/bench_forward.py``.

Threads: torch and NumPy's OpenBLAS each use their default, one thread per core (2
here); both are printed. A 2-thread run slows down a lot when other processes are
busy, so compare the ratios of one run, not times across runs.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # set before transformers is imported (below, untimed)
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from tools.export import generated_path, save_figure, write_json  # noqa: E402
from llmbook.inference.generate import generate  # noqa: E402
from llmbook.models.llama import load_model  # noqa: E402
from llmbook.models.registry import reference_model  # noqa: E402
from llmbook.inference.numpy_engine import NumpyLlama  # noqa: E402

LENGTHS = {1: 10, 64: 4, 512: 2}  # tokens -> timed repetitions per implementation
DECODE_TOKENS, DECODE_REPS = 16, 3
IMPLS = ("llmbook", "transformers", "numpy")  # "numpy": llmbook.inference.numpy_engine on the same weights
LABELS = {"llmbook": "llmbook (torch)", "transformers": "transformers", "numpy": "llmbook (NumPy)"}
COLORS = {"llmbook": "#3f51b5", "transformers": "#ff7043", "numpy": "#26a69a"}


def rss_mib(field: str) -> float:
    """VmRSS (now) or VmHWM (peak since the last reset) of this process, in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # Linux: restart the VmHWM high-water mark
        return True
    except OSError:
        return False


def timed(fn) -> float:  # noqa: ANN001
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads", flush=True)
    base = rss_mib("VmRSS")
    reset_peak()

    load_ours = timed(lambda: globals().__setitem__("ours", load_model("smollm2-135m-instruct")))
    model = globals().pop("ours")
    with torch.inference_mode():
        model(torch.randint(0, 49152, (1, 512)))
    peak_ours = rss_mib("VmHWM") - base
    print(f"llmbook: loaded in {load_ours:.1f} s, peak memory {peak_ours:.0f} MiB above baseline", flush=True)

    import transformers

    before = rss_mib("VmRSS")
    can_reset = reset_peak()
    t0 = time.perf_counter()
    ref = reference_model("smollm2-135m-instruct")
    load_ref = time.perf_counter() - t0
    with torch.inference_mode():
        ref(torch.randint(0, 49152, (1, 512)))
    peak_ref = rss_mib("VmHWM") - before if can_reset else float("nan")
    print(f"transformers {transformers.__version__}: loaded in {load_ref:.1f} s, peak {peak_ref:.0f} MiB", flush=True)

    load_numpy = timed(lambda: globals().__setitem__("engine", NumpyLlama.from_model(model)))
    engine: NumpyLlama = globals().pop("engine")
    print(f"NumPy engine {np.__version__}: built from the loaded model in {load_numpy:.1f} s", flush=True)

    forward: dict[str, dict[str, float]] = {}
    max_diff = max_diff_numpy = 0.0
    for n, reps in LENGTHS.items():
        ids = torch.randint(0, 49152, (1, n))
        ids_np = ids.numpy()  # (1, n): both engines take (batch, tokens)
        times: dict[str, list[float]] = {name: [] for name in IMPLS}
        with torch.inference_mode():
            a, b = model(ids), ref(ids, use_cache=False).logits  # warm-up, and the agreement check
            c = engine.forward(ids_np)
            assert a.dtype == torch.float32 and c.dtype == np.float32
            max_diff = max(max_diff, (a - b).abs().max().item())
            max_diff_numpy = max(max_diff_numpy, float(np.abs(c - b.numpy()).max()))
            for _ in range(reps):  # interleaved, so all see the same background load
                times["llmbook"].append(timed(lambda: model(ids)))
                times["transformers"].append(timed(lambda: ref(ids, use_cache=False)))
                times["numpy"].append(timed(lambda: engine.forward(ids_np)))
        row = {}
        for name, ts in times.items():
            row[f"{name}_best_ms"] = min(ts) * 1e3
            row[f"{name}_median_ms"] = statistics.median(ts) * 1e3
        for name, key in (("llmbook", "speedup"), ("numpy", "numpy_speedup")):  # time of transformers / ours
            row[f"{key}_best"] = row["transformers_best_ms"] / row[f"{name}_best_ms"]
            row[f"{key}_median"] = row["transformers_median_ms"] / row[f"{name}_median_ms"]
        row["numpy_vs_llmbook_best"] = row["llmbook_best_ms"] / row["numpy_best_ms"]
        forward[str(n)] = row
        print(
            f"forward over {n:3d} tokens (best of {reps}): llmbook {row['llmbook_best_ms']:7.1f} ms, "
            f"transformers {row['transformers_best_ms']:7.1f} ms, numpy {row['numpy_best_ms']:7.1f} ms; "
            f"vs transformers: llmbook {row['speedup_best']:.2f}x (median {row['speedup_median']:.2f}x), "
            f"numpy {row['numpy_speedup_best']:.2f}x (median {row['numpy_speedup_median']:.2f}x)",
            flush=True,
        )

    prompt = model.tokenizer.encode("The capital of France is")
    decode: dict[str, list[float]] = {name: [] for name in IMPLS}

    def greedy(kind: str) -> list[int]:  # the one decoding loop, on the torch model or the NumPy engine
        return generate(model, prompt, max_new_tokens=DECODE_TOKENS, eos_token_id=None, engine=kind).ids

    with torch.inference_mode():
        assert greedy("numpy") == greedy("torch")  # and warm-up
        for _ in range(DECODE_REPS):
            decode["llmbook"].append(DECODE_TOKENS / timed(lambda: greedy("torch")))
            decode["numpy"].append(DECODE_TOKENS / timed(lambda: greedy("numpy")))
            decode["transformers"].append(
                DECODE_TOKENS
                / timed(
                    lambda: ref.generate(
                        torch.tensor([prompt]), max_new_tokens=DECODE_TOKENS, min_new_tokens=DECODE_TOKENS,
                        do_sample=False, eos_token_id=None, pad_token_id=2,
                    )
                )
            )
    tps = {k: max(v) for k, v in decode.items()}  # best of DECODE_REPS
    tps_median = {k: statistics.median(v) for k, v in decode.items()}
    print(
        f"greedy decoding, {DECODE_TOKENS} tokens with a KV cache (best of {DECODE_REPS}): "
        f"llmbook {tps['llmbook']:.1f} tokens/s ({tps['llmbook'] / tps['transformers']:.2f}x), "
        f"numpy {tps['numpy']:.1f} tokens/s ({tps['numpy'] / tps['transformers']:.2f}x), "
        f"transformers {tps['transformers']:.1f} tokens/s; medians "
        + ", ".join(f"{k} {v:.1f}" for k, v in tps_median.items()),
        flush=True,
    )
    print(f"max |logit difference| from transformers: llmbook {max_diff:.1e}, numpy {max_diff_numpy:.1e}")

    f = {n: forward[str(n)] for n in LENGTHS}
    caption = (
        f"Measured at build time, all three in the same run, {torch.get_num_threads()} CPU threads "
        f"(best of a few interleaved runs). Time of transformers divided by ours, forward over "
        + ", ".join(str(n) for n in LENGTHS) + " tokens: torch model "
        + ", ".join(f"{f[n]['speedup_best']:.2f}x" for n in LENGTHS) + "; NumPy path "
        + ", ".join(f"{f[n]['numpy_speedup_best']:.2f}x" for n in LENGTHS)
        + f". Greedy decoding with a KV cache, {DECODE_TOKENS} tokens: transformers "
        f"{tps['transformers']:.1f} tokens/s, torch model {tps['llmbook']:.1f} "
        f"({tps['llmbook'] / tps['transformers']:.2f}x), NumPy path {tps['numpy']:.1f} "
        f"({tps['numpy'] / tps['transformers']:.2f}x). Largest logit difference from transformers: "
        f"torch model {max_diff:.0e}, NumPy path {max_diff_numpy:.0e}."
    )
    generated_path("model/bench_forward_caption.txt").write_text(caption + "\n", encoding="utf-8")
    print(caption)
    write_json(
        "model/bench_forward.json",
        {
            "threads": torch.get_num_threads(),
            "cpus": os.cpu_count(),
            "torch": torch.__version__,
            "numpy": np.__version__,
            "transformers": transformers.__version__,
            "load_s": {"llmbook": load_ours, "transformers": load_ref, "numpy_from_model": load_numpy},
            "peak_mib": {"llmbook": peak_ours, "transformers": peak_ref},
            "forward": forward,
            "decode_tokens": DECODE_TOKENS,
            "decode_tokens_per_s": tps,
            "decode_tokens_per_s_median": tps_median,
            "decode_speedup": {k: tps[k] / tps["transformers"] for k in ("llmbook", "numpy")},
            "decode_speedup_median": {k: tps_median[k] / tps_median["transformers"] for k in ("llmbook", "numpy")},
            "max_logit_diff": max_diff,
            "max_logit_diff_numpy": max_diff_numpy,
            "caption": caption,
        },
    )

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), gridspec_kw={"width_ratios": [3, 2]})
    xs = range(len(LENGTHS))
    width = 0.27
    for k, name in enumerate(IMPLS):
        best = [forward[str(n)][f"{name}_best_ms"] for n in LENGTHS]
        axes[0].bar([x + (k - 1) * width for x in xs], best, width=width, label=LABELS[name], color=COLORS[name])
    axes[0].set_yscale("log")
    axes[0].set_xticks(list(xs), [f"T = {n}" for n in LENGTHS])
    axes[0].set_ylabel("one forward pass, ms (best)")
    axes[0].legend(frameon=False, fontsize=8)
    for x, n in zip(xs, LENGTHS):  # speed relative to transformers, above each of ours
        r = forward[str(n)]
        for k, name, key in ((0, "llmbook", "speedup_best"), (2, "numpy", "numpy_speedup_best")):
            axes[0].annotate(f"{r[key]:.2f}×", (x + (k - 1) * width, r[f"{name}_best_ms"]), ha="center",
                             xytext=(0, 3), textcoords="offset points", fontsize=7)
    axes[0].set_ylim(top=axes[0].get_ylim()[1] * 1.6)  # room for the labels
    bars = axes[1].bar([LABELS[k].replace(" (", "\n(") for k in IMPLS], [tps[k] for k in IMPLS],
                       color=[COLORS[k] for k in IMPLS])
    axes[1].bar_label(bars, [f"{tps[k] / tps['transformers']:.2f}×" for k in IMPLS], fontsize=8)
    axes[1].set_ylim(top=max(tps.values()) * 1.15)
    axes[1].tick_params(axis="x", labelsize=8)
    axes[1].set_ylabel(f"tokens/s, greedy, {DECODE_TOKENS} tokens")
    fig.suptitle(f"SmolLM2-135M, float32, {torch.get_num_threads()} CPU threads, best of a few runs", fontsize=10)
    fig.tight_layout()
    save_figure(fig, "model/bench_forward.svg")
    print("wrote generated/model/bench_forward.json, .svg and _caption.txt")


if __name__ == "__main__":
    main()
