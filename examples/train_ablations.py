"""Why each part of the tiny Llama is there: the same training run without positions, without
residual connections, without norms and without the 1/sqrt(D) scaling of attention scores.

- training/ablations.json: per variant, the training loss at every step and the held-out loss
  at every evaluation, from the same initial weights on the same batches
- training/ablations.svg: the held-out loss curves of the five runs, overlaid
- training/ablations.txt: what the runs show, in sentences for the page (ranked by the run)

Small on purpose (a smaller model than the chapter's and ``STEPS`` steps each): the whole script
takes under a minute of one CPU thread here, and prints its own CPU time.
"""

from __future__ import annotations

import time

import matplotlib.pyplot as plt
import torch

from llmbook.training.data import CharTokenizer, RandomWindows, pydoc_topics_text, split_ids
from llmbook.training.loop import TrainConfig, fit
from llmbook.training.objective import uniform_loss
from llmbook.training.tiny_llama import tiny_llama
from tools.bench import environment
from tools.export import generated_path, save_figure, write_json

STEPS, EVAL_EVERY = 240, 24
MODEL = dict(n_layers=4, dim=64, n_heads=2, ffn_dim=176, context=64)  # head width D = 32
BATCH, EVAL_BATCHES = 8, 6
VARIANTS = {  # name on the page -> parts taken out
    "full model": (),
    "without positions": ("positions",),
    "without residuals": ("residuals",),
    "without norms": ("norms",),
    "without the √D scaling": ("scaling",),
}
COLOURS = ("#212121", "#1e88e5", "#e53935", "#fb8c00", "#43a047")


def main() -> None:
    torch.set_num_threads(1)
    cpu0 = time.process_time()
    text = pydoc_topics_text()  # loaded and split once, shared by every run
    tok = CharTokenizer(text)
    train_ids, val_ids = split_ids(torch.tensor(tok.encode(text)), 0.1)
    val = [RandomWindows(val_ids, MODEL["context"], BATCH, seed=1).next() for _ in range(EVAL_BATCHES)]
    config = TrainConfig(steps=STEPS, warmup=STEPS // 10, eval_every=EVAL_EVERY)  # the chapter's recipe otherwise
    runs = {}
    for name, without in VARIANTS.items():
        model = tiny_llama(tok.vocab_size, **MODEL, seed=0, without=without)  # the same initial weights
        c0 = time.process_time()
        history = fit(model, RandomWindows(train_ids, MODEL["context"], BATCH, seed=0), val, config, progress=False)
        runs[name] = {"without": list(without), "cpu_seconds": round(time.process_time() - c0, 1),
                      "train": [round(r["loss"], 4) for r in history["train"]],
                      "val": [[r["step"], round(r["loss"], 4)] for r in history["val"]]}
        print(f"{name:24s} held-out loss {runs[name]['val'][-1][1]:.3f} ({runs[name]['cpu_seconds']:.1f} CPU s)",
              flush=True)
    result = {"environment": environment("cpu"), "model": MODEL, "batch_size": BATCH, "steps": STEPS,
              "eval_batches": EVAL_BATCHES, "vocab_size": tok.vocab_size, "uniform_loss": uniform_loss(tok.vocab_size),
              "runs": runs}
    draw(result)
    result["cpu_seconds"] = round(time.process_time() - cpu0, 1)  # everything: data, five runs, the figure
    write_json("training/ablations.json", result)
    text_out = sentences(result)
    generated_path("training/ablations.txt").write_text(text_out + "\n", encoding="utf-8")
    print(text_out)


def draw(result: dict) -> None:
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for (name, run), colour in zip(result["runs"].items(), COLOURS):
        steps, losses = zip(*run["val"])
        ax.plot(steps, losses, "o-", ms=3, lw=2.2 if not run["without"] else 1.4, color=colour, label=name)
    ax.axhline(result["uniform_loss"], ls="--", lw=1, color="#9e9e9e", label=f"uniform guess ln {result['vocab_size']}")
    ax.set(xlabel="training step", ylabel="held-out loss (nats per character)",
           title=f"The same {result['steps']} steps with one part taken out")
    ax.title.set_fontsize(10)
    ax.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    save_figure(fig, "training/ablations.svg")
    plt.close(fig)


def sentences(result: dict) -> str:
    """The measurement in words: the setup, then each ablation's cost against the full model, worst first."""
    runs, m = result["runs"], result["model"]
    full = runs["full model"]["val"][-1][1]
    cost = {name: r["val"][-1][1] - full for name, r in runs.items() if r["without"]}
    ranked = sorted(cost, key=cost.get, reverse=True)
    env = result["environment"]
    out = [f"Measured while this page was built ({env['date'][:10]}, one torch thread, "
           f"{result['cpu_seconds']:.0f} CPU seconds for all five runs): a Llama of {m['n_layers']} blocks, "
           f"{m['dim']} wide, {m['n_heads']} heads of D = {m['dim'] // m['n_heads']}, trained for {result['steps']} "
           f"steps on batches of {result['batch_size']} windows of {m['context']} characters, every run from the "
           f"same initial weights on the same batches. The full model ends at a held-out loss of {full:.2f}."]
    worse = [n for n in ranked if cost[n] > 0]
    if worse:
        out.append(f"Taking out the {part(worse[0])} hurts most: {runs[worse[0]]['val'][-1][1]:.2f}, "
                   f"{cost[worse[0]]:+.2f} nats per character against the full model.")
        rest = [f"the {part(n)} {cost[n]:+.2f} ({runs[n]['val'][-1][1]:.2f})" for n in worse[1:]]
        if rest:
            out.append("Then " + join(rest) + ".")
    better = [n for n in ranked if cost[n] <= 0]
    if better:
        out.append("Taking out " + join([f"the {part(n)}" for n in better]) + " did not hurt in a run this short: "
                   + join([f"{runs[n]['val'][-1][1]:.2f} ({cost[n]:+.2f})" for n in better]) + ".")
    return " ".join(out)


def part(name: str) -> str:
    """'without the √D scaling' -> '√D scaling'; 'without norms' -> 'norms'."""
    return name.removeprefix("without ").removeprefix("the ")


def join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


if __name__ == "__main__":
    main()
