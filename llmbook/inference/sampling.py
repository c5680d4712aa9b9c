"""Logits processors: how a next-token distribution is reshaped before a token is picked.

A language model gives one score (logit) $z_i$ per vocabulary token; softmax turns
them into probabilities $p_i = e^{z_i} / \\sum_j e^{z_j}$. Every sampling strategy is a
small function from logits to logits that sets some of them to $-\\infty$ (the token
can no longer be drawn) or rescales them. Applied in this order, as ``transformers``
does:

1. repetition penalty: tokens already in the text are made less likely;
2. temperature $τ$: $z_i / τ$ (below 1 sharpens, above 1 flattens);
3. top-k: keep the $k$ highest logits;
4. top-p (nucleus): keep the smallest set of most likely tokens whose probabilities
   sum to at least $p$;
5. min-p: keep tokens whose probability is at least $p_{min}$ times the top one's.

Each function takes logits of shape (..., V) and returns new logits of that shape;
a filtered token gets $-\\infty$. Their parameters are checked once, by
``SamplingParams`` (``llmbook.inference.strategies``), before generation starts. The
tests check every one against ``transformers``' logits processors on the real
model's logits.
"""

from __future__ import annotations

import torch

from llmbook.inference.strategies import SamplingParams

NEG_INF = float("-inf")


# --8<-- [start:temperature]
def apply_temperature(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """$z_i / τ$: temperature below 1 sharpens the distribution, above 1 flattens it."""
    return logits / temperature
# --8<-- [end:temperature]


# --8<-- [start:top_k]
def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the k highest logits (and any tied with the k-th), set the rest to -inf."""
    k = min(k, logits.shape[-1])
    kth = torch.topk(logits, k).values[..., -1:]  # (..., 1) the k-th highest logit
    return logits.masked_fill(logits < kth, NEG_INF)
# --8<-- [end:top_k]


# --8<-- [start:top_p]
def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Nucleus: keep the most likely tokens until their probabilities add up to at least p.

    Sorted from least to most likely, a token is dropped while the cumulative
    probability up to and including it is at most $1 - p$; the most likely token is
    always kept.
    """
    sorted_logits, order = torch.sort(logits, descending=False)
    cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
    drop_sorted = cumulative <= 1 - p
    drop_sorted[..., -1] = False  # the most likely token always stays
    drop = drop_sorted.scatter(-1, order, drop_sorted)  # back to vocabulary order
    return logits.masked_fill(drop, NEG_INF)
# --8<-- [end:top_p]


# --8<-- [start:min_p]
def min_p_filter(logits: torch.Tensor, min_p: float) -> torch.Tensor:
    """Keep tokens with $p_i \\ge p_{min} \\cdot \\max_j p_j$: the cut-off scales with the model's confidence."""
    probs = logits.softmax(dim=-1)
    drop = probs < min_p * probs.amax(dim=-1, keepdim=True)
    return logits.masked_fill(drop, NEG_INF)  # the top token has p >= min_p * p, so it always stays
# --8<-- [end:min_p]


# --8<-- [start:repetition]
def repetition_penalty(logits: torch.Tensor, previous: torch.Tensor, penalty: float) -> torch.Tensor:
    """Make every token already present in ``previous`` (ids, (..., S)) less likely.

    A positive logit is divided by the penalty, a negative one multiplied by it
    (CTRL, Keskar et al. 2019), so either way the token loses ground; 1 changes nothing.
    """
    if previous.numel() == 0:
        return logits
    seen = logits.gather(-1, previous)  # (..., S)
    penalised = torch.where(seen < 0, seen * penalty, seen / penalty)
    return logits.scatter(-1, previous, penalised)
# --8<-- [end:repetition]


def process_logits(logits: torch.Tensor, params: SamplingParams, previous: torch.Tensor | None = None) -> torch.Tensor:
    """Apply the processors of ``params`` in transformers' order: penalty, temperature, top-k, top-p, min-p."""
    if params.repetition_penalty not in (None, 1.0) and previous is not None:
        logits = repetition_penalty(logits, previous, params.repetition_penalty)
    if params.temperature != 1.0:
        logits = apply_temperature(logits, params.temperature)
    if params.top_k is not None:
        logits = top_k_filter(logits, params.top_k)
    if params.top_p is not None and params.top_p < 1.0:
        logits = top_p_filter(logits, params.top_p)
    if params.min_p is not None:
        logits = min_p_filter(logits, params.min_p)
    return logits


def sample(logits: torch.Tensor, generator: torch.Generator | None = None) -> int:
    """Draw one token id from softmax(logits) of shape (V,); -inf logits have probability 0."""
    probs = logits.float().softmax(dim=-1)
    return int(torch.multinomial(probs, 1, generator=generator))
