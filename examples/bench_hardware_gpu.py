"""GPU benchmarks for the hardware chapter, recorded so that builds without a GPU can show them.

    make gpu-records        # = PYTHONPATH=. python examples/bench_hardware_gpu.py --record

On a machine with CUDA it measures, in well under five minutes:

- bfloat16 matmul TFLOP/s against size, and the best as a fraction of the device's dense
  peak (when ``llmbook.hardware.gpus`` knows the device);
- attention, naive (the book's ``scaled_dot_product_attention``, which materialises the
  scores) against ``torch.nn.functional.scaled_dot_product_attention`` (fused kernels),
  bfloat16, causal, 9 heads of 64 as SmolLM2, at several lengths: time and peak memory;
- SmolLM2-135M in bfloat16: prefill tokens/s over 512 tokens and greedy decode tokens/s
  with a KV cache (the book's model if it runs on the GPU, otherwise transformers').

It writes ``examples/records/hardware_gpu/<date>-<device>.json`` (commit it); the build's
``examples/hardware_roofline.py`` shows the newest record. Without CUDA it prints one line
and exits 0. Without ``--record`` (as when the book's build runs every example) it only
says how to run it.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from typing import Any

import torch

N_SIZES = (1024, 2048, 4096, 8192)
ATTN_LENGTHS = (1024, 4096, 8192)
HEADS, HEAD_DIM = 9, 64
PREFILL_TOKENS, DECODE_TOKENS = 512, 64


def device_gpu(name: str) -> Any:
    """The entry of ``llmbook.hardware.gpus`` whose model (e.g. "H100") appears in the CUDA device name."""
    from llmbook.hardware.gpus import GPUS

    for g in GPUS:
        if g.name.split()[0].lower() in name.lower():
            return g
    return None


def _reset_peak(device: str) -> int:
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        return torch.cuda.memory_allocated()
    return 0


def _peak_mib(device: str, base: int) -> float | None:
    return (torch.cuda.max_memory_allocated() - base) / 2**20 if device.startswith("cuda") else None


def bench_matmul(device: str = "cuda", sizes: tuple[int, ...] = N_SIZES) -> dict[str, Any]:
    from tools.bench import matmul_rate

    rows = {str(n): matmul_rate(n, torch.bfloat16, repeats=10, device=device)["best"] / 1e12 for n in sizes}
    best_n = max(rows, key=rows.get)
    out: dict[str, Any] = {"tflops_by_n": rows, "best_tflops": rows[best_n], "best_n": int(best_n)}
    g = device_gpu(torch.cuda.get_device_name()) if device.startswith("cuda") else None
    if g is not None:
        out["table_entry"] = g.name
        out["dense_peak_tflops"] = g.dense("bf16_tflops")
        out["fraction_of_dense_peak"] = rows[best_n] / g.dense("bf16_tflops")
    return out


def bench_attention(device: str = "cuda", lengths: tuple[int, ...] = ATTN_LENGTHS) -> dict[str, Any]:
    import torch.nn.functional as F

    from llmbook.layers.attention import scaled_dot_product_attention
    from tools.bench import time_call

    rows = []
    sync = device.startswith("cuda")
    for t in lengths:
        q, k, v = (torch.randn(1, HEADS, t, HEAD_DIM, device=device, dtype=torch.bfloat16) for _ in range(3))
        row: dict[str, Any] = {"t": t}
        for name, fn in (("naive", lambda: scaled_dot_product_attention(q, k, v, is_causal=True)),
                         ("sdpa", lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True))):
            base = _reset_peak(device)
            row[f"{name}_ms"] = time_call(fn, repeats=10, warmup=2, sync=sync)["best"] * 1e3
            row[f"{name}_peak_mib"] = _peak_mib(device, base)
        got = F.scaled_dot_product_attention(q, k, v, is_causal=True).float()
        want = scaled_dot_product_attention(q.float(), k.float(), v.float(), is_causal=True)
        row["max_abs_diff_vs_float32"] = (got - want).abs().max().item()
        rows.append(row)
        del q, k, v
    return {"heads": HEADS, "head_dim": HEAD_DIM, "dtype": "bfloat16", "rows": rows}


def bench_smollm2(device: str = "cuda", prefill_tokens: int = PREFILL_TOKENS,
                  decode_tokens: int = DECODE_TOKENS, dtype: torch.dtype = torch.bfloat16) -> dict[str, Any]:
    from tools.bench import time_call

    sync = device.startswith("cuda")
    base = _reset_peak(device)
    ids = torch.randint(0, 49152, (1, prefill_tokens), device=device)
    errors = {}
    try:  # the book's model, if its code runs on the GPU
        from llmbook.models.llama import load_model

        model = load_model("smollm2-135m-instruct").to(device, dtype).eval()

        def prefill() -> Any:
            return model(ids, last_only=True)

        def decode() -> None:
            cache = model.new_cache(1, 16 + decode_tokens)
            logits = model(ids[:, :16], cache, last_only=True)
            for _ in range(decode_tokens):
                logits = model(logits[:, -1:].argmax(-1), cache, last_only=True)

        engine = f"llmbook (torch, {str(dtype).removeprefix('torch.')})"
        with torch.inference_mode():
            prefill()
    except Exception as e:  # noqa: BLE001 - recorded, and the reference library measured instead
        errors["llmbook"] = f"{type(e).__name__}: {e}"
        from llmbook.models.registry import reference_model

        model = reference_model("smollm2-135m-instruct").to(device, dtype).eval()

        def prefill() -> Any:
            return model(ids, use_cache=False, logits_to_keep=1)

        def decode() -> None:
            model.generate(ids[:, :16], max_new_tokens=decode_tokens, min_new_tokens=decode_tokens,
                           do_sample=False, eos_token_id=None, pad_token_id=2)

        engine = f"transformers ({str(dtype).removeprefix('torch.')})"
    with torch.inference_mode():
        t_prefill = time_call(prefill, repeats=10, warmup=2, sync=sync)["best"]
        t_decode = time_call(decode, repeats=3, warmup=1, sync=sync)["best"]
    return {"engine": engine, "prefill_tokens": prefill_tokens,
            "prefill_tokens_per_s": prefill_tokens / t_prefill,
            "decode_tokens": decode_tokens, "decode_tokens_per_s": decode_tokens / t_decode,
            "peak_mib": _peak_mib(device, base), "errors": errors}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--record", action="store_true", help="run the benchmarks and write a record")
    args = parser.parse_args(argv)
    if not args.record:
        print("GPU benchmarks are not part of the build: run `make gpu-records` on a machine with CUDA")
        return 0
    if not torch.cuda.is_available():
        print(f"no CUDA device here (torch {torch.__version__}): nothing measured, no record written")
        return 0

    from tools.bench import save_record

    start = time.perf_counter()
    results: dict[str, Any] = {}
    for name, fn in (("matmul_bf16", bench_matmul), ("attention", bench_attention), ("smollm2", bench_smollm2)):
        t0 = time.perf_counter()
        try:
            results[name] = fn()
        except Exception as e:  # noqa: BLE001 - one failing part is recorded, the others still run
            traceback.print_exc()
            results[name] = {"error": f"{type(e).__name__}: {e}"}
        results[name]["seconds"] = time.perf_counter() - t0
        print(f"{name}: {results[name]}", flush=True)
        torch.cuda.empty_cache()
    results["total_seconds"] = time.perf_counter() - start
    path = save_record("hardware_gpu", results, device="cuda")
    print(f"wrote {path} in {results['total_seconds']:.0f} s; commit it so builds without a GPU show it")
    failed = [k for k, v in results.items() if isinstance(v, dict) and "error" in v]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
