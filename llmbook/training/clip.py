"""Gradient clipping by global norm: if all the gradients together, as one long vector, are longer
than ``max_norm``, scale them all down by the same factor so that they are not."""

from __future__ import annotations

from collections.abc import Iterable

import torch


# --8<-- [start:clip]
def clip_by_global_norm(params: Iterable[torch.Tensor], max_norm: float) -> float:
    """Scale every gradient by min(1, max_norm / (norm + 1e-6)); return the norm before clipping."""
    if not max_norm > 0:
        raise ValueError(f"max_norm must be > 0, got {max_norm}")
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return 0.0
    norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))  # sqrt(sum g^2)
    scale = torch.clamp(max_norm / (norm + 1e-6), max=1.0)  # direction kept, length capped
    for g in grads:
        g.mul_(scale)
    return norm.item()
# --8<-- [end:clip]
