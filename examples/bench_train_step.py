"""Tokens per second and model FLOPs utilisation (MFU) of one training step: live on the CPU, recorded on a GPU.

A step is what every training loop repeats: forward, cross-entropy loss, backward, AdamW.

- Every build, on one CPU thread (a few seconds): the book's tiny Llama, batches of 12 x 64
  tokens, float32. A CPU has no published peak in the book's table, so its MFU is taken
  against this core's own float32 matrix-product rate, measured in the same run.
- Where CUDA is present, also: the tiny Llama, and SmolLM2-135M (its real weights, float32
  master weights, bfloat16 autocast) on batches of 8 x 2048 tokens, with MFU against the
  device's dense BF16 peak from ``llmbook.hardware.gpus``. It writes
  ``examples/records/training/train_step/<date>-<device>.json`` (commit it).

It writes ``training/train_step.txt`` for the chapter: this build's CPU measurement and the
newest GPU record, or a plain statement that none has been committed yet.
"""

from __future__ import annotations

import platform
import sys
import traceback
from contextlib import nullcontext
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from llmbook.training.flops import matmul_params, model_flops_utilisation, training_flops_per_token
from llmbook.training.tiny_llama import tiny_llama
from tools.bench import environment, latest_record, matmul_rate, save_record, time_call
from tools.export import generated_path

RECORD = "training/train_step"  # examples/records/training/train_step/
TINY_VOCAB, TINY_BATCH, TINY_T = 103, 12, 64  # the chapter's run: 103 characters, nanoGPT's CPU batch
SMOL_BATCH, SMOL_T = 8, 2048
CPU_STEPS, GPU_STEPS = 5, 10  # timed steps (after 2 warm-up steps); the median counts


def step_function(model: torch.nn.Module, batch: int, seq_len: int, device: str,
                  amp_dtype: torch.dtype | None) -> Callable[[], torch.Tensor]:
    """One training step on fixed random tokens; returns the loss. ``amp_dtype``: autocast precision, or None."""
    vocab = model.config.vocab_size
    ids = torch.randint(0, vocab, (batch, seq_len + 1), generator=torch.Generator().manual_seed(0)).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=device == "cuda")
    inputs, targets = ids[:, :-1], ids[:, 1:]

    def step() -> torch.Tensor:
        amp = nullcontext() if amp_dtype is None else torch.autocast(torch.device(device).type, dtype=amp_dtype)
        with torch.device(device), amp:  # any tensor the model makes on the fly lands on `device` too
            logits = model(inputs)  # (B, T, V)
            loss = F.cross_entropy(logits.float().flatten(0, 1), targets.flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.detach()

    return step


def measure(name: str, model: torch.nn.Module, batch: int, seq_len: int, device: str,
            amp_dtype: torch.dtype | None, steps: int, peak_flops: float, peak_label: str) -> dict[str, Any]:
    """Median step time over ``steps`` steps, tokens/s, the model FLOP/s they imply, and MFU against ``peak_flops``."""
    step = step_function(model, batch, seq_len, device, amp_dtype)
    timing = time_call(step, repeats=steps, warmup=2, sync=device == "cuda")
    tokens_per_s = batch * seq_len / timing["median"]
    per_token = training_flops_per_token(model.config, seq_len)
    row = {
        "model": name, "matmul_params": matmul_params(model.config), "batch": batch, "seq_len": seq_len,
        "precision": "float32" if amp_dtype is None else f"{str(amp_dtype).removeprefix('torch.')} autocast",
        "step_s_median": timing["median"], "step_s_best": timing["best"], "tokens_per_s": tokens_per_s,
        "flops_per_token": per_token, "model_tflops": tokens_per_s * per_token / 1e12,
        "peak_tflops": peak_flops / 1e12, "peak": peak_label,
        "mfu": model_flops_utilisation(tokens_per_s, per_token, peak_flops),
    }
    print(f"  {name:28s} {batch} x {seq_len:<5d} {row['precision']:17s} {tokens_per_s:12,.0f} tokens/s  "
          f"{row['model_tflops'] * 1e3:10.2f} GFLOP/s  MFU {row['mfu']:.2%} of {peak_label}", flush=True)
    return row


def cpu_rows() -> list[dict[str, Any]]:
    """The tiny Llama on one CPU thread, against this core's own float32 matmul rate."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        peak = matmul_rate(1024, torch.float32, threads=1, repeats=3)["best"]
        model = tiny_llama(TINY_VOCAB)
        return [measure("tiny Llama", model, TINY_BATCH, TINY_T, "cpu", None, CPU_STEPS, peak,
                        "this core's float32 matmul rate")]
    finally:
        torch.set_num_threads(old)


def cpu_model() -> str:
    """This CPU's model name (Linux's /proc/cpuinfo), or what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
    except OSError:
        names = []
    return names[0] if names else platform.processor() or platform.machine()


