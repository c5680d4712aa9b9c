"""Train the book's tiny Llama on Python's help() topics, live, on one CPU thread.

- training/tiny_run.json: train and validation loss against steps and tokens, samples at
  several steps, the time per iteration of the book's loop against a plain PyTorch loop
- training/loss_curve.svg and training/loss_caption.txt: the curve, beside the committed record
  of a longer run (examples/records/training/) when there is one
- training/samples.txt (Markdown for the page) and training/curve.json (the loss-curve widget):
  the samples at each evaluation, of this run and of the record

``LLMBOOK_TRAIN_STEPS`` sets the number of steps: 1000 by default, about two minutes of one CPU
core here; nanoGPT's CPU recipe runs 2000, which the committed record does
(``LLMBOOK_TRAIN_STEPS=2000 python examples/train_tiny.py --record``). Times are CPU seconds of
this process (``time.process_time``): on a shared machine wall time measures the neighbours too.
"""

from __future__ import annotations

import copy
import os
import platform
import statistics
import sys
import time

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from llmbook.training.data import CharTokenizer, RandomWindows, pydoc_topics_text, split_ids
from llmbook.training.loop import TrainConfig, continue_ids, fit
from llmbook.training.objective import uniform_loss
from llmbook.training.tiny_llama import tiny_llama
from tools.bench import environment, latest_record, save_record
from tools.export import generated_path, save_figure, write_json

STEPS = int(os.environ.get("LLMBOOK_TRAIN_STEPS", "1000"))
CONTEXT, BATCH = 64, 12  # nanoGPT's CPU recipe: 4 layers, 128 wide, 4 heads, context 64, batch 12
EVAL_BATCHES, PROMPT, SAMPLE_CHARS = 20, "The ", 160
TIMING_ROUNDS, TIMING_STEPS = 5, 8  # book loop vs plain loop, interleaved


