"""The causal language-modelling objective, written out.

A model reads tokens ``ids[:, :t]`` and scores every vocabulary entry as token ``t``.
The loss is the average, over every position that has a next token, of minus the
log-probability the model gave to the token that really came next:

    loss = -1/N * sum_i log softmax(logits_i)[target_i]

Positions whose target is ``ignore_index`` (padding) do not count, neither in the
sum nor in N. A model that guesses uniformly over V tokens scores exactly ln V.
"""

from __future__ import annotations

import math

import torch

from llmbook.checks import count

IGNORE_INDEX = -100  # the target of a position that does not count (PyTorch's convention)


# --8<-- [start:targets]
def next_token_targets(ids: torch.Tensor, pad_id: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs, targets) for next-token prediction: targets are the inputs shifted left by one.

    ``ids`` (B, T+1) -> inputs (B, T) and targets (B, T); a target equal to ``pad_id``
    becomes ``IGNORE_INDEX`` so that padding never counts in the loss.
    """
    if ids.ndim != 2 or ids.shape[1] < 2:
        raise ValueError(f"ids must have shape (batch, tokens >= 2), got {tuple(ids.shape)}")
    inputs, targets = ids[:, :-1], ids[:, 1:].clone()  # position t predicts token t+1
    if pad_id is not None:
        targets[targets == pad_id] = IGNORE_INDEX
    return inputs, targets
# --8<-- [end:targets]


# --8<-- [start:loss]
def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor, ignore_index: int = IGNORE_INDEX) -> torch.Tensor:
    """Mean of -log softmax(logits)[target] over the positions whose target is not ``ignore_index``.

    logits (..., V) float, targets (...) int; returns a scalar (NaN if no position counts,
    as ``F.cross_entropy`` does).
    """
    if logits.shape[:-1] != targets.shape:
        raise ValueError(f"logits {tuple(logits.shape)} and targets {tuple(targets.shape)} disagree: "
                         "logits must be targets' shape plus a vocabulary axis")
    if logits.dtype in (torch.bfloat16, torch.float16):  # 16-bit logits (autocast): softmax and loss in float32
        logits = logits.float()
    logits, targets = logits.reshape(-1, logits.shape[-1]), targets.reshape(-1)  # (N, V), (N,)
    keep = targets != ignore_index  # (N,) which positions count
    v = logits.shape[-1]
    bad = keep & ((targets < 0) | (targets >= v))
    if bad.any():
        raise IndexError(f"target {int(targets[bad][0])} is outside the vocabulary 0..{v - 1}")
    # log softmax(z)_j = z_j - log sum_k exp(z_k); subtracting the max first keeps exp() finite
    z = logits - logits.max(dim=-1, keepdim=True).values.detach()  # (N, V)
    log_probs = z - z.exp().sum(dim=-1, keepdim=True).log()  # (N, V)
    picked = log_probs.gather(-1, targets.clamp(min=0)[:, None])[:, 0]  # (N,) log p(target)
    return -torch.where(keep, picked, 0.0).sum() / keep.sum()
# --8<-- [end:loss]


# --8<-- [start:logprobs]
def next_token_logprobs(logits: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """log p(ids[:, t+1] | ids[:, :t+1]) at every position: shift by one, log-softmax, pick the next token.

    logits (B, T, V) are the model's output on ids (B, T); returns (B, T-1), float32 or wider.
    """
    if logits.ndim != 3 or logits.shape[:2] != ids.shape:
        raise ValueError(f"logits {tuple(logits.shape)} must be ids {tuple(ids.shape)} plus a vocabulary axis")
    logp = logits[:, :-1].float().log_softmax(dim=-1)  # (B, T-1, V): position t scores token t+1
    return logp.gather(-1, ids[:, 1:, None])[..., 0]  # (B, T-1)
# --8<-- [end:logprobs]


# --8<-- [start:perplexity]
def perplexity(loss: float) -> float:
    """exp(loss): the number of equally likely tokens the model is, on average, choosing between."""
    return math.exp(loss)


def uniform_loss(vocab_size: int) -> float:
    """The loss of a model that gives every one of ``vocab_size`` tokens the same probability: ln V."""
    return math.log(count("vocab_size", vocab_size))
# --8<-- [end:perplexity]
