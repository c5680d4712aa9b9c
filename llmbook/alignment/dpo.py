"""Direct preference optimisation (DPO, Rafailov et al. 2023): preferences without a reward model.

DPO's insight: the policy that maximises ``reward − β·KL(π ‖ π_ref)`` satisfies
``r(x, y) = β·log(π(y|x) / π_ref(y|x)) + (a term of x alone)``. Substituting this
*implicit reward* into the Bradley–Terry loss cancels the unknown term, and the
loss needs only four log-probabilities per pair:

    loss = −log σ(β · [(log π(y_c) − log π_ref(y_c)) − (log π(y_r) − log π_ref(y_r))])

With the reference equal to the policy the bracket is 0 and the loss is exactly ln 2.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


# --8<-- [start:loss]
def dpo_loss(policy_chosen: torch.Tensor, policy_rejected: torch.Tensor, ref_chosen: torch.Tensor,
             ref_rejected: torch.Tensor, beta: float = 0.1) -> torch.Tensor:
    """Mean DPO loss over pairs; each argument is a (B,) tensor of sequence log-probabilities."""
    if not beta > 0:
        raise ValueError(f"beta must be > 0, got {beta}")
    chosen_ratio = policy_chosen - ref_chosen  # (B,) log π/π_ref: the implicit reward of chosen, over β
    rejected_ratio = policy_rejected - ref_rejected
    return -F.logsigmoid(beta * (chosen_ratio - rejected_ratio)).mean()
# --8<-- [end:loss]
