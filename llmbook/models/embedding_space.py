"""Looking inside a model's token embedding: similarity, nearest neighbours, a 2-D projection.

Each token id owns one row of the (V, C) embedding matrix. Tokens used in similar
contexts end up with rows pointing in similar directions, which cosine similarity
measures: the dot product of the two vectors divided by their lengths.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from llmbook.models.inputs import check_ids
from llmbook.layers.positions import rope_angles

if TYPE_CHECKING:
    from llmbook.models.llama import Llama


# --8<-- [start:similarity]
def cosine_similarity(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """cos(a, b) = a . b / (|a| |b|) over the last axis: 1 same direction, 0 unrelated, -1 opposite."""
    return (a * b).sum(-1) / (a.norm(dim=-1) * b.norm(dim=-1))


def nearest_tokens(weight: torch.Tensor, token_id: int, k: int = 8) -> list[tuple[int, float]]:
    """The ``k`` token ids whose embedding rows are most similar (by cosine) to ``token_id``'s, with their cosines."""
    if not 0 <= token_id < weight.shape[0]:
        raise IndexError(f"unknown token id {token_id}: the vocabulary has ids 0..{weight.shape[0] - 1}")
    unit = weight / weight.norm(dim=1, keepdim=True)  # (V, C), every row of length 1
    sims = unit @ unit[token_id]  # (V,) cosines with every token at once
    top = sims.topk(k + 1)  # the token itself comes first, with cosine 1
    return [(i, s) for i, s in zip(top.indices.tolist(), top.values.tolist()) if i != token_id][:k]
# --8<-- [end:similarity]


# --8<-- [start:pca]
def pca_2d(vectors: torch.Tensor) -> torch.Tensor:
    """Project (N, C) vectors onto their two directions of largest variance: (N, 2)."""
    centred = vectors - vectors.mean(dim=0)
    _, _, vt = torch.linalg.svd(centred, full_matrices=False)  # rows of vt: principal directions
    xy = centred @ vt[:2].T
    return xy * torch.sign(xy[0])  # fix the sign so the picture does not flip between runs
# --8<-- [end:pca]


# --8<-- [start:residual]
@torch.inference_mode()
def residual_stream(model: Llama, ids: list[int]) -> torch.Tensor:
    """The residual stream of one sequence after the embedding and after each block: (layers + 1, T, C).

    Row 0 is the static embedding lookup; row l is what block l hands to block l + 1. It runs
    the model's own modules, as ``Llama.forward`` does, and keeps every intermediate.
    """
    check_ids([ids], model.config, None)  # a clear error for ids outside the vocabulary or context
    x = model.embed(torch.tensor([ids]))  # (1, T, C)
    cos, sin = rope_angles(torch.arange(len(ids)), model.config.head_dim, model.config.rope_base)
    states = [x[0]]
    for block in model.blocks:
        x = block(x, cos, sin)  # (1, T, C)
        states.append(x[0])
    return torch.stack(states)  # (layers + 1, T, C)
# --8<-- [end:residual]
