"""Text to token batches: a character-level vocabulary, a train/validation split, random windows.

The book trains on ``pydoc_data.topics``, the text of Python's ``help()`` topics:
about 466 kB of English prose with code in it, installed with every CPython.
"""

from __future__ import annotations

from typing import Any

import torch

from llmbook.checks import count


def pydoc_topics_text() -> str:
    """Every ``help()`` topic of the running Python, in the order of their names, one after another."""
    from pydoc_data.topics import topics

    return "\n\n".join(topics[name].strip() for name in sorted(topics))


class CharTokenizer:
    """One token per character: the vocabulary is the sorted set of characters of a text."""

    def __init__(self, text: str) -> None:
        if not text:
            raise ValueError("cannot build a vocabulary from an empty text")
        self.chars = sorted(set(text))
        self.index = {c: i for i, c in enumerate(self.chars)}

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        unknown = sorted(set(text) - self.index.keys())
        if unknown:
            raise ValueError(f"characters {unknown[:5]} are not in the vocabulary")
        return [self.index[c] for c in text]

    def decode(self, ids: list[int]) -> str:
        return "".join(self.chars[i] for i in ids)


def split_ids(ids: torch.Tensor, val_fraction: float = 0.1) -> tuple[torch.Tensor, torch.Tensor]:
    """The first (1 - val_fraction) of a 1-D id sequence for training, the rest for validation."""
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    n = int(len(ids) * (1 - val_fraction))
    return ids[:n], ids[n:]


# --8<-- [start:batches]
class RandomWindows:
    """Batches of ``batch_size`` windows of ``context + 1`` consecutive ids, at random offsets.

    Its own seeded generator decides the offsets, so the stream of batches is fixed by
    the seed, and ``state_dict`` records where the stream stands (for checkpoints).
    """

    def __init__(self, ids: torch.Tensor, context: int, batch_size: int, seed: int = 0) -> None:
        if ids.ndim != 1:
            raise ValueError(f"ids must be one sequence (1-D), got shape {tuple(ids.shape)}")
        count("context", context), count("batch_size", batch_size)
        if len(ids) < context + 1:
            raise ValueError(f"{len(ids)} ids are too few for windows of context + 1 = {context + 1}")
        self.ids, self.context, self.batch_size = ids, context, batch_size
        self.generator = torch.Generator().manual_seed(seed)
        self.drawn = 0  # batches handed out so far

    def next(self) -> torch.Tensor:  # (B, T+1)
        starts = torch.randint(len(self.ids) - self.context, (self.batch_size,), generator=self.generator)
        self.drawn += 1
        return torch.stack([self.ids[s : s + self.context + 1] for s in starts.tolist()])

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state(), "drawn": self.drawn}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self.drawn = state["drawn"]
# --8<-- [end:batches]
