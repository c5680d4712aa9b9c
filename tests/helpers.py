"""Helpers shared by tests (import as ``from helpers import ...``)."""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")

FULL = os.environ.get("LLMBOOK_SLOW") == "full"


def budget_sample(items: Sequence[T], k: int, seed: int = 0) -> list[T]:
    """All of ``items`` when LLMBOOK_SLOW=full, else a fixed random sample of ``k`` of them.

    Exhaustive checks are marked ``slow``; ``make test`` runs them on this sample so
    every commit still exercises them, and ``make test-full`` runs everything.
    """
    if FULL or len(items) <= k:
        return list(items)
    return random.Random(seed).sample(list(items), k)
