"""FlashAttention's idea in NumPy: attention in tiles, with a softmax that is updated as keys arrive.

Naive attention materialises the (T_q, T_k) score matrix: memory and memory traffic
that grow with the square of the length. FlashAttention never forms it. It walks
over the keys a tile at a time and keeps, for each query row, three running
quantities: the largest score seen so far ``m``, the sum of exponentials ``l``
(relative to ``m``), and the un-normalised output ``acc``. When a new tile raises
the maximum from ``m`` to ``m'``, the old sum and output are rescaled by
``exp(m - m')``, which is exact algebra, not an approximation:

    softmax(s) · V = Σ_j exp(s_j - m) v_j / Σ_j exp(s_j - m)   for any m.

On a GPU the tiles live in on-chip shared memory, so the scores never touch HBM;
here the point is the arithmetic, and the memory each version needs.
"""

from __future__ import annotations

import math

import numpy as np

from llmbook.checks import count


def _check(q: np.ndarray, k: np.ndarray, v: np.ndarray, block_q: int, block_k: int) -> None:
    if q.ndim < 2 or k.ndim != q.ndim or v.ndim != q.ndim:
        raise ValueError(f"q, k, v must be (..., T, D) with the same number of axes, got {q.shape}, {k.shape}, {v.shape}")
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(f"q and k need one head size and k and v one length, got {q.shape}, {k.shape}, {v.shape}")
    count("block_q", block_q), count("block_k", block_k)
    if not all(np.issubdtype(a.dtype, np.floating) for a in (q, k, v)):
        raise ValueError(f"q, k, v must be floating point, got {q.dtype}, {k.dtype}, {v.dtype}")


# --8<-- [start:flash]
def flash_attention_np(q: np.ndarray, k: np.ndarray, v: np.ndarray, causal: bool = False,
                       block_q: int = 64, block_k: int = 64) -> np.ndarray:
    """softmax(q k^T / sqrt(D) + mask) v for q (..., T_q, D), k (..., T_k, D), v (..., T_k, D_v), in tiles.

    With ``causal``, queries are the last T_q positions of the T_k keys (as ``causal_mask``).
    """
    _check(q, k, v, block_q, block_k)
    t_q, t_k, dt = q.shape[-2], k.shape[-2], q.dtype.type
    offset = t_k - t_q  # query i sits at position offset + i
    scale = dt(1.0 / math.sqrt(q.shape[-1]))
    out = np.empty(q.shape[:-1] + v.shape[-1:], dtype=q.dtype)  # (..., T_q, D_v)
    for i0 in range(0, t_q, block_q):
        qi = q[..., i0 : i0 + block_q, :] * scale  # (..., bq, D)
        rows = qi.shape[-2]
        m = np.full(qi.shape[:-1] + (1,), -np.inf, dtype=q.dtype)  # running max, (..., bq, 1)
        l = np.zeros_like(m)  # running sum of exp(score - m)
        acc = np.zeros(qi.shape[:-1] + v.shape[-1:], dtype=q.dtype)  # running output, (..., bq, D_v)
        last_key = offset + i0 + rows if causal else t_k  # keys beyond it are masked for the whole tile
        for j0 in range(0, min(t_k, last_key), block_k):
            s = qi @ np.swapaxes(k[..., j0 : j0 + block_k, :], -1, -2)  # (..., bq, bk) scores
            if causal and j0 + s.shape[-1] > offset + i0 + 1:  # the tile crosses the diagonal
                pos_q = offset + i0 + np.arange(rows)[:, None]
                pos_k = j0 + np.arange(s.shape[-1])[None, :]
                s = np.where(pos_k <= pos_q, s, dt(-np.inf))
            m_new = np.maximum(m, s.max(axis=-1, keepdims=True))  # (..., bq, 1)
            p = np.exp(s - m_new)  # (..., bq, bk)
            rescale = np.exp(m - m_new)  # how much the old sum and output shrink
            l = l * rescale + p.sum(axis=-1, keepdims=True)
            acc = acc * rescale + p @ v[..., j0 : j0 + block_k, :]
            m = m_new
        out[..., i0 : i0 + rows, :] = acc / l
    return out
# --8<-- [end:flash]


def attention_memory_bytes(t_q: int, t_k: int, heads: int, head_dim: int, block_q: int = 64, block_k: int = 64,
                           itemsize: int = 4) -> dict[str, int]:
    """Working memory beyond q, k, v and the output: naive (the scores and their softmax) vs tiled.

    Naive attention holds the (heads, T_q, T_k) scores and the weights made from them; the tiled
    version holds, per query tile, a (bq, bk) score tile, its exponentials, and m, l, acc.
    """
    naive = 2 * heads * t_q * t_k * itemsize
    bq, bk = min(block_q, t_q), min(block_k, t_k)
    tiled = heads * (2 * bq * bk + 2 * bq + bq * head_dim + bq * head_dim) * itemsize  # s, p; m, l; acc; scaled q
    return {"naive": naive, "tiled": tiled}
