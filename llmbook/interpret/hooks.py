"""Forward hooks on the residual stream of the book's ``Llama``: read it, add to it, overwrite it.

Every block reads the residual stream ``x`` (B, T, C) and writes ``x + attention + feed-forward``
back. A PyTorch forward hook on block ``l`` sees that output and may return a replacement, so
each tool here is a few lines around ``register_forward_hook``; every hook is removed when its
``with`` block ends, leaving the model exactly as it was. Layers are counted from 0.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator

import torch

Edit = Callable[[torch.Tensor], torch.Tensor | None]  # a block's output (B, T, C) -> replacement, or None


def check_layer(model: Any, layer: int) -> int:
    """``layer`` if the model has it, else a ValueError naming the range."""
    n = len(model.blocks)
    if not isinstance(layer, int) or not 0 <= layer < n:
        raise ValueError(f"layer must be an int in 0..{n - 1}, got {layer!r}")
    return layer


def check_direction(model: Any, vector: torch.Tensor) -> torch.Tensor:
    """``vector`` if it is a finite (C,) tensor for this model's width, else a ValueError."""
    c = model.config.dim
    if not isinstance(vector, torch.Tensor) or vector.shape != (c,) or not torch.isfinite(vector).all():
        raise ValueError(f"direction must be a finite tensor of shape ({c},), got "
                         f"{getattr(vector, 'shape', type(vector).__name__)}")
    return vector


# --8<-- [start:hooks]
@contextmanager
def edit_blocks(model: Any, edits: dict[int, Edit]) -> Iterator[None]:
    """Within the ``with`` block, block ``l``'s output goes through ``edits[l]`` (None keeps it)."""
    handles = [model.blocks[check_layer(model, l)].register_forward_hook(lambda m, args, out, f=f: f(out))
               for l, f in edits.items()]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


@torch.inference_mode()
def residuals(model: Any, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits (B, T, V) and every block's output, the residual stream after block l: (L, B, T, C)."""
    saved: list[torch.Tensor] = []
    with edit_blocks(model, {l: lambda out: saved.append(out) for l in range(len(model.blocks))}):
        logits = model(ids)
    return logits, torch.stack(saved)


def add_vector(model: Any, layer: int, vector: torch.Tensor, alpha: float = 1.0) -> Any:
    """Steering: ``alpha * vector`` is added to the residual stream after ``layer``, at every position."""
    check_direction(model, vector)
    return edit_blocks(model, {layer: lambda out: out + alpha * vector})  # (B, T, C) + (C,)


def remove_component(x: torch.Tensor, direction: torch.Tensor) -> torch.Tensor:
    """``x`` (..., C) minus its component along ``direction`` (C,): x - (x . u) u with u = direction / |direction|."""
    if not direction.norm() > 0:
        raise ValueError("cannot project out a zero direction")
    u = direction / direction.norm()  # unit vector (C,)
    return x - (x @ u)[..., None] * u


def project_out(model: Any, layers: list[int], direction: torch.Tensor) -> Any:
    """Ablation: after each of ``layers``, the residual stream's component along ``direction`` is removed."""
    check_direction(model, direction)
    remove_component(torch.zeros_like(direction), direction)  # a zero direction fails here, before any run
    return edit_blocks(model, {l: lambda out: remove_component(out, direction) for l in layers})  # (B, T, C)
# --8<-- [end:hooks]


def put_back(model: Any, layer: int, source: torch.Tensor, positions: list[int]) -> Any:
    """Patching: after ``layer``, sequence b's residual at ``positions[b]`` becomes ``source[b]`` (B, C)."""
    rows = torch.arange(len(positions))

    def edit(out: torch.Tensor) -> torch.Tensor:  # (B, T, C)
        if out.shape[0] != len(positions):
            raise ValueError(f"put_back was given {len(positions)} positions for a batch of {out.shape[0]}")
        out = out.clone()
        out[rows, torch.tensor(positions)] = source
        return out
    return edit_blocks(model, {layer: edit})
