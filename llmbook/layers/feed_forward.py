"""Feed-forward layers: the per-token MLP inside every transformer block.

Attention moves information between positions; the feed-forward layer then
transforms each position's vector on its own: widen (usually ~4x, or ~8/3x with
a gate), apply a nonlinearity, project back.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu, "gelu_tanh": lambda x: F.gelu(x, approximate="tanh")}


# --8<-- [start:ffn]
class FeedForward(nn.Module):
    """y = W2 act(W1 x + b1) + b2: the original Transformer (ReLU) and GPT-2 (GELU) MLP."""

    def __init__(self, dim: int, hidden: int, activation: str = "relu", bias: bool = True) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; choose from {sorted(ACTIVATIONS)}")
        self.act = ACTIVATIONS[activation]
        self.up = nn.Linear(dim, hidden, bias=bias)  # C -> F
        self.down = nn.Linear(hidden, dim, bias=bias)  # F -> C

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, C) -> (B, T, C)
        return self.down(self.act(self.up(x)))  # (B, T, F) in between
# --8<-- [end:ffn]


# --8<-- [start:swiglu]
class SwiGLU(nn.Module):
    """y = W_down (silu(W_gate x) * W_up x): a gated MLP (Llama, SmolLM2); no biases."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.gate = nn.Linear(dim, hidden, bias=False)  # C -> F
        self.up = nn.Linear(dim, hidden, bias=False)  # C -> F
        self.down = nn.Linear(hidden, dim, bias=False)  # F -> C

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, C) -> (B, T, C)
        return self.down(F.silu(self.gate(x)) * self.up(x))  # gate decides how much of up passes
# --8<-- [end:swiglu]
