"""Naive attention (materialise the T x T matrix) vs torch's fused scaled_dot_product_attention.

Runs live on the CPU at small sizes on every build. Where CUDA is present it also
measures larger sizes on the GPU and saves a record under examples/records/ to be
committed; without a GPU the figure shows the newest committed record, labelled.
"""

import resource
from concurrent.futures import ThreadPoolExecutor
import subprocess
import sys

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from llmbook.layers.attention import scaled_dot_product_attention
from tools.bench import environment, latest_record, save_record, time_call
from tools.export import generated_path, save_figure, write_json

B, H, D = 1, 8, 64
CPU_LENGTHS = [128, 256, 512, 1024, 2048]
GPU_LENGTHS = [512, 1024, 2048, 4096, 8192, 16384]
IMPLS = {
    "naive": lambda q, k, v: scaled_dot_product_attention(q, k, v, is_causal=True),
    "fused": lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
}


def inputs(t: int, device: str, dtype: torch.dtype) -> tuple[torch.Tensor, ...]:
    g = torch.Generator(device="cpu").manual_seed(t)
    return tuple(torch.randn(B, H, t, D, generator=g, dtype=dtype).to(device) for _ in range(3))


def cpu_peak_bytes(impl: str, t: int) -> int:
    """Extra resident memory one call needs, measured in a fresh process (high-water mark)."""
    out = subprocess.run([sys.executable, __file__, "--child", impl, str(t)],
                         capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


def high_water_bytes() -> int:
    """This process's peak resident memory. VmHWM belongs to the process's own address space;
    ru_maxrss would carry over the parent's peak through fork and exec."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def child(impl: str, t: int) -> None:
    torch.set_num_threads(1)
    q, k, v = inputs(t, "cpu", torch.float32)
    before = high_water_bytes()
    IMPLS[impl](q, k, v)
    print(high_water_bytes() - before)


def measure(device: str, lengths: list[int], dtype: torch.dtype) -> list[dict]:
    rows = []
    for t in lengths:
        q, k, v = inputs(t, device, dtype)
        # the two must agree before their speed means anything
        err = (IMPLS["naive"](q, k, v) - IMPLS["fused"](q, k, v)).abs().max().item()
        row = {"T": t, "max_abs_diff": err}
        for name, fn in IMPLS.items():
            timing = time_call(lambda: fn(q, k, v), repeats=5, sync=device == "cuda")
            row[f"{name}_ms"] = timing["median"] * 1e3
            if device == "cuda":
                torch.cuda.reset_peak_memory_stats()
                base = torch.cuda.memory_allocated()
                fn(q, k, v)
                row[f"{name}_peak_mib"] = (torch.cuda.max_memory_allocated() - base) / 2**20
        rows.append(row)
    if device == "cpu":  # memory, not time: the fresh processes run two at a time, after the timings
        with ThreadPoolExecutor(2) as pool:
            peaks = pool.map(lambda job: cpu_peak_bytes(*job), [(n, r["T"]) for r in rows for n in IMPLS])
            for (r, name), peak in zip([(r, n) for r in rows for n in IMPLS], peaks):
                r[f"{name}_peak_mib"] = peak / 2**20
    for row in rows:
        print(f"  {device} T={row['T']:6d}  naive {row['naive_ms']:8.2f} ms {row['naive_peak_mib']:8.1f} MiB   "
              f"fused {row['fused_ms']:8.2f} ms {row['fused_peak_mib']:8.1f} MiB   |diff| {row['max_abs_diff']:.1e}",
              flush=True)
    return rows


def main() -> None:
    print("CPU, live:", flush=True)
    cpu_rows = measure("cpu", CPU_LENGTHS, torch.float32)
    if torch.cuda.is_available():
        print("CUDA:", flush=True)
        gpu_rows = measure("cuda", GPU_LENGTHS, torch.float16)
        print(f"record saved: {save_record('bench_attention', gpu_rows, 'cuda')}")
    gpu = latest_record("bench_attention")

    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(9.5, 3.6))
    series = [("CPU (live)", cpu_rows, "-")]
    if gpu is not None:
        env = gpu["environment"]
        series.append((f"{env['device_name']} ({env['date'][:10]} record)", gpu["results"], "--"))
    for label, rows, style in series:
        ts = [r["T"] for r in rows]
        for impl, color in (("naive", "C3"), ("fused", "C0")):
            ax_t.plot(ts, [r[f"{impl}_ms"] for r in rows], style, marker="o", color=color, label=f"{impl}, {label}")
            ax_m.plot(ts, [max(r[f"{impl}_peak_mib"], 1e-3) for r in rows], style, marker="o", color=color,
                      label=f"{impl}, {label}")
    ticks = sorted({r["T"] for _, rows, _ in series for r in rows})
    for ax in (ax_t, ax_m):
        ax.set_xscale("log")
        ax.set_xticks(ticks, [str(t) for t in ticks], fontsize=7)
        ax.minorticks_off()
    ax_t.set(yscale="log", xlabel="sequence length T", ylabel="time per call (ms, median)", title="Time")
    ax_m.set(yscale="log", xlabel="sequence length T", ylabel="extra peak memory (MiB)",
             title="Peak memory")
    ax_t.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, "attention/bench_attention.svg")

    cpu_env = environment("cpu")
    caption = (f"CPU series measured live at build time on {cpu_env['device_name']} "
               f"({cpu_env['threads']} threads, torch {cpu_env['torch']}), B={B}, H={H}, D={D}, float32. ")
    if gpu is None:
        caption += "No GPU record has been committed yet, so the figure shows the CPU only."
    elif torch.cuda.is_available():
        caption += f"GPU series measured in this build on {gpu['environment']['device_name']}, float16."
    else:
        env = gpu["environment"]
        caption += (f"No GPU in this build: the dashed GPU series replays the record measured on "
                    f"{env['device_name']} on {env['date'][:10]} (torch {env['torch']}, CUDA {env.get('cuda')}), "
                    f"float16.")
    generated_path("attention/bench_caption.txt").write_text(caption + "\n", encoding="utf-8")
    write_json("attention/bench_attention.json", {"cpu": cpu_rows, "gpu_record": gpu, "caption": caption})
    print(caption)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]))
    else:
        main()
