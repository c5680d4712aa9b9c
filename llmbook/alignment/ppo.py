"""Proximal policy optimisation (PPO) for language models, one piece per function, as trl computes them.

A rollout is a completion sampled from the policy. Every completion token t is an action with

- a log-probability under the policy when sampled, ``logp`` (B, L), and under the frozen
  reference (the SFT model), ``ref_logp``;
- a reward: ``−β·KL_t`` at every token, plus the reward model's score at the last one;
- a value ``V_t``: the value head's estimate of the reward still to come.

GAE turns rewards and values into advantages (how much better than expected each
token turned out); PPO then takes a few gradient steps whose ratio ``π_new / π_old``
is clipped to ``[1 − ε, 1 + ε]`` so that no step moves the policy too far.
All tensors are on the same (B, L) grid; ``mask`` is 1 on completion tokens.
"""

from __future__ import annotations

import torch


def _check(mask: torch.Tensor, *tensors: torch.Tensor) -> None:
    for x in tensors:
        if x.shape != mask.shape:
            raise ValueError(f"every tensor must have the mask's shape {tuple(mask.shape)}, got {tuple(x.shape)}")


# --8<-- [start:kl]
def kl_k1(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """Per-token KL estimate log(π/π_ref): unbiased, but negative on some tokens."""
    return logp - ref_logp


def kl_k3(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """Per-token KL estimate (r − 1) − log r with r = π_ref/π: unbiased too, and never negative."""
    log_r = ref_logp - logp
    return log_r.exp() - 1 - log_r
# --8<-- [end:kl]


# --8<-- [start:rewards]
def token_rewards(score: torch.Tensor, kl: torch.Tensor, mask: torch.Tensor, beta: float) -> torch.Tensor:
    """(B, L): −β·KL on every completion token, plus each row's score (B,) on its last completion token."""
    _check(mask, kl)
    rewards = -beta * kl * mask
    last = (mask * torch.arange(mask.shape[1])).argmax(dim=1)  # (B,) index of the last completion token
    rewards[torch.arange(mask.shape[0]), last] += score
    return rewards
# --8<-- [end:rewards]


# --8<-- [start:gae]
def gae(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float = 1.0,
        lam: float = 0.95) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation, right to left: (advantages, returns), both (B, L).

    delta_t = r_t + γ·V_{t+1} − V_t  (V after the last completion token is 0)
    A_t = delta_t + γ·λ·A_{t+1};  returns_t = A_t + V_t, the value head's regression target."""
    _check(mask, rewards, values)
    rewards, values = rewards * mask, values * mask
    advantages = torch.zeros_like(rewards)
    next_value, next_adv = torch.zeros(rewards.shape[0]), torch.zeros(rewards.shape[0])
    for t in reversed(range(rewards.shape[1])):
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        next_adv = delta + gamma * lam * next_adv
        advantages[:, t] = next_adv
        next_value = values[:, t]
    return advantages * mask, (advantages + values) * mask
# --8<-- [end:gae]


# --8<-- [start:whiten]
def masked_whiten(x: torch.Tensor, mask: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """(x − mean) / std over the masked entries (std with Bessel's correction), 0 elsewhere."""
    _check(mask, x)
    n = mask.sum()
    if n < 2:
        raise ValueError(f"whitening needs at least 2 masked entries, got {int(n)}")
    mean = (x * mask).sum() / n
    var = (((x - mean) * mask) ** 2).sum() / (n - 1)
    return (x - mean) * torch.rsqrt(var + eps) * mask
# --8<-- [end:whiten]


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of x over the entries where mask is 1."""
    _check(mask, x)
    return (x * mask).sum() / mask.sum()


# --8<-- [start:losses]
def clipped_policy_loss(logp: torch.Tensor, old_logp: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor,
                        clip: float = 0.2) -> torch.Tensor:
    """PPO's objective as a loss: mean over tokens of max(−A·ratio, −A·clip(ratio, 1−ε, 1+ε))."""
    _check(mask, logp, old_logp, advantages)
    ratio = (logp - old_logp).exp()  # π_new / π_old per token
    unclipped = -advantages * ratio
    clipped = -advantages * ratio.clamp(1 - clip, 1 + clip)
    return masked_mean(torch.maximum(unclipped, clipped), mask)


def clipped_value_loss(values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor,
                       clip: float = 0.2) -> torch.Tensor:
    """0.5 · mean of max((V − R)², (clip(V, V_old ± ε) − R)²): the value head may not jump either."""
    _check(mask, values, old_values, returns)
    clipped = torch.clamp(values, old_values - clip, old_values + clip)
    return 0.5 * masked_mean(torch.maximum((values - returns) ** 2, (clipped - returns) ** 2), mask)
# --8<-- [end:losses]
