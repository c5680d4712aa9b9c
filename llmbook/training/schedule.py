"""The learning-rate schedule: a linear warm-up, then a cosine decay to a floor."""

from __future__ import annotations

import math


# --8<-- [start:schedule]
def warmup_cosine(step: int, max_lr: float, warmup: int, total: int, min_lr: float = 0.0) -> float:
    """Learning rate at ``step`` (0-based): max_lr * (step+1)/warmup while warming up, then
    min_lr + (max_lr - min_lr) * (1 + cos(pi * progress)) / 2, progress going 0 -> 1 until ``total``,
    and min_lr after it."""
    if not 0 <= warmup <= total:
        raise ValueError(f"need 0 <= warmup <= total, got warmup={warmup}, total={total}")
    if not 0 <= min_lr <= max_lr:
        raise ValueError(f"need 0 <= min_lr <= max_lr, got min_lr={min_lr}, max_lr={max_lr}")
    if step < warmup:
        return max_lr * (step + 1) / warmup  # never 0: step 0 already moves the weights a little
    if step >= total:
        return min_lr
    progress = (step - warmup) / max(1, total - warmup)  # 0 -> 1
    return min_lr + (max_lr - min_lr) * 0.5 * (1 + math.cos(math.pi * progress))
# --8<-- [end:schedule]
