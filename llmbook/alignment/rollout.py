"""Rollouts: sample completions for many prompts at once, as policy-gradient methods need.

``llmbook.generate`` decodes one sequence. PPO and GRPO sample many completions per
step, so this runs one batch through the KV cache: every row is a prompt of the same
length (the task's prompts are built that way, so no padding or attention mask is
needed), and each step appends one token to every row. A row that has produced the
end-of-turn token is finished; what it samples afterwards is cut off.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


# --8<-- [start:rollout]
@torch.no_grad()
def rollout(model: nn.Module, prompts: Sequence[Sequence[int]], max_new_tokens: int, eos: int,
            temperature: float = 1.0, generator: torch.Generator | None = None) -> list[list[int]]:
    """One completion per prompt (each ends with ``eos`` if it was produced); temperature 0 is greedy."""
    if not prompts or len({len(p) for p in prompts}) != 1:
        raise ValueError(f"prompts must be a non-empty list of equal-length token lists, got lengths "
                         f"{sorted({len(p) for p in prompts})}")
    if max_new_tokens < 1 or temperature < 0:
        raise ValueError(f"need max_new_tokens >= 1 and temperature >= 0, got {max_new_tokens} and {temperature}")
    ids = torch.tensor([list(p) for p in prompts])  # (B, P)
    cache = model.new_cache(len(prompts), ids.shape[1] + max_new_tokens)
    logits = model(ids, cache, last_only=True)[:, -1]  # (B, V) prefill
    out = torch.empty((len(prompts), 0), dtype=torch.long)
    done = torch.zeros(len(prompts), dtype=torch.bool)
    for _ in range(max_new_tokens):
        if temperature == 0:
            token = logits.argmax(dim=-1)  # (B,)
        else:
            probs = (logits.float() / temperature).softmax(dim=-1)
            token = torch.multinomial(probs, 1, generator=generator)[:, 0]  # (B,)
        out = torch.cat([out, token[:, None]], dim=1)
        done |= token == eos
        if done.all():
            break
        logits = model(token[:, None], cache, last_only=True)[:, -1]
    completions = []
    for row in out.tolist():
        completions.append(row[:row.index(eos) + 1] if eos in row else row)
    return completions
# --8<-- [end:rollout]
