"""LoRA (Hu et al. 2021): fine-tune a frozen matrix through a low-rank update.

Instead of changing a (out, in) weight W, learn B (out, r) and A (r, in) with r small and use

    W' = W + (alpha / r) · B A.

B starts at zero, so the model starts exactly where it was; only r·(in + out) numbers
train instead of in·out, and the update is a rank-r matrix that can be merged into W
afterwards at no cost at inference time. ``add_lora`` puts the update on chosen layers of a
model and freezes the rest; ``merge_lora`` folds every update back into its matrix.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

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


# --8<-- [start:wrap]
def add_lora(model: nn.Module, names: Sequence[str], r: int = 8,
             alpha: float = 16.0) -> list[nn.Parameter]:
    """Freeze all of ``model``, wrap each ``nn.Linear`` named in ``names`` (as
    ``named_modules`` spells it: ``"blocks.29.attn.q_proj"``) in a ``LoRALinear``,
    and return the new A and B matrices: the only weights left to train."""
    modules = dict(model.named_modules())
    if not names or len(set(names)) != len(names):
        raise ValueError(f"names must be distinct layer names, got {list(names)}")
    for name in names:
        parent = modules.get(name.rpartition(".")[0])
        if isinstance(parent, LoRALinear):
            raise ValueError(f"{name!r} is already a LoRA layer's base")
        if not isinstance(modules.get(name), nn.Linear):
            raise ValueError(f"{name!r} is not an nn.Linear of this model")
    model.requires_grad_(False)
    params: list[nn.Parameter] = []
    for name in names:
        parent, _, child = name.rpartition(".")
        lora = LoRALinear(modules[name], r, alpha)
        setattr(modules[parent], child, lora)
        params += [lora.A, lora.B]
    return params


def merge_lora(model: nn.Module) -> int:
    """Replace each ``LoRALinear`` in ``model`` by a frozen ``nn.Linear`` holding
    W + (alpha / r) · B A; return how many. The model computes the same function,
    with no extra matrices to multiply."""
    merged = 0
    for name, module in list(model.named_modules()):
        if not isinstance(module, LoRALinear):
            continue
        base = module.base
        w = base.weight
        dense = nn.Linear(w.shape[1], w.shape[0], bias=base.bias is not None,
                          device=w.device, dtype=w.dtype)
        with torch.no_grad():
            dense.weight.copy_(module.merged_weight())
            if base.bias is not None:
                dense.bias.copy_(base.bias)
        parent, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent), child, dense.requires_grad_(False))
        merged += 1
    return merged
# --8<-- [end:wrap]
