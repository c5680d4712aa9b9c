"""The Llama model again, in plain NumPy: the same weights and arithmetic, no torch in the loop.

``NumpyLlama.from_model(model)`` takes the weights of a loaded ``llmbook.models.llama.Llama``
and runs the same computation with NumPy float32 arrays and a preallocated KV cache:

    engine = NumpyLlama.from_model(model)
    cache = engine.new_cache(batch=1, max_len=256)
    logits = engine.forward([ids], cache)  # (1, T, V) float32, model(torch.tensor([ids])) to float32 rounding

It implements the same ``Engine`` interface as the torch model (``llmbook.inference.engine``),
so ``generate(..., engine="numpy")`` runs every decoding strategy on it.

Why a second path? Generating one token multiplies a single vector by every weight
matrix, so decoding is a chain of matrix-vector products. On a small CPU, NumPy's
OpenBLAS does those about twice as fast as the torch wheel's kernels, and a loop
with no torch calls avoids the two thread pools fighting over the cores.

Two habits keep it fast. Weights are stored transposed, (in, out), so that every
layer is ``x @ W`` on a row-major matrix, the layout OpenBLAS's matrix-vector
product reads fastest. And everything stays float32: NumPy 2 promotes to float64 as
soon as a float64 number joins the arithmetic (``x / np.sqrt(d)`` with ``d`` a Python
int does it), which gives the same answer ten times slower, so scalars are float32
or plain Python floats, and ``forward`` checks the dtype of what it returns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from llmbook.models.inputs import check_ids, check_new_cache
from llmbook.layers.attention import softmax_np
from llmbook.layers.norms import rms_norm_np

F32 = np.float32


def rope_tables_np(n_positions: int, head_dim: int, base: float = 10000.0) -> tuple[np.ndarray, np.ndarray]:
    """cos and sin of the angles p * theta_i for p = 0..n-1, each (n, D/2) float32, as ``rope_angles``.

    Like ``rope_angles``, computed in float64 and rounded once to float32 (the table is built once).
    """
    inv_freq = base ** (-np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)  # (D/2,)
    angles = np.arange(n_positions, dtype=np.float64)[:, None] * inv_freq  # (n, D/2)
    return np.cos(angles).astype(F32), np.sin(angles).astype(F32)


def apply_rope_np(x: np.ndarray, cos: np.ndarray, sin: np.ndarray) -> np.ndarray:
    """Rotate adjacent pairs (2i, 2i+1) of x, (..., T, D), by the angles in cos/sin, (T, D/2).

    The GGUF convention, as ``apply_rope(interleaved=True)``: (a, b) -> (a cos - b sin, a sin + b cos).
    """
    a, b = x[..., 0::2], x[..., 1::2]  # (..., T, D/2) each
    out = np.empty_like(x)
    out[..., 0::2] = a * cos - b * sin
    out[..., 1::2] = a * sin + b * cos
    return out


def grouped_attention_np(q: np.ndarray, k: np.ndarray, v: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """softmax(q k^T / sqrt(D) + M) v with G query heads per key/value head.

    q is (..., KV, G, T, D), k and v are (..., KV, S, D), mask is (T, S) bool (True = may
    attend) or None; ``...`` is the batch, if any. The G query heads of a group are
    stacked into G*T rows, so each key/value head of each sequence is one matrix product:
    NumPy's broadcasting matmul over a group axis is several times slower.
    """
    *lead, kv, g, t, d = q.shape
    s = k.shape[-2]
    scores = q.reshape(-1, g * t, d) @ k.reshape(-1, s, d).transpose(0, 2, 1)  # (B KV, G*T, S)
    scores = scores.reshape(*lead, kv, g, t, s) * F32(1.0 / math.sqrt(d))  # (..., KV, G, T, S)
    if mask is not None:
        scores = np.where(mask, scores, F32(-np.inf))
    weights = softmax_np(scores).reshape(-1, g * t, s)  # (B KV, G*T, S), rows sum to 1
    return (weights @ v.reshape(-1, s, d)).reshape(*lead, kv, g, t, d)  # (..., KV, G, T, D)


# --8<-- [start:cache]
class NumpyKVCache:
    """Keys and values of the tokens seen so far, allocated once: each layer's are (B, KV, max_len, D).

    Positions ``0 .. length-1`` are filled; a forward pass over T tokens writes
    positions ``length .. length+T-1`` of every layer and then advances ``length``.
    """

    def __init__(self, n_layers: int, batch: int, n_kv_heads: int, head_dim: int, max_len: int) -> None:
        shape = (n_layers, batch, n_kv_heads, max_len, head_dim)  # (L, B, KV, max_len, D)
        self.keys = np.zeros(shape, dtype=F32)
        self.values = np.zeros(shape, dtype=F32)
        self.length = 0  # S, how many positions are cached

    @property
    def max_len(self) -> int:
        return self.keys.shape[3]

    @property
    def batch(self) -> int:
        return self.keys.shape[1]

    def store(self, layer: int, k: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Write this step's k, v (B, KV, T, D) after the cached ones; return all of them, (B, KV, S+T, D) views."""
        start, end = self.length, self.length + k.shape[2]
        self.keys[layer, :, :, start:end] = k
        self.values[layer, :, :, start:end] = v
        return self.keys[layer, :, :, :end], self.values[layer, :, :, :end]

    def select(self, rows: np.ndarray) -> NumpyKVCache:
        """A cache holding batch rows ``rows`` (B',) of this one (repeat, reorder or pick sequences)."""
        rows = np.asarray(rows, dtype=np.intp)
        out = object.__new__(NumpyKVCache)
        out.keys, out.values, out.length = self.keys[:, rows], self.values[:, rows], self.length  # copies
        return out
