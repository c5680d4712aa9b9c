"""AdamW written out (Loshchilov and Hutter, 2019): Adam's moments with decoupled weight decay.

For each parameter p with gradient g, at step t = 1, 2, ...:

    p <- p - lr * wd * p                        decay, apart from the gradient
    m <- b1 m + (1 - b1) g                      running mean of gradients
    v <- b2 v + (1 - b2) g^2                    running mean of squared gradients
    p <- p - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)

The divisions by 1 - b^t (bias correction) undo the pull towards zero that the
zero-initialised m and v have in the first steps.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch


# --8<-- [start:adamw]
class AdamW(torch.optim.Optimizer):
    """AdamW with the same hyper-parameters and state names as ``torch.optim.AdamW``."""

    def __init__(self, params: Iterable[torch.Tensor] | Iterable[dict], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, weight_decay: float = 1e-2) -> None:
        if not lr >= 0:
            raise ValueError(f"lr must be >= 0, got {lr}")
        if not all(0 <= b < 1 for b in betas):
            raise ValueError(f"betas must each be in [0, 1), got {betas}")
        if not eps >= 0 or not weight_decay >= 0:
            raise ValueError(f"eps and weight_decay must be >= 0, got eps={eps}, weight_decay={weight_decay}")
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure: None = None) -> None:  # type: ignore[override]
        for group in self.param_groups:
            lr, (b1, b2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:  # first step: zero moments
                    state["step"] = torch.tensor(0.0)
                    state["exp_avg"] = torch.zeros_like(p)  # m
                    state["exp_avg_sq"] = torch.zeros_like(p)  # v
                state["step"] += 1
                t, m, v, g = state["step"].item(), state["exp_avg"], state["exp_avg_sq"], p.grad
                p.mul_(1 - lr * wd)  # decoupled weight decay: shrink p, whatever the gradient says
                m.mul_(b1).add_(g, alpha=1 - b1)
                v.mul_(b2).addcmul_(g, g, value=1 - b2)
                m_hat_scale = 1 / (1 - b1**t)  # bias corrections
                v_hat_scale = 1 / (1 - b2**t)
                p.addcdiv_(m, (v * v_hat_scale).sqrt_().add_(eps), value=-lr * m_hat_scale)
# --8<-- [end:adamw]
