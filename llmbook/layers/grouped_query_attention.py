"""Grouped-query attention (GQA) with rotary positions and a KV cache: the attention of Llama-style models.

Multi-head attention gives every query head its own key and value heads. GQA lets
a *group* of query heads share one key/value head: SmolLM2 has 9 query heads and
3 key/value heads, so each K/V head serves 3 query heads. The KV cache, the
memory a model keeps while generating, shrinks by the same factor.

The core computation is the book's ``scaled_dot_product_attention``: the query
heads are reshaped into (groups, heads per group) and the shared keys and values
broadcast across each group, so nothing is copied.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from llmbook.layers.attention import attention_weights, causal_mask, scaled_dot_product_attention
from llmbook.layers.positions import apply_rope

if TYPE_CHECKING:
    from llmbook.layers.kv_cache import KVCache


# --8<-- [start:gqa]
class GroupedQueryAttention(nn.Module):
    """Causal self-attention with H query heads sharing KV key/value heads, and rotary positions.

    Args:
        dim: width of the residual stream (C).
        n_heads: query heads (H).
        n_kv_heads: key/value heads (KV); H must be a multiple of KV. KV == H is ordinary
            multi-head attention, KV == 1 is multi-query attention.
        head_dim: width of one head (D); defaults to C // H.
    """

    def __init__(self, dim: int, n_heads: int, n_kv_heads: int, head_dim: int | None = None, bias: bool = False) -> None:
        super().__init__()
        if n_heads % n_kv_heads:
            raise ValueError(f"n_heads={n_heads} is not a multiple of n_kv_heads={n_kv_heads}")
        self.n_heads, self.n_kv_heads = n_heads, n_kv_heads
        self.head_dim = head_dim or dim // n_heads
        self.q_proj = nn.Linear(dim, n_heads * self.head_dim, bias=bias)  # C -> H*D
        self.k_proj = nn.Linear(dim, n_kv_heads * self.head_dim, bias=bias)  # C -> KV*D
        self.v_proj = nn.Linear(dim, n_kv_heads * self.head_dim, bias=bias)  # C -> KV*D
        self.o_proj = nn.Linear(n_heads * self.head_dim, dim, bias=bias)  # H*D -> C
        self.keep_weights = False  # set True to keep the attention matrix of the last call
        self.fused = False  # True: PyTorch's fused kernel instead of the book's formula (same result, faster)
        self.last_weights: torch.Tensor | None = None  # (B, H, T, S)

    def forward(
        self,
        x: torch.Tensor,  # (B, T, C)
        cos: torch.Tensor,  # (T, D/2) rotation angles of these T positions
        sin: torch.Tensor,  # (T, D/2)
        cache: KVCache | None = None,
        layer: int = 0,
    ) -> torch.Tensor:  # (B, T, C)
        b, t, _ = x.shape
        h, kv, d = self.n_heads, self.n_kv_heads, self.head_dim
        q = self.q_proj(x).view(b, t, h, d).transpose(1, 2)  # (B, H, T, D)
        k = self.k_proj(x).view(b, t, kv, d).transpose(1, 2)  # (B, KV, T, D)
        v = self.v_proj(x).view(b, t, kv, d).transpose(1, 2)  # (B, KV, T, D)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)  # position enters q and k only
        if cache is not None:
            k, v = cache.update(layer, k, v)  # (B, KV, S, D), S = cached + T
        s = k.shape[-2]
        if self.fused and not self.keep_weights:
            # The same softmax(q k^T / sqrt(D)) v, computed in tiles without storing the (T, S) matrix.
            causal = {"is_causal": True} if s == t > 1 else {"attn_mask": causal_mask(t, s) if t > 1 else None}
            y = F.scaled_dot_product_attention(q, k, v, enable_gqa=True, **causal)  # (B, H, T, D)
            return self.o_proj(y.transpose(1, 2).reshape(b, t, h * d))
        # Query heads h*G .. h*G+G-1 share key/value head h (G = H / KV heads per group).
        q = q.view(b, kv, h // kv, t, d)  # (B, KV, G, T, D)
        k, v = k[:, :, None], v[:, :, None]  # (B, KV, 1, S, D): broadcast over the group
        mask = causal_mask(t, s) if t > 1 else None  # one new token may see every cached one
        y = scaled_dot_product_attention(q, k, v, mask=mask)  # (B, KV, G, T, D)
        if self.keep_weights:
            self.last_weights = attention_weights(q, k, mask).reshape(b, h, t, s)
        y = y.reshape(b, h, t, d).transpose(1, 2).reshape(b, t, h * d)  # concatenate heads: (B, T, H*D)
        return self.o_proj(y)  # (B, T, C)
# --8<-- [end:gqa]