# --8<-- [end:cache]


@dataclass
class LayerWeights:
    """One block's weights, float32, each matrix (in, out) so that a layer is ``x @ w``."""

    attn_norm: np.ndarray  # (C,)
    qkv: np.ndarray  # (C, (H + 2 KV) D): the q, k and v projections side by side, one product for three
    o: np.ndarray  # (H D, C)
    ffn_norm: np.ndarray  # (C,)
    gate_up: np.ndarray  # (C, 2 F): SwiGLU's gate and up projections side by side
    down: np.ndarray  # (F, C)


# --8<-- [start:block]
def llama_block_np(x: np.ndarray, w: LayerWeights, c: Any, cos: np.ndarray, sin: np.ndarray,
                   mask: np.ndarray | None, cache: NumpyKVCache | None, layer: int) -> np.ndarray:
    """One Llama block on x (B, T, C), as ``LlamaBlock``: x + attention(norm(x)), then x + SwiGLU(norm(x))."""
    b, t, _ = x.shape
    h, kv, d, eps = c.n_heads, c.n_kv_heads, c.head_dim, float(c.norm_eps)
    x = x.reshape(b * t, -1)  # (B T, C): every position a row, so each layer is one matrix product
    qkv = rms_norm_np(x, w.attn_norm, eps) @ w.qkv  # (B T, (H + 2 KV) D)
    q = qkv[:, : h * d].reshape(b, t, h, d).transpose(0, 2, 1, 3)  # (B, H, T, D)
    k = qkv[:, h * d : (h + kv) * d].reshape(b, t, kv, d).transpose(0, 2, 1, 3)  # (B, KV, T, D)
    v = qkv[:, (h + kv) * d :].reshape(b, t, kv, d).transpose(0, 2, 1, 3)  # (B, KV, T, D)
    q, k = apply_rope_np(q, cos, sin), apply_rope_np(k, cos, sin)  # position enters q and k only
    if cache is not None:
        k, v = cache.store(layer, k, v)  # (B, KV, S, D): the cached positions and these
    # Query heads g*G .. g*G+G-1 share key/value head g (G = H / KV), as in GroupedQueryAttention.
    y = grouped_attention_np(q.reshape(b, kv, h // kv, t, d), k, v, mask)  # (B, KV, G, T, D)
    y = y.reshape(b, h, t, d).transpose(0, 2, 1, 3).reshape(b * t, h * d)  # concatenate heads: (B T, H D)
    x = x + y @ w.o  # (B T, C)
    gate_up = rms_norm_np(x, w.ffn_norm, eps) @ w.gate_up  # (B T, 2F)
    gate, up = np.split(gate_up, 2, axis=-1)  # (B T, F) each
    with np.errstate(over="ignore"):  # exp(-gate) may overflow to inf for very negative gates: silu -> -0
        silu = gate / (F32(1.0) + np.exp(-gate))  # silu(x) = x sigmoid(x)
    return (x + (silu * up) @ w.down).reshape(b, t, -1)  # (B, T, C)
# --8<-- [end:block]


def _np(p: Any) -> np.ndarray:
    """A torch parameter as a float32 NumPy array (shares memory when it can)."""
    a = p.detach().cpu().numpy()
    if a.dtype != F32:
        raise TypeError(f"expected float32 weights, got {a.dtype}")
    return a


def _cat_t(*ps: Any) -> np.ndarray:
    """torch (out, in) weights -> one contiguous (in, sum of outs) matrix."""
    return np.ascontiguousarray(np.concatenate([_np(p) for p in ps], axis=0).T)


class NumpyLlama:
    """Token ids (B, T) -> next-token logits (B, T, V), float32 NumPy: the ``Engine`` interface, as ``Llama``."""

    def __init__(self, config: Any, embed: np.ndarray, layers: list[LayerWeights], norm: np.ndarray,
                 output: np.ndarray) -> None:
        c = config
        self.config = c
        self.embed = embed  # (V, C), rows looked up by id
        self.layers = layers
        self.norm = norm  # (C,)
        self.output = output  # (C, V): the output layer, transposed
        self.eps = float(c.norm_eps)
        # (n, D/2) each, for positions 0..n-1: grown on demand, so a file that claims a huge context
        # costs memory only for the positions actually used
        self.cos, self.sin = rope_tables_np(min(c.context_length, 4096), c.head_dim, c.rope_base)

    @classmethod
    def from_model(cls, model: Any) -> NumpyLlama:
        """Copy a ``llmbook.models.llama.Llama``'s weights into NumPy (a tied output layer is the embedding, transposed)."""
        layers = [
            LayerWeights(
                attn_norm=_np(b.attn_norm.weight),
                qkv=_cat_t(b.attn.q_proj.weight, b.attn.k_proj.weight, b.attn.v_proj.weight),
                o=_cat_t(b.attn.o_proj.weight),
                ffn_norm=_np(b.ffn_norm.weight),
                gate_up=_cat_t(b.ffn.gate.weight, b.ffn.up.weight),
                down=_cat_t(b.ffn.down.weight),
            )
            for b in model.blocks
        ]
        embed = np.ascontiguousarray(_np(model.embed.weight))  # (V, C)
        output = _cat_t(model.output.weight)  # (C, V); with tied embeddings model.output.weight is embed
        return cls(model.config, embed, layers, _np(model.norm.weight), output)

    def new_cache(self, batch: int = 1, max_len: int | None = None) -> NumpyKVCache:
        """An empty KV cache for ``batch`` sequences of up to ``max_len`` positions (default: the whole context)."""
        c = self.config
        max_len = check_new_cache(c, batch, max_len)
        return NumpyKVCache(c.n_layers, batch, c.n_kv_heads, c.head_dim, max_len)

    def forward(self, ids: Any, cache: NumpyKVCache | None = None, last_only: bool = False,
                want_hidden: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Logits (B, T, V) float32 for token ids (B, T), after the ``cache.length`` cached ones.

        ``last_only`` returns only the last position's row, (B, 1, V): all that generation needs,
        and it spares the output layer, a fifth of the weights, T - 1 rows of work.
        ``want_hidden`` also returns the final norm's output (B, T, C).
        """
        ids = check_ids(ids, self.config, cache)
        t = ids.shape[1]
        start = cache.length if cache is not None else 0
        x = self.embed[ids]  # (B, T, C)
        if start + t > len(self.cos):
            n = min(max(2 * len(self.cos), start + t), self.config.context_length)
            self.cos, self.sin = rope_tables_np(n, self.config.head_dim, self.config.rope_base)
        cos, sin = self.cos[start : start + t], self.sin[start : start + t]  # (T, D/2): positions start..start+T-1
        s = start + t  # keys and values: the cached ones and these
        mask = np.tri(t, s, k=start, dtype=bool) if t > 1 else None  # (T, S): query i sees keys up to start+i
        for i, w in enumerate(self.layers):
            x = llama_block_np(x, w, self.config, cos, sin, mask, cache, i)  # (B, T, C)
        if cache is not None:
            cache.length = s
        hidden = rms_norm_np(x, self.norm, self.eps) if want_hidden else None  # (B, T, C)
        if last_only:
            x = x[:, -1:]  # (B, 1, C)
        x = hidden[:, -x.shape[1]:] if hidden is not None else rms_norm_np(x, self.norm, self.eps)
        logits = (x.reshape(-1, x.shape[-1]) @ self.output).reshape(*x.shape[:2], -1)  # (B, T or 1, V)
        assert logits.dtype == F32, logits.dtype  # a float64 here would mean a silent 10x slowdown
        return (logits, hidden) if want_hidden else logits
