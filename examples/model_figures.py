"""Figures for "Inside the transformer" and "A real model", computed from llmbook and the real SmolLM2 file.

- model/positions.svg: the sinusoidal position table and RoPE's rotation angles
- model/parameters.svg: where SmolLM2-135M's parameters live, counted from the loaded model
- model/next_token.svg: the next-token distribution after "The capital of France is"
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch

from tools.export import save_figure, write_json
from llmbook.models.llama import load_model
from llmbook.layers.positions import rope_angles, sinusoidal_positions

# ---- positions ---------------------------------------------------------------------------
pe = sinusoidal_positions(64, 128)  # (T, C)
cos, sin = rope_angles(torch.arange(64), 64, base=100000.0)  # (T, D/2)
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.2))
im = ax1.imshow(pe.T, aspect="auto", cmap="RdBu_r", vmin=-1, vmax=1, origin="lower")
ax1.set(xlabel="position p", ylabel="dimension", title="sinusoidal positions (C = 128)")
fig.colorbar(im, ax=ax1, fraction=0.046)
for i in (0, 4, 8, 16, 31):
    ax2.plot(torch.atan2(sin[:, i], cos[:, i]), label=f"pair {i}")
ax2.set(xlabel="position p", ylabel="angle (wrapped to ±π)", title="RoPE angles, SmolLM2 (D = 64, base 1e5)")
ax2.legend(fontsize=8, frameon=False, loc="lower left")
fig.tight_layout()
save_figure(fig, "model/positions.svg")

# ---- parameter count by component ---------------------------------------------------------
model = load_model("smollm2-135m-instruct")
groups = {"token embedding (tied output)": 0, "attention Q, K, V, O": 0, "feed-forward (SwiGLU)": 0, "norms": 0}
for name, p in model.named_parameters():  # a tied matrix appears once
    if name.startswith("embed"):
        groups["token embedding (tied output)"] += p.numel()
    elif ".attn." in name:
        groups["attention Q, K, V, O"] += p.numel()
    elif ".ffn." in name:
        groups["feed-forward (SwiGLU)"] += p.numel()
    else:
        groups["norms"] += p.numel()
total = sum(groups.values())
fig, ax = plt.subplots(figsize=(7, 2.6))
names = list(groups)[::-1]
ax.barh(names, [groups[n] / 1e6 for n in names], color="#3f51b5")
for y, n in enumerate(names):
    ax.annotate(f"{groups[n] / 1e6:.2f} M ({100 * groups[n] / total:.1f}%)", (groups[n] / 1e6, y),
                xytext=(4, 0), textcoords="offset points", va="center", fontsize=9)
ax.set(xlabel="parameters (millions)", title=f"SmolLM2-135M: {total / 1e6:.1f} M parameters")
ax.set_xlim(0, max(groups.values()) / 1e6 * 1.45)
fig.tight_layout()
save_figure(fig, "model/parameters.svg")

# ---- next-token distribution --------------------------------------------------------------
ids = model.tokenizer.encode("The capital of France is")
with torch.inference_mode():
    probs = torch.softmax(model(torch.tensor([ids]))[0, -1], dim=-1)
top = probs.topk(10)
labels = [repr(model.tokenizer.token_text(i)) for i in top.indices.tolist()]
fig, ax = plt.subplots(figsize=(7, 3.2))
ax.barh(labels[::-1], top.values.tolist()[::-1], color="#ff7043")
ax.set(xlabel="probability", title='next token after "The capital of France is"')
fig.tight_layout()
save_figure(fig, "model/next_token.svg")
write_json("model/figures.json", {"parameters": groups, "total": total,
                                  "next_token": dict(zip(labels, top.values.tolist()))})
print(f"parameters: {total:,}; top next token {labels[0]} p={top.values[0].item():.3f}")
