"""How much arithmetic a training step does, and how much of a device's peak it keeps busy (MFU).

A weight that multiplies an activation costs 2 FLOPs per token on the way forward (a
multiply and an add) and 4 on the way back (the gradient of the input and the gradient
of the weight, one product each). Over the N weights that take part in matrix products
that is 6·N FLOPs per token (Kaplan et al., 2020). Attention adds products that hold no
weights: q·kᵀ and the weighted sum of v, each 2·T·C FLOPs per token and layer forward,
12·L·C·T forward and backward. Causal attention could skip the masked half; the usual
convention (PaLM, Chowdhery et al., 2022, appendix B) counts it all, and so does this module.

Model FLOPs utilisation (MFU) is the FLOP/s this arithmetic implies at a measured speed,
divided by the device's dense peak: recomputed activations or padding do not count as
useful work, so MFU compares runs honestly.
"""

from __future__ import annotations

from typing import Any

from llmbook.checks import count as _check_int
from llmbook.checks import positive


def _check_positive(name: str, value: Any) -> float:
    return float(positive(name, value))


# --8<-- [start:flops]
def matmul_params(config: Any) -> int:
    """N: weights used in a matrix product for every token (blocks' projections and the output layer).

    ``config`` is a ``LlamaConfig``. The embedding is a lookup and the norms are elementwise,
    so neither counts; a tied output layer counts once, as a product.
    """
    c = config
    attention = c.dim * (c.dim + 2 * c.kv_dim) + c.dim * c.dim  # q, k, v and o
    feed_forward = 3 * c.dim * c.ffn_dim  # gate, up and down
    return c.n_layers * (attention + feed_forward) + c.vocab_size * c.dim


def training_flops_per_token(config: Any, seq_len: int) -> float:
    """6·N for the weights' products, forward and backward, plus 12·L·C·T for attention over T positions."""
    _check_int("seq_len", seq_len)
    attention = 12 * config.n_layers * config.dim * seq_len  # (q kᵀ and weights·v) x (forward + backward)
    return 6 * matmul_params(config) + attention


def model_flops_utilisation(tokens_per_s: float, flops_per_token: float, peak_flops: float) -> float:
    """MFU: the model FLOP/s at this speed as a fraction of the device's dense peak FLOP/s."""
    _check_positive("tokens_per_s", tokens_per_s)
    _check_positive("flops_per_token", flops_per_token)
    return tokens_per_s * flops_per_token / _check_positive("peak_flops", peak_flops)
# --8<-- [end:flops]
