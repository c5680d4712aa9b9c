"""The hardware chapter's measurements: this CPU's roofline, SmolLM2 on it, quantised kernels, GPUs.

Measured live at build time on whatever machine builds the book (about 30 s of CPU):

- matrix-multiply FLOP/s against size, float32 and bfloat16, 1 and 2 threads (torch);
- memory bandwidth with the STREAM triad (torch, 1 and 2 threads), and the bandwidth a
  float32 matrix-vector product actually gets;
- SmolLM2-135M's operations placed on that roofline, and its decode bound (bytes of
  weights per token ÷ bandwidth) next to the NumPy engine's measured tokens/s;
- weight-only quantised matrix-vector products (NumPy from the file's blocks, torch's
  int8 and int4 CPU kernels) against float32 and bfloat16: bytes and time;
- naive vs tiled (FlashAttention-style) attention: peak memory and time;
- GPU generations from ``llmbook.hardware.gpus``: compute and bandwidth over the years,
  ridge points, and the newest GPU benchmark record if one is committed.

NumPy runs on one thread here (``OPENBLAS_NUM_THREADS=1``, set before NumPy loads) so that
its timings are comparable with torch's single-thread ones; the machine is shared, so
every timing is a best of several, and the page quotes ratios from one run.
Writes ``generated/hardware/*.json``, ``*.svg`` and ``*_caption.txt``.
"""

from __future__ import annotations

import os

os.environ["OPENBLAS_NUM_THREADS"] = "1"  # before NumPy is imported

import datetime  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from llmbook.hardware.cpu import simd_features  # noqa: E402
from llmbook.hardware.flash_attention import flash_attention_np  # noqa: E402
from llmbook.hardware.gpus import GPUS  # noqa: E402
from llmbook.hardware.gpus import gpu as find_gpu  # noqa: E402
from llmbook.hardware.quantized import (QuantizedMatrix, quantize_blocks, torch_int4_matmul,  # noqa: E402
                                        torch_int4_weights, torch_int8_matmul, torch_int8_weights)
from llmbook.hardware.race import race  # noqa: E402
from llmbook.hardware.roofline import decode_bound, llama_ops, weight_bytes_per_token  # noqa: E402
from llmbook.hardware.packed import PackedLinear  # noqa: E402
from llmbook.layers.attention import causal_mask, scaled_dot_product_attention_np  # noqa: E402
from llmbook.models.gguf import read_gguf  # noqa: E402
from llmbook.models.llama import load_model  # noqa: E402
from llmbook.models.quant import GGMLType  # noqa: E402
from llmbook.models.registry import model_path  # noqa: E402
from tools.bench import latest_record, matmul_rate, time_call, triad_bandwidth  # noqa: E402
from tools.export import generated_path, save_figure, write_json  # noqa: E402

SIZES = (64, 128, 256, 512, 1024)
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}
THREADS = (1, 2)


def caption(name: str, text: str) -> None:
    generated_path(f"hardware/{name}_caption.txt").write_text(text + "\n", encoding="utf-8")
    print(text, flush=True)


def measure_cpu() -> dict:
    feats = simd_features()
    matmul = {f"{d}/{t}": {str(n): matmul_rate(n, DTYPES[d], t)["best"] for n in SIZES} for d in DTYPES for t in THREADS}
    triad = {str(t): triad_bandwidth(threads=t, repeats=10) for t in THREADS}
    for key, row in matmul.items():
        print(f"matmul {key} threads: " + ", ".join(f"n={n} {v / 1e9:.0f}" for n, v in row.items()) + " GFLOP/s")
    print("triad: " + ", ".join(f"{t} thread(s) {v['best'] / 1e9:.1f} GB/s" for t, v in triad.items()), flush=True)
    return {"features": feats, "matmul_flops": matmul, "triad_bytes_per_s": triad,
            "cpus": os.cpu_count(), "torch": torch.__version__}


