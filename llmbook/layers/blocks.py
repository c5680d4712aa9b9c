"""Transformer blocks: the original post-norm encoder layer and two pre-norm decoder blocks.

Every block has the same two sub-layers, attention then feed-forward, each wrapped
in a residual connection ``x + f(x)``. They differ in where the normalisation sits:

- post-norm (Vaswani et al., 2017): ``x = norm(x + f(x))``; the normalised sum is
  the stream, and its size stays steady. Deep stacks of these are fragile early in
  training unless the learning rate is warmed up slowly (Xiong et al., 2020).
- pre-norm (GPT-2 and after): ``x = x + f(norm(x))``; the residual stream is never
  normalised (its size grows with depth), so gradients flow straight down it; each
  sub-layer sees a normalised copy, and a final norm sits after the last block.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from llmbook.layers.attention import MultiHeadAttention
from llmbook.layers.feed_forward import FeedForward, SwiGLU
from llmbook.layers.grouped_query_attention import GroupedQueryAttention
from llmbook.layers.norms import LayerNorm, RMSNorm

if TYPE_CHECKING:
    from llmbook.layers.kv_cache import KVCache


# --8<-- [start:encoder]
class EncoderLayer(nn.Module):
    """The original Transformer's encoder layer: post-norm, ReLU feed-forward, dropout on each sub-layer."""

    def __init__(self, dim: int, n_heads: int, hidden: int, dropout: float = 0.1, eps: float = 1e-5) -> None:
        super().__init__()
        self.attn = MultiHeadAttention(dim, n_heads)
        self.norm1 = LayerNorm(dim, eps)
        self.ffn = FeedForward(dim, hidden, activation="relu")
        self.norm2 = LayerNorm(dim, eps)
        self.drop = nn.Dropout(dropout)  # active only in .train() mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, C) -> (B, T, C)
        x = self.norm1(x + self.drop(self.attn(x)))  # every token sees every token
        return self.norm2(x + self.drop(self.ffn(x)))
# --8<-- [end:encoder]


# --8<-- [start:gpt2]
class GPT2Block(nn.Module):
    """A GPT-2 decoder block: pre-norm LayerNorm, causal multi-head attention, GELU feed-forward."""

    def __init__(self, dim: int, n_heads: int, hidden: int | None = None, eps: float = 1e-5) -> None:
        super().__init__()
        self.norm1 = LayerNorm(dim, eps)
        self.attn = MultiHeadAttention(dim, n_heads)
        self.norm2 = LayerNorm(dim, eps)
        self.ffn = FeedForward(dim, hidden or 4 * dim, activation="gelu_tanh")

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, C) -> (B, T, C)
        x = x + self.attn(self.norm1(x), is_causal=True)  # each token sees itself and the past
        return x + self.ffn(self.norm2(x))
# --8<-- [end:gpt2]


# --8<-- [start:llama]
class LlamaBlock(nn.Module):
    """A Llama decoder block: pre-norm RMSNorm, grouped-query attention with RoPE, SwiGLU."""

    def __init__(self, dim: int, n_heads: int, n_kv_heads: int, hidden: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.attn_norm = RMSNorm(dim, eps)
        self.attn = GroupedQueryAttention(dim, n_heads, n_kv_heads)
        self.ffn_norm = RMSNorm(dim, eps)
        self.ffn = SwiGLU(dim, hidden)

    def forward(
        self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, cache: KVCache | None = None, layer: int = 0
    ) -> torch.Tensor:  # (B, T, C) -> (B, T, C)
        x = x + self.attn(self.attn_norm(x), cos, sin, cache, layer)
        return x + self.ffn(self.ffn_norm(x))
# --8<-- [end:llama]
