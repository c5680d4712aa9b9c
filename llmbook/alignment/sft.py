"""Supervised fine-tuning (SFT): next-token prediction on demonstrations, the assistant's tokens only.

A chat example is a prompt (system and user turns, then ``<|im_start|>assistant\\n``)
and the answer we want. We train the model to *write the answer*, not to predict the
user's question: positions whose next token belongs to the prompt get the target
``IGNORE_INDEX``, so they add nothing to the loss and, through it, nothing to the
gradient. The end-of-turn token ``<|im_end|>`` is part of the answer: it is how the
model learns to stop.
"""

from __future__ import annotations

import torch
from torch import nn

from llmbook.training.objective import IGNORE_INDEX, cross_entropy_loss


# --8<-- [start:targets]
def sft_targets(ids: torch.Tensor, completion_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs, targets), both (B, T-1): targets are the next tokens where they belong to the
    assistant's answer and ``IGNORE_INDEX`` everywhere else (prompt and padding)."""
    if ids.shape != completion_mask.shape or ids.ndim != 2 or ids.shape[1] < 2:
        raise ValueError(f"ids {tuple(ids.shape)} and completion_mask {tuple(completion_mask.shape)} must both be "
                         "(batch, tokens >= 2)")
    targets = torch.where(completion_mask[:, 1:].bool(), ids[:, 1:], IGNORE_INDEX)
    return ids[:, :-1], targets


def sft_loss(model: nn.Module, ids: torch.Tensor, completion_mask: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over the assistant's tokens of a batch (B, T)."""
    inputs, targets = sft_targets(ids, completion_mask)
    return cross_entropy_loss(model(inputs), targets)
# --8<-- [end:targets]
