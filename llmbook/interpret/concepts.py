"""A concept as a direction in the residual stream: find it, test it, push along it, take it away.

- :func:`mean_residuals`: each text's residual stream after every block, averaged over its
  tokens from position 1 on (position 0's vector is tens to hundreds of times longer than the
  others in SmolLM2 and would swamp any mean);
- :func:`difference_of_means`: the concept direction, mean of the texts that have it minus mean
  of matched texts that do not; :func:`probe_accuracy` tests it on held-out texts;
- :func:`steered`: greedy generation with ``alpha`` times the direction added after one block
  (:func:`~llmbook.interpret.hooks.add_vector`); :func:`random_like` is the control, a random
  direction of the same length.
"""

from __future__ import annotations

from typing import Any

import torch

from llmbook.inference.generate import Generation, generate
from llmbook.interpret.hooks import add_vector, residuals


def encode(model: Any, text: str) -> torch.Tensor:
    """(1, T) ids of ``text``; a ValueError for text of fewer than two tokens (position 0 is never used)."""
    ids = model.tokenizer.encode(text)
    if len(ids) < 2:
        raise ValueError(f"need at least two tokens (position 0 is left out of every mean), got {text!r}")
    return torch.tensor([ids])


# --8<-- [start:means]
def mean_residuals(model: Any, texts: list[str]) -> torch.Tensor:
    """Each text's residual stream after every block, averaged over positions 1..T-1: (N, L, C)."""
    return torch.stack([residuals(model, encode(model, t))[1][:, 0, 1:].mean(1) for t in texts])


def difference_of_means(with_concept: torch.Tensor, without: torch.Tensor) -> torch.Tensor:
    """(N, L, C) and (M, L, C) mean residuals -> one direction per layer (L, C)."""
    return with_concept.mean(0) - without.mean(0)


def probe_accuracy(direction: torch.Tensor, train: tuple[torch.Tensor, torch.Tensor],
                   test: tuple[torch.Tensor, torch.Tensor]) -> list[float]:
    """Per layer, held-out accuracy of "projection above the midpoint of the two training means".

    ``direction`` (L, C); ``train`` and ``test`` are (with, without) pairs of (N, L, C) means.
    """
    mid = ((train[0].mean(0) + train[1].mean(0)) / 2 * direction).sum(-1)  # (L,)
    above = [((x * direction).sum(-1) > mid) for x in test]  # (N, L) each
    right = torch.cat([above[0], ~above[1]]).float()  # (N + M, L)
    return right.mean(0).tolist()
# --8<-- [end:means]


def random_like(vector: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """A random direction with the same length as ``vector``: the control for any steering result."""
    r = torch.randn(vector.shape, generator=torch.Generator().manual_seed(seed))
    return r * (vector.norm() / r.norm())


# --8<-- [start:steer]
def steered(model: Any, prompt: str, layer: int, vector: torch.Tensor, alpha: float,
            max_new_tokens: int = 24) -> Generation:
    """Greedy generation with ``alpha * vector`` added after block ``layer`` at every position."""
    with add_vector(model, layer, vector, alpha):
        return generate(model, prompt, max_new_tokens=max_new_tokens, engine="torch", eos_token_id=None)


@torch.inference_mode()
def log_odds(model: Any, prompt: str, yes: list[int], no: list[int]) -> float:
    """log P(any of ``yes``) - log P(any of ``no``) for the token after ``prompt``."""
    logp = torch.log_softmax(model(encode(model, prompt), last_only=True)[0, -1], -1)  # (V,)
    return (logp[yes].logsumexp(0) - logp[no].logsumexp(0)).item()
# --8<-- [end:steer]
