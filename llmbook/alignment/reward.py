"""A reward model: the language model's trunk with a scalar head, trained on preference pairs.

The trunk (every block and the final norm) turns a sequence into one vector per
position; a linear head maps the vector of the completion's last token to a number,
the reward. Training sees pairs (chosen, rejected) of the same prompt and asks for
``r_chosen > r_rejected`` through the Bradley–Terry model, where the probability that
chosen is preferred is ``σ(r_chosen − r_rejected)``; the loss is minus its log. Only
differences of rewards matter, so a reward model's absolute level means nothing.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


# --8<-- [start:model]
class RewardModel(nn.Module):
    """ids (B, T) and completion_mask (B, T) -> one reward per row (B,), read at the completion's last token."""

    def __init__(self, trunk: nn.Module, dim: int) -> None:
        super().__init__()
        self.trunk = trunk  # a Llama: its forward(..., want_hidden=True) also returns the final norm's output
        self.head = nn.Linear(dim, 1)  # C -> 1
        nn.init.zeros_(self.head.weight)  # every reward starts at 0: the first loss is exactly ln 2
        nn.init.zeros_(self.head.bias)

    def forward(self, ids: torch.Tensor, completion_mask: torch.Tensor) -> torch.Tensor:
        if not bool(completion_mask.any(dim=1).all()):
            raise ValueError("every row needs at least one completion token: the reward is read at the last one")
        _, hidden = self.trunk(ids, last_only=True, want_hidden=True)  # (B, T, C); logits of one position only
        positions = torch.arange(ids.shape[1])  # (T,)
        last = (completion_mask * positions).argmax(dim=1)  # (B,) index of each row's last completion token
        return self.head(hidden[torch.arange(ids.shape[0]), last])[:, 0]  # (B,)
# --8<-- [end:model]


# --8<-- [start:loss]
def bradley_terry_loss(r_chosen: torch.Tensor, r_rejected: torch.Tensor) -> torch.Tensor:
    """Mean of -log σ(r_chosen - r_rejected): small when chosen outscores rejected by a margin."""
    if r_chosen.shape != r_rejected.shape:
        raise ValueError(f"r_chosen {tuple(r_chosen.shape)} and r_rejected {tuple(r_rejected.shape)} must match")
    return -F.logsigmoid(r_chosen - r_rejected).mean()
# --8<-- [end:loss]
