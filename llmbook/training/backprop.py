"""Backpropagation by hand: the gradients autograd computes, derived and written out.

For a linear layer y = x W^T + b and an upstream gradient g = dL/dy:

    dL/dx = g W        dL/dW = g^T x        dL/db = sum of g over every row

For the mean cross-entropy of softmax(z) over N counted positions, the gradient
with respect to the logits is (softmax(z) - onehot(target)) / N: push the right
token's score up by how much probability it is missing, every other score down
by the probability it took.

A finite difference checks any gradient without calculus: nudge one number by
+eps and -eps and see how the loss moves.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from llmbook.training.objective import IGNORE_INDEX


# --8<-- [start:linear]
def linear_backward(
    x: torch.Tensor, weight: torch.Tensor, grad_out: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gradients of y = x W^T + b: (dL/dx, dL/dW, dL/db) from g = dL/dy.

    x (N, C_in), weight (C_out, C_in), grad_out (N, C_out).
    """
    grad_x = grad_out @ weight  # (N, C_in): each input feeds every output through W
    grad_w = grad_out.T @ x  # (C_out, C_in): sum over rows of outer products g_n x_n^T
    grad_b = grad_out.sum(dim=0)  # (C_out,): the bias is added to every row
    return grad_x, grad_w, grad_b
# --8<-- [end:linear]


# --8<-- [start:softmax-ce]
def cross_entropy_backward(
    logits: torch.Tensor, targets: torch.Tensor, ignore_index: int = IGNORE_INDEX
) -> torch.Tensor:
    """dL/dlogits of the mean cross-entropy: (softmax(logits) - onehot(targets)) / N, zero on ignored rows.

    logits (N, V), targets (N,) -> (N, V).
    """
    keep = targets != ignore_index  # (N,)
    probs = torch.softmax(logits, dim=-1)  # (N, V)
    onehot = torch.zeros_like(probs).scatter_(-1, targets.clamp(min=0)[:, None], 1.0)  # (N, V)
    return (probs - onehot) * keep[:, None] / keep.sum()
# --8<-- [end:softmax-ce]


# --8<-- [start:finite-difference]
def finite_difference_grad(loss_fn: Callable[[], torch.Tensor], param: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """dL/dparam estimated one entry at a time: (L(p + eps) - L(p - eps)) / (2 eps).

    Use float64: the central difference's error is about eps^2 (truncation) plus
    rounding/eps, around 1e-10 for eps = 1e-6 in float64 but useless in float32.
    """
    if param.dtype != torch.float64:
        raise TypeError(f"finite differences need float64 parameters, got {param.dtype}")
    grad = torch.zeros_like(param)
    flat, gflat = param.data.view(-1), grad.view(-1)
    with torch.no_grad():
        for i in range(flat.numel()):
            old = flat[i].item()
            flat[i] = old + eps
            up = loss_fn().item()
            flat[i] = old - eps
            down = loss_fn().item()
            flat[i] = old
            gflat[i] = (up - down) / (2 * eps)
    return grad
# --8<-- [end:finite-difference]
