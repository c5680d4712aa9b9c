"""Token embedding: the lookup table that turns token ids into vectors.

An embedding is a (vocab, C) matrix; token id ``i`` becomes its row ``i``. It is
the same as multiplying a one-hot vector by the matrix, done without the
multiplication.
"""

from __future__ import annotations

import torch
from torch import nn


# --8<-- [start:embedding]
class TokenEmbedding(nn.Module):
    """Row ``i`` of a (vocab, C) table for each token id ``i``; unknown ids are a clear error."""

    def __init__(self, vocab_size: int, dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(vocab_size, dim) * 0.02)  # (V, C)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:  # (B, T) int -> (B, T, C)
        vocab = self.weight.shape[0]
        if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= vocab):
            bad = ids[(ids < 0) | (ids >= vocab)][0].item()
            raise IndexError(f"unknown token id {bad}: the vocabulary has ids 0..{vocab - 1}")
        return self.weight[ids]
# --8<-- [end:embedding]
