"""Why attention divides by sqrt(d_k): dot products of random vectors spread as sqrt(d_k),
and softmax over unscaled scores saturates to one-hot as d_k grows."""

import numpy as np
import matplotlib.pyplot as plt
import torch

from llmbook.layers.attention import attention_weights
from tools.export import save_figure, write_json

rng = np.random.default_rng(0)
dims = [4, 16, 64, 256, 1024]
n_keys, n_draws = 16, 2000

spread, top_unscaled, top_scaled = [], [], []
for d in dims:
    q = rng.standard_normal((n_draws, 1, d)).astype(np.float32)       # (N, 1, d)
    k = rng.standard_normal((n_draws, n_keys, d)).astype(np.float32)  # (N, T, d)
    dots = (q @ k.transpose(0, 2, 1))[:, 0, :]                         # (N, T) raw scores
    spread.append(float(dots.std()))
    # unscaled: softmax(q.k); scaled: the library's softmax(q.k / sqrt(d))
    unscaled = torch.softmax(torch.from_numpy(dots), dim=-1)
    scaled = attention_weights(torch.from_numpy(q), torch.from_numpy(k))[:, 0, :]
    top_unscaled.append(float(unscaled.max(dim=-1).values.mean()))
    top_scaled.append(float(scaled.max(dim=-1).values.mean()))

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.4))
ax1.plot(dims, spread, "o-", label="measured std of q·k")
ax1.plot(dims, np.sqrt(dims), "k--", lw=1, label=r"$\sqrt{d_k}$")
ax1.set(xscale="log", yscale="log", xlabel="$d_k$", ylabel="standard deviation",
        title="Dot products of random vectors")
ax1.legend()
ax2.plot(dims, top_unscaled, "o-", color="C3", label="softmax(q·k)")
ax2.plot(dims, top_scaled, "s-", color="C2", label=r"softmax(q·k / $\sqrt{d_k}$)")
ax2.axhline(1 / n_keys, color="gray", lw=0.8, ls=":", label=f"uniform (1/{n_keys})")
ax2.set(xscale="log", ylim=(0, 1.05), xlabel="$d_k$", ylabel="mean largest weight",
        title=f"Softmax over {n_keys} keys")
ax2.legend(fontsize=8)
fig.tight_layout()
save_figure(fig, "attention/softmax_saturation.svg")
write_json("attention/softmax_saturation.json",
           {"dims": dims, "std": spread, "top_unscaled": top_unscaled, "top_scaled": top_scaled})
for d, s, u, c in zip(dims, spread, top_unscaled, top_scaled):
    print(f"d_k={d:5d}  std={s:6.2f}  largest weight unscaled={u:.3f} scaled={c:.3f}")
