"""Group relative policy optimisation (GRPO, Shao et al. 2024): PPO without a value head.

Sample a *group* of G completions for the same prompt and score each with a
verifiable reward (here the judge: 1 if correct, 0 if not). A completion's
advantage is its reward relative to its group, ``(r − mean) / (std + ε)``,
given to every one of its tokens: better than its siblings, more likely;
worse, less. A group whose rewards are all equal teaches nothing (advantage 0).
The policy loss is PPO's clipped one, plus ``β·k3`` to the reference if β > 0.
"""

from __future__ import annotations

import torch

from llmbook.alignment.ppo import kl_k3


# --8<-- [start:advantages]
def group_advantages(rewards: torch.Tensor, group_size: int, eps: float = 1e-4) -> torch.Tensor:
    """(N,) rewards, groups of ``group_size`` consecutive rows -> (N,) advantages (r − group mean) / (group std + eps)."""
    if group_size < 2 or rewards.ndim != 1 or rewards.numel() % group_size:
        raise ValueError(f"rewards must be (N,) with N a multiple of group_size >= 2, got {tuple(rewards.shape)} "
                         f"and group_size {group_size}")
    groups = rewards.view(-1, group_size)  # (N/G, G)
    mean, std = groups.mean(dim=1, keepdim=True), groups.std(dim=1, keepdim=True)  # std with Bessel's correction
    return ((groups - mean) / (std + eps)).reshape(-1)
# --8<-- [end:advantages]


# --8<-- [start:loss]
def grpo_loss(logp: torch.Tensor, old_logp: torch.Tensor, ref_logp: torch.Tensor, advantages: torch.Tensor,
              mask: torch.Tensor, clip: float = 0.2, beta: float = 0.0) -> torch.Tensor:
    """Per-token clipped objective with each row's advantage (N,), averaged over each completion's tokens,
    then over completions; plus β·k3 to the reference."""
    if not (logp.shape == old_logp.shape == ref_logp.shape == mask.shape) or advantages.shape != logp.shape[:1]:
        raise ValueError(f"logp, old_logp, ref_logp, mask must share a (N, L) shape and advantages be (N,), got "
                         f"{[tuple(x.shape) for x in (logp, old_logp, ref_logp, mask, advantages)]}")
    ratio = (logp - old_logp).exp()  # (N, L)
    a = advantages[:, None]  # every token of a completion gets its completion's advantage
    per_token = -torch.minimum(ratio * a, ratio.clamp(1 - clip, 1 + clip) * a)
    if beta:
        per_token = per_token + beta * kl_k3(logp, ref_logp)
    return ((per_token * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)).mean()
# --8<-- [end:loss]
