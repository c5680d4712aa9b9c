"""Three ways of finding where a model does something: induction heads, the logit lens, activation patching.

- :func:`induction_scores`: on a random sequence repeated once, how much each head attends from a
  repeated token to the token that followed its first occurrence (the "copy what came next" pattern);
- :func:`logit_lens`: every block's residual stream read through the final norm and output layer,
  as if the model stopped there;
- :func:`patching_map`: run a corrupted prompt, put back the clean run's residual at one layer and
  one position, and measure how much of the clean answer returns.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from llmbook.interpret.hooks import put_back, residuals
from llmbook.models.llama import attention_maps


def repeated_random_tokens(n: int, batch: int, vocab: int, seed: int = 0, low: int = 3) -> torch.Tensor:
    """``batch`` sequences of ``n`` random ids in ``low..vocab-1`` (no control tokens), each repeated once: (B, 2n)."""
    if n < 2 or batch < 1 or not 0 <= low < vocab:
        raise ValueError(f"need n >= 2, batch >= 1 and 0 <= low < vocab, got n={n}, batch={batch}, low={low}, vocab={vocab}")
    first = torch.randint(low, vocab, (batch, n), generator=torch.Generator().manual_seed(seed))  # (B, n)
    return torch.cat([first, first], dim=1)  # (B, 2n)


@torch.inference_mode()
def token_losses(model: Any, ids: torch.Tensor) -> torch.Tensor:
    """Cross-entropy (nats) of each next token: (B, T-1), entry t is the loss of predicting ids[:, t+1]."""
    logits = model(ids)[:, :-1]  # (B, T-1, V)
    return F.cross_entropy(logits.transpose(1, 2), ids[:, 1:], reduction="none")  # (B, T-1)


# --8<-- [start:induction]
def induction_scores(maps: torch.Tensor, n: int) -> torch.Tensor:
    """Attention weights (..., T, T) over a sequence of n tokens repeated once (T = 2n) -> induction score (...).

    The token at position i >= n is a repeat of the one at i - n; the token that came after that
    first occurrence sits at i - n + 1. The score is the mean weight on that key over i = n .. 2n-1.
    """
    if maps.shape[-1] != 2 * n or maps.shape[-2] != 2 * n:
        raise ValueError(f"attention maps must be (..., {2 * n}, {2 * n}) for n={n}, got {tuple(maps.shape)}")
    queries = torch.arange(n, 2 * n)
    return maps[..., queries, queries - n + 1].mean(-1)


def model_induction_scores(model: Any, ids: torch.Tensor) -> torch.Tensor:
    """Induction score of every layer and head, averaged over the sequences of ``ids`` (B, 2n): (L, H)."""
    n = ids.shape[1] // 2
    return torch.stack([induction_scores(attention_maps(model, row.tolist()), n) for row in ids]).mean(0)
# --8<-- [end:induction]


# --8<-- [start:lens]
@torch.inference_mode()
def logit_lens(model: Any, resid: torch.Tensor) -> torch.Tensor:
    """Residual streams (..., C) -> logits (..., V), read through the final norm and output layer."""
    return model.output(model.norm(resid))


def lens_agreement(model: Any, ids: torch.Tensor, every: int = 1) -> list[float]:
    """Per block, the fraction of positions whose lens top-1 equals the model's own top-1.

    Positions 1, 1 + every, 1 + 2 every ... are read (position 0 is left out: see ``concepts``);
    each still sees its whole context, so ``every`` only saves output-layer work.
    """
    logits, resid = residuals(model, ids)  # (B, T, V), (L, B, T, C)
    final = logits[:, 1::every].argmax(-1)  # (B, T')
    return [(logit_lens(model, r[:, 1::every]).argmax(-1) == final).float().mean().item() for r in resid]


def lens_ranks(model: Any, ids: torch.Tensor, target: int) -> list[int]:
    """Per block, the rank (0 = top) of token ``target`` in the lens at the last position."""
    _, resid = residuals(model, ids)
    lens = logit_lens(model, resid[:, 0, -1])  # (L, V)
    return (lens > lens[:, target : target + 1]).sum(-1).tolist()
# --8<-- [end:lens]


# --8<-- [start:patching]
@torch.inference_mode()
def patching_map(model: Any, clean: torch.Tensor, corrupt: torch.Tensor, good: int, bad: int) -> dict[str, Any]:
    """For every layer l and position t, the corrupted run with the clean residual put back after block l
    at t: the fraction of the logit difference ``good - bad`` it recovers, (L, T).

    ``clean`` and ``corrupt`` are (1, T) with the same length. One batch of T runs per layer.
    """
    if clean.shape != corrupt.shape or clean.shape[0] != 1:
        raise ValueError(f"clean and corrupt must both be (1, T), got {tuple(clean.shape)} and {tuple(corrupt.shape)}")
    t = clean.shape[1]
    logits, clean_resid = residuals(model, clean)  # (1, T, V), (L, 1, T, C)
    diff_clean = (logits[0, -1, good] - logits[0, -1, bad]).item()
    out = model(corrupt)[0, -1]
    diff_corrupt = (out[good] - out[bad]).item()
    rows = []
    for layer in range(len(model.blocks)):
        with put_back(model, layer, clean_resid[layer, 0], list(range(t))):  # run b patches position b
            last = model(corrupt.expand(t, t), last_only=True)[:, -1]  # (T, V)
        rows.append(((last[:, good] - last[:, bad] - diff_corrupt) / (diff_clean - diff_corrupt)).tolist())
    return {"clean": diff_clean, "corrupt": diff_corrupt, "recovered": rows}
# --8<-- [end:patching]
