"""Scaled dot-product attention and multi-head attention, in PyTorch and NumPy.

The formula the whole book builds on:

    Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k) + M) V

where M is 0 where a query may look and -inf where it may not (the causal mask).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn


# --8<-- [start:sdpa]
def scaled_dot_product_attention(
    q: torch.Tensor,  # (..., T_q, d_k)
    k: torch.Tensor,  # (..., T_k, d_k)
    v: torch.Tensor,  # (..., T_k, d_v)
    mask: torch.Tensor | None = None,  # (T_q, T_k) bool, True = may attend
    is_causal: bool = False,
) -> torch.Tensor:  # (..., T_q, d_v)
    """Attention the naive way: materialise the (T_q, T_k) score matrix, softmax, mix values."""
    d_k = q.shape[-1]
    scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)  # (..., T_q, T_k)
    if is_causal:
        t_q, t_k = scores.shape[-2], scores.shape[-1]
        mask = causal_mask(t_q, t_k, device=scores.device)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)  # each row sums to 1
    return weights @ v  # (..., T_q, d_v)
# --8<-- [end:sdpa]


# --8<-- [start:causal]
def causal_mask(t_q: int, t_k: int | None = None, device: torch.device | str | None = None) -> torch.Tensor:
    """(t_q, t_k) bool mask, True where query i may see key j: j <= i (+ offset when t_k > t_q)."""
    t_k = t_q if t_k is None else t_k
    offset = t_k - t_q  # queries are the last t_q positions of the t_k keys
    return torch.ones(t_q, t_k, dtype=torch.bool, device=device).tril(diagonal=offset)
# --8<-- [end:causal]


def attention_weights(q: torch.Tensor, k: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """The softmax(Q K^T / sqrt(d_k)) matrix alone, (..., T_q, T_k), for plotting and inspection."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return torch.softmax(scores, dim=-1)


# --8<-- [start:mha]
class MultiHeadAttention(nn.Module):
    """Multi-head self-attention: project, split into heads, attend per head, concatenate, project.

    Args:
        d_model: width of the residual stream (C).
        n_heads: number of heads (H); each has head dimension d_model // n_heads (D).
        bias: whether the four projections carry a bias.
    """

    def __init__(self, d_model: int, n_heads: int, bias: bool = True) -> None:
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model={d_model} is not divisible by n_heads={n_heads}")
        self.n_heads, self.d_head = n_heads, d_model // n_heads
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.k_proj = nn.Linear(d_model, d_model, bias=bias)
        self.v_proj = nn.Linear(d_model, d_model, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape  # (B, T, C)
        return x.view(b, t, self.n_heads, self.d_head).transpose(1, 2)  # (B, H, T, D)

    def forward(self, x: torch.Tensor, is_causal: bool = False) -> torch.Tensor:
        b, t, c = x.shape  # (B, T, C)
        q = self.split_heads(self.q_proj(x))  # (B, H, T, D)
        k = self.split_heads(self.k_proj(x))  # (B, H, T, D)
        v = self.split_heads(self.v_proj(x))  # (B, H, T, D)
        y = scaled_dot_product_attention(q, k, v, is_causal=is_causal)  # (B, H, T, D)
        y = y.transpose(1, 2).reshape(b, t, c)  # concatenate heads: (B, T, C)
        return self.out_proj(y)  # (B, T, C)
# --8<-- [end:mha]


# --8<-- [start:numpy]
def softmax_np(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax: subtracting the row max changes nothing but avoids overflow."""
    z = x - x.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def scaled_dot_product_attention_np(
    q: np.ndarray,  # (..., T_q, d_k)
    k: np.ndarray,  # (..., T_k, d_k)
    v: np.ndarray,  # (..., T_k, d_v)
    mask: np.ndarray | None = None,  # (T_q, T_k) bool, True = may attend
) -> np.ndarray:  # (..., T_q, d_v)
    """The same computation in NumPy, keeping the input dtype (no silent float64 promotion)."""
    scale = q.dtype.type(1.0 / math.sqrt(q.shape[-1]))
    scores = (q @ np.swapaxes(k, -1, -2)) * scale  # (..., T_q, T_k)
    if mask is not None:
        scores = np.where(mask, scores, q.dtype.type(-np.inf))
    return softmax_np(scores) @ v  # (..., T_q, d_v)
# --8<-- [end:numpy]