def matvec_bandwidth(w_t: np.ndarray) -> float:
    x = np.ones(w_t.shape[0], dtype=np.float32)
    t = time_call(lambda: x @ w_t, repeats=10)
    return w_t.nbytes / t["best"]


def roofline_figure(cpu: dict, config, peak: float, bw: float) -> None:
    fig, ax = plt.subplots(figsize=(7, 4))
    xs = np.logspace(-1, 3, 200)
    ax.plot(xs, np.minimum(peak, xs * bw) / 1e9, color="#3f51b5", label="roofline of this CPU (1 thread, float32)")
    ax.axvline(peak / bw, color="#3f51b5", ls=":", lw=1)
    ax.annotate(f"ridge {peak / bw:.1f} FLOP/byte", (peak / bw, peak / 1e9 * 0.45), fontsize=8, ha="left",
                xytext=(4, 0), textcoords="offset points")
    marks = [("decode, 1 token", llama_ops(config, 1, 0), "o", "#ff7043"),
             ("decode at 4,096 cached", llama_ops(config, 1, 4095), "s", "#ab47bc"),
             ("prefill, 64 tokens", llama_ops(config, 64, 0), "^", "#26a69a"),
             ("prefill, 512 tokens", llama_ops(config, 512, 0), "D", "#5d4037")]
    for label, ops, marker, color in marks:
        for op in ops:
            ax.scatter(op.intensity, min(peak, op.intensity * bw) / 1e9, marker=marker, color=color, s=28,
                       label=label if op is ops[0] else None)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity, FLOP per byte moved")
    ax.set_ylabel("attainable GFLOP/s")
    ax.set_title("SmolLM2-135M's operations on this CPU's measured roofline", fontsize=10)
    ax.legend(frameon=False, fontsize=7, loc="lower right")
    fig.tight_layout()
    save_figure(fig, "hardware/roofline.svg")
    plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for key, row in cpu["matmul_flops"].items():
        d, t = key.split("/")
        axes[0].plot([int(n) for n in row], [v / 1e9 for v in row.values()], marker="o",
                     ls="-" if d == "float32" else "--", label=f"{d}, {t} thread{'s' if t != '1' else ''}")
    axes[0].set_xscale("log", base=2)
    axes[0].set_xlabel("n, for an (n, n) @ (n, n) product")
    axes[0].set_ylabel("GFLOP/s (best of 3)")
    axes[0].legend(frameon=False, fontsize=7)
    tri = cpu["triad_bytes_per_s"]
    labels = [f"triad, {t} thr." for t in tri] + ["matvec fp32"]
    vals = [v["best"] / 1e9 for v in tri.values()] + [cpu["matvec_bytes_per_s"] / 1e9]
    bars = axes[1].bar(labels, vals, color=["#3f51b5", "#7986cb", "#ff7043"])
    axes[1].bar_label(bars, [f"{v:.1f}" for v in vals], fontsize=8)
    axes[1].set_ylabel("GB/s (best)")
    fig.suptitle("This machine, measured while the book was built (shared, so noisy)", fontsize=10)
    fig.tight_layout()
    save_figure(fig, "hardware/cpu.svg")
    plt.close(fig)


