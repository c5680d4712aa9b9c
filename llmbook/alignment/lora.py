"""LoRA (Hu et al. 2021): fine-tune a frozen matrix through a low-rank update.

Instead of changing a (out, in) weight W, learn B (out, r) and A (r, in) with r small and use

    W' = W + (alpha / r) · B A.

B starts at zero, so the model starts exactly where it was; only r·(in + out) numbers
train instead of in·out, and the update is a rank-r matrix that can be merged into W
afterwards at no cost at inference time.
"""

from __future__ import annotations

import math

import torch
from torch import nn


# --8<-- [start:lora]
class LoRALinear(nn.Module):
    """A frozen ``nn.Linear`` plus a trainable rank-``r`` update (alpha / r) · B A."""

    def __init__(self, base: nn.Linear, r: int = 8, alpha: float = 16.0) -> None:
        super().__init__()
        if not 1 <= r <= min(base.in_features, base.out_features):
            raise ValueError(f"r must be in 1..{min(base.in_features, base.out_features)}, got {r}")
        self.base = base.requires_grad_(False)
        self.scale = alpha / r
        self.A = nn.Parameter(torch.empty(r, base.in_features))  # (r, in)
        self.B = nn.Parameter(torch.zeros(base.out_features, r))  # (out, r): zero, so W' = W at the start
        nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))  # as nn.Linear initialises its weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (..., in) -> (..., out)
        return self.base(x) + (x @ self.A.T @ self.B.T) * self.scale

    def merged_weight(self) -> torch.Tensor:
        """W + (alpha / r) · B A: the dense matrix this layer computes with."""
        return self.base.weight + self.scale * self.B @ self.A
# --8<-- [end:lora]
