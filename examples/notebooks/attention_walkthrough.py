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
# step at a time, with the functions of `llmbook.layers.attention`. In sections 1 to 4
# the embeddings and projections are random, so look at the *shapes* and the
# *structure* of the weights, not at which words attend to which. Section 5 loads
# SmolLM2-135M and looks at what its trained heads do with a real sentence.
#
# Download it with the button at the top of the page and run it yourself.

# %%
# %matplotlib inline
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

# %% [markdown]
# ## 4. Three ways to wire attention
# The same formula serves three purposes; only the mask and the origin of the keys
# and values change.
#
# - **Encoder self-attention** (BERT; the encoder of T5 and of the original
#   Transformer): every token sees the whole text, so there is no mask.
# - **Decoder self-attention** (GPT, Llama, SmolLM2): the causal mask, since a
#   generated token cannot look at tokens that do not exist yet.
# - **Cross-attention** (the decoder of T5 and of the original Transformer): the
#   queries come from the text being written (the *target*, $T_q$ tokens), the keys
#   and values from the encoder's output for the *source* text ($T_k$ tokens). Its
#   weight matrix is $T_q \times T_k$, not square, and has no mask.
#
# Below, a three-token target attends over our six-token source with the same
# random projections.

# %%
from llmbook.layers.cross_attention import CrossAttention

target = ["Le", "chat", "dort"]
y = torch.randn(len(target), C)  # (T_q, C): the decoder's tokens
patterns = {
    "encoder: no mask": (attention_weights(q, k), words, words),
    "decoder: causal mask": (attention_weights(q, k, mask=causal_mask(T)), words, words),
    "cross: target over source": (attention_weights(y @ W_q, k), words, target),
}
fig, axes = plt.subplots(1, 3, figsize=(11, 3.6))
for ax, (title, (weights, cols, rows)) in zip(axes, patterns.items()):
    ax.imshow(weights, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(cols)), cols, rotation=45)
    ax.set_yticks(range(len(rows)), rows)
    ax.set_title(title, fontsize=10)
    print(f"{title:26} weights {tuple(weights.shape)}")
axes[0].set_ylabel("query (attending)")
axes[1].set_xlabel("key (attended to)")
fig.tight_layout()
plt.show()

# %% [markdown]
# `CrossAttention` is multi-head attention whose keys and values are projected
# from a second input, the encoder's output (called the *memory*). Its result has one
# row per target token, like its queries:

# %%
cross = CrossAttention(C, n_heads=4)
out = cross(y[None], x[None])  # x as the encoder's output: (1, T_q, C) over (1, T_k, C)
print("queries", tuple(y[None].shape), "memory", tuple(x[None].shape), "->", tuple(out.shape))

# %% [markdown]
# ## 5. A trained model on a real sentence
# SmolLM2-135M has 30 layers of 9 heads each. `attention_maps` returns every head's
# weights for one sentence, rows are queries. Most heads do nothing a person can
# name, but a search for the head in which " it" looks most at " cat" finds one
# that seems to resolve the pronoun. Searching 270 heads for the pattern you hope
# to see is a weak kind of evidence: treat it as an illustration, not a finding.

# %%
from llmbook.models.llama import attention_maps, load_model

model = load_model("smollm2-135m-instruct")
ids = model.tokenizer.encode("The cat chased the mouse because it was hungry")
tokens = [model.tokenizer.token_text(i) for i in ids]
maps = attention_maps(model, ids)  # (L, H, T, T)
print("maps", tuple(maps.shape))
it, cat = tokens.index(" it"), tokens.index(" cat")
layer, head = divmod(maps[:, :, it, cat].argmax().item(), maps.shape[1])
print(f"layer {layer}, head {head}: ' it' attends to")
for t, w_t in zip(tokens, maps[layer, head, it].tolist()):
    print(f"  {t!r:10} {w_t:.2f}")

fig, ax = plt.subplots(figsize=(5, 4.2))
ax.imshow(maps[layer, head], cmap="Blues", vmin=0, vmax=1)
ax.set_xticks(range(len(tokens)), tokens, rotation=45)
ax.set_yticks(range(len(tokens)), tokens)
ax.set_title(f"SmolLM2 layer {layer}, head {head}")
fig.tight_layout()
plt.show()

# %% [markdown]
# Another pattern is common across heads: a large share of the weight goes to the
# very first token, whatever it is. Since each row must sum to one, a head with
# nothing useful to fetch parks its weight there (sometimes called an *attention
# sink*). The average weight on the first token, over all layers, heads and later
# positions:

# %%
print(f"{maps[:, :, 1:, 0].mean():.2f}")
