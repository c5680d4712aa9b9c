# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Attention, step by step
#
# This notebook runs one causal self-attention head on a short sentence, one
# step at a time, with the functions of `llmbook.layers.attention`. The embeddings are
# random (a real model's come later in the book), so look at the *shapes* and the
# *structure* of the weights, not at which words attend to which.
#
# Download it with the button at the top of the page and run it yourself.

# %%
import matplotlib.pyplot as plt
import torch

from llmbook.layers.attention import attention_weights, causal_mask, scaled_dot_product_attention

torch.manual_seed(0)
words = ["The", "cat", "sat", "on", "the", "mat"]
T, C, D = len(words), 16, 8
x = torch.randn(T, C)  # (T, C): one row per token
W_q, W_k, W_v = (torch.randn(C, D) / C**0.5 for _ in range(3))

# %% [markdown]
# ## 1. Project to queries, keys and values
# Each is a linear map of the same input, so each has shape $(T, D)$.

# %%
q, k, v = x @ W_q, x @ W_k, x @ W_v
print("q", tuple(q.shape), "k", tuple(k.shape), "v", tuple(v.shape))

# %% [markdown]
# ## 2. Scores, scaled, masked, softmaxed
# $\mathrm{softmax}(QK^\top/\sqrt{D} + M)$ is a $(T, T)$ matrix whose rows sum to one.

# %%
w = attention_weights(q, k, mask=causal_mask(T))
print(w.sum(dim=-1))

fig, ax = plt.subplots(figsize=(4, 3.5))
ax.imshow(w, cmap="Blues", vmin=0, vmax=1)
ax.set_xticks(range(T), words, rotation=45)
ax.set_yticks(range(T), words)
ax.set_xlabel("key (attended to)")
ax.set_ylabel("query (attending)")
ax.set_title("Causal attention weights")
plt.show()

# %% [markdown]
# ## 3. Mix the values
# The output for each position is its row of weights times $V$; the library's
# `scaled_dot_product_attention` does steps 2 and 3 in one call.

# %%
out = w @ v
same = torch.allclose(out, scaled_dot_product_attention(q, k, v, is_causal=True), atol=1e-6)
print(tuple(out.shape), "matches scaled_dot_product_attention:", same)