def dense_bf16_peak(device_name: str) -> tuple[float, str] | None:
    """(FLOP/s, label) of the book's GPU table entry whose model (e.g. "H100") is in ``device_name``."""
    from llmbook.hardware.gpus import GPUS

    for g in GPUS:
        if g.name.split()[0].lower() in device_name.lower() and g.dense("bf16_tflops"):
            return g.dense("bf16_tflops") * 1e12, f"the {g.name}'s dense BF16 peak"
    return None


def gpu_rows() -> list[dict[str, Any]]:
    """The tiny Llama and SmolLM2-135M on the GPU in bfloat16 autocast; a failing model is recorded, not fatal."""
    from llmbook.models.llama import load_model

    name = torch.cuda.get_device_name()
    peak = dense_bf16_peak(name)
    if peak is None:  # unknown device: measure against its own bf16 matmul rate instead
        peak = (matmul_rate(8192, torch.bfloat16, repeats=5, device="cuda")["best"],
                f"{name}'s measured bf16 matmul rate")
    rows = []
    for label, build, batch, seq_len in (
        ("tiny Llama", lambda: tiny_llama(TINY_VOCAB), TINY_BATCH, TINY_T),
        ("SmolLM2-135M", lambda: load_model("smollm2-135m-instruct"), SMOL_BATCH, SMOL_T),
    ):
        try:
            model = build().to("cuda").train()
            rows.append(measure(label, model, batch, seq_len, "cuda", torch.bfloat16, GPU_STEPS, *peak))
            rows[-1]["peak_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30
        except Exception as e:  # noqa: BLE001 - recorded and reported; the other model still runs
            traceback.print_exc()
            rows.append({"model": label, "error": f"{type(e).__name__}: {e}"})
        model = None
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    return rows


def markdown(cpu: dict[str, Any], cpu_env: dict[str, Any], record: dict[str, Any] | None) -> str:
    """The chapter's text: this build's CPU line, then the newest GPU record as a table, or that there is none."""
    text = (f"This build, on one thread of {cpu_env['device_name']} (torch {cpu_env['torch']}): the tiny Llama "
            f"({cpu['matmul_params']:,} weights in matrix products, batches of {cpu['batch']} x {cpu['seq_len']} "
            f"tokens, {cpu['precision']}) trains at {cpu['tokens_per_s']:,.0f} tokens/s, "
            f"{cpu['model_tflops'] * 1e3:.2f} GFLOP/s of model arithmetic: {cpu['mfu']:.0%} of "
            f"{cpu['peak']} ({cpu['peak_tflops'] * 1e3:.0f} GFLOP/s, measured in the same run).\n\n")
    if record is None:
        return text + ("No GPU record exists yet: no machine with CUDA has run "
                       "`PYTHONPATH=. python examples/bench_train_step.py` and committed the file it writes "
                       "under `examples/records/training/train_step/`.\n")
    env = record["environment"]
    text += (f"Recorded on {env['device_name']} on {env['date'][:10]} (torch {env['torch']}, "
             f"CUDA {env.get('cuda')}):\n\n"
             "| model | batch x tokens | precision | tokens/s | model TFLOP/s | MFU |\n"
             "|---|---|---|---:|---:|---:|\n")
    for r in record["results"]["gpu"]:
        if "error" in r:
            text += f"| {r['model']} | failed: {r['error']} | | | | |\n"
        else:
            text += (f"| {r['model']} | {r['batch']} x {r['seq_len']} | {r['precision']} | "
                     f"{r['tokens_per_s']:,.0f} | {r['model_tflops']:.1f} | {r['mfu']:.1%} |\n")
    peaks = sorted({f"{r['peak']}, {r['peak_tflops']:.0f} TFLOP/s" for r in record["results"]["gpu"] if "peak" in r})
    return text + f"\nMFU is taken against {'; '.join(peaks) or 'no peak (every model failed)'}.\n"


def main() -> int:
    print("CPU, live:", flush=True)
    cpu = cpu_rows()
    failed = False
    if torch.cuda.is_available():
        print(f"CUDA ({torch.cuda.get_device_name()}):", flush=True)
        gpu = gpu_rows()
        failed = any("error" in r for r in gpu)
        print(f"record saved: {save_record(RECORD, {'gpu': gpu, 'cpu': cpu}, 'cuda')}")
    text = markdown(cpu[0], {**environment("cpu"), "device_name": cpu_model()}, latest_record(RECORD))
    generated_path("training/train_step.txt").write_text(text, encoding="utf-8")
    print(text)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
