"""Training memory per device, for data parallelism (DDP) and ZeRO's three stages (Rajbhandari et al., 2020).

Training a model of P parameters with Adam in mixed precision keeps, per parameter:
2 bytes of 16-bit weights, 2 bytes of 16-bit gradients and K = 12 bytes of optimizer
state (a float32 master copy of the weight, Adam's m and v), 16 bytes in all. In plain
float32 there is no master copy: 4 + 4 + 8. Activations come on top and depend on
the batch, not on these formulas.

DDP replicates all of it on each of N devices. ZeRO splits it across them instead:
stage 1 the optimizer state, stage 2 the gradients too, stage 3 the weights too
(what PyTorch's FSDP with full sharding does).
"""

from __future__ import annotations

import math
from typing import Any

from llmbook.checks import count, integer

STRATEGIES = ("DDP", "ZeRO-1", "ZeRO-2", "ZeRO-3 / FSDP")  # zero_stage 0, 1, 2, 3


# --8<-- [start:memory]
def training_memory(n_params: int, n_devices: int = 1, zero_stage: int = 0,
                    mixed_precision: bool = True) -> dict[str, float]:
    """Bytes per device for weights, gradients and Adam's state; 'total' is their sum."""
    integer(0, 3, " (0: plain DDP)")("zero_stage", zero_stage)
    integer(0)("n_params", n_params), count("n_devices", n_devices)
    weight, grad, optim = (2, 2, 12) if mixed_precision else (4, 4, 8)  # bytes per parameter
    n = n_devices
    out = {
        "weights": n_params * weight / (n if zero_stage >= 3 else 1),
        "gradients": n_params * grad / (n if zero_stage >= 2 else 1),
        "optimizer": n_params * optim / (n if zero_stage >= 1 else 1),
    }
    out["total"] = sum(out.values())
    return out
# --8<-- [end:memory]


# --8<-- [start:per-strategy]
def llama_param_count(config: Any) -> int:
    """P: every number a Llama of ``config`` (a ``LlamaConfig``) stores, norms and embedding included."""
    return sum(math.prod(getattr(config, dim) for dim in shape) for shape in config.tensor_shapes().values())


def memory_by_strategy(n_params: int, n_devices: int) -> dict[str, float]:
    """GB (1e9 bytes) per device under each of ``STRATEGIES``, mixed precision, activations not included."""
    return {name: training_memory(n_params, n_devices, stage)["total"] / 1e9 for stage, name in enumerate(STRATEGIES)}
# --8<-- [end:per-strategy]