def measure_quantized(f) -> dict:
    torch.set_num_threads(1)
    rows = {}
    for name, label in (("blk.0.ffn_gate.weight", "feed-forward gate (1536 × 576)"),
                        ("token_embd.weight", "output layer (49152 × 576)")):
        info = f.tensors[name]
        q_file = QuantizedMatrix.from_raw(f.raw(name), info.type, tuple(info.shape))
        w = q_file.dequantize()  # (out, in) float32
        q41 = q_file if q_file.qtype == GGMLType.Q4_1 else quantize_blocks(w, GGMLType.Q4_1)
        q80 = q_file if q_file.qtype == GGMLType.Q8_0 else quantize_blocks(w, GGMLType.Q8_0)
        x = np.random.default_rng(0).standard_normal((1, w.shape[1])).astype(np.float32)
        xt, wt = torch.from_numpy(x), torch.from_numpy(w)
        w_t = np.ascontiguousarray(w.T)  # (in, out), as the NumPy engine stores it
        wb = wt.to(torch.bfloat16)
        i8, s8 = torch_int8_weights(w)
        p4, sz4 = torch_int4_weights(q41)
        f16 = PackedLinear(wt, "fp16")
        cases = {
            "NumPy float32": (w_t.nbytes, lambda: x @ w_t),
            "NumPy Q8_0 blocks": (q80.nbytes, lambda: q80.matvec(x)),
            "NumPy Q4_1 blocks": (q41.nbytes, lambda: q41.matvec(x)),
            "torch float32": (w.nbytes, lambda: F.linear(xt, wt)),
            "torch bfloat16": (wb.numel() * 2, lambda: F.linear(xt.bfloat16(), wb)),
            "torch float16 (fbgemm)": (f16.nbytes, lambda: f16(xt)),
            "torch int8 (per-row scale)": (i8.numel() + 4 * s8.numel(), lambda: torch_int8_matmul(xt, i8, s8)),
            "torch int4 (Q4_1 groups)": (p4.numel() + sz4.numel() * 4, lambda: torch_int4_matmul(xt, p4, sz4)),
        }
        with torch.inference_mode():
            row = {k: {"bytes": b, "seconds": time_call(fn, repeats=7, warmup=2)["best"]} for k, (b, fn) in cases.items()}
        base = row["NumPy float32"]["seconds"]
        for k, v in row.items():
            v["speed_vs_numpy_float32"] = base / v["seconds"]
            print(f"{label:32} {k:28} {v['bytes'] / 2**20:7.2f} MiB {v['seconds'] * 1e3:8.3f} ms "
                  f"({v['speed_vs_numpy_float32']:.2f}x)", flush=True)
        rows[label] = row
    return rows


def measure_flash() -> dict:
    rng = np.random.default_rng(0)
    out = {}
    for t in (512, 2048):
        q, k, v = (rng.standard_normal((9, t, 64)).astype(np.float32) for _ in range(3))
        mask = causal_mask(t).numpy()
        row = {}
        for name, fn in (("naive", lambda: scaled_dot_product_attention_np(q, k, v, mask)),
                         ("tiled", lambda: flash_attention_np(q, k, v, causal=True, block_q=128, block_k=128))):
            tracemalloc.start()
            fn()
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            row[name] = {"peak_bytes": peak, "seconds": time_call(fn, repeats=2, warmup=0)["best"]}
        out[str(t)] = row
        print(f"attention, 9 heads, T={t}: naive {row['naive']['peak_bytes'] / 2**20:.1f} MiB "
              f"{row['naive']['seconds'] * 1e3:.0f} ms, tiled {row['tiled']['peak_bytes'] / 2**20:.1f} MiB "
              f"{row['tiled']['seconds'] * 1e3:.0f} ms", flush=True)
    return out


def gpu_figure() -> None:
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    years = [g.year for g in GPUS]
    flops = np.array([g.dense("bf16_tflops") for g in GPUS])
    bws = np.array([g.dense("hbm_tb_s") for g in GPUS])
    axes[0].plot(years, flops / flops[0], marker="o", color="#ff7043", label="dense 16-bit tensor FLOP/s")
    axes[0].plot(years, bws / bws[0], marker="s", color="#3f51b5", label="HBM bandwidth")
    for g, y, f in zip(GPUS, years, flops / flops[0]):
        axes[0].annotate(g.name.split()[0], (y, f), fontsize=7, xytext=(0, 5), textcoords="offset points", ha="center")
    axes[0].set_yscale("log")
    axes[0].set_ylabel(f"× the {GPUS[0].name.split()[0]}")
    axes[0].set_xlabel("year announced")
    axes[0].legend(frameon=False, fontsize=8)
    ridges = [g.ridge_point() for g in GPUS]
    bars = axes[1].bar([g.name.split()[0] for g in GPUS], ridges, color="#26a69a")
    axes[1].bar_label(bars, [f"{r:.0f}" for r in ridges], fontsize=8)
    axes[1].set_ylabel("ridge point, FLOP per byte")
    axes[1].set_title("a matrix-vector product in bf16 does 1", fontsize=9)
    fig.suptitle("Vendor figures (dense), from llmbook.hardware.gpus", fontsize=10)
    fig.tight_layout()
    save_figure(fig, "hardware/gpus.svg")
    plt.close(fig)