def plain_steps(model: torch.nn.Module, opt: torch.optim.Optimizer, batches: RandomWindows, n: int) -> None:
    """The same training step with PyTorch's own pieces: F.cross_entropy, clip_grad_norm_, torch AdamW."""
    for _ in range(n):
        batch = batches.next()
        logits = model(batch[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()


def time_per_iteration(tok: CharTokenizer, train_ids: torch.Tensor) -> dict[str, float]:
    """Median CPU seconds per step of the book's fit() and of the plain loop, measured in alternation."""
    book, plain = tiny_llama(tok.vocab_size, seed=1), tiny_llama(tok.vocab_size, seed=1)
    opt = torch.optim.AdamW(plain.parameters(), lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1)
    config = TrainConfig(steps=TIMING_STEPS, warmup=0, eval_every=0)
    times: dict[str, list[float]] = {"book": [], "plain": []}
    for r in range(TIMING_ROUNDS + 1):  # round 0 warms up
        for name in ("book", "plain"):
            batches = RandomWindows(train_ids, CONTEXT, BATCH, seed=100 + r)
            t0 = time.process_time()
            if name == "book":
                fit(book, batches, [], config, progress=False)
            else:
                plain_steps(plain, opt, batches, TIMING_STEPS)
            if r:
                times[name].append((time.process_time() - t0) / TIMING_STEPS)
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> None:
    torch.set_num_threads(1)
    t_start, cpu_start = time.perf_counter(), time.process_time()
    text = pydoc_topics_text()
    tok = CharTokenizer(text)
    train_ids, val_ids = split_ids(torch.tensor(tok.encode(text)), 0.1)
    val = [RandomWindows(val_ids, CONTEXT, BATCH, seed=1).next() for _ in range(EVAL_BATCHES)]  # fixed
    model = tiny_llama(tok.vocab_size)
    n_params = sum(p.numel() for p in model.parameters())
    samples: list[dict] = []

    def on_eval(step: int, record: dict) -> None:
        ids = continue_ids(model, tok.encode(PROMPT), SAMPLE_CHARS, CONTEXT, temperature=0.8, seed=step)
        samples.append({"step": step, "loss": record["loss"], "text": PROMPT + tok.decode(ids)})
        print(f"step {step:5d}  val loss {record['loss']:.3f}  {samples[-1]['text'][:70]!r}", flush=True)

    config = TrainConfig(steps=STEPS, warmup=min(100, STEPS // 10), eval_every=max(STEPS // 8, 1))
    t0, c0 = time.perf_counter(), time.process_time()
    history = fit(model, RandomWindows(train_ids, CONTEXT, BATCH, seed=0), val, config, on_eval=on_eval,
                  progress=sys.stderr.isatty())
    train_seconds, train_cpu = time.perf_counter() - t0, time.process_time() - c0
    timing = time_per_iteration(tok, train_ids)
    tokens = history["tokens_per_step"]
    result = {
        "environment": {**environment("cpu"), "device_name": cpu_name()}, "text": "pydoc_data.topics", "characters": len(text),
        "vocab_size": tok.vocab_size, "uniform_loss": uniform_loss(tok.vocab_size), "parameters": n_params,
        "context": CONTEXT, "batch_size": BATCH, "steps": STEPS, "tokens_per_step": tokens,
        "config": history["config"],
        "train": [[r["step"], r["step"] * tokens, round(r["loss"], 5)] for r in history["train"]],
        "val": [[r["step"], r["step"] * tokens, round(r["loss"], 5)] for r in history["val"]],
        "samples": samples, "train_seconds": round(train_cpu, 1), "train_wall_seconds": round(train_seconds, 1),
        "seconds_per_step": timing, "book_over_plain": timing["book"] / timing["plain"],
        "wall_seconds": round(time.perf_counter() - t_start, 1),
        "cpu_seconds": round(time.process_time() - cpu_start, 1),
    }
    write_json("training/tiny_run.json", result)
    if "--record" in sys.argv:
        print("record:", save_record("training", result, "cpu"))
    record = latest_record("training")
    draw(result, record["results"] if record and record["results"]["steps"] != STEPS else None)


def cpu_name() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else what platform knows."""
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def smooth(values: list[float], k: int = 25) -> list[float]:
    out, acc = [], 0.0
    for i, v in enumerate(values):  # running mean over the last k steps
        acc += v - (values[i - k] if i >= k else 0.0)
        out.append(acc / min(i + 1, k))
    return out


def draw(run: dict, longer: dict | None) -> None:
    runs = [("this build", run)] + ([("committed record", longer)] if longer else [])
    fig, axes = plt.subplots(1, len(runs), figsize=(4.8 * len(runs), 3.4), squeeze=False, sharey=True)
    for ax, (name, r) in zip(axes[0], runs):
        ax.plot([t[1] / 1e3 for t in r["train"]], smooth([t[2] for t in r["train"]]), color="#9fa8da",
                label="train (mean of 25 steps)")
        ax.plot([t[1] / 1e3 for t in r["val"]], [t[2] for t in r["val"]], "o-", color="#3f51b5", label="validation")
        ax.axhline(r["uniform_loss"], ls="--", color="#ff7043", lw=1, label=f"uniform guess ln {r['vocab_size']}")
        env = r["environment"]
        ax.set(xlabel="tokens seen (thousands)", ylabel="loss (nats per character)", ylim=(0, None),
               title=f"{name}: {r['steps']} steps, {r['train_seconds']:.0f} CPU s, {env['date'][:10]}")
        ax.title.set_fontsize(10)
        ax.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    save_figure(fig, "training/loss_curve.svg")
    env, last = run["environment"], run["val"][-1]
    caption = (f"The tiny Llama ({run['parameters']:,} parameters) trained on {env['device_name']}, one torch thread, "
               f"{env['date'][:10]}: {run['steps']} steps of {run['tokens_per_step']} characters in "
               f"{run['train_seconds']:.0f} CPU seconds ({run['train_wall_seconds']:.0f} s of wall time); validation loss {run['val'][0][2]:.2f} at step 0 "
               f"(ln {run['vocab_size']} = {run['uniform_loss']:.2f}) and {last[2]:.2f} at step {last[0]}. "
               f"CPU time per step, measured in the same run: the book's loop {1e3 * run['seconds_per_step']['book']:.0f} ms, "
               f"a plain PyTorch loop over the same model {1e3 * run['seconds_per_step']['plain']:.0f} ms "
               f"({run['book_over_plain']:.2f}x).")
    if longer:
        caption += (f" Right: the committed record, {longer['steps']} steps in {longer['train_seconds']:.0f} CPU seconds on "
                    f"{longer['environment']['device_name']}, {longer['environment']['date'][:10]}, "
                    f"reaching {longer['val'][-1][2]:.2f}.")
    generated_path("training/loss_caption.txt").write_text(caption + "\n", encoding="utf-8")
    generated_path("training/samples.txt").write_text(samples_markdown(runs), encoding="utf-8")
    write_json("training/curve.json", curve_widget_data(runs))
    print(caption)


def curve_widget_data(runs: list[tuple[str, dict]]) -> dict:
    """What the loss-curve widget draws: per run, validation points, the smoothed train curve
    (every 10th step) and the samples, with loss against characters seen."""
    out = []
    for name, r in runs:
        smoothed = smooth([t[2] for t in r["train"]])
        out.append({"name": name, "steps": r["steps"], "date": r["environment"]["date"][:10],
                    "train": [[t[1], round(v, 4)] for t, v in zip(r["train"], smoothed)][9::10],
                    "val": r["val"], "samples": r["samples"]})
    return {"uniform_loss": runs[0][1]["uniform_loss"], "vocab_size": runs[0][1]["vocab_size"], "prompt": PROMPT, "runs": out}


def samples_markdown(runs: list[tuple[str, dict]]) -> str:
    """The samples as a Markdown block for the page: each evaluation's text, after its step and loss."""
    lines = []
    for name, r in runs:
        lines += [f"**{name.capitalize()}** ({r['steps']} steps, temperature 0.8, prompt {PROMPT!r}):", "", "```text"]
        for s in r["samples"]:
            text = s["text"].replace("\n", "⏎").replace("`", "'")
            lines.append(f"step {s['step']:>5}  loss {s['loss']:.2f}  {text}")
        lines += ["```", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
