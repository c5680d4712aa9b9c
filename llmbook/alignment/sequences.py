"""Prompt + completion batches, and how likely a model finds a completion.

Alignment methods score *completions*: the tokens after the prompt. A batch lays each
prompt and its completion on one row, padded on the right; ``completion_mask`` marks
the completion's tokens. Right padding is safe with a causal model: a position never
attends to the padding after it, so every real token sees exactly what it would alone.

The log-probability of a completion is the sum over its tokens of log p(token | all
before it). Position t's logits score token t+1, so per-token values live on the
shifted grid (B, T-1), as in every next-token objective.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from llmbook.training.objective import next_token_logprobs


# --8<-- [start:pack]
def pack(prompts: Sequence[Sequence[int]], completions: Sequence[Sequence[int]],
         pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """ids (B, T) of prompt + completion rows, right-padded with ``pad_id``, and completion_mask (B, T):
    1 on completion tokens, 0 on prompt tokens and padding."""
    if len(prompts) != len(completions) or not prompts:
        raise ValueError(f"need as many prompts as completions (at least one), got {len(prompts)} and "
                         f"{len(completions)}")
    rows = [list(p) + list(c) for p, c in zip(prompts, completions)]
    t = max(map(len, rows))
    ids = torch.full((len(rows), t), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), t), dtype=torch.long)
    for i, (p, c) in enumerate(zip(prompts, completions)):
        ids[i, :len(p) + len(c)] = torch.tensor(rows[i], dtype=torch.long)
        mask[i, len(p):len(p) + len(c)] = 1
    return ids, mask
# --8<-- [end:pack]


# --8<-- [start:logprobs]
def token_logprobs(logits: torch.Tensor, ids: torch.Tensor, completion_mask: torch.Tensor) -> torch.Tensor:
    """log p(ids[:, t+1] | ids[:, :t+1]) for each completion token, 0 elsewhere: (B, T-1).

    logits (B, T, V) are the model's output on ids (B, T)."""
    if logits.shape[:2] != ids.shape or ids.shape != completion_mask.shape:
        raise ValueError(f"logits {tuple(logits.shape)}, ids {tuple(ids.shape)} and completion_mask "
                         f"{tuple(completion_mask.shape)} must agree on (batch, tokens)")
    return next_token_logprobs(logits, ids) * completion_mask[:, 1:]  # (B, T-1)


def sequence_logprob(logits: torch.Tensor, ids: torch.Tensor, completion_mask: torch.Tensor) -> torch.Tensor:
    """log p(completion | prompt) of each row: the sum of its tokens' log-probabilities, (B,)."""
    return token_logprobs(logits, ids, completion_mask).sum(dim=-1)
# --8<-- [end:logprobs]