def gpu_record_caption() -> dict | None:
    rec = latest_record("hardware_gpu")
    if rec is None:
        caption("gpu_record", "No GPU record yet: `make gpu-records` on a machine with CUDA writes one "
                "(examples/records/hardware_gpu/), and the next build shows it here.")
        return None
    env, res = rec["environment"], rec["results"]
    parts = [f"Recorded {env['date'][:10]} on {env.get('device_name', env['device'])} "
             f"(torch {env['torch']}, CUDA {env.get('cuda')})."]
    mm = res.get("matmul_bf16")
    if mm and "best_tflops" in mm:
        parts.append(f"bf16 matmul: {mm['best_tflops']:.0f} TFLOP/s at n = {mm['best_n']}"
                     + (f", {mm['fraction_of_dense_peak']:.0%} of the dense peak" if mm.get("fraction_of_dense_peak") else "")
                     + ".")
    att = res.get("attention")
    if att and "rows" in att:
        r = att["rows"][-1]
        parts.append(f"Attention at T = {r['t']}: SDPA {r['naive_ms'] / r['sdpa_ms']:.1f}× faster than naive.")
    sm = res.get("smollm2")
    if sm and "decode_tokens_per_s" in sm:
        parts.append(f"SmolLM2-135M ({sm['engine']}): prefill {sm['prefill_tokens_per_s']:,.0f} tokens/s, "
                     f"decode {sm['decode_tokens_per_s']:.0f} tokens/s.")
    caption("gpu_record", " ".join(parts))
    return rec


def race_json(cpu: dict, side: int = 256, inner: int = 4096) -> None:
    """The CPU-vs-GPU animation's data: this CPU's best measured matmul against each GPU's dense BF16 peak."""
    key, n = max(((k, n) for k, row in cpu["matmul_flops"].items() for n in row),
                 key=lambda kn: cpu["matmul_flops"][kn[0]][kn[1]])
    flops = cpu["matmul_flops"][key][n]
    dtype, threads = key.split("/")
    gpus = []
    for g in GPUS:
        fig = g.figures["bf16_tflops"]
        r = race(flops, fig.dense * 1e12, side=side, inner=inner)
        gpus.append({"name": g.name, "year": g.year, "dense_tflops": fig.dense, "published_tflops": fig.published,
                     "sparse": fig.sparse, "per": fig.per, "source": fig.source, "note": g.note, "ratio": r.ratio,
                     "gpu_cells": r.gpu_cells, "gpu_cells_exact": r.gpu_cells_exact, "capped": r.capped})
    write_json("hardware/race.json", {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
        "cpu": {"flops": flops, "dtype": dtype, "threads": int(threads), "n": int(n)},
        "side": side, "inner": inner, "cpu_cells": r.cpu_cells, "tick_s": r.tick_s,
        "default": [g["name"] for g in gpus].index(find_gpu("H100").name), "gpus": gpus})
    print(f"race: best CPU matmul {flops / 1e9:.0f} GFLOP/s ({key} threads, n = {n}); "
          + ", ".join(f"{g['name']} {g['ratio']:,.0f}x" for g in gpus), flush=True)


