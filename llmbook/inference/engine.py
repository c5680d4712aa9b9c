"""The one interface the decoding loop needs from a model: an *engine*.

Generation never looks inside the model. It asks for an empty cache, feeds token
ids and reads back logits (and, for contrastive search, the last layer's hidden
states). Two classes implement it: the torch ``Llama`` and the NumPy ``NumpyLlama``;
``llmbook.inference.generate`` drives either with the same loop.

Both check their input with the same functions (``llmbook.models.inputs``), so the same
mistake gives the same error whichever engine runs.
"""

from __future__ import annotations

import weakref
from typing import Any, Protocol



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


ENGINES = ("torch", "numpy")  # engines named by a string; any other object with the interface is one too
_CONVERTED: weakref.WeakKeyDictionary[Any, Engine] = weakref.WeakKeyDictionary()


def is_engine(obj: Any) -> bool:
    """Whether ``obj`` has what the decoding loop calls: ``config``, ``new_cache`` and ``forward``."""
    return all(hasattr(obj, a) for a in ("config", "new_cache", "forward"))


def engine_for(model: Any, engine: str | Engine = "torch") -> Engine:
    """The engine that runs ``model``'s weights: the model itself (``"torch"``), the same weights converted once
    per model to a ``NumpyLlama`` (``"numpy"``), or ``engine`` itself when it is an engine object (for example a
    packed copy from ``llmbook.hardware.packed.pack_model``, which the hardware chapter builds)."""
    if not isinstance(engine, str):
        if not is_engine(engine):
            raise ValueError(f"engine must be one of {', '.join(map(repr, ENGINES))} or an object with config, "
                             f"new_cache and forward, got {type(engine).__name__}")
        return engine
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}, or pass an engine object "
                         "(packed engines: llmbook.hardware.packed.pack_model)")
    if engine == "torch":
        return model
    if model not in _CONVERTED:
        from llmbook.inference.numpy_engine import NumpyLlama

        _CONVERTED[model] = NumpyLlama.from_model(model)
    return _CONVERTED[model]
