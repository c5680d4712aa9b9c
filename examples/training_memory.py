"""Training memory per device for SmolLM2-135M, Llama 2 7B and 70B under DDP and ZeRO 1-3, on 8 devices.

- training/memory.svg and training/memory-dark.svg: grouped bars (log scale) with the H100's 80 GB
  of HBM drawn across; activations are not included
"""

from __future__ import annotations

import matplotlib.pyplot as plt

from llmbook.hardware.gpus import gpu
from llmbook.models.config import LlamaConfig
from llmbook.models.families import family
from llmbook.models.gguf import read_gguf
from llmbook.models.registry import model_path
from llmbook.training.memory import STRATEGIES, llama_param_count, memory_by_strategy
from tools.export import save_figure

DEVICES = 8
THEMES = {"light": dict(fg="#222222", grid="#dddddd", line="#d84315", bars=("#c5cae9", "#7986cb", "#3f51b5", "#1a237e")),
          "dark": dict(fg="#e6e8eb", grid="#444a55", line="#ffab91", bars=("#303f9f", "#5c6bc0", "#9fa8da", "#e8eaf6"))}

smol = llama_param_count(LlamaConfig.from_gguf(read_gguf(model_path("smollm2-135m-instruct"))))
sizes = dict(zip(("7B", "13B", "70B"), family("Llama 2").params_b))  # the paper's round sizes, in billions
params = {"SmolLM2-135M": smol, "Llama 2 7B": int(sizes["7B"] * 1e9), "Llama 2 70B": int(sizes["70B"] * 1e9)}
hbm = gpu("H100").dense("hbm_gb")

for theme, suffix in (("light", ""), ("dark", "-dark")):
    t = THEMES[theme]
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    fig.patch.set_alpha(0)
    ax.set_facecolor("none")
    width = 0.8 / len(STRATEGIES)
    for i, name in enumerate(STRATEGIES):
        xs = [g + (i - 1.5) * width for g in range(len(params))]
        gb = [memory_by_strategy(p, DEVICES)[name] for p in params.values()]
        bars = ax.bar(xs, gb, width, label=name, color=t["bars"][i])
        ax.bar_label(bars, [f"{v:,.0f}" if v >= 100 else f"{v:.3g}" for v in gb], fontsize=7, color=t["fg"], padding=1)
    ax.axhline(hbm, color=t["line"], ls="--", lw=1.2)
    ax.annotate(f"one H100: {hbm:.0f} GB", (-0.45, hbm), xytext=(0, 3), textcoords="offset points",
                ha="left", fontsize=8, color=t["line"])
    ax.set_yscale("log")
    ax.set_ylim(top=ax.get_ylim()[1] * 3)  # room for the legend above the tallest bar
    ax.set_xticks(range(len(params)), [f"{n}\n({p / 1e9:.3g} B parameters)" for n, p in params.items()])
    ax.set_ylabel(f"GB per device ({DEVICES} devices)")
    ax.set_title("Weights, gradients and Adam state, mixed precision; activations not included", fontsize=9)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for item in [ax.xaxis.label, ax.yaxis.label, ax.title, *ax.get_xticklabels(), *ax.get_yticklabels()]:
        item.set_color(t["fg"])
    ax.tick_params(colors=t["fg"])
    for side in ("left", "bottom"):
        ax.spines[side].set_color(t["fg"])
    ax.grid(axis="y", color=t["grid"], lw=0.5)
    ax.set_axisbelow(True)
    legend = ax.legend(fontsize=8, frameon=False, ncols=4, loc="upper left")
    for text in legend.get_texts():
        text.set_color(t["fg"])
    fig.tight_layout()
    save_figure(fig, f"training/memory{suffix}.svg")
    plt.close(fig)
print({n: {k: round(v, 2) for k, v in memory_by_strategy(p, DEVICES).items()} for n, p in params.items()})
