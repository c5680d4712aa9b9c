"""Rollouts: sample completions for many prompts at once, as policy-gradient methods need.

PPO and GRPO sample many completions per step. This is the book's one decoding loop
(``llmbook.inference.generate.decode``) run on a batch: every row is a prompt of the same
length (the task's prompts are built that way, so no padding or attention mask is
needed), each step appends one token to every row, and a row that has produced the
end-of-turn token is finished (``Pick`` keeps it out of the output from then on).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from llmbook.checks import count
from llmbook.inference.engine import Engine, engine_for
from llmbook.inference.generate import Pick, decode
from llmbook.inference.strategies import SamplingParams


# --8<-- [start:rollout]
def rollout(model: object, prompts: Sequence[Sequence[int]], max_new_tokens: int, eos: int,
            temperature: float = 1.0, generator: torch.Generator | None = None,
            engine: str | Engine = "torch") -> list[list[int]]:
    """One completion per prompt (each ends with ``eos`` if it was produced); temperature 0 is greedy."""
    if not prompts or len({len(p) for p in prompts}) != 1:
        raise ValueError(f"prompts must be a non-empty list of equal-length token lists, got lengths "
                         f"{sorted({len(p) for p in prompts})}")
    count("max_new_tokens", max_new_tokens)
    greedy = temperature == 0
    params = SamplingParams() if greedy else SamplingParams(temperature=temperature)  # checks temperature > 0
    if not greedy and generator is None:
        generator = torch.Generator()
        generator.seed()  # unseeded: a fresh random stream, as generate without a seed
    pick = Pick(params, max_new_tokens, eos, None if greedy else generator)
    for _ in decode(engine_for(model, engine), prompts, pick, max_new_tokens):
        pass  # several rows emit nothing as they go: the completions are read at the end
    return pick.completions
# --8<-- [end:rollout]
