"""Helpers shared by tests (import as ``from helpers import ...``)."""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Iterator, Sequence
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


@contextlib.contextmanager
def one_torch_thread() -> Iterator[None]:
    """Run on one torch thread, then restore: on a shared 2-core machine, 2-thread OpenMP runs of
    tiny matrices stall for 10x longer, and the CLI's commands under test run with --threads 1."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def real_prompts(model) -> dict[str, list[int]]:  # noqa: ANN001
    """Token ids of the prompts the engine conformance tests run everywhere: prose, a chat turn,
    digits and non-ASCII text, and 400 tokens of Python source (long enough for attention to matter)."""
    from tools.corpus import stdlib_documents

    tok = model.tokenizer
    code = next(text for name, text in stdlib_documents() if name == "heapq.py")
    return {
        "france": tok.encode("The capital of France is"),
        "chat": model.encode_chat([{"role": "user", "content": "Name one colour. One word."}]),
        "story": tok.encode("Once upon a time, a small robot"),
        "unicode": tok.encode("In 1789, 24 678 people — «citoyens» — met; π≈3.14159."),
        "code": tok.encode(code)[:400],
    }
