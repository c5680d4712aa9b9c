"""Telling the model where each token is: sinusoidal, learned and rotary (RoPE) positions.

Attention by itself ignores order: permute the tokens and each output is permuted
the same way. Three ways to bring position in:

- sinusoidal (original Transformer): add a fixed pattern of sines and cosines to
  each token's embedding;
- learned (GPT-2): add a trained vector per position, up to a maximum length;
- rotary (RoPE; Llama, SmolLM2): rotate each pair of query and key dimensions by an
  angle proportional to the position, so that the score q . k depends on positions
  only through their difference.
"""

from __future__ import annotations

import torch
from torch import nn


# --8<-- [start:sinusoidal]
def sinusoidal_positions(n_positions: int, dim: int, base: float = 10000.0) -> torch.Tensor:
    """(T, C) table: PE[p, 2i] = sin(p / base^(2i/C)), PE[p, 2i+1] = cos(p / base^(2i/C))."""
    if dim % 2:
        raise ValueError(f"sinusoidal positions need an even width, got {dim}")
    inv_freq = base ** (-torch.arange(0, dim, 2, dtype=torch.float64) / dim)  # (C/2,)
    angles = torch.arange(n_positions, dtype=torch.float64)[:, None] * inv_freq  # (T, C/2), float64
    pe = torch.empty(n_positions, dim)
    pe[:, 0::2] = torch.sin(angles)  # float64, rounded once to float32 on assignment
    pe[:, 1::2] = torch.cos(angles)
    return pe
# --8<-- [end:sinusoidal]


# --8<-- [start:learned]
class LearnedPositions(nn.Module):
    """One trained vector per position (GPT-2): a (max_len, C) table, added to the tokens."""

    def __init__(self, max_len: int, dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(max_len, dim) * 0.01)  # (L, C)

    def forward(self, n_positions: int, start: int = 0) -> torch.Tensor:  # -> (T, C)
        if start + n_positions > self.weight.shape[0]:
            raise ValueError(
                f"positions {start}..{start + n_positions - 1} exceed the context length {self.weight.shape[0]}"
            )
        return self.weight[start : start + n_positions]
# --8<-- [end:learned]


# --8<-- [start:rope]
def rope_angles(positions: torch.Tensor, head_dim: int, base: float = 10000.0) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of the rotation angles p * theta_i, each (T, D/2) float32, theta_i = base^(-2i/D).

    Computed in float64 and rounded once to float32. In float32 the angle of position
    7000 is already off by ~4e-4 rad, and cos/sin of large float32 angles come out
    differently on different CPUs; this way every machine gets the float32 nearest the
    exact value (or, very rarely, its neighbour).
    """
    inv_freq = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)  # (D/2,)
    angles = positions.to(torch.float64)[:, None] * inv_freq  # (T, D/2)
    return angles.cos().float(), angles.sin().float()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, interleaved: bool = True) -> torch.Tensor:
    """Rotate pairs of dimensions of x, (B, H, T, D), by the angles in cos/sin, (T, D/2).

    Pair i is rotated as a 2-D vector: (a, b) -> (a cos - b sin, a sin + b cos).
    ``interleaved=True`` pairs adjacent dimensions (2i, 2i+1), as in the RoPE paper,
    Meta's Llama code and GGUF files; ``False`` pairs dimension i with i + D/2, as in
    Hugging Face checkpoints. The two differ only by a fixed permutation of the
    dimensions of q and k.
    """
    if interleaved:
        a, b = x[..., 0::2], x[..., 1::2]  # (B, H, T, D/2) each
    else:
        a, b = x.chunk(2, dim=-1)
    ra, rb = a * cos - b * sin, a * sin + b * cos
    if interleaved:
        return torch.stack((ra, rb), dim=-1).flatten(-2)  # back to (B, H, T, D), pairs adjacent
    return torch.cat((ra, rb), dim=-1)
# --8<-- [end:rope]
