"""The one interface the decoding loop needs from a model: an *engine*.

Generation never looks inside the model. It asks for an empty cache, feeds token
ids and reads back logits (and, for contrastive search, the last layer's hidden
states). Two classes implement it: the torch ``Llama`` and the NumPy ``NumpyLlama``;
``llmbook.inference.generate`` drives either with the same loop.

Both check their input here, with the same function, so the same mistake gives the
same error whichever engine runs.
"""

from __future__ import annotations

import weakref
from typing import Any, Protocol

import numpy as np


# --8<-- [start:engine]
class Cache(Protocol):
    """Keys and values of the tokens seen so far, for a batch of sequences."""

    length: int  # positions cached (S), the same for every sequence of the batch
    max_len: int | None  # positions it can hold (None: up to the model's context length)
    batch: int | None  # sequences it holds (None: not known until the first forward)

    def select(self, rows: Any) -> Cache:
        """A cache of batch rows ``rows`` of this one: repeat, reorder or pick sequences."""
        ...


class Engine(Protocol):
    """A language model as generation sees it."""

    config: Any  # vocab_size, context_length, n_layers, ...

    def new_cache(self, batch: int = 1, max_len: int | None = None) -> Cache:
        """An empty cache for ``batch`` sequences of up to ``max_len`` positions."""
        ...

    def forward(self, ids: Any, cache: Cache | None = None, last_only: bool = False,
                want_hidden: bool = False) -> Any:
        """Logits (B, T, V) of token ids (B, T) after the ``cache.length`` cached positions;
        (B, 1, V) with ``last_only``; with ``want_hidden``, also the final hidden states (B, T, C)."""
        ...
# --8<-- [end:engine]


def check_ids(ids: Any, config: Any, cache: Cache | None) -> np.ndarray:
    """``ids`` as a (B, T) integer array, or a ValueError naming what is wrong with them."""
    a = np.asarray(ids.detach().cpu() if hasattr(ids, "detach") else ids)  # ids live on the CPU or a GPU
    if a.ndim != 2 or a.size == 0:
        raise ValueError(f"ids must have shape (batch, tokens), got {a.shape}")
    if a.dtype == np.bool_ or not np.issubdtype(a.dtype, np.integer):
        raise ValueError(f"token ids must be integers, got {a.dtype}")
    v = config.vocab_size
    if a.min() < 0 or a.max() >= v:
        bad = a[(a < 0) | (a >= v)]
        raise ValueError(f"token ids {bad[:5].tolist()} are outside the vocabulary 0..{v - 1}")
    start = cache.length if cache is not None else 0
    end = start + a.shape[1]
    if end > config.context_length:
        raise ValueError(f"{end} tokens exceed the context length {config.context_length}")
    if cache is not None:
        if cache.max_len is not None and end > cache.max_len:
            raise ValueError(f"{end} tokens do not fit the cache of {cache.max_len} positions; make a bigger one")
        if cache.batch is not None and a.shape[0] != cache.batch:
            raise ValueError(f"ids have {a.shape[0]} rows but the cache holds {cache.batch} sequences")
    return a


def check_new_cache(config: Any, batch: int, max_len: int | None) -> int:
    """Validate ``new_cache``'s arguments; the number of positions to hold."""
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ValueError(f"batch must be an integer >= 1, got {batch!r}")
    n = config.context_length
    max_len = n if max_len is None else max_len
    if isinstance(max_len, bool) or not isinstance(max_len, int) or not 1 <= max_len <= n:
        raise ValueError(f"max_len must be an integer between 1 and the context length {n}, got {max_len!r}")
    return max_len


ENGINES = ("torch", "numpy", "fp16", "bf16", "int8", "int4")  # the last four: llmbook.hardware.packed.KINDS
_CONVERTED: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()


def engine_for(model: Any, name: str) -> Engine:
    """The model itself (``"torch"``), or the same weights converted once per model: ``"numpy"`` as a
    ``NumpyLlama``, the others as a copy with its matrices packed in that format (``llmbook.hardware.packed``)."""
    if name == "torch":
        return model
    if name not in ENGINES:
        raise ValueError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")
    converted = _CONVERTED.setdefault(model, {})
    if name not in converted:
        if name == "numpy":
            from llmbook.inference.numpy_engine import NumpyLlama

            converted[name] = NumpyLlama.from_model(model)
        else:
            from llmbook.hardware.packed import pack_model

            converted[name] = pack_model(model, name)
    return converted[name]
