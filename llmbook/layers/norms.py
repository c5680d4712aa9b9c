"""Normalisation layers: LayerNorm (original Transformer, GPT-2) and RMSNorm (Llama and most newer models).

Both rescale each token's vector (the last axis, C) on its own, so that a
sub-layer's input has a steady size however many layers are stacked before it
(in a pre-norm model the residual stream itself is not rescaled, and grows).
LayerNorm removes the mean and divides by the standard deviation; RMSNorm only
divides by the root mean square, which is cheaper and works as well in practice.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


# --8<-- [start:layernorm]
class LayerNorm(nn.Module):
    """y = (x - mean(x)) / sqrt(var(x) + eps) * weight + bias, over the last axis."""

    def __init__(self, dim: int, eps: float = 1e-5, bias: bool = True) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))  # (C,)
        self.bias = nn.Parameter(torch.zeros(dim)) if bias else None  # (C,)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (..., C) -> (..., C)
        mean = x.mean(dim=-1, keepdim=True)  # (..., 1)
        var = (x - mean).pow(2).mean(dim=-1, keepdim=True)  # (..., 1), the biased variance
        y = (x - mean) * torch.rsqrt(var + self.eps) * self.weight
        return y + self.bias if self.bias is not None else y
# --8<-- [end:layernorm]


# --8<-- [start:rmsnorm]
class RMSNorm(nn.Module):
    """y = x / sqrt(mean(x^2) + eps) * weight, over the last axis: no centring, no bias."""

    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))  # (C,)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (..., C) -> (..., C)
        ms = x.pow(2).mean(dim=-1, keepdim=True)  # (..., 1), mean square
        return self.weight * (x * torch.rsqrt(ms + self.eps))
# --8<-- [end:rmsnorm]


# --8<-- [start:numpy]
def layer_norm_np(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, eps: float = 1e-5) -> np.ndarray:
    """LayerNorm in NumPy over the last axis; keeps float32 float32."""
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    y = (x - mean) / np.sqrt(var + x.dtype.type(eps)) * weight
    return y + bias if bias is not None else y


def rms_norm_np(x: np.ndarray, weight: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """RMSNorm in NumPy over the last axis; keeps float32 float32."""
    ms = (x * x).mean(axis=-1, keepdims=True)
    return weight * (x / np.sqrt(ms + x.dtype.type(eps)))
# --8<-- [end:numpy]
