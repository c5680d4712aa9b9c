"""Checkpoints that survive an interrupt: write to a temporary file, then rename it over the old one.

``os.replace`` is atomic on POSIX and Windows: a reader sees either the whole old
file or the whole new one, never half of each. A crash while writing leaves the
old checkpoint in place and, at worst, a stray temporary file, which is removed.

Resuming bit for bit needs more than the weights: the optimizer's moments, the
step, where the data stream stands, and the random number generators' states.
"""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path
from typing import Any

import torch


# --8<-- [start:save]
def save_checkpoint(path: str | os.PathLike[str], state: dict[str, Any]) -> Path:
    """Write ``state`` with ``torch.save`` to a temporary file next to ``path``, then rename it to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # same file system
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())  # the bytes are on disk before the name points at them
        os.replace(tmp, path)  # atomic: the old file or the new one, never a mix
    except BaseException:  # KeyboardInterrupt included: leave no half-written file behind
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
# --8<-- [end:save]


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The state saved by ``save_checkpoint`` (tensors on the CPU)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    return torch.load(path, map_location="cpu", weights_only=False)


def rng_state() -> dict[str, Any]:
    """The global random generators' states (Python and torch), to resume a run exactly."""
    return {"python": random.getstate(), "torch": torch.get_rng_state()}


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what ``rng_state`` saved."""
    random.setstate(state["python"])
    torch.set_rng_state(state["torch"])
