"""generate(..., engine="numpy"): what is particular to the NumPy engine (token agreement with torch is in test_engines)."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import one_torch_thread
from llmbook.inference.engine import engine_for
from llmbook.inference.generate import generate
from llmbook.inference.numpy_engine import NumpyLlama


@pytest.fixture(scope="module")
def model(smollm):
    with one_torch_thread():
        yield smollm


def test_the_weights_are_converted_once_per_model(model) -> None:
    engine = engine_for(model, "numpy")
    assert isinstance(engine, NumpyLlama) and engine_for(model, "numpy") is engine
    assert engine_for(model, "torch") is model


def test_beam_search_keeps_float32_in_a_batch_cache(model) -> None:
    """Beam search on NumPy runs 3 rows through the cache; every step stays float32 (a float64 would be 10x slower)."""
    engine = engine_for(model, "numpy")
    cache = engine.new_cache(1, 8)
    engine.forward([[504, 3575, 282]], cache)
    cache = cache.select([0, 0, 0])
    logits = engine.forward([[4649], [314], [7042]], cache, last_only=True)
    assert logits.shape == (3, 1, model.config.vocab_size) and logits.dtype == np.float32
    assert cache.keys.dtype == cache.values.dtype == np.float32 and cache.keys.shape[1] == 3
    assert cache.length == 4
    g = generate(model, "The capital of France is", "beam", max_new_tokens=4, num_beams=3, engine="numpy")
    assert g.text.startswith(" Paris")
