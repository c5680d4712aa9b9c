"""What a model accepts: token ids in its vocabulary and context, and a cache it can fill.

Both of the book's model classes (the torch ``Llama`` and the NumPy ``NumpyLlama``)
check their input with these functions, so the same mistake gives the same error
whichever one runs, before any arithmetic starts.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from llmbook.checks import count, integer


def check_ids(ids: Any, config: Any, cache: Any) -> np.ndarray:
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
    count("batch", batch)
    n = config.context_length
    max_len = n if max_len is None else max_len
    integer(1, n, " (the context length)")("max_len", max_len)
    return max_len