def main() -> None:
    t_start = time.process_time()
    cpu = measure_cpu()
    model = load_model("smollm2-135m-instruct")
    c = model.config
    engine_out = np.ascontiguousarray(model.output.weight.detach().numpy().T)  # (C, V): 113 MB, past any cache
    cpu["matvec_bytes_per_s"] = matvec_bandwidth(engine_out)
    peak = max(cpu["matmul_flops"]["float32/1"].values())
    bw = cpu["triad_bytes_per_s"]["1"]["best"]
    roofline_figure(cpu, c, peak, bw)
    race_json(cpu)

    f = read_gguf(model_path("smollm2-135m-instruct"))
    file_bytes = sum(i.n_bytes for i in f.tensors.values() if len(i.shape) == 2)  # matrices; the output is tied
    bound32 = decode_bound(c, bw)
    bound_matvec = decode_bound(c, cpu["matvec_bytes_per_s"])
    decode = {"bound_float32_triad": bound32, "bound_float32_matvec": bound_matvec, "bound_file_bytes": bw / file_bytes,
              "weight_bytes_float32": weight_bytes_per_token(c), "file_matrix_bytes": file_bytes}
    have = [k for k, v in cpu["features"].items() if v]
    lacks = [k for k, v in cpu["features"].items() if not v]
    caption("cpu", (
        f"The CPU that built this page reports {', '.join(have) or 'none of the listed features'}"
        + (f" (not {', '.join(lacks)})" if lacks else "") + ". "
        f"Measured while this page was built: best float32 matmul {peak / 1e9:.0f} GFLOP/s on 1 thread, "
        f"bfloat16 {max(cpu['matmul_flops']['bfloat16/1'].values()) / 1e9:.0f}; triad bandwidth "
        f"{bw / 1e9:.1f} GB/s on 1 thread; a float32 matrix-vector product over SmolLM2's output layer read "
        f"its weights at {cpu['matvec_bytes_per_s'] / 1e9:.1f} GB/s. Ridge point {peak / bw:.1f} FLOP/byte."))
    caption("bound", (
        f"Decode bound on this machine, 1 thread: {weight_bytes_per_token(c) / 1e6:.0f} MB of float32 weights per "
        f"token ÷ {bw / 1e9:.1f} GB/s (triad) = {bound32:.0f} tokens/s; at the bandwidth a matrix-vector product "
        f"reached, {bound_matvec:.0f}. Reading the file's own {file_bytes / 1e6:.0f} MB of quantised matrices "
        f"instead would allow {bw / file_bytes:.0f} tokens/s."))
    quant = measure_quantized(f)
    big = quant["output layer (49152 × 576)"]
    caption("quantized", (
        "Output layer of SmolLM2 (49152 × 576), one token, 1 thread, best of 7: "
        + "; ".join(f"{k} {v['bytes'] / 2**20:.1f} MiB, {v['seconds'] * 1e3:.1f} ms" for k, v in big.items())
        + ". Faster than NumPy's float32 here: "
        + (", ".join(k for k, v in big.items() if v["speed_vs_numpy_float32"] > 1) or "none") + "."))
    flash = measure_flash()
    r = flash["2048"]
    caption("flash", (
        f"9 heads of 64, 2,048 tokens, causal: naive attention peaked at {r['naive']['peak_bytes'] / 2**20:.0f} MiB of "
        f"temporaries and took {r['naive']['seconds'] * 1e3:.0f} ms; tiles of 128 × 128 peaked at "
        f"{r['tiled']['peak_bytes'] / 2**20:.1f} MiB and took {r['tiled']['seconds'] * 1e3:.0f} ms (NumPy, 1 thread)."))
    gpu_figure()
    rec = gpu_record_caption()
    write_json("hardware/measurements.json", {"cpu": cpu, "decode": decode, "quantized": quant, "flash": flash,
                                              "gpu_record": rec})
    print(f"hardware_roofline: {time.process_time() - t_start:.1f} s of CPU")


if __name__ == "__main__":
    main()
