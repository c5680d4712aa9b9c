"""Benchmark: llmbook's SmolLM2-135M against transformers' on the same CPU, in the same run.

Both load the same GGUF file and run float32 PyTorch. Measured: load time, one forward
pass over 1, 64 and 512 tokens (timings interleaved, best and median reported, since
other processes share the machine), greedy decoding speed with a KV cache, peak memory,
and the largest logit difference. Writes ``generated/model/bench_forward.json`` and
``.svg``. Run from the repository root: ``python examples/bench_forward.py``.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from llmbook.export import save_figure, write_json  # noqa: E402
from llmbook.model import load_model  # noqa: E402
from llmbook.models import model_path  # noqa: E402

LENGTHS = {1: 10, 64: 4, 512: 2}  # tokens -> timed repetitions per implementation
DECODE_TOKENS, DECODE_REPS = 16, 2


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
    path = model_path("smollm2-135m-instruct")
    t0 = time.perf_counter()
    ref = transformers.AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
    ref.eval()
    load_ref = time.perf_counter() - t0
    with torch.inference_mode():
        ref(torch.randint(0, 49152, (1, 512)))
    peak_ref = rss_mib("VmHWM") - before if can_reset else float("nan")
    print(f"transformers {transformers.__version__}: loaded in {load_ref:.1f} s, peak {peak_ref:.0f} MiB", flush=True)

    forward: dict[str, dict[str, float]] = {}
    max_diff = 0.0
    for n, reps in LENGTHS.items():
        ids = torch.randint(0, 49152, (1, n))
        times: dict[str, list[float]] = {"llmbook": [], "transformers": []}
        with torch.inference_mode():
            a, b = model(ids), ref(ids, use_cache=False).logits  # warm-up, and the agreement check
            assert a.dtype == torch.float32
            max_diff = max(max_diff, (a - b).abs().max().item())
            for _ in range(reps):  # interleaved, so both see the same background load
                times["llmbook"].append(timed(lambda: model(ids)))
                times["transformers"].append(timed(lambda: ref(ids, use_cache=False)))
        row = {}
        for name, ts in times.items():
            row[f"{name}_best_ms"] = min(ts) * 1e3
            row[f"{name}_median_ms"] = statistics.median(ts) * 1e3
        row["speedup_best"] = row["transformers_best_ms"] / row["llmbook_best_ms"]
        row["speedup_median"] = row["transformers_median_ms"] / row["llmbook_median_ms"]
        forward[str(n)] = row
        print(
            f"forward over {n:3d} tokens: llmbook {row['llmbook_best_ms']:7.1f} ms, "
            f"transformers {row['transformers_best_ms']:7.1f} ms (best of {reps}): "
            f"{row['speedup_best']:.2f}x (median {row['speedup_median']:.2f}x)",
            flush=True,
        )

    prompt = model.tokenizer.encode("The capital of France is")
    decode: dict[str, list[float]] = {"llmbook": [], "transformers": []}
    with torch.inference_mode():
        for _ in range(DECODE_REPS):
            decode["llmbook"].append(DECODE_TOKENS / timed(lambda: model.generate(prompt, DECODE_TOKENS)))
            decode["transformers"].append(
                DECODE_TOKENS
                / timed(
                    lambda: ref.generate(
                        torch.tensor([prompt]), max_new_tokens=DECODE_TOKENS, min_new_tokens=DECODE_TOKENS,
                        do_sample=False, eos_token_id=None, pad_token_id=2,
                    )
                )
            )
    tps = {k: max(v) for k, v in decode.items()}
    print(
        f"greedy decoding, {DECODE_TOKENS} tokens with a KV cache: llmbook {tps['llmbook']:.1f} tokens/s, "
        f"transformers {tps['transformers']:.1f} tokens/s ({tps['llmbook'] / tps['transformers']:.2f}x)",
        flush=True,
    )
    print(f"max |logit difference| over the benchmark inputs: {max_diff:.1e}")

    write_json(
        "model/bench_forward.json",
        {
            "threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "load_s": {"llmbook": load_ours, "transformers": load_ref},
            "peak_mib": {"llmbook": peak_ours, "transformers": peak_ref},
            "forward": forward,
            "decode_tokens_per_s": tps,
            "max_logit_diff": max_diff,
        },
    )

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), gridspec_kw={"width_ratios": [3, 2]})
    xs = range(len(LENGTHS))
    for k, (name, color) in enumerate((("llmbook", "#3f51b5"), ("transformers", "#ff7043"))):
        best = [forward[str(n)][f"{name}_best_ms"] for n in LENGTHS]
        axes[0].bar([x + (k - 0.5) * 0.38 for x in xs], best, width=0.38, label=name, color=color)
    axes[0].set_yscale("log")
    axes[0].set_xticks(list(xs), [f"T = {n}" for n in LENGTHS])
    axes[0].set_ylabel("one forward pass, ms (best)")
    axes[0].legend(frameon=False)
    for x, n in zip(xs, LENGTHS):
        r = forward[str(n)]
        axes[0].annotate(f"{r['speedup_best']:.2f}×", (x, r["transformers_best_ms"]), ha="center",
                         xytext=(0, 4), textcoords="offset points", fontsize=9)
    names = list(tps)
    axes[1].bar(names, [tps[k] for k in names], color=["#3f51b5", "#ff7043"])
    axes[1].set_ylabel(f"tokens/s, greedy, {DECODE_TOKENS} tokens")
    fig.suptitle(f"SmolLM2-135M, float32, {torch.get_num_threads()} CPU threads", fontsize=10)
    fig.tight_layout()
    save_figure(fig, "model/bench_forward.svg")
    print("wrote generated/model/bench_forward.json and .svg")


if __name__ == "__main__":
    main()
